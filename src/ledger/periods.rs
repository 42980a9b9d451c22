//! When a claim waited: for guidance (`awaiting_guidance`) or for the back office's review
//! (`under_review`). The monthly report counts the claims waiting at a month's end from these
//! times, which later decisions do not move (a claim's `decided_at` does). A period is opened
//! once and closed once; the database refuses anything else.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::conn::DbConn;
use crate::db::rows::ClaimRow;
use crate::db::schema::claim_periods;
use crate::domain::status::ClaimStatus;
use crate::domain::ClaimId;

/// Records that `claim` (its row written) began waiting in state `kind` at `at`.
pub fn open(conn: &mut DbConn, claim: &ClaimRow, kind: ClaimStatus, at: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(claim_periods::table)
        .values((
            claim_periods::claim_id.eq(claim.id),
            claim_periods::kind.eq(kind),
            claim_periods::fund_id.eq(claim.fund_id),
            claim_periods::opened_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records that a claim stopped waiting in state `kind` at `at`. Returns whether an open period
/// was closed (a claim that waited before periods were recorded has none).
pub fn close(conn: &mut DbConn, claim_id: ClaimId, kind: ClaimStatus, at: NaiveDateTime) -> QueryResult<bool> {
    let closed = diesel::update(
        claim_periods::table
            .filter(claim_periods::claim_id.eq(claim_id))
            .filter(claim_periods::kind.eq(kind))
            .filter(claim_periods::closed_at.is_null()),
    )
    .set(claim_periods::closed_at.eq(Some(at)))
    .execute(conn)?;
    Ok(closed == 1)
}
