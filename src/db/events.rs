//! The change feed's storage: events (the outbox), their positions, and webhook subscriptions
//! with their cursors, leases and delivery attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::DbConn;
use super::rows::PageQuery;
use super::ledger_statements::INSERT_CHUNK_ROWS;
use super::schema::{events, webhook_deliveries, webhook_subscriptions};
use crate::domain::events::EventType;
use crate::domain::{DeliveryId, EmployerId, EventId, FundId, WebhookId, WorkerId};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: EventId,
    pub fund_id: FundId,
    pub position: Option<i64>,
    pub event_type: EventType,
    pub occurred_at: NaiveDateTime,
    pub worker_id: Option<WorkerId>,
    pub employer_id: Option<EmployerId>,
    /// The resource after the change, as JSON text.
    pub data: String,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = webhook_subscriptions)]
pub struct WebhookRow {
    pub id: WebhookId,
    pub fund_id: FundId,
    pub url: String,
    /// Comma-separated event types; `None`: every type.
    pub types: Option<String>,
    pub employer_id: Option<EmployerId>,
    pub secret: String,
    pub status: String,
    pub delivered_position: i64,
    pub attempts: i32,
    pub failing_since: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub subscription_id: WebhookId,
    pub fund_id: FundId,
    pub event_id: EventId,
    pub attempt: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A subscription that delivers.
pub const ACTIVE: &str = "active";
/// A subscription whose deliveries kept failing past the retry period; re-enabled by hand.
pub const FAILING: &str = "failing";

/// Appends events in the caller's transaction. On SQLite the write transaction excludes every
/// other writer, so each event gets its position now and commit order is position order; on
/// PostgreSQL positions are assigned after commit by `sequence`.
pub fn append(conn: &mut DbConn, rows: &mut [EventRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let DbConn::Sqlite(_) = conn {
        let highest: Option<i64> = events::table.select(diesel::dsl::max(events::position)).first(conn)?;
        let mut next = highest.unwrap_or(0);
        for row in rows.iter_mut() {
            next += 1;
            row.position = Some(next);
        }
    }
    for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(events::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// PostgreSQL: gives committed events without a position the next positions, in id order, under
/// an advisory lock (one sequencer at a time across processes). Positions only ever grow, and a
/// position becomes visible together with all lower ones. Returns how many were sequenced.
pub fn sequence(conn: &mut DbConn) -> QueryResult<usize> {
    let DbConn::Pg(pg) = conn else { return Ok(0) };
    // Most rounds find nothing new: a read on the partial index, no lock and no transaction.
    let waiting: bool = diesel::select(diesel::dsl::exists(events::table.filter(events::position.is_null()).select(events::id))).get_result(pg)?;
    if !waiting {
        return Ok(0);
    }
    pg.transaction(|pg| {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK_KEY})")).execute(pg)?;
        diesel::sql_query(
            "WITH base AS (SELECT COALESCE(MAX(position), 0) AS m FROM events), \
                  next AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM events WHERE position IS NULL ORDER BY id LIMIT 10000) \
             UPDATE events e SET position = base.m + next.n FROM next, base WHERE e.id = next.id",
        )
        .execute(pg)
    })
}

/// First key of the per-fund PostgreSQL advisory locks taken while a subscription is made.
const WEBHOOK_LOCK_SPACE: i32 = 0x7074_7477;

/// Key of the PostgreSQL advisory lock held while positions are assigned.
const SEQUENCER_LOCK_KEY: i64 = 0x0070_7474_5f73_6571;

/// Which events a reader may see and wants.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub employer_id: Option<EmployerId>,
    pub worker_id: Option<WorkerId>,
    pub types: Option<Vec<EventType>>,
}

/// Events of a fund after `after` (a position), in position order, at most `limit`.
pub fn read(conn: &mut DbConn, fund: FundId, filter: &EventFilter, after: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    let mut q = events::table
        .filter(events::fund_id.eq(fund))
        .filter(events::position.gt(after))
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(employer) = filter.employer_id {
        q = q.filter(events::employer_id.eq(employer));
    }
    if let Some(worker) = filter.worker_id {
        q = q.filter(events::worker_id.eq(worker));
    }
    if let Some(types) = &filter.types {
        q = q.filter(events::event_type.eq_any(types.clone()));
    }
    q.order(events::position.asc()).limit(limit).load(conn)
}

/// The highest position so far (0: none): where a new subscription starts.
pub fn head(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(events::table.select(diesel::dsl::max(events::position)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// Inserts a subscription in the caller's write transaction, unless the fund has one for the
/// same URL and employer already: then `Err` with its id, and nothing is written (a retried
/// POST never makes a second subscription that would deliver everything twice). On PostgreSQL
/// a transaction-scoped advisory lock per fund comes first (a row lock would need UPDATE on
/// `funds`, which the serving role does not have), so two such POSTs at once are decided one
/// after the other.
pub fn insert_webhook(conn: &mut DbConn, row: &WebhookRow) -> QueryResult<Result<(), WebhookId>> {
    super::conn::lock_fund_scope(conn, WEBHOOK_LOCK_SPACE, row.fund_id)?;
    let mut same = webhook_subscriptions::table
        .filter(webhook_subscriptions::fund_id.eq(row.fund_id))
        .filter(webhook_subscriptions::url.eq(&row.url))
        .select(webhook_subscriptions::id)
        .into_boxed();
    same = match row.employer_id {
        Some(employer) => same.filter(webhook_subscriptions::employer_id.eq(employer)),
        None => same.filter(webhook_subscriptions::employer_id.is_null()),
    };
    if let Some(existing) = same.first::<WebhookId>(conn).optional()? {
        return Ok(Err(existing));
    }
    diesel::insert_into(webhook_subscriptions::table).values(row).execute(conn)?;
    Ok(Ok(()))
}

pub fn find_webhook(conn: &mut DbConn, fund: FundId, id: WebhookId) -> QueryResult<Option<WebhookRow>> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::fund_id.eq(fund))
        .filter(webhook_subscriptions::id.eq(id))
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_webhooks(conn: &mut DbConn, fund: FundId) -> QueryResult<Vec<WebhookRow>> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::fund_id.eq(fund))
        .order(webhook_subscriptions::id.asc())
        .select(WebhookRow::as_select())
        .load(conn)
}

/// Makes a failing subscription deliver again, from where it stopped.
pub fn enable_webhook(conn: &mut DbConn, fund: FundId, id: WebhookId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(webhook_subscriptions::table.filter(webhook_subscriptions::fund_id.eq(fund)).filter(webhook_subscriptions::id.eq(id)))
        .set((
            webhook_subscriptions::status.eq(ACTIVE),
            webhook_subscriptions::attempts.eq(0),
            webhook_subscriptions::failing_since.eq(None::<NaiveDateTime>),
            webhook_subscriptions::next_attempt_at.eq(now),
        ))
        .execute(conn)
}

/// A page of a subscription's delivery attempts, newest first.
pub fn list_deliveries(conn: &mut DbConn, subscription: WebhookId, page: &PageQuery) -> QueryResult<Vec<DeliveryRow>> {
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription))
        .select(DeliveryRow::as_select())
        .into_boxed();
    if let Some(after) = &page.after {
        q = q.filter(webhook_deliveries::id.lt(after.clone()));
    }
    q.order(webhook_deliveries::id.desc()).limit(page.limit).load(conn)
}

