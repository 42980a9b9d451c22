//! `POST /v1/funds/{fund}/workers/import`: the fund's worker list as JSON (`{"workers": [...]}`)
//! or as the Dutch CSV (`;`-separated UTF-8, byte-order mark or not, header
//! `participant_number;kvk_number;birth_year;education_level`). Parsing and shape checks here;
//! the upsert is `ledger::worker_import`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Datelike;
use serde::Deserialize;

use super::auth::{Caller, Role};
use super::common::{bounded_text, run, FundPath, Today};
use super::error::ApiError;
use super::json_body::{read_body, parse_json};
use super::workers::{EARLIEST_BIRTH_YEAR, MAX_PARTICIPANT_NUMBER_CHARS, MIN_WORKER_AGE_YEARS};
use crate::db::Pool;
use crate::domain::{EducationLevel, EmployerId, FundId};
use crate::ledger::worker_import::{excerpt, import, EmployerRef, ImportError, ImportItem, ItemAt};

/// The most workers one import takes.
pub const MAX_IMPORT_WORKERS: usize = 10_000;
pub const CSV_HEADER: [&str; 4] = ["participant_number", "kvk_number", "birth_year", "education_level"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonImport {
    workers: Vec<serde_json::Value>,
}

/// A worker body as the import takes it: the employer by id or by KvK number, every field but
/// the participant number optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonItem {
    participant_number: String,
    #[serde(default)]
    employer_id: Option<uuid::Uuid>,
    #[serde(default)]
    kvk_number: Option<String>,
    #[serde(default)]
    birth_year: Option<i32>,
    #[serde(default)]
    education_level: Option<EducationLevel>,
}

/// An item refused before it reaches the database.
fn refused(at: ItemAt, field: &'static str, message: impl Into<String>) -> ApiError {
    import_problem(ImportError::Item { at, field, message: message.into() })
}

fn import_problem(error: ImportError) -> ApiError {
    match error {
        ImportError::Ledger(e) => e.into(),
        ImportError::Item { at, field, message } => {
            let (place, extra) = match at {
                ItemAt::Index(i) => (format!("workers[{i}]"), serde_json::json!({ "index": i, "field": field })),
                ItemAt::Line(l) => (format!("line {l}"), serde_json::json!({ "line": l, "field": field })),
            };
            ApiError::unprocessable("import_invalid", format!("{place}: {field}: {message}; nothing was imported")).with_extra(extra)
        }
    }
}

struct Checks {
    latest_birth_year: i32,
}

impl Checks {
    fn item(&self, at: ItemAt, participant_number: String, employer: Option<EmployerRef>, birth_year: Option<i32>, education_level: Option<EducationLevel>) -> Result<ImportItem, ApiError> {
        bounded_text("participant_number", &participant_number, MAX_PARTICIPANT_NUMBER_CHARS).map_err(|e| refused(at, e.field, e.message))?;
        if let Some(EmployerRef::Kvk(kvk)) = &employer {
            super::employers::check_kvk_number("kvk_number", kvk).map_err(|e| refused(at, e.field, e.message))?;
        }
        if let Some(year) = birth_year.filter(|y| !(EARLIEST_BIRTH_YEAR..=self.latest_birth_year).contains(y)) {
            return Err(refused(at, "birth_year", format!("must be from {EARLIEST_BIRTH_YEAR} to {}, not {year}", self.latest_birth_year)));
        }
        Ok(ImportItem { at, participant_number, employer, birth_year, education_level })
    }
}

fn from_json(bytes: &[u8], checks: &Checks) -> Result<Vec<ImportItem>, ApiError> {
    let body: JsonImport = parse_json(bytes)?;
    too_many(body.workers.len())?;
    body.workers
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let at = ItemAt::Index(i);
            let item: JsonItem = serde_json::from_value(value).map_err(|e| refused(at, "body", excerpt(&e.to_string())))?;
            let employer = match (item.employer_id, item.kvk_number) {
                (Some(_), Some(_)) => return Err(refused(at, "employer_id", "name the employer by employer_id or by kvk_number, not both")),
                (Some(id), None) => Some(EmployerRef::Id(EmployerId(id))),
                (None, Some(kvk)) => Some(EmployerRef::Kvk(kvk)),
                (None, None) => None,
            };
            checks.item(at, item.participant_number, employer, item.birth_year, item.education_level)
        })
        .collect()
}

fn from_csv(bytes: &[u8], checks: &Checks) -> Result<Vec<ImportItem>, ApiError> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
        refused(ItemAt::Line(line), "body", "is not UTF-8 text; save the file as \"CSV UTF-8\"")
    })?;
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').has_headers(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| ApiError::unprocessable("import_invalid", format!("line 1: the header cannot be read: {e}")))?;
    if header.iter().collect::<Vec<_>>() != CSV_HEADER {
        return Err(refused(ItemAt::Line(1), "header", format!("must be {} (separated by ;)", CSV_HEADER.join(";"))));
    }
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            refused(ItemAt::Line(line), "body", format!("{e}"))
        })?;
        let at = ItemAt::Line(record.position().map_or(0, |p| p.line() as usize));
        too_many(items.len() + 1)?;
        let cell = |i: usize| record.get(i).filter(|c| !c.is_empty());
        let birth_year = cell(2)
            .map(|c| c.parse::<i32>().map_err(|_| refused(at, "birth_year", format!("must be a year such as 1980, not {:?}", excerpt(c)))))
            .transpose()?;
        let education_level = cell(3)
            .map(|c| EducationLevel::parse(c).ok_or_else(|| refused(at, "education_level", format!("must be praktisch, middelbaar or theoretisch, not {:?}", excerpt(c)))))
            .transpose()?;
        let participant_number = record.get(0).unwrap_or_default().to_string();
        items.push(checks.item(at, participant_number, cell(1).map(|k| EmployerRef::Kvk(k.to_string())), birth_year, education_level)?);
    }
    Ok(items)
}

fn too_many(count: usize) -> Result<(), ApiError> {
    if count > MAX_IMPORT_WORKERS {
        return Err(ApiError::unprocessable(
            "import_too_large",
            format!("an import takes at most {MAX_IMPORT_WORKERS} workers; split the list and send it in parts"),
        ));
    }
    Ok(())
}

pub async fn import_workers(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundPath>,
    today: Today,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok());
    let is_csv = media.as_ref().is_some_and(|m| m.type_() == actix_web::mime::TEXT && m.subtype() == actix_web::mime::CSV);
    let is_json = media.as_ref().is_some_and(|m| m.type_() == actix_web::mime::APPLICATION && m.subtype() == actix_web::mime::JSON);
    if !is_csv && !is_json {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send the workers as JSON (Content-Type: application/json) or as CSV (Content-Type: text/csv)",
        ));
    }
    let bytes = read_body(&request, payload).await?;
    let today = today.0;
    let checks = Checks { latest_birth_year: today.year() - MIN_WORKER_AGE_YEARS };
    let items = if is_csv { from_csv(&bytes, &checks)? } else { from_json(&bytes, &checks)? };
    let outcome = run(&pool, move |conn| crate::ledger::write_tx(conn, |conn| import(conn, fund, items, today)).map_err(import_problem)).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
