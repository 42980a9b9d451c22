//! Claims (declaraties): decided at once on submission, then paid or reversed by the back
//! office. Every decision that moves money locks the worker's budget account first.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::spending::{lot_balances, reverse_spend, spend, Booking, SpendPlan};
use super::vouchers::{allocations, find_voucher_by_code};
use super::{ensure_account, lock_account, review, LedgerError};
use crate::domain::status::{ClaimStatus, VoucherStatus};
use crate::db::conn::DbConn;
use crate::db::rows::{self, AccountRow, ClaimRow, SchemeVersionRow, VoucherRow, WorkerRow};
use crate::db::schema::{claim_payments, claims, vouchers};
use crate::domain::claims::{affordable_cents, funded_cents, rule_breach, ClaimFacts, RejectionReason};
use crate::domain::lots::{take_fifo, usable_cents, LotBalance};
use crate::domain::time::now_utc;
use crate::domain::voucher_code::VoucherCode;
use super::outbox::{emit, Event};
use crate::domain::events::EventType;
use crate::domain::providers::{verdict, ProviderRefusal, ProviderStanding};
use crate::domain::{Amount, ClaimId, EmployerId, FundId, LotId, ProviderId, SchemeId, WorkerId};
use crate::views::ClaimView;

#[derive(Clone, Debug)]
pub struct ClaimRequest {
    pub worker_id: WorkerId,
    pub scheme_id: SchemeId,
    pub amount: Amount,
    pub category: String,
    pub course: String,
    pub provider: String,
    pub invoice_reference: String,
    pub training_start: NaiveDate,
    pub training_end: NaiveDate,
    pub voucher_code: Option<String>,
    pub evidence_reference: Option<String>,
    pub provider_id: Option<ProviderId>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("worker {0} not found in this fund")]
    UnknownWorker(WorkerId),
    #[error("scheme {0} not found in this fund")]
    UnknownScheme(SchemeId),
    #[error("provider_id: provider {0} is not registered in this fund")]
    UnknownProvider(ProviderId),
    #[error("claim not found")]
    NotFound,
    #[error("invoice {invoice:?} of this employer was claimed already")]
    DuplicateInvoice { invoice: String, existing_id: Option<ClaimId> },
    #[error("this claim was paid already; a claim is paid once")]
    AlreadyPaid,
    #[error("the claim is {status}; this needs a claim that is {needed}")]
    InvalidState { status: ClaimStatus, needed: &'static str },
    #[error("the claim is approved for its full share already: there is nothing to top up")]
    FullyApproved,
    #[error("the claim is in open payment batch {0}: confirm or cancel the batch first")]
    InPaymentBatch(crate::domain::BatchId),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for ClaimError {
    fn from(e: diesel::result::Error) -> ClaimError {
        ClaimError::Ledger(LedgerError::Db(e))
    }
}

/// What was decided about a claim's money.
#[allow(clippy::large_enum_variant, reason = "one short-lived value per claim decision")]
enum Decision {
    Approved { plan: SpendPlan, voucher: Option<VoucherRow> },
    /// Approvable, but above the scheme's `review_above`: held for the back office.
    Review { plan: SpendPlan, voucher: Option<VoucherRow> },
    Rejected(RejectionReason),
    AwaitingGuidance,
}

/// Submits a claim inside the caller's write transaction and decides it. `employer` restricts
/// the worker to an employer's own (an HR system's token).
pub fn submit(
    conn: &mut DbConn,
    fund_id: FundId,
    employer: Option<EmployerId>,
    actor: &str,
    request: &ClaimRequest,
    today: NaiveDate,
) -> Result<ClaimRow, ClaimError> {
    let (worker, account_id) = rows::worker_with_account(conn, fund_id, request.worker_id, request.scheme_id)?
        .filter(|(w, _)| employer.is_none_or(|e| e == w.employer_id))
        .ok_or(ClaimError::UnknownWorker(request.worker_id))?;
    // The rules in force when the training starts; for a training that has not started yet,
    // today's rules: a client cannot pick next year's rules by naming a future start.
    let rules = rows::scheme_version_in_fund(conn, fund_id, request.scheme_id, request.training_start.min(today))?
        .ok_or(ClaimError::UnknownScheme(request.scheme_id))?;
    let account = match account_id {
        Some(id) => Some(lock_account(conn, id)?),
        None => None,
    };
    // An invoice this employer claimed before is answered with the claim it made, before any
    // money is looked at (the unique constraint still catches two submitted at once).
    if let Some(existing) = find_invoice_claim(conn, fund_id, worker.employer_id, &request.invoice_reference)? {
        return Err(ClaimError::DuplicateInvoice { invoice: request.invoice_reference.clone(), existing_id: Some(existing) });
    }

    // The provider first: a scheme that pays only registered providers decides nothing else
    // about a claim for another one.
    let named = match request.provider_id {
        Some(id) => Some(crate::db::providers::standing(conn, fund_id, id)?),
        None => None,
    };
    let decision = match verdict(rules.provider_policy, named) {
        Ok(()) => decide(conn, fund_id, &worker, &rules, account.as_ref(), request, today)?,
        Err(ProviderRefusal::NotRegistered) => Decision::Rejected(RejectionReason::ProviderNotRegistered),
        Err(ProviderRefusal::Suspended) => Decision::Rejected(RejectionReason::ProviderSuspended),
        Err(ProviderRefusal::UnknownReference) => return Err(ClaimError::UnknownProvider(request.provider_id.unwrap_or_default())),
    };
    let mut row = new_claim_row(fund_id, &worker, &rules, account.as_ref(), request, actor);
    let mut held_lots = Vec::new();
    // Only a provider the fund knows is linked; an unknown one is in the rejection.
    row.provider_id = request.provider_id.filter(|_| named != Some(ProviderStanding::NotRegistered));
    match decision {
        Decision::Rejected(reason) => {
            row.status = ClaimStatus::Rejected;
            row.rejection_reason = Some(reason.as_str().into());
        }
        Decision::AwaitingGuidance => {
            row.status = ClaimStatus::AwaitingGuidance;
            row.decided_at = None;
        }
        Decision::Approved { plan, voucher } => {
            let account = account.as_ref().ok_or(LedgerError::Invariant("approved without an account".into()))?;
            let booking = Booking::new(actor, today, format!("claim:{}", row.id));
            let tx = spend(conn, account, &plan, &booking)?;
            row.status = ClaimStatus::Approved;
            row.approved_cents = plan.spent_cents();
            row.spend_tx_id = Some(tx.id);
            if let Some(voucher) = voucher {
                row.voucher_id = Some(voucher.id);
                redeem_voucher(conn, &voucher, row.id)?;
            }
        }
        Decision::Review { plan, voucher } => {
            let account = account.as_ref().ok_or(LedgerError::Invariant("held without an account".into()))?;
            held_lots = review::hold(conn, account, &plan, row.id, actor, today)?;
            row.status = ClaimStatus::UnderReview;
            row.held_cents = plan.spent_cents();
            row.voucher_id = voucher.map(|v| v.id);
            row.decided_at = None;
        }
    }
    insert_claim(conn, &row)?;
    if row.status == ClaimStatus::UnderReview {
        review::open(conn, &row, &held_lots, row.submitted_at)?;
    }
    if row.status == ClaimStatus::AwaitingGuidance {
        super::periods::open(conn, &row, ClaimStatus::AwaitingGuidance, row.submitted_at)?;
    }
    claim_event(conn, &row)?;
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::after_written(&row.course)?;
    Ok(row)
}

/// The row of a claim about to be decided, as the request and its worker make it.
pub(crate) fn new_claim_row(
    fund_id: FundId,
    worker: &WorkerRow,
    rules: &SchemeVersionRow,
    account: Option<&AccountRow>,
    request: &ClaimRequest,
    actor: &str,
) -> ClaimRow {
    let now = now_utc();
    ClaimRow {
        id: ClaimId::new(),
        fund_id,
        worker_id: worker.id,
        employer_id: worker.employer_id,
        scheme_id: request.scheme_id,
        scheme_version_id: rules.id,
        account_id: account.map(|a| a.id),
        amount_cents: request.amount.cents(),
        category: request.category.clone(),
        course: request.course.clone(),
        provider: request.provider.clone(),
        invoice_reference: request.invoice_reference.clone(),
        training_start: request.training_start,
        training_end: request.training_end,
        voucher_id: None,
        voucher_code: request.voucher_code.as_ref().map(|c| VoucherCode::parse(c).map(|c| c.to_string()).unwrap_or(c.clone())),
        evidence_reference: request.evidence_reference.clone(),
        status: ClaimStatus::Submitted,
        approved_cents: 0,
        rejection_reason: None,
        decision_note: None,
        payment_reference: None,
        spend_tx_id: None,
        reversal_tx_id: None,
        submitted_by: actor.to_string(),
        submitted_at: now,
        decided_at: Some(now),
        paid_at: None,
        reversed_at: None,
        provider_id: None,
        held_cents: 0,
    }
}

fn insert_claim(conn: &mut DbConn, row: &ClaimRow) -> Result<(), ClaimError> {
    crate::db::ledger_statements::insert_claim(conn, row).map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            ClaimError::DuplicateInvoice { invoice: row.invoice_reference.clone(), existing_id: None }
        } else {
            e.into()
        }
    })?;
    Ok(())
}

