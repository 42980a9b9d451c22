//! The demo's bulk path: a worker's script played on an in-memory copy of the worker's ledger,
//! with the ledger's own row builders and rules (`grants::book_in_memory`,
//! `post::transaction_rows`, first-in-first-out lots, the claim rules and money plan, the
//! views its events carry), so that the rows are those the service would have written. The
//! rows are collected in `Rows` and inserted in bulk by `write`; `verify` passes on them (the
//! demo tests check it, and that the fund is the one the ledger's own functions write).
//! Only what the demo does is played: one scheme version, no providers, no review.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::{Action, DemoError, ACTOR};
use crate::db::employment::EmploymentRow;
use crate::db::events::EventRow;
use crate::db::rows::{AccountRow, ClaimRow, LotRow, PostingRow, SchemeVersionRow, SessionRow, TransactionRow, VoucherLotRow, VoucherRow, WorkerRow};
use crate::domain::claims::{funded_cents, RejectionReason};
use crate::domain::events::EventType;
use crate::domain::lots::{take_fifo, LotBalance};
use crate::domain::status::{ClaimStatus, SessionKind, VoucherStatus};
use crate::domain::time::{at_moment, now_utc};
use crate::domain::voucher_code::VoucherCode;
use crate::domain::{EmployerId, FundId, LotId, SchemeId, SessionId, TransactionId, VoucherId, WorkerId};
use crate::ledger::claims::{claim_event_type, money_plan, new_claim_row, rules_broken, voucher_refusal, ClaimRequest};
use crate::ledger::expiry::lapse_postings;
use crate::ledger::grants::{book_in_memory, GrantRequest};
use crate::ledger::outbox::Event;
use crate::ledger::post::{deltas, transaction_rows};
use crate::ledger::spending::{release_postings, reserve_postings, reversal_postings, SpendPlan};
use crate::ledger::vouchers::{new_voucher_row, voucher_event_type, VoucherRequest};
use crate::ledger::{LedgerAccount, LedgerError, NewTransaction, Posting, TxKind};

/// A period a claim waited (`claim_periods`).
#[derive(Clone, Debug, diesel::Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = crate::db::schema::claim_periods)]
pub struct PeriodRow {
    pub claim_id: crate::domain::ClaimId,
    pub kind: ClaimStatus,
    pub fund_id: FundId,
    pub opened_at: chrono::NaiveDateTime,
    pub closed_at: Option<chrono::NaiveDateTime>,
}

/// The payment record of a paid claim (`claim_payments`).
#[derive(Clone, Debug, diesel::Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = crate::db::schema::claim_payments)]
pub struct PaymentRow {
    pub claim_id: crate::domain::ClaimId,
    pub fund_id: FundId,
    pub payment_reference: String,
    pub paid_by: String,
    pub paid_at: chrono::NaiveDateTime,
}

/// Everything the demo writes for a batch of workers, in an order the foreign keys accept.
#[derive(Default)]
pub struct Rows {
    pub workers: Vec<WorkerRow>,
    pub employments: Vec<EmploymentRow>,
    pub accounts: Vec<AccountRow>,
    pub txs: Vec<TransactionRow>,
    pub lots: Vec<LotRow>,
    pub postings: Vec<PostingRow>,
    pub vouchers: Vec<VoucherRow>,
    pub voucher_lots: Vec<VoucherLotRow>,
    pub claims: Vec<ClaimRow>,
    pub periods: Vec<PeriodRow>,
    pub payments: Vec<PaymentRow>,
    pub sessions: Vec<SessionRow>,
    pub events: Vec<EventRow>,
}

/// What every worker of the demo fund shares.
pub struct Fund {
    pub id: FundId,
    pub scheme: SchemeId,
    pub version: SchemeVersionRow,
}

/// One worker's ledger, in memory, while its script plays.
struct Worker<'a> {
    fund: &'a Fund,
    row: WorkerRow,
    account: Option<AccountRow>,
    lots: Vec<LotRow>,
    vouchers: Vec<VoucherRow>,
    allocations: HashMap<VoucherId, Vec<(LotId, i64)>>,
    claims: Vec<ClaimRow>,
    periods: Vec<PeriodRow>,
    sessions: Vec<NaiveDate>,
    /// Per spend, the postings it wrote (for its reversal).
    spends: HashMap<TransactionId, Vec<PostingRow>>,
    today: NaiveDate,
    rows: &'a mut Rows,
}

