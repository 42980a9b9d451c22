//! Connections, the pool, transactions and migrations for both backends.
//!
//! The backend is chosen from the URL, never by trying each in turn: diesel's own
//! `MultiConnection::establish` hides the real error and treats any string as a file name.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// A connection to either backend. Every query of the service runs through this type.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<Manager>;

/// Runs a diesel statement on the backend's own connection type. Statements run through the
/// shared `DbConn` type are not kept as prepared statements for writes; on the hot path of
/// posting money, this keeps them prepared (and allows `RETURNING`).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// A connection as the pool keeps it: the connection, and whether it was seen to fail in a way
/// that makes it unfit for reuse. The pool discards such a connection when it is returned,
/// and so it does with one returned by a panicking thread or still inside a transaction.
pub struct PoolConn {
    db: DbConn,
    unfit: bool,
    /// When the connection last went back to the pool.
    returned_at: std::time::Instant,
}

impl PoolConn {
    /// Marks the connection to be closed instead of returned to the pool: after a database
    /// error of unknown effect, a lost connection, or a panic. Closing it rolls back whatever
    /// it still had open.
    pub fn discard(&mut self) {
        self.unfit = true;
    }

    /// Whether the connection sat idle in the pool long enough that the server may have
    /// dropped it (a restart, a failover, an idle timeout) without anyone noticing.
    pub fn idle_long(&self) -> bool {
        self.returned_at.elapsed() >= IDLE_CHECK_AFTER
    }

    /// A round trip that tells whether the connection still works.
    pub fn is_alive(&mut self) -> bool {
        self.db.batch_execute("SELECT 1").is_ok()
    }
}

impl std::ops::Deref for PoolConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.db
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.db
    }
}

/// A connection from the pool for one unit of work. One that sat idle is checked first with a
/// round trip, and a dead one replaced (all the idle ones may have died together, so as many
/// times as the pool holds connections): after a database restart the first requests get fresh
/// connections instead of 503s.
pub fn checkout(pool: &Pool) -> Result<PooledConn, r2d2::Error> {
    let mut conn = pool.get()?;
    for _ in 0..pool.max_size() {
        if !conn.idle_long() || conn.is_alive() {
            break;
        }
        conn.discard();
        drop(conn);
        conn = pool.get()?;
    }
    Ok(conn)
}

/// Background database work (the event sequencer, webhook deliveries, the key purge) on a
/// checked-out connection. A connection whose work failed and that is broken or no longer
/// answers is closed, not returned to the pool: a request must not get it next.
pub fn with_conn<T, E: std::fmt::Display>(pool: &Pool, work: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, String> {
    let mut conn = checkout(pool).map_err(|e| e.to_string())?;
    work(&mut conn).map_err(|e| {
        // A lock wait or a timeout leaves a healthy connection: only a broken or dead one goes.
        if in_transaction_or_broken(&mut conn) || !conn.is_alive() {
            conn.discard();
        }
        e.to_string()
    })
}

/// Whether a connection holds a transaction (or a transaction manager in error) that it must
/// not carry into another request.
pub fn in_transaction_or_broken(conn: &mut DbConn) -> bool {
    use diesel::r2d2::R2D2Connection;
    match conn {
        DbConn::Pg(c) => c.is_broken(),
        DbConn::Sqlite(c) => c.is_broken(),
    }
}

/// Connections kept open per process. Two cores: a handful of connections saturates them, and
/// several processes share one PostgreSQL.
pub const POOL_MAX_SIZE: u32 = 8;
/// A connection idle in the pool this long is checked with a round trip before a request gets
/// it: busy connections cost nothing extra, and after a database restart the first requests
/// get fresh connections instead of 503s.
pub const IDLE_CHECK_AFTER: Duration = Duration::from_secs(1);
/// How long a request waits for a free connection before it is answered 503.
pub const POOL_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits on a lock held by another connection before reporting busy.
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;
/// Longest a single PostgreSQL statement may run: bounds how long a request can hold a
/// connection and its locks.
pub const PG_STATEMENT_TIMEOUT_MS: u32 = 30_000;
/// Longest a PostgreSQL transaction may sit idle holding locks (a stuck client).
pub const PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: u32 = 60_000;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Key of the PostgreSQL advisory lock that keeps two starting processes from migrating at once.
const MIGRATION_LOCK_KEY: i64 = 0x7074_745f_6d69_6772; // "ptt_migr"

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("unsupported database URL {0:?}: use postgres://..., sqlite://path/file.db or a file path")]
    UnsupportedUrl(String),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("could not create the SQLite file {path}: {source}")]
    CreateFile { path: PathBuf, source: std::io::Error },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("the database does not take writes: {0}")]
    NotWritable(String),
    #[error("could not open a connection pool: {0}")]
    Pool(#[from] r2d2::Error),
}

