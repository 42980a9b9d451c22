//! `Idempotency-Key` on every POST that moves money.
//!
//! The key is claimed by inserting a row (primary key: fund, caller, key) as the first write of
//! the request's database transaction, and the response is stored in the same transaction. A
//! retry with the same key and body replays the stored response; racing retries wait on the
//! primary key for the first to commit and then replay it. The same key with another body is
//! 422. Requests that fail with an error store nothing: a retry runs again. Keys are scoped per
//! fund and caller (role, `sub`, employer, worker), and kept at least `IDEMPOTENCY_RETENTION_HOURS`.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::db::idempotency::{self as keys, KeyRef};
use crate::db::rows::IdempotencyRow;
use crate::db::DbConn;
use crate::ledger::write_tx;
use crate::domain::FundId;

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const MAX_KEY_LEN: usize = 200;
pub use crate::db::idempotency::IDEMPOTENCY_RETENTION_HOURS;

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
    /// What a replay answers, when not the body itself (a large body is not kept whole).
    pub kept: Option<String>,
}

/// Response bodies up to this size are kept whole for replays; a larger one keeps what its
/// handler chose (`Stored::keeping`), so that a key never holds megabytes.
pub const MAX_KEPT_RESPONSE_BYTES: usize = 64 * 1024;

impl Stored {
    pub fn new(status: StatusCode, body: impl serde::Serialize) -> Result<Stored, ApiError> {
        Ok(Stored { status, body: serde_json::to_string(&body).map_err(ApiError::internal)?, replayed: false, kept: None })
    }

    /// Keeps `kept` for replays instead of the body, if the body is larger than
    /// `MAX_KEPT_RESPONSE_BYTES`.
    pub fn keeping(mut self, kept: impl FnOnce() -> serde_json::Result<String>) -> Result<Stored, ApiError> {
        if self.body.len() > MAX_KEPT_RESPONSE_BYTES {
            self.kept = Some(kept().map_err(ApiError::internal)?);
        }
        Ok(self)
    }

    /// The text a key keeps for replays.
    fn kept_text(&self) -> &str {
        self.kept.as_deref().unwrap_or(&self.body)
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
        let key = KeyRef { fund_id: scope.fund, caller: scope.caller, key };
        if !keys::claim(conn, &key, scope.request_hash)? {
            let existing = keys::find(conn, &key)?.ok_or_else(|| ApiError::internal("an idempotency key vanished"))?;
            return match replay(existing, scope.request_hash)? {
                Some(stored) => Ok(stored),
                None => Err(ApiError::conflict(
                    "idempotency_in_flight",
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                )),
            };
        }
        let stored = work(conn)?;
        keys::store_response(conn, &key, stored.status.as_u16(), stored.kept_text())?;
        Ok(stored)
    })
}

/// The stored response of a key used for this request, `None` while it has none; the same key
/// with another request is 422.
fn replay(existing: IdempotencyRow, request_hash: &str) -> Result<Option<Stored>, ApiError> {
    if existing.request_hash != request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        ));
    }
    match (existing.status_code, existing.response_body) {
        (Some(status), Some(body)) => Ok(Some(Stored {
            status: StatusCode::from_u16(u16::try_from(status).map_err(ApiError::internal)?).map_err(ApiError::internal)?,
            body,
            replayed: true,
            kept: None,
        })),
        _ => Ok(None),
    }
}

/// For work that spans several transactions (an expiry run, itself idempotent): the stored
/// response of an earlier request with this key, if any.
pub fn replay_only(conn: &mut DbConn, scope: &Scope<'_>) -> Result<Option<Stored>, ApiError> {
    let Some(key) = scope.key else { return Ok(None) };
    match keys::find(conn, &KeyRef { fund_id: scope.fund, caller: scope.caller, key })? {
        Some(existing) => replay(existing, scope.request_hash),
        None => Ok(None),
    }
}

/// Stores the response of work done outside `run_idempotent`. A key stored meanwhile by a
/// racing request wins; both did the same idempotent work.
pub fn remember(conn: &mut DbConn, scope: &Scope<'_>, stored: &Stored) -> Result<(), ApiError> {
    let Some(key) = scope.key else { return Ok(()) };
    keys::insert_answered(conn, &KeyRef { fund_id: scope.fund, caller: scope.caller, key }, scope.request_hash, stored.status.as_u16(), stored.kept_text())?;
    Ok(())
}
