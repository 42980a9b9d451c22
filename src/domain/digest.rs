//! The fund's digest: one fingerprint over the chain heads of all its budget accounts.

use sha2::{Digest, Sha256};

use super::AccountId;

/// One fingerprint over account heads: SHA-256 of `account_id:hash\n` lines sorted by account.
pub fn fund_digest(mut heads: Vec<(AccountId, String)>) -> String {
    heads.sort();
    let mut hasher = Sha256::new();
    for (account_id, hash) in &heads {
        hasher.update(account_id.to_string().as_bytes());
        hasher.update(b":");
        hasher.update(hash.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}
