//! Inserts the demo's rows in bulk: multi-row INSERTs of as many rows as the backends' limit
//! on bound parameters allows, table by table in an order the foreign keys accept, inside the
//! caller's write transaction.

use diesel::prelude::*;

use super::simulate::Rows;
use super::DemoError;
use crate::db::schema::{
    budget_accounts, claim_payments, claim_periods, claims, coaching_sessions, employments, events, grant_lots, ledger_postings, ledger_transactions,
    voucher_lots, vouchers, workers,
};
use crate::db::DbConn;

/// Bound parameters per statement: under SQLite's limit (32,766) and PostgreSQL's (65,535).
const PARAMETERS_PER_STATEMENT: usize = 30_000;

/// Inserts `rows` of a table, `columns` wide: on PostgreSQL with one COPY (binary), on SQLite
/// in INSERT statements of as many rows as fit.
macro_rules! insert_all {
    ($conn:expr, $table:path, $rows:expr, $columns:expr) => {
        match $conn {
            DbConn::Pg(c) => {
                if !$rows.is_empty() {
                    diesel::copy_from($table).from_insertable(&$rows).execute(c)?;
                }
            }
            DbConn::Sqlite(c) => {
                for chunk in $rows.chunks(PARAMETERS_PER_STATEMENT / $columns) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
        }
    };
}

/// Writes a batch of workers. On SQLite the events get their feed positions here, after the
/// highest one so far (the write transaction excludes every other writer); on PostgreSQL the
/// sequencer gives them theirs after commit, as for every other write.
pub fn insert(conn: &mut DbConn, rows: &mut Rows) -> Result<(), DemoError> {
    if let DbConn::Sqlite(_) = conn {
        let highest: Option<i64> = events::table.select(diesel::dsl::max(events::position)).first(conn)?;
        let mut next = highest.unwrap_or(0);
        for event in rows.events.iter_mut() {
            next += 1;
            event.position = Some(next);
        }
    }
    insert_all!(conn, workers::table, rows.workers, 7);
    insert_all!(conn, employments::table, rows.employments, 6);
    insert_all!(conn, budget_accounts::table, rows.accounts, 12);
    insert_all!(conn, ledger_transactions::table, rows.txs, 12);
    insert_all!(conn, grant_lots::table, rows.lots, 10);
    insert_all!(conn, ledger_postings::table, rows.postings, 8);
    insert_all!(conn, vouchers::table, rows.vouchers, 16);
    insert_all!(conn, voucher_lots::table, rows.voucher_lots, 4);
    insert_all!(conn, claims::table, rows.claims, 32);
    insert_all!(conn, claim_periods::table, rows.periods, 5);
    insert_all!(conn, claim_payments::table, rows.payments, 5);
    insert_all!(conn, coaching_sessions::table, rows.sessions, 10);
    insert_all!(conn, events::table, rows.events, 8);
    Ok(())
}
