//! Grants: one, or a bulk of up to `MAX_BULK_GRANTS` in one database transaction.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::Role;
use super::common::FundPath;
use super::error::ApiError;
use crate::views::{GrantView};
use super::money_post::MoneyPost;
use super::idempotency::Stored;
use crate::db::Pool;
use crate::domain::{format_cents, Amount, FundId, SchemeId, WorkerId};
use crate::ledger::grants::{grant_many, grant_one, BulkGrantError, GrantRequest};

/// Most grants in one bulk request: one transaction, bounded in time and memory.
pub const MAX_BULK_GRANTS: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    pub worker_id: uuid::Uuid,
    pub scheme_id: uuid::Uuid,
    #[serde(default)]
    pub amount: Option<Amount>,
    pub grant_year: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkGrants {
    pub grants: Vec<NewGrant>,
}

impl From<&NewGrant> for GrantRequest {
    fn from(g: &NewGrant) -> GrantRequest {
        GrantRequest {
            worker_id: WorkerId(g.worker_id),
            scheme_id: SchemeId(g.scheme_id),
            amount: g.amount,
            grant_year: g.grant_year,
            recorded_at: None,
        }
    }
}



#[derive(Debug, Serialize)]
pub struct BulkGrantView {
    pub count: usize,
    pub granted_total: String,
    /// Every grant, in request order; empty in the replay of a bulk too large to keep whole.
    pub grants: Vec<GrantView>,
    /// Set in such a replay: the grants are in the workers' budgets and ledgers.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub grants_not_kept: bool,
}

/// `POST /v1/funds/{fund}/grants`: a single grant object, or `{"grants": [...]}`.
pub async fn create_grants(post: MoneyPost, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let requests = if post.body().is_some_and(|body| body.get("grants").is_some()) {
        let bulk: BulkGrants = post.parse()?;
        if bulk.grants.is_empty() || bulk.grants.len() > MAX_BULK_GRANTS {
            return Err(ApiError::unprocessable(
                "invalid_batch_size",
                format!("a bulk holds 1 to {MAX_BULK_GRANTS} grants; split larger ones"),
            ));
        }
        Requests::Bulk(bulk.grants.iter().map(GrantRequest::from).collect())
    } else {
        Requests::Single(GrantRequest::from(&post.parse::<NewGrant>()?))
    };
    let day = post.today;
    let answer = post
        .run(&pool, fund, move |conn, caller| match &requests {
            Requests::Single(request) => {
                let outcome = grant_one(conn, fund, &caller.sub, request, day)?;
                Stored::new(StatusCode::CREATED, GrantView::from(outcome))
            }
            Requests::Bulk(requests) => {
                let outcomes = grant_many(conn, fund, &caller.sub, requests, day).map_err(at_index)?;
                let (count, granted_total) = (outcomes.len(), format_cents(outcomes.iter().map(|o| o.granted_cents).sum()));
                let grants = outcomes.into_iter().map(GrantView::from).collect();
                let view = BulkGrantView { count, granted_total: granted_total.clone(), grants, grants_not_kept: false };
                Stored::new(StatusCode::CREATED, view)?.keeping(|| {
                    serde_json::to_string(&BulkGrantView { count, granted_total, grants: Vec::new(), grants_not_kept: true })
                })
            }
        })
        .await?;
    // A single grant's resource is the budget it went into; a bulk's is the request's own URL.
    let location = match answer.stored.field("worker_id") {
        Some(serde_json::Value::String(worker)) => Some(format!("/v1/funds/{fund}/workers/{worker}/budget")),
        _ => None,
    };
    Ok(answer.located(location))
}

enum Requests {
    Single(GrantRequest),
    Bulk(Vec<GrantRequest>),
}

/// Names the failing item of a bulk, so the back office can fix it; nothing of the bulk is kept.
fn at_index(failure: BulkGrantError) -> ApiError {
    let mut api = ApiError::from(failure.error);
    match failure.index {
        Some(index) => {
            api.detail = format!("grants[{index}]: {}; nothing of this bulk was booked", api.detail);
            api.with_extra(serde_json::json!({ "index": index }))
        }
        None => api,
    }
}