/// How SQLite syncs on commit. `Full` (the default) makes a 2xx durable; `Normal` in WAL mode
/// may lose the last transactions on power loss (never on a process crash) for more throughput.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// A database location, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, ConnError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") || path == ":memory:" {
            return Err(ConnError::UnsupportedUrl(url.to_string()));
        }
        Ok(DbUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DbUrl::Postgres(_) => "PostgreSQL",
            DbUrl::Sqlite(_) => "SQLite",
        }
    }

    /// A description that is safe to log: no password.
    pub fn redacted(&self) -> String {
        match self {
            DbUrl::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    format!("{}://***{}", &url[..scheme_end], &url[at..])
                }
                _ => url.clone(),
            },
            DbUrl::Sqlite(path) => path.display().to_string(),
        }
    }
}

/// r2d2 connection manager that knows which backend it serves and sets SQLite's pragmas on
/// every new connection.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DbUrl,
    sqlite_sync: SqliteSync,
    statement_timeout_ms: u32,
}

impl Manager {
    pub fn new(url: DbUrl, sqlite_sync: SqliteSync) -> Manager {
        Manager { url, sqlite_sync, statement_timeout_ms: PG_STATEMENT_TIMEOUT_MS }
    }

    /// PostgreSQL: the longest one statement may run (or wait for a lock) before it is
    /// cancelled and its request answered 503.
    pub fn statement_timeout_ms(mut self, ms: u32) -> Manager {
        self.statement_timeout_ms = ms;
        self
    }

    pub fn connect_once(&self) -> Result<DbConn, ConnError> {
        match &self.url {
            DbUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                conn.batch_execute(&format!(
                    "SET statement_timeout = {}; \
                     SET idle_in_transaction_session_timeout = {PG_IDLE_IN_TRANSACTION_TIMEOUT_MS};",
                    self.statement_timeout_ms
                ))?;
                Ok(DbConn::Pg(conn))
            }
            DbUrl::Sqlite(path) => {
                create_private_file(path)?;
                let path_str = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path_str)?;
                // busy_timeout first, or the other pragmas can fail with "database is locked".
                // recursive_triggers makes the DELETE that `INSERT OR REPLACE` does fire the
                // append-only triggers, so a replace cannot rewrite a ledger row or a lot.
                let sync = match self.sqlite_sync {
                    SqliteSync::Full => "FULL",
                    SqliteSync::Normal => "NORMAL",
                };
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; \
                     PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = {sync}; \
                     PRAGMA foreign_keys = ON; \
                     PRAGMA recursive_triggers = ON;"
                ))?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// Creates the SQLite file readable by its owner only, before SQLite creates it with the umask.
fn create_private_file(path: &Path) -> Result<(), ConnError> {
    if path.exists() {
        return Ok(());
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(|_| ()).map_err(|source| ConnError::CreateFile {
        path: path.to_path_buf(),
        source,
    })
}

impl r2d2::ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = ConnError;

    fn connect(&self) -> Result<PoolConn, ConnError> {
        Ok(PoolConn { db: self.connect_once()?, unfit: false, returned_at: std::time::Instant::now() })
    }

    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), ConnError> {
        conn.db.batch_execute("SELECT 1").map_err(ConnError::Query)
    }

    /// Called when a connection goes back to the pool. A connection returned by a panicking
    /// thread, still inside a transaction, with its transaction manager in error, or marked
    /// unfit is closed, never handed to the next request: reusing it could acknowledge writes
    /// of a transaction that is never committed.
    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        conn.returned_at = std::time::Instant::now();
        std::thread::panicking() || conn.unfit || in_transaction_or_broken(&mut conn.db)
    }
}

