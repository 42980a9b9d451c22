//! Review of large claims: a scheme may set `review_above`; a claim whose fund share is above it
//! is not approved at once but goes to `under_review` with its money held, so that nothing else
//! can spend it, until the back office approves (the held money is spent) or rejects (it is
//! released). The money held is the claim's own reservation (available → reserved, recorded per
//! lot in `claim_lots`) plus, with a voucher, the part of the voucher's reservation it will use:
//! the voucher stays issued but is held by the claim (no other claim may use it, it is not
//! cancelled and it does not expire) until the review ends.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::spending::{release, reserve, Booking, SpendPlan};
use super::vouchers::allocations;
use super::LedgerError;
use crate::db::conn::DbConn;
use crate::db::rows::{AccountRow, ClaimLotRow, ClaimRow, SchemeVersionRow, VoucherRow};
use crate::db::schema::{claim_lots, claims, grant_lots};
use crate::domain::status::{ClaimStatus, VoucherStatus};
use crate::domain::{ClaimId, LotId, VoucherId};

/// Whether a claim whose fund share is `payable_cents` waits for the back office's review.
pub fn needs_review(rules: &SchemeVersionRow, payable_cents: i64) -> bool {
    rules.review_above_cents.is_some_and(|above| payable_cents > above)
}

/// Holds the money of an approvable claim for review: reserves what the plan takes from
/// available money, oldest lot first. Returns the lots reserved, to record once the claim row
/// exists (`record_lots`). The voucher part of the plan stays in the voucher's reservation.
pub fn hold(conn: &mut DbConn, account: &AccountRow, plan: &SpendPlan, claim_id: ClaimId, actor: &str, today: NaiveDate) -> Result<Vec<(LotId, i64)>, LedgerError> {
    let own: i64 = plan.from_available.iter().map(|(_, c)| c).sum();
    if own == 0 {
        return Ok(Vec::new());
    }
    let booking = Booking::new(actor, today, format!("claim:{claim_id}"));
    let (_, taken) = reserve(conn, account, own, &booking)?;
    Ok(taken)
}

/// Records a review's start and the lots its claim reserved (once the claim row exists).
pub fn open(conn: &mut DbConn, claim: &ClaimRow, lots: &[(LotId, i64)], at: NaiveDateTime) -> QueryResult<()> {
    super::periods::open(conn, claim, ClaimStatus::UnderReview, at)?;
    let (claim_id, fund_id) = (claim.id, claim.fund_id);
    // One row at a time: the multi-backend connection has no batch insert (a claim reserves from
    // a few lots at most).
    for &(lot_id, amount_cents) in lots {
        diesel::insert_into(claim_lots::table).values(ClaimLotRow { claim_id, lot_id, fund_id, amount_cents }).execute(conn)?;
    }
    Ok(())
}

/// Records a review's end (the claim approved or rejected).
pub fn close(conn: &mut DbConn, claim_id: ClaimId, at: NaiveDateTime) -> Result<(), LedgerError> {
    if !super::periods::close(conn, claim_id, ClaimStatus::UnderReview, at)? {
        return Err(LedgerError::Invariant(format!("claim {claim_id} under review has no open review")));
    }
    Ok(())
}

/// The lots a claim reserved for its review, oldest expiry first.
pub fn claim_allocations(conn: &mut DbConn, claim_id: ClaimId) -> QueryResult<Vec<(LotId, i64)>> {
    let mut rows: Vec<(LotId, i64, NaiveDate)> = claim_lots::table
        .inner_join(grant_lots::table.on(grant_lots::id.eq(claim_lots::lot_id)))
        .filter(claim_lots::claim_id.eq(claim_id))
        .select((claim_lots::lot_id, claim_lots::amount_cents, grant_lots::expires_on))
        .load(conn)?;
    rows.sort_by_key(|&(lot, _, expires_on)| (expires_on, lot));
    Ok(rows.into_iter().map(|(lot, cents, _)| (lot, cents)).collect())
}

/// What approving a claim under review spends: the voucher part from the voucher's reservation
/// (the rest of the voucher released) and the claim's own reservation. Exactly what was held.
pub fn held_plan(conn: &mut DbConn, claim: &ClaimRow) -> Result<(SpendPlan, Option<VoucherRow>), LedgerError> {
    let voucher = match claim.voucher_id {
        Some(id) => {
            let voucher = super::vouchers::find_voucher(conn, claim.fund_id, id)?
                .ok_or_else(|| LedgerError::Invariant(format!("voucher {id} held by claim {} not found", claim.id)))?;
            if voucher.status != VoucherStatus::Issued {
                return Err(LedgerError::Invariant(format!("voucher {id} held by claim {} is {}", claim.id, voucher.status)));
            }
            Some(voucher)
        }
        None => None,
    };
    let own = claim_allocations(conn, claim.id)?;
    let own_cents: i64 = own.iter().map(|(_, c)| c).sum();
    let mut plan = match &voucher {
        Some(v) => SpendPlan::from_voucher(&allocations(conn, v.id)?, claim.held_cents - own_cents),
        None => SpendPlan::default(),
    };
    plan.from_reservation.extend(own);
    if plan.spent_cents() != claim.held_cents || claim.held_cents <= 0 {
        return Err(LedgerError::Invariant(format!("claim {} holds {} cents but its reservations give {}", claim.id, claim.held_cents, plan.spent_cents())));
    }
    Ok((plan, voucher))
}

/// Gives back what a rejected claim under review held: its own reservation returns to the lots
/// it came from (the voucher, no longer held, is usable again).
pub fn release_hold(conn: &mut DbConn, account: &AccountRow, claim_id: ClaimId, actor: &str, today: NaiveDate) -> Result<(), LedgerError> {
    let own = claim_allocations(conn, claim_id)?;
    if !own.is_empty() {
        release(conn, account, &own, &Booking::new(actor, today, format!("claim:{claim_id}")))?;
    }
    Ok(())
}

/// The claim under review that holds a voucher, if any.
pub fn holding_claim(conn: &mut DbConn, voucher_id: VoucherId) -> QueryResult<Option<ClaimId>> {
    claims::table
        .filter(claims::voucher_id.eq(voucher_id))
        .filter(claims::status.eq(ClaimStatus::UnderReview))
        .select(claims::id)
        .first(conn)
        .optional()
}
