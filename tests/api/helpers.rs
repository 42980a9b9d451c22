//! Test harness: one fresh database per test (an SQLite file in a temporary directory, or a
//! PostgreSQL database created under `TEST_DATABASE_URL` and dropped afterwards), the real
//! application on a random port, and typed request helpers over HTTP.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use ptt_ledger::db::conn::{DbConn, Manager};
use ptt_ledger::db::{DbUrl, SqliteSync};
use ptt_ledger::domain::time::Clock;
use ptt_ledger::http::auth::{AuthConfig, Role, TokenClaims};
use ptt_ledger::startup::{Application, Settings};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::postgres_configured() {
                    true => super::$test($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await,
                    false => eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped"),
                }
            }
        }
    )*};
}

pub fn postgres_configured() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

/// The database of one test; dropped with it.
pub struct TestDb {
    pub url: DbUrl,
    _dir: Option<tempfile_dir::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_admin {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A minimal temporary directory, removed on drop.
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            let path = std::env::temp_dir().join(format!("ptt-ledger-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn fresh_database(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile_dir::TempDir::new();
            let path: PathBuf = dir.path().join("test.db");
            TestDb { url: DbUrl::Sqlite(path), _dir: Some(dir), pg_admin: None }
        }
        Backend::Postgres => {
            let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
            let name = format!("ptt_test_{}", Uuid::new_v4().simple());
            let mut admin = diesel::PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}"));
            admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("database URL with a path");
            let url = format!("{base}/{name}");
            TestDb { url: DbUrl::Postgres(url), _dir: None, pg_admin: Some((admin_url, name)) }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub db: TestDb,
    /// The server's clock: tests move it to see budgets lapse and deadlines pass.
    pub clock: Clock,
    auth: AuthConfig,
    server: actix_web::dev::ServerHandle,
    customise: std::sync::Arc<dyn Fn(&mut Settings) + Send + Sync>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, customise: impl Fn(&mut Settings) + Send + Sync + 'static) -> TestApp {
    let db = fresh_database(backend);
    let auth = AuthConfig::from_secret(TEST_SECRET.as_bytes(), None, None).expect("auth config");
    let clock = Clock::default();
    let customise: std::sync::Arc<dyn Fn(&mut Settings) + Send + Sync> = std::sync::Arc::new(customise);
    let (address, server) = start_server(&db, &auth, &clock, customise.as_ref());
    TestApp { address, client: reqwest::Client::new(), backend, db, clock, auth, server, customise }
}

fn start_server(db: &TestDb, auth: &AuthConfig, clock: &Clock, customise: &(dyn Fn(&mut Settings) + Send + Sync)) -> (String, actix_web::dev::ServerHandle) {
    let mut settings = Settings::new(db.url.clone(), "127.0.0.1:0", auth.clone());
    settings.workers = Some(2);
    settings.pool_size = 4;
    settings.clock = clock.clone();
    customise(&mut settings);
    let app = Application::build(settings).expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.server();
    let handle = server.handle();
    tokio::spawn(server);
    (address, handle)
}

impl TestApp {
    /// Stops the server (as a process would stop: its pool and every connection closed) and
    /// starts a new one on the same database. Whatever it acknowledged must still be there.
    pub async fn restart(&mut self) {
        self.server.stop(false).await;
        let (address, server) = start_server(&self.db, &self.auth, &self.clock, self.customise.as_ref());
        self.address = address;
        self.server = server;
    }
}

impl Drop for TestApp {
    /// Stops the server, so that its background threads (key purge, webhook deliveries) end
    /// with the test instead of polling a dropped database.
    fn drop(&mut self) {
        let _stopping = self.server.stop(false);
    }
}

/// A response: status, and the body as JSON (`Value::Null` when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {:?}", self.body)).to_string()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self
    }

    /// Asserts a problem+json with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Reply {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status, "body: {}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "no detail: {}", self.body);
        self
    }
}

/// A fund with its back-office token, created over HTTP.
#[derive(Clone, Debug)]
pub struct Fund {
    pub id: String,
    pub admin: String,
}

impl TestApp {
    pub fn token(&self, role: Role, fund: Option<&str>, employer: Option<&str>, worker: Option<&str>) -> String {
        let parse = |s: Option<&str>| s.map(|s| Uuid::parse_str(s).expect("uuid"));
        let claims = TokenClaims {
            sub: format!("test-{}", role.as_str()),
            role,
            exp: now() + 3600,
            iat: Some(now()),
            nbf: None,
            fund: parse(fund),
            employer: parse(employer),
            worker: parse(worker),
            iss: None,
            aud: None,
        };
        self.auth.mint(&claims).expect("mint token")
    }

    pub fn platform_admin(&self) -> String {
        self.token(Role::PlatformAdmin, None, None, None)
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    /// Sends raw bytes as the body, for malformed input.
    pub async fn post_raw(&self, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let request = self
            .client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body);
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn create_fund(&self, code: &str) -> Fund {
        let reply = self.post("/v1/funds", &self.platform_admin(), &json!({"code": code, "name": format!("Fonds {code}")})).await;
        let id = reply.expect(201).id();
        let admin = self.token(Role::FundAdmin, Some(&id), None, None);
        Fund { id, admin }
    }

    pub async fn create_scheme(&self, fund: &Fund, body: Value) -> String {
        self.post(&format!("/v1/funds/{}/schemes", fund.id), &fund.admin, &body).await.expect(201).id()
    }

    /// A typical scheme: 750.00 a year, three years valid, capped at 2,250.00.
    pub async fn standard_scheme(&self, fund: &Fund) -> String {
        self.create_scheme(fund, standard_scheme_body("ptt")).await
    }

    pub async fn create_employer(&self, fund: &Fund, kvk: &str) -> String {
        let body = json!({"kvk_number": kvk, "name": format!("Werkgever {kvk}"), "sector": "metaal"});
        self.post(&format!("/v1/funds/{}/employers", fund.id), &fund.admin, &body).await.expect(201).id()
    }

    pub async fn create_worker(&self, fund: &Fund, employer: &str, number: &str) -> String {
        let body = json!({"participant_number": number, "employer_id": employer, "birth_year": 1980, "education_level": "middelbaar"});
        self.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &body).await.expect(201).id()
    }