/// Fails when the database would refuse writes: SQLite opened read-only (file or directory
/// permissions, a read-only mount), or PostgreSQL in recovery (a standby) or read-only by
/// default. Starts and ends a write transaction that writes nothing.
pub fn check_writable(conn: &mut DbConn) -> Result<(), ConnError> {
    match conn {
        // SQLite begins a write transaction on a read-only file and refuses only the first page
        // it writes: so one row is written and rolled back (nothing reaches the file).
        DbConn::Sqlite(c) => c
            .batch_execute(
                "BEGIN IMMEDIATE; \
                 INSERT INTO idempotency_keys (fund_id, caller, key, request_hash, created_at) \
                 VALUES ('-', 'readiness probe', '-', '-', '1970-01-01 00:00:00'); \
                 ROLLBACK;",
            )
            .map_err(|e| {
                let _ = c.batch_execute("ROLLBACK;");
                ConnError::NotWritable(e.to_string())
            }),
        DbConn::Pg(c) => {
            #[derive(diesel::QueryableByName)]
            struct ReadOnly {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                read_only: bool,
            }
            let row: ReadOnly = diesel::sql_query(
                "SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on' AS read_only",
            )
            .get_result(c)?;
            match row.read_only {
                true => Err(ConnError::NotWritable("PostgreSQL is read-only (in recovery, or read-only by default)".into())),
                false => Ok(()),
            }
        }
    }
}

/// PostgreSQL: a transaction-scoped advisory lock on one fund within `space` (one space per kind
/// of decision that must not run twice at once for a fund). A row lock on the fund would need
/// UPDATE on `funds`, which the serving role lacks for most columns. On SQLite the write
/// transaction already excludes every other writer.
pub fn lock_fund_scope(conn: &mut DbConn, space: i32, fund: crate::domain::FundId) -> diesel::QueryResult<()> {
    if let DbConn::Pg(pg) = conn {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({space}, hashtext($1))"))
            .bind::<diesel::sql_types::Text, _>(fund)
            .execute(pg)?;
    }
    Ok(())
}

/// Whether opening the pool migrates the schema (the owner's job) or only checks that it is
/// current (a least-privilege serving role: `serve --no-migrate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    Migrate,
    MustBeCurrent,
}

/// Opens a pool, migrating the schema or checking that it is current. Refuses a database that
/// does not take writes: better not to start than to report ready and fail every write.
pub fn open_pool(manager: Manager, max_size: u32, checkout_timeout: Duration, schema: Schema) -> Result<Pool, ConnError> {
    let mut first = manager.connect_once()?;
    match schema {
        Schema::Migrate => {
            run_migrations(&mut first).map_err(|e| match e {
                e if is_permission_error(&e) => ConnError::Migration(format!(
                    "{e}. This role may not change the schema: run `ptt-ledger migrate --grant-to ROLE` as the database owner, \
                     then start the service with `serve --no-migrate` as ROLE"
                )),
                e => e,
            })?;
        }
        Schema::MustBeCurrent => {
            let pending = pending_migrations(&mut first)?;
            if pending > 0 {
                return Err(ConnError::Migration(format!(
                    "the database schema is {pending} migration(s) behind this version: run `ptt-ledger migrate` as the database owner first"
                )));
            }
            super::privileges::check_granted(&mut first)?;
        }
    }
    check_writable(&mut first)?;
    drop(first);
    Ok(r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        // No `SELECT 1` before every request: a broken connection fails its request (which
        // rolls back) and r2d2 replaces it.
        .test_on_check_out(false)
        .connection_timeout(checkout_timeout)
        .build(manager)?)
}

/// A failure because the role lacks a privilege (not the owner, no CREATE on the schema).
fn is_permission_error(error: &ConnError) -> bool {
    let text = error.to_string();
    text.contains("permission denied") || text.contains("must be owner")
}

/// How many migrations of this version the database has not run. Reads diesel's bookkeeping
/// table without creating it (a serving role may not create tables).
pub fn pending_migrations(conn: &mut DbConn) -> Result<usize, ConnError> {
    use diesel::migration::MigrationSource;
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| ConnError::Migration(e.to_string());
    let known: Vec<String> = match conn {
        DbConn::Pg(_) => MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS)
            .map_err(migration_error)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
        DbConn::Sqlite(_) => MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .map_err(migration_error)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    };
    let applied: Vec<String> = match diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(conn) {
        Ok(rows) => rows.into_iter().map(|r| r.version).collect(),
        // Never migrated: everything is pending.
        Err(e) if e.to_string().contains("does not exist") || e.to_string().contains("no such table") => Vec::new(),
        Err(e) => return Err(ConnError::Query(e)),
    };
    Ok(known.iter().filter(|v| !applied.contains(v)).count())
}

