//! `GET /v1/funds/{fund}/events`: the change feed, in commit order, scoped like every read.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{run, FundPath};
use super::error::ApiError;
use crate::db::events::{self, EventFilter};
use crate::views::EventView;
use crate::db::Pool;
use crate::domain::events::EventType;
use crate::domain::FundId;

pub const DEFAULT_EVENT_PAGE: i64 = 100;
pub const MAX_EVENT_PAGE: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// A `next_cursor` of an earlier page; none: from the beginning.
    pub after: Option<String>,
    pub limit: Option<i64>,
    /// Comma-separated event types.
    pub types: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventPage {
    pub items: Vec<EventView>,
    /// Where to continue: the position of the last event read, or the `after` given when there
    /// is nothing new yet. Poll again with it.
    pub next_cursor: String,
}

/// The `types=` filter, or a 400 that lists the valid types.
pub fn parse_types(text: Option<&str>) -> Result<Option<Vec<EventType>>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    EventType::parse_list(text).map(Some).map_err(|unknown| {
        let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::bad_request("invalid_query", format!("unknown event type {unknown:?}; types are {}", all.join(", ")))
    })
}

pub async fn list_events(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>, params: web::Query<EventParams>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin, Role::Employer, Role::Worker])?;
    let params = params.into_inner();
    let limit = params.limit.unwrap_or(DEFAULT_EVENT_PAGE);
    if !(1..=MAX_EVENT_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be from 1 to {MAX_EVENT_PAGE}")));
    }
    let after = match params.after.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 0)
            .ok_or_else(|| ApiError::bad_request("invalid_cursor", "after must be a next_cursor from an earlier page"))?,
    };
    let scope_missing = || ApiError::unauthorized("the token does not name the employer or worker it is scoped to");
    let filter = EventFilter {
        employer_id: match caller.role {
            Role::Employer => Some(caller.employer.ok_or_else(scope_missing)?),
            _ => None,
        },
        worker_id: match caller.role {
            Role::Worker => Some(caller.worker.ok_or_else(scope_missing)?),
            _ => None,
        },
        types: parse_types(params.types.as_deref())?,
    };
    let page = run(&pool, move |conn| {
        // PostgreSQL: give events committed just now their positions before reading.
        events::sequence(conn)?;
        let rows = events::read(conn, fund, &filter, after, limit)?;
        let next_cursor = rows.last().and_then(|e| e.position).unwrap_or(after).to_string();
        Ok(EventPage { items: rows.into_iter().map(EventView::from).collect(), next_cursor })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
