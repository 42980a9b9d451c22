//! `ptt-ledger demo`: a realistic fund with three years of history, for trying the service and
//! for benchmarks. Employers of 1 to 500 workers in sectors of different sizes, workers with an
//! age and education spread, a grant each January, year-end expiry runs, coaching sessions with
//! follow-ups, vouchers (used, cancelled, lapsed) and claims (paid, reversed, waiting for
//! guidance) spread through the years. As the funds observe, uptake is lower among `praktisch`
//! workers and higher with guidance.
//!
//! Every entry is recorded at its simulated moment (`time::at_moment`), one worker's history in
//! the order it happened: so the trend, the comparisons and past months' reports show
//! something. Two writers (`Writer`): the default plays each worker in memory with the ledger's
//! own row builders and rules (`simulate`) and inserts the rows in bulk (`write`), 100,000
//! workers within a minute; the other calls the ledger's functions one action at a time, as the
//! service does. The same seed gives the same fund either way (a test compares every month's
//! report), and `verify` checks the result.

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::queries::{self, Inserted};
use crate::db::rows::{EmployerRow, FundRow, SchemeRow, SchemeVersionRow, WorkerRow};
use crate::db::DbConn;
use crate::ledger::write_tx;
use crate::domain::scheme::SchemeRules;
use crate::domain::status::{ClaimStatus, SessionKind, VoucherStatus};
use crate::domain::time::{at_moment, now_utc};
use crate::domain::{Amount, EmployerId, FundId, Money, SchemeId, WorkerId};
use crate::ledger::claims::{pay, reverse, submit, ClaimError, ClaimRequest};
use crate::ledger::grants::{grant_many, GrantRequest};
use crate::ledger::coaching::{record_session, SessionRequest};
use crate::ledger::vouchers::{close, issue, VoucherRequest};

mod simulate;
mod write;

/// Workers per database transaction.
pub const DEMO_BATCH_WORKERS: usize = 500;
const CATEGORIES: [&str; 4] = ["vakopleiding", "loopbaan", "digitaal", "vitaliteit"];
const PROVIDERS: usize = 60;
const ACTOR: &str = "demo";
/// Who records the demo's coaching sessions (and so decides the claims they let through).
const COACH: &str = "demo-coach";

#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub fund_id: FundId,
    pub workers: usize,
    pub employers: usize,
    pub claims: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("a fund with code {0:?} exists already; choose another --fund-code")]
    FundExists(String),
    #[error("demo data could not be written: {0}")]
    Write(String),
}

impl From<diesel::result::Error> for DemoError {
    fn from(e: diesel::result::Error) -> DemoError {
        DemoError::Write(e.to_string())
    }
}

fn write_err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Write(e.to_string())
}

/// Sectors and their share of the employers, in percent: metalworking is the largest.
const SECTOR_SHARES: [(&str, u32); 5] = [("metaal", 38), ("installatie", 24), ("elektrotechniek", 18), ("uitzendwerk", 12), ("grafimedia", 8)];

/// Employer sizes from 1 to 500 workers, most of them small (as in the sectors), adding up to
/// `workers`; with a sector each.
fn employers(rng: &mut StdRng, workers: usize) -> Vec<(EmployerId, usize, &'static str)> {
    let mut out = Vec::new();
    let mut placed = 0;
    while placed < workers {
        // Not money: a skewed size, 1 + 499 × u⁴ (mean about 100).
        let u: f64 = rng.random_range(0.0..1.0);
        let size = (1 + (499.0 * u * u * u * u) as usize).min(workers - placed);
        let pick = rng.random_range(0..100);
        let mut acc = 0;
        let sector = SECTOR_SHARES.iter().find(|(_, share)| {
            acc += share;
            pick < acc
        });
        out.push((EmployerId::new(), size, sector.map_or("metaal", |(s, _)| *s)));
        placed += size;
    }
    out
}