fn redeem_voucher(conn: &mut DbConn, voucher: &VoucherRow, claim_id: ClaimId) -> Result<(), ClaimError> {
    let closed_at = now_utc();
    let updated = diesel::update(vouchers::table.filter(vouchers::id.eq(voucher.id)).filter(vouchers::status.eq(VoucherStatus::Issued)))
        .set((vouchers::status.eq(VoucherStatus::Redeemed), vouchers::claim_id.eq(Some(claim_id)), vouchers::closed_at.eq(Some(closed_at))))
        .execute(conn)?;
    if updated != 1 {
        return Err(LedgerError::Invariant(format!("voucher {} changed under its account lock", voucher.id)).into());
    }
    let redeemed = VoucherRow { status: VoucherStatus::Redeemed, claim_id: Some(claim_id), closed_at: Some(closed_at), ..voucher.clone() };
    super::vouchers::voucher_event(conn, &redeemed)?;
    Ok(())
}

/// The event of a claim's new state, for the feed: its employer (the one that submitted it)
/// and its worker may read it.
fn claim_event(conn: &mut DbConn, claim: &ClaimRow) -> Result<(), LedgerError> {
    let Some(kind) = claim_event_type(claim.status) else { return Ok(()) };
    let view = ClaimView::from(claim.clone());
    emit(conn, Event { fund: claim.fund_id, kind, worker: Some(claim.worker_id), employer: Some(claim.employer_id), data: &view })
}

