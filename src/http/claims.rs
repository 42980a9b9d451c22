//! Claims (declaraties): submit (decided at once), read, list, approve, reject, pay, reverse.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::common::{status_filter, bounded_text, page_query, run, FundItemPath, FundPath, Page};
use super::error::ApiError;
use crate::views::{ClaimView};
use crate::domain::status::ClaimStatus;
use crate::db::queries::{self, ClaimFilter};
use super::money_post::{MoneyAction, MoneyPost};
use crate::domain::time::iso_date;
use super::idempotency::Stored;
use crate::db::rows::ClaimRow;
use super::metrics::Metrics;
use crate::db::{DbConn, Pool};
use crate::domain::scheme::is_slug;
use crate::domain::time::amsterdam_day_start_utc;
use crate::domain::{Amount, ClaimId, EmployerId, FieldError, FundId, SchemeId, WorkerId};
use crate::ledger::claims::{self as ledger_claims, ClaimError, ClaimRequest};


pub const MAX_INVOICE_REFERENCE_CHARS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClaim {
    pub worker_id: uuid::Uuid,
    pub scheme_id: uuid::Uuid,
    pub amount: Amount,
    pub category: String,
    pub course: String,
    pub provider: String,
    pub invoice_reference: String,
    #[serde(deserialize_with = "iso_date::required")]
    pub training_start: NaiveDate,
    #[serde(deserialize_with = "iso_date::required")]
    pub training_end: NaiveDate,
    #[serde(default)]
    pub voucher_code: Option<String>,
    #[serde(default)]
    pub evidence_reference: Option<String>,
    /// A registered provider of the fund; required under `provider_policy: registered`.
    #[serde(default)]
    pub provider_id: Option<uuid::Uuid>,
}

impl NewClaim {
    fn validate(self) -> Result<ClaimRequest, FieldError> {
        if !is_slug(&self.category, 40) {
            return Err(FieldError::new("category", "use a scheme category such as \"vakopleiding\""));
        }
        bounded_text("course", &self.course, 200)?;
        bounded_text("provider", &self.provider, 200)?;
        bounded_text("invoice_reference", &self.invoice_reference, MAX_INVOICE_REFERENCE_CHARS)?;
        if let Some(evidence) = &self.evidence_reference {
            bounded_text("evidence_reference", evidence, 200)?;
        }
        if let Some(code) = &self.voucher_code {
            bounded_text("voucher_code", code, 40)?;
        }
        if self.training_end < self.training_start {
            return Err(FieldError::new("training_end", "must be on or after training_start"));
        }
        Ok(ClaimRequest {
            worker_id: WorkerId(self.worker_id),
            scheme_id: SchemeId(self.scheme_id),
            amount: self.amount,
            category: self.category,
            course: self.course,
            provider: self.provider,
            invoice_reference: self.invoice_reference,
            training_start: self.training_start,
            training_end: self.training_end,
            voucher_code: self.voucher_code,
            evidence_reference: self.evidence_reference,
            provider_id: self.provider_id.map(crate::domain::ProviderId),
        })
    }
}



impl From<ClaimError> for ApiError {
    fn from(e: ClaimError) -> ApiError {
        match e {
            ClaimError::UnknownWorker(_) | ClaimError::UnknownScheme(_) | ClaimError::UnknownProvider(_) => {
                ApiError::unprocessable("unknown_reference", e.to_string())
            }
            ClaimError::NotFound => ApiError::not_found("claim"),
            ClaimError::DuplicateInvoice { ref existing_id, .. } => {
                let extra = serde_json::json!({ "existing_id": existing_id });
                ApiError::conflict("duplicate_invoice", e.to_string()).with_extra(extra)
            }
            ClaimError::InvalidState { status: ClaimStatus::Reversed, .. } => {
                ApiError::conflict("already_reversed", e.to_string())
            }
            ClaimError::InvalidState { .. } | ClaimError::FullyApproved => ApiError::conflict("invalid_state", e.to_string()),
            ClaimError::AlreadyPaid => ApiError::conflict("already_paid", e.to_string()),
            ClaimError::InPaymentBatch(batch) => {
                ApiError::conflict("in_payment_batch", e.to_string()).with_extra(serde_json::json!({ "payment_batch_id": batch }))
            }
            ClaimError::Ledger(e) => e.into(),
        }
    }
}

/// Loads a claim the caller may see: the back office all of its fund, an employer its own, a
/// worker its own.
pub fn visible_claim(conn: &mut DbConn, caller: &Caller, fund: FundId, claim_id: ClaimId) -> Result<ClaimRow, ApiError> {
    let claim = ledger_claims::find_claim(conn, fund, claim_id)?.ok_or_else(|| ApiError::not_found("claim"))?;
    let hidden = match caller.role {
        Role::Employer => caller.employer != Some(claim.employer_id),
        Role::Worker => caller.worker != Some(claim.worker_id),
        _ => false,
    };
    if hidden {
        return Err(ApiError::not_found("claim"));
    }
    Ok(claim)
}

