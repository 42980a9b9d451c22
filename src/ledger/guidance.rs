//! The guidance rule: above a scheme's threshold, money moves only for a worker who had a
//! coaching session within the scheme's window. Recording a session is `ledger::coaching`.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::conn::DbConn;
use crate::db::rows::SchemeVersionRow;
use crate::db::schema::coaching_sessions;
use crate::domain::WorkerId;

/// Whether an amount needs guidance under these rules.
pub fn required(rules: &SchemeVersionRow, amount_cents: i64) -> bool {
    rules.guidance_required_above_cents.is_some_and(|threshold| amount_cents > threshold)
}

/// The first day a session counts for a decision on `today`.
pub fn window_start(rules: &SchemeVersionRow, today: NaiveDate) -> NaiveDate {
    u64::try_from(rules.guidance_window_days)
        .ok()
        .and_then(|days| today.checked_sub_days(chrono::Days::new(days)))
        .unwrap_or(NaiveDate::MIN)
}

pub fn has_session_between(conn: &mut DbConn, worker_id: WorkerId, from: NaiveDate, to: NaiveDate) -> QueryResult<bool> {
    let count: i64 = coaching_sessions::table
        .filter(coaching_sessions::worker_id.eq(worker_id))
        .filter(coaching_sessions::held_on.ge(from))
        .filter(coaching_sessions::held_on.le(to))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Whether the rule lets `amount_cents` move for this worker today.
pub fn met(conn: &mut DbConn, worker_id: WorkerId, rules: &SchemeVersionRow, amount_cents: i64, today: NaiveDate) -> QueryResult<bool> {
    if !required(rules, amount_cents) {
        return Ok(true);
    }
    has_session_between(conn, worker_id, window_start(rules, today), today)
}

/// Whether the worker had a session within the window of these rules (regardless of amount).
pub fn in_window(conn: &mut DbConn, worker_id: WorkerId, rules: &SchemeVersionRow, today: NaiveDate) -> QueryResult<bool> {
    has_session_between(conn, worker_id, window_start(rules, today), today)
}

pub fn last_session_on(conn: &mut DbConn, worker_id: WorkerId) -> QueryResult<Option<NaiveDate>> {
    coaching_sessions::table
        .filter(coaching_sessions::worker_id.eq(worker_id))
        .select(diesel::dsl::max(coaching_sessions::held_on))
        .first(conn)
}

/// Records that a claim began waiting for guidance (its row exists), for the monthly report.
pub fn wait_opened(conn: &mut DbConn, claim: &crate::db::rows::ClaimRow) -> QueryResult<()> {
    use crate::db::schema::claim_waits;
    diesel::insert_into(claim_waits::table)
        .values((claim_waits::claim_id.eq(claim.id), claim_waits::fund_id.eq(claim.fund_id), claim_waits::opened_at.eq(claim.submitted_at)))
        .execute(conn)?;
    Ok(())
}

/// Records that a claim stopped waiting (approved, sent to review or rejected) at `at`. A claim
/// that waited before this was recorded (older data) has no wait to close.
pub fn wait_closed(conn: &mut DbConn, claim_id: crate::domain::ClaimId, at: chrono::NaiveDateTime) -> QueryResult<()> {
    use crate::db::schema::claim_waits;
    diesel::update(claim_waits::table.filter(claim_waits::claim_id.eq(claim_id)).filter(claim_waits::closed_at.is_null()))
        .set(claim_waits::closed_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}