/// The first rule of the scheme (category, maximum, deadline) that a claim received today
/// breaks, if any.
pub(crate) fn rules_broken(rules: &SchemeVersionRow, request: &ClaimRequest, today: NaiveDate) -> Option<RejectionReason> {
    let categories = rules.categories();
    rule_breach(&ClaimFacts {
        category: &request.category,
        eligible_categories: &categories,
        amount_cents: request.amount.cents(),
        max_claim_amount_cents: rules.max_claim_amount_cents,
        training_end: request.training_end,
        claim_deadline_days: rules.claim_deadline_days,
        received_on: today,
    })
}

/// The event a claim's new state emits (none for a claim not yet decided).
pub(crate) fn claim_event_type(status: ClaimStatus) -> Option<EventType> {
    Some(match status {
        ClaimStatus::Approved => EventType::ClaimApproved,
        ClaimStatus::Rejected => EventType::ClaimRejected,
        ClaimStatus::AwaitingGuidance => EventType::ClaimAwaitingGuidance,
        ClaimStatus::UnderReview => EventType::ClaimUnderReview,
        ClaimStatus::Paid => EventType::ClaimPaid,
        ClaimStatus::Reversed => EventType::ClaimReversed,
        ClaimStatus::Submitted => return None,
    })
}

fn decide(
    conn: &mut DbConn,
    fund: FundId,
    worker: &WorkerRow,
    rules: &SchemeVersionRow,
    account: Option<&AccountRow>,
    request: &ClaimRequest,
    today: NaiveDate,
) -> Result<Decision, ClaimError> {
    if let Some(reason) = rules_broken(rules, request, today) {
        return Ok(Decision::Rejected(reason));
    }
    let voucher = match &request.voucher_code {
        Some(code) => match usable_voucher(conn, fund, worker.id, request.scheme_id, code, today)? {
            Ok(voucher) => Some(voucher),
            Err(reason) => return Ok(Decision::Rejected(reason)),
        },
        None => None,
    };
    let payable = funded_cents(request.amount.cents(), rules.funding_pct);
    // A voucher was weighed against the guidance rule when it was issued, for its own
    // reservation only. A claim that spends beyond it meets the rule as a whole, as if there
    // were no voucher: otherwise a small voucher would carry a large claim past the rule.
    let covered_by_voucher = voucher.as_ref().map_or(0, |v| v.amount_cents.min(payable));
    if payable > covered_by_voucher && !super::guidance::met(conn, worker.id, rules, payable, today)? {
        return Ok(Decision::AwaitingGuidance);
    }
    Ok(match account {
        Some(account) => match plan_spend(conn, account, voucher, payable, rules.allow_partial, today)? {
            Decision::Approved { plan, voucher } if review::needs_review(rules, payable) => Decision::Review { plan, voucher },
            decision => decision,
        },
        None => Decision::Rejected(RejectionReason::InsufficientBudget),
    })
}