/// Runs the migrations that have not run yet. On PostgreSQL an advisory lock keeps several
/// processes that start together from racing. A current schema is left alone, with no DDL at
/// all, so that a least-privilege role can run `serve`, `expire`, `verify` or `report` once the
/// owner has migrated.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, ConnError> {
    if pending_migrations(conn)? == 0 {
        return Ok(0);
    }
    let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| ConnError::Migration(e.to_string());
    match conn {
        DbConn::Pg(pg) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            let result = pg.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            result.map_err(migration_error)
        }
        DbConn::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.len())
            .map_err(migration_error),
    }
}

/// Undoes the newest migration (its down.sql), for the upgrade tests: they take a database that
/// holds data one version back and migrate it up again.
#[cfg(feature = "test-hooks")]
pub fn revert_last_migration(conn: &mut DbConn) -> Result<String, ConnError> {
    let migration_error = |e: Box<dyn std::error::Error + Send + Sync>| ConnError::Migration(e.to_string());
    let version = match conn {
        DbConn::Pg(pg) => pg.revert_last_migration(PG_MIGRATIONS).map_err(migration_error)?,
        DbConn::Sqlite(sqlite) => sqlite.revert_last_migration(SQLITE_MIGRATIONS).map_err(migration_error)?,
    };
    Ok(version.to_string())
}

/// Orders this process's SQLite write transactions per database file (see `write_tx`).
static SQLITE_WRITE_GATES: std::sync::Mutex<Vec<(String, &'static WriteGate)>> = std::sync::Mutex::new(Vec::new());

/// The write gate of the database file this connection writes to. A process serves one file
/// (tests, several); each gate lives as long as the process.
fn sqlite_gate(conn: &mut SqliteConnection) -> diesel::QueryResult<&'static WriteGate> {
    #[derive(diesel::QueryableByName)]
    struct File {
        #[diesel(sql_type = diesel::sql_types::Text)]
        file: String,
    }
    let file = diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'").get_result::<File>(conn)?.file;
    let mut gates = SQLITE_WRITE_GATES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, gate)) = gates.iter().find(|(f, _)| *f == file) {
        return Ok(gate);
    }
    let gate: &'static WriteGate = Box::leak(Box::new(WriteGate { busy: std::sync::Mutex::new(false), free: std::sync::Condvar::new() }));
    gates.push((file, gate));
    Ok(gate)
}
/// How long a writer waits for its turn at the gate before it is answered 503: as long as a
/// request waits for a pooled connection.
pub const SQLITE_GATE_WAIT: Duration = POOL_CHECKOUT_TIMEOUT;

/// A queue of one: a writer waits its turn for at most a given time, so that a lock held by
/// another process (a backup, an operator's sqlite3) makes requests answer 503 in seconds
/// instead of queueing behind each other's busy timeouts.
struct WriteGate {
    busy: std::sync::Mutex<bool>,
    free: std::sync::Condvar,
}

struct GateTurn(&'static WriteGate);

impl WriteGate {
    fn enter(&'static self, wait: Duration) -> Option<GateTurn> {
        let deadline = std::time::Instant::now() + wait;
        let mut busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *busy {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            busy = self.free.wait_timeout(busy, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        *busy = true;
        Some(GateTurn(self))
    }
}

impl Drop for GateTurn {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = false;
        self.0.free.notify_one();
    }
}

/// Runs `f` in a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so that a
/// transaction that reads before it writes cannot fail with "busy" when it upgrades its lock;
/// on PostgreSQL it is a plain READ COMMITTED transaction whose conditional updates lock rows.
pub fn write_tx<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    // SQLite has one writer at a time. Waiting for it in SQLite's busy handler means sleeping
    // and polling, which is slow and unfair under load (p99 in seconds); waiting here is a
    // queue. The gate orders access only: every check that guards money stays in the database
    // transaction, and other processes on the same file still meet SQLite's own lock.
    let _turn = match conn {
        DbConn::Sqlite(c) => match sqlite_gate(c)?.enter(SQLITE_GATE_WAIT) {
            Some(turn) => Some(turn),
            None => {
                let busy = "database is locked: no turn to write came within the wait".to_string();
                return Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, Box::new(busy)).into());
            }
        },
        DbConn::Pg(_) => None,
    };
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => match <DbConn as Connection>::TransactionManager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                // A failed commit leaves the transaction open on some backends.
                let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
                Err(commit_error.into())
            }
        },
        Err(error) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(error)
        }
    }
}