/// Plays one worker's script and adds its rows to `rows`. Actions the rules refuse are
/// skipped, as `play` skips them. Returns the number of claims.
pub fn play(
    fund: &Fund,
    employer: EmployerId,
    index: usize,
    script: &[(NaiveDate, Action)],
    rng: &mut rand::rngs::StdRng,
    rows: &mut Rows,
) -> Result<usize, DemoError> {
    let mut w = Worker {
        fund,
        row: WorkerRow {
            id: WorkerId::new(),
            fund_id: fund.id,
            participant_number: format!("D{index:07}"),
            employer_id: employer,
            birth_year: None,
            education_level: None,
            created_at: now_utc(),
        },
        account: None,
        lots: Vec::new(),
        vouchers: Vec::new(),
        allocations: HashMap::new(),
        claims: Vec::new(),
        periods: Vec::new(),
        sessions: Vec::new(),
        spends: HashMap::new(),
        today: script.first().map_or(NaiveDate::MIN, |(day, _)| *day),
        rows,
    };
    // The n-th voucher and claim of the script, as far as they were made.
    let mut vouchers: Vec<Option<VoucherId>> = Vec::new();
    let mut claims: Vec<Option<crate::domain::ClaimId>> = Vec::new();
    for (step, (day, action)) in script.iter().enumerate() {
        w.today = *day;
        at_moment(super::moment(*day, step as u32), || -> Result<(), DemoError> {
            match action {
                Action::Register { education, birth_year } => w.register(*education, *birth_year),
                Action::Grant(year) => w.grant(*year),
                Action::YearEnd => w.lapse(),
                Action::Session(kind) => w.session(*kind),
                Action::Voucher { n, cents, valid_until } => {
                    let request = super::voucher_request(rng, w.row.id, fund.scheme, *cents, *valid_until)?;
                    vouchers.resize(n + 1, None);
                    vouchers[*n] = w.issue(&request)?;
                    Ok(())
                }
                Action::CancelVoucher(n) | Action::ExpireVoucher(n) => {
                    let status = if matches!(action, Action::CancelVoucher(_)) { VoucherStatus::Cancelled } else { VoucherStatus::Expired };
                    match vouchers.get(*n) {
                        Some(Some(id)) => w.close(*id, status),
                        _ => Ok(()),
                    }
                }
                Action::Claim { n, cents, training_end, voucher } => {
                    let code = voucher.and_then(|v| vouchers.get(v).copied().flatten()).and_then(|id| w.voucher(id)).map(|v| v.code.clone());
                    let request = super::claim_request(rng, w.row.id, fund.scheme, index, *n, *cents, *training_end, code)?;
                    claims.resize(n + 1, None);
                    claims[*n] = Some(w.submit(&request)?);
                    Ok(())
                }
                Action::Pay(n) | Action::Reverse(n) => {
                    let Some(Some(id)) = claims.get(*n) else { return Ok(()) };
                    let Some(at) = w.claims.iter().position(|c| c.id == *id && c.status == ClaimStatus::Approved) else { return Ok(()) };
                    if matches!(action, Action::Pay(_)) {
                        w.pay(at, &format!("SEPA-DEMO-{index}-{n}"))
                    } else {
                        w.reverse(at)
                    }
                }
            }
        })?;
    }
    let count = claims.len();
    w.finish();
    Ok(count)
}

fn invariant(what: impl Into<String>) -> DemoError {
    DemoError::Write(LedgerError::Invariant(what.into()).to_string())
}