/// The voucher named by a claim, or why it cannot be used.
fn usable_voucher(
    conn: &mut DbConn,
    fund: FundId,
    worker_id: WorkerId,
    scheme_id: SchemeId,
    code: &str,
    today: NaiveDate,
) -> Result<Result<VoucherRow, RejectionReason>, ClaimError> {
    let Ok(code) = VoucherCode::parse(code) else {
        return Ok(Err(RejectionReason::VoucherUnknown));
    };
    let Some(voucher) = find_voucher_by_code(conn, fund, &code)? else {
        return Ok(Err(RejectionReason::VoucherUnknown));
    };
    if let Some(reason) = voucher_refusal(&voucher, worker_id, scheme_id, today) {
        return Ok(Err(reason));
    }
    // Another claim under review holds it: it is as good as used until that review ends.
    Ok(match review::holding_claim(conn, voucher.id)? {
        Some(_) => Err(RejectionReason::VoucherUsed),
        None => Ok(voucher),
    })
}

/// Why a voucher, as its row says, cannot carry a claim of this worker in this scheme today.
pub(crate) fn voucher_refusal(voucher: &VoucherRow, worker_id: WorkerId, scheme_id: SchemeId, today: NaiveDate) -> Option<RejectionReason> {
    if voucher.worker_id != worker_id || voucher.scheme_id != scheme_id {
        return Some(RejectionReason::VoucherMismatch);
    }
    match voucher.status {
        VoucherStatus::Cancelled => Some(RejectionReason::VoucherCancelled),
        VoucherStatus::Redeemed => Some(RejectionReason::VoucherUsed),
        VoucherStatus::Expired => Some(RejectionReason::VoucherExpired),
        _ if voucher.valid_until < today => Some(RejectionReason::VoucherExpired),
        _ => None,
    }
}

/// Plans the money of an approvable claim: from the voucher's reservation first, the rest (or
/// all, without a voucher) from available money, oldest usable lot first.
fn plan_spend(
    conn: &mut DbConn,
    account: &AccountRow,
    voucher: Option<VoucherRow>,
    payable: i64,
    allow_partial: bool,
    today: NaiveDate,
) -> Result<Decision, ClaimError> {
    let reserved = match &voucher {
        Some(v) => allocations(conn, v.id)?,
        None => Vec::new(),
    };
    // The lots only when the voucher does not cover the fund's share.
    let lots = match &voucher {
        Some(v) if v.amount_cents >= payable => Vec::new(),
        _ => lot_balances(conn, account.id)?,
    };
    Ok(match money_plan(voucher.as_ref().map(|v| (v.amount_cents, reserved.as_slice())), &lots, payable, allow_partial, today)? {
        Some(plan) => Decision::Approved { plan, voucher },
        None => Decision::Rejected(RejectionReason::InsufficientBudget),
    })
}

/// The money of an approvable claim, from what the voucher reserved (its amount and its
/// allocations, oldest lot first) and the account's lots: `None` when the budget does not
/// cover it (or, with `allow_partial`, nothing of it).
pub(crate) fn money_plan(
    voucher: Option<(i64, &[(LotId, i64)])>,
    lots: &[LotBalance],
    payable: i64,
    allow_partial: bool,
    today: NaiveDate,
) -> Result<Option<SpendPlan>, LedgerError> {
    let (mut plan, rest) = match voucher {
        Some((amount_cents, reserved)) => (SpendPlan::from_voucher(reserved, payable.min(amount_cents)), payable - amount_cents.min(payable)),
        None => (SpendPlan::default(), payable),
    };
    if rest > 0 {
        match affordable_cents(rest, usable_cents(lots, today), allow_partial) {
            Some(cents) => {
                plan.from_available = take_fifo(lots, cents, today).map_err(|usable_cents| LedgerError::InsufficientBudget { usable_cents })?;
            }
            None if voucher.is_some() && allow_partial => {}
            None => return Ok(None),
        }
    }
    Ok((plan.spent_cents() > 0).then_some(plan))
}

