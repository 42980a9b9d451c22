//! The resources as the API and the change feed show them: one view per resource, built from
//! its row, so that an answer and the event of the same change carry the same JSON.

use chrono::NaiveDate;
use serde::Serialize;

use crate::db::employment::EmploymentRow;
use crate::db::rows::{ClaimRow, SessionRow, VoucherRow, WorkerRow};
use crate::domain::status::{ClaimStatus, SessionKind, VoucherStatus};
use crate::domain::time::rfc3339;
use crate::domain::voucher_code::VoucherCode;
use crate::domain::events::EventType;
use crate::domain::{
    format_cents, EventId, AccountId, ClaimId, EmployerId, FundId, LotId, SchemeId, SchemeVersionId, SessionId, TransactionId, VoucherId, WorkerId,
};

/// One period of a worker's employment; `until` is its last day, `null` for the current one.
#[derive(Debug, Clone, Serialize)]
pub struct EmploymentView {
    pub employer_id: EmployerId,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// Budget of a worker that lapses soon: the outreach list's reason to call.
#[derive(Debug, Clone, Serialize)]
pub struct LapsingView {
    pub amount: String,
    pub first_expires_on: NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct WorkerView {
    pub id: WorkerId,
    pub fund_id: FundId,
    pub participant_number: String,
    pub employer_id: EmployerId,
    pub birth_year: Option<i32>,
    pub education_level: Option<String>,
    pub created_at: String,
    /// Oldest period first; the last one is the current employer.
    pub employment: Vec<EmploymentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapsing: Option<LapsingView>,
}

impl WorkerView {
    /// The worker with its periods, picked from `history` (which may hold other workers' too).
    pub fn new(r: WorkerRow, history: &[EmploymentRow]) -> WorkerView {
        let employment = history
            .iter()
            .filter(|e| e.worker_id == r.id)
            .map(|e| EmploymentView { employer_id: e.employer_id, from: e.valid_from, until: e.valid_until })
            .collect();
        WorkerView {
            id: r.id,
            fund_id: r.fund_id,
            participant_number: r.participant_number,
            employer_id: r.employer_id,
            birth_year: r.birth_year,
            education_level: r.education_level,
            created_at: rfc3339(r.created_at),
            employment,
            lapsing: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ClaimView {
    pub id: ClaimId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub employer_id: EmployerId,
    pub scheme_id: SchemeId,
    pub scheme_version_id: SchemeVersionId,
    pub amount: String,
    pub category: String,
    pub course: String,
    pub provider: String,
    /// The registered provider named, if any.
    pub provider_id: Option<crate::domain::ProviderId>,
    pub invoice_reference: String,
    pub training_start: NaiveDate,
    pub training_end: NaiveDate,
    pub voucher_code: Option<String>,
    pub voucher_id: Option<VoucherId>,
    pub evidence_reference: Option<String>,
    pub status: ClaimStatus,
    /// What the fund pays: its share of the invoice, within budget.
    pub approved_amount: String,
    /// While under review: what is reserved for the claim (the fund share the budget covers).
    pub held_amount: Option<String>,
    pub rejection_reason: Option<String>,
    pub decision_note: Option<String>,
    pub payment_reference: Option<String>,
    pub transaction_id: Option<TransactionId>,
    pub reversal_transaction_id: Option<TransactionId>,
    pub submitted_at: String,
    pub decided_at: Option<String>,
    pub paid_at: Option<String>,
    pub reversed_at: Option<String>,
}

impl From<ClaimRow> for ClaimView {
    fn from(c: ClaimRow) -> ClaimView {
        ClaimView {
            id: c.id,
            fund_id: c.fund_id,
            worker_id: c.worker_id,
            employer_id: c.employer_id,
            scheme_id: c.scheme_id,
            scheme_version_id: c.scheme_version_id,
            amount: format_cents(c.amount_cents),
            category: c.category,
            course: c.course,
            provider: c.provider,
            provider_id: c.provider_id,
            invoice_reference: c.invoice_reference,
            training_start: c.training_start,
            training_end: c.training_end,
            voucher_code: c.voucher_code,
            voucher_id: c.voucher_id,
            evidence_reference: c.evidence_reference,
            status: c.status,
            approved_amount: format_cents(c.approved_cents),
            held_amount: (c.status == ClaimStatus::UnderReview).then(|| format_cents(c.held_cents)),
            rejection_reason: c.rejection_reason,
            decision_note: c.decision_note,
            payment_reference: c.payment_reference,
            transaction_id: c.spend_tx_id,
            reversal_transaction_id: c.reversal_tx_id,
            submitted_at: rfc3339(c.submitted_at),
            decided_at: c.decided_at.map(rfc3339),
            paid_at: c.paid_at.map(rfc3339),
            reversed_at: c.reversed_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct VoucherView {
    pub id: VoucherId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub code: String,
    pub amount: String,
    pub course: String,
    pub provider: String,
    pub provider_id: Option<crate::domain::ProviderId>,
    pub valid_until: NaiveDate,
    pub status: VoucherStatus,
    pub claim_id: Option<ClaimId>,
    pub created_at: String,
    pub closed_at: Option<String>,
}

impl From<VoucherRow> for VoucherView {
    fn from(v: VoucherRow) -> VoucherView {
        let code = VoucherCode::parse(&v.code).map(|c| c.to_string()).unwrap_or(v.code);
        VoucherView {
            id: v.id,
            fund_id: v.fund_id,
            worker_id: v.worker_id,
            scheme_id: v.scheme_id,
            code,
            amount: format_cents(v.amount_cents),
            course: v.course,
            provider: v.provider,
            provider_id: v.provider_id,
            valid_until: v.valid_until,
            status: v.status,
            claim_id: v.claim_id,
            created_at: rfc3339(v.created_at),
            closed_at: v.closed_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: SessionId,
    pub fund_id: FundId,
    pub worker_id: WorkerId,
    pub coach: String,
    pub held_on: NaiveDate,
    pub duration_minutes: i32,
    pub kind: SessionKind,
    pub voucher_id: Option<VoucherId>,
    pub claim_id: Option<ClaimId>,
    pub created_at: String,
}

impl From<SessionRow> for SessionView {
    fn from(s: SessionRow) -> SessionView {
        SessionView {
            id: s.id,
            fund_id: s.fund_id,
            worker_id: s.worker_id,
            coach: s.coach,
            held_on: s.held_on,
            duration_minutes: s.duration_minutes,
            kind: s.kind,
            voucher_id: s.voucher_id,
            claim_id: s.claim_id,
            created_at: rfc3339(s.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct GrantView {
    /// The grant lot; `null` for a bulk item of which nothing fitted under `max_balance`.
    pub id: Option<LotId>,
    pub transaction_id: Option<TransactionId>,
    pub account_id: AccountId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub grant_year: i32,
    pub requested_amount: String,
    pub amount: String,
    /// True when `max_balance` reduced the grant.
    pub capped: bool,
    pub expires_on: NaiveDate,
}


/// A lot whose available money lapsed at its expiry date (`lot.lapsed`).
#[derive(Debug, Serialize)]
pub struct LapsedLotView {
    pub lot_id: LotId,
    pub account_id: AccountId,
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub grant_year: i32,
    pub lapsed: String,
    pub expires_on: NaiveDate,
}

/// An event as the feed and webhooks carry it.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: String,
    pub fund_id: FundId,
    pub worker_id: Option<WorkerId>,
    pub employer_id: Option<EmployerId>,
    pub data: Box<serde_json::value::RawValue>,
}

impl From<crate::db::events::EventRow> for EventView {
    fn from(e: crate::db::events::EventRow) -> EventView {
        EventView {
            id: e.id,
            event_type: e.event_type,
            occurred_at: rfc3339(e.occurred_at),
            fund_id: e.fund_id,
            worker_id: e.worker_id,
            employer_id: e.employer_id,
            // Written by this service from a view; text that is not JSON shows as null.
            data: serde_json::value::RawValue::from_string(e.data).unwrap_or_else(|_| null_json()),
        }
    }
}


fn null_json() -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string("null".to_string()).unwrap_or_default()
}

/// A payment batch (`payment_batch.confirmed`): its totals and state; the transfers are in its
/// `pain.001` file.
#[derive(Debug, Serialize)]
pub struct BatchView {
    pub id: crate::domain::BatchId,
    pub fund_id: FundId,
    pub status: crate::domain::payments::BatchStatus,
    pub execution_date: NaiveDate,
    pub transaction_count: i32,
    pub total: String,
    pub debtor_name: String,
    pub debtor_iban: String,
    pub debtor_bic: Option<String>,
    pub created_at: String,
    pub bank_reference: Option<String>,
    pub closed_at: Option<String>,
}

impl From<&crate::db::payments::BatchRow> for BatchView {
    fn from(b: &crate::db::payments::BatchRow) -> BatchView {
        BatchView {
            id: b.id,
            fund_id: b.fund_id,
            status: b.status,
            execution_date: b.execution_date,
            transaction_count: b.transaction_count,
            total: format_cents(b.total_cents),
            debtor_name: b.debtor_name.clone(),
            debtor_iban: b.debtor_iban.clone(),
            debtor_bic: b.debtor_bic.clone(),
            created_at: rfc3339(b.created_at),
            bank_reference: b.bank_reference.clone(),
            closed_at: b.closed_at.map(rfc3339),
        }
    }
}

/// An objection to a claim's decision (`objection.filed`, `objection.decided`).
#[derive(Debug, Serialize)]
pub struct ObjectionView {
    pub id: crate::domain::ObjectionId,
    pub fund_id: FundId,
    pub claim_id: ClaimId,
    pub worker_id: WorkerId,
    pub employer_id: EmployerId,
    /// fund_admin (on someone's behalf), employer or worker.
    pub filed_by_role: String,
    pub reason: String,
    pub status: crate::domain::objections::ObjectionStatus,
    pub filed_at: String,
    pub decided_at: Option<String>,
    pub motivation: Option<String>,
}

impl From<&crate::db::objections::ObjectionRow> for ObjectionView {
    fn from(o: &crate::db::objections::ObjectionRow) -> ObjectionView {
        ObjectionView {
            id: o.id,
            fund_id: o.fund_id,
            claim_id: o.claim_id,
            worker_id: o.worker_id,
            employer_id: o.employer_id,
            filed_by_role: o.filed_by_role.clone(),
            reason: o.reason.clone(),
            status: o.status,
            filed_at: rfc3339(o.filed_at),
            decided_at: o.decided_at.map(rfc3339),
            motivation: o.motivation.clone(),
        }
    }
}