/// The instant of a simulated action: `day` at 09:00 UTC (10:00 or 11:00 in Amsterdam), plus
/// `step` seconds to keep one worker's actions of a day in order.
fn moment(day: NaiveDate, step: u32) -> chrono::NaiveDateTime {
    day.and_hms_opt(9, 0, 0).unwrap_or_default() + Duration::seconds(i64::from(step))
}

/// How the demo's worker histories reach the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// Played in memory with the ledger's row builders and rules (`simulate`), the rows of
    /// `batch_workers` workers inserted in bulk per database transaction: the default
    /// (`Writer::BULK`), 100,000 workers within a minute.
    Bulk { batch_workers: usize },
    /// Every action through the ledger's own functions, as the service runs them: slow, kept
    /// as the reference the bulk path is tested against.
    Ledger,
}

impl Writer {
    pub const BULK: Writer = Writer::Bulk { batch_workers: BULK_BATCH_WORKERS };
}

/// Builds the demo fund in bulk. `progress(done, total)` is told about workers.
pub fn build(conn: &mut DbConn, code: &str, worker_count: usize, seed: u64, today: NaiveDate, progress: &mut dyn FnMut(usize, usize)) -> Result<DemoSummary, DemoError> {
    build_with(std::slice::from_mut(conn), Writer::BULK, code, worker_count, seed, today, progress)
}

/// Builds the demo fund with the given writer: the same seed gives the same fund either way.
/// The bulk writer on PostgreSQL writes on every connection of `conns` at once; everything
/// else uses the first.
pub fn build_with(
    conns: &mut [DbConn],
    writer: Writer,
    code: &str,
    worker_count: usize,
    seed: u64,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<DemoSummary, DemoError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let fund_id = FundId::new();
    let scheme_id = SchemeId::new();
    let first_day = NaiveDate::from_ymd_opt(today.year() - HISTORY_YEARS + 1, 1, 1).unwrap_or(today);
    let employer_list = employers(&mut rng, worker_count.max(1));
    let rules = demo_rules(today)?;
    let version = SchemeVersionRow::new(fund_id, scheme_id, &rules);
    let conn = conns.first_mut().ok_or_else(|| write_err("no database connection"))?;
    at_moment(moment(first_day, 0), || {
        write_tx(conn, |conn| {
            let now = now_utc();
            let fund = FundRow {
                id: fund_id,
                code: code.to_string(),
                name: format!("Demofonds {code}"),
                created_at: now,
                legal_name: Some(format!("Stichting Demofonds {code}")),
                iban: Some(crate::domain::iban::dutch("PTTB", 1)),
                bic: None,
            };
            if queries::insert_fund(conn, &fund)? == Inserted::Duplicate {
                return Err(DemoError::FundExists(code.to_string()));
            }
            let scheme = SchemeRow { id: scheme_id, fund_id, code: "ptt".into(), name: "Persoonlijke TrainingsToelage".into(), created_at: now };
            queries::insert_scheme(conn, &scheme)?;
            queries::insert_scheme_version(conn, &version)?;
            for (i, (id, _, sector)) in employer_list.iter().enumerate() {
                let employer = EmployerRow {
                    id: *id,
                    fund_id,
                    kvk_number: format!("{:08}", 10_000_000 + i),
                    name: format!("Demobedrijf {}", i + 1),
                    sector: sector.to_string(),
                    created_at: now,
                    iban: Some(crate::domain::iban::dutch("PTTB", 1_000_000 + i as u64)),
                };
                queries::insert_employer(conn, &employer)?;
            }
            Ok::<_, DemoError>(())
        })
    })?;
    // Worker i works for the employer whose slice of the worker numbers holds i.
    let employer_of: Vec<EmployerId> = employer_list.iter().flat_map(|(id, size, _)| std::iter::repeat_n(*id, *size)).collect();
    let fund = simulate::Fund { id: fund_id, scheme: scheme_id, version };

    let claims = match writer {
        Writer::Bulk { batch_workers } => write_in_bulk(conns, batch_workers, &fund, &employer_of, &mut rng, today, progress)?,
        Writer::Ledger => {
            let conn = &mut conns[0];
            let (mut claims, mut done) = (0, 0);
            while done < worker_count {
                let batch = DEMO_BATCH_WORKERS.min(worker_count - done);
                claims += write_tx(conn, |conn| {
                    let mut claims = 0;
                    for (i, employer) in employer_of.iter().enumerate().skip(done).take(batch) {
                        let script = script(&mut rng, today);
                        claims += play(conn, fund_id, scheme_id, *employer, i, &script)?;
                    }
                    Ok::<_, DemoError>(claims)
                })?;
                done += batch;
                progress(done, worker_count);
            }
            claims
        }
    };
    Ok(DemoSummary { fund_id, workers: worker_count, employers: employer_list.len(), claims })
}

