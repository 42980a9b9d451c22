//! Coaching sessions: recording one decides the worker's claims that wait for guidance again,
//! in the same transaction.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::claims::{retry_waiting, ClaimError};
use super::guidance::in_window;
use super::{lock_account, LedgerError};
use crate::domain::status::{ClaimStatus, SessionKind};
use crate::db::conn::DbConn;
use crate::db::rows::{self, ClaimRow, SessionRow};
use crate::db::schema::{claims, coaching_sessions};
use crate::domain::time::now_utc;
use crate::domain::{AccountId, ClaimId, FundId, SessionId, VoucherId, WorkerId};

#[derive(Clone, Debug)]
pub struct SessionRequest {
    pub worker_id: WorkerId,
    pub held_on: NaiveDate,
    pub duration_minutes: i32,
    pub kind: SessionKind,
    pub voucher_id: Option<VoucherId>,
    pub claim_id: Option<ClaimId>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("worker {0} not found in this fund")]
    UnknownWorker(WorkerId),
    #[error("{0} not found for this worker")]
    UnknownLink(&'static str),
    #[error(transparent)]
    Claim(#[from] ClaimError),
}

impl From<LedgerError> for SessionError {
    fn from(e: LedgerError) -> SessionError {
        SessionError::Claim(ClaimError::Ledger(e))
    }
}

impl From<diesel::result::Error> for SessionError {
    fn from(e: diesel::result::Error) -> SessionError {
        SessionError::Claim(ClaimError::Ledger(LedgerError::Db(e)))
    }
}

/// Records a session and, in the same transaction, decides the worker's claims that wait for
/// guidance again, in submission order. Returns the session and the claims it approved.
pub fn record_session(
    conn: &mut DbConn,
    fund_id: FundId,
    coach: &str,
    request: &SessionRequest,
    today: NaiveDate,
) -> Result<(SessionRow, Vec<ClaimRow>), SessionError> {
    let worker = request.worker_id;
    let worker_row = rows::find_worker(conn, fund_id, worker)?.ok_or(SessionError::UnknownWorker(request.worker_id))?;
    if let Some(voucher) = request.voucher_id {
        let found = super::vouchers::find_voucher(conn, fund_id, voucher)?;
        if found.is_none_or(|v| v.worker_id != worker) {
            return Err(SessionError::UnknownLink("voucher"));
        }
    }
    if let Some(claim) = request.claim_id {
        let found = super::claims::find_claim(conn, fund_id, claim)?;
        if found.is_none_or(|c| c.worker_id != worker) {
            return Err(SessionError::UnknownLink("claim"));
        }
    }
    let session = SessionRow {
        id: SessionId::new(),
        fund_id,
        worker_id: worker,
        coach: coach.to_string(),
        held_on: request.held_on,
        duration_minutes: request.duration_minutes,
        kind: request.kind,
        voucher_id: request.voucher_id,
        claim_id: request.claim_id,
        created_at: now_utc(),
    };
    diesel::insert_into(coaching_sessions::table).values(&session).execute(conn)?;
    let view = crate::views::SessionView::from(session.clone());
    let event = super::outbox::Event {
        fund: fund_id,
        kind: crate::domain::events::EventType::CoachingSessionRecorded,
        worker: Some(worker),
        employer: Some(worker_row.employer_id),
        data: &view,
    };
    super::outbox::emit(conn, event)?;
    let approved = decide_waiting_claims(conn, worker, coach, today)?;
    Ok((session, approved))
}

fn decide_waiting_claims(conn: &mut DbConn, worker: WorkerId, actor: &str, today: NaiveDate) -> Result<Vec<ClaimRow>, SessionError> {
    // The worker's accounts are locked before the waiting claims are read, in one order: a
    // claim submitted or decided at the same time either committed before (and is read here)
    // or waits for these locks (and then sees this session). Two sessions cannot deadlock.
    let mut ids: Vec<AccountId> = rows::accounts_of_worker(conn, worker)?.into_iter().map(|a| a.id).collect();
    ids.sort();
    for id in ids {
        lock_account(conn, id)?;
    }
    let waiting: Vec<ClaimRow> = claims::table
        .filter(claims::worker_id.eq(worker))
        .filter(claims::status.eq(ClaimStatus::AwaitingGuidance))
        .order(claims::id.asc())
        .select(ClaimRow::as_select())
        .load(conn)?;
    let mut approved = Vec::new();
    for claim in waiting {
        // A claim submitted before the worker had any budget gets its (empty) account now.
        let account_id = super::ensure_account(conn, claim.fund_id, claim.worker_id, claim.scheme_id)?;
        let account = lock_account(conn, account_id)?;
        // Read again under the lock: another request may have decided it meanwhile.
        let Some(claim) = super::claims::find_claim(conn, claim.fund_id, claim.id)?.filter(|c| c.status == ClaimStatus::AwaitingGuidance) else {
            continue;
        };
        let rules = rows::scheme_versions_of(conn, claim.scheme_id)?.into_iter().find(|v| v.id == claim.scheme_version_id);
        let Some(rules) = rules else { continue };
        if !in_window(conn, worker, &rules, today)? {
            continue;
        }
        let decided = retry_waiting(conn, &account, claim, actor, today)?;
        if decided.status == ClaimStatus::Approved {
            approved.push(decided);
        }
    }
    Ok(approved)
}
