//! Workers: a participant number, an employer, and only the personal data the board's
//! breakdowns need (birth year, education level). No names, no BSN.

use actix_web::{web, HttpResponse};
use chrono::Datelike;
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundItemPath, FundPath, Page, Today, with_location};
use super::error::ApiError;
use crate::db::queries::{self, Inserted};
use super::json_body::JsonBody;
use crate::db::employment;
use crate::db::rows::{self, WorkerRow};
use crate::db::{DbConn, Pool};
use crate::domain::time::now_utc;
use crate::views::{LapsingView, WorkerView};
use crate::domain::{EducationLevel, EmployerId, FieldError, FundId, WorkerId};

/// Youngest age at which someone can be a worker in a scheme, for the `birth_year` check.
pub const MIN_WORKER_AGE_YEARS: i32 = 14;
pub const EARLIEST_BIRTH_YEAR: i32 = 1900;
pub const MAX_PARTICIPANT_NUMBER_CHARS: usize = 64;

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
    bounded_text("participant_number", &body.participant_number, MAX_PARTICIPANT_NUMBER_CHARS)?;
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
    let today = today.0;
    let view = run(&pool, move |conn| {
        crate::db::write_tx(conn, |conn| {
            if rows::find_employer(conn, fund, row.employer_id)?.is_none() {
                return Err(ApiError::unprocessable("unknown_reference", "employer_id: no such employer in this fund"));
            }
            if crate::ledger::employment::register_worker(conn, &row, today)? == Inserted::Duplicate {
                return Err(duplicate_participant_number(conn, &caller, fund, &row.participant_number));
            }
            let history = employment::histories(conn, fund, &[row.id])?;
            Ok(WorkerView::new(row, &history))
        })
    })
    .await?;
    let location = format!("/v1/funds/{fund}/workers/{}", view.id);
    Ok(with_location(HttpResponse::Created().json(view), Some(location)))
}

/// 409 for a participant number the fund has already, naming the worker that has it when the
/// caller may read that worker (an employer is not told the id of another employer's worker).
pub fn duplicate_participant_number(conn: &mut DbConn, caller: &Caller, fund: FundId, participant_number: &str) -> ApiError {
    let existing = queries::worker_by_participant_number(conn, fund, participant_number)
        .ok()
        .flatten()
        .filter(|w| caller.role != Role::Employer || caller.employer == Some(w.employer_id));
    ApiError::conflict("duplicate_participant_number", format!("a worker with participant number {participant_number:?} exists already"))
        .with_extra(serde_json::json!({ "existing_id": existing.map(|w| w.id) }))
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
    /// Lookup: the worker with this participant number (a list of at most one).
    pub participant_number: Option<String>,
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
    if let Some(number) = &params.participant_number {
        super::common::query_text("participant_number", number, MAX_PARTICIPANT_NUMBER_CHARS)?;
    }
    let page = run(&pool, move |conn| {
        let rows = rows::list_workers(conn, fund, employer, params.participant_number.as_deref(), &query)?;
        let history = employment::histories(conn, fund, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
        Ok(Page::from_rows(rows, &query, |r| r.id, |r| WorkerView::new(r, &history)))
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
    let history = employment::histories(conn, fund, &ids)?;
    Ok(Page::from_rows(rows, query, |r| r.id, |r| {
        let lapsing = selected.iter().find(|(w, _, _)| *w == r.id).map(|(_, cents, date)| LapsingView {
            amount: crate::domain::format_cents(*cents),
            first_expires_on: *date,
        });
        WorkerView { lapsing, ..WorkerView::new(r, &history) }
    }))
}

pub async fn get_worker(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let worker = WorkerId(path.id);
    let view = run(&pool, move |conn| {
        let row = visible_worker(conn, &caller, fund, worker)?;
        let history = employment::histories(conn, fund, &[worker])?;
        Ok(WorkerView::new(row, &history))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmploymentChange {
    pub employer_id: uuid::Uuid,
    #[serde(deserialize_with = "crate::domain::time::iso_date::required")]
    pub from: chrono::NaiveDate,
}

/// Moves a worker to another employer from a day on; the budget stays with the worker. Sending
/// the same change again changes nothing and answers the same.
pub async fn change_employment(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
    body: JsonBody<EmploymentChange>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let (worker, body, today) = (WorkerId(path.id), body.into_inner(), today.0);
    let view = run(&pool, move |conn| {
        crate::ledger::write_tx(conn, |conn| {
            let (view, _) = crate::ledger::employment::change_employment(conn, fund, worker, EmployerId(body.employer_id), body.from, today)?;
            Ok::<_, ApiError>(view)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
