//! `Idempotency-Key` on every POST that moves money.
//!
//! The key is claimed by inserting a row (primary key: fund, caller, key) as the first write of
//! the request's database transaction, and the response is stored in the same transaction. A
//! retry with the same key and body replays the stored response; racing retries wait on the
//! primary key for the first to commit and then replay it. The same key with another body is
//! 422. Requests that fail with an error store nothing: a retry runs again. Keys are scoped per
//! fund and caller (`sub`), and kept at least `IDEMPOTENCY_RETENTION_HOURS`.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::db::rows::IdempotencyRow;
use crate::db::schema::idempotency_keys;
use crate::db::{write_tx, DbConn};
use crate::domain::time::now_utc;
use crate::domain::FundId;

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const MAX_KEY_LEN: usize = 200;
/// Keys are kept at least this long; `expire` runs purge older ones.
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 7 * 24;

/// The optional `Idempotency-Key` header; a malformed one is 400.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<IdempotencyKey, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
            return ready(Ok(IdempotencyKey(None)));
        };
        let valid = value
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= MAX_KEY_LEN && v.bytes().all(|b| b.is_ascii_graphic()));
        ready(match valid {
            Some(key) => Ok(IdempotencyKey(Some(key.to_string()))),
            None => Err(ApiError::bad_request(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters, e.g. a UUID"),
            )),
        })
    }
}

/// A response that can be stored and replayed: its status and its JSON text, serialised once
/// (a bulk's answer is megabytes; it is never held as a JSON tree).
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

impl Stored {
    pub fn new(status: StatusCode, body: impl serde::Serialize) -> Result<Stored, ApiError> {
        Ok(Stored { status, body: serde_json::to_string(&body).map_err(ApiError::internal)?, replayed: false })
    }

    /// The `id` of the resource in the body, if it names one.
    pub fn id(&self) -> Option<String> {
        match self.field("id") {
            Some(Value::String(id)) => Some(id),
            _ => None,
        }
    }

    /// One field of the body, for metrics.
    pub fn field(&self, name: &str) -> Option<Value> {
        serde_json::from_str::<Value>(&self.body).ok().and_then(|mut v| v.get_mut(name).map(Value::take))
    }

    pub fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.content_type("application/json").body(self.body)
    }
}

/// The fingerprint of a request: method, path and the body as canonical JSON (keys sorted).
pub fn request_hash(req: &HttpRequest, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// Who the key belongs to and what it is for.
pub struct Scope<'a> {
    pub fund: FundId,
    pub caller: &'a str,
    pub key: Option<&'a str>,
    pub request_hash: &'a str,
}

/// Runs `work` in one write transaction, guarded by the idempotency key when there is one.
pub fn run_idempotent(
    conn: &mut DbConn,
    scope: Scope<'_>,
    work: impl FnOnce(&mut DbConn) -> Result<Stored, ApiError>,
) -> Result<Stored, ApiError> {
    write_tx(conn, |conn| {
        let Some(key) = scope.key else {
            return work(conn);
        };
        if let Some(replay) = claim_key(conn, &scope, key)? {
            return Ok(replay);
        }
        let stored = work(conn)?;
        diesel::update(
            idempotency_keys::table
                .filter(idempotency_keys::fund_id.eq(scope.fund.to_string()))
                .filter(idempotency_keys::caller.eq(scope.caller))
                .filter(idempotency_keys::key.eq(key)),
        )
        .set((
            idempotency_keys::status_code.eq(Some(i32::from(stored.status.as_u16()))),
            idempotency_keys::response_body.eq(Some(stored.body.clone())),
        ))
        .execute(conn)?;
        Ok(stored)
    })
}

/// Claims the key for this request, or returns the response stored for it.
fn claim_key(conn: &mut DbConn, scope: &Scope<'_>, key: &str) -> Result<Option<Stored>, ApiError> {
    let row = IdempotencyRow {
        fund_id: scope.fund.to_string(),
        caller: scope.caller.to_string(),
        key: key.to_string(),
        request_hash: scope.request_hash.to_string(),
        status_code: None,
        response_body: None,
        created_at: now_utc(),
    };
    // In a savepoint: on PostgreSQL a failed insert would otherwise end the transaction.
    match conn.transaction(|conn| diesel::insert_into(idempotency_keys::table).values(&row).execute(conn)) {
        Ok(_) => return Ok(None),
        Err(e) if crate::db::is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let existing: IdempotencyRow = idempotency_keys::table
        .filter(idempotency_keys::fund_id.eq(&row.fund_id))
        .filter(idempotency_keys::caller.eq(&row.caller))
        .filter(idempotency_keys::key.eq(key))
        .select(IdempotencyRow::as_select())
        .first(conn)?;
    if existing.request_hash != row.request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        ));
    }
    match (existing.status_code, existing.response_body) {
        (Some(status), Some(body)) => Ok(Some(Stored {
            status: StatusCode::from_u16(status as u16).map_err(ApiError::internal)?,
            body,
            replayed: true,
        })),
        _ => Err(ApiError::conflict(
            "idempotency_in_flight",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )),
    }
}

/// Deletes keys older than the retention period. Returns how many.
pub fn purge_expired_keys(conn: &mut DbConn) -> QueryResult<usize> {
    let cutoff = now_utc() - chrono::Duration::hours(IDEMPOTENCY_RETENTION_HOURS);
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff))).execute(conn)
}

/// For work that spans several transactions (an expiry run, itself idempotent): the stored
/// response of an earlier request with this key, if any.
pub fn replay_only(conn: &mut DbConn, scope: &Scope<'_>) -> Result<Option<Stored>, ApiError> {
    let Some(key) = scope.key else { return Ok(None) };
    let existing: Option<IdempotencyRow> = idempotency_keys::table
        .filter(idempotency_keys::fund_id.eq(scope.fund.to_string()))
        .filter(idempotency_keys::caller.eq(scope.caller))
        .filter(idempotency_keys::key.eq(key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()?;
    let Some(existing) = existing else { return Ok(None) };
    if existing.request_hash != scope.request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        ));
    }
    match (existing.status_code, existing.response_body) {
        (Some(status), Some(body)) => Ok(Some(Stored {
            status: StatusCode::from_u16(status as u16).map_err(ApiError::internal)?,
            body,
            replayed: true,
        })),
        _ => Ok(None),
    }
}

/// Stores the response of work done outside `run_idempotent`. A key stored meanwhile by a
/// racing request wins; both did the same idempotent work.
pub fn remember(conn: &mut DbConn, scope: &Scope<'_>, stored: &Stored) -> Result<(), ApiError> {
    let Some(key) = scope.key else { return Ok(()) };
    let row = IdempotencyRow {
        fund_id: scope.fund.to_string(),
        caller: scope.caller.to_string(),
        key: key.to_string(),
        request_hash: scope.request_hash.to_string(),
        status_code: Some(i32::from(stored.status.as_u16())),
        response_body: Some(stored.body.clone()),
        created_at: now_utc(),
    };
    match diesel::insert_into(idempotency_keys::table).values(&row).execute(conn) {
        Ok(_) => Ok(()),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