/// The id of the claim an employer made for an invoice, if any.
fn find_invoice_claim(conn: &mut DbConn, fund: FundId, employer_id: EmployerId, invoice: &str) -> QueryResult<Option<ClaimId>> {
    claims::table
        .filter(claims::fund_id.eq(fund))
        .filter(claims::employer_id.eq(employer_id))
        .filter(claims::invoice_reference.eq(invoice))
        .select(claims::id)
        .first(conn)
        .optional()
}

pub fn find_claim(conn: &mut DbConn, fund: FundId, claim_id: ClaimId) -> QueryResult<Option<ClaimRow>> {
    claims::table
        .filter(claims::fund_id.eq(fund))
        .filter(claims::id.eq(claim_id))
        .select(ClaimRow::as_select())
        .first(conn)
        .optional()
}

/// Loads a claim with its worker's budget account locked, so that what is read next cannot
/// change until the transaction ends.
fn locked_claim(conn: &mut DbConn, fund_id: FundId, claim_id: ClaimId) -> Result<(ClaimRow, AccountRow), ClaimError> {
    let claim = find_claim(conn, fund_id, claim_id)?.ok_or(ClaimError::NotFound)?;
    let account_id = ensure_account(conn, fund_id, claim.worker_id, claim.scheme_id)?;
    let account = lock_account(conn, account_id)?;
    // The claim row too: a payment batch being made holds the rows of the claims it takes, so
    // a payment or reversal waits for it and then sees the claim in the batch.
    let claim = crate::db::ledger_statements::lock_claim(conn, fund_id, claim_id)?.ok_or(ClaimError::NotFound)?;
    Ok((claim, account))
}

/// A claim in an open payment batch is paid by the batch or released by its cancellation,
/// never paid by hand or reversed meanwhile.
fn not_in_open_batch(conn: &mut DbConn, claim_id: ClaimId) -> Result<(), ClaimError> {
    match crate::db::payments::open_batch_of_claim(conn, claim_id)? {
        Some(batch) => Err(ClaimError::InPaymentBatch(batch)),
        None => Ok(()),
    }
}

/// Approves by hand a claim that waits for guidance, or one rejected for lack of budget
/// (after a new grant). The budget rule still applies; the guidance rule is the fund's call.
pub fn approve(conn: &mut DbConn, fund_id: FundId, claim_id: ClaimId, actor: &str, today: NaiveDate) -> Result<ClaimRow, ClaimError> {
    let (claim, account) = locked_claim(conn, fund_id, claim_id)?;
    // A claim under review is approved with exactly the money held for it.
    if claim.status == ClaimStatus::UnderReview {
        let (plan, voucher) = review::held_plan(conn, &claim)?;
        return book_approval(conn, &account, claim, &plan, voucher, actor, today);
    }
    // A partial approval that an upheld objection contests is topped up.
    if claim.status == ClaimStatus::Approved && crate::db::objections::upheld(conn, claim_id)? {
        return top_up(conn, &account, claim, actor, today);
    }
    let approvable = claim.status == ClaimStatus::AwaitingGuidance
        || (claim.status == ClaimStatus::Rejected && claim.rejection_reason.as_deref() == Some(RejectionReason::InsufficientBudget.as_str()))
        // An upheld objection lets the back office approve whatever the rejection said.
        || (claim.status == ClaimStatus::Rejected && crate::db::objections::upheld(conn, claim_id)?);
    if !approvable {
        return Err(ClaimError::InvalidState {
            status: claim.status,
            needed: "under_review, awaiting_guidance, rejected for insufficient_budget, or rejected or approved in part with an upheld objection",
        });
    }
    settle(conn, &account, claim, actor, today, true)
}

/// Decides the money of a waiting claim again (after a coaching session). Returns the claim,
/// approved when the budget allows (or held for review above the scheme's `review_above`),
/// else unchanged.
pub fn retry_waiting(conn: &mut DbConn, account: &AccountRow, claim: ClaimRow, actor: &str, today: NaiveDate) -> Result<ClaimRow, ClaimError> {
    settle(conn, account, claim, actor, today, false)
}

/// The scheme version a claim was decided under.
fn rules_of(conn: &mut DbConn, claim: &ClaimRow) -> Result<SchemeVersionRow, ClaimError> {
    rows::scheme_versions_of(conn, claim.scheme_id)?
        .into_iter()
        .find(|v| v.id == claim.scheme_version_id)
        .ok_or(ClaimError::NotFound)
}

