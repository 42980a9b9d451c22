//! The change feed's outbox: the ledger writes an event for every change of state in the same
//! database transaction as the change, with the resource as it is after the change.

use serde::Serialize;

use super::LedgerError;
use crate::db::conn::DbConn;
use crate::db::events::{append, EventRow};
use crate::domain::events::EventType;
use crate::domain::time::now_utc;
use crate::domain::{EmployerId, EventId, FundId, WorkerId};

/// One event about to be written.
pub struct Event<'a, T: Serialize> {
    pub fund: FundId,
    pub kind: EventType,
    pub worker: Option<WorkerId>,
    /// Whose HR system may read it: the employer of the worker, or the one that submitted the claim.
    pub employer: Option<EmployerId>,
    pub data: &'a T,
}

impl<T: Serialize> Event<'_, T> {
    pub(crate) fn row(&self) -> Result<EventRow, LedgerError> {
        let data = serde_json::to_string(self.data).map_err(|e| LedgerError::Invariant(format!("event data: {e}")))?;
        Ok(EventRow {
            id: EventId::new(),
            fund_id: self.fund,
            position: None,
            event_type: self.kind,
            occurred_at: now_utc(),
            worker_id: self.worker,
            employer_id: self.employer,
            data,
        })
    }
}

/// Writes one event in the caller's transaction.
pub fn emit<T: Serialize>(conn: &mut DbConn, event: Event<'_, T>) -> Result<(), LedgerError> {
    emit_all(conn, std::iter::once(event))
}

/// Writes events in the caller's transaction, in the order given.
pub fn emit_all<'a, T: Serialize + 'a>(conn: &mut DbConn, events: impl IntoIterator<Item = Event<'a, T>>) -> Result<(), LedgerError> {
    let mut rows = events.into_iter().map(|e| e.row()).collect::<Result<Vec<_>, _>>()?;
    append(conn, &mut rows)?;
    crate::telemetry::tally_events(rows.len());
    Ok(())
}

/// The employer a worker is with now: whose HR system may read the worker's events.
pub fn employer_of(conn: &mut DbConn, fund: FundId, worker: WorkerId) -> Result<Option<EmployerId>, LedgerError> {
    Ok(crate::db::rows::find_worker(conn, fund, worker)?.map(|w| w.employer_id))
}
