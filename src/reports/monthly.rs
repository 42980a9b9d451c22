//! The monthly board report: how far budgets are used, by whom, and whether guidance was given.
//!
//! Every figure comes from entries recorded before the month's end (Europe/Amsterdam), so a
//! month's report is the same whenever it is run. An entry falls in the month it was recorded;
//! back-dated entries (an effective date before the month) are counted there and said so.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use diesel::QueryResult;
use serde::Serialize;

use crate::db::report_queries::{self as query, AccountSums, Windows};
use crate::db::{read_tx, DbConn};
use crate::domain::{format_cents, FundId};
use crate::domain::time::{amsterdam_day_start_utc, rfc3339};
use crate::db::ledger_reads::fund_digest_at;
use super::board;

/// Cells of a breakdown with fewer workers than this are suppressed for the board.
pub const MIN_CELL_WORKERS: i64 = 5;
/// Months in the trend.
pub const TREND_MONTHS: u32 = 12;
/// Providers counted for the concentration signal.
pub const TOP_PROVIDERS: usize = 10;

/// A month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub first_day: NaiveDate,
}

impl Month {
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let first_day = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?;
        let digits = year.bytes().chain(month.bytes()).all(|b| b.is_ascii_digit());
        (digits && crate::domain::time::year_in_range(first_day.year())).then_some(Month { first_day })
    }

    pub fn next(self) -> Month {
        Month { first_day: self.first_day + Months::new(1) }
    }

    pub fn minus(self, months: u32) -> Month {
        Month { first_day: self.first_day - Months::new(months) }
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day.pred_opt().unwrap_or(self.first_day)
    }

    pub fn start_utc(self) -> NaiveDateTime {
        amsterdam_day_start_utc(self.first_day)
    }

    pub fn label(self) -> String {
        self.first_day.format("%Y-%m").to_string()
    }
}

