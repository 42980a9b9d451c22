//! Webhook subscriptions, managed by the fund's back office: `POST` answers the signing secret
//! once; deliveries run in the server (`crate::delivery`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::{Caller, Role};
use super::common::{run, with_location, FundItemPath, FundPath, Page, PageParams};
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::db::events::{self as feed, DeliveryRow, WebhookRow, ACTIVE};
use crate::db::{rows, Pool};
use crate::domain::events::EventType;
use crate::domain::time::{now_utc, rfc3339};
use crate::domain::webhooks::{secret_from, SECRET_BYTES};
use crate::domain::{DeliveryId, EmployerId, EventId, FieldError, FundId, WebhookId};

/// Longest target URL.
pub const MAX_URL_LEN: usize = 2000;

/// Whether webhook targets may be on loopback or private networks (`PTT_WEBHOOK_ALLOW_PRIVATE`).
#[derive(Clone, Copy, Debug, Default)]
pub struct WebhookPolicy {
    pub allow_private: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    #[serde(default)]
    pub types: Option<Vec<String>>,
    #[serde(default)]
    pub employer_id: Option<uuid::Uuid>,
}

#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub id: WebhookId,
    pub fund_id: FundId,
    pub url: String,
    /// The event types delivered; null: all.
    pub types: Option<Vec<EventType>>,
    /// Only events of this employer's workers and claims; null: the whole fund.
    pub employer_id: Option<EmployerId>,
    /// `active`, or `failing` after deliveries failed for 24 hours (re-enable with `POST .../enable`).
    pub status: String,
    pub delivered_position: String,
    pub attempts: i32,
    pub failing_since: Option<String>,
    pub next_attempt_at: String,
    pub created_at: String,
    /// Only in the answer to the POST that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn stored_types(types: Option<&str>) -> Option<Vec<EventType>> {
    types.map(|t| EventType::parse_list(t).unwrap_or_default())
}

impl From<WebhookRow> for WebhookView {
    fn from(w: WebhookRow) -> WebhookView {
        WebhookView {
            id: w.id,
            fund_id: w.fund_id,
            url: w.url,
            types: stored_types(w.types.as_deref()),
            employer_id: w.employer_id,
            status: w.status,
            delivered_position: w.delivered_position.to_string(),
            attempts: w.attempts,
            failing_since: w.failing_since.map(rfc3339),
            next_attempt_at: rfc3339(w.next_attempt_at),
            created_at: rfc3339(w.created_at),
            secret: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub attempt: i32,
    pub attempted_at: String,
    pub status_code: Option<i32>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> DeliveryView {
        DeliveryView {
            id: d.id,
            event_id: d.event_id,
            attempt: d.attempt,
            attempted_at: rfc3339(d.attempted_at),
            status_code: d.status_code,
            outcome: d.outcome,
            error: d.error,
            duration_ms: d.duration_ms,
        }
    }
}

/// An http(s) URL with a host; the host must not be on a private network unless allowed.
fn check_target(url: &str, policy: WebhookPolicy) -> Result<(), FieldError> {
    if url.len() > MAX_URL_LEN {
        return Err(FieldError::new("url", format!("at most {MAX_URL_LEN} characters")));
    }
    let target = crate::delivery::Target::parse(url).map_err(|e| FieldError::new("url", e))?;
    if !policy.allow_private {
        target.check_public().map_err(|e| FieldError::new("url", e))?;
    }
    Ok(())
}

pub async fn create_webhook(
    caller: Caller,
    pool: web::Data<Pool>,
    policy: web::Data<WebhookPolicy>,
    path: web::Path<FundPath>,
    body: JsonBody<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let body = body.into_inner();
    let types = match &body.types {
        Some(list) if list.is_empty() => return Err(FieldError::new("types", "leave types out for every type, or name at least one").into()),
        Some(list) => Some(EventType::parse_list(&list.join(",")).map_err(|unknown| FieldError::new("types", format!("unknown event type {unknown:?}")))?),
        None => None,
    };
    let policy = **policy;
    // Resolving the host may take a moment: off the async threads.
    let url = body.url.clone();
    web::block(move || check_target(&url, policy)).await.map_err(ApiError::internal)??;
    let mut bytes = [0u8; SECRET_BYTES];
    rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    let secret = secret_from(&bytes);
    let now = now_utc();
    let employer = body.employer_id.map(EmployerId);
    let row = WebhookRow {
        id: WebhookId::new(),
        fund_id: fund,
        url: body.url,
        types: types.map(|t| t.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")),
        employer_id: employer,
        secret: secret.clone(),
        status: ACTIVE.to_string(),
        delivered_position: 0,
        attempts: 0,
        failing_since: None,
        next_attempt_at: now,
        lease_until: None,
        created_at: now,
    };
    let row = run(&pool, move |conn| {
        if let Some(employer) = employer {
            rows::find_employer(conn, fund, employer)?.ok_or_else(|| ApiError::unprocessable("unknown_reference", "employer_id: no such employer in this fund"))?;
        }
        crate::db::write_tx(conn, |conn| {
            feed::sequence(conn)?;
            // A subscription receives what happens after it was made.
            let row = WebhookRow { delivered_position: feed::head(conn)?, ..row };
            if let Err(existing) = feed::insert_webhook(conn, &row)? {
                let message = "this fund has a subscription for this URL and employer already; its secret was answered when it was made";
                return Err(ApiError::conflict("duplicate_webhook", message).with_extra(serde_json::json!({ "existing_id": existing })));
            }
            Ok::<_, ApiError>(row)
        })
    })
    .await?;
    let location = format!("/v1/funds/{fund}/webhooks/{}", row.id);
    let view = WebhookView { secret: Some(secret), ..WebhookView::from(row) };
    Ok(with_location(HttpResponse::build(StatusCode::CREATED).json(view), Some(location)))
}

pub async fn list_webhooks(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let rows = run(&pool, move |conn| Ok(feed::list_webhooks(conn, fund)?)).await?;
    let items: Vec<WebhookView> = rows.into_iter().map(WebhookView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

pub async fn get_webhook(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let id = WebhookId(path.id);
    let row = run(&pool, move |conn| feed::find_webhook(conn, fund, id)?.ok_or_else(|| ApiError::not_found("webhook"))).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(row)))
}

/// Makes a failing subscription deliver again, from the first event it did not deliver.
pub async fn enable_webhook(caller: Caller, pool: web::Data<Pool>, path: web::Path<FundItemPath>) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let id = WebhookId(path.id);
    let row = run(&pool, move |conn| {
        crate::db::write_tx(conn, |conn| {
            if feed::enable_webhook(conn, fund, id, now_utc())? != 1 {
                return Err(ApiError::not_found("webhook"));
            }
            feed::find_webhook(conn, fund, id)?.ok_or_else(|| ApiError::not_found("webhook"))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(row)))
}

/// Delivery attempts of a subscription, newest first.
pub async fn list_deliveries(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<FundItemPath>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let fund = FundId(path.fund);
    caller.admit(fund, &[Role::FundAdmin])?;
    let id = WebhookId(path.id);
    let query = params.query()?;
    let page = run(&pool, move |conn| {
        feed::find_webhook(conn, fund, id)?.ok_or_else(|| ApiError::not_found("webhook"))?;
        let rows = feed::list_deliveries(conn, id, &query)?;
        Ok(Page::from_rows(rows, &query, |d| d.id, DeliveryView::from))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
