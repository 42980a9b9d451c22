//! Model-based randomized test: a seeded generator draws a sequence of operations (grants, bulk
//! grants, vouchers, claims with every rule, approvals, rejections, payments, reversals, coaching
//! sessions, expiry runs, days passing), some of them sent concurrently, and runs it against the
//! real service over HTTP. An in-memory model says what every answer, balance, lot and status must
//! be. After every step: each worker's budget equals the model, no balance is below zero, and
//! `verify` (chains, zero sums, projections, links) is ok; the report's guidance matrix is checked
//! every few steps. A failure prints the seed and the shortest sequence found that reproduces it.
//!
//! CI runs `MODEL_SEEDS` with `MODEL_STEPS` steps each; `PTT_MODEL_STEPS` and `PTT_MODEL_SEEDS`
//! (comma-separated) run longer or other seeds by hand.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{cents, spawn_app, Backend, Fund, TestApp};
use ptt_ledger::http::auth::Role;

const MODEL_SEEDS: [u64; 3] = [11, 29, 47];
const MODEL_STEPS: usize = 120;
const WORKERS: usize = 4;

// The scheme under test: its rules, as the model applies them.
const ANNUAL: i64 = 50_000;
const MAX_BALANCE: i64 = 150_000;
const VALIDITY_YEARS: i32 = 3;
const MAX_CLAIM: i64 = 90_000;
const GUIDANCE_ABOVE: i64 = 25_000;
const GUIDANCE_WINDOW_DAYS: i64 = 90;
const FUNDING_PCT: i64 = 50;
const DEADLINE_DAYS: i64 = 120;

/// One operation, with references to earlier vouchers and claims by index (resolved modulo their
/// count when it runs), so that a sequence stays meaningful when steps are removed from it.
#[derive(Clone, Debug)]
enum Op {
    Grant { worker: usize, year_offset: i32, cents: i64 },
    BulkGrant { items: Vec<(usize, i32, i64)> },
    Voucher { worker: usize, cents: i64, valid_days: i64 },
    Cancel { voucher: usize },
    Claim { worker: usize, cents: i64, shape: ClaimShape, voucher: Option<usize> },
    Session { worker: usize, days_ago: i64 },
    Approve { claim: usize },
    Reject { claim: usize },
    Pay { claim: usize },
    Reverse { claim: usize },
    Expire,
    Advance { days: i64 },
    /// Sent at once; each on its own worker, so their outcomes do not depend on their order.
    Together(Vec<Op>),
}

#[derive(Clone, Copy, Debug)]
enum ClaimShape {
    Ordinary,
    WrongCategory,
    Late,
}

fn draw(rng: &mut StdRng) -> Op {
    let worker = rng.random_range(0..WORKERS);
    let index = rng.random_range(0..64);
    match rng.random_range(0..100) {
        0..16 => Op::Grant { worker, year_offset: [-3, -2, -1, 0, 0, 0, 1][rng.random_range(0..7)], cents: rng.random_range(1..=ANNUAL) },
        16..20 => Op::BulkGrant {
            items: (0..rng.random_range(1..5))
                .map(|_| (rng.random_range(0..WORKERS), [-3, -1, 0, 0, 1][rng.random_range(0..5)], rng.random_range(1..=ANNUAL)))
                .collect(),
        },
        20..30 => Op::Voucher { worker, cents: rng.random_range(1..=50_000), valid_days: rng.random_range(0..200) },
        30..34 => Op::Cancel { voucher: index },
        34..56 => Op::Claim {
            worker,
            cents: rng.random_range(1..=100_000),
            shape: match rng.random_range(0..20) {
                0 => ClaimShape::WrongCategory,
                1 => ClaimShape::Late,
                _ => ClaimShape::Ordinary,
            },
            voucher: (rng.random_range(0..3) == 0).then_some(index),
        },
        56..60 => Op::Session { worker, days_ago: rng.random_range(0..20) },
        60..68 => Op::Approve { claim: index },
        68..71 => Op::Reject { claim: index },
        71..77 => Op::Pay { claim: index },
        77..82 => Op::Reverse { claim: index },
        82..85 => Op::Expire,
        85..88 => Op::Advance { days: rng.random_range(1..240) },
        _ => {
            let mut workers: Vec<usize> = (0..WORKERS).collect();
            let n = rng.random_range(2..=WORKERS);
            let ops = (0..n)
                .map(|_| {
                    let worker = workers.remove(rng.random_range(0..workers.len()));
                    match rng.random_range(0..4) {
                        0 => Op::Grant { worker, year_offset: 0, cents: rng.random_range(1..=ANNUAL) },
                        1 => Op::Voucher { worker, cents: rng.random_range(1..=30_000), valid_days: 60 },
                        2 => Op::Session { worker, days_ago: 0 },
                        _ => Op::Claim { worker, cents: rng.random_range(1..=100_000), shape: ClaimShape::Ordinary, voucher: None },
                    }
                })
                .collect();
            Op::Together(ops)
        }
    }
}

