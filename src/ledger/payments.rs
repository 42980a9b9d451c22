//! Payment batches: approved, unpaid claims paid through the fund's bank in one SEPA file.
//! Making a batch takes every payable claim (approved, in no open or confirmed batch, its payee
//! with an IBAN, its provider not suspended); confirming pays each claim (`claims::pay`, with its event); cancelling
//! releases them. All inside the caller's write transaction.

use chrono::NaiveDate;

use super::claims::{self, ClaimError};
use super::outbox::{emit, Event};
use super::LedgerError;
use crate::db::conn::{lock_fund_scope, DbConn};
use crate::db::payments::{self as store, BatchRow, ItemRow};
use crate::db::rows;
use crate::domain::events::EventType;
use crate::domain::payments::{end_to_end_id, BatchStatus, SkipReason};
use crate::domain::providers::{Payee, ProviderStatus};
use crate::domain::time::now_utc;
use crate::domain::{BatchId, ClaimId, FieldError, FundId};

/// First key of the per-fund PostgreSQL advisory locks taken while a batch is made.
const BATCH_LOCK_SPACE: i32 = 0x7074_7462;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the fund's {0} is not set: PATCH /v1/funds/{{fund}} with legal_name and iban first")]
    SettingsMissing(&'static str),
    #[error(transparent)]
    Rule(#[from] FieldError),
    #[error("no approved claim can be paid now")]
    NothingToPay { skipped: Vec<(ClaimId, SkipReason)> },
    #[error("no such payment batch")]
    NotFound,
    #[error("the batch is {0}: only an open batch is confirmed or cancelled")]
    NotOpen(BatchStatus),
    #[error("the status report does not fit this batch: {0}")]
    ReportMismatch(String),
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for BatchError {
    fn from(e: diesel::result::Error) -> Self {
        BatchError::Ledger(e.into())
    }
}

/// A batch as made, with the claims left out and why.
pub struct Made {
    pub batch: BatchRow,
    pub items: Vec<ItemRow>,
    pub skipped: Vec<(ClaimId, SkipReason)>,
}

/// Makes a batch of every payable claim of the fund, to be executed on `execution_date`.
pub fn make_batch(conn: &mut DbConn, fund: FundId, execution_date: NaiveDate, today: NaiveDate, actor: &str) -> Result<Made, BatchError> {
    if execution_date < today {
        return Err(FieldError::new("execution_date", format!("must be today ({today}) or later; the bank moves it to a business day")).into());
    }
    let fund_row = rows::find_fund(conn, fund)?.ok_or_else(|| LedgerError::Invariant(format!("fund {fund} admitted but not found")))?;
    let debtor_name = fund_row.legal_name.ok_or(BatchError::SettingsMissing("legal_name"))?;
    let debtor_iban = fund_row.iban.ok_or(BatchError::SettingsMissing("iban"))?;
    // Two batches made at once would both take the same claims: one after the other instead
    // (the unique index on active items would refuse the second anyway).
    lock_fund_scope(conn, BATCH_LOCK_SPACE, fund)?;
    crate::db::ledger_statements::lock_approved_claims(conn, fund)?;
    let batch_id = BatchId::new();
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for payable in store::payable_claims(conn, fund)? {
        // A suspended provider's claims wait until it is reinstated, whoever is paid.
        if payable.provider_status == Some(ProviderStatus::Suspended) {
            skipped.push((payable.claim_id, SkipReason::ProviderSuspended));
            continue;
        }
        let (name, iban) = match payable.payee {
            Payee::Employer => (payable.employer_name, payable.employer_iban),
            Payee::Provider => match payable.provider_name {
                Some(name) => (name, payable.provider_iban),
                None => (String::new(), None),
            },
        };
        let Some(iban) = iban else {
            skipped.push((payable.claim_id, SkipReason::PayeeIbanMissing));
            continue;
        };
        items.push(ItemRow {
            batch_id,
            claim_id: payable.claim_id,
            fund_id: fund,
            line: i32::try_from(items.len() + 1).map_err(|_| LedgerError::Invariant("batch too large".into()))?,
            amount_cents: payable.approved_cents,
            creditor_name: name,
            creditor_iban: iban,
            end_to_end_id: end_to_end_id(payable.claim_id),
            remittance: format!("Factuur {} PTT", payable.invoice_reference),
            active: true,
        });
    }
    if items.is_empty() {
        return Err(BatchError::NothingToPay { skipped });
    }
    let batch = BatchRow {
        id: batch_id,
        fund_id: fund,
        status: BatchStatus::Open,
        execution_date,
        debtor_name,
        debtor_iban,
        debtor_bic: fund_row.bic,
        transaction_count: i32::try_from(items.len()).map_err(|_| LedgerError::Invariant("batch too large".into()))?,
        total_cents: items.iter().map(|i| i.amount_cents).sum(),
        created_at: now_utc(),
        created_by: actor.to_string(),
        bank_reference: None,
        closed_at: None,
        closed_by: None,
    };
    store::insert_batch(conn, &batch, &items)?;
    Ok(Made { batch, items, skipped })
}

/// The bank took the file: every claim of the batch is paid, with the bank's reference and the
/// claim's end-to-end id as its payment reference. A second confirm (also one racing this)
/// finds the batch closed and pays nothing.
pub fn confirm(conn: &mut DbConn, fund: FundId, batch: BatchId, bank_reference: &str, actor: &str) -> Result<BatchRow, BatchError> {
    let row = store::find_batch(conn, fund, batch)?.ok_or(BatchError::NotFound)?;
    let now = now_utc();
    if !store::close_batch(conn, batch, BatchStatus::Confirmed, Some(bank_reference), actor, now)? {
        let status = store::find_batch(conn, fund, batch)?.map_or(row.status, |b| b.status);
        return Err(BatchError::NotOpen(status));
    }
    for item in store::items_of(conn, batch)? {
        claims::pay(conn, fund, item.claim_id, &format!("{bank_reference}/{}", item.end_to_end_id), actor)?;
    }
    let confirmed = BatchRow { status: BatchStatus::Confirmed, bank_reference: Some(bank_reference.to_string()), closed_at: Some(now), closed_by: Some(actor.to_string()), ..row };
    let view = crate::views::BatchView::from(&confirmed);
    emit(conn, Event { fund, kind: EventType::PaymentBatchConfirmed, worker: None, employer: None, data: &view })?;
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::after_written(bank_reference)?;
    Ok(confirmed)
}

/// The file will not be sent (or the bank refused it whole): the batch's claims are released
/// for a later batch.
pub fn cancel(conn: &mut DbConn, fund: FundId, batch: BatchId, actor: &str) -> Result<BatchRow, BatchError> {
    let row = store::find_batch(conn, fund, batch)?.ok_or(BatchError::NotFound)?;
    let now = now_utc();
    if !store::close_batch(conn, batch, BatchStatus::Cancelled, None, actor, now)? {
        let status = store::find_batch(conn, fund, batch)?.map_or(row.status, |b| b.status);
        return Err(BatchError::NotOpen(status));
    }
    store::release_items(conn, batch)?;
    Ok(BatchRow { status: BatchStatus::Cancelled, closed_at: Some(now), closed_by: Some(actor.to_string()), ..row })
}

/// Statuses of ISO 20022's ExternalPaymentTransactionStatus1Code that mean the bank took a
/// transfer, and the one that means it refused it.
const ACCEPTED: &[&str] = &["ACCP", "ACSC", "ACSP", "ACTC", "ACWC", "ACCC", "ACFC", "ACWP"];
const REJECTED: &str = "RJCT";

/// The bank's `pain.002` reply to the batch's file: refused transfers go back to approved,
/// unpaid claims (released from the batch, with the bank's reason code); accepted ones are paid,
/// as on confirm. The batch is then confirmed, or cancelled when the bank refused every transfer.
/// Transfers the report does not name follow the group status (all of them, for a report that
/// only lists refusals under `PART`).
pub fn status_report(conn: &mut DbConn, fund: FundId, batch: BatchId, report: &crate::sepa::StatusReport, actor: &str) -> Result<(BatchRow, usize), BatchError> {
    let row = store::find_batch(conn, fund, batch)?.ok_or(BatchError::NotFound)?;
    if report.original_message_id != batch.0.simple().to_string() {
        return Err(BatchError::ReportMismatch(format!("it answers message {:?}, this batch's file is {}", report.original_message_id, batch.0.simple())));
    }
    let items = store::items_of(conn, batch)?;
    for tx in &report.transactions {
        if !items.iter().any(|i| i.end_to_end_id == tx.end_to_end_id) {
            return Err(BatchError::ReportMismatch(format!("transaction {:?} is not in this batch", tx.end_to_end_id)));
        }
    }
    let default = match report.group_status.as_deref() {
        Some(status) if ACCEPTED.contains(&status) || status == "PART" => Some(true),
        Some(REJECTED) => Some(false),
        _ => None,
    };
    let mut decided = Vec::with_capacity(items.len());
    for item in &items {
        let named = report.transactions.iter().find(|t| t.end_to_end_id == item.end_to_end_id);
        let accepted = match named.map(|t| t.status.as_str()) {
            Some(status) if ACCEPTED.contains(&status) => true,
            Some(REJECTED) => false,
            Some(other) => return Err(BatchError::ReportMismatch(format!("transaction {} is {other}: send the bank's final report", item.end_to_end_id))),
            None => default.ok_or_else(|| BatchError::ReportMismatch(format!("it says nothing final of transaction {}", item.end_to_end_id)))?,
        };
        decided.push((item, accepted, named.and_then(|t| t.reason.clone())));
    }
    let paid = decided.iter().filter(|(_, accepted, _)| *accepted).count();
    let status = if paid > 0 { BatchStatus::Confirmed } else { BatchStatus::Cancelled };
    let reference = if report.message_id.is_empty() { "pain.002".to_string() } else { report.message_id.clone() };
    let now = now_utc();
    if !store::close_batch(conn, batch, status, Some(&reference), actor, now)? {
        let current = store::find_batch(conn, fund, batch)?.map_or(row.status, |b| b.status);
        return Err(BatchError::NotOpen(current));
    }
    for (item, accepted, reason) in decided {
        if accepted {
            claims::pay(conn, fund, item.claim_id, &format!("{reference}/{}", item.end_to_end_id), actor)?;
        } else {
            let returned = store::ReturnRow { batch_id: batch, claim_id: item.claim_id, fund_id: fund, reason_code: reason, report_id: reference.clone(), recorded_at: now };
            store::return_item(conn, &returned)?;
        }
    }
    let closed = BatchRow { status, bank_reference: Some(reference), closed_at: Some(now), closed_by: Some(actor.to_string()), ..row };
    if status == BatchStatus::Confirmed {
        let view = crate::views::BatchView::from(&closed);
        emit(conn, Event { fund, kind: EventType::PaymentBatchConfirmed, worker: None, employer: None, data: &view })?;
    }
    Ok((closed, paid))
}
