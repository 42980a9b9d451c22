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