/// Tops up a partial approval after an upheld objection: what the fund's share still lacks is
/// spent from available money (oldest usable lot first), within budget, as a further spend of
/// the claim. Only while the claim is approved and unpaid, and in no open payment batch: the
/// batch then pays the whole approved amount.
fn top_up(conn: &mut DbConn, account: &AccountRow, claim: ClaimRow, actor: &str, today: NaiveDate) -> Result<ClaimRow, ClaimError> {
    not_in_open_batch(conn, claim.id)?;
    let rules = rules_of(conn, &claim)?;
    let missing = funded_cents(claim.amount_cents, rules.funding_pct) - claim.approved_cents;
    if missing <= 0 {
        return Err(ClaimError::FullyApproved);
    }
    let lots = lot_balances(conn, account.id)?;
    let usable = usable_cents(&lots, today);
    let cents = affordable_cents(missing, usable, rules.allow_partial).ok_or(LedgerError::InsufficientBudget { usable_cents: usable })?;
    let plan = SpendPlan {
        from_available: take_fifo(&lots, cents, today).map_err(|usable_cents| LedgerError::InsufficientBudget { usable_cents })?,
        ..SpendPlan::default()
    };
    spend(conn, account, &plan, &Booking::new(actor, today, format!("claim:{}", claim.id)))?;
    let (approved_cents, now) = (claim.approved_cents + cents, now_utc());
    let updated = diesel::update(
        claims::table
            .filter(claims::id.eq(claim.id))
            .filter(claims::status.eq(ClaimStatus::Approved))
            .filter(claims::approved_cents.eq(claim.approved_cents)),
    )
    .set((claims::approved_cents.eq(approved_cents), claims::decided_at.eq(Some(now))))
    .execute(conn)?;
    changed_one(updated, claim.id)?;
    let topped_up = ClaimRow { approved_cents, decided_at: Some(now), ..claim };
    claim_event(conn, &topped_up)?;
    Ok(topped_up)
}

fn settle(conn: &mut DbConn, account: &AccountRow, claim: ClaimRow, actor: &str, today: NaiveDate, must: bool) -> Result<ClaimRow, ClaimError> {
    let rules = rules_of(conn, &claim)?;
    let payable = funded_cents(claim.amount_cents, rules.funding_pct);
    // A voucher the claim named that is gone meanwhile (cancelled, lapsed, used by another
    // claim) no longer carries it: the claim is decided on the available budget, as if it had
    // named none (else a claim the back office may approve would be stuck).
    let voucher = match &claim.voucher_code {
        Some(code) => usable_voucher(conn, claim.fund_id, claim.worker_id, claim.scheme_id, code, today)?.ok(),
        None => None,
    };
    let plan = match plan_spend(conn, account, voucher, payable, rules.allow_partial, today)? {
        Decision::Approved { plan, voucher } => (plan, voucher),
        _ if must => {
            let lots = lot_balances(conn, account.id)?;
            return Err(LedgerError::InsufficientBudget { usable_cents: usable_cents(&lots, today) }.into());
        }
        _ => return Ok(claim),
    };
    let (plan, voucher) = plan;
    // The back office's own approval is its review; a claim whose guidance just arrived is
    // reviewed now if it is large.
    if !must && review::needs_review(&rules, payable) {
        return send_to_review(conn, account, claim, &plan, voucher, actor, today);
    }
    book_approval(conn, account, claim, &plan, voucher, actor, today)
}

