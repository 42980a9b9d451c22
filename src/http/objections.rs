//! Objections (bezwaar) to claim decisions: filed by the employer that submitted the claim, the
//! worker, or the back office on their behalf; listed; decided by the back office.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::common::{bounded_text, page_query, run, status_filter, with_location, FundItemPath, FundPath, Page, Today};
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::db::objections::{self as store, ObjectionFilter};
use crate::db::Pool;
use crate::domain::objections::ObjectionStatus;
use crate::domain::{ClaimId, FundId, ObjectionId};
use crate::ledger::objections::{self as objections, ObjectionError};
use crate::views::ObjectionView;

pub const MAX_OBJECTION_TEXT_CHARS: usize = 2_000;

impl From<ObjectionError> for ApiError {
    fn from(e: ObjectionError) -> ApiError {
        match e {
            ObjectionError::NotFound => ApiError::not_found("objection"),
            ObjectionError::NotObjectionable => ApiError::conflict("not_objectionable", e.to_string()),
            ObjectionError::TooLate(_) => ApiError::unprocessable("objection_too_late", e.to_string()),
            ObjectionError::AlreadyOpen => ApiError::conflict("objection_open", e.to_string()),
            ObjectionError::Decided => ApiError::conflict("invalid_state", e.to_string()),
            ObjectionError::Claim(e) => e.into(),
            ObjectionError::Ledger(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewObjection {
    pub reason: String,
}

pub async fn file_objection(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
    body: JsonBody<NewObjection>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let body = body.into_inner();
    bounded_text("reason", &body.reason, MAX_OBJECTION_TEXT_CHARS)?;
    let (claim_id, today) = (ClaimId(path.id), today.0);
    let view = run(&pool, move |conn| {
        crate::ledger::write_tx(conn, |conn| {
            // The submitting employer and the worker reach only their own claims (404 otherwise).
            super::claims::visible_claim(conn, &caller, fund, claim_id)?;
            let row = objections::file(conn, fund, claim_id, caller.role.as_str(), &caller.sub, &body.reason, today)?;
            Ok::<_, ApiError>(ObjectionView::from(&row))
        })
    })
    .await?;
    let location = format!("/v1/funds/{fund}/objections/{}", view.id);
    Ok(with_location(HttpResponse::build(StatusCode::CREATED).json(view), Some(location)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectionListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    pub status: Option<String>,
    pub claim_id: Option<uuid::Uuid>,
}

/// The back office sees every objection of its fund, an employer those to its claims, a worker
/// its own.
pub async fn list_objections(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>, params: web::Query<ObjectionListParams>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let params = params.into_inner();
    let query = page_query(params.limit, params.after.as_deref())?;
    let names: Vec<&str> = ObjectionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let filter = ObjectionFilter {
        status: status_filter::<ObjectionStatus>(params.status.as_deref(), &names)?,
        employer_id: if caller.role == Role::Employer { caller.employer } else { None },
        worker_id: if caller.role == Role::Worker { caller.worker } else { None },
        claim_id: params.claim_id.map(ClaimId),
    };
    let page = run(&pool, move |conn| {
        let rows = store::list(conn, fund, &filter, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, |r| ObjectionView::from(&r)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub outcome: Outcome,
    pub motivation: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Upheld,
    Dismissed,
}

pub async fn decide_objection(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>, body: JsonBody<Decision>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let body = body.into_inner();
    bounded_text("motivation", &body.motivation, MAX_OBJECTION_TEXT_CHARS)?;
    let id = ObjectionId(path.id);
    let view = run(&pool, move |conn| {
        crate::ledger::write_tx(conn, |conn| {
            let upheld = matches!(body.outcome, Outcome::Upheld);
            let row = objections::decide(conn, fund, id, upheld, &body.motivation, &caller.sub)?;
            Ok::<_, ApiError>(ObjectionView::from(&row))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
