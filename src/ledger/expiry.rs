//! Expiry runs: vouchers past `valid_until` release their reservation, and money of lots past
//! their `expires_on` lapses (available → expired). Running it again for the same date finds
//! nothing left to do.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::spending::Booking;
use super::vouchers::{close, VoucherError};
use super::{lock_account, post, LedgerAccount, LedgerError, NewTransaction, Posting, TxKind};
use crate::domain::events::EventType;
use crate::domain::status::{ClaimStatus, VoucherStatus};
use crate::views::LapsedLotView;
use super::write_tx;
use crate::db::conn::DbConn;
use crate::db::rows::LotRow;
use crate::db::schema::{claims, grant_lots, vouchers};
use crate::domain::{AccountId, FundId, LotId, TransactionId, VoucherId};

/// Accounts lapsed per database transaction: large enough to amortise the commit, small
/// enough to keep locks short.
pub const EXPIRY_ACCOUNTS_PER_TRANSACTION: usize = 200;

#[derive(Debug, Default, Clone, Serialize)]
pub struct ExpiryOutcome {
    pub vouchers_expired: usize,
    pub released_cents: i64,
    pub accounts_lapsed: usize,
    pub lots_lapsed: usize,
    pub lapsed_cents: i64,
}

/// Runs the expiry of one fund as of `as_of`. `progress` is told how many accounts are done.
pub fn run_expiry(
    conn: &mut DbConn,
    fund_id: FundId,
    actor: &str,
    as_of: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExpiryOutcome, VoucherError> {
    let mut outcome = ExpiryOutcome::default();
    // Vouchers first: what they release from a lapsed lot lapses in this same run.
    let due: Vec<(VoucherId, i64)> = vouchers::table
        .filter(vouchers::fund_id.eq(fund_id))
        .filter(vouchers::status.eq(VoucherStatus::Issued))
        .filter(vouchers::valid_until.lt(as_of))
        // A voucher held by a claim under review waits for the review's end.
        .filter(diesel::dsl::not(diesel::dsl::exists(
            claims::table.filter(claims::voucher_id.eq(vouchers::id.nullable())).filter(claims::status.eq(ClaimStatus::UnderReview)),
        )))
        .select((vouchers::id, vouchers::amount_cents))
        .load(conn)?;
    for (voucher_id, cents) in due {
        let closed = write_tx(conn, |conn| close(conn, fund_id, voucher_id, actor, as_of, VoucherStatus::Expired));
        match closed {
            Ok(_) => {
                outcome.vouchers_expired += 1;
                outcome.released_cents += cents;
            }
            // Redeemed or cancelled meanwhile: nothing to expire; held by a claim that went
            // under review meanwhile: it waits for the review's end.
            Err(VoucherError::NotIssued(_) | VoucherError::HeldByClaim(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let accounts: Vec<AccountId> = grant_lots::table
        .filter(grant_lots::fund_id.eq(fund_id))
        .filter(grant_lots::expires_on.lt(as_of))
        .filter(grant_lots::available_cents.gt(0))
        .select(grant_lots::account_id)
        .distinct()
        .order(grant_lots::account_id.asc())
        .load(conn)?;
    let total = accounts.len();
    for (done, chunk) in accounts.chunks(EXPIRY_ACCOUNTS_PER_TRANSACTION).enumerate() {
        let lapsed = write_tx(conn, |conn| {
            let mut lapsed = Vec::new();
            for account in chunk {
                lapsed.push(lapse_account(conn, *account, actor, as_of)?);
            }
            Ok::<_, LedgerError>(lapsed)
        })?;
        for (lots, cents) in lapsed.into_iter().filter(|(lots, _)| *lots > 0) {
            outcome.accounts_lapsed += 1;
            outcome.lots_lapsed += lots;
            outcome.lapsed_cents += cents;
        }
        progress((done * EXPIRY_ACCOUNTS_PER_TRANSACTION + chunk.len()).min(total), total);
    }
    Ok(outcome)
}

/// The postings that lapse the available money of `due` lots (available → expired, one
/// posting per lot in lot order), and how much each lot lapses.
pub(crate) fn lapse_postings(due: &[LotRow]) -> (Vec<Posting>, BTreeMap<LotId, i64>) {
    let mut per_lot: BTreeMap<LotId, i64> = BTreeMap::new();
    for lot in due {
        *per_lot.entry(lot.id).or_default() += lot.available_cents;
    }
    let total: i64 = per_lot.values().sum();
    let mut postings: Vec<Posting> = per_lot.iter().map(|(lot, cents)| Posting::new(LedgerAccount::Available, Some(*lot), -cents)).collect();
    postings.push(Posting::new(LedgerAccount::Expired, None, total));
    (postings, per_lot)
}

/// Lapses the available money of an account's lots that expired before `as_of`, in one
/// transaction with a posting per lot. Returns (lots, cents) lapsed.
pub(crate) fn lapse_account(conn: &mut DbConn, account_id: AccountId, actor: &str, as_of: NaiveDate) -> Result<(usize, i64), LedgerError> {
    let account = lock_account(conn, account_id)?;
    let due: Vec<LotRow> = grant_lots::table
        .filter(grant_lots::account_id.eq(account.id))
        .filter(grant_lots::expires_on.lt(as_of))
        .filter(grant_lots::available_cents.gt(0))
        .order((grant_lots::expires_on.asc(), grant_lots::id.asc()))
        .select(LotRow::as_select())
        .load(conn)?;
    if due.is_empty() {
        return Ok((0, 0));
    }
    let (postings, per_lot) = lapse_postings(&due);
    let total = per_lot.values().sum();
    let booking = Booking::new(actor, as_of, format!("expiry:{as_of}"));
    post(
        conn,
        &account,
        NewTransaction {
            id: TransactionId::new(),
            kind: TxKind::Lapse,
            effective_date: booking.effective_date,
            actor: booking.actor,
            reverses: None,
            reference: Some(booking.reference),
            postings,
            recorded_at: None,
        },
    )?;
    let employer = super::outbox::employer_of(conn, account.fund_id, account.worker_id)?;
    let views: Vec<LapsedLotView> = due
        .iter()
        .map(|lot| LapsedLotView {
            lot_id: lot.id,
            account_id: account.id,
            worker_id: account.worker_id,
            scheme_id: account.scheme_id,
            grant_year: lot.grant_year,
            lapsed: crate::domain::format_cents(lot.available_cents),
            expires_on: lot.expires_on,
        })
        .collect();
    let events = views.iter().map(|view| super::outbox::Event {
        fund: account.fund_id,
        kind: EventType::LotLapsed,
        worker: Some(account.worker_id),
        employer,
        data: view,
    });
    super::outbox::emit_all(conn, events)?;
    Ok((per_lot.len(), total))
}
