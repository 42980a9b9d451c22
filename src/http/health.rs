//! Liveness, readiness and the API document.

use actix_web::{web, HttpResponse};

use super::common::run;
use super::error::ApiError;
use crate::db::Pool;

/// The OpenAPI document in the repository, served as is.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the database takes writes: a read-only SQLite file (or a PostgreSQL in
/// recovery) would answer reads and fail every money movement. The cause goes to the log,
/// never to the client.
pub async fn readyz(pool: web::Data<Pool>) -> Result<HttpResponse, ApiError> {
    run(&pool, |conn| {
        crate::db::conn::check_writable(conn).map_err(|e| {
            tracing::warn!(error = %e, "not ready: the database does not take writes");
            ApiError::unavailable("the database is not ready to take writes")
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml").body(OPENAPI_YAML)
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("route"))
}

/// 405 with the methods the route does take, in `Allow` (RFC 9110) and in the detail.
pub async fn method_not_allowed(allow: String) -> HttpResponse {
    let error = ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        format!("this route takes {allow}; see /openapi.yaml"),
    );
    let mut response = actix_web::ResponseError::error_response(&error);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(actix_web::http::header::ALLOW, value);
    }
    response
}
