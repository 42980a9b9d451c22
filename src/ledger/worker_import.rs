//! Worker import: the fund's monthly list of workers (from employers or the pension fund),
//! upserted by participant number in one transaction. Not money, but an employer change is an
//! employment change with its event, so it is written here beside the other changes of state.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::employment::{change_employment, EmploymentError};
use super::LedgerError;
use crate::db::conn::DbConn;
use crate::db::employment::{self as store, EmploymentRow};
use crate::db::queries;
use crate::db::rows::WorkerRow;
use crate::domain::time::now_utc;
use crate::domain::{EducationLevel, EmployerId, FundId, WorkerId};

/// Where an item came from, for the message that refuses it: its index in the JSON array
/// (from 0) or its line in the CSV file (from 1, the header being line 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemAt {
    Index(usize),
    Line(usize),
}

/// How an item names its employer; `None` keeps the stored one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmployerRef {
    Id(EmployerId),
    Kvk(String),
}

/// One worker of an import, checked for shape; fields left out keep what is stored.
#[derive(Clone, Debug)]
pub struct ImportItem {
    pub at: ItemAt,
    pub participant_number: String,
    pub employer: Option<EmployerRef>,
    pub birth_year: Option<i32>,
    pub education_level: Option<EducationLevel>,
}

/// Why an import was refused: the first item that breaks a rule, and which field.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{field}: {message}")]
    Item { at: ItemAt, field: &'static str, message: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Ledger(e.into())
    }
}

/// A value quoted in a message, cut short: a refused cell may be megabytes long.
pub fn excerpt(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX { value.to_string() } else { format!("{}…", value.chars().take(MAX).collect::<String>()) }
}

fn refuse(at: ItemAt, field: &'static str, message: impl Into<String>) -> ImportError {
    ImportError::Item { at, field, message: message.into() }
}

/// First key of the per-fund PostgreSQL advisory locks taken while a worker list is imported.
const IMPORT_LOCK_SPACE: i32 = 0x7074_7469;

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Upserts `items` inside the caller's write transaction: all of them, or (on the first item
/// that breaks a rule) none. An employer change is an employment change from `today`.
pub fn import(conn: &mut DbConn, fund: FundId, items: Vec<ImportItem>, today: NaiveDate) -> Result<ImportOutcome, ImportError> {
    // One import of a fund at a time: each reads the stored workers and writes what differs,
    // so two at once would each overwrite the other's fields, or both create the same worker.
    crate::db::conn::lock_fund_scope(conn, IMPORT_LOCK_SPACE, fund)?;
    let employers = queries::employers_of_fund(conn, fund)?;
    let by_id: HashSet<EmployerId> = employers.iter().map(|e| e.id).collect();
    let by_kvk: HashMap<&str, EmployerId> = employers.iter().map(|e| (e.kvk_number.as_str(), e.id)).collect();
    let mut seen = HashSet::new();
    let mut resolved = Vec::with_capacity(items.len());
    for item in &items {
        if !seen.insert(item.participant_number.as_str()) {
            return Err(refuse(item.at, "participant_number", format!("{:?} appears twice in this import", excerpt(&item.participant_number))));
        }
        let employer = match &item.employer {
            None => None,
            Some(EmployerRef::Id(id)) if by_id.contains(id) => Some(*id),
            Some(EmployerRef::Id(_)) => return Err(refuse(item.at, "employer_id", "no such employer in this fund")),
            Some(EmployerRef::Kvk(kvk)) => Some(
                *by_kvk
                    .get(kvk.as_str())
                    .ok_or_else(|| refuse(item.at, "kvk_number", format!("no employer with KvK number {} in this fund", excerpt(kvk))))?,
            ),
        };
        resolved.push(employer);
    }
    let numbers: Vec<&str> = items.iter().map(|i| i.participant_number.as_str()).collect();
    let existing: HashMap<String, WorkerRow> =
        queries::workers_by_participant_numbers(conn, fund, &numbers)?.into_iter().map(|w| (w.participant_number.clone(), w)).collect();

    let mut outcome = ImportOutcome::default();
    let mut fresh = Vec::new();
    let now = now_utc();
    for (item, employer) in items.into_iter().zip(resolved) {
        let Some(stored) = existing.get(&item.participant_number) else {
            // A CSV names employers by KvK number, JSON by id (or KvK number).
            let employer_field = if matches!(item.at, ItemAt::Line(_)) { "kvk_number" } else { "employer_id" };
            let employer_id = employer.ok_or_else(|| refuse(item.at, employer_field, "a new worker needs an employer"))?;
            fresh.push(WorkerRow {
                id: WorkerId::new(),
                fund_id: fund,
                participant_number: item.participant_number,
                employer_id,
                birth_year: item.birth_year,
                education_level: item.education_level.map(|e| e.as_str().to_string()),
                created_at: now,
            });
            continue;
        };
        let birth_year = item.birth_year.or(stored.birth_year);
        let education_level = item.education_level.map(|e| e.as_str().to_string()).or_else(|| stored.education_level.clone());
        let facts_changed = birth_year != stored.birth_year || education_level != stored.education_level;
        if facts_changed {
            store::set_worker_facts(conn, stored.id, birth_year, education_level.as_deref())?;
        }
        let mut employer_changed = false;
        if let Some(employer) = employer.filter(|e| *e != stored.employer_id) {
            employer_changed = match change_employment(conn, fund, stored.id, employer, today, today) {
                Ok((_, changed)) => changed,
                Err(EmploymentError::Ledger(e)) => return Err(e.into()),
                Err(other) => return Err(refuse(item.at, "employer", other.to_string())),
            };
        }
        if facts_changed || employer_changed {
            outcome.updated += 1;
        } else {
            outcome.unchanged += 1;
        }
    }
    queries::insert_workers(conn, &fresh)?;
    let periods: Vec<EmploymentRow> = fresh
        .iter()
        .map(|w| EmploymentRow { worker_id: w.id, valid_from: today, fund_id: fund, employer_id: w.employer_id, valid_until: None, recorded_at: now })
        .collect();
    store::insert_periods(conn, &periods)?;
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::after_written(fresh.first().map_or("", |w| w.participant_number.as_str()))?;
    outcome.created = fresh.len();
    Ok(outcome)
}
