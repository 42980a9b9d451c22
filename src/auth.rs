//! Bearer tokens: the roles, the claims, and how tokens are checked and minted. No HTTP here:
//! `http::auth` turns a checked token into the caller of a request.
//!
//! The algorithm is pinned by configuration: HS256 with a secret, or the algorithm of the
//! configured public key. A token whose header names another algorithm (or `none`) is refused.

use std::path::Path;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;


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

/// Why a token was refused, in words that do not repeat the token.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub &'static str);

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

    /// The claims of a valid token, or why it is not valid.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        let data = decode::<TokenClaims>(token, &self.decoding, &self.validation).map_err(|e| {
            tracing::debug!(reason = %e, "token refused");
            TokenError(describe(&e))
        })?;
        // A token issued in the future was minted by a clock that is wrong, or forged.
        let now = jsonwebtoken::get_current_timestamp();
        if data.claims.iat.is_some_and(|iat| iat > now.saturating_add(JWT_LEEWAY_SECS)) {
            return Err(TokenError("it was issued in the future (iat)"));
        }
        Ok(data.claims)
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
