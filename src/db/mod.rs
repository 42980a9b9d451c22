//! Storage: schema, connections, and the row types and queries of the reference data.
//! Money is written only by `crate::ledger`.

pub mod conn;
pub mod employment;
pub mod events;
pub mod idempotency;
pub mod objections;
pub mod payments;
pub mod ledger_reads;
pub mod ledger_statements;
pub mod privileges;
pub mod providers;
pub mod queries;
pub mod report_queries;
pub mod rows;
pub mod schema;
pub mod types;

pub use conn::{classify, is_unique_violation, open_pool, read_tx, write_tx, DbConn, DbUrl, Failure, Pool, SqliteSync};
/// A failed statement; `classify` says what it means.
pub use diesel::result::Error as DbError;