fn sequence(seed: u64, steps: usize) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..steps).map(|_| draw(&mut rng)).collect()
}

#[derive(Clone, Debug)]
struct Lot {
    id: String,
    amount: i64,
    expires_on: NaiveDate,
    available: i64,
    reserved: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VoucherState {
    Issued,
    Redeemed,
    Cancelled,
    Expired,
}

#[derive(Clone, Debug)]
struct Voucher {
    id: String,
    code: String,
    worker: usize,
    amount: i64,
    valid_until: NaiveDate,
    state: VoucherState,
    allocations: Vec<(String, i64)>,
}

#[derive(Clone, Debug)]
struct Claim {
    id: String,
    worker: usize,
    status: &'static str,
    reason: Option<&'static str>,
    payable: i64,
    voucher_code: Option<String>,
    approved: i64,
    /// Per lot, the money its spend took.
    given: Vec<(String, i64)>,
}

#[derive(Clone, Debug, Default)]
struct Worker {
    id: String,
    has_account: bool,
    lots: Vec<Lot>,
    granted: i64,
    spent: i64,
    expired: i64,
    sessions: Vec<NaiveDate>,
}

/// What a spend takes: from a voucher's reservation, what it releases of it, from available.
#[derive(Default, Debug)]
struct Plan {
    from_reservation: Vec<(String, i64)>,
    released: Vec<(String, i64)>,
    from_available: Vec<(String, i64)>,
}

impl Plan {
    fn spent(&self) -> i64 {
        self.from_reservation.iter().chain(&self.from_available).map(|(_, c)| c).sum()
    }
}

struct Model {
    fund: Fund,
    scheme: String,
    coach: String,
    workers: Vec<Worker>,
    vouchers: Vec<Voucher>,
    claims: Vec<Claim>,
    invoices: usize,
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn add(list: &mut Vec<(String, i64)>, lot: &str, cents: i64) {
    match list.iter_mut().find(|(l, _)| l == lot) {
        Some((_, c)) => *c += cents,
        None => list.push((lot.to_string(), cents)),
    }
}

impl Worker {
    fn lot(&mut self, id: &str) -> &mut Lot {
        self.lots.iter_mut().find(|l| l.id == id).unwrap_or_else(|| panic!("model: no lot {id}"))
    }

    fn usable(&self, today: NaiveDate) -> i64 {
        self.lots.iter().filter(|l| l.expires_on >= today).map(|l| l.available).sum()
    }

    fn lapse_pending(&self, today: NaiveDate) -> i64 {
        self.lots.iter().filter(|l| l.expires_on < today).map(|l| l.available).sum()
    }

    /// Oldest usable lot first, as the ledger takes them.
    fn take_fifo(&self, cents: i64, today: NaiveDate) -> Option<Vec<(String, i64)>> {
        let mut usable: Vec<&Lot> = self.lots.iter().filter(|l| l.expires_on >= today && l.available > 0).collect();
        usable.sort_by(|a, b| (a.expires_on, &a.id).cmp(&(b.expires_on, &b.id)));
        if usable.iter().map(|l| l.available).sum::<i64>() < cents {
            return None;
        }
        let mut rest = cents;
        let mut taken = Vec::new();
        for lot in usable {
            if rest == 0 {
                break;
            }
            let take = lot.available.min(rest);
            taken.push((lot.id.clone(), take));
            rest -= take;
        }
        Some(taken)
    }

    fn guided(&self, today: NaiveDate) -> bool {
        self.sessions.iter().any(|d| *d <= today && *d >= today - Duration::days(GUIDANCE_WINDOW_DAYS))
    }
}

/// What the service answered.
struct Answer {
    status: u16,
    body: Value,
}

type Outcome = Result<(), String>;

fn expect_status(answer: &Answer, status: u16, what: &str) -> Outcome {
    if answer.status == status {
        Ok(())
    } else {
        Err(format!("{what}: expected {status}, got {} {}", answer.status, answer.body))
    }
}

impl Model {
    fn today(app: &TestApp) -> NaiveDate {
        app.today()
    }

