//! Bearer tokens: the roles, the claims, and how tokens are checked and minted. No HTTP here:
//! `http::auth` turns a checked token into the caller of a request.
//!
//! The algorithm is pinned by configuration: HS256 with a secret, the algorithm of the
//! configured public key, or per key of a JWKS file (picked by the token's `kid`). A token whose
//! header names another algorithm (or `none`) is refused.
//!
//! Claims are read by configurable names (`ClaimNames`), so that an identity provider's tokens
//! (Keycloak's `realm_access.roles`, Entra ID's `roles`) can be taken as they are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// How often a JWKS file is looked at for a change (its size, time and inode), at most.
pub const JWKS_CHECK_INTERVAL: Duration = Duration::from_secs(2);


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
    pub const ALL: [Role; 6] = [Role::PlatformAdmin, Role::FundAdmin, Role::Employer, Role::Coach, Role::Board, Role::Worker];

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

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

/// The claims of a token as this service mints them, and as it reads any token (whatever the
/// claim names it was configured with).
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
    #[error("could not read the JWKS file {path}: {reason}")]
    Jwks { path: String, reason: String },
}

/// Why a token was refused, in words that do not repeat the token.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub &'static str);

/// Where a token's claims are, by name; a dotted name reaches into objects
/// (`realm_access.roles`). The defaults are this service's own names.
#[derive(Clone, Debug)]
pub struct ClaimNames {
    pub role: String,
    pub fund: String,
    pub employer: String,
    pub worker: String,
}

impl Default for ClaimNames {
    fn default() -> ClaimNames {
        ClaimNames { role: "role".into(), fund: "fund".into(), employer: "employer".into(), worker: "worker".into() }
    }
}

/// The keys tokens are checked with.
#[derive(Clone)]
enum Keys {
    /// One key with its algorithm (a secret or a public key).
    Single(DecodingKey, Algorithm),
    /// A JWKS file, re-read when it changes.
    Jwks(Arc<JwksFile>),
}

/// A JWKS file's keys by `kid`, and what the file looked like when they were read.
struct JwksFile {
    path: PathBuf,
    state: RwLock<JwksState>,
}

struct JwksState {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    stamp: Option<FileStamp>,
    checked: Instant,
}

/// Enough of a file's metadata to notice a change, also a replacement by rename.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp { len: meta.len(), modified: meta.modified().ok(), inode })
}

/// The signing keys of a JWKS document by `kid` (a key without one is filed under ""). Keys for
/// encryption and of algorithms this service does not take are left out.
fn parse_jwks(text: &str) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let algorithm = match (&jwk.algorithm, &jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256)) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
            (AlgorithmParameters::OctetKeyPair(p), None | Some(KeyAlgorithm::EdDSA)) if p.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
            _ => continue,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {:?}: {e}", jwk.common.key_id.as_deref().unwrap_or("")))?;
        keys.insert(jwk.common.key_id.clone().unwrap_or_default(), (key, algorithm));
    }
    if keys.is_empty() {
        return Err("it holds no RS256, ES256 (P-256) or EdDSA (Ed25519) signing key".into());
    }
    Ok(keys)
}

impl JwksFile {
    fn open(path: &Path) -> Result<JwksFile, AuthConfigError> {
        let error = |reason: String| AuthConfigError::Jwks { path: path.display().to_string(), reason };
        let before = stamp(path);
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let keys = parse_jwks(&text).map_err(error)?;
        Ok(JwksFile { path: path.to_path_buf(), state: RwLock::new(JwksState { keys, stamp: before, checked: Instant::now() }) })
    }

    /// Re-reads the file if it changed since it was last read (looked at every
    /// `JWKS_CHECK_INTERVAL`). A file that cannot be read or parsed keeps the keys in use.
    fn refresh(&self) {
        let due = self.state.read().map(|s| s.checked.elapsed() >= JWKS_CHECK_INTERVAL).unwrap_or(true);
        if !due {
            return;
        }
        let Ok(mut state) = self.state.write() else { return };
        if state.checked.elapsed() < JWKS_CHECK_INTERVAL {
            return; // another request looked meanwhile
        }
        state.checked = Instant::now();
        let now = stamp(&self.path);
        if now.is_none() || now == state.stamp {
            return;
        }
        match std::fs::read_to_string(&self.path).map_err(|e| e.to_string()).and_then(|t| parse_jwks(&t)) {
            Ok(keys) => {
                tracing::info!(path = %self.path.display(), keys = keys.len(), "JWKS file re-read");
                state.keys = keys;
                state.stamp = now;
            }
            Err(reason) => tracing::warn!(path = %self.path.display(), %reason, "JWKS file changed but cannot be used; the keys read before stay in use"),
        }
    }

    fn key(&self, kid: Option<&str>) -> Result<(DecodingKey, Algorithm), TokenError> {
        self.refresh();
        let state = self.state.read().map_err(|_| TokenError("the key set is unavailable"))?;
        match kid {
            Some(kid) => state.keys.get(kid).cloned().ok_or(TokenError("its key id (kid) is not in the key set")),
            None if state.keys.len() == 1 => Ok(state.keys.values().next().cloned().ok_or(TokenError("no key"))?),
            None => Err(TokenError("it names no key id (kid), and the key set holds several keys")),
        }
    }
}