/// The bulk writer: this thread plays the workers' scripts in memory, batch by batch, while
/// the connections insert the batches before, each batch in its own database transaction.
/// On PostgreSQL every connection writes (the foreign-key checks of the inserts are most of
/// the work, and they run in parallel); on SQLite the first one (one writer at a time, and the
/// feed positions are given in commit order).
fn write_in_bulk(
    conns: &mut [DbConn],
    batch_workers: usize,
    fund: &simulate::Fund,
    employer_of: &[EmployerId],
    rng: &mut StdRng,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<usize, DemoError> {
    let writers = match conns.first() {
        Some(DbConn::Pg(_)) => conns.len(),
        _ => 1,
    };
    let (sender, receiver) = std::sync::mpsc::sync_channel::<simulate::Rows>(writers);
    // Each writer holds the receiving end; when the last one has stopped, sending fails.
    let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
    // Set by a writer that failed: no batch is written after it.
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .iter_mut()
            .take(writers)
            .map(|conn| {
                let (receiver, failed) = (std::sync::Arc::clone(&receiver), &failed);
                scope.spawn(move || -> Result<(), DemoError> {
                    loop {
                        // The lock is held only while waiting for the next batch.
                        let next = receiver.lock().map_err(|_| write_err("a writer panicked"))?.recv();
                        let Ok(mut rows) = next else { return Ok(()) };
                        if failed.load(std::sync::atomic::Ordering::SeqCst) {
                            return Ok(());
                        }
                        if let Err(e) = write_tx(conn, |conn| write::insert(conn, &mut rows)) {
                            failed.store(true, std::sync::atomic::Ordering::SeqCst);
                            return Err(e);
                        }
                    }
                })
            })
            .collect();
        drop(receiver);
        let played = (|| {
            let (mut claims, mut done) = (0, 0);
            for chunk in employer_of.chunks(batch_workers.max(1)) {
                let mut rows = simulate::Rows::default();
                for (offset, employer) in chunk.iter().enumerate() {
                    let i = done + offset;
                    let script = script(rng, today);
                    claims += simulate::play(fund, *employer, i, &script, &mut StdRng::seed_from_u64(i as u64), &mut rows)?;
                }
                done += chunk.len();
                // A writer failed (its error is reported below), or all have stopped.
                if failed.load(std::sync::atomic::Ordering::SeqCst) || sender.send(rows).is_err() {
                    break;
                }
                progress(done, employer_of.len());
            }
            Ok::<_, DemoError>(claims)
        })();
        drop(sender);
        let mut outcome = played;
        for handle in handles {
            let written = handle.join().unwrap_or_else(|_| Err(write_err("a writer panicked")));
            if let (Ok(_), Err(e)) = (&outcome, written) {
                outcome = Err(e);
            }
        }
        outcome
    })
}

/// Workers per database transaction of the bulk writer: rows of a few thousand workers are
/// held in memory at a time.
const BULK_BATCH_WORKERS: usize = 5_000;

