//! The one way a POST that moves money is handled: the caller, its `Idempotency-Key`, today and
//! the body are read once, the request's fingerprint is taken, and the work runs in one write
//! transaction guarded by the key. The answer replays on a retry and names what it created.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::{Caller, Role};
use super::common::{parse_body, run, with_location, Today};
use super::error::ApiError;
use super::idempotency::{request_hash, run_idempotent, IdempotencyKey, Scope, Stored};
use super::json_body::{ActionBody, JsonBody};
use crate::db::{DbConn, Pool};
use crate::domain::FundId;

/// A money POST with a JSON body (`Content-Type: application/json`).
pub struct MoneyPost(Parts);

/// A money POST on an action route (approve, pay, cancel, ...): a JSON body, or none at all.
pub struct MoneyAction(Parts);

/// What both kinds share.
pub struct Parts {
    pub caller: Caller,
    pub today: NaiveDate,
    key: IdempotencyKey,
    body: Option<Value>,
    hash: String,
    path: String,
}

macro_rules! money_extractor {
    ($name:ident, $body:ty, |$b:ident| $value:expr) => {
        impl FromRequest for $name {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<$name, ApiError>>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                // Who asks comes first: a request without a valid token never has its body read.
                let head = Caller::extract(req)
                    .into_inner()
                    .and_then(|caller| Ok((caller, IdempotencyKey::extract(req).into_inner()?)));
                let today = Today::extract(req).into_inner().map(|t| t.0);
                let body = <$body>::from_request(req, payload);
                let req = req.clone();
                Box::pin(async move {
                    let (caller, key) = head?;
                    let $b = body.await?;
                    let value: Value = $value;
                    Ok($name(Parts {
                        caller,
                        today: today?,
                        key,
                        hash: request_hash(&req, &value),
                        body: Some(value),
                        path: req.path().to_string(),
                    }))
                })
            }
        }

        impl std::ops::Deref for $name {
            type Target = Parts;
            fn deref(&self) -> &Parts {
                &self.0
            }
        }

        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Parts {
                &mut self.0
            }
        }

        impl $name {
            pub fn into_parts(self) -> Parts {
                self.0
            }
        }
    };
}

money_extractor!(MoneyPost, JsonBody<Value>, |b| b.into_inner());
money_extractor!(MoneyAction, ActionBody, |b| b.0);

impl Parts {
    /// Admits the caller to the fund with one of these roles (404 outside it, 403 for a role).
    pub fn admit(&self, fund: FundId, roles: &[Role]) -> Result<(), ApiError> {
        self.caller.admit(fund, roles)
    }

    /// The body as it came, until `parse` takes it.
    pub fn body(&self) -> Option<&Value> {
        self.body.as_ref()
    }

    /// The body as its request type; a mismatch is 400.
    pub fn parse<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        parse_body(self.body.take().unwrap_or_default())
    }

    /// Runs `work` in one write transaction guarded by the Idempotency-Key, if any.
    pub async fn run<F>(self, pool: &web::Data<Pool>, fund: FundId, work: F) -> Result<Answer, ApiError>
    where
        F: FnOnce(&mut DbConn, &Caller) -> Result<Stored, ApiError> + Send + 'static,
    {
        let Parts { caller, key, hash, path, .. } = self;
        let stored = run(pool, move |conn| {
            let owner = caller.idempotency_owner();
            let scope = Scope { fund, caller: &owner, key: key.0.as_deref(), request_hash: &hash };
            run_idempotent(conn, scope, |conn| work(conn, &caller))
        })
        .await?;
        Ok(Answer { stored, path })
    }

    /// For work that spans several transactions: who owns the key, the key and the fingerprint.
    pub fn key_parts(&self) -> (String, Option<String>, String) {
        (self.caller.idempotency_owner(), self.key.0.clone(), self.hash.clone())
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The stored answer of a money POST.
pub struct Answer {
    pub stored: Stored,
    path: String,
}

impl Answer {
    /// The answer; a 201 names what it created: the request's URL and the body's `id`.
    pub fn into_response(self) -> HttpResponse {
        let location = self.stored.id().map(|id| format!("{}/{id}", self.path));
        self.located(location)
    }

    /// The answer with a `Location` of the caller's choosing on a 201.
    pub fn located(self, location: Option<String>) -> HttpResponse {
        with_location(self.stored.into_response(), location)
    }
}
