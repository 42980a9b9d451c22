//! Objections to claim decisions: filed within 42 days by the employer that submitted the claim,
//! the worker, or the back office on their behalf; decided by the back office. The decision
//! moves no money: an upheld objection lets the back office approve the claim (within budget).

use chrono::NaiveDate;

use super::claims::{find_claim, ClaimError};
use super::outbox::{emit, Event};
use super::LedgerError;
use crate::db::conn::DbConn;
use crate::db::objections::{self as store, ObjectionRow};
use crate::db::rows;
use crate::domain::claims::funded_cents;
use crate::domain::events::EventType;
use crate::domain::objections::{last_day, objectionable, ObjectionStatus};
use crate::domain::status::ClaimStatus;
use crate::domain::time::{amsterdam_date, now_utc};
use crate::domain::{ClaimId, FundId, ObjectionId};
use crate::views::ObjectionView;

#[derive(Debug, thiserror::Error)]
pub enum ObjectionError {
    #[error("no such objection")]
    NotFound,
    #[error("the claim was not decided against its submitter: only a rejection or a partial approval can be objected to")]
    NotObjectionable,
    #[error("the period to object ended on {0} (42 days after the decision)")]
    TooLate(NaiveDate),
    #[error("the claim has an open objection already; wait for its decision")]
    AlreadyOpen,
    #[error("the objection was decided already")]
    Decided,
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for ObjectionError {
    fn from(e: diesel::result::Error) -> Self {
        ObjectionError::Ledger(e.into())
    }
}

fn event(conn: &mut DbConn, kind: EventType, row: &ObjectionRow) -> Result<(), LedgerError> {
    let view = ObjectionView::from(row);
    emit(conn, Event { fund: row.fund_id, kind, worker: Some(row.worker_id), employer: Some(row.employer_id), data: &view })
}

/// Files an objection to a claim's decision. `role` and `actor` say who filed it (the caller has
/// been admitted to the claim).
pub fn file(conn: &mut DbConn, fund: FundId, claim_id: ClaimId, role: &str, actor: &str, reason: &str, today: NaiveDate) -> Result<ObjectionRow, ObjectionError> {
    let claim = find_claim(conn, fund, claim_id)?.ok_or(ClaimError::NotFound)?;
    let rules = rows::scheme_version_in_fund(conn, fund, claim.scheme_id, claim.training_start.min(today))?;
    let funded = rules.map_or(claim.amount_cents, |r| funded_cents(claim.amount_cents, r.funding_pct));
    let rejected = claim.status == ClaimStatus::Rejected;
    let decided = matches!(claim.status, ClaimStatus::Rejected | ClaimStatus::Approved | ClaimStatus::Paid);
    let Some(decided_at) = claim.decided_at.filter(|_| decided && objectionable(rejected, claim.approved_cents, funded)) else {
        return Err(ObjectionError::NotObjectionable);
    };
    let deadline = last_day(amsterdam_date(decided_at));
    if today > deadline {
        return Err(ObjectionError::TooLate(deadline));
    }
    let row = ObjectionRow {
        id: ObjectionId::new(),
        fund_id: fund,
        claim_id,
        worker_id: claim.worker_id,
        employer_id: claim.employer_id,
        filed_by_role: role.to_string(),
        filed_by: actor.to_string(),
        reason: reason.to_string(),
        status: ObjectionStatus::Open,
        filed_at: now_utc(),
        decided_at: None,
        decided_by: None,
        motivation: None,
    };
    if store::insert(conn, &row)? == crate::db::queries::Inserted::Duplicate {
        return Err(ObjectionError::AlreadyOpen);
    }
    event(conn, EventType::ObjectionFiled, &row)?;
    Ok(row)
}

/// Decides an open objection, once (a second decision, also one at the same moment, is refused).
pub fn decide(conn: &mut DbConn, fund: FundId, id: ObjectionId, upheld: bool, motivation: &str, actor: &str) -> Result<ObjectionRow, ObjectionError> {
    let row = store::find(conn, fund, id)?.ok_or(ObjectionError::NotFound)?;
    let status = if upheld { ObjectionStatus::Upheld } else { ObjectionStatus::Dismissed };
    let now = now_utc();
    if !store::decide(conn, id, status, actor, motivation, now)? {
        return Err(ObjectionError::Decided);
    }
    let decided = ObjectionRow { status, decided_at: Some(now), decided_by: Some(actor.to_string()), motivation: Some(motivation.to_string()), ..row };
    event(conn, EventType::ObjectionDecided, &decided)?;
    Ok(decided)
}
