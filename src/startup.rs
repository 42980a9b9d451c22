//! Builds the application: pool, migrations, routes, listener. Tests start it on port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::db::conn::{ConnError, POOL_CHECKOUT_TIMEOUT, POOL_MAX_SIZE};
use crate::db::{open_pool, DbUrl, Pool, SqliteSync};
use crate::domain::time::Clock;
use crate::auth::AuthConfig;
use crate::http::common::{path_config, payload_config, query_config};
use crate::http::metrics::Metrics;
use crate::http::request_context::RequestContext;
use crate::http::{health, routes};

/// How long a client may take to send its request head.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
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
        let pool = open_pool(&settings.database, settings.sqlite_sync, settings.pool_size, settings.pool_checkout_timeout)?;
        let bind_error = |source| StartupError::Bind { bind: settings.bind.clone(), source };
        let listener = TcpListener::bind(&settings.bind).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = build_server(listener, pool, settings.auth.clone(), settings.clock.clone(), settings.workers).map_err(bind_error)?;
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

fn build_server(listener: TcpListener, pool: Pool, auth: AuthConfig, clock: Clock, workers: Option<usize>) -> std::io::Result<Server> {
    let pool = web::Data::new(pool);
    let auth = web::Data::new(auth);
    let clock = web::Data::new(clock);
    let metrics = Metrics::new().map_err(std::io::Error::other)?;
    let metrics_data = web::Data::new(metrics.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(RequestContext(metrics.clone()))
            .app_data(metrics_data.clone())
            .app_data(pool.clone())
            .app_data(auth.clone())
            .app_data(clock.clone())
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
