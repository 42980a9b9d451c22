//! Vouchers: issue (reserve), read, list, cancel (release).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::common::{status_filter, bounded_text, page_query, run, FundItemPath, FundPath, Page};
use super::error::ApiError;
use crate::views::{VoucherView};
use crate::domain::status::VoucherStatus;
use crate::db::queries::{self, VoucherFilter};
use super::money_post::{MoneyAction, MoneyPost};
use crate::domain::time::iso_date;
use super::idempotency::Stored;
use crate::db::rows::VoucherRow;
use crate::db::{DbConn, Pool};
use crate::domain::{Amount, FieldError, FundId, SchemeId, VoucherId, WorkerId};
use crate::ledger::vouchers::{close, find_voucher, issue, VoucherError, VoucherRequest};

/// How far ahead a voucher may run.
pub const MAX_VOUCHER_VALIDITY_DAYS: i64 = 2 * 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVoucher {
    pub worker_id: uuid::Uuid,
    pub scheme_id: uuid::Uuid,
    pub amount: Amount,
    pub course: String,
    pub provider: String,
    #[serde(deserialize_with = "iso_date::required")]
    pub valid_until: NaiveDate,
    /// A registered provider of the fund; required under `provider_policy: registered`.
    #[serde(default)]
    pub provider_id: Option<uuid::Uuid>,
}



impl From<VoucherError> for ApiError {
    fn from(e: VoucherError) -> ApiError {
        match e {
            VoucherError::ProviderNotRegistered => ApiError::conflict("provider_not_registered", e.to_string()),
            VoucherError::ProviderSuspended => ApiError::conflict("provider_suspended", e.to_string()),
            VoucherError::UnknownWorker(_) | VoucherError::UnknownScheme(_) | VoucherError::UnknownProvider(_) => {
                ApiError::unprocessable("unknown_reference", e.to_string())
            }
            VoucherError::NotFound => ApiError::not_found("voucher"),
            VoucherError::NotIssued(_) => ApiError::conflict("voucher_not_issued", e.to_string()),
            VoucherError::HeldByClaim(_) => ApiError::conflict("voucher_held_by_claim", e.to_string()),
            VoucherError::GuidanceRequired { .. } => ApiError::conflict("guidance_required", e.to_string()),
            VoucherError::Ledger(e) => e.into(),
        }
    }
}

/// Loads a voucher the caller may see: the back office all of its fund, an employer those of
/// its workers, a worker its own.
fn visible_voucher(conn: &mut DbConn, caller: &Caller, fund: FundId, voucher_id: VoucherId) -> Result<VoucherRow, ApiError> {
    let voucher = find_voucher(conn, fund, voucher_id)?.ok_or_else(|| ApiError::not_found("voucher"))?;
    super::workers::visible_worker(conn, caller, fund, voucher.worker_id).map_err(|_| ApiError::not_found("voucher"))?;
    Ok(voucher)
}

pub async fn create_voucher(post: MoneyPost, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let input: NewVoucher = post.parse()?;
    bounded_text("course", &input.course, 200)?;
    bounded_text("provider", &input.provider, 200)?;
    let day = post.today;
    let latest = day.checked_add_days(chrono::Days::new(MAX_VOUCHER_VALIDITY_DAYS as u64)).unwrap_or(day);
    if input.valid_until < day || input.valid_until > latest {
        return Err(FieldError::new("valid_until", format!("must be from today to {MAX_VOUCHER_VALIDITY_DAYS} days ahead")).into());
    }
    let request = VoucherRequest {
        worker_id: WorkerId(input.worker_id),
        scheme_id: SchemeId(input.scheme_id),
        amount: input.amount,
        course: input.course,
        provider: input.provider,
        valid_until: input.valid_until,
        provider_id: input.provider_id.map(crate::domain::ProviderId),
    };
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let voucher = issue(conn, fund, &caller.sub, &request, day)?;
            Stored::new(StatusCode::CREATED, VoucherView::from(voucher))
        })
        .await?;
    Ok(answer.into_response())
}

pub async fn get_voucher(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let id = VoucherId(path.id);
    let voucher = run(&pool, move |conn| visible_voucher(conn, &caller, fund, id)).await?;
    Ok(HttpResponse::Ok().json(VoucherView::from(voucher)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    pub worker_id: Option<uuid::Uuid>,
    pub status: Option<String>,
}

pub async fn list_vouchers(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<VoucherListParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let params = params.into_inner();
    let query = page_query(params.limit, params.after.as_deref())?;
    let status = status_filter::<VoucherStatus>(params.status.as_deref(), &VoucherStatus::ALL.map(VoucherStatus::as_str))?;
    let worker_filter = match caller.role {
        Role::Worker => caller.worker,
        _ => params.worker_id.map(WorkerId),
    };
    let employer_filter = if caller.role == Role::Employer { caller.employer } else { None };
    let page = run(&pool, move |conn| {
        let filter = VoucherFilter { worker_id: worker_filter, employer_id: employer_filter, status };
        let rows = queries::list_vouchers(conn, fund, &filter, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, VoucherView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn cancel_voucher(post: MoneyAction, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    let mut post = post.into_parts();
    post.admit(fund, &[Role::FundAdmin])?;
    let _: CancelBody = post.parse()?;
    let id = VoucherId(path.id);
    let day = post.today;
    let answer = post
        .run(&pool, fund, move |conn, caller| {
            let voucher = close(conn, fund, id, &caller.sub, day, VoucherStatus::Cancelled)?;
            Stored::new(StatusCode::OK, VoucherView::from(voucher))
        })
        .await?;
    Ok(answer.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {}
