//! Builds the application: pool, migrations, routes, listener. Tests start it on port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::db::conn::{ConnError, Manager, Schema, PG_STATEMENT_TIMEOUT_MS, POOL_CHECKOUT_TIMEOUT, POOL_MAX_SIZE};
use crate::db::{open_pool, DbUrl, Pool, SqliteSync};
use crate::domain::time::Clock;
use crate::auth::AuthConfig;
use crate::http::common::{path_config, payload_config, query_config};
use crate::http::metrics::Metrics;
use crate::http::request_context::RequestContext;
use crate::delivery::DeliveryConfig;
use crate::http::webhooks::WebhookPolicy;
use crate::http::{health, routes};

/// How long a client may take to send its request head.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a running server purges idempotency keys older than their retention period, so that
/// their storage stays bounded by the traffic of the retention period.
pub const KEY_PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// Webhook delivery threads per process by default.
pub const WEBHOOK_THREADS: usize = 2;
/// How long in-flight requests get to finish after SIGTERM.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// Everything the server needs, resolved from flags and environment by `crate::config`.
#[derive(Clone)]
pub struct Settings {
    pub database: DbUrl,
    pub bind: String,
    pub auth: AuthConfig,
    pub sqlite_sync: SqliteSync,
    pub pool_size: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub pool_checkout_timeout: Duration,
    /// actix worker threads; `None`: one per core.
    pub workers: Option<usize>,
    /// The date the service lives on; the real one except in tests.
    pub clock: Clock,
    /// Migrate the schema on start (the owner), or only check it is current (`--no-migrate`).
    pub schema: Schema,
    /// How often the server purges idempotency keys past their retention period.
    pub key_purge_interval: Duration,
    /// PostgreSQL: longest a statement may run or wait for a lock (then 503).
    pub statement_timeout_ms: u32,
    /// Webhook targets on loopback or private networks are allowed (`PTT_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// Threads delivering webhooks in this process (0: this process delivers none).
    pub webhook_threads: usize,
}

impl Settings {
    pub fn new(database: DbUrl, bind: impl Into<String>, auth: AuthConfig) -> Settings {
        Settings {
            database,
            bind: bind.into(),
            auth,
            sqlite_sync: SqliteSync::Full,
            pool_size: POOL_MAX_SIZE,
            pool_checkout_timeout: POOL_CHECKOUT_TIMEOUT,
            workers: None,
            clock: Clock::default(),
            schema: Schema::Migrate,
            key_purge_interval: KEY_PURGE_INTERVAL,
            statement_timeout_ms: PG_STATEMENT_TIMEOUT_MS,
            webhook_allow_private: false,
            webhook_threads: WEBHOOK_THREADS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] ConnError),
    #[error("could not listen on {bind}: {source} (PTT_BIND / --bind takes HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080)")]
    Bind { bind: String, source: std::io::Error },
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartupError> {
        let pool = open_pool(
            Manager::new(settings.database.clone(), settings.sqlite_sync).statement_timeout_ms(settings.statement_timeout_ms),
            settings.pool_size,
            settings.pool_checkout_timeout,
            settings.schema,
        )?;
        let bind_error = |source| StartupError::Bind { bind: settings.bind.clone(), source };
        let listener = TcpListener::bind(&settings.bind).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let mut background = vec![start_key_purge(pool.clone(), settings.key_purge_interval)];
        if settings.webhook_threads > 0 {
            let config = DeliveryConfig { allow_private: settings.webhook_allow_private, threads: settings.webhook_threads };
            background.extend(crate::delivery::start(pool.clone(), config));
        }
        let policy = WebhookPolicy { allow_private: settings.webhook_allow_private };
        let server = build_server(listener, pool, settings.auth.clone(), settings.clock.clone(), settings.workers, Background(background), policy)
            .map_err(bind_error)?;
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn server(self) -> Server {
        self.server
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The background threads' lifelines, kept by the server's app factory: when the server stops
/// and the factory is dropped, each thread sees its channel close and ends, releasing its pool.
#[derive(Clone)]
struct Background(#[allow(dead_code, reason = "held for its drop, which stops the threads")] Vec<std::sync::mpsc::Sender<()>>);

/// Purges expired idempotency keys every `interval` while the server runs. A failed purge (the
/// database away) is logged and tried again at the next interval.
fn start_key_purge(pool: Pool, interval: Duration) -> std::sync::mpsc::Sender<()> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("ptt-key-purge".into()).spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
            let purged = crate::db::conn::with_conn(&pool, crate::db::idempotency::purge_expired_keys);
            match purged {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "idempotency keys past their retention purged"),
                Err(e) => tracing::warn!(error = %e, "idempotency key purge failed; trying again later"),
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no idempotency key purge thread; keys are still purged by expiry runs");
    }
    stop
}

fn build_server(
    listener: TcpListener,
    pool: Pool,
    auth: AuthConfig,
    clock: Clock,
    workers: Option<usize>,
    background: Background,
    policy: WebhookPolicy,
) -> std::io::Result<Server> {
    let pool = web::Data::new(pool);
    let policy = web::Data::new(policy);
    let auth = web::Data::new(auth);
    let clock = web::Data::new(clock);
    let metrics = Metrics::new().map_err(std::io::Error::other)?;
    let metrics_data = web::Data::new(metrics.clone());
    let mut server = HttpServer::new(move || {
        let _keeps_the_background_running = &background;
        App::new()
            .wrap(RequestContext(metrics.clone()))
            // Outermost, so that every answer has it, also those of the request context: a
            // browser never guesses another type than the one sent (a CSV or JSON body read as
            // HTML would run what a name in it holds).
            .wrap(actix_web::middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .app_data(metrics_data.clone())
            .app_data(pool.clone())
            .app_data(auth.clone())
            .app_data(clock.clone())
            .app_data(policy.clone())
            .app_data(payload_config())
            .app_data(query_config())
            .app_data(path_config())
            .configure(routes::configure)
            .default_service(web::to(health::not_found))
    })
    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
