//! Employers: `kvk_number` unique per fund.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundItemPath, FundPath, Page, PageParams, with_location};
use super::error::ApiError;
use crate::db::queries::{self, Inserted};
use super::json_body::JsonBody;
use crate::db::rows::{self, EmployerRow};
use crate::db::Pool;
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::{EmployerId, FieldError, FundId};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEmployer {
    pub kvk_number: String,
    pub name: String,
    pub sector: String,
}

#[derive(Debug, Serialize)]
pub struct EmployerView {
    pub id: EmployerId,
    pub fund_id: FundId,
    pub kvk_number: String,
    pub name: String,
    pub sector: String,
    pub created_at: String,
}

impl From<EmployerRow> for EmployerView {
    fn from(r: EmployerRow) -> EmployerView {
        EmployerView {
            id: r.id,
            fund_id: r.fund_id,
            kvk_number: r.kvk_number,
            name: r.name,
            sector: r.sector,
            created_at: rfc3339(r.created_at),
        }
    }
}

pub async fn create_employer(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    body: JsonBody<NewEmployer>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let body = body.into_inner();
    if body.kvk_number.len() != 8 || !body.kvk_number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new("kvk_number", "a KvK number is exactly 8 digits, e.g. \"12345678\"").into());
    }
    bounded_text("name", &body.name, 200)?;
    bounded_text("sector", &body.sector, 100)?;
    let row = EmployerRow {
        id: EmployerId::new(),
        fund_id: fund,
        kvk_number: body.kvk_number,
        name: body.name,
        sector: body.sector,
        created_at: now_utc(),
    };
    let row = run(&pool, move |conn| {
        match queries::insert_employer(conn, &row)? {
            Inserted::Done => Ok(row),
            Inserted::Duplicate => {
                Err(ApiError::conflict("duplicate_kvk_number", format!("employer with KvK number {} exists already", row.kvk_number)))
            }
        }
    })
    .await?;
    let location = format!("/v1/funds/{fund}/employers/{}", row.id);
    Ok(with_location(HttpResponse::Created().json(EmployerView::from(row)), Some(location)))
}

pub async fn list_employers(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let query = params.query()?;
    let page = run(&pool, move |conn| {
        let rows = rows::list_employers(conn, fund, &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, EmployerView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_employer(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer])?;
    let employer_id = EmployerId(path.id);
    if caller.role == Role::Employer && caller.employer != Some(employer_id) {
        return Err(ApiError::not_found("employer"));
    }
    let row = run(&pool, move |conn| {
        rows::find_employer(conn, fund, employer_id)?.ok_or_else(|| ApiError::not_found("employer"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(EmployerView::from(row)))
}
