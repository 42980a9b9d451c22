//! The queries of the reference data and the lists: what the HTTP layer asks of storage, so that
//! it never touches a table itself. Money is written only by `crate::ledger`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::{is_unique_violation, DbConn};
use crate::domain::status::{ClaimStatus, VoucherStatus};
use crate::domain::{EmployerId, FundId, SessionId, WorkerId};
use super::rows::{ClaimRow, EmployerRow, FundRow, PageQuery, SchemeRow, SchemeVersionRow, SessionRow, VoucherRow, WorkerRow};
use super::schema::{claims, coaching_sessions, employers, funds, scheme_versions, schemes, vouchers, workers};

/// What an insert of a row with a unique key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    Done,
    /// A row with the same unique key exists already; nothing was written.
    Duplicate,
}

/// What an insert did, telling a unique-key collision from a failure. Run the insert inside a
/// savepoint (`conn.transaction`) when the caller's transaction must stay usable after one.
pub fn inserted(result: QueryResult<usize>) -> QueryResult<Inserted> {
    match result {
        Ok(_) => Ok(Inserted::Done),
        Err(e) if is_unique_violation(&e) => Ok(Inserted::Duplicate),
        Err(e) => Err(e),
    }
}

pub fn insert_fund(conn: &mut DbConn, row: &FundRow) -> QueryResult<Inserted> {
    inserted(diesel::insert_into(funds::table).values(row).execute(conn))
}

/// The fund with this code (codes are kept in lower case).
pub fn fund_id_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<FundId>> {
    funds::table.filter(funds::code.eq(code)).select(funds::id).first(conn).optional()
}

/// The fund's scheme with this code.
pub fn scheme_id_by_code(conn: &mut DbConn, fund: FundId, code: &str) -> QueryResult<Option<crate::domain::SchemeId>> {
    schemes::table.filter(schemes::fund_id.eq(fund)).filter(schemes::code.eq(code)).select(schemes::id).first(conn).optional()
}

/// Every fund's id, oldest first: what the CLI's fund-wide commands run over.
pub fn all_fund_ids(conn: &mut DbConn) -> QueryResult<Vec<FundId>> {
    funds::table.select(funds::id).order(funds::id.asc()).load(conn)
}

/// Inside a savepoint, so that a duplicate KvK number leaves the caller's transaction usable.
pub fn insert_employer(conn: &mut DbConn, row: &EmployerRow) -> QueryResult<Inserted> {
    inserted(conn.transaction(|conn| diesel::insert_into(employers::table).values(row).execute(conn)))
}

/// Inside a savepoint, so that a duplicate participant number leaves the caller's transaction
/// usable (to look up the worker that has it).
pub fn insert_worker(conn: &mut DbConn, row: &WorkerRow) -> QueryResult<Inserted> {
    inserted(conn.transaction(|conn| diesel::insert_into(workers::table).values(row).execute(conn)))
}

/// Many new workers at once (an import), in chunks; the caller has checked their keys are free.
pub fn insert_workers(conn: &mut DbConn, rows: &[WorkerRow]) -> QueryResult<()> {
    for chunk in rows.chunks(super::ledger_statements::INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(workers::table).values(chunk).execute(c))?;
    }
    Ok(())
}

pub fn worker_by_participant_number(conn: &mut DbConn, fund: FundId, number: &str) -> QueryResult<Option<WorkerRow>> {
    workers::table
        .filter(workers::fund_id.eq(fund))
        .filter(workers::participant_number.eq(number))
        .select(WorkerRow::as_select())
        .first(conn)
        .optional()
}

