//! Employers: `kvk_number` unique per fund.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundItemPath, FundPath, Page, with_location};
use super::error::ApiError;
use crate::db::queries::{self, Inserted};
use super::json_body::JsonBody;
use crate::db::rows::{self, EmployerRow};
use crate::db::employment::{self, EmployerChanges};
use crate::db::{DbConn, Pool};
use crate::domain::iban;
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::{EmployerId, FieldError, FundId};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEmployer {
    pub kvk_number: String,
    pub name: String,
    pub sector: String,
    #[serde(default)]
    pub iban: Option<String>,
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_SECTOR_CHARS: usize = 100;

/// A KvK (Chamber of Commerce) number: exactly 8 digits.
pub fn check_kvk_number(field: &'static str, kvk: &str) -> Result<(), FieldError> {
    if kvk.len() != 8 || !kvk.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, "a KvK number is exactly 8 digits, e.g. \"12345678\""));
    }
    Ok(())
}

/// 409 for a KvK number the fund has already, naming the employer that has it.
fn duplicate_kvk_number(conn: &mut DbConn, fund: FundId, kvk: &str) -> ApiError {
    let existing = queries::employer_by_kvk_number(conn, fund, kvk).ok().flatten();
    ApiError::conflict("duplicate_kvk_number", format!("employer with KvK number {kvk} exists already"))
        .with_extra(serde_json::json!({ "existing_id": existing.map(|e| e.id) }))
}

#[derive(Debug, Serialize)]
pub struct EmployerView {
    pub id: EmployerId,
    pub fund_id: FundId,
    pub kvk_number: String,
    pub name: String,
    pub sector: String,
    pub iban: Option<String>,
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
            iban: r.iban,
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
    check_kvk_number("kvk_number", &body.kvk_number)?;
    bounded_text("name", &body.name, MAX_NAME_CHARS)?;
    bounded_text("sector", &body.sector, MAX_SECTOR_CHARS)?;
    let iban = body.iban.as_deref().map(|iban| iban::normalise("iban", iban)).transpose()?;
    let row = EmployerRow {
        id: EmployerId::new(),
        fund_id: fund,
        kvk_number: body.kvk_number,
        name: body.name,
        sector: body.sector,
        created_at: now_utc(),
        iban,
    };
    let row = run(&pool, move |conn| {
        match queries::insert_employer(conn, &row)? {
            Inserted::Done => Ok(row),
            Inserted::Duplicate => Err(duplicate_kvk_number(conn, fund, &row.kvk_number)),
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
    params: web::Query<EmployerListParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let params = params.into_inner();
    let query = super::common::page_query(params.limit, params.after.as_deref())?;
    if let Some(kvk) = &params.kvk_number {
        check_kvk_number("kvk_number", kvk).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    }
    let page = run(&pool, move |conn| {
        let rows = rows::list_employers(conn, fund, params.kvk_number.as_deref(), &query)?;
        Ok(Page::from_rows(rows, &query, |r| r.id, EmployerView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployerListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    /// Lookup: the employer with this KvK number (a list of at most one).
    pub kvk_number: Option<String>,
}

/// What `PATCH .../employers/{id}` may change; an omitted field stays as it is, `"iban": null`
/// removes the bank account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployerPatch {
    #[serde(default, deserialize_with = "super::common::nullable")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::common::nullable")]
    pub sector: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::common::nullable")]
    pub iban: Option<Option<String>>,
}

pub async fn update_employer(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    body: JsonBody<EmployerPatch>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let (employer_id, body) = (EmployerId(path.id), body.into_inner());
    let required = |field: &'static str, value: Option<Option<String>>, max: usize| -> Result<Option<String>, ApiError> {
        match value {
            None => Ok(None),
            Some(None) => Err(FieldError::new(field, "may not be null; leave it out to keep it").into()),
            Some(Some(text)) => {
                bounded_text(field, &text, max)?;
                Ok(Some(text))
            }
        }
    };
    let name = required("name", body.name, MAX_NAME_CHARS)?;
    let sector = required("sector", body.sector, MAX_SECTOR_CHARS)?;
    let iban = match body.iban {
        Some(Some(text)) => Some(Some(iban::normalise("iban", &text)?)),
        other => other,
    };
    let changes = EmployerChanges { name, sector, iban };
    let row = run(&pool, move |conn| {
        employment::update_employer(conn, fund, employer_id, changes)?.ok_or_else(|| ApiError::not_found("employer"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(EmployerView::from(row)))
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
