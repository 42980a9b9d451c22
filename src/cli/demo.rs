//! `ptt-ledger demo`: a realistic fund for trying the service and for benchmarks. Employers in
//! several sectors, workers with an age and education spread, grants over three years,
//! coaching sessions, vouchers and claims with every outcome. As the funds observe, uptake is
//! lower among `praktisch` workers and higher with guidance.
//!
//! Everything goes through the ledger code the service uses, in batches of workers per
//! database transaction. Entries are recorded at generation time; claims' training dates and
//! grant years spread over the past.

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::queries::{self, Inserted};
use crate::db::rows::{EmployerRow, FundRow, SchemeRow, SchemeVersionRow, WorkerRow};
use crate::db::DbConn;
use crate::ledger::write_tx;
use crate::domain::scheme::SchemeRules;
use crate::domain::status::{ClaimStatus, SessionKind, VoucherStatus};
use crate::domain::time::now_utc;
use crate::domain::{Amount, EmployerId, FundId, Money, SchemeId, WorkerId};
use crate::ledger::claims::{pay, reverse, submit, ClaimError, ClaimRequest};
use crate::ledger::grants::{grant_many, GrantRequest};
use crate::ledger::coaching::{record_session, SessionRequest};
use crate::ledger::vouchers::{close, issue, VoucherRequest};

/// Workers per database transaction.
pub const DEMO_BATCH_WORKERS: usize = 500;
const SECTORS: [&str; 5] = ["metaal", "elektrotechniek", "installatie", "grafimedia", "uitzendwerk"];
const CATEGORIES: [&str; 4] = ["vakopleiding", "loopbaan", "digitaal", "vitaliteit"];
const PROVIDERS: usize = 60;
const ACTOR: &str = "demo";

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

/// Builds the demo fund. `progress(done, total)` is told about workers.
pub fn build(conn: &mut DbConn, code: &str, worker_count: usize, seed: u64, today: NaiveDate, progress: &mut dyn FnMut(usize, usize)) -> Result<DemoSummary, DemoError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let fund_id = FundId::new();
    let scheme_id = SchemeId::new();
    let employer_ids: Vec<EmployerId> = (0..(worker_count / 40).max(5)).map(|_| EmployerId::new()).collect();
    let rules = demo_rules(today)?;
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
        queries::insert_scheme_version(conn, &SchemeVersionRow::new(fund_id, scheme_id, &rules))?;
        for (i, &id) in employer_ids.iter().enumerate() {
            let employer = EmployerRow {
                id,
                fund_id,
                kvk_number: format!("{:08}", 10_000_000 + i),
                name: format!("Demobedrijf {}", i + 1),
                sector: SECTORS[i % SECTORS.len()].to_string(),
                created_at: now,
                iban: Some(crate::domain::iban::dutch("PTTB", 1_000_000 + i as u64)),
            };
            queries::insert_employer(conn, &employer)?;
        }
        Ok::<_, DemoError>(())
    })?;

    let mut claims = 0;
    let mut done = 0;
    while done < worker_count {
        let batch = DEMO_BATCH_WORKERS.min(worker_count - done);
        claims += write_tx(conn, |conn| {
            let mut claims = 0;
            for i in done..done + batch {
                claims += worker(conn, &mut rng, fund_id, scheme_id, &employer_ids, i, today)?;
            }
            Ok::<_, DemoError>(claims)
        })?;
        done += batch;
        progress(done, worker_count);
    }
    Ok(DemoSummary { fund_id, workers: worker_count, employers: employer_ids.len(), claims })
}

