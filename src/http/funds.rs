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
}

impl From<FundRow> for FundView {
    fn from(r: FundRow) -> FundView {
        FundView { id: r.id, code: r.code, name: r.name, created_at: rfc3339(r.created_at) }
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
    let row = FundRow { id: FundId::new(), code: body.code, name: body.name, created_at: now_utc() };
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
