//! What every handler shares: running database work off the async workers, pagination,
//! and the extractor configuration that turns bad input into problem+json.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::db::rows::PageQuery;
use crate::db::{DbConn, Pool};

/// Largest request body accepted, in bytes: room for a bulk of `MAX_BULK_GRANTS` grants.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Page size when the client names none, and the most it may ask for.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// Runs database work on the blocking thread pool, with a connection from the pool; never on
/// an actix worker. The request's log span goes along, so database work logs its request id.
///
/// A connection whose work failed on the server side (a 5xx: a lost connection, an error of
/// unknown effect) or panicked is closed, not returned to the pool: closing it rolls back
/// whatever it still had open, so nothing unacknowledged can later be committed through it,
/// and a connection to a database that restarted is replaced by a fresh one.
pub async fn run<T, F>(pool: &web::Data<Pool>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    web::block(move || {
        let _entered = span.enter();
        let mut conn = crate::db::conn::checkout(&pool)?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut conn))) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if error.status.is_server_error() {
                    conn.discard();
                }
                Err(error)
            }
            // The panic hook has logged it, once, with its location.
            Err(_) => {
                conn.discard();
                Err(ApiError::panicked())
            }
        }
    })
    .await
    .map_err(ApiError::internal)?
}

/// Sets `Location` (the created resource's URL) on a 201 answer. A 201 without one gets the
/// request's own URL from the request context.
pub fn with_location(mut response: actix_web::HttpResponse, location: Option<String>) -> actix_web::HttpResponse {
    let value = location.and_then(|l| actix_web::http::header::HeaderValue::from_str(&l).ok());
    if let (true, Some(value)) = (response.status() == actix_web::http::StatusCode::CREATED, value) {
        response.headers_mut().insert(actix_web::http::header::LOCATION, value);
    }
    response
}

/// `limit` and `after` of a list request.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
}

impl PageParams {
    /// Validated page; one row more than the page is fetched to know whether another follows.
    pub fn query(&self) -> Result<PageQuery, ApiError> {
        page_query(self.limit, self.after.as_deref())
    }
}

pub fn page_query(limit: Option<i64>, after: Option<&str>) -> Result<PageQuery, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be from 1 to {MAX_PAGE_SIZE}")));
    }
    let after = match after {
        Some(cursor) => Some(
            uuid::Uuid::parse_str(cursor)
                .map_err(|_| ApiError::bad_request("invalid_cursor", "after must be a next_cursor from an earlier page"))?
                .hyphenated()
                .to_string(),
        ),
        None => None,
    };
    Ok(PageQuery { after, limit: limit + 1 })
}

/// A list's `status` filter: one of the `names` of a closed set, or a 400 that lists them.
pub fn status_filter<T: std::str::FromStr>(text: Option<&str>, names: &[&str]) -> Result<Option<T>, ApiError> {
    text.map(|text| {
        text.parse::<T>()
            .map_err(|_| ApiError::bad_request("invalid_query", format!("status must be one of {}", names.join(", "))))
    })
    .transpose()
}

/// One page of a list, newest first.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds the page from rows fetched with `PageQuery::limit` (one more than asked).
    pub fn from_rows<R, K: std::fmt::Display>(mut rows: Vec<R>, query: &PageQuery, id: impl Fn(&R) -> K, view: impl Fn(R) -> T) -> Page<T> {
        let page_size = (query.limit - 1) as usize;
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        let next_cursor = if more { rows.last().map(|row| id(row).to_string()) } else { None };
        Page { items: rows.into_iter().map(view).collect(), next_cursor }
    }
}

/// Path segments that are ids: a malformed one cannot name anything, so it is 404.
#[derive(Debug, Deserialize)]
pub struct FundPath {
    pub fund: uuid::Uuid,
}

#[derive(Debug, Deserialize)]
pub struct FundItemPath {
    pub fund: uuid::Uuid,
    pub id: uuid::Uuid,
}

/// Request bodies are read up to `MAX_BODY_BYTES` on every route (see `json_body`).
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "the query string is not valid ({error}); limit is a whole number from 1 to {MAX_PAGE_SIZE}, after is a \
                 next_cursor of an earlier page, ids are UUIDs, dates are YYYY-MM-DD"
            ),
        )
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_error: PathError, _req| ApiError::not_found("resource").into())
}

/// A text field within bounds, trimmed of nothing: what the client sent is what is stored.
pub fn bounded_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), crate::domain::FieldError> {
    let length = value.chars().count();
    if length == 0 || length > max_chars || value.trim() != value || value.chars().any(char::is_control) {
        return Err(crate::domain::FieldError::new(
            field,
            format!("must be 1 to {max_chars} characters, without leading or trailing spaces or control characters"),
        ));
    }
    Ok(())
}

/// Reads a typed request from a JSON value; a mismatch is 400 with serde's explanation.
pub fn parse_body<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// Today's date in Europe/Amsterdam, as the service's clock says.
#[derive(Debug, Clone, Copy)]
pub struct Today(pub chrono::NaiveDate);

impl actix_web::FromRequest for Today {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Today, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let today = match req.app_data::<web::Data<crate::domain::time::Clock>>() {
            Some(clock) => clock.today(),
            None => crate::domain::time::today(),
        };
        std::future::ready(Ok(Today(today)))
    }
}

/// For a PATCH field: tells one sent as `null` (`Some(None)`: clear it) from one left out
/// (`None`: keep it). Use with `#[serde(default, deserialize_with = "...")]`.
pub fn nullable<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    <Option<String> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A text query parameter (a lookup key) checked like the field it looks up; a bad one is 400
/// `invalid_query`, as every malformed query is.
pub fn query_text(name: &'static str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    bounded_text(name, value, max_chars).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))
}