pub async fn create_claim(
    post: MoneyPost,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin, Role::Employer])?;
    let request = post.parse::<NewClaim>()?.validate()?;
    let employer = if post.caller.role == Role::Employer { post.caller.employer } else { None };
    let day = post.today;
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let claim = ledger_claims::submit(conn, fund, employer, &caller.sub, &request, day)?;
            Stored::new(StatusCode::CREATED, ClaimView::from(claim))
        })
        .await?;
    if !answer.stored.replayed {
        if let Some(serde_json::Value::String(status)) = answer.stored.field("status") {
            metrics.claim_decided(&status);
        }
    }
    Ok(answer.into_response())
}

pub async fn get_claim(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let id = ClaimId(path.id);
    let claim = run(&pool, move |conn| visible_claim(conn, &caller, fund, id)).await?;
    Ok(HttpResponse::Ok().json(ClaimView::from(claim)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    pub status: Option<String>,
    pub worker_id: Option<uuid::Uuid>,
    pub employer_id: Option<uuid::Uuid>,
    /// First Amsterdam day of submission, inclusive.
    #[serde(default, deserialize_with = "iso_date::optional")]
    pub submitted_from: Option<NaiveDate>,
    /// Last Amsterdam day of submission, inclusive.
    #[serde(default, deserialize_with = "iso_date::optional")]
    pub submitted_to: Option<NaiveDate>,
    /// Lookup: the claims with this invoice reference (one per employer at most).
    pub invoice_reference: Option<String>,
}

pub async fn list_claims(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<ClaimListParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let params = params.into_inner();
    let query = page_query(params.limit, params.after.as_deref())?;
    let status = status_filter::<ClaimStatus>(params.status.as_deref(), &ClaimStatus::ALL.map(ClaimStatus::as_str))?;
    if let Some(invoice) = &params.invoice_reference {
        super::common::query_text("invoice_reference", invoice, MAX_INVOICE_REFERENCE_CHARS)?;
    }
    let worker = match caller.role {
        Role::Worker => caller.worker,
        _ => params.worker_id.map(WorkerId),
    };
    let employer = match caller.role {
        Role::Employer => caller.employer,
        _ => params.employer_id.map(EmployerId),
    };
    let page = run(&pool, move |conn| {
        let filter = ClaimFilter {
            worker_id: worker,
            employer_id: employer,
            status,
            submitted_from: params.submitted_from.map(amsterdam_day_start_utc),
            submitted_before: params.submitted_to.and_then(|d| d.succ_opt()).map(amsterdam_day_start_utc),
            invoice_reference: params.invoice_reference,
        };
        let rows = queries::list_claims(conn, fund, &filter, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, ClaimView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoBody {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    payment_reference: String,
}

/// The back office's actions on a claim.
#[derive(Clone, Copy, Debug)]
enum Action {
    Approve,
    Reject,
    Pay,
    Reverse,
}

async fn act(action: Action, post: MoneyAction, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let text = match action {
        Action::Approve => {
            post.parse::<NoBody>()?;
            String::new()
        }
        Action::Reject | Action::Reverse => {
            let body: ReasonBody = post.parse()?;
            bounded_text("reason", &body.reason, 500)?;
            body.reason
        }
        Action::Pay => {
            let body: PayBody = post.parse()?;
            bounded_text("payment_reference", &body.payment_reference, 100)?;
            body.payment_reference
        }
    };
    let id = ClaimId(path.id);
    let day = post.today;
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let claim = match action {
                Action::Approve => ledger_claims::approve(conn, fund, id, &caller.sub, day)?,
                Action::Reject => ledger_claims::reject(conn, fund, id, &text, &caller.sub, day)?,
                Action::Pay => ledger_claims::pay(conn, fund, id, &text, &caller.sub)?,
                Action::Reverse => ledger_claims::reverse(conn, fund, id, &text, &caller.sub, day)?,
            };
            Stored::new(StatusCode::OK, ClaimView::from(claim))
        })
        .await?;
    Ok(answer.into_response())
}

/// The four action routes: each its own name for the route table, all the same handler.
macro_rules! claim_action {
    ($($name:ident => $action:expr),* $(,)?) => {$(
        pub async fn $name(post: MoneyAction, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
            act($action, post, pool, path).await
        }
    )*};
}

claim_action!(
    approve_claim => Action::Approve,
    reject_claim => Action::Reject,
    pay_claim => Action::Pay,
    reverse_claim => Action::Reverse,
);
