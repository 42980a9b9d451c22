//! Coaching sessions: recorded by a coach (the token's `sub`) or the back office. Recording one
//! decides the worker's claims that wait for guidance again, in the same transaction.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use crate::views::ClaimView;
use super::common::{page_query, run, FundItemPath, FundPath, Page};
use super::error::ApiError;
use crate::views::{SessionView};
use crate::db::queries;
use super::money_post::MoneyPost;
use crate::domain::time::iso_date;
use super::idempotency::Stored;
use crate::db::Pool;
use crate::domain::status::SessionKind;
use crate::domain::{ClaimId, FieldError, FundId, SessionId, VoucherId, WorkerId};
use crate::ledger::coaching::{record_session, SessionError, SessionRequest};

/// Longest session recorded, in minutes: a working day.
pub const MAX_SESSION_MINUTES: i32 = 8 * 60;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub worker_id: uuid::Uuid,
    #[serde(deserialize_with = "iso_date::required")]
    pub held_on: NaiveDate,
    pub duration_minutes: i32,
    pub kind: SessionKind,
    #[serde(default)]
    pub voucher_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub claim_id: Option<uuid::Uuid>,
}



#[derive(Debug, Serialize)]
struct RecordedView {
    #[serde(flatten)]
    session: SessionView,
    /// Claims that waited for guidance and were approved because of this session.
    claims_approved: Vec<ClaimView>,
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> ApiError {
        match e {
            SessionError::UnknownWorker(_) | SessionError::UnknownLink(_) => ApiError::unprocessable("unknown_reference", e.to_string()),
            SessionError::Claim(e) => e.into(),
        }
    }
}

pub async fn create_coaching_session(
    post: MoneyPost,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    metrics: web::Data<super::metrics::Metrics>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::Coach, Role::FundAdmin])?;
    let input: NewSession = post.parse()?;
    let day = post.today;
    if input.held_on > day {
        return Err(FieldError::new("held_on", "a session is recorded once it has been held: not a future date").into());
    }
    if day.checked_sub_days(chrono::Days::new(3_650)).is_some_and(|earliest| input.held_on < earliest) {
        return Err(FieldError::new("held_on", "must be within the last ten years").into());
    }
    if !(1..=MAX_SESSION_MINUTES).contains(&input.duration_minutes) {
        return Err(FieldError::new("duration_minutes", format!("must be from 1 to {MAX_SESSION_MINUTES}")).into());
    }
    let request = SessionRequest {
        worker_id: WorkerId(input.worker_id),
        held_on: input.held_on,
        duration_minutes: input.duration_minutes,
        kind: input.kind,
        voucher_id: input.voucher_id.map(VoucherId),
        claim_id: input.claim_id.map(ClaimId),
    };
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let (session, approved) = record_session(conn, fund, &caller.sub, &request, day)?;
            Stored::new(
                StatusCode::CREATED,
                RecordedView { session: session.into(), claims_approved: approved.into_iter().map(ClaimView::from).collect() },
            )
        })
        .await?;
    if !answer.stored.replayed {
        let approved = answer.stored.field("claims_approved").and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0);
        for _ in 0..approved {
            metrics.claim_decided("approved_after_guidance");
        }
    }
    Ok(answer.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    pub worker_id: Option<uuid::Uuid>,
}

pub async fn list_coaching_sessions(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<SessionListParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::Coach, Role::FundAdmin])?;
    let params = params.into_inner();
    let query = page_query(params.limit, params.after.as_deref())?;
    let page = run(&pool, move |conn| {
        let rows = queries::list_sessions(conn, fund, params.worker_id.map(WorkerId), &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, SessionView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_coaching_session(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::Coach, Role::FundAdmin])?;
    let id = SessionId(path.id);
    let session = run(&pool, move |conn| {
        queries::find_session(conn, fund, id)?.ok_or_else(|| ApiError::not_found("coaching session"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(SessionView::from(session)))
}