/// Spends a claim's money as planned and marks it approved.
fn book_approval(
    conn: &mut DbConn,
    account: &AccountRow,
    claim: ClaimRow,
    plan: &SpendPlan,
    voucher: Option<VoucherRow>,
    actor: &str,
    today: NaiveDate,
) -> Result<ClaimRow, ClaimError> {
    let booking = Booking::new(actor, today, format!("claim:{}", claim.id));
    let tx = spend(conn, account, plan, &booking)?;
    if let Some(voucher) = &voucher {
        redeem_voucher(conn, voucher, claim.id)?;
    }
    let now = now_utc();
    match claim.status {
        ClaimStatus::UnderReview => review::close(conn, claim.id, now)?,
        ClaimStatus::AwaitingGuidance => {
            super::periods::close(conn, claim.id, ClaimStatus::AwaitingGuidance, now)?;
        }
        _ => {}
    }
    let updated = diesel::update(claims::table.filter(claims::id.eq(claim.id)).filter(claims::status.eq(claim.status)))
        .set((
            claims::status.eq(ClaimStatus::Approved),
            claims::approved_cents.eq(plan.spent_cents()),
            claims::rejection_reason.eq(None::<String>),
            claims::spend_tx_id.eq(Some(tx.id)),
            claims::account_id.eq(Some(account.id)),
            claims::voucher_id.eq(voucher.as_ref().map(|v| v.id)),
            claims::decided_at.eq(Some(now)),
        ))
        .execute(conn)?;
    changed_one(updated, claim.id)?;
    let approved = ClaimRow {
        status: ClaimStatus::Approved,
        approved_cents: plan.spent_cents(),
        rejection_reason: None,
        spend_tx_id: Some(tx.id),
        account_id: Some(account.id),
        voucher_id: voucher.map(|v| v.id),
        decided_at: Some(now),
        ..claim
    };
    claim_event(conn, &approved)?;
    Ok(approved)
}

/// Holds the money of a waiting claim whose guidance arrived, for the back office's review.
fn send_to_review(
    conn: &mut DbConn,
    account: &AccountRow,
    claim: ClaimRow,
    plan: &SpendPlan,
    voucher: Option<VoucherRow>,
    actor: &str,
    today: NaiveDate,
) -> Result<ClaimRow, ClaimError> {
    let lots = review::hold(conn, account, plan, claim.id, actor, today)?;
    let now = now_utc();
    super::periods::close(conn, claim.id, ClaimStatus::AwaitingGuidance, now)?;
    let voucher_id = voucher.map(|v| v.id);
    let updated = diesel::update(claims::table.filter(claims::id.eq(claim.id)).filter(claims::status.eq(claim.status)))
        .set((
            claims::status.eq(ClaimStatus::UnderReview),
            claims::held_cents.eq(plan.spent_cents()),
            claims::account_id.eq(Some(account.id)),
            claims::voucher_id.eq(voucher_id),
        ))
        .execute(conn)?;
    changed_one(updated, claim.id)?;
    review::open(conn, &claim, &lots, now)?;
    let held = ClaimRow {
        status: ClaimStatus::UnderReview,
        held_cents: plan.spent_cents(),
        account_id: Some(account.id),
        voucher_id,
        ..claim
    };
    claim_event(conn, &held)?;
    Ok(held)
}

/// Rejects by hand a claim that is waiting (for guidance) or under review; a claim under review
/// gets its held money back. Takes the account lock like every change of a claim's state, so
/// that it cannot cross an approval.
pub fn reject(conn: &mut DbConn, fund_id: FundId, claim_id: ClaimId, reason: &str, actor: &str, today: NaiveDate) -> Result<ClaimRow, ClaimError> {
    let (claim, account) = locked_claim(conn, fund_id, claim_id)?;
    match claim.status {
        ClaimStatus::AwaitingGuidance | ClaimStatus::Submitted => {}
        ClaimStatus::UnderReview => review::release_hold(conn, &account, claim_id, actor, today)?,
        status => return Err(invalid_state(status, "awaiting_guidance or under_review")),
    }
    let now = now_utc();
    match claim.status {
        ClaimStatus::UnderReview => review::close(conn, claim.id, now)?,
        ClaimStatus::AwaitingGuidance => {
            super::periods::close(conn, claim.id, ClaimStatus::AwaitingGuidance, now)?;
        }
        _ => {}
    }
    let updated = diesel::update(claims::table.filter(claims::id.eq(claim_id)).filter(claims::status.eq(claim.status)))
        .set((
            claims::status.eq(ClaimStatus::Rejected),
            claims::rejection_reason.eq(Some(RejectionReason::RejectedByFund.as_str())),
            claims::decision_note.eq(Some(reason)),
            claims::decided_at.eq(Some(now)),
        ))
        .execute(conn)?;
    changed_one(updated, claim_id)?;
    let rejected = ClaimRow {
        status: ClaimStatus::Rejected,
        rejection_reason: Some(RejectionReason::RejectedByFund.as_str().into()),
        decision_note: Some(reason.to_string()),
        decided_at: Some(now),
        ..claim
    };
    claim_event(conn, &rejected)?;
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::after_written(reason)?;
    Ok(rejected)
}