/// Why the demo reverses a claim.
const REVERSAL_REASON: &str = "cursus geannuleerd";

/// A voucher of the script, its details drawn from the worker's own random stream.
fn voucher_request(rng: &mut StdRng, worker_id: WorkerId, scheme_id: SchemeId, cents: i64, valid_until: NaiveDate) -> Result<VoucherRequest, DemoError> {
    Ok(VoucherRequest {
        worker_id,
        scheme_id,
        amount: Amount::from_cents(cents).ok_or_else(|| write_err("amount"))?,
        course: "Demo-cursus".into(),
        provider: provider(rng),
        valid_until,
        provider_id: None,
    })
}

/// A claim of the script, its details drawn from the worker's own random stream.
#[allow(clippy::too_many_arguments)]
fn claim_request(
    rng: &mut StdRng,
    worker_id: WorkerId,
    scheme_id: SchemeId,
    index: usize,
    n: usize,
    cents: i64,
    training_end: NaiveDate,
    voucher_code: Option<String>,
) -> Result<ClaimRequest, DemoError> {
    let category = if rng.random_range(0..100) < 5 { "taal" } else { CATEGORIES[rng.random_range(0..CATEGORIES.len())] };
    Ok(ClaimRequest {
        worker_id,
        scheme_id,
        amount: Amount::from_cents(cents).ok_or_else(|| write_err("amount"))?,
        category: category.into(),
        course: format!("Demo-opleiding {}", rng.random_range(1..200)),
        provider: provider(rng),
        invoice_reference: format!("DEMO-{index}-{n}"),
        training_start: training_end - Duration::days(rng.random_range(1..60)),
        training_end,
        voucher_code,
        evidence_reference: None,
        provider_id: None,
    })
}

/// The demo scheme's rules: a PTT of 750 a year, guidance above 500, half of each invoice paid.
fn demo_rules(today: NaiveDate) -> Result<SchemeRules, DemoError> {
    let amount = |cents: i64| Amount::from_cents(cents).ok_or_else(|| write_err("demo amount out of range"));
    Ok(SchemeRules {
        annual_amount: amount(75_000)?,
        max_balance: amount(225_000)?,
        validity_years: 2,
        eligible_categories: CATEGORIES.map(String::from).to_vec(),
        max_claim_amount: amount(150_000)?,
        allow_partial: true,
        guidance_required_above: Money::from_cents(50_000),
        guidance_window_days: 365,
        funding_pct: 50,
        claim_deadline_days: 120,
        effective_from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today),
        provider_policy: Default::default(),
        payee: Default::default(),
        review_above: None,
    })
}

/// Years of history: this one and the two before it.
const HISTORY_YEARS: i32 = 3;

