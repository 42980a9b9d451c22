//! Schemes (regelingen) and their versions. A version is never edited: a changed rule is a
//! new version with a later `effective_from`.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundItemPath, FundPath, Page, PageParams, Today, with_location};
use super::error::ApiError;
use crate::db::queries::{self, Inserted};
use super::json_body::JsonBody;
use crate::db::rows::{self, SchemeRow, SchemeVersionRow};
use crate::db::{write_tx, DbConn, Pool};
use crate::domain::providers::{Payee, ProviderPolicy};
use crate::domain::scheme::{is_slug, RulesInput};
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::{format_cents, Amount, FieldError, FundId, Money, SchemeId, SchemeVersionId};

const ALL_FUND_ROLES: &[Role] = &[Role::FundAdmin, Role::Employer, Role::Coach, Role::Board, Role::Worker];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScheme {
    pub code: String,
    pub name: String,
    pub annual_amount: Amount,
    pub max_balance: Amount,
    pub validity_years: i32,
    pub eligible_categories: Vec<String>,
    pub max_claim_amount: Amount,
    #[serde(default)]
    pub allow_partial: bool,
    #[serde(default)]
    pub guidance_required_above: Option<Money>,
    #[serde(default)]
    pub guidance_window_days: Option<i32>,
    #[serde(default)]
    pub funding_pct: Option<i32>,
    #[serde(default)]
    pub claim_deadline_days: Option<i32>,
    #[serde(default, deserialize_with = "crate::domain::time::iso_date::optional")]
    pub effective_from: Option<NaiveDate>,
    #[serde(default)]
    pub provider_policy: ProviderPolicy,
    #[serde(default)]
    pub payee: Payee,
    #[serde(default)]
    pub review_above: Option<Money>,
}

impl NewScheme {
    fn split(self) -> (String, String, RulesInput) {
        let rules = RulesInput {
            annual_amount: self.annual_amount,
            max_balance: self.max_balance,
            validity_years: self.validity_years,
            eligible_categories: self.eligible_categories,
            max_claim_amount: self.max_claim_amount,
            allow_partial: self.allow_partial,
            guidance_required_above: self.guidance_required_above,
            guidance_window_days: self.guidance_window_days,
            funding_pct: self.funding_pct,
            claim_deadline_days: self.claim_deadline_days,
            effective_from: self.effective_from,
            provider_policy: self.provider_policy,
            payee: self.payee,
            review_above: self.review_above,
        };
        (self.code, self.name, rules)
    }
}

#[derive(Debug, Serialize)]
pub struct RulesView {
    pub version_id: SchemeVersionId,
    pub effective_from: NaiveDate,
    pub annual_amount: String,
    pub max_balance: String,
    pub validity_years: i32,
    pub eligible_categories: Vec<String>,
    pub max_claim_amount: String,
    pub allow_partial: bool,
    pub guidance_required_above: Option<String>,
    pub guidance_window_days: i32,
    pub funding_pct: i32,
    pub claim_deadline_days: i32,
    pub provider_policy: ProviderPolicy,
    pub payee: Payee,
    /// A claim whose fund share is above this goes to `under_review`.
    pub review_above: Option<String>,
}

impl From<&SchemeVersionRow> for RulesView {
    fn from(v: &SchemeVersionRow) -> RulesView {
        RulesView {
            version_id: v.id,
            effective_from: v.effective_from,
            annual_amount: format_cents(v.annual_amount_cents),
            max_balance: format_cents(v.max_balance_cents),
            validity_years: v.validity_years,
            eligible_categories: v.categories(),
            max_claim_amount: format_cents(v.max_claim_amount_cents),
            allow_partial: v.allow_partial,
            guidance_required_above: v.guidance_required_above_cents.map(format_cents),
            guidance_window_days: v.guidance_window_days,
            funding_pct: v.funding_pct,
            claim_deadline_days: v.claim_deadline_days,
            provider_policy: v.provider_policy,
            payee: v.payee,
            review_above: v.review_above_cents.map(format_cents),
        }
    }
}

/// A scheme with the rules in force today at the top level and every version listed.
#[derive(Debug, Serialize)]
pub struct SchemeView {
    pub id: SchemeId,
    pub fund_id: FundId,
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub current: RulesView,
    pub versions: Vec<RulesView>,
    pub created_at: String,
}