    /// The request an operation sends, from the state before it; `None` when it has nothing to
    /// act on yet (no voucher or claim to name).
    fn request(&mut self, op: &Op, today: NaiveDate) -> Option<(Method, String, String, Value)> {
        let f = &self.fund.id;
        let post = |path: String, body: Value| Some((Method::POST, path, self.fund.admin.clone(), body));
        match op {
            Op::Grant { worker, year_offset, cents } => post(
                format!("/v1/funds/{f}/grants"),
                json!({"worker_id": self.workers[*worker].id, "scheme_id": self.scheme, "amount": money(*cents), "grant_year": today.year() + year_offset}),
            ),
            Op::BulkGrant { items } => {
                let grants: Vec<Value> = items
                    .iter()
                    .map(|(w, y, c)| json!({"worker_id": self.workers[*w].id, "scheme_id": self.scheme, "amount": money(*c), "grant_year": today.year() + y}))
                    .collect();
                post(format!("/v1/funds/{f}/grants"), json!({ "grants": grants }))
            }
            Op::Voucher { worker, cents, valid_days } => post(
                format!("/v1/funds/{f}/vouchers"),
                json!({"worker_id": self.workers[*worker].id, "scheme_id": self.scheme, "amount": money(*cents), "course": "Cursus",
                       "provider": "Opleider", "valid_until": (today + Duration::days(*valid_days)).to_string()}),
            ),
            Op::Cancel { voucher } => {
                let v = self.vouchers.get(voucher % self.vouchers.len().max(1))?;
                post(format!("/v1/funds/{f}/vouchers/{}/cancel", v.id), json!({}))
            }
            Op::Claim { worker, cents, shape, voucher } => {
                self.invoices += 1;
                let end = match shape {
                    ClaimShape::Late => today - Duration::days(DEADLINE_DAYS + 30),
                    _ => today - Duration::days(10),
                };
                let category = if matches!(shape, ClaimShape::WrongCategory) { "taal" } else { "vakopleiding" };
                let code = voucher.and_then(|v| self.vouchers.get(v % self.vouchers.len().max(1))).map(|v| v.code.clone());
                post(
                    format!("/v1/funds/{f}/claims"),
                    json!({"worker_id": self.workers[*worker].id, "scheme_id": self.scheme, "amount": money(*cents), "category": category,
                           "course": "Opleiding", "provider": "Opleider", "invoice_reference": format!("M-{}", self.invoices),
                           "training_start": (end - Duration::days(20)).to_string(), "training_end": end.to_string(), "voucher_code": code}),
                )
            }
            Op::Session { worker, days_ago } => Some((
                Method::POST,
                format!("/v1/funds/{f}/coaching-sessions"),
                self.coach.clone(),
                json!({"worker_id": self.workers[*worker].id, "held_on": (today - Duration::days(*days_ago)).to_string(),
                       "duration_minutes": 45, "kind": "loopbaangesprek"}),
            )),
            Op::Approve { claim } | Op::Reject { claim } | Op::Pay { claim } | Op::Reverse { claim } => {
                let c = self.claims.get(claim % self.claims.len().max(1))?;
                let (action, body) = match op {
                    Op::Approve { .. } => ("approve", json!({})),
                    Op::Reject { .. } => ("reject", json!({"reason": "niet passend"})),
                    Op::Pay { .. } => ("pay", json!({"payment_reference": "SEPA-1"})),
                    _ => ("reverse", json!({"reason": "cursus geannuleerd"})),
                };
                post(format!("/v1/funds/{f}/claims/{}/{action}", c.id), body)
            }
            Op::Expire => post(format!("/v1/funds/{f}/expiry-runs"), json!({"as_of": today.to_string()})),
            Op::Advance { .. } | Op::Together(_) => None,
        }
    }

