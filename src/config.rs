//! Resolving configuration: flags with environment fallbacks (see `cli::Cli`), and the
//! signing secret created beside an embedded SQLite database.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::db::DbUrl;
use crate::auth::{AuthConfig, AuthConfigError};

/// Bytes of randomness in a generated secret (stored hex-encoded).
pub const GENERATED_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Auth(#[from] AuthConfigError),
    #[error("set PTT_JWT_SECRET (at least 32 bytes), PTT_JWT_SECRET_FILE, PTT_JWT_PUBLIC_KEY or PTT_JWT_JWKS_FILE; a secret is generated only beside an SQLite database")]
    NoSecret,
    #[error("set only one of PTT_JWT_SECRET, PTT_JWT_SECRET_FILE, PTT_JWT_PUBLIC_KEY and PTT_JWT_JWKS_FILE")]
    TwoKeys,
    #[error("could not read or create the secret file {path}: {source}")]
    SecretFile { path: PathBuf, source: std::io::Error },
    #[error(
        "no signing secret: {0} does not exist. Tokens must be signed with the secret of the server's database: \
         run this command with the same --database-url (or DATABASE_URL) as `ptt-ledger serve`, which creates the \
         secret on first start, or set PTT_JWT_SECRET"
    )]
    NoSecretFile(PathBuf),
}

/// The JWT settings as given.
#[derive(Debug, Clone, Default)]
pub struct JwtOptions {
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub public_key: Option<PathBuf>,
    pub jwks_file: Option<PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub claim_names: crate::auth::ClaimNames,
}

/// Where the generated secret of an SQLite database lives.
pub fn secret_file_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".secret");
    PathBuf::from(name)
}

/// Whether a missing secret file beside an SQLite database may be created: by `serve` only.
/// Anything else (minting a token) run against a database that has none would make a secret
/// that no server knows, and its tokens would be refused with no hint why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretFile {
    CreateIfMissing,
    MustExist,
}

/// Builds the auth configuration: the configured secret or public key, else (SQLite only) the
/// secret file beside the database, created on first use with mode 0600.
pub fn auth_config(options: &JwtOptions, database: &DbUrl, secret_file: SecretFile) -> Result<(AuthConfig, Option<PathBuf>), ConfigError> {
    let issuer = options.issuer.as_deref();
    let audience = options.audience.as_deref();
    let given = [options.secret.is_some(), options.secret_file.is_some(), options.public_key.is_some(), options.jwks_file.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ConfigError::TwoKeys);
    }
    let named = |config: AuthConfig| config.with_claim_names(options.claim_names.clone());
    if let Some(secret) = &options.secret {
        return Ok((named(AuthConfig::from_secret(secret.as_bytes(), issuer, audience)?), None));
    }
    if let Some(path) = &options.secret_file {
        let secret = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?;
        return Ok((named(AuthConfig::from_secret(secret.trim().as_bytes(), issuer, audience)?), None));
    }
    if let Some(path) = &options.public_key {
        return Ok((named(AuthConfig::from_public_key_file(path, issuer, audience)?), None));
    }
    if let Some(path) = &options.jwks_file {
        return Ok((named(AuthConfig::from_jwks_file(path, issuer, audience)?), None));
    }
    {
        match database {
            DbUrl::Sqlite(db_path) => {
                let path = secret_file_for(db_path);
                if secret_file == SecretFile::MustExist && !path.exists() {
                    return Err(ConfigError::NoSecretFile(path));
                }
                let secret = read_or_create_secret(&path)?;
                Ok((named(AuthConfig::from_secret(secret.as_bytes(), issuer, audience)?), Some(path)))
            }
            DbUrl::Postgres(_) => Err(ConfigError::NoSecret),
        }
    }
}

fn read_or_create_secret(path: &Path) -> Result<String, ConfigError> {
    let io_error = |source| ConfigError::SecretFile { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut bytes = [0u8; GENERATED_SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let fresh = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(fresh.as_bytes()).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
            Ok(fresh)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(path).map_err(io_error)?.trim().to_string())
        }
        Err(e) => Err(io_error(e)),
    }
}