/// Active subscriptions due at `now`, not leased by another process, with events past their
/// cursor: one filter for the cheap check and for the lease.
macro_rules! due_subscriptions {
    ($now:expr) => {
        webhook_subscriptions::table
            .filter(webhook_subscriptions::status.eq(ACTIVE))
            .filter(webhook_subscriptions::next_attempt_at.le($now))
            .filter(webhook_subscriptions::lease_until.is_null().or(webhook_subscriptions::lease_until.lt($now)))
            .filter(diesel::dsl::exists(
                events::table
                    .filter(events::fund_id.eq(webhook_subscriptions::fund_id))
                    .filter(events::position.gt(webhook_subscriptions::delivered_position.nullable())),
            ))
    };
}

/// Whether any subscription is due: a plain read, so that a delivery round with nothing to do
/// needs no write transaction.
pub fn any_due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(due_subscriptions!(now).select(webhook_subscriptions::id))).get_result(conn)
}

/// Takes the due subscription that waited longest and leases it until `lease_until`.
/// PostgreSQL skips rows another process is taking (`SKIP LOCKED`). A subscription with nothing
/// to deliver is never leased.
pub fn lease_due(conn: &mut DbConn, now: NaiveDateTime, lease_until: NaiveDateTime) -> QueryResult<Option<WebhookRow>> {
    macro_rules! oldest {
        () => {
            due_subscriptions!(now).order(webhook_subscriptions::next_attempt_at.asc()).select(WebhookRow::as_select())
        };
    }
    let found: Option<WebhookRow> = match conn {
        DbConn::Pg(c) => oldest!().for_update().skip_locked().first(c).optional()?,
        DbConn::Sqlite(c) => oldest!().first(c).optional()?,
    };
    let Some(row) = found else { return Ok(None) };
    diesel::update(webhook_subscriptions::table.find(row.id)).set(webhook_subscriptions::lease_until.eq(Some(lease_until))).execute(conn)?;
    Ok(Some(WebhookRow { lease_until: Some(lease_until), ..row }))
}

/// After a lease: where the subscription got to, how its attempts stand, and the lease released.
pub struct LeaseEnd {
    pub delivered_position: i64,
    pub attempts: i32,
    pub status: &'static str,
    pub failing_since: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
}

pub fn end_lease(conn: &mut DbConn, id: WebhookId, end: &LeaseEnd, attempts_log: &[DeliveryRow]) -> QueryResult<()> {
    diesel::update(webhook_subscriptions::table.find(id))
        .set((
            webhook_subscriptions::delivered_position.eq(end.delivered_position),
            webhook_subscriptions::attempts.eq(end.attempts),
            webhook_subscriptions::status.eq(end.status),
            webhook_subscriptions::failing_since.eq(end.failing_since),
            webhook_subscriptions::next_attempt_at.eq(end.next_attempt_at),
            webhook_subscriptions::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    for chunk in attempts_log.chunks(INSERT_CHUNK_ROWS) {
        crate::on_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// When the oldest event not yet delivered to an active subscription occurred, if any.
pub fn oldest_undelivered(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    let subs: Vec<(FundId, i64)> = webhook_subscriptions::table
        .filter(webhook_subscriptions::status.eq(ACTIVE))
        .select((webhook_subscriptions::fund_id, webhook_subscriptions::delivered_position))
        .load(conn)?;
    let mut oldest: Option<NaiveDateTime> = None;
    for (fund, position) in subs {
        let first: Option<NaiveDateTime> = events::table
            .filter(events::fund_id.eq(fund))
            .filter(events::position.gt(position))
            .order(events::position.asc())
            .select(events::occurred_at)
            .first(conn)
            .optional()?;
        oldest = match (oldest, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(oldest)
}