/// What happens to a worker, one step at a time; indexes name the worker's earlier vouchers and
/// claims.
#[derive(Clone, Debug)]
enum Action {
    Register { education: Option<&'static str>, birth_year: Option<i32> },
    Grant(i32),
    YearEnd,
    Session(SessionKind),
    Voucher { n: usize, cents: i64, valid_until: NaiveDate },
    CancelVoucher(usize),
    ExpireVoucher(usize),
    Claim { n: usize, cents: i64, training_end: NaiveDate, voucher: Option<usize> },
    Pay(usize),
    Reverse(usize),
}

/// A worker's history as dated actions, in the order they happen (never after `today`).
fn script(rng: &mut StdRng, today: NaiveDate) -> Vec<(NaiveDate, Action)> {
    let education = match rng.random_range(0..100) {
        0..35 => "praktisch",
        35..80 => "middelbaar",
        _ => "theoretisch",
    };
    let birth_year = today.year() - rng.random_range(18..66);
    // Most workers have been in the fund all three years; some joined later.
    let first_year = today.year() - rng.random_range(0..HISTORY_YEARS);
    let joined = if first_year == today.year() - HISTORY_YEARS + 1 {
        NaiveDate::from_ymd_opt(first_year, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first_year, 1, 1).map(|d| d + Duration::days(rng.random_range(0..60)))
    }
    .unwrap_or(today)
    .min(today);
    let mut plan = vec![(
        joined,
        Action::Register {
            education: (rng.random_range(0..25) > 0).then_some(education),
            birth_year: (rng.random_range(0..20) > 0).then_some(birth_year),
        },
    )];
    // A third is coached, more often with a practical education than the budget alone reaches;
    // coaching doubles the chance of spending.
    let coached = rng.random_range(0..100) < 30;
    let base = match education {
        "praktisch" => 10,
        "middelbaar" => 20,
        _ => 28,
    };
    let chance = if coached { (base * 2).min(85) } else { base };
    let (mut vouchers, mut claims) = (0, 0);
    for year in first_year..=today.year() {
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
        if year > first_year {
            plan.push((jan1, Action::YearEnd));
        }
        plan.push((jan1.max(joined), Action::Grant(year)));
        let last = if year == today.year() { today } else { NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today) };
        let span = (last - jan1.max(joined)).num_days().max(1);
        let day = |rng: &mut StdRng| jan1.max(joined) + Duration::days(rng.random_range(0..span));
        if coached && rng.random_range(0..100) < 70 {
            let held = day(rng);
            let kind = if year == first_year { SessionKind::Intake } else { SessionKind::Loopbaangesprek };
            plan.push((held, Action::Session(kind)));
            if rng.random_range(0..2) == 0 {
                plan.push((held + Duration::days(rng.random_range(45..120)), Action::Session(SessionKind::FollowUp)));
            }
        }
        if rng.random_range(0..100) < 6 {
            let issued = day(rng);
            let valid_until = issued + Duration::days(rng.random_range(30..200));
            let cents = rng.random_range(100..400) * 100;
            plan.push((issued, Action::Voucher { n: vouchers, cents, valid_until }));
            match rng.random_range(0..3) {
                0 => plan.push((issued + Duration::days(rng.random_range(5..25)), Action::CancelVoucher(vouchers))),
                1 => {
                    let used = issued + Duration::days(rng.random_range(10..25));
                    plan.push((used, Action::Claim { n: claims, cents: cents * 2, training_end: used - Duration::days(5), voucher: Some(vouchers) }));
                    claims += 1;
                }
                _ => plan.push((valid_until + Duration::days(1), Action::ExpireVoucher(vouchers))),
            }
            vouchers += 1;
        }
        if rng.random_range(0..100) < chance {
            for _ in 0..rng.random_range(1..3) {
                let submitted = day(rng);
                let training_end = submitted - Duration::days(rng.random_range(5..60));
                plan.push((submitted, Action::Claim { n: claims, cents: rng.random_range(80..1600) * 100, training_end, voucher: None }));
                match rng.random_range(0..100) {
                    0..3 => plan.push((submitted + Duration::days(rng.random_range(10..60)), Action::Reverse(claims))),
                    3..80 => plan.push((submitted + Duration::days(rng.random_range(3..30)), Action::Pay(claims))),
                    _ => {}
                }
                claims += 1;
            }
        }
    }
    plan.retain(|(day, _)| *day <= today);
    // Stable: a day's actions keep the order they were planned in (a voucher before its claim).
    plan.sort_by_key(|(day, _)| *day);
    plan
}