impl Worker<'_> {
    fn register(&mut self, education: Option<&'static str>, birth_year: Option<i32>) -> Result<(), DemoError> {
        self.row.education_level = education.map(str::to_string);
        self.row.birth_year = birth_year;
        self.row.created_at = now_utc();
        self.rows.employments.push(EmploymentRow {
            worker_id: self.row.id,
            valid_from: self.today,
            fund_id: self.fund.id,
            employer_id: self.row.employer_id,
            valid_until: None,
            recorded_at: now_utc(),
        });
        Ok(())
    }

    fn event<T: Serialize>(&mut self, kind: EventType, data: &T) -> Result<(), DemoError> {
        let event = Event { fund: self.fund.id, kind, worker: Some(self.row.id), employer: Some(self.row.employer_id), data };
        self.rows.events.push(event.row().map_err(|e| DemoError::Write(e.to_string()))?);
        Ok(())
    }

    fn lot_balances(&self) -> Vec<LotBalance> {
        self.lots.iter().map(|l| LotBalance { id: l.id, expires_on: l.expires_on, available_cents: l.available_cents }).collect()
    }

    /// `post::post` on the in-memory account: the same rows, the same guards.
    fn post(&mut self, kind: TxKind, actor: &str, reference: String, reverses: Option<TransactionId>, postings: Vec<Posting>) -> Result<TransactionRow, DemoError> {
        let account = self.account.as_mut().ok_or_else(|| invariant("a transaction without an account"))?;
        let tx = NewTransaction {
            id: TransactionId::new(),
            kind,
            effective_date: self.today,
            actor: actor.to_string(),
            reverses,
            reference: Some(reference),
            postings,
            recorded_at: None,
        };
        let (row, posting_rows) = transaction_rows(account, &tx).map_err(|e| DemoError::Write(e.to_string()))?;
        let d = deltas(&tx.postings);
        if account.available_cents + d.available < 0 || account.reserved_cents + d.reserved < 0 {
            return Err(invariant(format!("{kind} would take an account below zero")));
        }
        account.available_cents += d.available;
        account.reserved_cents += d.reserved;
        account.granted_cents += d.granted;
        account.spent_cents += d.spent;
        account.expired_cents += d.expired;
        account.tx_count = row.seq;
        account.chain_head = row.hash.clone();
        for p in &tx.postings {
            let Some(lot_id) = p.lot else { continue };
            let lot = self.lots.iter_mut().find(|l| l.id == lot_id).ok_or_else(|| invariant("a posting to an unknown lot"))?;
            let balance = match p.account {
                LedgerAccount::Available => &mut lot.available_cents,
                LedgerAccount::Reserved => &mut lot.reserved_cents,
                _ => return Err(invariant("a lot posting outside available and reserved")),
            };
            *balance += p.amount_cents;
            if *balance < 0 {
                return Err(invariant(format!("lot {lot_id} below zero")));
            }
        }
        self.rows.txs.push(row.clone());
        if kind == TxKind::Spend {
            self.spends.insert(row.id, posting_rows.clone());
        }
        self.rows.postings.extend(posting_rows);
        Ok(row)
    }

    fn grant(&mut self, year: i32) -> Result<(), DemoError> {
        let fund = self.fund;
        let account = self.account.get_or_insert_with(|| AccountRow::empty(fund.id, self.row.id, fund.scheme, now_utc()));
        // Lots past their date (awaiting the year-end run) do not count against the cap.
        let unusable: i64 = self.lots.iter().filter(|l| l.expires_on < self.today && l.available_cents > 0).map(|l| l.available_cents).sum();
        let request = GrantRequest { worker_id: self.row.id, scheme_id: fund.scheme, amount: None, grant_year: year, recorded_at: None };
        let booked = book_in_memory(account, &fund.version, &request, ACTOR, self.today, unusable).map_err(|e| DemoError::Write(e.to_string()))?;
        self.lots.extend(booked.lots);
        self.rows.txs.extend(booked.txs);
        self.rows.postings.extend(booked.postings);
        if booked.outcome.lot_id.is_some() {
            self.event(EventType::GrantCreated, &crate::views::GrantView::from(booked.outcome))?;
        }
        Ok(())
    }

    /// `expiry::lapse_account` as of today.
    fn lapse(&mut self) -> Result<(), DemoError> {
        let Some(account) = &self.account else { return Ok(()) };
        let (account_id, scheme_id) = (account.id, account.scheme_id);
        let mut due: Vec<LotRow> = self.lots.iter().filter(|l| l.expires_on < self.today && l.available_cents > 0).cloned().collect();
        if due.is_empty() {
            return Ok(());
        }
        due.sort_by_key(|l| (l.expires_on, l.id));
        let (postings, _) = lapse_postings(&due);
        self.post(TxKind::Lapse, ACTOR, format!("expiry:{}", self.today), None, postings)?;
        for lot in &due {
            let view = crate::views::LapsedLotView {
                lot_id: lot.id,
                account_id,
                worker_id: self.row.id,
                scheme_id,
                grant_year: lot.grant_year,
                lapsed: crate::domain::format_cents(lot.available_cents),
                expires_on: lot.expires_on,
            };
            self.event(EventType::LotLapsed, &view)?;
        }
        Ok(())
    }

    /// Whether the guidance rule lets `cents` move today.
    fn guided(&self, cents: i64) -> bool {
        let rules = &self.fund.version;
        !crate::ledger::guidance::required(rules, cents) || self.in_window()
    }

    fn in_window(&self) -> bool {
        let from = crate::ledger::guidance::window_start(&self.fund.version, self.today);
        self.sessions.iter().any(|held| (from..=self.today).contains(held))
    }

    /// `coaching::record_session`, then the worker's waiting claims decided again.
    fn session(&mut self, kind: SessionKind) -> Result<(), DemoError> {
        let session = SessionRow {
            id: SessionId::new(),
            fund_id: self.fund.id,
            worker_id: self.row.id,
            coach: super::COACH.into(),
            held_on: self.today,
            duration_minutes: 45,
            kind,
            voucher_id: None,
            claim_id: None,
            created_at: now_utc(),
        };
        self.sessions.push(self.today);
        self.event(EventType::CoachingSessionRecorded, &crate::views::SessionView::from(session.clone()))?;
        self.rows.sessions.push(session);
        let mut waiting: Vec<usize> = (0..self.claims.len()).filter(|&i| self.claims[i].status == ClaimStatus::AwaitingGuidance).collect();
        waiting.sort_by_key(|&i| self.claims[i].id);
        for i in waiting {
            if self.account.is_none() {
                self.account = Some(AccountRow::empty(self.fund.id, self.row.id, self.fund.scheme, now_utc()));
            }
            if !self.in_window() {
                continue;
            }
            // `claims::settle` without `must`: approved when the budget allows, else unchanged.
            let payable = funded_cents(self.claims[i].amount_cents, self.fund.version.funding_pct);
            let voucher = self.claims[i].voucher_code.clone().and_then(|code| self.usable_voucher(&code).ok());
            // The coach who recorded the session decides it, as `record_session` does.
            if let Some(plan) = self.plan(voucher, payable)? {
                self.approve(i, &plan, voucher, super::COACH)?;
            }
        }
        Ok(())
    }

    fn voucher(&self, id: VoucherId) -> Option<&VoucherRow> {
        self.vouchers.iter().find(|v| v.id == id)
    }

    fn usable_voucher(&self, code: &str) -> Result<VoucherId, RejectionReason> {
        let code = VoucherCode::parse(code).map_err(|_| RejectionReason::VoucherUnknown)?;
        let voucher = self.vouchers.iter().find(|v| v.code == code.canonical()).ok_or(RejectionReason::VoucherUnknown)?;
        match voucher_refusal(voucher, self.row.id, self.fund.scheme, self.today) {
            Some(reason) => Err(reason),
            None => Ok(voucher.id),
        }
    }

    fn plan(&self, voucher: Option<VoucherId>, payable: i64) -> Result<Option<SpendPlan>, DemoError> {
        let reserved = voucher.and_then(|v| self.allocations.get(&v).cloned()).unwrap_or_default();
        let voucher = voucher.and_then(|v| self.voucher(v)).map(|v| (v.amount_cents, reserved.as_slice()));
        money_plan(voucher, &self.lot_balances(), payable, self.fund.version.allow_partial, self.today).map_err(|e| DemoError::Write(e.to_string()))
    }

    /// `vouchers::issue`; `None` when a rule refuses it.
    fn issue(&mut self, request: &VoucherRequest) -> Result<Option<VoucherId>, DemoError> {
        if !self.guided(request.amount.cents()) || self.account.is_none() {
            return Ok(None);
        }
        let Ok(taken) = take_fifo(&self.lot_balances(), request.amount.cents(), self.today) else { return Ok(None) };
        let id = VoucherId::new();
        self.post(TxKind::Reserve, ACTOR, format!("voucher:{id}"), None, reserve_postings(&taken))?;
        let account_id = self.account.as_ref().map(|a| a.id).ok_or_else(|| invariant("a voucher without an account"))?;
        let row = new_voucher_row(id, self.fund.id, account_id, request, ACTOR);
        for (lot, cents) in &taken {
            self.rows.voucher_lots.push(VoucherLotRow { voucher_id: id, lot_id: *lot, fund_id: self.fund.id, amount_cents: *cents });
        }
        // Oldest lot first, as `vouchers::allocations` reads them.
        let mut allocation = taken;
        allocation.sort_by_key(|(lot, _)| self.lots.iter().find(|l| l.id == *lot).map(|l| (l.expires_on, l.id)));
        self.allocations.insert(id, allocation);
        self.event(voucher_event_type(row.status), &crate::views::VoucherView::from(row.clone()))?;
        self.vouchers.push(row);
        Ok(Some(id))
    }

    /// `vouchers::close`; nothing when the voucher is no longer issued.
    fn close(&mut self, id: VoucherId, status: VoucherStatus) -> Result<(), DemoError> {
        if self.voucher(id).is_none_or(|v| v.status != VoucherStatus::Issued) {
            return Ok(());
        }
        let allocation = self.allocations.get(&id).cloned().unwrap_or_default();
        self.post(TxKind::Release, ACTOR, format!("voucher:{id}"), None, release_postings(&allocation))?;
        let now = now_utc();
        let voucher = self.vouchers.iter_mut().find(|v| v.id == id).ok_or_else(|| invariant("voucher gone"))?;
        voucher.status = status;
        voucher.closed_at = Some(now);
        let view = crate::views::VoucherView::from(voucher.clone());
        self.event(voucher_event_type(status), &view)
    }

    /// `claims::submit` with its decision.
    fn submit(&mut self, request: &ClaimRequest) -> Result<crate::domain::ClaimId, DemoError> {
        let rules = &self.fund.version;
        let mut row = new_claim_row(self.fund.id, &self.row, rules, self.account.as_ref(), request, ACTOR);
        let payable = funded_cents(request.amount.cents(), rules.funding_pct);
        let decision = match rules_broken(rules, request, self.today) {
            Some(reason) => Err(reason),
            None => match request.voucher_code.as_deref().map(|code| self.usable_voucher(code)) {
                Some(Err(reason)) => Err(reason),
                voucher => {
                    let voucher = voucher.and_then(Result::ok);
                    let covered = voucher.and_then(|v| self.voucher(v)).map_or(0, |v| v.amount_cents.min(payable));
                    if payable > covered && !self.guided(payable) {
                        Ok(None)
                    } else if self.account.is_none() {
                        Err(RejectionReason::InsufficientBudget)
                    } else {
                        match self.plan(voucher, payable)? {
                            Some(plan) => Ok(Some((plan, voucher))),
                            None => Err(RejectionReason::InsufficientBudget),
                        }
                    }
                }
            },
        };
        let id = row.id;
        match decision {
            Err(reason) => {
                row.status = ClaimStatus::Rejected;
                row.rejection_reason = Some(reason.as_str().into());
                self.claims.push(row);
                self.claim_event(self.claims.len() - 1)?;
            }
            Ok(None) => {
                row.status = ClaimStatus::AwaitingGuidance;
                row.decided_at = None;
                self.periods.push(PeriodRow { claim_id: id, kind: ClaimStatus::AwaitingGuidance, fund_id: self.fund.id, opened_at: row.submitted_at, closed_at: None });
                self.claims.push(row);
                self.claim_event(self.claims.len() - 1)?;
            }
            Ok(Some((plan, voucher))) => {
                self.claims.push(row);
                self.approve(self.claims.len() - 1, &plan, voucher, ACTOR)?;
            }
        }
        Ok(id)
    }

    /// `claims::book_approval`: the spend, the voucher redeemed, the claim approved.
    fn approve(&mut self, i: usize, plan: &SpendPlan, voucher: Option<VoucherId>, actor: &str) -> Result<(), DemoError> {
        let claim_id = self.claims[i].id;
        let tx = self.post(TxKind::Spend, actor, format!("claim:{claim_id}"), None, plan.postings())?;
        let now = now_utc();
        if let Some(v) = voucher {
            let row = self.vouchers.iter_mut().find(|r| r.id == v).ok_or_else(|| invariant("voucher gone"))?;
            row.status = VoucherStatus::Redeemed;
            row.claim_id = Some(claim_id);
            row.closed_at = Some(now);
            let view = crate::views::VoucherView::from(row.clone());
            self.event(voucher_event_type(VoucherStatus::Redeemed), &view)?;
        }
        let was_waiting = self.claims[i].status == ClaimStatus::AwaitingGuidance;
        if was_waiting {
            if let Some(period) = self.periods.iter_mut().find(|p| p.claim_id == claim_id && p.closed_at.is_none()) {
                period.closed_at = Some(now);
            }
        }
        let account_id = self.account.as_ref().map(|a| a.id);
        let claim = &mut self.claims[i];
        claim.status = ClaimStatus::Approved;
        claim.approved_cents = plan.spent_cents();
        claim.rejection_reason = None;
        claim.spend_tx_id = Some(tx.id);
        claim.account_id = account_id;
        claim.voucher_id = voucher;
        claim.decided_at = Some(now);
        self.claim_event(i)
    }

    fn claim_event(&mut self, i: usize) -> Result<(), DemoError> {
        let claim = self.claims[i].clone();
        let kind = claim_event_type(claim.status).ok_or_else(|| invariant("a claim event without a decision"))?;
        self.event(kind, &crate::views::ClaimView::from(claim))
    }

    /// `claims::pay`.
    fn pay(&mut self, i: usize, reference: &str) -> Result<(), DemoError> {
        let now = now_utc();
        let claim = &mut self.claims[i];
        claim.status = ClaimStatus::Paid;
        claim.payment_reference = Some(reference.to_string());
        claim.paid_at = Some(now);
        self.rows.payments.push(PaymentRow { claim_id: claim.id, fund_id: claim.fund_id, payment_reference: reference.to_string(), paid_by: ACTOR.into(), paid_at: now });
        self.claim_event(i)
    }

    /// `claims::reverse` of a claim with one spend: `spending::reverse_spend`.
    fn reverse(&mut self, i: usize) -> Result<(), DemoError> {
        let claim_id = self.claims[i].id;
        let spend = self.claims[i].spend_tx_id.ok_or_else(|| invariant("an approved claim without a spend"))?;
        let original = self.spends.get(&spend).ok_or_else(|| invariant("a spend not played"))?;
        let postings = reversal_postings(spend, original).map_err(|e| DemoError::Write(e.to_string()))?;
        let tx = self.post(TxKind::Reversal, ACTOR, format!("claim:{claim_id}"), Some(spend), postings)?;
        let now = now_utc();
        let claim = &mut self.claims[i];
        claim.status = ClaimStatus::Reversed;
        claim.reversal_tx_id = Some(tx.id);
        claim.reversed_at = Some(now);
        claim.decision_note = Some(super::REVERSAL_REASON.to_string());
        self.claim_event(i)
    }

    /// Hands the rows whose final state is known only now to `rows`.
    fn finish(self) {
        let Worker { row, account, lots, vouchers, claims, periods, rows, .. } = self;
        rows.workers.push(row);
        rows.accounts.extend(account);
        rows.lots.extend(lots);
        rows.vouchers.extend(vouchers);
        rows.claims.extend(claims);
        rows.periods.extend(periods);
    }
}