fn scheme_view(scheme: SchemeRow, versions: &[SchemeVersionRow], on: NaiveDate) -> Result<SchemeView, ApiError> {
    let current = versions
        .iter()
        .rev()
        .find(|v| v.effective_from <= on)
        .or_else(|| versions.first())
        .ok_or_else(|| ApiError::internal(format!("scheme {} has no version", scheme.id)))?;
    Ok(SchemeView {
        id: scheme.id,
        fund_id: scheme.fund_id,
        code: scheme.code,
        name: scheme.name,
        current: current.into(),
        versions: versions.iter().map(RulesView::from).collect(),
        created_at: rfc3339(scheme.created_at),
    })
}

fn load_view(conn: &mut DbConn, fund: FundId, scheme_id: SchemeId, day: NaiveDate) -> Result<SchemeView, ApiError> {
    let scheme = rows::find_scheme(conn, fund, scheme_id)?.ok_or_else(|| ApiError::not_found("scheme"))?;
    let versions = rows::scheme_versions_of(conn, scheme_id)?;
    scheme_view(scheme, &versions, day)
}

pub async fn create_scheme(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    today: Today,
    body: JsonBody<NewScheme>,
) -> Result<HttpResponse, ApiError> {
    let day = today.0;
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let (code, name, rules) = body.into_inner().split();
    // Codes are case-insensitive and kept in lower case: `PTT` and `ptt` are one scheme.
    let code = code.to_ascii_lowercase();
    if !is_slug(&code, 40) {
        return Err(FieldError::new("code", "use 1 to 40 letters, digits, _ or -, starting with a letter (kept in lower case)").into());
    }
    bounded_text("name", &name, 200)?;
    let rules = rules.validate(day)?;
    let view = run(&pool, move |conn| {
        write_tx(conn, |conn| {
            let scheme = SchemeRow { id: SchemeId::new(), fund_id: fund, code, name, created_at: now_utc() };
            if queries::insert_scheme(conn, &scheme)? == Inserted::Duplicate {
                let existing = queries::scheme_id_by_code(conn, fund, &scheme.code)?;
                return Err(ApiError::conflict("duplicate_scheme_code", format!("this fund has a scheme {:?} already", scheme.code))
                    .with_extra(serde_json::json!({ "existing_id": existing })));
            }
            let version = SchemeVersionRow::new(fund, scheme.id, &rules);
            queries::insert_scheme_version(conn, &version)?;
            scheme_view(scheme, &[version], day)
        })
    })
    .await?;
    let location = format!("/v1/funds/{fund}/schemes/{}", view.id);
    Ok(with_location(HttpResponse::Created().json(view), Some(location)))
}

pub async fn create_scheme_version(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    today: Today,
    body: JsonBody<RulesInput>,
) -> Result<HttpResponse, ApiError> {
    let day = today.0;
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let scheme_id = SchemeId(path.id);
    let rules = body.into_inner();
    let Some(effective_from) = rules.effective_from else {
        return Err(FieldError::new("effective_from", "a new version must say from which date it applies").into());
    };
    let rules = rules.validate(day)?;
    let view = run(&pool, move |conn| {
        write_tx(conn, |conn| {
            rows::find_scheme(conn, fund, scheme_id)?.ok_or_else(|| ApiError::not_found("scheme"))?;
            let versions = rows::scheme_versions_of(conn, scheme_id)?;
            if let Some(latest) = versions.last() {
                if effective_from <= latest.effective_from {
                    return Err(FieldError::new(
                        "effective_from",
                        format!("must be after the latest version's effective_from, {}", latest.effective_from),
                    )
                    .into());
                }
            }
            queries::insert_scheme_version(conn, &SchemeVersionRow::new(fund, scheme_id, &rules))?;
            load_view(conn, fund, scheme_id, day)
        })
    })
    .await?;
    let location = format!("/v1/funds/{fund}/schemes/{}", view.id);
    Ok(with_location(HttpResponse::Created().json(view), Some(location)))
}

pub async fn list_schemes(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<PageParams>,
    today: Today,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, ALL_FUND_ROLES)?;
    let query = params.query()?;
    let page = run(&pool, move |conn| {
        let schemes = rows::list_schemes(conn, fund, &query)?;
        let mut views = Vec::with_capacity(schemes.len());
        for scheme in schemes {
            let versions = rows::scheme_versions_of(conn, scheme.id)?;
            views.push(scheme_view(scheme, &versions, today.0)?);
        }
        Ok(Page::from_rows(views, &query, |v| v.id, |v| v))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_scheme(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>, today: Today) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, ALL_FUND_ROLES)?;
    let scheme_id = SchemeId(path.id);
    let view = run(&pool, move |conn| load_view(conn, fund, scheme_id, today.0)).await?;
    Ok(HttpResponse::Ok().json(view))
}