/// Plays a worker's script through the ledger, each action at its simulated moment. Actions a
/// rule refuses (a voucher the budget cannot cover) are skipped, as a back office would see them
/// refused. Returns the number of claims.
fn play(conn: &mut DbConn, fund_id: FundId, scheme_id: SchemeId, employer: EmployerId, index: usize, script: &[(NaiveDate, Action)]) -> Result<usize, DemoError> {
    let id = WorkerId::new();
    let mut vouchers: Vec<Option<crate::db::rows::VoucherRow>> = Vec::new();
    let mut claims: Vec<Option<crate::db::rows::ClaimRow>> = Vec::new();
    let mut rng = StdRng::seed_from_u64(index as u64);
    for (step, (day, action)) in script.iter().enumerate() {
        let day = *day;
        at_moment(moment(day, step as u32), || -> Result<(), DemoError> {
            match action {
                Action::Register { education, birth_year } => {
                    let row = WorkerRow {
                        id,
                        fund_id,
                        participant_number: format!("D{index:07}"),
                        employer_id: employer,
                        birth_year: *birth_year,
                        education_level: education.map(str::to_string),
                        created_at: now_utc(),
                    };
                    crate::ledger::employment::register_worker(conn, &row, day).map_err(write_err)?;
                }
                Action::Grant(year) => {
                    let grant = GrantRequest { worker_id: id, scheme_id, amount: None, grant_year: *year, recorded_at: None };
                    grant_many(conn, fund_id, ACTOR, &[grant], day).map_err(|e| write_err(e.error))?;
                }
                Action::YearEnd => {
                    if let Some(account) = crate::ledger::vouchers::find_account(conn, id, scheme_id)? {
                        crate::ledger::expiry::lapse_account(conn, account, ACTOR, day).map_err(write_err)?;
                    }
                }
                Action::Session(kind) => {
                    let request = SessionRequest { worker_id: id, held_on: day, duration_minutes: 45, kind: *kind, voucher_id: None, claim_id: None };
                    record_session(conn, fund_id, COACH, &request, day).map_err(write_err)?;
                }
                Action::Voucher { n, cents, valid_until } => {
                    let request = voucher_request(&mut rng, id, scheme_id, *cents, *valid_until)?;
                    vouchers.resize(n + 1, None);
                    vouchers[*n] = issue(conn, fund_id, ACTOR, &request, day).ok();
                }
                Action::CancelVoucher(n) | Action::ExpireVoucher(n) => {
                    let status = if matches!(action, Action::CancelVoucher(_)) { VoucherStatus::Cancelled } else { VoucherStatus::Expired };
                    if let Some(Some(voucher)) = vouchers.get(*n) {
                        // Refused when a claim used it meanwhile: nothing to close.
                        let _ = close(conn, fund_id, voucher.id, ACTOR, day, status);
                    }
                }
                Action::Claim { n, cents, training_end, voucher } => {
                    let code = voucher.and_then(|v| vouchers.get(v).cloned().flatten()).map(|v| v.code);
                    let request = claim_request(&mut rng, id, scheme_id, index, *n, *cents, *training_end, code)?;
                    claims.resize(n + 1, None);
                    claims[*n] = Some(submit(conn, fund_id, None, ACTOR, &request, day).map_err(write_err)?);
                }
                Action::Pay(n) | Action::Reverse(n) => {
                    let Some(Some(claim)) = claims.get(*n) else { return Ok(()) };
                    // Only what is approved by now (a claim may still wait for guidance).
                    let current = crate::ledger::claims::find_claim(conn, fund_id, claim.id)?;
                    if current.is_some_and(|c| c.status == ClaimStatus::Approved) {
                        let tag = format!("{index}-{n}");
                        if matches!(action, Action::Pay(_)) {
                            pay(conn, fund_id, claim.id, &format!("SEPA-DEMO-{tag}"), "demo").map_err(write_err)?;
                        } else {
                            reverse(conn, fund_id, claim.id, REVERSAL_REASON, ACTOR, day).map_err(|e: ClaimError| write_err(e))?;
                        }
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(claims.len())
}

/// A provider, skewed so that a few large ones get much of the spending.
fn provider(rng: &mut StdRng) -> String {
    let u: f64 = rng.random_range(0.0..1.0);
    // Not money: a skewed index into the provider list.
    let index = ((u * u * u) * PROVIDERS as f64) as usize;
    format!("Opleider {:02}", index + 1)
}