/// The demo scheme's rules: a PTT of 750 a year, guidance above 500, half of each invoice paid.
fn demo_rules(today: NaiveDate) -> Result<SchemeRules, DemoError> {
    let amount = |cents: i64| Amount::from_cents(cents).ok_or_else(|| write_err("demo amount out of range"));
    Ok(SchemeRules {
        annual_amount: amount(75_000)?,
        max_balance: amount(225_000)?,
        validity_years: 3,
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

/// One worker's history; returns the number of claims.
fn worker(conn: &mut DbConn, rng: &mut StdRng, fund_id: FundId, scheme_id: SchemeId, employers: &[EmployerId], index: usize, today: NaiveDate) -> Result<usize, DemoError> {
    let id = WorkerId::new();
    let education = match rng.random_range(0..100) {
        0..35 => "praktisch",
        35..80 => "middelbaar",
        _ => "theoretisch",
    };
    let birth_year = today.year() - rng.random_range(18..66);
    let row = WorkerRow {
        id,
        fund_id,
        participant_number: format!("D{index:07}"),
        employer_id: employers[index % employers.len()],
        birth_year: (rng.random_range(0..20) > 0).then_some(birth_year),
        education_level: (rng.random_range(0..25) > 0).then(|| education.to_string()),
        created_at: now_utc(),
    };
    crate::ledger::employment::register_worker(conn, &row, today).map_err(write_err)?;
    // Grants over three years; most workers have been in the fund that long.
    let first_year = today.year() - rng.random_range(0..3);
    let grants: Vec<GrantRequest> = (first_year..=today.year())
        .map(|year| GrantRequest { worker_id: id, scheme_id, amount: None, grant_year: year, recorded_at: None })
        .collect();
    grant_many(conn, fund_id, ACTOR, &grants, today).map_err(|e| write_err(e.error))?;
    // A third is coached; coaching doubles the chance of spending.
    let coached = rng.random_range(0..100) < 30;
    if coached {
        let held_on = today - Duration::days(rng.random_range(0..300));
        let kind = if rng.random_range(0..2) == 0 { SessionKind::Intake } else { SessionKind::Loopbaangesprek };
        let request = SessionRequest { worker_id: id, held_on, duration_minutes: 45, kind, voucher_id: None, claim_id: None };
        record_session(conn, fund_id, "demo-coach", &request, today).map_err(write_err)?;
    }
    let base = match education {
        "praktisch" => 12,
        "middelbaar" => 25,
        _ => 35,
    };
    let chance = if coached { (base * 2).min(85) } else { base };
    if rng.random_range(0..100) < 5 {
        voucher(conn, rng, fund_id, scheme_id, id, today)?;
    }
    if rng.random_range(0..100) >= chance {
        return Ok(0);
    }
    let claims = rng.random_range(1..3);
    for n in 0..claims {
        claim(conn, rng, fund_id, scheme_id, id, &format!("{index}-{n}"), today)?;
    }
    Ok(claims)
}

/// A voucher for a course; a third of them are cancelled again.
fn voucher(conn: &mut DbConn, rng: &mut StdRng, fund_id: FundId, scheme_id: SchemeId, id: WorkerId, today: NaiveDate) -> Result<(), DemoError> {
    let request = VoucherRequest {
        worker_id: id,
        scheme_id,
        amount: Amount::from_cents(rng.random_range(100..400) * 100).ok_or_else(|| write_err("amount"))?,
        course: "Demo-cursus".into(),
        provider: provider(rng),
        valid_until: today + Duration::days(rng.random_range(30..200)),
        provider_id: None,
    };
    if let Ok(voucher) = issue(conn, fund_id, ACTOR, &request, today) {
        if rng.random_range(0..3) == 0 {
            close(conn, fund_id, voucher.id, ACTOR, today, VoucherStatus::Cancelled).map_err(write_err)?;
        }
    }
    Ok(())
}

/// One claim for a past training; of those approved most are paid and a few reversed.
fn claim(conn: &mut DbConn, rng: &mut StdRng, fund_id: FundId, scheme_id: SchemeId, id: WorkerId, tag: &str, today: NaiveDate) -> Result<(), DemoError> {
    let end = today - Duration::days(rng.random_range(5..140));
    let category = if rng.random_range(0..100) < 5 { "taal" } else { CATEGORIES[rng.random_range(0..CATEGORIES.len())] };
    let request = ClaimRequest {
        worker_id: id,
        scheme_id,
        amount: Amount::from_cents(rng.random_range(80..1600) * 100).ok_or_else(|| write_err("amount"))?,
        category: category.into(),
        course: format!("Demo-opleiding {}", rng.random_range(1..200)),
        provider: provider(rng),
        invoice_reference: format!("DEMO-{tag}"),
        training_start: end - Duration::days(rng.random_range(1..60)),
        training_end: end,
        voucher_code: None,
        evidence_reference: None,
        provider_id: None,
    };
    let claim = submit(conn, fund_id, None, ACTOR, &request, today).map_err(write_err)?;
    if claim.status == ClaimStatus::Approved {
        match rng.random_range(0..100) {
            0..3 => {
                reverse(conn, fund_id, claim.id, "cursus geannuleerd", ACTOR, today).map_err(|e: ClaimError| write_err(e))?;
            }
            3..73 => {
                pay(conn, fund_id, claim.id, &format!("SEPA-DEMO-{tag}"), "demo").map_err(write_err)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A provider, skewed so that a few large ones get much of the spending.
fn provider(rng: &mut StdRng) -> String {
    let u: f64 = rng.random_range(0.0..1.0);
    // Not money: a skewed index into the provider list.
    let index = ((u * u * u) * PROVIDERS as f64) as usize;
    format!("Opleider {:02}", index + 1)
}
