//! Payment batches: the back office pays approved claims through its bank. `POST` makes a batch
//! of everything payable, `GET .../pain.001` is the file for the bank, `confirm` records that
//! the bank took it (the claims are paid), `cancel` releases the claims.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::Role;
use super::common::{bounded_text, page_query, run, FundItemPath, FundPath, Page, PageParams};
use super::error::ApiError;
use super::idempotency::Stored;
use super::money_post::{MoneyAction, MoneyPost};
use crate::db::payments as store;
use crate::db::Pool;
use crate::domain::payments::SkipReason;
use crate::domain::time::iso_date;
use crate::domain::{format_cents, BatchId, ClaimId, FundId};
use crate::ledger::payments::{self as batches, BatchError};
use crate::views::BatchView;

/// The longest bank reference taken on confirm (with the end-to-end id it becomes each
/// claim's payment reference of at most 100 characters).
pub const MAX_BANK_REFERENCE_CHARS: usize = 60;

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> ApiError {
        match e {
            BatchError::SettingsMissing(_) => ApiError::conflict("payment_settings_missing", e.to_string()),
            BatchError::Rule(rule) => rule.into(),
            BatchError::NothingToPay { ref skipped } => {
                let skipped: Vec<SkippedView> = skipped.iter().map(|(claim_id, reason)| SkippedView { claim_id: *claim_id, reason: *reason }).collect();
                ApiError::conflict("nothing_to_pay", e.to_string()).with_extra(serde_json::json!({ "skipped": skipped }))
            }
            BatchError::NotFound => ApiError::not_found("payment batch"),
            BatchError::NotOpen(_) => ApiError::conflict("invalid_state", e.to_string()),
            BatchError::ReportMismatch(_) => ApiError::unprocessable("status_report_invalid", e.to_string()),
            BatchError::Claim(e) => e.into(),
            BatchError::Ledger(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBatch {
    #[serde(deserialize_with = "iso_date::required")]
    execution_date: NaiveDate,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedView {
    pub claim_id: ClaimId,
    pub reason: SkipReason,
}

#[derive(Debug, Serialize)]
pub struct ItemView {
    pub claim_id: ClaimId,
    pub amount: String,
    pub creditor_name: String,
    pub creditor_iban: String,
    pub end_to_end_id: String,
    pub remittance: String,
    /// True when the bank refused this transfer (its status report): the claim is unpaid again.
    pub returned: bool,
    /// The bank's reason code for a refused transfer, e.g. AC01.
    pub return_reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct MadeView {
    #[serde(flatten)]
    batch: BatchView,
    /// Approved claims left out of this batch, and why.
    skipped: Vec<SkippedView>,
}

#[derive(Debug, Serialize)]
struct BatchWithItems {
    #[serde(flatten)]
    batch: BatchView,
    items: Vec<ItemView>,
}

pub async fn create_batch(post: MoneyPost, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let body: NewBatch = post.parse()?;
    let today = post.today;
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let made = batches::make_batch(conn, fund, body.execution_date, today, &caller.sub)?;
            let skipped = made.skipped.iter().map(|(claim_id, reason)| SkippedView { claim_id: *claim_id, reason: *reason }).collect();
            Stored::new(StatusCode::CREATED, MadeView { batch: BatchView::from(&made.batch), skipped })
        })
        .await?;
    Ok(answer.into_response())
}

pub async fn list_batches(
    caller: super::auth::Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let query = page_query(params.limit, params.after.as_deref())?;
    let page = run(&pool, move |conn| {
        let rows = store::list_batches(conn, fund, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, |r| BatchView::from(&r)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_batch(caller: super::auth::Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let id = BatchId(path.id);
    let view = run(&pool, move |conn| {
        let batch = store::find_batch(conn, fund, id)?.ok_or_else(|| ApiError::not_found("payment batch"))?;
        let returns = store::returns_of(conn, id)?;
        let items = store::items_of(conn, id)?
            .into_iter()
            .map(|i| {
                let returned = returns.iter().find(|r| r.claim_id == i.claim_id);
                ItemView {
                    claim_id: i.claim_id,
                    amount: format_cents(i.amount_cents),
                    creditor_name: i.creditor_name,
                    creditor_iban: i.creditor_iban,
                    end_to_end_id: i.end_to_end_id,
                    remittance: i.remittance,
                    returned: returned.is_some(),
                    return_reason: returned.and_then(|r| r.reason_code.clone()),
                }
            })
            .collect();
        Ok(BatchWithItems { batch: BatchView::from(&batch), items })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The batch as the bank takes it: ISO 20022 `pain.001.001.09`. The same file every time.
pub async fn get_pain_001(caller: super::auth::Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let id = BatchId(path.id);
    let xml = run(&pool, move |conn| {
        let batch = store::find_batch(conn, fund, id)?.ok_or_else(|| ApiError::not_found("payment batch"))?;
        // A cancelled batch's claims go into a later batch: its file, sent by mistake, would pay
        // them twice.
        if batch.status == crate::domain::payments::BatchStatus::Cancelled {
            return Err(ApiError::conflict("invalid_state", "the batch was cancelled: its file must not go to the bank; its claims are in a later batch"));
        }
        let items = store::items_of(conn, id)?;
        crate::sepa::pain_001(&batch, &items, batch.created_at).map_err(ApiError::internal)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"pain.001-{}.xml\"", id.0.simple())))
        .body(xml))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    bank_reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoBody {}

pub async fn confirm_batch(post: MoneyAction, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let body: ConfirmBody = post.parse()?;
    bounded_text("bank_reference", &body.bank_reference, MAX_BANK_REFERENCE_CHARS)?;
    let id = BatchId(path.id);
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let batch = batches::confirm(conn, fund, id, &body.bank_reference, &caller.sub)?;
            Stored::new(StatusCode::OK, BatchView::from(&batch))
        })
        .await?;
    Ok(answer.into_response())
}

pub async fn cancel_batch(post: MoneyAction, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    post.parse::<NoBody>()?;
    let id = BatchId(path.id);
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let batch = batches::cancel(conn, fund, id, &caller.sub)?;
            Stored::new(StatusCode::OK, BatchView::from(&batch))
        })
        .await?;
    Ok(answer.into_response())
}

#[derive(Debug, Serialize)]
struct StatusReportView {
    #[serde(flatten)]
    batch: BatchView,
    /// Transfers the bank accepted (their claims are paid) and refused (their claims are
    /// approved and unpaid again).
    paid: usize,
    returned: usize,
}

/// The bank's `pain.002` reply to the batch's file (`Content-Type: application/xml`).
pub async fn status_report(
    caller: super::auth::Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    request: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let is_xml = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == actix_web::mime::XML && matches!(m.type_().as_str(), "application" | "text"));
    if !is_xml {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send the bank's pain.002 file as it is, with Content-Type: application/xml",
        ));
    }
    let bytes = super::json_body::read_body(&request, payload).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::unprocessable("status_report_invalid", "the file is not UTF-8 XML"))?;
    let report = crate::sepa::parse_pain_002(text).map_err(|e| ApiError::unprocessable("status_report_invalid", e))?;
    let id = BatchId(path.id);
    let view = run(&pool, move |conn| {
        crate::ledger::write_tx(conn, |conn| {
            let (batch, paid) = batches::status_report(conn, fund, id, &report, &caller.sub)?;
            let returned = usize::try_from(batch.transaction_count).unwrap_or(0).saturating_sub(paid);
            Ok::<_, ApiError>(StatusReportView { batch: BatchView::from(&batch), paid, returned })
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
