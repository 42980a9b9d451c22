//! The outermost middleware: a request id for every request, the request's log span, and the
//! last word on every error response.
//!
//! - `X-Request-Id`: the caller's when it is sane (1 to 128 characters of `[A-Za-z0-9._:-]`),
//!   else a new one; echoed on every response, recorded on every log line of the request (the
//!   span is carried into the blocking database work by `common::run`), and written into the
//!   `instance` of every problem body.
//! - Every error response is problem+json: one that some part of actix (a payload limit, a
//!   malformed header) answered in plain text is rewritten, so a client meets one error shape.
//! - One access log line per request at `info`: method, route pattern, status, duration and
//!   request id; never headers (tokens) or bodies (personal data). The same figures go to
//!   `/metrics`.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::future::LocalBoxFuture;
use tracing::Instrument;

use super::error::ApiError;
use super::metrics::Metrics;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id taken from a caller.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Largest problem body the middleware reads back to add `instance`: ours are far smaller.
const MAX_PROBLEM_BYTES: usize = 64 * 1024;
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The id of the request being served, in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The caller's id when it is sane, else a new one.
    pub fn from_header(value: Option<&HeaderValue>) -> RequestId {
        value
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_sane_request_id(v))
            .map(|v| RequestId(v.to_string()))
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().simple().to_string()))
    }

    /// The problem `instance` of this request.
    pub fn instance(&self) -> String {
        format!("urn:ptt-ledger:request:{}", self.0)
    }
}

pub fn is_sane_request_id(value: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

pub struct RequestContext(pub Metrics);

impl<S, B> Transform<S, ServiceRequest> for RequestContext
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = RequestContextService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestContextService { service: Rc::new(service), metrics: self.0.clone() }))
    }
}

pub struct RequestContextService<S> {
    service: Rc<S>,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for RequestContextService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
        req.extensions_mut().insert(id.clone());
        let method = req.method().to_string();
        let span = tracing::info_span!("request", request_id = %id.0, method = %method);
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let response = service.call(req).await?.map_into_boxed_body();
                let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                let response = finish(response, &id).await;
                let (status, elapsed) = (response.status().as_u16(), started.elapsed());
                metrics.request_served(&route, &method, status, elapsed);
                tracing::info!(route = %route, status, duration_ms = elapsed.as_millis() as u64, "request served");
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Adds the request id header, and makes every error response a problem with `instance`.
async fn finish(response: ServiceResponse<BoxBody>, id: &RequestId) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let mut response = if status.is_client_error() || status.is_server_error() {
        as_problem(response, id).await
    } else {
        response
    };
    // A 201 names what it created; where a handler had no URL of its own to give, the
    // request's own URL stands for it (RFC 9110, 15.3.2).
    if status == StatusCode::CREATED && !response.headers().contains_key(LOCATION) {
        if let Ok(value) = HeaderValue::from_str(response.request().path()) {
            response.headers_mut().insert(LOCATION, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    response
}

/// The error response as problem+json with this request's `instance`; a body that is not one
/// of ours (plain text from actix) is replaced by a problem for its status.
async fn as_problem(response: ServiceResponse<BoxBody>, id: &RequestId) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    let (request, http_response) = response.into_parts();
    let (head, body) = http_response.into_parts();
    let mut problem = match is_problem {
        true => match to_bytes_limited(body).await {
            Some(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
            None => None,
        },
        false => None,
    }
    .filter(serde_json::Value::is_object)
    .unwrap_or_else(|| generic_problem(status));
    if let Some(object) = problem.as_object_mut() {
        object.insert("instance".into(), serde_json::Value::String(id.instance()));
    }
    let mut rebuilt = HttpResponse::build(status);
    for (name, value) in head.headers() {
        if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            rebuilt.append_header((name.clone(), value.clone()));
        }
    }
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let http_response = rebuilt.content_type(PROBLEM_JSON).body(body);
    ServiceResponse::new(request, http_response)
}

async fn to_bytes_limited(body: BoxBody) -> Option<actix_web::web::Bytes> {
    let bytes = to_bytes(body).await.ok()?;
    (bytes.len() <= MAX_PROBLEM_BYTES).then_some(bytes)
}

/// The problem for a status that actix answered on its own.
fn generic_problem(status: StatusCode) -> serde_json::Value {
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "body_too_large",
            "Request body too large",
            format!("at most {} bytes are accepted", super::common::MAX_BODY_BYTES),
        ),
        StatusCode::NOT_FOUND => ApiError::not_found("route"),
        s if s.is_server_error() => ApiError::new(
            s,
            "internal",
            "Internal error",
            "the server could not complete the request; it has been logged",
        ),
        s => ApiError::new(s, "bad_request", "Malformed request", "the request could not be read; check its headers and body"),
    };
    error.problem_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_are_taken_only_when_sane() {
        let sane = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(RequestId::from_header(Some(&sane)).0, "abc-123_x.y:z");
        for bad in ["", "a b", "a/b", "ä"] {
            let value = HeaderValue::from_str(bad).ok();
            assert_ne!(RequestId::from_header(value.as_ref()).0, bad);
        }
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        let value = HeaderValue::from_str(&long).ok();
        assert_eq!(RequestId::from_header(value.as_ref()).0.len(), 32);
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        let value = HeaderValue::from_str(&longest).ok();
        assert_eq!(RequestId::from_header(value.as_ref()).0, longest);
    }
}
