//! Reserving, releasing and spending budget: the postings of vouchers and claims, all
//! oldest lot first.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{post, LedgerAccount, LedgerError, NewTransaction, Posting, TxKind};
use crate::db::conn::DbConn;
use crate::db::rows::{self, AccountRow, PostingRow, TransactionRow};
use crate::db::schema::ledger_postings;
use crate::domain::lots::{take_fifo, LotBalance};
use crate::domain::{AccountId, LotId, TransactionId};

/// Who and when, for the entries a movement writes.
#[derive(Clone, Debug)]
pub struct Booking {
    pub id: TransactionId,
    pub actor: String,
    pub effective_date: NaiveDate,
    pub reference: String,
    /// Only for the demo's simulated history; `None` records now.
    pub recorded_at: Option<chrono::NaiveDateTime>,
}

impl Booking {
    pub fn new(actor: &str, effective_date: NaiveDate, reference: String) -> Booking {
        Booking { id: TransactionId::new(), actor: actor.to_string(), effective_date, reference, recorded_at: None }
    }

    fn transaction(&self, kind: TxKind, postings: Vec<Posting>) -> NewTransaction {
        NewTransaction {
            id: self.id,
            kind,
            effective_date: self.effective_date,
            actor: self.actor.clone(),
            reverses: None,
            reference: Some(self.reference.clone()),
            postings,
            recorded_at: self.recorded_at,
        }
    }
}

/// The available money of an account's lots, as the FIFO rule sees it.
pub fn lot_balances(conn: &mut DbConn, account_id: AccountId) -> QueryResult<Vec<LotBalance>> {
    Ok(rows::lots_of_account(conn, account_id)?
        .into_iter()
        .map(|l| LotBalance { id: l.id, expires_on: l.expires_on, available_cents: l.available_cents })
        .collect())
}

/// Moves `amount_cents` from available to reserved, oldest usable lot first. Returns the
/// transaction and how much each lot reserved.
pub fn reserve(
    conn: &mut DbConn,
    account: &AccountRow,
    amount_cents: i64,
    booking: &Booking,
) -> Result<(TransactionRow, Vec<(LotId, i64)>), LedgerError> {
    let lots = lot_balances(conn, account.id)?;
    let taken = take_fifo(&lots, amount_cents, booking.effective_date)
        .map_err(|usable_cents| LedgerError::InsufficientBudget { usable_cents })?;
    let tx = post(conn, account, booking.transaction(TxKind::Reserve, reserve_postings(&taken)))?;
    Ok((tx, taken))
}

/// Moves reserved money back to available, to the lots it came from.
pub fn release(
    conn: &mut DbConn,
    account: &AccountRow,
    allocations: &[(LotId, i64)],
    booking: &Booking,
) -> Result<TransactionRow, LedgerError> {
    post(conn, account, booking.transaction(TxKind::Release, release_postings(allocations)))
}

/// The postings of a reservation: per lot, available → reserved.
pub fn reserve_postings(taken: &[(LotId, i64)]) -> Vec<Posting> {
    let mut postings = Vec::with_capacity(taken.len() * 2);
    for (lot, cents) in taken {
        postings.push(Posting::new(LedgerAccount::Available, Some(*lot), -cents));
        postings.push(Posting::new(LedgerAccount::Reserved, Some(*lot), *cents));
    }
    postings
}

/// The postings of a release: per lot, reserved → available.
pub fn release_postings(allocations: &[(LotId, i64)]) -> Vec<Posting> {
    let mut postings = Vec::with_capacity(allocations.len() * 2);
    for (lot, cents) in allocations.iter().filter(|(_, c)| *c > 0) {
        postings.push(Posting::new(LedgerAccount::Reserved, Some(*lot), -cents));
        postings.push(Posting::new(LedgerAccount::Available, Some(*lot), *cents));
    }
    postings
}

/// What a spend takes: from a voucher's reservation (per lot), what it releases of the
/// reservation, and from available money (per lot).
#[derive(Clone, Debug, Default)]
pub struct SpendPlan {
    pub from_reservation: Vec<(LotId, i64)>,
    pub released: Vec<(LotId, i64)>,
    pub from_available: Vec<(LotId, i64)>,
}