/// How tokens are checked (and, with a secret, minted).
#[derive(Clone)]
pub struct AuthConfig {
    keys: Keys,
    encoding: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    names: ClaimNames,
}

impl AuthConfig {
    pub fn from_secret(secret: &[u8], issuer: Option<&str>, audience: Option<&str>) -> Result<AuthConfig, AuthConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthConfigError::ShortSecret);
        }
        Ok(AuthConfig {
            keys: Keys::Single(DecodingKey::from_secret(secret), Algorithm::HS256),
            encoding: Some(EncodingKey::from_secret(secret)),
            issuer: issuer.map(str::to_string),
            audience: audience.map(str::to_string),
            names: ClaimNames::default(),
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
        Ok(AuthConfig {
            keys: Keys::Single(decoding, algorithm),
            encoding: None,
            issuer: issuer.map(str::to_string),
            audience: audience.map(str::to_string),
            names: ClaimNames::default(),
        })
    }

    /// Keys from a JWKS file (an identity provider's published keys): the token's `kid` picks
    /// the key; the file is re-read when it changes, so keys rotate without a restart.
    pub fn from_jwks_file(path: &Path, issuer: Option<&str>, audience: Option<&str>) -> Result<AuthConfig, AuthConfigError> {
        Ok(AuthConfig {
            keys: Keys::Jwks(Arc::new(JwksFile::open(path)?)),
            encoding: None,
            issuer: issuer.map(str::to_string),
            audience: audience.map(str::to_string),
            names: ClaimNames::default(),
        })
    }

    /// Reads roles and scopes from these claim names instead of this service's own.
    pub fn with_claim_names(mut self, names: ClaimNames) -> AuthConfig {
        self.names = names;
        self
    }

    pub fn mint(&self, claims: &TokenClaims) -> Result<String, AuthConfigError> {
        let key = self.encoding.as_ref().ok_or(AuthConfigError::CannotMint)?;
        Ok(encode(&Header::new(Algorithm::HS256), claims, key)?)
    }

    /// The claims of a valid token, or why it is not valid.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        // A header that does not parse names no algorithm this server knows (`none`, say).
        let header = decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_) => TokenError("its header is not valid or names an algorithm this server does not accept"),
            _ => TokenError(describe(&e)),
        })?;
        let (key, algorithm) = match &self.keys {
            Keys::Single(key, algorithm) => (key.clone(), *algorithm),
            Keys::Jwks(file) => file.key(header.kid.as_deref())?,
        };
        let validation = validation(algorithm, self.issuer.as_deref(), self.audience.as_deref());
        let data = decode::<Value>(token, &key, &validation).map_err(|e| {
            tracing::debug!(reason = %e, "token refused");
            TokenError(describe(&e))
        })?;
        let claims = self.read_claims(&data.claims)?;
        // A token issued in the future was minted by a clock that is wrong, or forged.
        let now = jsonwebtoken::get_current_timestamp();
        if claims.iat.is_some_and(|iat| iat > now.saturating_add(JWT_LEEWAY_SECS)) {
            return Err(TokenError("it was issued in the future (iat)"));
        }
        Ok(claims)
    }

    /// Our claims from a token's, by the configured names.
    fn read_claims(&self, claims: &Value) -> Result<TokenClaims, TokenError> {
        let sub = claims.get("sub").and_then(Value::as_str).ok_or(TokenError("its sub is missing or not text"))?;
        let number = |name: &str| -> Result<Option<u64>, TokenError> {
            match claims.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or(TokenError("its exp, iat or nbf is not a number of seconds")),
            }
        };
        let exp = number("exp")?.ok_or(TokenError("a required claim is missing"))?;
        let role = read_role(claim_at(claims, &self.names.role))?;
        let scope = |name: &str, what: &'static str| -> Result<Option<Uuid>, TokenError> {
            match claim_at(claims, name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_str().and_then(|s| Uuid::parse_str(s).ok()).map(Some).ok_or(TokenError(what)),
            }
        };
        Ok(TokenClaims {
            sub: sub.to_string(),
            role,
            exp,
            iat: number("iat")?,
            nbf: number("nbf")?,
            fund: scope(&self.names.fund, "its fund claim is not an id of this service")?,
            employer: scope(&self.names.employer, "its employer claim is not an id of this service")?,
            worker: scope(&self.names.worker, "its worker claim is not an id of this service")?,
            iss: claims.get("iss").and_then(Value::as_str).map(str::to_string),
            aud: None,
        })
    }
}

/// The claim at `name`: a top-level claim of that name, else the dotted path into objects.
fn claim_at<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    claims.get(name).or_else(|| name.split('.').try_fold(claims, |value, part| value.get(part)))
}

/// The one role of ours a role claim names: a string or an array of strings, in which values
/// that are not our role names are ignored (an identity provider puts its own roles there too).
fn read_role(value: Option<&Value>) -> Result<Role, TokenError> {
    let names: Vec<&str> = match value {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => return Err(TokenError("it names no role of this service")),
    };
    let mut roles: Vec<Role> = names.into_iter().filter_map(Role::parse).collect();
    roles.sort_by_key(|r| r.as_str());
    roles.dedup();
    match roles.as_slice() {
        [role] => Ok(*role),
        [] => Err(TokenError("it names no role of this service")),
        _ => Err(TokenError("it names more than one role of this service; give each token one")),
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