    /// Checks the answer against the model's expectation and moves the model on.
    fn apply(&mut self, op: &Op, answer: &Answer, today: NaiveDate) -> Outcome {
        match op {
            Op::Grant { worker, year_offset, cents } => self.apply_grants(&[(*worker, *year_offset, *cents)], answer, today, false),
            Op::BulkGrant { items } => self.apply_grants(items, answer, today, true),
            Op::Voucher { worker, cents, valid_days } => self.apply_voucher(*worker, *cents, today + Duration::days(*valid_days), answer, today),
            Op::Cancel { voucher } => {
                let index = voucher % self.vouchers.len();
                if self.vouchers[index].state != VoucherState::Issued {
                    return expect_status(answer, 409, "cancelling a voucher that is not issued");
                }
                expect_status(answer, 200, "cancel")?;
                self.release_voucher(index, VoucherState::Cancelled);
                Ok(())
            }
            Op::Claim { worker, cents, shape, voucher } => {
                let code = voucher.and_then(|v| self.vouchers.get(v % self.vouchers.len().max(1))).map(|v| v.code.clone());
                self.apply_claim(*worker, *cents, *shape, code, answer, today)
            }
            Op::Session { worker, days_ago } => self.apply_session(*worker, today - Duration::days(*days_ago), answer, today),
            Op::Approve { claim } => self.apply_approve(claim % self.claims.len(), answer, today),
            Op::Reject { claim } => {
                let index = claim % self.claims.len();
                let c = &self.claims[index];
                if !matches!(c.status, "awaiting_guidance" | "submitted") {
                    return expect_status(answer, 409, &format!("rejecting a {} claim", c.status));
                }
                expect_status(answer, 200, "reject")?;
                let worker = c.worker;
                self.workers[worker].has_account = true;
                let c = &mut self.claims[index];
                c.status = "rejected";
                c.reason = Some("rejected_by_fund");
                self.check_claim(index, &answer.body)
            }
            Op::Pay { claim } => {
                let index = claim % self.claims.len();
                if self.claims[index].status != "approved" {
                    return expect_status(answer, 409, &format!("paying a {} claim", self.claims[index].status));
                }
                expect_status(answer, 200, "pay")?;
                self.claims[index].status = "paid";
                self.check_claim(index, &answer.body)
            }
            Op::Reverse { claim } => {
                let index = claim % self.claims.len();
                if !matches!(self.claims[index].status, "approved" | "paid") {
                    return expect_status(answer, 409, &format!("reversing a {} claim", self.claims[index].status));
                }
                expect_status(answer, 200, "reverse")?;
                let c = &mut self.claims[index];
                c.status = "reversed";
                let (worker, given) = (c.worker, c.given.clone());
                let w = &mut self.workers[worker];
                for (lot, cents) in &given {
                    w.lot(lot).available += cents;
                    w.spent -= cents;
                }
                self.check_claim(index, &answer.body)
            }
            Op::Expire => {
                expect_status(answer, 201, "expiry run")?;
                for index in 0..self.vouchers.len() {
                    if self.vouchers[index].state == VoucherState::Issued && self.vouchers[index].valid_until < today {
                        self.release_voucher(index, VoucherState::Expired);
                    }
                }
                for w in &mut self.workers {
                    for lot in w.lots.iter_mut().filter(|l| l.expires_on < today) {
                        w.expired += lot.available;
                        lot.available = 0;
                    }
                }
                Ok(())
            }
            Op::Advance { .. } | Op::Together(_) => Ok(()),
        }
    }

    fn apply_grants(&mut self, items: &[(usize, i32, i64)], answer: &Answer, today: NaiveDate, bulk: bool) -> Outcome {
        let mut expected = Vec::new();
        let mut lots = Vec::new();
        for &(worker, offset, requested) in items {
            let w = &self.workers[worker];
            let held: i64 = w.lots.iter().map(|l| l.available + l.reserved).sum::<i64>() - w.lapse_pending(today);
            let granted = requested.min((MAX_BALANCE - held).max(0));
            let expires_on = NaiveDate::from_ymd_opt(today.year() + offset + VALIDITY_YEARS - 1, 12, 31).expect("date");
            expected.push(granted);
            lots.push((worker, granted, expires_on));
            // Later items of a bulk see this one's lot.
            if granted > 0 {
                let w = &mut self.workers[worker];
                w.lots.push(Lot { id: String::new(), amount: granted, expires_on, available: granted, reserved: 0 });
            }
        }
        // Undo the placeholders; the answer carries the lots' ids.
        for &(worker, granted, _) in &lots {
            if granted > 0 {
                self.workers[worker].lots.pop();
            }
        }
        if !bulk && expected[0] == 0 {
            return expect_status(answer, 422, "a grant above max_balance");
        }
        expect_status(answer, 201, "grant")?;
        let answered: Vec<Value> = if bulk { answer.body["grants"].as_array().cloned().unwrap_or_default() } else { vec![answer.body.clone()] };
        if answered.len() != items.len() {
            return Err(format!("{} grants answered for {} requested", answered.len(), items.len()));
        }
        for ((worker, granted, expires_on), reply) in lots.into_iter().zip(answered) {
            if cents(&reply["amount"]) != granted {
                return Err(format!("granted {} where the model expects {}", reply["amount"], money(granted)));
            }
            let w = &mut self.workers[worker];
            w.has_account = true;
            if granted > 0 {
                let id = reply["id"].as_str().ok_or("a grant without a lot id")?.to_string();
                w.lots.push(Lot { id, amount: granted, expires_on, available: granted, reserved: 0 });
                w.granted += granted;
            }
        }
        Ok(())
    }

