//! Workers: a participant number, an employer, and only the personal data the board's
//! breakdowns need (birth year, education level). No names, no BSN.

use actix_web::{web, HttpResponse};
use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundItemPath, FundPath, Page, Today, with_location};
use super::error::ApiError;
use crate::db::queries::{self, Inserted};
use super::json_body::JsonBody;
use crate::db::rows::{self, WorkerRow};
use crate::db::{DbConn, Pool};
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::{EducationLevel, EmployerId, FieldError, FundId, WorkerId};

/// Youngest age at which someone can be a worker in a scheme, for the `birth_year` check.
pub const MIN_WORKER_AGE_YEARS: i32 = 14;
pub const EARLIEST_BIRTH_YEAR: i32 = 1900;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorker {
    pub participant_number: String,
    pub employer_id: uuid::Uuid,
    #[serde(default)]
    pub birth_year: Option<i32>,
    #[serde(default)]
    pub education_level: Option<EducationLevel>,
}

/// Budget of a worker that lapses soon: the outreach list's reason to call.
#[derive(Debug, Clone, Serialize)]
pub struct LapsingView {
    pub amount: String,
    pub first_expires_on: chrono::NaiveDate,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapsing: Option<LapsingView>,
}

impl From<WorkerRow> for WorkerView {
    fn from(r: WorkerRow) -> WorkerView {
        WorkerView {
            id: r.id,
            fund_id: r.fund_id,
            participant_number: r.participant_number,
            employer_id: r.employer_id,
            birth_year: r.birth_year,
            education_level: r.education_level,
            created_at: rfc3339(r.created_at),
            lapsing: None,
        }
    }
}

/// Loads a worker the caller may see: the back office sees every worker of its fund, an
/// employer its own workers, a worker itself. Anything else is 404.
pub fn visible_worker(conn: &mut DbConn, caller: &Caller, fund: FundId, worker: WorkerId) -> Result<WorkerRow, ApiError> {
    if caller.role == Role::Worker && caller.worker != Some(worker) {
        return Err(ApiError::not_found("worker"));
    }
    let row = rows::find_worker(conn, fund, worker)?.ok_or_else(|| ApiError::not_found("worker"))?;
    if caller.role == Role::Employer && caller.employer != Some(row.employer_id) {
        return Err(ApiError::not_found("worker"));
    }
    Ok(row)
}

pub async fn create_worker(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    today: Today,
    body: JsonBody<NewWorker>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer])?;
    let body = body.into_inner();
    bounded_text("participant_number", &body.participant_number, 64)?;
    let latest_birth_year = today.0.year() - MIN_WORKER_AGE_YEARS;
    if let Some(year) = body.birth_year {
        if !(EARLIEST_BIRTH_YEAR..=latest_birth_year).contains(&year) {
            return Err(FieldError::new("birth_year", format!("must be from {EARLIEST_BIRTH_YEAR} to {latest_birth_year}")).into());
        }
    }
    let employer_id = EmployerId(body.employer_id);
    if caller.role == Role::Employer && caller.employer != Some(employer_id) {
        return Err(ApiError::unprocessable("unknown_reference", "employer_id: an employer registers its own workers only"));
    }
    let row = WorkerRow {
        id: WorkerId::new(),
        fund_id: fund,
        participant_number: body.participant_number,
        employer_id,
        birth_year: body.birth_year,
        education_level: body.education_level.map(|e| e.as_str().to_string()),
        created_at: now_utc(),
    };
    let row = run(&pool, move |conn| {
        if rows::find_employer(conn, fund, row.employer_id)?.is_none() {
            return Err(ApiError::unprocessable("unknown_reference", "employer_id: no such employer in this fund"));
        }
        if queries::insert_worker(conn, &row)? == Inserted::Duplicate {
            return Err(ApiError::conflict(
                "duplicate_participant_number",
                format!("a worker with participant number {:?} exists already", row.participant_number),
            ));
        }
        Ok(row)
    })
    .await?;
    let location = format!("/v1/funds/{fund}/workers/{}", row.id);
    Ok(with_location(HttpResponse::Created().json(WorkerView::from(row)), Some(location)))
}

/// Widest outreach window, in days.
pub const MAX_LAPSING_WINDOW_DAYS: i64 = 3 * 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    /// Outreach list: only workers whose available budget lapses within this many days.
    pub budget_lapsing_within_days: Option<i64>,
}

pub async fn list_workers(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<WorkerListParams>,
    today: Today,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer])?;
    let params = params.into_inner();
    let query = super::common::page_query(params.limit, params.after.as_deref())?;
    if let Some(days) = params.budget_lapsing_within_days {
        caller.require(&[Role::FundAdmin])?;
        if !(0..=MAX_LAPSING_WINDOW_DAYS).contains(&days) {
            return Err(ApiError::bad_request("invalid_query", format!("budget_lapsing_within_days must be from 0 to {MAX_LAPSING_WINDOW_DAYS}")));
        }
        let until = today.0 + chrono::Duration::days(days);
        let page = run(&pool, move |conn| outreach_page(conn, fund, today.0, until, &query)).await?;
        return Ok(HttpResponse::Ok().json(page));
    }
    let employer = if caller.role == Role::Employer { caller.employer } else { None };
    let page = run(&pool, move |conn| {
        let rows = rows::list_workers(conn, fund, employer, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, WorkerView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Workers whose usable, available budget lapses between `from` and `until`, with how much and
/// when first; newest worker first.
fn outreach_page(
    conn: &mut DbConn,
    fund: FundId,
    from: chrono::NaiveDate,
    until: chrono::NaiveDate,
    query: &crate::db::rows::PageQuery,
) -> Result<Page<WorkerView>, ApiError> {
    let lapsing = crate::db::ledger_reads::lapsing_by_worker(conn, fund, from, until)?;
    let after: Option<WorkerId> = query.after.as_deref().and_then(|after| after.parse().ok());
    let mut selected: Vec<(WorkerId, i64, chrono::NaiveDate)> =
        lapsing.into_iter().filter(|(worker, _, _)| after.is_none_or(|after| *worker < after)).collect();
    selected.sort_by_key(|(worker, _, _)| std::cmp::Reverse(*worker));
    selected.truncate(query.limit as usize);
    let ids: Vec<WorkerId> = selected.iter().map(|(w, _, _)| *w).collect();
    let mut rows: Vec<WorkerRow> = queries::workers_by_id(conn, &ids)?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.id));
    Ok(Page::from_rows(rows, query, |r| r.id, |r| {
        let lapsing = selected.iter().find(|(w, _, _)| *w == r.id).map(|(_, cents, date)| LapsingView {
            amount: crate::domain::format_cents(*cents),
            first_expires_on: *date,
        });
        WorkerView { lapsing, ..WorkerView::from(r) }
    }))
}

pub async fn get_worker(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let worker = WorkerId(path.id);
    let row = run(&pool, move |conn| visible_worker(conn, &caller, fund, worker)).await?;
    Ok(HttpResponse::Ok().json(WorkerView::from(row)))
}
