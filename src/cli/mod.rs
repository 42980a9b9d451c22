//! The command line: `serve`, `token`, `migrate`, `expire`, `report`, `demo`.

pub mod demo;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{auth_config, JwtOptions, SecretFile};
use crate::db::{DbUrl, SqliteSync};
use crate::auth::{Role, TokenClaims, MAX_TOKEN_TTL_SECS};
use crate::startup::{Application, Settings};
use crate::telemetry::LogFormat;

/// The default embedded database, in the working directory.
pub const DEFAULT_DATABASE: &str = "ptt-ledger.db";

#[derive(Debug, Parser)]
#[command(name = "ptt-ledger", version, about = "Training-budget ledger for Dutch sector training funds")]
pub struct Cli {
    /// postgres://..., sqlite://path/file.db, or a file path.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE, global = true, hide_env_values = true)]
    pub database_url: String,
    /// File holding the database URL (when it carries a password), instead of DATABASE_URL.
    #[arg(long, env = "DATABASE_URL_FILE", global = true, conflicts_with = "database_url")]
    pub database_url_file: Option<PathBuf>,
    /// HS256 signing secret, at least 32 bytes.
    #[arg(long, env = "PTT_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// File holding the HS256 signing secret (instead of PTT_JWT_SECRET; surrounding white
    /// space is ignored).
    #[arg(long, env = "PTT_JWT_SECRET_FILE", global = true)]
    pub jwt_secret_file: Option<PathBuf>,
    /// PEM file with an RSA, EC (P-256) or Ed25519 public key: RS256, ES256 or EdDSA tokens.
    #[arg(long, env = "PTT_JWT_PUBLIC_KEY", global = true)]
    pub jwt_public_key: Option<PathBuf>,
    /// JWKS file of an identity provider: the token's `kid` picks the key (RS256, ES256, EdDSA);
    /// several keys may be live, and the file is re-read within seconds of a change.
    #[arg(long, env = "PTT_JWT_JWKS_FILE", global = true)]
    pub jwt_jwks_file: Option<PathBuf>,
    /// Required `iss` of tokens, when set.
    #[arg(long, env = "PTT_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` of tokens, when set (a token's `aud` may be this string or an array
    /// holding it).
    #[arg(long, env = "PTT_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Claim holding the role: a string or an array of strings (others' values are ignored);
    /// a dotted name reaches into objects, e.g. realm_access.roles.
    #[arg(long, env = "PTT_JWT_ROLE_CLAIM", default_value = "role", global = true)]
    pub jwt_role_claim: String,
    /// Claim holding the fund's id.
    #[arg(long, env = "PTT_JWT_FUND_CLAIM", default_value = "fund", global = true)]
    pub jwt_fund_claim: String,
    /// Claim holding the employer's id (employer tokens).
    #[arg(long, env = "PTT_JWT_EMPLOYER_CLAIM", default_value = "employer", global = true)]
    pub jwt_employer_claim: String,
    /// Claim holding the worker's id (worker tokens).
    #[arg(long, env = "PTT_JWT_WORKER_CLAIM", default_value = "worker", global = true)]
    pub jwt_worker_claim: String,
    /// SQLite commit durability: full (default; a 2xx survives power loss) or normal (faster;
    /// the last commits may be lost on power loss, never on a process crash).
    #[arg(long, value_enum, env = "PTT_SQLITE_SYNCHRONOUS", default_value = "full", global = true)]
    pub sqlite_synchronous: SqliteSync,
    /// Log lines as text for people or JSON for a log collector.
    #[arg(long, value_enum, env = "PTT_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Database connections per server process; a request waits at most 5 s for one, then 503.
    #[arg(long, env = "PTT_DB_POOL_SIZE", default_value_t = crate::db::conn::POOL_MAX_SIZE, value_parser = clap::value_parser!(u32).range(1..=256), global = true)]
    pub db_pool_size: u32,
    /// PostgreSQL: longest one statement may run or wait for a lock before its request is
    /// answered 503 (milliseconds).
    #[arg(long, env = "PTT_DB_STATEMENT_TIMEOUT_MS", default_value_t = crate::db::conn::PG_STATEMENT_TIMEOUT_MS, value_parser = clap::value_parser!(u32).range(100..=3_600_000), global = true)]
    pub db_statement_timeout_ms: u32,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates the database first, unless --no-migrate).
    Serve {
        /// Address and port to listen on (behind a reverse proxy that terminates TLS).
        #[arg(long, env = "PTT_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Worker threads; default one per core.
        #[arg(long, env = "PTT_WORKERS")]
        workers: Option<usize>,
        /// Do not migrate: only check that the schema is current. For a least-privilege role
        /// that `migrate --grant-to` prepared (PostgreSQL).
        #[arg(long, env = "PTT_NO_MIGRATE")]
        no_migrate: bool,
        /// Allow webhook targets on loopback and private networks (refused by default: SSRF).
        #[arg(long, env = "PTT_WEBHOOK_ALLOW_PRIVATE")]
        webhook_allow_private: bool,
        /// Threads delivering webhooks in this process; 0 leaves delivery to other processes.
        #[arg(long, env = "PTT_WEBHOOK_THREADS", default_value_t = crate::startup::WEBHOOK_THREADS as u16, value_parser = clap::value_parser!(u16).range(0..=64))]
        webhook_threads: u16,
    },
    /// Mint a bearer token with the configured HS256 secret, printed on stdout.
    Token {
        /// The caller's role.
        #[arg(long, value_enum)]
        role: Role,
        /// The fund the token acts in (every role but platform_admin).
        #[arg(long)]
        fund: Option<uuid::Uuid>,
        /// The employer an employer token acts for.
        #[arg(long)]
        employer: Option<uuid::Uuid>,
        /// The worker a worker token belongs to.
        #[arg(long)]
        worker: Option<uuid::Uuid>,
        /// Subject (who acts); recorded as the actor of ledger entries.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Run pending database migrations and exit.
    Migrate {
        /// PostgreSQL: afterwards give this existing role what `serve` needs and no more (no
        /// UPDATE or DELETE on the ledger, no DDL); run as the owner, serve as the role.
        #[arg(long)]
        grant_to: Option<String>,
    },
    /// Create a realistic demo fund (employers, workers, grants, coaching, vouchers, claims).
    Demo {
        /// How many workers the demo fund gets.
        #[arg(long, default_value_t = 1000)]
        workers: usize,
        /// The demo fund's code; it must not exist yet.
        #[arg(long, default_value = "demo")]
        fund_code: String,
        /// Seed of the random generator: the same seed gives the same shape of data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Recompute every chain, zero sum and balance. Exit 0: the ledger matches; 1: it does not
    /// (the first problem is printed); 2: verify could not run (no database, say).
    Verify {
        /// Only this fund; default every fund.
        #[arg(long)]
        fund: Option<uuid::Uuid>,
    },
    /// Copy an SQLite database while the service runs (a consistent snapshot, mode 0600).
    /// For PostgreSQL use pg_dump; see the README.
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Reports; `report monthly` writes the board's monthly report.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
    },
    /// Lapse what is due as of a date (the year-end run is --as-of YYYY-01-01): expire vouchers
    /// past valid_until, then lapse the available money of lots past expires_on.
    Expire {
        /// YYYY-MM-DD: lots that expired before this date lapse (1 January for the year-end run).
        #[arg(long, value_parser = parse_date_arg)]
        as_of: chrono::NaiveDate,
        /// Only this fund; default every fund.
        #[arg(long)]
        fund: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The monthly board report of a fund.
    Monthly {
        /// The fund's id.
        #[arg(long)]
        fund: uuid::Uuid,
        /// YYYY-MM (Europe/Amsterdam).
        #[arg(long)]
        month: String,
        /// json, csv or html.
        #[arg(long, value_enum, default_value = "json")]
        format: CliReportFormat,
        /// CSV only: `nl` writes decimal commas.
        #[arg(long, value_enum, default_value = "standard")]
        csv_dialect: crate::reports::csv::CsvDialect,
        /// `board` hides cells of fewer than 5 workers, as the board's own view does.
        #[arg(long, value_enum, default_value = "fund_admin")]
        audience: CliAudience,
        /// Write to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CliReportFormat {
    Json,
    Csv,
    Html,
}

/// Spelled as the roles are (`--role fund_admin`, `--audience fund_admin`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum CliAudience {
    Board,
    FundAdmin,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Connection(#[from] crate::db::conn::ConnError),
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

impl Cli {
    fn jwt(&self) -> JwtOptions {
        JwtOptions {
            secret: self.jwt_secret.clone(),
            secret_file: self.jwt_secret_file.clone(),
            public_key: self.jwt_public_key.clone(),
            jwks_file: self.jwt_jwks_file.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            claim_names: crate::auth::ClaimNames {
                role: self.jwt_role_claim.clone(),
                fund: self.jwt_fund_claim.clone(),
                employer: self.jwt_employer_claim.clone(),
                worker: self.jwt_worker_claim.clone(),
            },
        }
    }
}

pub fn run(mut cli: Cli) -> Result<ExitCode, CliError> {
    if let Some(path) = &cli.database_url_file {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("could not read DATABASE_URL_FILE {}: {e}", path.display())))?;
        cli.database_url = text.trim().to_string();
    }
    let database = DbUrl::parse(&cli.database_url)?;
    match &cli.command {
        Command::Serve { bind, workers, no_migrate, webhook_allow_private, webhook_threads } => {
            let webhooks = (*webhook_allow_private, usize::from(*webhook_threads));
            serve(&cli, database, bind, *workers, *no_migrate, webhooks)
        }
        Command::Token { role, fund, employer, worker, sub, ttl } => {
            let (auth, secret_file) = auth_config(&cli.jwt(), &database, SecretFile::MustExist)?;
            if *ttl == 0 || *ttl > MAX_TOKEN_TTL_SECS {
                return Err(CliError::Usage(format!("--ttl must be from 1 to {MAX_TOKEN_TTL_SECS} seconds")));
            }
            let needs = |flag: &str| CliError::Usage(format!("a {} token needs --{flag}", role.as_str()));
            if *role != Role::PlatformAdmin && fund.is_none() {
                return Err(needs("fund"));
            }
            if *role == Role::Employer && employer.is_none() {
                return Err(needs("employer"));
            }
            if *role == Role::Worker && worker.is_none() {
                return Err(needs("worker"));
            }
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            // Each employer and worker its own subject: idempotency keys and ledger actors
            // belong to one caller.
            let default_sub = match (role, employer, worker) {
                (Role::Employer, Some(employer), _) => format!("cli-employer-{employer}"),
                (Role::Worker, _, Some(worker)) => format!("cli-worker-{worker}"),
                _ => format!("cli-{}", role.as_str()),
            };
            let sub = sub.clone().unwrap_or(default_sub);
            if sub.is_empty() || sub.len() > 200 {
                return Err(CliError::Usage("--sub must be 1 to 200 characters".into()));
            }
            if let Some(path) = &secret_file {
                eprintln!("signed with the secret in {}", path.display());
            }
            let claims = TokenClaims {
                sub,
                role: *role,
                exp: now + ttl,
                iat: Some(now),
                nbf: None,
                fund: *fund,
                employer: *employer,
                worker: *worker,
                iss: cli.jwt_issuer.clone(),
                aud: cli.jwt_audience.clone(),
            };
            println!("{}", auth.mint(&claims)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Expire { as_of, fund } => expire(&cli, database, *as_of, *fund),
        Command::Verify { fund } => verify(&cli, database, *fund),
        Command::Backup { to } => backup(&cli, database, to),
        Command::Demo { workers, fund_code, seed } => demo(&cli, database, *workers, fund_code, *seed),
        Command::Report { report: ReportCommand::Monthly { fund, month, format, csv_dialect, audience, output } } => {
            report_monthly(&cli, database, *fund, month, *format, *csv_dialect, *audience, output.as_deref())
        }
        Command::Migrate { grant_to } => {
            let manager = crate::db::conn::Manager::new(database.clone(), cli.sqlite_synchronous);
            let mut conn = manager.connect_once()?;
            let applied = crate::db::conn::run_migrations(&mut conn)?;
            println!("{applied} migration(s) applied to {} {}", database.backend_name(), database.redacted());
            if let Some(role) = grant_to {
                let tables = crate::db::privileges::grant_to(&mut conn, role)?;
                println!("role {role} may now serve: SELECT on {tables} tables, INSERT where the service adds rows, UPDATE only on projections and states, no UPDATE or DELETE on the ledger");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(cli: &Cli, database: DbUrl, bind: &str, workers: Option<usize>, no_migrate: bool, webhooks: (bool, usize)) -> Result<ExitCode, CliError> {
    let (auth, secret_file) = auth_config(&cli.jwt(), &database, SecretFile::CreateIfMissing)?;
    let mut settings = Settings::new(database.clone(), bind, auth);
    settings.sqlite_sync = cli.sqlite_synchronous;
    settings.workers = workers;
    settings.pool_size = cli.db_pool_size;
    settings.statement_timeout_ms = cli.db_statement_timeout_ms;
    (settings.webhook_allow_private, settings.webhook_threads) = webhooks;
    if no_migrate {
        settings.schema = crate::db::conn::Schema::MustBeCurrent;
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        let url = format!("http://{host}:{}", app.port());
        tracing::info!(url = %url, backend = database.backend_name(), "ptt-ledger listening");
        let banner = banner(cli, &database, &url, secret_file.as_deref());
        // A closed stdout (a supervisor, a pipe) must not stop the server.
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());
        app.run_until_stopped().await?;
        tracing::info!("ptt-ledger stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// A date flag: exactly YYYY-MM-DD within the service's years, like every date of the API.
fn parse_date_arg(text: &str) -> Result<chrono::NaiveDate, String> {
    crate::domain::time::parse_iso_date(text).ok_or_else(|| crate::domain::time::DATE_RULE.to_string())
}

/// What a person starting the server needs to know: where it listens, on which database, and
/// how to get a token for it (only when it can sign tokens: with a public key, tokens come
/// from the identity provider).
fn banner(cli: &Cli, database: &DbUrl, url: &str, secret_file: Option<&std::path::Path>) -> String {
    let program = std::env::args().next().unwrap_or_else(|| "ptt-ledger".into());
    let mut banner = format!(
        "ptt-ledger {} listening on {url} ({} {})\n",
        env!("CARGO_PKG_VERSION"),
        database.backend_name(),
        database.redacted()
    );
    match (secret_file, &cli.jwt_public_key) {
        (_, Some(key)) => {
            banner.push_str(&format!("Tokens:         checked with the public key {}; mint them with your identity provider\n", key.display()));
        }
        (Some(path), None) => {
            let db_flag = match database {
                DbUrl::Sqlite(path) if cli.database_url != DEFAULT_DATABASE => format!(" --database-url {}", path.display()),
                _ => String::new(),
            };
            banner.push_str(&format!("Signing secret: {} (created on first start, mode 0600)\n", path.display()));
            banner.push_str(&format!("Mint a token:   {program}{db_flag} token --role platform_admin\n"));
        }
        (None, None) => {
            banner.push_str(&format!("Mint a token:   {program} token --role platform_admin (with the same PTT_JWT_SECRET)\n"));
        }
    }
    banner.push_str(&format!("API document:   {url}/openapi.yaml\n"));
    banner
}

fn expire(cli: &Cli, database: DbUrl, as_of: chrono::NaiveDate, fund: Option<uuid::Uuid>) -> Result<ExitCode, CliError> {
    let today = crate::domain::time::today();
    if as_of > today {
        return Err(CliError::Usage(format!("--as-of must not be after today ({today}): lots are usable through their date")));
    }
    let manager = crate::db::conn::Manager::new(database, cli.sqlite_synchronous);
    let mut conn = manager.connect_once()?;
    crate::db::conn::run_migrations(&mut conn)?;
    let funds = all_funds(&mut conn, fund)?;
    let purged = crate::db::idempotency::purge_expired_keys(&mut conn).map_err(crate::db::conn::ConnError::Query)?;
    if purged > 0 {
        println!("{purged} idempotency key(s) older than the retention period purged");
    }
    for fund_id in funds {
        let bar = indicatif::ProgressBar::new(0).with_message(format!("fund {fund_id}"));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} accounts")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let outcome = crate::ledger::expiry::run_expiry(
            &mut conn,
            fund_id,
            "cli-expire",
            as_of,
            &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )
        .map_err(|e| CliError::Usage(format!("expiry of fund {fund_id} failed: {e}")))?;
        bar.finish_and_clear();
        println!(
            "fund {fund_id}: {} voucher(s) expired, {} released; {} lot(s) of {} account(s) lapsed, {} lapsed",
            outcome.vouchers_expired,
            crate::domain::format_cents(outcome.released_cents),
            outcome.lots_lapsed,
            outcome.accounts_lapsed,
            crate::domain::format_cents(outcome.lapsed_cents)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn report_monthly(
    cli: &Cli,
    database: DbUrl,
    fund: uuid::Uuid,
    month: &str,
    format: CliReportFormat,
    dialect: crate::reports::csv::CsvDialect,
    audience: CliAudience,
    output: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    use crate::reports::monthly::{monthly_report, Audience, Month};
    let month = Month::parse(month).ok_or_else(|| CliError::Usage("--month must be YYYY-MM, e.g. 2026-10".into()))?;
    let manager = crate::db::conn::Manager::new(database, cli.sqlite_synchronous);
    let mut conn = manager.connect_once()?;
    crate::db::conn::run_migrations(&mut conn)?;
    let fund_id = crate::domain::FundId(fund);
    let fund_row = crate::db::rows::find_fund(&mut conn, fund_id)
        .map_err(crate::db::conn::ConnError::Query)?
        .ok_or_else(|| CliError::Usage(format!("no fund {fund_id}")))?;
    let audience = match audience {
        CliAudience::Board => Audience::Board,
        CliAudience::FundAdmin => Audience::BackOffice,
    };
    let report = monthly_report(&mut conn, fund_id, month, audience).map_err(crate::db::conn::ConnError::Query)?;
    let text = match format {
        CliReportFormat::Json => serde_json::to_string_pretty(&report).map_err(|e| CliError::Usage(e.to_string()))?,
        CliReportFormat::Csv => crate::reports::csv::render(&report, dialect).map_err(|e| CliError::Usage(e.to_string()))?,
        CliReportFormat::Html => crate::reports::html::render(&report, &fund_row.name),
    };
    match output {
        Some(path) => std::fs::write(path, text)?,
        None => {
            let mut stdout = std::io::stdout();
            stdout.write_all(text.as_bytes())?;
            stdout.write_all(b"\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn demo(cli: &Cli, database: DbUrl, workers: usize, code: &str, seed: u64) -> Result<ExitCode, CliError> {
    let manager = crate::db::conn::Manager::new(database, cli.sqlite_synchronous);
    let mut conn = manager.connect_once()?;
    crate::db::conn::run_migrations(&mut conn)?;
    // PostgreSQL: a second connection inserts in parallel (see `demo::write_in_bulk`).
    let mut conns = vec![conn];
    if matches!(conns[0], crate::db::DbConn::Pg(_)) {
        conns.push(manager.connect_once()?);
    }
    let bar = indicatif::ProgressBar::new(workers as u64).with_message("demo workers");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let summary = demo::build_with(&mut conns, demo::Writer::BULK, &code.to_ascii_lowercase(), workers, seed, crate::domain::time::today(), &mut |done, _| bar.set_position(done as u64))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    bar.finish_and_clear();
    println!(
        "demo fund {} ({}): {} workers, {} employers, {} claims in {:.1} s",
        summary.fund_id,
        code,
        summary.workers,
        summary.employers,
        summary.claims,
        started.elapsed().as_secs_f64()
    );
    println!("report: ptt-ledger report monthly --fund {} --month {} --format html --output report.html", summary.fund_id, crate::domain::time::today().format("%Y-%m"));
    Ok(ExitCode::SUCCESS)
}

fn all_funds(conn: &mut crate::db::DbConn, fund: Option<uuid::Uuid>) -> Result<Vec<crate::domain::FundId>, CliError> {
    Ok(match fund {
        Some(fund) => vec![crate::domain::FundId(fund)],
        None => crate::db::queries::all_fund_ids(conn).map_err(crate::db::conn::ConnError::Query)?,
    })
}

fn verify(cli: &Cli, database: DbUrl, fund: Option<uuid::Uuid>) -> Result<ExitCode, CliError> {
    let manager = crate::db::conn::Manager::new(database, cli.sqlite_synchronous);
    let mut conn = manager.connect_once()?;
    crate::db::conn::run_migrations(&mut conn)?;
    let mut ok = true;
    for fund_id in all_funds(&mut conn, fund)? {
        let report = crate::db::read_tx(&mut conn, |conn| crate::ledger::verify::verify_fund(conn, fund_id))
            .map_err(crate::db::conn::ConnError::Query)?;
        println!(
            "fund {fund_id}: {} account(s), {} transaction(s), {} posting(s): {}",
            report.accounts_checked,
            report.transactions_checked,
            report.entries_checked,
            if report.ok { "ok".to_string() } else { format!("{} problem(s)", report.problems_found) }
        );
        if let Some(first) = report.problems.first() {
            ok = false;
            println!(
                "  first problem: account {}{}: {}",
                first.account_id,
                first.transaction_id.as_deref().map(|t| format!(", transaction {t}")).unwrap_or_default(),
                first.problem
            );
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn backup(cli: &Cli, database: DbUrl, to: &std::path::Path) -> Result<ExitCode, CliError> {
    use diesel::connection::SimpleConnection;
    if matches!(database, DbUrl::Postgres(_)) {
        return Err(CliError::Usage("backup copies SQLite databases; for PostgreSQL use pg_dump (see the README)".into()));
    }
    if to.exists() {
        return Err(CliError::Usage(format!("{} exists already; choose a new file", to.display())));
    }
    let target = to.to_str().ok_or_else(|| CliError::Usage("the backup path must be UTF-8".into()))?;
    // Created empty and private first: VACUUM INTO fills an empty file, and the copy holds
    // everything the database does.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(to)?;
    let manager = crate::db::conn::Manager::new(database.clone(), cli.sqlite_synchronous);
    let mut conn = manager.connect_once()?;
    // VACUUM INTO writes a transactionally consistent snapshot while other connections keep
    // reading and writing, like the online backup API, and compacts it on the way.
    conn.batch_execute(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
        .map_err(crate::db::conn::ConnError::Query)?;
    println!("backup of {} written to {}", database.redacted(), to.display());
    Ok(ExitCode::SUCCESS)
}
