//! The fund's provider registry: register, read, list, suspend and reinstate. Under a scheme with
//! `provider_policy: registered`, claims and vouchers must name an active provider of it.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{bounded_text, page_query, run, with_location, FundItemPath, FundPath, Page, Today};
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::db::providers::{self as store, ProviderRow, SuspensionRow};
use crate::db::queries::Inserted;
use crate::db::DbConn;
use crate::db::Pool;
use crate::domain::providers::{ProviderStatus, MAX_QUALITY_LABELS, MAX_QUALITY_LABEL_CHARS};
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::{iban, FieldError, FundId, ProviderId};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    pub kvk_number: String,
    pub name: String,
    #[serde(default)]
    pub iban: Option<String>,
    #[serde(default)]
    pub quality_labels: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SuspensionView {
    pub suspended_on: NaiveDate,
    pub reason: String,
    pub reinstated_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize)]
pub struct ProviderView {
    pub id: ProviderId,
    pub fund_id: FundId,
    pub kvk_number: String,
    pub name: String,
    pub iban: Option<String>,
    pub quality_labels: Vec<String>,
    pub status: ProviderStatus,
    /// Every suspension, oldest first.
    pub suspensions: Vec<SuspensionView>,
    pub created_at: String,
}

impl ProviderView {
    fn new(p: ProviderRow, suspensions: &[SuspensionRow]) -> ProviderView {
        let labels = p.labels();
        ProviderView {
            suspensions: suspensions
                .iter()
                .filter(|s| s.provider_id == p.id)
                .map(|s| SuspensionView { suspended_on: s.suspended_on, reason: s.reason.clone(), reinstated_on: s.reinstated_on })
                .collect(),
            id: p.id,
            fund_id: p.fund_id,
            kvk_number: p.kvk_number,
            name: p.name,
            iban: p.iban,
            quality_labels: labels,
            status: p.status,
            created_at: rfc3339(p.created_at),
        }
    }
}

fn view(conn: &mut DbConn, row: ProviderRow) -> Result<ProviderView, ApiError> {
    let suspensions = store::suspensions(conn, &[row.id])?;
    Ok(ProviderView::new(row, &suspensions))
}

fn check_labels(labels: &[String]) -> Result<(), FieldError> {
    if labels.len() > MAX_QUALITY_LABELS {
        return Err(FieldError::new("quality_labels", format!("at most {MAX_QUALITY_LABELS} labels")));
    }
    for label in labels {
        bounded_text("quality_labels", label, MAX_QUALITY_LABEL_CHARS)?;
        if label.contains(',') {
            return Err(FieldError::new("quality_labels", "a label contains no comma, e.g. \"CRKBO\""));
        }
    }
    Ok(())
}

pub async fn create_provider(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>, body: JsonBody<NewProvider>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let body = body.into_inner();
    super::employers::check_kvk_number("kvk_number", &body.kvk_number)?;
    bounded_text("name", &body.name, super::employers::MAX_NAME_CHARS)?;
    let iban = body.iban.as_deref().map(|i| iban::normalise("iban", i)).transpose()?;
    check_labels(&body.quality_labels)?;
    let row = ProviderRow {
        id: ProviderId::new(),
        fund_id: fund,
        kvk_number: body.kvk_number,
        name: body.name,
        iban,
        quality_labels: body.quality_labels.join(","),
        status: ProviderStatus::Active,
        created_at: now_utc(),
    };
    let view = run(&pool, move |conn| {
        if store::insert_provider(conn, &row)? == Inserted::Duplicate {
            let existing = store::provider_by_kvk_number(conn, fund, &row.kvk_number)?.map(|p| p.id);
            return Err(ApiError::conflict("duplicate_kvk_number", format!("a provider with KvK number {} is registered already", row.kvk_number))
                .with_extra(serde_json::json!({ "existing_id": existing })));
        }
        Ok(ProviderView::new(row, &[]))
    })
    .await?;
    let location = format!("/v1/funds/{fund}/providers/{}", view.id);
    Ok(with_location(HttpResponse::Created().json(view), Some(location)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderListParams {
    pub limit: Option<i64>,
    pub after: Option<String>,
    /// Lookup: the provider with this KvK number.
    pub kvk_number: Option<String>,
}

/// The registry is read by everyone who names providers: the back office, and employers'
/// HR systems that submit claims.
pub async fn list_providers(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>, params: web::Query<ProviderListParams>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer])?;
    let params = params.into_inner();
    let query = page_query(params.limit, params.after.as_deref())?;
    if let Some(kvk) = &params.kvk_number {
        super::employers::check_kvk_number("kvk_number", kvk).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    }
    let page = run(&pool, move |conn| {
        let rows = store::list_providers(conn, fund, params.kvk_number.as_deref(), &query)?;
        let suspensions = store::suspensions(conn, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
        Ok(Page::from_rows(rows, &query, |r| r.id, |r| ProviderView::new(r, &suspensions)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_provider(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer])?;
    let id = ProviderId(path.id);
    let view = run(&pool, move |conn| {
        let row = store::find_provider(conn, fund, id)?.ok_or_else(|| ApiError::not_found("provider"))?;
        view(conn, row)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

/// Suspends a provider, dated today: no claim or voucher may name it, and its approved claims
/// are held out of payment batches until it is reinstated.
pub async fn suspend_provider(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
    body: JsonBody<SuspendBody>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let body = body.into_inner();
    bounded_text("reason", &body.reason, 500)?;
    let (id, today, actor) = (ProviderId(path.id), today.0, caller.sub.clone());
    let view = run(&pool, move |conn| {
        crate::db::write_tx(conn, |conn| {
            let row = store::find_provider(conn, fund, id)?.ok_or_else(|| ApiError::not_found("provider"))?;
            if !store::set_status(conn, fund, id, ProviderStatus::Active, ProviderStatus::Suspended)? {
                return Err(ApiError::conflict("invalid_state", "the provider is suspended already"));
            }
            store::insert_suspension(
                conn,
                &SuspensionRow {
                    provider_id: id,
                    recorded_at: now_utc(),
                    fund_id: fund,
                    suspended_on: today,
                    reason: body.reason,
                    suspended_by: actor,
                    reinstated_on: None,
                    reinstated_by: None,
                },
            )?;
            view(conn, ProviderRow { status: ProviderStatus::Suspended, ..row })
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Reinstates a suspended provider, dated today: its held claims go into the next batch.
pub async fn reinstate_provider(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
    body: super::json_body::ActionBody,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    super::common::parse_body::<NoBody>(body.0)?;
    let (id, today, actor) = (ProviderId(path.id), today.0, caller.sub.clone());
    let view = run(&pool, move |conn| {
        crate::db::write_tx(conn, |conn| {
            let row = store::find_provider(conn, fund, id)?.ok_or_else(|| ApiError::not_found("provider"))?;
            if !store::set_status(conn, fund, id, ProviderStatus::Suspended, ProviderStatus::Active)? {
                return Err(ApiError::conflict("invalid_state", "the provider is not suspended"));
            }
            store::end_suspension(conn, id, today, &actor)?;
            view(conn, ProviderRow { status: ProviderStatus::Active, ..row })
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