/// Runs `f` in a read-only snapshot: all of its queries see one consistent state.
pub fn read_tx<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
    }
    let result = f(conn);
    <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
    result
}

/// True when the error says the database could not be reached, the connection was lost or the
/// server is going away, or the statement could not get its locks in time (a lock wait past the
/// statement timeout, a deadlock, SQLite's "busy" after its timeout): the work did not happen
/// (or, for a lost commit, its outcome is unknown), and the client may retry (503).
pub fn is_unavailable(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const GONE: [&str; 18] = [
        "terminating connection",
        "server closed the connection",
        "connection to server",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection has been closed",
        "the database system is shutting down",
        "the database system is starting up",
        "database is locked",
        // The disk is full or the file system failed or turned read-only: nothing was written,
        // and the service serves again once space or the file system is back.
        "database or disk is full",
        "disk I/O error",
        "attempt to write a readonly database",
        "No space left on device",
        // Waited too long for a lock, or lost a deadlock: nothing was written, a retry can succeed.
        "canceling statement due to statement timeout",
        "canceling statement due to lock timeout",
        "deadlock detected",
        "could not serialize access",
    ];
    match error {
        Error::BrokenTransactionManager => true,
        // Sending the statement failed: the connection is gone (libpq's "no connection to the server").
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::UnableToSendCommand, _) => {
            true
        }
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            GONE.iter().any(|m| message.contains(m))
        }
        _ => false,
    }
}

/// What a failed statement means for the caller, so that layers above storage can answer it
/// without knowing diesel's error type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A row looked up by key does not exist.
    NotFound,
    /// The database is gone, restarting, or busy past its timeout: nothing was stored.
    Unavailable,
    /// A unique key exists already.
    Duplicate,
    /// A foreign key names a row that does not exist.
    UnknownReference,
    /// Anything else: a bug or a damaged database.
    Other,
}

pub fn classify(error: &diesel::result::Error) -> Failure {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::NotFound => Failure::NotFound,
        e if is_unavailable(e) => Failure::Unavailable,
        e if is_unique_violation(e) => Failure::Duplicate,
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => Failure::UnknownReference,
        _ => Failure::Other,
    }
}

/// True when the error is a violated unique constraint (a duplicate).
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend_explicitly() {
        assert_eq!(
            DbUrl::parse("postgres://u:p@h/db").ok(),
            Some(DbUrl::Postgres("postgres://u:p@h/db".into()))
        );
        assert_eq!(DbUrl::parse("sqlite://data/x.db").ok(), Some(DbUrl::Sqlite("data/x.db".into())));
        assert_eq!(DbUrl::parse("x.db").ok(), Some(DbUrl::Sqlite("x.db".into())));
        assert!(DbUrl::parse("mysql://h/db").is_err());
        assert!(DbUrl::parse("").is_err());
    }

    #[test]
    fn a_read_only_database_is_not_writable() {
        let dir = std::env::temp_dir().join(format!("ptt-ro-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("ro.db");
        let manager = Manager::new(DbUrl::Sqlite(path.clone()), SqliteSync::Full);
        let mut writable = manager.connect_once().expect("connect");
        run_migrations(&mut writable).expect("migrate");
        assert!(check_writable(&mut writable).is_ok());
        drop(writable);
        // Root may write any file, so read-only is asked of SQLite itself, as a read-only mount
        // or file mode would make it.
        let uri = format!("file:{}?mode=ro", path.display());
        let mut read_only = DbConn::Sqlite(SqliteConnection::establish(&uri).expect("read-only connection"));
        let refused = check_writable(&mut read_only).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("does not take writes"), "{refused}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn redacted_url_hides_the_password() {
        let url = DbUrl::parse("postgres://user:secret@host:5432/db").expect("valid url");
        assert_eq!(url.redacted(), "postgres://***@host:5432/db");
    }
}
