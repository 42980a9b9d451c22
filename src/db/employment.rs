//! Employment history and the writes of reference data that change (an employment change, an
//! employer's corrections, a worker's report facts). Not money: no ledger rows are touched.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::rows::{EmployerRow, WorkerRow};
use super::schema::{employers, employments, workers};
use crate::domain::{EmployerId, FundId, WorkerId};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = employments)]
pub struct EmploymentRow {
    pub worker_id: WorkerId,
    pub valid_from: NaiveDate,
    pub fund_id: FundId,
    pub employer_id: EmployerId,
    pub valid_until: Option<NaiveDate>,
    pub recorded_at: NaiveDateTime,
}

/// The worker, locked for the rest of the write transaction: on PostgreSQL a no-op update takes
/// the row lock, so two changes to one worker's employment run one after the other; on SQLite the
/// write transaction holds the lock already. `None` if the fund has no such worker.
pub fn lock_worker(conn: &mut DbConn, fund: FundId, worker: WorkerId) -> QueryResult<Option<WorkerRow>> {
    crate::on_backend!(conn, |c| diesel::update(workers::table.filter(workers::fund_id.eq(fund)).filter(workers::id.eq(worker)))
        .set(workers::employer_id.eq(workers::employer_id))
        .returning(WorkerRow::as_returning())
        .get_result(c)
        .optional())
}

/// The open period of a worker (the one without an end).
pub fn current_period(conn: &mut DbConn, worker: WorkerId) -> QueryResult<Option<EmploymentRow>> {
    employments::table
        .filter(employments::worker_id.eq(worker))
        .filter(employments::valid_until.is_null())
        .select(EmploymentRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_period(conn: &mut DbConn, row: &EmploymentRow) -> QueryResult<()> {
    insert_periods(conn, std::slice::from_ref(row))
}

pub fn insert_periods(conn: &mut DbConn, rows: &[EmploymentRow]) -> QueryResult<()> {
    for chunk in rows.chunks(super::ledger_statements::INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(employments::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Ends the open period of `worker` on `until` (inclusive).
pub fn close_period(conn: &mut DbConn, worker: WorkerId, until: NaiveDate) -> QueryResult<()> {
    diesel::update(employments::table.filter(employments::worker_id.eq(worker)).filter(employments::valid_until.is_null()))
        .set(employments::valid_until.eq(Some(until)))
        .execute(conn)
        .map(|_| ())
}

/// Gives the open period of `worker` another employer (a change from that period's first day).
pub fn replace_current_employer(conn: &mut DbConn, worker: WorkerId, employer: EmployerId) -> QueryResult<()> {
    diesel::update(employments::table.filter(employments::worker_id.eq(worker)).filter(employments::valid_until.is_null()))
        .set(employments::employer_id.eq(employer))
        .execute(conn)
        .map(|_| ())
}

/// Keeps `workers.employer_id` (who reads the worker today) in step with the open period.
pub fn set_worker_employer(conn: &mut DbConn, worker: WorkerId, employer: EmployerId) -> QueryResult<()> {
    diesel::update(workers::table.find(worker)).set(workers::employer_id.eq(employer)).execute(conn).map(|_| ())
}

/// A worker's report facts, as an import corrects them.
pub fn set_worker_facts(conn: &mut DbConn, worker: WorkerId, birth_year: Option<i32>, education_level: Option<&str>) -> QueryResult<()> {
    diesel::update(workers::table.find(worker))
        .set((workers::birth_year.eq(birth_year), workers::education_level.eq(education_level)))
        .execute(conn)
        .map(|_| ())
}

/// The employment history of each of `workers`, oldest period first.
pub fn histories(conn: &mut DbConn, fund: FundId, of: &[WorkerId]) -> QueryResult<Vec<EmploymentRow>> {
    let mut rows = Vec::new();
    for chunk in of.chunks(super::ledger_statements::INSERT_CHUNK_ROWS) {
        rows.extend(
            employments::table
                .filter(employments::fund_id.eq(fund))
                .filter(employments::worker_id.eq_any(chunk))
                .order((employments::worker_id, employments::valid_from))
                .select(EmploymentRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// What may change of an employer after it is registered; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct EmployerChanges {
    pub name: Option<String>,
    pub sector: Option<String>,
    /// `Some(None)` removes the IBAN.
    pub iban: Option<Option<String>>,
}

/// Applies `changes` and answers the employer as it is after them; `None` if there is no such
/// employer in the fund.
pub fn update_employer(conn: &mut DbConn, fund: FundId, employer: EmployerId, changes: EmployerChanges) -> QueryResult<Option<EmployerRow>> {
    let target = employers::table.filter(employers::fund_id.eq(fund)).filter(employers::id.eq(employer));
    let name = changes.name.map(|v| employers::name.eq(v));
    let sector = changes.sector.map(|v| employers::sector.eq(v));
    let iban = changes.iban.map(|v| employers::iban.eq(v));
    if name.is_none() && sector.is_none() && iban.is_none() {
        return target.select(EmployerRow::as_select()).first(conn).optional();
    }
    crate::on_backend!(conn, |c| diesel::update(target)
        .set((name.clone(), sector.clone(), iban.clone()))
        .returning(EmployerRow::as_returning())
        .get_result(c)
        .optional())
}