    fn apply_voucher(&mut self, worker: usize, amount: i64, valid_until: NaiveDate, answer: &Answer, today: NaiveDate) -> Outcome {
        let w = &self.workers[worker];
        if amount > GUIDANCE_ABOVE && !w.guided(today) {
            return expect_status(answer, 409, "a voucher above the guidance threshold without a session");
        }
        let taken = match w.has_account.then(|| w.take_fifo(amount, today)).flatten() {
            Some(taken) => taken,
            None => return expect_status(answer, 409, "a voucher the budget cannot cover"),
        };
        expect_status(answer, 201, "voucher")?;
        let w = &mut self.workers[worker];
        for (lot, c) in &taken {
            let lot = w.lot(lot);
            lot.available -= c;
            lot.reserved += c;
        }
        let id = answer.body["id"].as_str().ok_or("voucher without id")?.to_string();
        let code = answer.body["code"].as_str().ok_or("voucher without code")?.to_string();
        self.vouchers.push(Voucher { id, code, worker, amount, valid_until, state: VoucherState::Issued, allocations: taken });
        Ok(())
    }

    fn release_voucher(&mut self, index: usize, state: VoucherState) {
        let v = &mut self.vouchers[index];
        v.state = state;
        let w = &mut self.workers[v.worker];
        for (lot, c) in &v.allocations {
            let lot = w.lot(lot);
            lot.reserved -= c;
            lot.available += c;
        }
    }

    /// The voucher a claim names, or why it cannot be used.
    fn usable_voucher(&self, worker: usize, code: &str, today: NaiveDate) -> Result<usize, &'static str> {
        let index = self.vouchers.iter().position(|v| v.code == code).ok_or("voucher_unknown")?;
        let v = &self.vouchers[index];
        match v.state {
            _ if v.worker != worker => Err("voucher_mismatch"),
            VoucherState::Cancelled => Err("voucher_cancelled"),
            VoucherState::Redeemed => Err("voucher_used"),
            VoucherState::Expired => Err("voucher_expired"),
            VoucherState::Issued if v.valid_until < today => Err("voucher_expired"),
            VoucherState::Issued => Ok(index),
        }
    }

    /// The money of an approvable claim: the voucher's reservation first, then available money
    /// (partial allowed); `None` when nothing can be paid.
    fn plan(&self, worker: usize, voucher: Option<usize>, payable: i64, today: NaiveDate) -> Option<Plan> {
        let w = &self.workers[worker];
        let mut plan = Plan::default();
        let mut rest = payable;
        if let Some(index) = voucher {
            let v = &self.vouchers[index];
            let mut allocations = v.allocations.clone();
            let expiry = |lot: &str| w.lots.iter().find(|l| l.id == lot).map(|l| l.expires_on);
            allocations.sort_by(|a, b| (expiry(&a.0), &a.0).cmp(&(expiry(&b.0), &b.0)));
            let mut to_spend = payable.min(v.amount);
            for (lot, c) in allocations {
                let spend = c.min(to_spend);
                to_spend -= spend;
                if spend > 0 {
                    plan.from_reservation.push((lot.clone(), spend));
                }
                if c - spend > 0 {
                    plan.released.push((lot, c - spend));
                }
            }
            rest = payable - payable.min(v.amount);
        }
        if rest > 0 {
            let usable = w.usable(today);
            let covered = if usable >= rest { Some(rest) } else { (usable > 0).then_some(usable) };
            match covered {
                Some(c) => plan.from_available = w.take_fifo(c, today)?,
                None if voucher.is_some() => {}
                None => return None,
            }
        }
        (plan.spent() > 0).then_some(plan)
    }

    fn book(&mut self, index: usize, voucher: Option<usize>, plan: Plan) {
        let worker = self.claims[index].worker;
        let w = &mut self.workers[worker];
        let mut given = Vec::new();
        for (lot, c) in &plan.from_reservation {
            w.lot(lot).reserved -= c;
            add(&mut given, lot, *c);
        }
        for (lot, c) in &plan.released {
            let lot = w.lot(lot);
            lot.reserved -= c;
            lot.available += c;
        }
        for (lot, c) in &plan.from_available {
            w.lot(lot).available -= c;
            add(&mut given, lot, *c);
        }
        w.spent += plan.spent();
        if let Some(v) = voucher {
            self.vouchers[v].state = VoucherState::Redeemed;
        }
        let c = &mut self.claims[index];
        c.status = "approved";
        c.reason = None;
        c.approved = plan.spent();
        c.given = given;
    }

