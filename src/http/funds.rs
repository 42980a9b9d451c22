//! Funds: the tenants.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundPath, Page, PageParams, with_location};
use super::error::ApiError;
use crate::db::queries::{self, Inserted};
use super::json_body::JsonBody;
use crate::db::rows::{self, FundRow};
use crate::db::Pool;
use crate::domain::scheme::is_slug;
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::{FieldError, FundId};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFund {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct FundView {
    pub id: FundId,
    pub code: String,
    pub name: String,
    pub created_at: String,
    /// The fund as the debtor of its payment files (PATCH sets them).
    pub legal_name: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
}

impl From<FundRow> for FundView {
    fn from(r: FundRow) -> FundView {
        FundView { id: r.id, code: r.code, name: r.name, created_at: rfc3339(r.created_at), legal_name: r.legal_name, iban: r.iban, bic: r.bic }
    }
}

pub async fn create_fund(caller: Caller, pool: web::Data<Pool>, body: JsonBody<NewFund>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::PlatformAdmin])?;
    let mut body = body.into_inner();
    // Codes are case-insensitive and kept in lower case: `OOM` and `oom` are one fund.
    body.code = body.code.to_ascii_lowercase();
    if !is_slug(&body.code, 40) {
        return Err(FieldError::new("code", "use 1 to 40 letters, digits, _ or -, starting with a letter (kept in lower case)").into());
    }
    bounded_text("name", &body.name, 200)?;
    let row = FundRow { id: FundId::new(), code: body.code, name: body.name, created_at: now_utc(), legal_name: None, iban: None, bic: None };
    let row = run(&pool, move |conn| {
        match queries::insert_fund(conn, &row)? {
            Inserted::Done => Ok(row),
            Inserted::Duplicate => {
                let existing = queries::fund_id_by_code(conn, &row.code)?;
                Err(ApiError::conflict("duplicate_fund_code", format!("a fund with code {:?} exists already", row.code))
                    .with_extra(serde_json::json!({ "existing_id": existing })))
            }
        }
    })
    .await?;
    let location = format!("/v1/funds/{}", row.id);
    Ok(with_location(HttpResponse::Created().json(FundView::from(row)), Some(location)))
}

/// `PATCH /v1/funds/{fund}`: the fund's payment settings. An omitted field stays as it is;
/// `null` clears it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundPatch {
    #[serde(default, deserialize_with = "super::common::nullable")]
    pub legal_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::common::nullable")]
    pub iban: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::common::nullable")]
    pub bic: Option<Option<String>>,
}

pub async fn update_fund(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>, body: JsonBody<FundPatch>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let body = body.into_inner();
    if let Some(Some(name)) = &body.legal_name {
        bounded_text("legal_name", name, 140)?;
    }
    let iban = match body.iban {
        Some(Some(text)) => Some(Some(crate::domain::iban::normalise("iban", &text)?)),
        other => other,
    };
    let bic = match body.bic {
        Some(Some(text)) => Some(Some(crate::domain::payments::normalise_bic("bic", &text)?)),
        other => other,
    };
    let settings = crate::db::payments::PaymentSettings { legal_name: body.legal_name, iban, bic };
    let row = run(&pool, move |conn| {
        crate::db::payments::update_fund_settings(conn, fund, settings)?.ok_or_else(|| ApiError::not_found("fund"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(FundView::from(row)))
}

pub async fn list_funds(caller: Caller, pool: web::Data<Pool>, params: web::Query<PageParams>) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::PlatformAdmin])?;
    let query = params.query()?;
    let page = run(&pool, move |conn| {
        let rows = rows::list_funds(conn, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, FundView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_fund(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(
        fund,
        &[Role::PlatformAdmin, Role::FundAdmin, Role::Employer, Role::Coach, Role::Board, Role::Worker],
    )?;
    let row = run(&pool, move |conn| rows::find_fund(conn, fund)?.ok_or_else(|| ApiError::not_found("fund"))).await?;
    Ok(HttpResponse::Ok().json(FundView::from(row)))
}
