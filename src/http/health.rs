//! Liveness, readiness and the API document.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use super::common::run;
use super::error::ApiError;
use crate::db::Pool;

/// The OpenAPI document in the repository, served as is.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(pool: web::Data<Pool>) -> Result<HttpResponse, ApiError> {
    run(&pool, |conn| conn.batch_execute("SELECT 1").map_err(|e| ApiError::unavailable(format!("database not reachable: {e}"))))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml").body(OPENAPI_YAML)
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("route"))
}

pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        "this route does not take that method; see /openapi.yaml",
    ))
}