impl SpendPlan {
    /// The postings of the spend: reserved/available → spent, plus the release of what a
    /// voucher did not use.
    pub fn postings(&self) -> Vec<Posting> {
        let mut postings = Vec::new();
        for (lot, cents) in &self.from_reservation {
            postings.push(Posting::new(LedgerAccount::Reserved, Some(*lot), -cents));
        }
        for (lot, cents) in &self.from_available {
            postings.push(Posting::new(LedgerAccount::Available, Some(*lot), -cents));
        }
        postings.push(Posting::new(LedgerAccount::Spent, None, self.spent_cents()));
        for (lot, cents) in &self.released {
            postings.push(Posting::new(LedgerAccount::Reserved, Some(*lot), -cents));
            postings.push(Posting::new(LedgerAccount::Available, Some(*lot), *cents));
        }
        postings
    }

    pub fn spent_cents(&self) -> i64 {
        self.from_reservation.iter().chain(&self.from_available).map(|(_, c)| c).sum()
    }

    /// Splits a voucher's reservation: the first `spend_cents` (oldest lot first) are spent,
    /// the rest is released.
    pub fn from_voucher(allocations: &[(LotId, i64)], spend_cents: i64) -> SpendPlan {
        let mut plan = SpendPlan::default();
        let mut to_spend = spend_cents;
        for (lot, cents) in allocations {
            let spend = (*cents).min(to_spend);
            to_spend -= spend;
            if spend > 0 {
                plan.from_reservation.push((*lot, spend));
            }
            if cents - spend > 0 {
                plan.released.push((*lot, cents - spend));
            }
        }
        plan
    }
}

/// Books a spend: one transaction, reserved/available → spent, plus the release of what a
/// voucher did not use.
pub fn spend(conn: &mut DbConn, account: &AccountRow, plan: &SpendPlan, booking: &Booking) -> Result<TransactionRow, LedgerError> {
    post(conn, account, booking.transaction(TxKind::Spend, plan.postings()))
}

/// Reverses a spend: what each lot gave is returned to that lot's available money (a used
/// voucher is not re-reserved), and the spent account is debited. Linked by `reverses`.
pub fn reverse_spend(
    conn: &mut DbConn,
    account: &AccountRow,
    spend_tx_id: TransactionId,
    booking: &Booking,
) -> Result<TransactionRow, LedgerError> {
    let original: Vec<PostingRow> = ledger_postings::table
        .filter(ledger_postings::transaction_id.eq(spend_tx_id))
        .order(ledger_postings::line.asc())
        .select(PostingRow::as_select())
        .load(conn)?;
    let mut tx = booking.transaction(TxKind::Reversal, reversal_postings(spend_tx_id, &original)?);
    tx.reverses = Some(spend_tx_id);
    post(conn, account, tx)
}

/// The postings that mirror a spend (its postings in line order): what each lot gave goes back
/// to that lot's available money (a used voucher is not re-reserved), the spent account is
/// debited.
pub fn reversal_postings(spend_tx_id: TransactionId, original: &[PostingRow]) -> Result<Vec<Posting>, LedgerError> {
    // Per lot, the net money that left it in the spend (a release inside it nets out).
    let mut given: Vec<(LotId, i64)> = Vec::new();
    for p in original.iter().filter(|p| p.account.is_budget_level()) {
        let Some(lot) = p.lot_id else { continue };
        match given.iter_mut().find(|(l, _)| *l == lot) {
            Some((_, cents)) => *cents -= p.amount_cents,
            None => given.push((lot, -p.amount_cents)),
        }
    }
    let total: i64 = given.iter().map(|(_, c)| c).sum();
    let spent: i64 = original.iter().filter(|p| p.account == LedgerAccount::Spent).map(|p| p.amount_cents).sum();
    if total != spent || total <= 0 {
        return Err(LedgerError::Invariant(format!("spend {spend_tx_id} gave {total} from lots but spent {spent}")));
    }
    let mut postings = vec![Posting::new(LedgerAccount::Spent, None, -total)];
    for (lot, cents) in given.iter().filter(|(_, c)| *c > 0) {
        postings.push(Posting::new(LedgerAccount::Available, Some(*lot), *cents));
    }
    Ok(postings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voucher_spends_oldest_lots_and_releases_the_rest() {
        let (a, b) = (LotId::new(), LotId::new());
        let plan = SpendPlan::from_voucher(&[(a, 300), (b, 200)], 400);
        assert_eq!(plan.from_reservation, vec![(a, 300), (b, 100)]);
        assert_eq!(plan.released, vec![(b, 100)]);
        assert_eq!(plan.spent_cents(), 400);
    }
}