    pub async fn grant(&self, fund: &Fund, worker: &str, scheme: &str, amount: &str, year: i32) -> Reply {
        let body = json!({"worker_id": worker, "scheme_id": scheme, "amount": amount, "grant_year": year});
        self.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &body).await
    }

    pub async fn budget(&self, fund: &Fund, worker: &str) -> Value {
        self.get(&format!("/v1/funds/{}/workers/{worker}/budget", fund.id), &fund.admin).await.expect(200).body
    }

    pub async fn verify(&self, fund: &Fund) -> Value {
        self.get(&format!("/v1/funds/{}/ledger/verify", fund.id), &fund.admin).await.expect(200).body
    }

    /// A direct connection to the test database, for what no API may do (tampering).
    pub fn raw_connection(&self) -> DbConn {
        Manager::new(self.db.url.clone(), SqliteSync::Full).connect_once().expect("raw connection")
    }
}

pub fn standard_scheme_body(code: &str) -> Value {
    json!({
        "code": code,
        "name": "Persoonlijke TrainingsToelage",
        "annual_amount": "750.00",
        "max_balance": "2250.00",
        "validity_years": 3,
        "eligible_categories": ["vakopleiding", "loopbaan", "digitaal"],
        "max_claim_amount": "1500.00",
        "effective_from": "2020-01-01"
    })
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.bytes().await.expect("response body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_ne!(status.as_u16(), 500, "server error: {}", String::from_utf8_lossy(&bytes));
    Reply { status, content_type, body }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Cents of a decimal amount string, for comparing sums.
pub fn cents(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("amount is not a string: {value}"));
    let (whole, fraction) = text.split_once('.').expect("two decimals");
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    sign * (whole.trim_start_matches('-').parse::<i64>().expect("whole") * 100 + fraction.parse::<i64>().expect("cents"))
}

/// A fund with a scheme, an employer and one worker holding `granted` of budget.
pub struct Funded {
    pub fund: Fund,
    pub scheme: String,
    pub employer: String,
    pub worker: String,
}

impl TestApp {
    pub async fn funded_worker(&self, scheme_body: Value, granted: &str) -> Funded {
        let fund = self.create_fund("oom").await;
        let scheme = self.create_scheme(&fund, scheme_body).await;
        let employer = self.create_employer(&fund, "12345678").await;
        let worker = self.create_worker(&fund, &employer, "P-1").await;
        self.grant(&fund, &worker, &scheme, granted, this_year()).await.expect(201);
        Funded { fund, scheme, employer, worker }
    }

    pub async fn claim(&self, fund: &Fund, token: &str, body: &Value) -> Reply {
        self.post(&format!("/v1/funds/{}/claims", fund.id), token, body).await
    }

    pub async fn available(&self, funded: &Funded) -> String {
        let budget = self.budget(&funded.fund, &funded.worker).await;
        budget["accounts"][0]["available"].as_str().expect("available").to_string()
    }

    pub async fn account(&self, funded: &Funded) -> Value {
        self.budget(&funded.fund, &funded.worker).await["accounts"][0].clone()
    }
}

pub fn this_year() -> i32 {
    use chrono::Datelike;
    ptt_ledger::domain::time::today().year()
}

pub fn days_ago(days: i64) -> String {
    (ptt_ledger::domain::time::today() - chrono::Duration::days(days)).to_string()
}

pub fn days_ahead(days: i64) -> String {
    (ptt_ledger::domain::time::today() + chrono::Duration::days(days)).to_string()
}

/// A claim for a course that ended ten days ago.
pub fn claim_body(funded: &Funded, amount: &str, invoice: &str) -> Value {
    json!({
        "worker_id": funded.worker,
        "scheme_id": funded.scheme,
        "amount": amount,
        "category": "vakopleiding",
        "course": "Lassen MIG/MAG",
        "provider": "Techniek Opleidingen BV",
        "invoice_reference": invoice,
        "training_start": days_ago(40),
        "training_end": days_ago(10)
    })
}

pub fn date(text: &str) -> chrono::NaiveDate {
    text.parse().expect("valid date")
}

impl TestApp {
    pub fn set_today(&self, day: &str) {
        self.clock.set_today(date(day));
    }

    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    pub async fn session(&self, fund: &Fund, worker: &str, held_on: &str) -> Reply {
        let coach = self.token(Role::Coach, Some(&fund.id), None, None);
        let body = json!({"worker_id": worker, "held_on": held_on, "duration_minutes": 45, "kind": "loopbaangesprek"});
        self.post(&format!("/v1/funds/{}/coaching-sessions", fund.id), &coach, &body).await
    }

    pub async fn expire(&self, fund: &Fund, as_of: &str) -> Value {
        self.post(&format!("/v1/funds/{}/expiry-runs", fund.id), &fund.admin, &json!({"as_of": as_of})).await.expect(201).body
    }
}

/// The service's today (its clock, which a test may move), as an ISO date.
pub fn today_text(app: &TestApp) -> String {
    app.today().to_string()
}
