//! `POST .../expiry-runs`: lapse what is due as of a date.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::Role;
use super::common::{run, FundPath};
use super::error::ApiError;
use super::money_post::MoneyPost;
use crate::domain::time::iso_date;
use super::idempotency::Stored;
use crate::db::idempotency::purge_expired_keys;
use crate::db::Pool;
use crate::domain::{format_cents, FieldError, FundId};
use crate::ledger::expiry::run_expiry;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExpiryRun {
    #[serde(deserialize_with = "iso_date::required")]
    pub as_of: NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct ExpiryRunView {
    pub fund_id: FundId,
    pub as_of: NaiveDate,
    pub vouchers_expired: usize,
    pub released: String,
    pub accounts_lapsed: usize,
    pub lots_lapsed: usize,
    pub lapsed: String,
}

/// Runs an expiry for a fund. `as_of` may not be in the future: a lot is usable through its
/// `expires_on`, and lapsing it early would take money a worker may still spend. The run is
/// several database transactions (vouchers, then batches of accounts); an interrupted run is
/// completed by running it again. With an `Idempotency-Key`, a retry replays the first result.
pub async fn create_expiry_run(post: MoneyPost, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let input: NewExpiryRun = post.parse()?;
    if input.as_of > post.today {
        return Err(FieldError::new("as_of", format!("must not be after today ({})", post.today)).into());
    }
    let (owner, key, hash) = post.key_parts();
    let actor = post.caller.sub.clone();
    let stored = run(&pool, move |conn| {
        // The run spans many transactions, so the key is checked and stored around it.
        let scope = super::idempotency::Scope { fund, caller: &owner, key: key.as_deref(), request_hash: &hash };
        if let Some(replay) = super::idempotency::replay_only(conn, &scope)? {
            return Ok(replay);
        }
        purge_expired_keys(conn)?;
        let outcome = run_expiry(conn, fund, &actor, input.as_of, &mut |_, _| {})?;
        let view = ExpiryRunView {
            fund_id: fund,
            as_of: input.as_of,
            vouchers_expired: outcome.vouchers_expired,
            released: format_cents(outcome.released_cents),
            accounts_lapsed: outcome.accounts_lapsed,
            lots_lapsed: outcome.lots_lapsed,
            lapsed: format_cents(outcome.lapsed_cents),
        };
        let stored = Stored::new(StatusCode::CREATED, view)?;
        super::idempotency::remember(conn, &scope, &stored)?;
        Ok(stored)
    })
    .await?;
    Ok(stored.into_response())
}