/// Records the payment of an approved claim. Moves no budget (the money was spent on
/// approval), but takes the account lock, so that a payment and a reversal of the same claim
/// are decided one after the other, never both.
pub fn pay(conn: &mut DbConn, fund_id: FundId, claim_id: ClaimId, payment_reference: &str, actor: &str) -> Result<ClaimRow, ClaimError> {
    let (claim, _account) = locked_claim(conn, fund_id, claim_id)?;
    if claim.status != ClaimStatus::Approved {
        return Err(invalid_state(claim.status, "approved"));
    }
    not_in_open_batch(conn, claim_id)?;
    let now = now_utc();
    // The append-only payment row first: its primary key refuses a second payment of a claim,
    // whatever its status says.
    diesel::insert_into(claim_payments::table)
        .values((
            claim_payments::claim_id.eq(claim_id),
            claim_payments::fund_id.eq(fund_id),
            claim_payments::payment_reference.eq(payment_reference),
            claim_payments::paid_by.eq(actor),
            claim_payments::paid_at.eq(now),
        ))
        .execute(conn)
        .map_err(|e| match crate::db::is_unique_violation(&e) {
            true => ClaimError::AlreadyPaid,
            false => e.into(),
        })?;
    let updated = diesel::update(claims::table.filter(claims::id.eq(claim_id)).filter(claims::status.eq(ClaimStatus::Approved)))
        .set((claims::status.eq(ClaimStatus::Paid), claims::payment_reference.eq(Some(payment_reference)), claims::paid_at.eq(Some(now))))
        .execute(conn)?;
    changed_one(updated, claim_id)?;
    let paid = ClaimRow { status: ClaimStatus::Paid, payment_reference: Some(payment_reference.to_string()), paid_at: Some(now), ..claim };
    claim_event(conn, &paid)?;
    Ok(paid)
}

/// Reverses an approved or paid claim (refund, cancelled course): the mirror of its spend.
pub fn reverse(conn: &mut DbConn, fund_id: FundId, claim_id: ClaimId, reason: &str, actor: &str, today: NaiveDate) -> Result<ClaimRow, ClaimError> {
    let (claim, account) = locked_claim(conn, fund_id, claim_id)?;
    if !matches!(claim.status, ClaimStatus::Approved | ClaimStatus::Paid) {
        return Err(invalid_state(claim.status, "approved or paid"));
    }
    not_in_open_batch(conn, claim_id)?;
    let spend_tx = claim.spend_tx_id.ok_or(LedgerError::Invariant(format!("claim {claim_id} approved without a spend")))?;
    // Its first spend, then any top-up: each mirrored, linked by `reverses`.
    let reference = format!("claim:{claim_id}");
    let tx = reverse_spend(conn, &account, spend_tx, &Booking::new(actor, today, reference.clone()))?;
    for top_up in crate::db::ledger_reads::spends_of(conn, account.id, &reference)?.into_iter().filter(|t| *t != spend_tx) {
        // The account row as it is now (each posting moves its chain head on).
        let account = lock_account(conn, account.id)?;
        reverse_spend(conn, &account, top_up, &Booking::new(actor, today, reference.clone()))?;
    }
    let now = now_utc();
    let updated = diesel::update(claims::table.filter(claims::id.eq(claim_id)).filter(claims::status.eq(claim.status)))
        .set((
            claims::status.eq(ClaimStatus::Reversed),
            claims::reversal_tx_id.eq(Some(tx.id)),
            claims::reversed_at.eq(Some(now)),
            claims::decision_note.eq(Some(reason)),
        ))
        .execute(conn)?;
    changed_one(updated, claim_id)?;
    let reversed = ClaimRow {
        status: ClaimStatus::Reversed,
        reversal_tx_id: Some(tx.id),
        reversed_at: Some(now),
        decision_note: Some(reason.to_string()),
        ..claim
    };
    claim_event(conn, &reversed)?;
    Ok(reversed)
}

fn invalid_state(status: ClaimStatus, needed: &'static str) -> ClaimError {
    ClaimError::InvalidState { status, needed }
}

/// A state change under the account lock must change exactly the row it read; anything else
/// is a bug, and the whole transaction (with any money it moved) is rolled back.
fn changed_one(updated: usize, claim_id: ClaimId) -> Result<(), ClaimError> {
    if updated != 1 {
        return Err(LedgerError::Invariant(format!("claim {claim_id} changed under its account lock")).into());
    }
    Ok(())
}