/// Whether small cells are hidden: for the board yes, for the back office no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Board,
    BackOffice,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Flows {
    pub granted: String,
    pub spent: String,
    pub reversed: String,
    pub expired: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Positions {
    pub available: String,
    pub reserved: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Utilisation {
    pub granted_ytd: String,
    pub spent_ytd: String,
    /// Net spent ÷ granted in the year to date, in percent with one decimal; null when nothing was granted.
    pub utilisation_ytd_pct: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Workers {
    /// Counts of workers; for the board null when 1 to 4.
    pub eligible: Option<i64>,
    pub with_budget: Option<i64>,
    pub spent_month: Option<i64>,
    pub spent_ytd: Option<i64>,
    pub coached_ytd: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Guidance {
    pub coached_and_spent: Option<i64>,
    pub coached_not_spent: Option<i64>,
    pub spent_not_coached: Option<i64>,
    pub neither: Option<i64>,
    pub uptake_with_guidance_pct: Option<String>,
    pub uptake_without_guidance_pct: Option<String>,
    pub suppressed: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    pub key: String,
    pub label: String,
    pub suppressed: bool,
    pub workers: Option<i64>,
    pub workers_spent_ytd: Option<i64>,
    pub workers_coached_ytd: Option<i64>,
    pub granted_ytd: Option<String>,
    pub spent_ytd: Option<String>,
    pub utilisation_ytd_pct: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breakdowns {
    pub scheme: Vec<Cell>,
    pub employer: Vec<Cell>,
    pub sector: Vec<Cell>,
    pub age_band: Vec<Cell>,
    pub education_level: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub month: String,
    pub granted: String,
    pub spent: String,
    pub expired: String,
    /// Workers with a spend in the month; for the board null when 1 to 4.
    pub workers_spent: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lapsing {
    pub until: String,
    /// For the board null when 1 to 4, and then the amount too (it would be theirs).
    pub workers: Option<i64>,
    pub amount: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Signals {
    pub lapsing_next_3_months: Lapsing,
    pub providers: i64,
    /// Share of net spending in the year to date that went to the 10 largest providers.
    pub top10_provider_share_pct: Option<String>,
}

/// Money on its way out, and objections waiting, at the month's end. For the board a count of 1
/// to 4 is null, and so is its money.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Payments {
    /// Approved claims not yet paid (nor reversed) at the month's end.
    pub approved_unpaid_claims: Option<i64>,
    pub approved_unpaid: Option<String>,
    /// Claims paid during the month.
    pub paid_month_claims: Option<i64>,
    pub paid_month: Option<String>,
    /// Objections filed and not yet decided at the month's end.
    pub objections_open: Option<i64>,
    /// Claims under review at the month's end, and the money held for them.
    pub under_review_claims: Option<i64>,
    pub under_review: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Backdated {
    pub transactions: i64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Digest {
    pub at: String,
    pub value: String,
    pub accounts: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthlyReport {
    pub fund_id: FundId,
    pub month: String,
    pub period_start: String,
    pub period_end: String,
    pub small_cells_suppressed: bool,
    /// True while the month has not ended: its figures still move.
    pub provisional: bool,
    pub flows: Flows,
    pub positions: Positions,
    pub utilisation: Utilisation,
    pub workers: Workers,
    pub guidance: Guidance,
    pub breakdowns: Breakdowns,
    pub trend: Vec<TrendPoint>,
    pub signals: Signals,
    /// Uptake with and without guidance per segment (DESIGN: the question by segment).
    pub guidance_by_segment: board::GuidanceBySegment,
    pub guided_before_first_spend: board::GuidedBeforeFirstSpend,
    /// One sentence in Dutch: the main finding.
    pub headline: String,
    /// What the numbers cannot show.
    pub caveat: String,
    pub comparison: board::Comparison,
    pub actions: board::Actions,
    pub providers: board::Providers,
    pub payments: Payments,
    pub backdated: Backdated,
    pub digest: Digest,
}

/// A count as the audience may see it: for the board, 1 to 4 is withheld (null).
pub fn shown_count(n: i64, audience: Audience) -> Option<i64> {
    (audience == Audience::BackOffice || !(1..MIN_CELL_WORKERS).contains(&n)).then_some(n)
}

/// A percentage with one decimal from a ratio of integers, rounded half up; `None` for 0/0.
pub fn pct(part: i64, whole: i64) -> Option<String> {
    if whole <= 0 {
        return None;
    }
    let tenths = (part * 1000 * 2 + whole) / (whole * 2);
    Some(format!("{}.{}", tenths / 10, tenths % 10))
}

pub(crate) fn age_band(report_year: i32, birth_year: Option<i32>) -> (&'static str, &'static str) {
    match birth_year.map(|b| report_year - b) {
        Some(age) if age < 35 => ("under_35", "jonger dan 35"),
        Some(age) if age < 55 => ("35_54", "35 tot 55"),
        Some(_) => ("55_plus", "55 en ouder"),
        None => ("unknown", "onbekend"),
    }
}

pub(crate) fn education_label(level: Option<&str>) -> (String, String) {
    match level {
        Some(level) => (level.to_string(), level.to_string()),
        None => ("unknown".into(), "onbekend".into()),
    }
}

/// What one worker did, summed over its accounts.
#[derive(Default, Clone)]
struct WorkerYear {
    granted_ytd: i64,
    net_spent_ytd: i64,
    spent_month: i64,
    has_budget: bool,
    coached: bool,
}

#[derive(Default)]
struct CellAcc {
    label: String,
    workers: i64,
    spent_workers: i64,
    coached_workers: i64,
    granted: i64,
    spent: i64,
}

impl CellAcc {
    fn add(&mut self, w: &WorkerYear, granted: i64, spent: i64) {
        self.workers += 1;
        self.spent_workers += i64::from(w.net_spent_ytd > 0);
        self.coached_workers += i64::from(w.coached);
        self.granted += granted;
        self.spent += spent;
    }
}

fn cells(map: BTreeMap<String, CellAcc>, audience: Audience) -> Vec<Cell> {
    let mut out: Vec<Cell> = map
        .into_iter()
        .map(|(key, c)| Cell {
            key,
            label: c.label,
            suppressed: false,
            workers: Some(c.workers),
            workers_spent_ytd: Some(c.spent_workers),
            workers_coached_ytd: Some(c.coached_workers),
            granted_ytd: Some(format_cents(c.granted)),
            spent_ytd: Some(format_cents(c.spent)),
            utilisation_ytd_pct: pct(c.spent, c.granted),
        })
        .collect();
    if audience == Audience::Board {
        suppress_small(&mut out);
    }
    out
}

/// Hides cells of fewer than `MIN_CELL_WORKERS` workers, or with a count of spenders or coached
/// workers from 1 to `MIN_CELL_WORKERS - 1` (a few people's spending would be theirs to see),
/// and when that hides exactly one cell, also the next smallest, so that no hidden cell is the
/// total minus the visible ones.
fn suppress_small(cells: &mut [Cell]) {
    let few = |n: Option<i64>| (1..MIN_CELL_WORKERS).contains(&n.unwrap_or(0));
    let small = |c: &Cell| c.workers.unwrap_or(0) < MIN_CELL_WORKERS || few(c.workers_spent_ytd) || few(c.workers_coached_ytd);
    let hidden = cells.iter().filter(|c| small(c)).count();
    if hidden == 1 && cells.len() > 1 {
        let next = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !small(c))
            .min_by_key(|(_, c)| c.workers.unwrap_or(0))
            .map(|(i, _)| i);
        if let Some(i) = next {
            hide(&mut cells[i]);
        }
    }
    for cell in cells.iter_mut().filter(|c| small(c)) {
        hide(cell);
    }
}

fn hide(cell: &mut Cell) {
    *cell = Cell {
        key: std::mem::take(&mut cell.key),
        label: std::mem::take(&mut cell.label),
        suppressed: true,
        workers: None,
        workers_spent_ytd: None,
        workers_coached_ytd: None,
        granted_ytd: None,
        spent_ytd: None,
        utilisation_ytd_pct: None,
    };
}

/// Memory PostgreSQL may use for the report's sorts and hashes (per operation, this transaction
/// only): enough to group 100,000 accounts without spilling to disk.
pub const REPORT_PG_WORK_MEM: &str = "64MB";

/// Computes the report for a fund and month, in one read snapshot.
pub fn monthly_report(conn: &mut DbConn, fund_id: FundId, month: Month, audience: Audience) -> QueryResult<MonthlyReport> {
    read_tx(conn, |conn| {
        query::allow_report_memory(conn, REPORT_PG_WORK_MEM)?;
        compute(conn, fund_id, month, audience)
    })
}

fn compute(conn: &mut DbConn, fund_id: FundId, month: Month, audience: Audience) -> QueryResult<MonthlyReport> {
    let year_first = NaiveDate::from_ymd_opt(month.first_day.year(), 1, 1).unwrap_or(month.first_day);
    let windows = Windows {
        month_start: month.start_utc(),
        year_start: amsterdam_day_start_utc(year_first),
        end: month.next().start_utc(),
        month_first_day: month.first_day,
    };
    let started = std::time::Instant::now();
    let lap = |what: &str| tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "report: {what}");
    let sums = query::account_sums(conn, fund_id, &windows)?;
    lap("account sums");
    let owners: HashMap<String, (String, String)> =
        query::account_owners(conn, fund_id)?.into_iter().map(|o| (o.id, (o.worker_id, o.scheme_id))).collect();
    let owner = |s: &AccountSums| owners.get(&s.account_id).cloned().unwrap_or_default();
    let workers = query::workers(conn, fund_id, windows.end, month.last_day())?;
    let employer_spending = query::spending_by_claim_employer(conn, fund_id, windows.year_start, windows.end)?;
    // Each coached worker's first session of the year: who was coached, and when it began.
    let first_sessions: HashMap<String, NaiveDate> =
        query::first_sessions(conn, fund_id, year_first, month.last_day(), windows.end)?.into_iter().map(|s| (s.worker_id, s.held_on)).collect();
    let coached: HashSet<String> = first_sessions.keys().cloned().collect();
    let schemes = query::schemes(conn, fund_id)?;
    lap("workers, sessions, schemes");

    let per_worker = worker_years(&sums, &owner, &coached);
    let with_budget: Vec<(&String, &WorkerYear)> = per_worker.iter().filter(|(_, w)| w.has_budget).collect();
    let count = |f: &dyn Fn(&WorkerYear) -> bool| with_budget.iter().filter(|(_, w)| f(w)).count() as i64;
    let guidance = guidance_matrix(&with_budget, audience);

    let population = Population { workers: &workers, employer_spending: &employer_spending };
    let breakdowns = breakdowns(&sums, &owner, population, &per_worker, &schemes, month, audience);
    lap("breakdowns");
    // Every spend from the trend's first month on: the trend's spenders and each worker's first
    // spending of the year come from this one read.
    let spends = query::spends(conn, fund_id, month.minus(TREND_MONTHS).start_utc(), windows.end)?;
    let mut trend = trend(conn, fund_id, month, &owners, &spends, audience)?;
    let comparison = comparison(&trend);
    trend.remove(0);
    lap("trend");
    let (signals, lapsing, provider_spend) = signals(conn, fund_id, month, &windows, audience)?;
    let payment_facts = query::payment_facts(conn, fund_id, windows.month_start, windows.end)?;
    let actions = actions(conn, fund_id, month, &windows, &lapsing, &payment_facts, audience)?;
    lap("signals, payments, actions");
    let mut segments = board::guidance_by_segment(&segment_facts(&workers, &per_worker, month), audience);
    let mut breakdowns = breakdowns;
    if audience == Audience::Board {
        // The segments and the breakdowns count the same workers: what one hides, the other hides too.
        board::suppress_together(&mut segments.education_level, &mut breakdowns.education_level, hide);
        board::suppress_together(&mut segments.age_band, &mut breakdowns.age_band, hide);
        board::suppress_together(&mut segments.sector, &mut breakdowns.sector, hide);
        board::suppress_rows_whole(&mut segments.employer_size);
    }
    let before_first = guided_before_first_spend(&spends, &windows, &first_sessions, &per_worker, &owners);
    let guided_before_first_spend = board::guided_before_first_spend(before_first.0, before_first.1, audience, guidance.suppressed);
    let headline = board::headline(guidance.uptake_with_guidance_pct.as_deref(), guidance.uptake_without_guidance_pct.as_deref(), &segments);
    lap("segments");
    let backdated = query::backdated(conn, fund_id, &windows)?;
    let (digest, accounts) = fund_digest_at(conn, fund_id, windows.end - chrono::Duration::microseconds(1))?;
    lap("digest");

    let (flows, positions, utilisation) = money_totals(&sums);
    Ok(MonthlyReport {
        fund_id,
        month: month.label(),
        period_start: rfc3339(windows.month_start),
        period_end: rfc3339(windows.end),
        small_cells_suppressed: audience == Audience::Board,
        provisional: windows.end > crate::domain::time::now_utc(),
        flows,
        positions,
        utilisation,
        workers: Workers {
            eligible: shown_count(workers.len() as i64, audience),
            with_budget: shown_count(with_budget.len() as i64, audience),
            spent_month: shown_count(count(&|w| w.spent_month > 0), audience),
            spent_ytd: shown_count(count(&|w| w.net_spent_ytd > 0), audience),
            coached_ytd: shown_count(coached.len() as i64, audience),
        },
        guidance,
        breakdowns,
        trend,
        signals,
        guidance_by_segment: segments,
        guided_before_first_spend,
        headline,
        caveat: board::CAVEAT.to_string(),
        comparison,
        actions,
        providers: board::providers(&provider_spend, TOP_PROVIDERS),
        payments: Payments {
            approved_unpaid_claims: shown_count(payment_facts.approved_unpaid_claims, audience),
            approved_unpaid: shown_count(payment_facts.approved_unpaid_claims, audience).map(|_| format_cents(payment_facts.approved_unpaid_cents)),
            paid_month_claims: shown_count(payment_facts.paid_month_claims, audience),
            paid_month: shown_count(payment_facts.paid_month_claims, audience).map(|_| format_cents(payment_facts.paid_month_cents)),
            objections_open: shown_count(payment_facts.objections_open, audience),
            under_review_claims: shown_count(payment_facts.under_review_claims, audience),
            under_review: shown_count(payment_facts.under_review_claims, audience).map(|_| format_cents(payment_facts.under_review_cents)),
        },
        backdated: Backdated {
            transactions: backdated,
            note: format!(
                "{backdated} transaction(s) recorded in {} carry an earlier effective date; they are reported in the month they were recorded",
                month.label()
            ),
        },
        digest: Digest { at: rfc3339(windows.end), value: digest, accounts },
    })
}

/// Per worker, this year's money and whether they were coached.
fn worker_years(sums: &[AccountSums], owner: &dyn Fn(&AccountSums) -> (String, String), coached: &HashSet<String>) -> HashMap<String, WorkerYear> {
    let mut per_worker: HashMap<String, WorkerYear> = HashMap::new();
    for s in sums {
        let w = per_worker.entry(owner(s).0).or_default();
        w.granted_ytd += s.granted_ytd;
        w.net_spent_ytd += s.spent_ytd - s.reversed_ytd;
        w.spent_month += s.spent_month - s.reversed_month;
        w.has_budget |= s.granted_all > 0;
    }
    for (id, w) in per_worker.iter_mut() {
        w.coached = coached.contains(id);
    }
    per_worker
}

/// The board's question: spending with and without guidance, among workers with a budget. For
/// the board, a matrix with a cell below `MIN_CELL_WORKERS` is withheld as a whole.
fn guidance_matrix(with_budget: &[(&String, &WorkerYear)], audience: Audience) -> Guidance {
    let count = |f: &dyn Fn(&WorkerYear) -> bool| with_budget.iter().filter(|(_, w)| f(w)).count() as i64;
    let matrix = [
        count(&|w| w.coached && w.net_spent_ytd > 0),
        count(&|w| w.coached && w.net_spent_ytd <= 0),
        count(&|w| !w.coached && w.net_spent_ytd > 0),
        count(&|w| !w.coached && w.net_spent_ytd <= 0),
    ];
    let hide_matrix = audience == Audience::Board && matrix.iter().any(|&n| n > 0 && n < MIN_CELL_WORKERS);
    let shown = |n: i64| (!hide_matrix).then_some(n);
    Guidance {
        coached_and_spent: shown(matrix[0]),
        coached_not_spent: shown(matrix[1]),
        spent_not_coached: shown(matrix[2]),
        neither: shown(matrix[3]),
        uptake_with_guidance_pct: if hide_matrix { None } else { pct(matrix[0], matrix[0] + matrix[1]) },
        uptake_without_guidance_pct: if hide_matrix { None } else { pct(matrix[2], matrix[2] + matrix[3]) },
        suppressed: hide_matrix,
    }
}

/// The month's flows, the positions at its end and this year's utilisation, over all accounts.
fn money_totals(sums: &[AccountSums]) -> (Flows, Positions, Utilisation) {
    let total = |f: fn(&AccountSums) -> i64| sums.iter().map(f).sum::<i64>();
    let (granted_ytd, spent_ytd, reversed_ytd) = (total(|s| s.granted_ytd), total(|s| s.spent_ytd), total(|s| s.reversed_ytd));
    (
        Flows {
            granted: format_cents(total(|s| s.granted_month)),
            spent: format_cents(total(|s| s.spent_month)),
            reversed: format_cents(total(|s| s.reversed_month)),
            expired: format_cents(total(|s| s.expired_month)),
        },
        Positions { available: format_cents(total(|s| s.available_end)), reserved: format_cents(total(|s| s.reserved_end)) },
        Utilisation {
            granted_ytd: format_cents(granted_ytd),
            spent_ytd: format_cents(spent_ytd - reversed_ytd),
            utilisation_ytd_pct: pct(spent_ytd - reversed_ytd, granted_ytd),
        },
    )
}

/// Who the breakdowns are about: the workers with the employer of the month's end, and the
/// spending per employer that submitted the claims.
#[derive(Clone, Copy)]
struct Population<'a> {
    workers: &'a [query::WorkerFacts],
    employer_spending: &'a [query::EmployerSpending],
}

fn breakdowns(
    sums: &[AccountSums],
    owner: &dyn Fn(&AccountSums) -> (String, String),
    population: Population<'_>,
    per_worker: &HashMap<String, WorkerYear>,
    schemes: &[query::SchemeName],
    month: Month,
    audience: Audience,
) -> Breakdowns {
    let year = month.first_day.year();
    let mut by_scheme: BTreeMap<String, CellAcc> = BTreeMap::new();
    for s in sums.iter().filter(|s| s.granted_all > 0) {
        let (worker_id, scheme_id) = owner(s);
        let Some(w) = per_worker.get(&worker_id) else { continue };
        let scheme = schemes.iter().find(|x| x.id == scheme_id);
        let cell = by_scheme.entry(scheme.map(|x| x.code.clone()).unwrap_or(scheme_id)).or_default();
        cell.label = scheme.map(|x| x.name.clone()).unwrap_or_default();
        // Per scheme: this account's own spending, and whether the worker spent in it.
        cell.workers += 1;
        cell.spent_workers += i64::from(s.spent_ytd - s.reversed_ytd > 0);
        cell.coached_workers += i64::from(w.coached);
        cell.granted += s.granted_ytd;
        cell.spent += s.spent_ytd - s.reversed_ytd;
    }
    let mut by_employer: BTreeMap<String, CellAcc> = BTreeMap::new();
    let mut by_sector: BTreeMap<String, CellAcc> = BTreeMap::new();
    let mut by_age: BTreeMap<String, CellAcc> = BTreeMap::new();
    let mut by_education: BTreeMap<String, CellAcc> = BTreeMap::new();
    for worker in population.workers {
        let Some(w) = per_worker.get(&worker.id).filter(|w| w.has_budget) else { continue };
        let (granted, spent) = (w.granted_ytd, w.net_spent_ytd);
        let cell = by_employer.entry(worker.employer_id.clone()).or_default();
        cell.label = worker.employer_name.clone();
        cell.add(w, granted, spent);
        let cell = by_sector.entry(worker.sector.clone()).or_default();
        cell.label = worker.sector.clone();
        cell.add(w, granted, spent);
        let (key, label) = age_band(year, worker.birth_year);
        let cell = by_age.entry(key.to_string()).or_default();
        cell.label = label.to_string();
        cell.add(w, granted, spent);
        let (key, label) = education_label(worker.education_level.as_deref());
        let cell = by_education.entry(key).or_default();
        cell.label = label;
        cell.add(w, granted, spent);
    }
    // Spending goes to the employer that submitted the claim, wherever the worker is now.
    for cell in by_employer.values_mut() {
        cell.spent = 0;
    }
    for e in population.employer_spending {
        let cell = by_employer.entry(e.employer_id.clone()).or_default();
        cell.label.clone_from(&e.employer_name);
        cell.spent += e.spent;
    }
    Breakdowns {
        scheme: cells(by_scheme, audience),
        employer: cells(by_employer, audience),
        sector: cells(by_sector, audience),
        age_band: ordered(cells(by_age, audience), &["under_35", "35_54", "55_plus", "unknown"]),
        education_level: ordered(cells(by_education, audience), &["praktisch", "middelbaar", "theoretisch", "unknown"]),
    }
}

/// Puts cells in their natural order (youngest first, practical education first).
fn ordered(mut cells: Vec<Cell>, order: &[&str]) -> Vec<Cell> {
    cells.sort_by_key(|c| order.iter().position(|k| *k == c.key).unwrap_or(order.len()));
    cells
}

/// The trend's months and one more before them (the same month last year, for the comparison).
fn trend(
    conn: &mut DbConn,
    fund_id: FundId,
    month: Month,
    owners: &HashMap<String, (String, String)>,
    spends: &[query::SpendAt],
    audience: Audience,
) -> QueryResult<Vec<TrendPoint>> {
    let first = month.minus(TREND_MONTHS);
    let months: Vec<Month> = (0..=TREND_MONTHS).map(|i| first.next_n(i)).collect();
    let mut starts: Vec<NaiveDateTime> = months.iter().map(|m| m.start_utc()).collect();
    starts.push(month.next().start_utc());
    let rows = query::trend(conn, fund_id, &starts)?;
    // Workers who spent, per month: distinct accounts with a spend in the month.
    let mut spenders: Vec<HashSet<String>> = vec![HashSet::new(); months.len()];
    for spend in spends.iter().filter(|s| s.recorded_at >= starts[0] && s.recorded_at < starts[months.len()]) {
        let bucket = starts[1..months.len()].iter().filter(|s| **s <= spend.recorded_at).count();
        let worker = owners.get(&spend.account_id).map_or(spend.account_id.clone(), |(w, _)| w.clone());
        spenders[bucket].insert(worker);
    }
    Ok(months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let row = rows.iter().find(|r| r.bucket == i as i64);
            TrendPoint {
                month: m.label(),
                granted: format_cents(row.map_or(0, |r| r.granted)),
                spent: format_cents(row.map_or(0, |r| r.spent)),
                expired: format_cents(row.map_or(0, |r| r.expired)),
                workers_spent: shown_count(spenders[i].len() as i64, audience),
            }
        })
        .collect())
}

impl Month {
    fn next_n(self, n: u32) -> Month {
        Month { first_day: self.first_day + Months::new(n) }
    }
}

/// The month beside the previous one and the same month last year (the trend's first point).
fn comparison(trend: &[TrendPoint]) -> board::Comparison {
    let figures = |p: Option<&TrendPoint>| board::KeyFigures {
        month: p.map(|p| p.month.clone()).unwrap_or_default(),
        granted: p.map_or_else(|| "0.00".into(), |p| p.granted.clone()),
        spent: p.map_or_else(|| "0.00".into(), |p| p.spent.clone()),
        expired: p.map_or_else(|| "0.00".into(), |p| p.expired.clone()),
        workers_spent: p.map_or(Some(0), |p| p.workers_spent),
    };
    let n = trend.len();
    board::Comparison {
        this_month: figures(trend.last()),
        previous_month: figures(n.checked_sub(2).and_then(|i| trend.get(i))),
        same_month_last_year: figures(trend.first()),
    }
}

/// The facts of the segment comparison, per worker with a budget: the employer's size class
/// counts the fund's workers with that employer at the month's end.
fn segment_facts<'a>(workers: &'a [query::WorkerFacts], per_worker: &HashMap<String, WorkerYear>, month: Month) -> Vec<board::SegmentFacts<'a>> {
    let mut per_employer: HashMap<&str, usize> = HashMap::new();
    for w in workers {
        *per_employer.entry(w.employer_id.as_str()).or_default() += 1;
    }
    workers
        .iter()
        .filter_map(|worker| {
            let w = per_worker.get(&worker.id).filter(|w| w.has_budget)?;
            Some(board::SegmentFacts {
                education: education_label(worker.education_level.as_deref()),
                age_band: age_band(month.first_day.year(), worker.birth_year),
                sector: &worker.sector,
                employer_size: board::employer_size(per_employer.get(worker.employer_id.as_str()).copied().unwrap_or(0)),
                coached: w.coached,
                spent: w.net_spent_ytd > 0,
            })
        })
        .collect()
}

/// Of the workers coached who spent this year: how many, and how many had their first session
/// of the year on or before the day (Amsterdam) of their first spending of the year.
fn guided_before_first_spend(
    spends: &[query::SpendAt],
    windows: &Windows,
    sessions: &HashMap<String, NaiveDate>,
    per_worker: &HashMap<String, WorkerYear>,
    owners: &HashMap<String, (String, String)>,
) -> (i64, i64) {
    let mut first_spend: HashMap<String, NaiveDateTime> = HashMap::new();
    for spend in spends.iter().filter(|s| s.recorded_at >= windows.year_start && s.recorded_at < windows.end) {
        let worker = owners.get(&spend.account_id).map_or(spend.account_id.clone(), |(w, _)| w.clone());
        let at = first_spend.entry(worker).or_insert(spend.recorded_at);
        *at = (*at).min(spend.recorded_at);
    }
    let guided: Vec<&String> = per_worker.iter().filter(|(_, w)| w.has_budget && w.coached && w.net_spent_ytd > 0).map(|(id, _)| id).collect();
    let before = guided
        .iter()
        .filter(|id| match (sessions.get(**id), first_spend.get(**id)) {
            (Some(session), Some(spend)) => *session <= crate::domain::time::amsterdam_date(*spend),
            _ => false,
        })
        .count();
    (guided.len() as i64, before as i64)
}

/// The action panel: what waits for the back office at the month's end.
fn actions(
    conn: &mut DbConn,
    fund_id: FundId,
    month: Month,
    windows: &Windows,
    lapsing: &[query::LapsingLot],
    payments: &query::PaymentFacts,
    audience: Audience,
) -> QueryResult<board::Actions> {
    let waiting = query::awaiting_guidance(conn, fund_id, windows.end)?;
    let vouchers = query::vouchers_expiring(conn, fund_id, month.last_day(), month.last_day() + chrono::Duration::days(30), windows.end)?;
    let lots: Vec<(String, String, i64)> = lapsing.iter().map(|l| (l.expires_on.to_string(), l.worker_id.clone(), l.available)).collect();
    Ok(board::Actions {
        awaiting_guidance: board::Pile::new(waiting.count, waiting.cents, audience),
        under_review: board::Pile::new(payments.under_review_claims, payments.under_review_cents, audience),
        vouchers_expiring_30_days: board::Pile::new(vouchers.count, vouchers.cents, audience),
        lapsing: board::lapsing_by_date(&lots, audience),
        approved_unpaid: board::Pile::new(payments.approved_unpaid_claims, payments.approved_unpaid_cents, audience),
        objections_open: shown_count(payments.objections_open, audience),
    })
}

/// The signals, and what the action panel and the provider section read from the same queries:
/// the lapsing lots, the providers ranked by net spending.
type SignalFacts = (Signals, Vec<query::LapsingLot>, Vec<(String, i64)>);

fn signals(conn: &mut DbConn, fund_id: FundId, month: Month, windows: &Windows, audience: Audience) -> QueryResult<SignalFacts> {
    let until = month.last_day() + Months::new(3);
    let lots = query::lapsing(conn, fund_id, month.last_day(), until, windows.end)?;
    let mut lapsing_workers = HashSet::new();
    let mut lapsing_cents = 0;
    for lot in lots.iter().filter(|l| l.available > 0) {
        lapsing_workers.insert(lot.worker_id.clone());
        lapsing_cents += lot.available;
    }
    let providers = board::ranked(
        query::provider_spend(conn, fund_id, windows.year_start, windows.end)?.into_iter().map(|p| (p.provider, p.spent)).collect(),
    );
    let total: i64 = providers.iter().map(|(_, c)| c).sum();
    let top: i64 = providers.iter().take(TOP_PROVIDERS).map(|(_, c)| c).sum();
    let signals = Signals {
        lapsing_next_3_months: Lapsing {
            until: until.to_string(),
            workers: shown_count(lapsing_workers.len() as i64, audience),
            amount: shown_count(lapsing_workers.len() as i64, audience).map(|_| format_cents(lapsing_cents)),
        },
        providers: providers.len() as i64,
        top10_provider_share_pct: pct(top, total),
    };
    Ok((signals, lots, providers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_to_one_decimal() {
        assert_eq!(pct(1, 3).as_deref(), Some("33.3"));
        assert_eq!(pct(2, 3).as_deref(), Some("66.7"));
        assert_eq!(pct(1, 8).as_deref(), Some("12.5"));
        assert_eq!(pct(0, 5).as_deref(), Some("0.0"));
        assert_eq!(pct(5, 0), None);
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(Month::parse("2026-10").map(|m| m.last_day().to_string()).as_deref(), Some("2026-10-31"));
        assert!(Month::parse("2026-13").is_none());
        assert!(Month::parse("2026-1").is_none());
        assert!(Month::parse("october").is_none());
    }

    fn cell(key: &str, workers: i64) -> Cell {
        Cell {
            key: key.into(),
            label: key.into(),
            suppressed: false,
            workers: Some(workers),
            workers_spent_ytd: Some(0),
            workers_coached_ytd: Some(0),
            granted_ytd: Some("0.00".into()),
            spent_ytd: Some("0.00".into()),
            utilisation_ytd_pct: None,
        }
    }

    #[test]
    fn one_small_cell_takes_the_next_smallest_with_it() {
        let mut cells = vec![cell("a", 3), cell("b", 7), cell("c", 20)];
        suppress_small(&mut cells);
        assert_eq!(cells.iter().map(|c| c.suppressed).collect::<Vec<_>>(), vec![true, true, false]);
        let mut cells = vec![cell("a", 3), cell("b", 4), cell("c", 20)];
        suppress_small(&mut cells);
        assert_eq!(cells.iter().map(|c| c.suppressed).collect::<Vec<_>>(), vec![true, true, false]);
        let mut cells = vec![cell("a", 5), cell("b", 6)];
        suppress_small(&mut cells);
        assert!(cells.iter().all(|c| !c.suppressed));
    }
}
