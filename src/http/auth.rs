//! The caller of a request: its bearer token checked (see `crate::auth`), with the scope its
//! role needs.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::error::ApiError;
pub use crate::auth::{AuthConfig, AuthConfigError, Role, TokenClaims, JWT_LEEWAY_SECS, MAX_TOKEN_TTL_SECS, MIN_SECRET_BYTES};
use crate::domain::{EmployerId, FundId, WorkerId};

/// The authenticated caller, with the scope its role needs.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    pub fund: Option<FundId>,
    pub employer: Option<EmployerId>,
    pub worker: Option<WorkerId>,
}

impl Caller {
    fn from_claims(c: TokenClaims) -> Result<Caller, ApiError> {
        let needs_fund = c.role != Role::PlatformAdmin;
        // The subject is stored as the actor of ledger entries: text a database takes.
        if c.sub.is_empty() || c.sub.chars().count() > 200 || c.sub.chars().any(char::is_control) {
            return Err(ApiError::unauthorized("the token's sub must be 1 to 200 characters, without control characters"));
        }
        if needs_fund && c.fund.is_none() {
            return Err(ApiError::unauthorized(format!("a {} token must name its fund", c.role.as_str())));
        }
        if c.role == Role::Employer && c.employer.is_none() {
            return Err(ApiError::unauthorized("an employer token must name its employer"));
        }
        if c.role == Role::Worker && c.worker.is_none() {
            return Err(ApiError::unauthorized("a worker token must name its worker"));
        }
        Ok(Caller {
            sub: c.sub,
            role: c.role,
            fund: c.fund.map(FundId),
            employer: c.employer.map(EmployerId),
            worker: c.worker.map(WorkerId),
        })
    }

    /// Admits the caller to a fund's route. Outside its fund: 404, so ids cannot be probed.
    /// In its fund but with a role that may not do this: 403.
    pub fn admit(&self, fund: FundId, roles: &[Role]) -> Result<(), ApiError> {
        if self.role != Role::PlatformAdmin && self.fund != Some(fund) {
            return Err(ApiError::not_found("fund"));
        }
        if !roles.contains(&self.role) {
            return Err(ApiError::forbidden(format!(
                "a {} token may not do this; it needs one of: {}",
                self.role.as_str(),
                roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// Who an idempotency key belongs to: the role, the subject and the employer or worker the
    /// token is scoped to (the fund is part of the key's own scope). Two employers whose
    /// tokens share a `sub` can never replay each other's requests.
    pub fn idempotency_owner(&self) -> String {
        let scope = |id: Option<uuid::Uuid>| id.map(|u| u.simple().to_string()).unwrap_or_else(|| "-".into());
        format!(
            "{}|{}|{}|{}",
            self.role.as_str(),
            scope(self.employer.map(|e| e.0)),
            scope(self.worker.map(|w| w.0)),
            self.sub
        )
    }

    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("a {} token may not do this", self.role.as_str())))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let config = req
        .app_data::<web::Data<AuthConfig>>()
        .ok_or_else(|| ApiError::internal("auth configuration missing"))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send an Authorization: Bearer <token> header"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be: Bearer <token>"))?;
    let claims = config
        .verify(token.trim())
        .map_err(|reason| ApiError::unauthorized(format!("the bearer token is not valid: {reason}")))?;
    Caller::from_claims(claims)
}