    fn apply_claim(&mut self, worker: usize, amount: i64, shape: ClaimShape, code: Option<String>, answer: &Answer, today: NaiveDate) -> Outcome {
        expect_status(answer, 201, "claim")?;
        let id = answer.body["id"].as_str().ok_or("claim without id")?.to_string();
        let payable = amount * FUNDING_PCT / 100;
        self.claims.push(Claim { id, worker, status: "rejected", reason: None, payable, voucher_code: code.clone(), approved: 0, given: Vec::new() });
        let index = self.claims.len() - 1;
        let reject = |model: &mut Model, reason: &'static str| {
            model.claims[index].reason = Some(reason);
            model.check_claim(index, &answer.body)
        };
        match shape {
            ClaimShape::WrongCategory => return reject(self, "category_not_eligible"),
            _ if amount > MAX_CLAIM => return reject(self, "above_max_claim"),
            ClaimShape::Late => return reject(self, "claim_too_late"),
            ClaimShape::Ordinary => {}
        }
        let voucher = match code.as_deref().map(|code| self.usable_voucher(worker, code, today)) {
            Some(Err(reason)) => return reject(self, reason),
            Some(Ok(index)) => Some(index),
            None => None,
        };
        let covered = voucher.map_or(0, |v| self.vouchers[v].amount.min(payable));
        if payable > covered && payable > GUIDANCE_ABOVE && !self.workers[worker].guided(today) {
            self.claims[index].status = "awaiting_guidance";
            return self.check_claim(index, &answer.body);
        }
        if !self.workers[worker].has_account {
            return reject(self, "insufficient_budget");
        }
        match self.plan(worker, voucher, payable, today) {
            Some(plan) => self.book(index, voucher, plan),
            None => return reject(self, "insufficient_budget"),
        }
        self.check_claim(index, &answer.body)
    }

    fn apply_session(&mut self, worker: usize, held_on: NaiveDate, answer: &Answer, today: NaiveDate) -> Outcome {
        expect_status(answer, 201, "session")?;
        self.workers[worker].sessions.push(held_on);
        let waiting: Vec<usize> = (0..self.claims.len()).filter(|&i| self.claims[i].worker == worker && self.claims[i].status == "awaiting_guidance").collect();
        // Each waiting claim gets its worker's (possibly empty) account before it is decided.
        if !waiting.is_empty() {
            self.workers[worker].has_account = true;
        }
        let mut approved = Vec::new();
        if self.workers[worker].guided(today) {
            for index in waiting {
                let c = &self.claims[index];
                let voucher = match c.voucher_code.as_deref().map(|code| self.usable_voucher(worker, code, today)) {
                    Some(Err(_)) => continue,
                    Some(Ok(v)) => Some(v),
                    None => None,
                };
                if let Some(plan) = self.plan(worker, voucher, c.payable, today) {
                    self.book(index, voucher, plan);
                    approved.push(self.claims[index].id.clone());
                }
            }
        }
        let answered: Vec<String> = answer.body["claims_approved"]
            .as_array()
            .ok_or_else(|| format!("a session answer without claims_approved: {}", answer.body))?
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect();
        if answered != approved {
            return Err(format!("the session approved {answered:?} where the model expects {approved:?}"));
        }
        for (reply, id) in answer.body["claims_approved"].as_array().into_iter().flatten().zip(&approved) {
            let index = self.claims.iter().position(|c| &c.id == id).ok_or("unknown claim")?;
            self.check_claim(index, reply)?;
        }
        Ok(())
    }

    fn apply_approve(&mut self, index: usize, answer: &Answer, today: NaiveDate) -> Outcome {
        let c = &self.claims[index];
        let approvable = c.status == "awaiting_guidance" || (c.status == "rejected" && c.reason == Some("insufficient_budget"));
        if !approvable {
            return expect_status(answer, 409, &format!("approving a {} claim ({:?})", c.status, c.reason));
        }
        let worker = c.worker;
        let voucher = match c.voucher_code.as_deref().map(|code| self.usable_voucher(worker, code, today)) {
            Some(Err(_)) => return expect_status(answer, 409, "approving a claim whose voucher cannot be used"),
            Some(Ok(v)) => Some(v),
            None => None,
        };
        let plan = self.workers[worker].has_account.then(|| self.plan(worker, voucher, self.claims[index].payable, today)).flatten();
        let Some(plan) = plan else {
            return expect_status(answer, 409, "approving a claim the budget cannot cover");
        };
        expect_status(answer, 200, "approve")?;
        self.book(index, voucher, plan);
        self.check_claim(index, &answer.body)
    }

    fn check_claim(&self, index: usize, body: &Value) -> Outcome {
        let c = &self.claims[index];
        let status = body["status"].as_str().unwrap_or_default();
        let reason = body["rejection_reason"].as_str();
        let approved = body["approved_amount"].as_str().map(|_| cents(&body["approved_amount"])).unwrap_or(-1);
        if body["id"].as_str() != Some(c.id.as_str()) || status != c.status || reason != c.reason || approved != c.approved {
            return Err(format!(
                "claim answered {status} {reason:?} {approved}; the model expects {} {:?} {} ({body})",
                c.status, c.reason, c.approved
            ));
        }
        Ok(())
    }

