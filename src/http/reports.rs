//! `GET .../reports/monthly`: the board's monthly report as JSON, CSV or HTML.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::common::{run, FundPath, Today};
use super::error::ApiError;
use crate::db::rows;
use crate::db::Pool;
use crate::domain::FundId;
use crate::reports::csv::CsvDialect;
use crate::reports::monthly::{monthly_report, Audience, Month};

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
    Html,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    pub month: String,
    #[serde(default)]
    pub format: ReportFormat,
    #[serde(default)]
    pub csv_dialect: CsvDialect,
}

/// What the HTML report may load: only its own inline styles and data: images.
pub const HTML_REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

pub async fn get_monthly_report(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    params: web::Query<ReportParams>,
    today: Today,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Board])?;
    let params = params.into_inner();
    let month = Month::parse(&params.month)
        .ok_or_else(|| ApiError::bad_request("invalid_query", "month must be YYYY-MM from 1900-01 to 2199-12, e.g. 2026-10"))?;
    if month.first_day > today.0 {
        return Err(ApiError::unprocessable("invalid_field", "month lies in the future: nothing is recorded yet"));
    }
    let audience = if caller.role == Role::Board { Audience::Board } else { Audience::BackOffice };
    let (report, fund_row) = run(&pool, move |conn| {
        let fund_row = rows::find_fund(conn, fund)?.ok_or_else(|| ApiError::not_found("fund"))?;
        Ok((monthly_report(conn, fund, month, audience)?, fund_row))
    })
    .await?;
    Ok(match params.format {
        ReportFormat::Json => HttpResponse::Ok().json(report),
        ReportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"ptt-{}-{}.csv\"", fund_row.code, report.month),
            ))
            .body(crate::reports::csv::render(&report, params.csv_dialect).map_err(ApiError::internal)?),
        ReportFormat::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            // The page needs nothing from anywhere: no script, no fetch, no external style or
            // image. Should a name in it ever slip through escaping, the browser still runs nothing.
            .insert_header(("Content-Security-Policy", HTML_REPORT_CSP))
            .body(crate::reports::html::render(&report, &fund_row.name)),
    })
}
