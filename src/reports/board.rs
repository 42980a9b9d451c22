//! The board's further questions (DESIGN, "What the board asks next"): uptake with and without
//! guidance per segment, guidance before the first spending, a headline and what the numbers
//! cannot show, comparisons, an action panel and provider concentration.
//!
//! Pure arithmetic over facts the report has already read, plus a few small queries; for the
//! board every count under `MIN_CELL_WORKERS` is withheld (null, with `suppressed: true`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::monthly::{pct, Audience, Cell, MIN_CELL_WORKERS};
use crate::domain::format_cents;

/// One side of a segment's comparison: workers with a budget in it, how many of them spent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Side {
    pub workers: Option<i64>,
    pub spent: Option<i64>,
    pub uptake_pct: Option<String>,
    pub suppressed: bool,
}

impl Side {
    fn counted(workers: i64, spent: i64) -> Side {
        Side { workers: Some(workers), spent: Some(spent), uptake_pct: pct(spent, workers), suppressed: false }
    }

    fn hidden() -> Side {
        Side { workers: None, spent: None, uptake_pct: None, suppressed: true }
    }

    /// A count a person could be picked out of: 1 to 4 workers, spenders or non-spenders.
    fn small(&self) -> bool {
        let few = |n: i64| (1..MIN_CELL_WORKERS).contains(&n);
        match (self.workers, self.spent) {
            (Some(w), Some(s)) => few(w) || few(s) || few(w - s),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentRow {
    pub segment: String,
    pub label: String,
    pub with_guidance: Side,
    pub without_guidance: Side,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GuidanceBySegment {
    pub education_level: Vec<SegmentRow>,
    pub age_band: Vec<SegmentRow>,
    pub sector: Vec<SegmentRow>,
    pub employer_size: Vec<SegmentRow>,
}

/// A worker with a budget, as the segment comparison sees it.
pub struct SegmentFacts<'a> {
    pub education: (String, String),
    pub age_band: (&'static str, &'static str),
    pub sector: &'a str,
    pub employer_size: (&'static str, &'static str),
    pub coached: bool,
    pub spent: bool,
}

/// The size class of an employer with `workers` workers (DESIGN's classes).
pub fn employer_size(workers: usize) -> (&'static str, &'static str) {
    match workers {
        0..=9 => ("1_9", "1 tot 10 werknemers"),
        10..=49 => ("10_49", "10 tot 50 werknemers"),
        50..=249 => ("50_249", "50 tot 250 werknemers"),
        _ => ("250_plus", "250 werknemers of meer"),
    }
}

#[derive(Default)]
struct Counts {
    label: String,
    with: (i64, i64),
    without: (i64, i64),
}

fn rows(map: BTreeMap<String, Counts>, order: &[&str], audience: Audience) -> Vec<SegmentRow> {
    let mut out: Vec<SegmentRow> = map
        .into_iter()
        .map(|(segment, c)| SegmentRow {
            segment,
            label: c.label,
            with_guidance: Side::counted(c.with.0, c.with.1),
            without_guidance: Side::counted(c.without.0, c.without.1),
        })
        .collect();
    out.sort_by_key(|r| (order.iter().position(|k| *k == r.segment).unwrap_or(order.len()), r.segment.clone()));
    if audience == Audience::Board {
        suppress(&mut out, |r| &mut r.with_guidance);
        suppress(&mut out, |r| &mut r.without_guidance);
    }
    out
}

/// Hides every small side; when that hides exactly one side of a column, also the smallest
/// other one, since the fund-wide guidance matrix gives the column's total.
fn suppress(rows: &mut [SegmentRow], side: impl Fn(&mut SegmentRow) -> &mut Side) {
    let small: Vec<bool> = rows.iter_mut().map(|r| side(r).small()).collect();
    if small.iter().filter(|s| **s).count() == 1 {
        let next = rows
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| !small[*i])
            .map(|(i, r)| (i, side(r).workers.unwrap_or(0)))
            .filter(|(_, w)| *w > 0)
            .min_by_key(|(_, w)| *w)
            .map(|(i, _)| i);
        if let Some(i) = next {
            *side(&mut rows[i]) = Side::hidden();
        }
    }
    for (i, row) in rows.iter_mut().enumerate() {
        if small[i] {
            *side(row) = Side::hidden();
        }
    }
}

/// For the board: a segment row and the breakdown cell of the same value count the same
/// workers, so a side hidden in one would follow from the other. A row with a hidden side is
/// hidden whole, with its cell, and a hidden cell hides its row; when that hides exactly one
/// value of the dimension, the smallest other one goes too (the fund-wide totals would give it).
pub fn suppress_together(rows: &mut [SegmentRow], cells: &mut [Cell], hide_cell: fn(&mut Cell)) {
    let mut hidden: Vec<String> = rows
        .iter()
        .filter(|r| r.with_guidance.suppressed || r.without_guidance.suppressed)
        .map(|r| r.segment.clone())
        .chain(cells.iter().filter(|c| c.suppressed).map(|c| c.key.clone()))
        .collect();
    hidden.sort();
    hidden.dedup();
    if hidden.len() == 1 {
        let smallest = cells
            .iter()
            .filter(|c| !hidden.contains(&c.key))
            .min_by_key(|c| c.workers.unwrap_or(i64::MAX))
            .map(|c| c.key.clone());
        hidden.extend(smallest);
    }
    for row in rows.iter_mut().filter(|r| hidden.contains(&r.segment)) {
        row.with_guidance = Side::hidden();
        row.without_guidance = Side::hidden();
    }
    for cell in cells.iter_mut().filter(|c| hidden.contains(&c.key) && !c.suppressed) {
        hide_cell(cell);
    }
}

/// For the board, rows without a breakdown of their own (employer size): a row with a hidden
/// side is hidden whole, and never alone.
pub fn suppress_rows_whole(rows: &mut [SegmentRow]) {
    let hidden = |r: &SegmentRow| r.with_guidance.suppressed || r.without_guidance.suppressed;
    if rows.iter().filter(|r| hidden(r)).count() == 1 {
        let total = |r: &SegmentRow| r.with_guidance.workers.unwrap_or(0) + r.without_guidance.workers.unwrap_or(0);
        if let Some(i) = rows.iter().enumerate().filter(|(_, r)| !hidden(r)).min_by_key(|(_, r)| total(r)).map(|(i, _)| i) {
            rows[i].with_guidance = Side::hidden();
        }
    }
    for row in rows.iter_mut().filter(|r| hidden(r)) {
        row.with_guidance = Side::hidden();
        row.without_guidance = Side::hidden();
    }
}

pub fn guidance_by_segment(facts: &[SegmentFacts<'_>], audience: Audience) -> GuidanceBySegment {
    let mut education: BTreeMap<String, Counts> = BTreeMap::new();
    let mut age: BTreeMap<String, Counts> = BTreeMap::new();
    let mut sector: BTreeMap<String, Counts> = BTreeMap::new();
    let mut size: BTreeMap<String, Counts> = BTreeMap::new();
    for f in facts {
        let cells = [
            (&mut education, f.education.0.clone(), f.education.1.clone()),
            (&mut age, f.age_band.0.to_string(), f.age_band.1.to_string()),
            (&mut sector, f.sector.to_string(), f.sector.to_string()),
            (&mut size, f.employer_size.0.to_string(), f.employer_size.1.to_string()),
        ];
        for (map, key, label) in cells {
            let counts = map.entry(key).or_default();
            counts.label = label;
            let side = if f.coached { &mut counts.with } else { &mut counts.without };
            side.0 += 1;
            side.1 += i64::from(f.spent);
        }
    }
    GuidanceBySegment {
        education_level: rows(education, &["praktisch", "middelbaar", "theoretisch", "unknown"], audience),
        age_band: rows(age, &["under_35", "35_54", "55_plus", "unknown"], audience),
        sector: rows(sector, &[], audience),
        employer_size: rows(size, &["1_9", "10_49", "50_249", "250_plus"], audience),
    }
}

/// Of the workers who were coached and spent this year, how many had a session on or before the
/// day of their first spending of the year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GuidedBeforeFirstSpend {
    pub guided_spenders: Option<i64>,
    pub before_first_spend: Option<i64>,
    pub pct: Option<String>,
    pub suppressed: bool,
}

/// For the board withheld with the guidance matrix too: `guided_spenders` is its
/// `coached_and_spent`, which would give back a hidden cell.
pub fn guided_before_first_spend(guided_spenders: i64, before: i64, audience: Audience, matrix_hidden: bool) -> GuidedBeforeFirstSpend {
    let few = |n: i64| (1..MIN_CELL_WORKERS).contains(&n);
    if audience == Audience::Board && (matrix_hidden || few(guided_spenders) || few(before) || few(guided_spenders - before)) {
        return GuidedBeforeFirstSpend { guided_spenders: None, before_first_spend: None, pct: None, suppressed: true };
    }
    GuidedBeforeFirstSpend {
        guided_spenders: Some(guided_spenders),
        before_first_spend: Some(before),
        pct: pct(before, guided_spenders),
        suppressed: false,
    }
}

/// What the numbers cannot show, printed with every headline.
pub const CAVEAT: &str = "Deze cijfers tonen samenhang, geen oorzaak. Werknemers die begeleiding zoeken verschillen van wie dat niet doet \
    (motivatie, plannen, werkgever), en een regeling die begeleiding eist voor grote declaraties houdt die declaraties zelf tegen \
    tot er een gesprek is geweest.";

/// The headline: the fund-wide comparison, and the segment where the gap is widest.
pub fn headline(with_pct: Option<&str>, without_pct: Option<&str>, segments: &GuidanceBySegment) -> String {
    let (Some(with), Some(without)) = (with_pct, without_pct) else {
        return "Te weinig werknemers met en zonder begeleiding om de twee te vergelijken.".to_string();
    };
    let tenths = |p: &str| p.replace('.', "").parse::<i64>().unwrap_or(0);
    let mut sentence = format!(
        "Van de werknemers met begeleiding gebruikte dit jaar {} % hun budget, tegen {} % zonder begeleiding",
        with.replace('.', ","),
        without.replace('.', ",")
    );
    let widest = segments
        .education_level
        .iter()
        .chain(&segments.age_band)
        .chain(&segments.sector)
        .chain(&segments.employer_size)
        .filter_map(|r| Some((r, tenths(r.with_guidance.uptake_pct.as_deref()?) - tenths(r.without_guidance.uptake_pct.as_deref()?))))
        .filter(|(r, _)| r.segment != "unknown")
        .max_by_key(|(_, gap)| *gap);
    if let Some((row, gap)) = widest.filter(|(_, gap)| *gap > 0) {
        sentence.push_str(&format!("; het verschil is het grootst bij {} ({},{} procentpunt)", row.label, gap / 10, gap % 10));
    }
    sentence.push('.');
    sentence
}

/// Key figures of a month, for the comparisons.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyFigures {
    pub month: String,
    pub granted: String,
    pub spent: String,
    pub expired: String,
    pub workers_spent: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub this_month: KeyFigures,
    pub previous_month: KeyFigures,
    pub same_month_last_year: KeyFigures,
}

/// A count of claims or vouchers and their money; for the board both null when 1 to 4 (a few
/// claims' money is a few people's).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pile {
    pub count: Option<i64>,
    pub amount: Option<String>,
}