    /// Every worker's budget as the service shows it, against the model.
    async fn check_budgets(&self, app: &TestApp, today: NaiveDate) -> Outcome {
        for (n, w) in self.workers.iter().enumerate() {
            let budget = app.budget(&self.fund, &w.id).await;
            let accounts = budget["accounts"].as_array().cloned().unwrap_or_default();
            if accounts.len() != usize::from(w.has_account) {
                return Err(format!("worker {n}: {} accounts where the model has {}", accounts.len(), u8::from(w.has_account)));
            }
            let Some(account) = accounts.first() else { continue };
            let lapse = w.lapse_pending(today);
            let figures = [
                ("available", w.lots.iter().map(|l| l.available).sum::<i64>() - lapse),
                ("lapse_pending", lapse),
                ("reserved", w.lots.iter().map(|l| l.reserved).sum()),
                ("granted", w.granted),
                ("spent", w.spent),
                ("expired", w.expired),
            ];
            for (name, expected) in figures {
                let shown = cents(&account[name]);
                if shown != expected {
                    return Err(format!("worker {n}: {name} is {shown} where the model has {expected}; account {account}"));
                }
                if shown < 0 {
                    return Err(format!("worker {n}: {name} below zero"));
                }
            }
            let shown: BTreeMap<String, (i64, i64, i64)> = account["lots"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| (l["id"].as_str().unwrap_or_default().to_string(), (cents(&l["amount"]), cents(&l["available"]), cents(&l["reserved"]))))
                .collect();
            let modelled: BTreeMap<String, (i64, i64, i64)> = w.lots.iter().map(|l| (l.id.clone(), (l.amount, l.available, l.reserved))).collect();
            if shown != modelled {
                return Err(format!("worker {n}: lots {shown:?} where the model has {modelled:?}"));
            }
        }
        Ok(())
    }

    /// What a run did, so that a passing run shows it exercised the rules.
    fn summary(&self) -> String {
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for c in &self.claims {
            *by_status.entry(format!("{}{}", c.status, c.reason.map(|r| format!("/{r}")).unwrap_or_default())).or_default() += 1;
        }
        let mut vouchers: BTreeMap<String, usize> = BTreeMap::new();
        for v in &self.vouchers {
            *vouchers.entry(format!("{:?}", v.state).to_lowercase()).or_default() += 1;
        }
        let lots: usize = self.workers.iter().map(|w| w.lots.len()).sum();
        let expired: i64 = self.workers.iter().map(|w| w.expired).sum();
        format!("  claims {by_status:?}; vouchers {vouchers:?}; {lots} lots; {} lapsed", money(expired))
    }

    /// The report's guidance matrix for the current month, for the back office (unsuppressed).
    async fn check_matrix(&self, app: &TestApp) -> Outcome {
        let real_today = ptt_ledger::domain::time::today();
        let month = real_today.format("%Y-%m").to_string();
        let year_first = NaiveDate::from_ymd_opt(real_today.year(), 1, 1).expect("date");
        let next_month = real_today.with_day(1).and_then(|d| d.checked_add_months(chrono::Months::new(1))).expect("date");
        let mut matrix = [0i64; 4];
        for w in self.workers.iter().filter(|w| w.granted > 0) {
            let coached = w.sessions.iter().any(|d| *d >= year_first && *d < next_month);
            let spent = w.spent > 0;
            matrix[match (coached, spent) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }] += 1;
        }
        let report = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", self.fund.id), &self.fund.admin).await;
        let g = &report.body["guidance"];
        let shown = [&g["coached_and_spent"], &g["coached_not_spent"], &g["spent_not_coached"], &g["neither"]].map(|v| v.as_i64().unwrap_or(-1));
        if shown != matrix {
            return Err(format!("guidance matrix {shown:?} where the model has {matrix:?}"));
        }
        Ok(())
    }
}

async fn send(client: reqwest::Client, address: String, (method, path, token, body): (Method, String, String, Value)) -> Answer {
    let response = client.request(method, format!("{address}{path}")).bearer_auth(token).json(&body).send().await.expect("request sent");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Answer { status, body }
}

/// Where a run failed: the step's index and what differed.
#[derive(Debug)]
struct Failure {
    step: usize,
    message: String,
}

async fn setup(app: &TestApp) -> Model {
    let fund = app.create_fund("model").await;
    let body = json!({
        "code": "ptt", "name": "PTT", "annual_amount": money(ANNUAL), "max_balance": money(MAX_BALANCE),
        "validity_years": VALIDITY_YEARS, "eligible_categories": ["vakopleiding", "loopbaan"], "max_claim_amount": money(MAX_CLAIM),
        "allow_partial": true, "guidance_required_above": money(GUIDANCE_ABOVE), "guidance_window_days": GUIDANCE_WINDOW_DAYS,
        "funding_pct": FUNDING_PCT, "claim_deadline_days": DEADLINE_DAYS, "effective_from": "2000-01-01"
    });
    let scheme = app.create_scheme(&fund, body).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        let id = app.create_worker(&fund, &employer, &format!("M-{n}")).await;
        workers.push(Worker { id, ..Worker::default() });
    }
    let coach = app.token(Role::Coach, Some(&fund.id), None, None);
    Model { fund, scheme, coach, workers, vouchers: Vec::new(), claims: Vec::new(), invoices: 0 }
}

