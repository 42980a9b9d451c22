//! Employment changes: a worker moves to another employer and keeps the budget. The history and
//! `workers.employer_id` change in one transaction with the `worker.employment_changed` event.

use chrono::NaiveDate;

use super::outbox::{emit, Event};
use super::LedgerError;
use crate::db::conn::DbConn;
use crate::db::employment::{self as store, EmploymentRow};
use crate::db::queries::{self, Inserted};
use crate::db::rows::{self, WorkerRow};
use crate::domain::employment::{plan, Change, CurrentPeriod};
use crate::domain::events::EventType;
use crate::domain::time::now_utc;
use crate::domain::{EmployerId, FieldError, FundId, WorkerId};
use crate::views::WorkerView;

#[derive(Debug, thiserror::Error)]
pub enum EmploymentError {
    #[error("no such worker")]
    UnknownWorker,
    #[error("employer_id: no such employer in this fund")]
    UnknownEmployer,
    #[error(transparent)]
    Rule(#[from] FieldError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for EmploymentError {
    fn from(e: diesel::result::Error) -> Self {
        EmploymentError::Ledger(e.into())
    }
}

/// Registers a new worker with its first employment period, from `from`; `Duplicate` (and
/// nothing written) when the fund has the participant number already.
pub fn register_worker(conn: &mut DbConn, worker: &WorkerRow, from: NaiveDate) -> Result<Inserted, LedgerError> {
    if queries::insert_worker(conn, worker)? == Inserted::Duplicate {
        return Ok(Inserted::Duplicate);
    }
    store::insert_period(
        conn,
        &EmploymentRow {
            worker_id: worker.id,
            valid_from: from,
            fund_id: worker.fund_id,
            employer_id: worker.employer_id,
            valid_until: None,
            recorded_at: now_utc(),
        },
    )?;
    Ok(Inserted::Done)
}

/// Moves `worker` to `employer` from `from`, inside the caller's write transaction, and answers
/// the worker as it is afterwards with whether anything changed. Unchanged when the worker is
/// with that employer already (a retry), so it may be sent again safely.
pub fn change_employment(
    conn: &mut DbConn,
    fund: FundId,
    worker: WorkerId,
    employer: EmployerId,
    from: NaiveDate,
    today: NaiveDate,
) -> Result<(WorkerView, bool), EmploymentError> {
    let row = store::lock_worker(conn, fund, worker)?.ok_or(EmploymentError::UnknownWorker)?;
    if rows::find_employer(conn, fund, employer)?.is_none() {
        return Err(EmploymentError::UnknownEmployer);
    }
    let current = store::current_period(conn, worker)?
        .ok_or_else(|| LedgerError::Invariant(format!("worker {worker} has no current employment")))?;
    let change = plan(CurrentPeriod { employer: current.employer_id, from: current.valid_from }, employer, from, today)?;
    match change {
        Change::Unchanged => {}
        Change::ReplaceCurrent => store::replace_current_employer(conn, worker, employer)?,
        Change::CloseAndOpen { until } => {
            store::close_period(conn, worker, until)?;
            store::insert_period(
                conn,
                &EmploymentRow { worker_id: worker, valid_from: from, fund_id: fund, employer_id: employer, valid_until: None, recorded_at: now_utc() },
            )?;
        }
    }
    let changed = change != Change::Unchanged;
    if changed {
        store::set_worker_employer(conn, worker, employer)?;
    }
    let history = store::histories(conn, fund, &[worker])?;
    let view = WorkerView::new(WorkerRow { employer_id: employer, ..row }, &history);
    if changed {
        emit(conn, Event { fund, kind: EventType::WorkerEmploymentChanged, worker: Some(worker), employer: Some(employer), data: &view })?;
    }
    Ok((view, changed))
}