/// The workers of a fund with these participant numbers (an import's existing ones).
pub fn workers_by_participant_numbers(conn: &mut DbConn, fund: FundId, numbers: &[&str]) -> QueryResult<Vec<WorkerRow>> {
    let mut rows = Vec::new();
    for chunk in numbers.chunks(super::ledger_statements::INSERT_CHUNK_ROWS) {
        rows.extend(
            workers::table
                .filter(workers::fund_id.eq(fund))
                .filter(workers::participant_number.eq_any(chunk))
                .select(WorkerRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

pub fn employer_by_kvk_number(conn: &mut DbConn, fund: FundId, kvk: &str) -> QueryResult<Option<EmployerRow>> {
    employers::table
        .filter(employers::fund_id.eq(fund))
        .filter(employers::kvk_number.eq(kvk))
        .select(EmployerRow::as_select())
        .first(conn)
        .optional()
}

/// Every employer of a fund: an import resolves KvK numbers and ids against them.
pub fn employers_of_fund(conn: &mut DbConn, fund: FundId) -> QueryResult<Vec<EmployerRow>> {
    employers::table.filter(employers::fund_id.eq(fund)).select(EmployerRow::as_select()).load(conn)
}

/// Inside a savepoint, so that a duplicate code leaves the caller's transaction usable.
pub fn insert_scheme(conn: &mut DbConn, row: &SchemeRow) -> QueryResult<Inserted> {
    inserted(conn.transaction(|conn| diesel::insert_into(schemes::table).values(row).execute(conn)))
}

pub fn insert_scheme_version(conn: &mut DbConn, row: &SchemeVersionRow) -> QueryResult<()> {
    diesel::insert_into(scheme_versions::table).values(row).execute(conn).map(|_| ())
}

pub fn workers_by_id(conn: &mut DbConn, ids: &[WorkerId]) -> QueryResult<Vec<WorkerRow>> {
    workers::table.filter(workers::id.eq_any(ids)).select(WorkerRow::as_select()).load(conn)
}

/// Which claims a list shows, beside its fund and page.
#[derive(Debug, Default, Clone)]
pub struct ClaimFilter {
    pub worker_id: Option<WorkerId>,
    pub employer_id: Option<EmployerId>,
    pub status: Option<ClaimStatus>,
    /// Submitted at or after this instant.
    pub submitted_from: Option<NaiveDateTime>,
    /// Submitted before this instant.
    pub submitted_before: Option<NaiveDateTime>,
    pub invoice_reference: Option<String>,
}

/// A page of a fund's claims, newest first.
pub fn list_claims(conn: &mut DbConn, fund_id: FundId, filter: &ClaimFilter, page: &PageQuery) -> QueryResult<Vec<ClaimRow>> {
    let mut q = claims::table.filter(claims::fund_id.eq(fund_id)).select(ClaimRow::as_select()).into_boxed();
    if let Some(worker) = filter.worker_id {
        q = q.filter(claims::worker_id.eq(worker));
    }
    if let Some(employer) = filter.employer_id {
        q = q.filter(claims::employer_id.eq(employer));
    }
    if let Some(status) = filter.status {
        q = q.filter(claims::status.eq(status));
    }
    if let Some(from) = filter.submitted_from {
        q = q.filter(claims::submitted_at.ge(from));
    }
    if let Some(before) = filter.submitted_before {
        q = q.filter(claims::submitted_at.lt(before));
    }
    if let Some(invoice) = &filter.invoice_reference {
        q = q.filter(claims::invoice_reference.eq(invoice.clone()));
    }
    if let Some(after) = &page.after {
        q = q.filter(claims::id.lt(after.clone()));
    }
    q.order(claims::id.desc()).limit(page.limit).load(conn)
}

/// Which vouchers a list shows, beside its fund and page.
#[derive(Debug, Default, Clone)]
pub struct VoucherFilter {
    pub worker_id: Option<WorkerId>,
    /// Only vouchers of workers this employer employs.
    pub employer_id: Option<EmployerId>,
    pub status: Option<VoucherStatus>,
}

/// A page of a fund's vouchers, newest first.
pub fn list_vouchers(conn: &mut DbConn, fund_id: FundId, filter: &VoucherFilter, page: &PageQuery) -> QueryResult<Vec<VoucherRow>> {
    let mut q = vouchers::table.filter(vouchers::fund_id.eq(fund_id)).select(VoucherRow::as_select()).into_boxed();
    if let Some(worker) = filter.worker_id {
        q = q.filter(vouchers::worker_id.eq(worker));
    }
    if let Some(employer) = filter.employer_id {
        q = q.filter(vouchers::worker_id.eq_any(workers::table.filter(workers::employer_id.eq(employer)).select(workers::id)));
    }
    if let Some(status) = filter.status {
        q = q.filter(vouchers::status.eq(status));
    }
    if let Some(after) = &page.after {
        q = q.filter(vouchers::id.lt(after.clone()));
    }
    q.order(vouchers::id.desc()).limit(page.limit).load(conn)
}

/// A worker's vouchers that are still issued, newest first.
pub fn open_vouchers_of_worker(conn: &mut DbConn, worker_id: WorkerId) -> QueryResult<Vec<VoucherRow>> {
    vouchers::table
        .filter(vouchers::worker_id.eq(worker_id))
        .filter(vouchers::status.eq(VoucherStatus::Issued))
        .order(vouchers::id.desc())
        .select(VoucherRow::as_select())
        .load(conn)
}

/// A worker's latest claims, newest first.
pub fn recent_claims_of_worker(conn: &mut DbConn, worker_id: WorkerId, limit: i64) -> QueryResult<Vec<ClaimRow>> {
    claims::table
        .filter(claims::worker_id.eq(worker_id))
        .order(claims::id.desc())
        .limit(limit)
        .select(ClaimRow::as_select())
        .load(conn)
}

/// A page of a fund's coaching sessions, newest first.
pub fn list_sessions(conn: &mut DbConn, fund_id: FundId, worker_id: Option<WorkerId>, page: &PageQuery) -> QueryResult<Vec<SessionRow>> {
    let mut q = coaching_sessions::table.filter(coaching_sessions::fund_id.eq(fund_id)).select(SessionRow::as_select()).into_boxed();
    if let Some(worker) = worker_id {
        q = q.filter(coaching_sessions::worker_id.eq(worker));
    }
    if let Some(after) = &page.after {
        q = q.filter(coaching_sessions::id.lt(after.clone()));
    }
    q.order(coaching_sessions::id.desc()).limit(page.limit).load(conn)
}

pub fn find_session(conn: &mut DbConn, fund_id: FundId, session_id: SessionId) -> QueryResult<Option<SessionRow>> {
    coaching_sessions::table
        .filter(coaching_sessions::fund_id.eq(fund_id))
        .filter(coaching_sessions::id.eq(session_id))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}