/// Runs a sequence on a fresh service; `Err` names the first step whose outcome or aftermath
/// differs from the model.
async fn run(backend: Backend, ops: &[Op]) -> Result<(), Failure> {
    let app = spawn_app(backend).await;
    let mut model = setup(&app).await;
    let start = app.today();
    for (step, op) in ops.iter().enumerate() {
        let fail = |message: String| Failure { step, message };
        let today = Model::today(&app);
        match op {
            Op::Advance { days } => {
                // Stay within a few years of today: grant years and dates keep to their ranges.
                if (today - start).num_days() + days < 3 * 366 {
                    app.set_today(&(today + Duration::days(*days)).to_string());
                }
            }
            Op::Together(ops) => {
                let requests: Vec<_> = ops.iter().map(|op| model.request(op, today)).collect();
                let mut tasks = tokio::task::JoinSet::new();
                for (i, request) in requests.iter().enumerate() {
                    if let Some(request) = request.clone() {
                        let (client, address) = (app.client.clone(), app.address.clone());
                        tasks.spawn(async move { (i, send(client, address, request).await) });
                    }
                }
                let mut answers: Vec<Option<Answer>> = (0..ops.len()).map(|_| None).collect();
                while let Some(joined) = tasks.join_next().await {
                    let (i, answer) = joined.expect("request task");
                    answers[i] = Some(answer);
                }
                for (op, answer) in ops.iter().zip(&answers) {
                    if let Some(answer) = answer {
                        model.apply(op, answer, today).map_err(fail)?;
                    }
                }
            }
            op => {
                if let Some(request) = model.request(op, today) {
                    let answer = send(app.client.clone(), app.address.clone(), request).await;
                    model.apply(op, &answer, today).map_err(fail)?;
                }
            }
        }
        let today = Model::today(&app);
        model.check_budgets(&app, today).await.map_err(fail)?;
        let report = app.verify(&model.fund).await;
        if report["ok"] != true {
            return Err(fail(format!("verify: {report}")));
        }
        if step % 10 == 9 || step + 1 == ops.len() {
            model.check_matrix(&app).await.map_err(fail)?;
        }
    }
    eprintln!("{}", model.summary());
    Ok(())
}

/// The shortest sequence found that still fails: the failing prefix, then without each earlier
/// step that the failure does not need (a bounded number of reruns).
async fn shrink(backend: Backend, ops: &[Op], failure: Failure) -> (Vec<Op>, Failure) {
    let mut best: Vec<Op> = ops[..=failure.step].to_vec();
    let mut best_failure = failure;
    let mut reruns = 0;
    let mut i = 0;
    while i + 1 < best.len() && reruns < 40 {
        let mut candidate = best.clone();
        candidate.remove(i);
        reruns += 1;
        match run(backend, &candidate).await {
            Err(f) => {
                best = candidate[..=f.step].to_vec();
                best_failure = f;
            }
            Ok(()) => i += 1,
        }
    }
    (best, best_failure)
}

fn settings() -> (Vec<u64>, usize) {
    let seeds = std::env::var("PTT_MODEL_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| MODEL_SEEDS.to_vec());
    let steps = std::env::var("PTT_MODEL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(MODEL_STEPS);
    (seeds, steps)
}

async fn model_run(backend: Backend) {
    let (seeds, steps) = settings();
    for seed in seeds {
        let ops = sequence(seed, steps);
        if let Err(failure) = run(backend, &ops).await {
            let (shortest, failure) = shrink(backend, &ops, failure).await;
            let listing: Vec<String> = shortest.iter().enumerate().map(|(i, op)| format!("  {i:>3}: {op:?}")).collect();
            panic!(
                "model test failed on {backend:?}, seed {seed}, at step {} of the shortest sequence found ({} steps):\n{}\n{}",
                failure.step,
                shortest.len(),
                listing.join("\n"),
                failure.message
            );
        }
        eprintln!("model test on {backend:?}: seed {seed}, {steps} steps: ok");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_follows_its_model_on_sqlite() {
    model_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_follows_its_model_on_postgres() {
    match crate::helpers::postgres_configured() {
        true => model_run(Backend::Postgres).await,
        false => eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped"),
    }
}
