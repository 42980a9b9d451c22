//! Grants: each one a lot with its own expiry date, capped by the scheme's `max_balance`.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use super::{ensure_account, lock_account, post, LedgerAccount, LedgerError, NewTransaction, Posting, TxKind};
use crate::db::conn::DbConn;
use crate::db::rows::{self, LotRow};
use crate::db::schema::grant_lots;
use crate::domain::scheme::{capped_grant_cents, lot_expires_on};
use crate::domain::time::now_utc;
use crate::domain::{AccountId, Amount, FundId, LotId, SchemeId, TransactionId, WorkerId};

/// Grant years accepted: back-dated moves of existing balances, up to next year's grant.
pub const EARLIEST_GRANT_YEAR: i32 = 2000;

#[derive(Clone, Debug)]
pub struct GrantRequest {
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    /// `None`: the scheme's annual amount.
    pub amount: Option<Amount>,
    pub grant_year: i32,
    /// Only for the demo's simulated history; `None` records now.
    pub recorded_at: Option<chrono::NaiveDateTime>,
}

#[derive(Clone, Debug)]
pub struct GrantOutcome {
    pub lot_id: Option<LotId>,
    pub transaction_id: Option<TransactionId>,
    pub account_id: AccountId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub grant_year: i32,
    pub requested_cents: i64,
    pub granted_cents: i64,
    pub expires_on: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("worker {0} not found in this fund")]
    UnknownWorker(WorkerId),
    #[error("scheme {0} not found in this fund")]
    UnknownScheme(SchemeId),
    #[error("grant_year {year} is outside {EARLIEST_GRANT_YEAR}..={latest}")]
    GrantYear { year: i32, latest: i32 },
    #[error("the budget is at the scheme's max_balance: nothing of the grant fits")]
    MaxBalanceReached,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> GrantError {
        GrantError::Ledger(LedgerError::Db(e))
    }
}

/// Books one grant inside the caller's write transaction. A grant that would take
/// available + reserved past `max_balance` is reduced to what fits; one of which nothing fits
/// is `MaxBalanceReached` when `skip_when_full` is false, and an outcome with zero granted (and
/// no lot) when it is true.
pub fn grant(
    conn: &mut DbConn,
    fund_id: FundId,
    actor: &str,
    request: &GrantRequest,
    today: NaiveDate,
    skip_when_full: bool,
) -> Result<GrantOutcome, GrantError> {
    let latest = today.year() + 1;
    if !(EARLIEST_GRANT_YEAR..=latest).contains(&request.grant_year) {
        return Err(GrantError::GrantYear { year: request.grant_year, latest });
    }
    let fund = fund_id.to_string();
    if rows::find_worker(conn, &fund, &request.worker_id.to_string())?.is_none() {
        return Err(GrantError::UnknownWorker(request.worker_id));
    }
    if rows::find_scheme(conn, &fund, &request.scheme_id.to_string())?.is_none() {
        return Err(GrantError::UnknownScheme(request.scheme_id));
    }
    let year_start = NaiveDate::from_ymd_opt(request.grant_year, 1, 1).unwrap_or(today);
    let rules = rows::scheme_version_on(conn, &request.scheme_id.to_string(), year_start)?
        .ok_or(GrantError::UnknownScheme(request.scheme_id))?;
    let expires_on = lot_expires_on(request.grant_year, rules.validity_years)
        .ok_or(GrantError::GrantYear { year: request.grant_year, latest })?;
    let requested_cents = request.amount.map(Amount::cents).unwrap_or(rules.annual_amount_cents);

    let account_id = ensure_account(conn, fund_id, request.worker_id, request.scheme_id)?;
    let account = lock_account(conn, account_id)?;
    let held = account.available_cents + account.reserved_cents;
    let granted_cents = capped_grant_cents(requested_cents, held, rules.max_balance_cents);
    let mut outcome = GrantOutcome {
        lot_id: None,
        transaction_id: None,
        account_id,
        worker_id: request.worker_id,
        scheme_id: request.scheme_id,
        grant_year: request.grant_year,
        requested_cents,
        granted_cents,
        expires_on,
    };
    if granted_cents == 0 {
        return if skip_when_full { Ok(outcome) } else { Err(GrantError::MaxBalanceReached) };
    }

    let lot_id = LotId::new();
    let tx_id = TransactionId::new();
    // The lot starts empty; the grant's posting fills it, like every other lot movement.
    let lot = LotRow {
        id: lot_id.to_string(),
        fund_id: fund.clone(),
        account_id: account.id.clone(),
        transaction_id: tx_id.to_string(),
        grant_year: request.grant_year,
        amount_cents: granted_cents,
        available_cents: 0,
        reserved_cents: 0,
        expires_on,
        created_at: now_utc(),
    };
    diesel::insert_into(grant_lots::table).values(&lot).execute(conn)?;
    post(
        conn,
        &account,
        NewTransaction {
            id: tx_id,
            kind: TxKind::Grant,
            effective_date: today,
            actor: actor.to_string(),
            reverses: None,
            reference: Some(format!("lot:{lot_id}")),
            postings: vec![
                Posting::new(LedgerAccount::GrantsIssued, None, -granted_cents),
                Posting::new(LedgerAccount::Available, Some(lot_id), granted_cents),
            ],
            recorded_at: request.recorded_at,
        },
    )?;
    outcome.lot_id = Some(lot_id);
    outcome.transaction_id = Some(tx_id);
    Ok(outcome)
}
