//! JWT bearer authentication and the caller's scope.
//!
//! The algorithm is pinned by configuration: HS256 with a secret, or the algorithm of the
//! configured public key. A token whose header names another algorithm (or `none`) is 401.

use std::future::{ready, Ready};
use std::path::Path;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use crate::domain::{EmployerId, FundId, WorkerId};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const JWT_LEEWAY_SECS: u64 = 30;
/// The shortest HS256 secret accepted: 32 bytes, the size of the hash.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest lifetime `ptt-ledger token` mints.
pub const MAX_TOKEN_TTL_SECS: u64 = 366 * 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[clap(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    FundAdmin,
    Employer,
    Coach,
    Board,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::FundAdmin => "fund_admin",
            Role::Employer => "employer",
            Role::Coach => "coach",
            Role::Board => "board",
            Role::Worker => "worker",
        }
    }
}

/// The claims of a token. Unknown roles fail to parse and so are 401.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenClaims {
    pub sub: String,
    pub role: Role,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fund: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
    #[error("could not read the JWT public key {path}: {source}")]
    ReadKey { path: String, source: std::io::Error },
    #[error("{0} is not an RSA, EC (P-256) or Ed25519 public key in PEM form")]
    BadKey(String),
    #[error("{0} holds a private key; give the server only the public key (e.g. `openssl pkey -in key.pem -pubout -out public.pem`)")]
    PrivateKey(String),
    #[error("tokens can only be minted with an HS256 secret, not with a public key")]
    CannotMint,
    #[error("could not mint the token: {0}")]
    Mint(#[from] jsonwebtoken::errors::Error),
}

/// How tokens are checked (and, with a secret, minted).
#[derive(Clone)]
pub struct AuthConfig {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
}

impl AuthConfig {
    pub fn from_secret(secret: &[u8], issuer: Option<&str>, audience: Option<&str>) -> Result<AuthConfig, AuthConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthConfigError::ShortSecret);
        }
        Ok(AuthConfig {
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256, issuer, audience),
        })
    }

    /// The algorithm follows from the key: RSA → RS256, P-256 → ES256, Ed25519 → EdDSA.
    pub fn from_public_key_file(path: &Path, issuer: Option<&str>, audience: Option<&str>) -> Result<AuthConfig, AuthConfigError> {
        let pem = std::fs::read(path)
            .map_err(|source| AuthConfigError::ReadKey { path: path.display().to_string(), source })?;
        // A private key would parse for some algorithms and then check no token at all.
        if String::from_utf8_lossy(&pem).contains("PRIVATE KEY") {
            return Err(AuthConfigError::PrivateKey(path.display().to_string()));
        }
        let (decoding, algorithm) = if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            (key, Algorithm::RS256)
        } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
            (key, Algorithm::ES256)
        } else if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
            (key, Algorithm::EdDSA)
        } else {
            return Err(AuthConfigError::BadKey(path.display().to_string()));
        };
        Ok(AuthConfig { decoding, encoding: None, validation: validation(algorithm, issuer, audience) })
    }

    pub fn mint(&self, claims: &TokenClaims) -> Result<String, AuthConfigError> {
        let key = self.encoding.as_ref().ok_or(AuthConfigError::CannotMint)?;
        Ok(encode(&Header::new(Algorithm::HS256), claims, key)?)
    }

    pub fn check(&self, token: &str) -> Result<Caller, ApiError> {
        let data = decode::<TokenClaims>(token, &self.decoding, &self.validation).map_err(|e| {
            tracing::debug!(reason = %e, "token refused");
            ApiError::unauthorized(format!("the bearer token is not valid: {}", describe(&e)))
        })?;
        // A token issued in the future was minted by a clock that is wrong, or forged.
        let now = jsonwebtoken::get_current_timestamp();
        if data.claims.iat.is_some_and(|iat| iat > now.saturating_add(JWT_LEEWAY_SECS)) {
            return Err(ApiError::unauthorized("the bearer token is not valid: it was issued in the future (iat)"));
        }
        Caller::from_claims(data.claims)
    }
}

fn validation(algorithm: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut v = Validation::new(algorithm);
    v.leeway = JWT_LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "sub"]);
    if let Some(issuer) = issuer {
        v.set_issuer(&[issuer]);
        v.required_spec_claims.insert("iss".into());
    }
    match audience {
        Some(audience) => {
            v.set_audience(&[audience]);
            v.required_spec_claims.insert("aud".into());
        }
        None => v.validate_aud = false,
    }
    v
}

/// A reason a person can act on, without echoing the token.
fn describe(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
        ErrorKind::InvalidSignature => "its signature does not match",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "it is signed with an algorithm this server does not accept",
        ErrorKind::InvalidIssuer => "its issuer is not accepted",
        ErrorKind::InvalidAudience => "its audience is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::Json(_) => "its claims are not valid (unknown role or wrong types)",
        _ => "it is malformed",
    }
}

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
        if c.sub.is_empty() || c.sub.len() > 200 {
            return Err(ApiError::unauthorized("the token's sub must be 1 to 200 characters"));
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
    config.check(token.trim())
}