impl Pile {
    pub fn new(count: i64, cents: i64, audience: Audience) -> Pile {
        let count = super::monthly::shown_count(count, audience);
        Pile { count, amount: count.map(|_| format_cents(cents)) }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LapsingOn {
    pub expires_on: String,
    pub workers: Option<i64>,
    pub amount: Option<String>,
    pub suppressed: bool,
}

/// What asks for the back office's attention at the month's end.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Actions {
    pub awaiting_guidance: Pile,
    pub under_review: Pile,
    /// Issued vouchers whose `valid_until` falls within 30 days after the month's end.
    pub vouchers_expiring_30_days: Pile,
    /// Available money of lots lapsing within three months after the month, per expiry date.
    pub lapsing: Vec<LapsingOn>,
    pub approved_unpaid: Pile,
    /// For the board null when 1 to 4.
    pub objections_open: Option<i64>,
}

/// Available money per lapsing date: `(expires_on, worker, cents)` per lot. For the board, when
/// a date concerns 1 to 4 workers, every date's figures are withheld (the total is in the
/// signals, so one hidden date would follow from the others).
pub fn lapsing_by_date(lots: &[(String, String, i64)], audience: Audience) -> Vec<LapsingOn> {
    let mut by_date: BTreeMap<&str, (std::collections::HashSet<&str>, i64)> = BTreeMap::new();
    for (date, worker, cents) in lots.iter().filter(|l| l.2 > 0) {
        let entry = by_date.entry(date).or_default();
        entry.0.insert(worker);
        entry.1 += cents;
    }
    let hide = audience == Audience::Board && by_date.values().any(|(w, _)| (1..MIN_CELL_WORKERS).contains(&(w.len() as i64)));
    by_date
        .into_iter()
        .map(|(date, (workers, cents))| LapsingOn {
            expires_on: date.to_string(),
            workers: (!hide).then_some(workers.len() as i64),
            amount: (!hide).then(|| format_cents(cents)),
            suppressed: hide,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProviderShare {
    pub provider: String,
    pub spent: String,
    pub share_pct: Option<String>,
}

/// Where this year's net spending went: the largest provider's share, the ten largest, and the
/// Herfindahl-Hirschman index (sum of squared percentage shares, 0 to 10,000).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Providers {
    pub top_share_pct: Option<String>,
    pub hhi: Option<i64>,
    pub top: Vec<ProviderShare>,
}

/// Providers with net spending, largest first (ties by name): what the signals and the provider
/// section both read.
pub fn ranked(spent: HashMap<String, i64>) -> Vec<(String, i64)> {
    let mut list: Vec<(String, i64)> = spent.into_iter().filter(|(_, c)| *c > 0).collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

pub fn providers(list: &[(String, i64)], top_n: usize) -> Providers {
    let total: i64 = list.iter().map(|(_, c)| c).sum();
    // In 128 bits: squares of cent totals; rounded half up to a whole index point.
    let hhi = (total > 0).then(|| {
        let t = i128::from(total);
        let sum: i128 = list.iter().map(|(_, c)| i128::from(*c) * i128::from(*c) * 10_000).sum();
        ((sum * 2 + t * t) / (2 * t * t)) as i64
    });
    Providers {
        top_share_pct: list.first().and_then(|(_, c)| pct(*c, total)),
        hhi,
        top: list
            .iter()
            .take(top_n)
            .map(|(p, c)| ProviderShare { provider: p.clone(), spent: format_cents(*c), share_pct: pct(*c, total) })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hhi_of_a_monopoly_and_of_equal_shares() {
        let one: HashMap<String, i64> = [("A".to_string(), 500)].into();
        assert_eq!(providers(&ranked(one), 10).hhi, Some(10_000));
        let four: HashMap<String, i64> = (0..4).map(|i| (format!("P{i}"), 250)).collect();
        let p = providers(&ranked(four), 10);
        assert_eq!((p.hhi, p.top_share_pct.as_deref(), p.top.len()), (Some(2_500), Some("25.0"), 4));
        assert_eq!(providers(&ranked(HashMap::new()), 10).hhi, None);
    }

    #[test]
    fn employer_sizes() {
        assert_eq!(employer_size(1).0, "1_9");
        assert_eq!(employer_size(9).0, "1_9");
        assert_eq!(employer_size(10).0, "10_49");
        assert_eq!(employer_size(249).0, "50_249");
        assert_eq!(employer_size(250).0, "250_plus");
    }

    #[test]
    fn a_lone_small_side_takes_the_next_smallest_with_it() {
        let row = |s: &str, w: i64, sp: i64| SegmentRow {
            segment: s.into(),
            label: s.into(),
            with_guidance: Side::counted(w, sp),
            without_guidance: Side::counted(20, 10),
        };
        let mut rows = vec![row("a", 3, 1), row("b", 40, 20), row("c", 10, 5)];
        suppress(&mut rows, |r| &mut r.with_guidance);
        assert_eq!(rows.iter().map(|r| r.with_guidance.suppressed).collect::<Vec<_>>(), [true, false, true]);
        suppress(&mut rows, |r| &mut r.without_guidance);
        assert!(rows.iter().all(|r| !r.without_guidance.suppressed));
    }
}
