//! Idempotency keys as rows: claimed by the first write of a request's transaction, answered
//! with the stored response, purged after the retention period. What a key means for HTTP
//! (the header, replays) is in `http::idempotency`.

use diesel::prelude::*;

use super::conn::{is_unique_violation, DbConn};
use super::rows::IdempotencyRow;
use super::schema::idempotency_keys;
use crate::domain::time::now_utc;
use crate::domain::FundId;

/// Keys are kept at least this long; `expire` runs purge older ones.
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 7 * 24;

/// Who a key belongs to and which request it names.
pub struct KeyRef<'a> {
    pub fund_id: FundId,
    pub caller: &'a str,
    pub key: &'a str,
}

/// Claims the key for a request with this fingerprint: true when this request is the first.
/// In a savepoint, so that a key that exists already leaves the transaction usable.
pub fn claim(conn: &mut DbConn, key: &KeyRef<'_>, request_hash: &str) -> QueryResult<bool> {
    let row = IdempotencyRow {
        fund_id: key.fund_id,
        caller: key.caller.to_string(),
        key: key.key.to_string(),
        request_hash: request_hash.to_string(),
        status_code: None,
        response_body: None,
        created_at: now_utc(),
    };
    match conn.transaction(|conn| diesel::insert_into(idempotency_keys::table).values(&row).execute(conn)) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn find(conn: &mut DbConn, key: &KeyRef<'_>) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .filter(idempotency_keys::fund_id.eq(key.fund_id))
        .filter(idempotency_keys::caller.eq(key.caller))
        .filter(idempotency_keys::key.eq(key.key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()
}

/// Stores the response of the request that claimed the key.
pub fn store_response(conn: &mut DbConn, key: &KeyRef<'_>, status: u16, body: &str) -> QueryResult<usize> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::fund_id.eq(key.fund_id))
            .filter(idempotency_keys::caller.eq(key.caller))
            .filter(idempotency_keys::key.eq(key.key)),
    )
    .set((idempotency_keys::status_code.eq(Some(i32::from(status))), idempotency_keys::response_body.eq(Some(body))))
    .execute(conn)
}

/// Stores a key with its response in one go, for work done outside a claimed key. A key stored
/// meanwhile by a racing request wins.
pub fn insert_answered(conn: &mut DbConn, key: &KeyRef<'_>, request_hash: &str, status: u16, body: &str) -> QueryResult<()> {
    let row = IdempotencyRow {
        fund_id: key.fund_id,
        caller: key.caller.to_string(),
        key: key.key.to_string(),
        request_hash: request_hash.to_string(),
        status_code: Some(i32::from(status)),
        response_body: Some(body.to_string()),
        created_at: now_utc(),
    };
    match diesel::insert_into(idempotency_keys::table).values(&row).execute(conn) {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Keys deleted per purge statement: a backlog (weeks of keys after an upgrade) is purged in
/// short transactions that never hold the write lock long.
pub const PURGE_BATCH_ROWS: i64 = 1_000;

/// Deletes up to `PURGE_BATCH_ROWS` keys older than the retention period. Returns how many.
pub fn purge_expired_batch(conn: &mut DbConn) -> QueryResult<usize> {
    let cutoff = now_utc() - chrono::Duration::hours(IDEMPOTENCY_RETENTION_HOURS);
    let sql = match conn {
        DbConn::Pg(_) => "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
        DbConn::Sqlite(_) => "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
    };
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Timestamp, _>(cutoff)
        .bind::<diesel::sql_types::BigInt, _>(PURGE_BATCH_ROWS)
        .execute(conn)
}

/// Deletes every key older than the retention period, a batch per write transaction. Returns
/// how many.
pub fn purge_expired_keys(conn: &mut DbConn) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let purged = super::write_tx(conn, purge_expired_batch)?;
        total += purged;
        if (purged as i64) < PURGE_BATCH_ROWS {
            return Ok(total);
        }
    }
}
