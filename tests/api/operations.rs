//! Operating it: metrics, a saturated pool, graceful shutdown, logs without secrets, file
//! modes, backup and restore, verify from the command line.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::helpers::{claim_body, spawn_app_with, standard_scheme_body, Backend, TestApp, TEST_SECRET};
use crate::on_both_backends;

const BIN: &str = env!("CARGO_BIN_EXE_ptt-ledger");

async fn metrics_count_requests_decisions_and_the_pool(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "M-1")).await.expect(201);
    let response = app.client.get(format!("{}/metrics", app.address)).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ct").starts_with("text/plain"));
    let text = response.text().await.expect("text");
    assert!(text.contains(r#"ptt_http_requests_total{method="POST",route="/v1/funds/{fund}/claims",status="201"} 1"#), "{text}");
    assert!(text.contains(r#"ptt_claim_decisions_total{outcome="approved"} 1"#), "{text}");
    assert!(text.contains("ptt_http_request_duration_seconds_bucket{route=\"/v1/funds/{fund}/claims\""), "{text}");
    assert!(text.contains(r#"ptt_ledger_transactions_total{kind="spend"}"#), "{text}");
    assert!(text.contains(r#"ptt_db_pool_connections{state="idle"}"#), "{text}");
    assert!(!text.contains(&f.fund.id), "no ids in labels");
}

async fn saturated(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.pool_size = 1;
        s.pool_checkout_timeout = Duration::from_millis(200);
    })
    .await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    // Another client holds the lock that the next grant needs: the grant waits with the only connection.
    let mut blocker = app.raw_connection();
    match backend {
        Backend::Sqlite => blocker.batch_execute("BEGIN IMMEDIATE").expect("lock"),
        Backend::Postgres => blocker.batch_execute("BEGIN; UPDATE budget_accounts SET tx_count = tx_count").expect("lock"),
    }
    let grant = {
        let (app_address, client, fund, worker, scheme) = (app.address.clone(), app.client.clone(), f.fund.clone(), f.worker.clone(), f.scheme.clone());
        tokio::spawn(async move {
            let body = json!({"worker_id": worker, "scheme_id": scheme, "amount": "10.00", "grant_year": crate::helpers::this_year()});
            client.post(format!("{app_address}/v1/funds/{}/grants", fund.id)).bearer_auth(&fund.admin).json(&body).send().await.expect("sent").status().as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let response = app.client.get(format!("{}/v1/funds/{}", app.address, f.fund.id)).bearer_auth(&f.fund.admin).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert!(started.elapsed() < Duration::from_secs(3), "answered promptly, not a hang");
    let body: serde_json::Value = response.json().await.expect("problem");
    assert_eq!(body["code"], "unavailable");
    blocker.batch_execute("ROLLBACK").expect("unlock");
    assert_eq!(grant.await.expect("grant task"), 201, "the waiting grant completes once the lock is gone");
    assert_eq!(app.available(&f).await, "1010.00");
}

mod saturated_pool {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::saturated(crate::helpers::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if crate::helpers::postgres_configured() {
            super::saturated(crate::helpers::Backend::Postgres).await
        }
    }
}

async fn verify_on_the_command_line_exits_non_zero_on_tampering(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let url = database_url(&app);
    let ok = Command::new(BIN).args(["verify", "--database-url", &url]).output().expect("verify");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(": ok"));
    app.raw_connection().batch_execute("UPDATE grant_lots SET available_cents = available_cents - 1").expect("tamper");
    let bad = Command::new(BIN).args(["verify", "--database-url", &url, "--fund", &f.fund.id]).output().expect("verify");
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(stdout.contains("first problem") && stdout.contains("lot"), "{stdout}");
    // Could not run at all: 2, not 1 (a script can tell "tampered" from "down").
    let unreachable = match app.backend {
        Backend::Sqlite => "/nonexistent-dir/ptt.db".to_string(),
        Backend::Postgres => "postgres://postgres@127.0.0.1:1/none".to_string(),
    };
    let down = Command::new(BIN).args(["verify", "--database-url", &unreachable]).output().expect("verify");
    assert_eq!(down.status.code(), Some(2), "{}", String::from_utf8_lossy(&down.stderr));
}

/// A running server purges idempotency keys past their retention by itself, and keeps the
/// others.
async fn keys_past_their_retention_are_purged_by_the_server(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.key_purge_interval = Duration::from_millis(100)).await;
    let fund = app.create_fund("purge").await;
    let mut conn = app.raw_connection();
    conn.batch_execute(&format!(
        "INSERT INTO idempotency_keys (fund_id, caller, key, request_hash, status_code, response_body, created_at) VALUES \
         ('{0}', 'c', 'old', 'h', 201, '{{}}', '2000-01-01 00:00:00'), ('{0}', 'c', 'new', 'h', 201, '{{}}', CURRENT_TIMESTAMP)",
        fund.id
    ))
    .expect("keys");
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = key_names(&mut conn);
        if left.len() < 2 || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(left, vec!["new".to_string()], "the old key is purged, the recent one kept");
}

fn key_names(conn: &mut ptt_ledger::db::DbConn) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
    }
    diesel::sql_query("SELECT key FROM idempotency_keys ORDER BY key").load::<Key>(conn).expect("keys").into_iter().map(|k| k.key).collect()
}

/// A bulk whose answer is large is replayed as its totals: a key never keeps megabytes.
async fn a_large_bulk_is_replayed_as_its_totals(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1.00").await;
    let grants: Vec<serde_json::Value> =
        (0..400).map(|_| json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "1.00", "grant_year": crate::helpers::this_year()})).collect();
    let send = || {
        app.client
            .post(format!("{}/v1/funds/{}/grants", app.address, f.fund.id))
            .bearer_auth(&f.fund.admin)
            .header("Idempotency-Key", "big-bulk")
            .json(&json!({ "grants": grants }))
            .send()
    };
    let first = send().await.expect("bulk");
    assert_eq!(first.status().as_u16(), 201);
    let first: serde_json::Value = first.json().await.expect("json");
    assert_eq!(first["grants"].as_array().map(Vec::len), Some(400));
    assert!(first.get("grants_not_kept").is_none(), "{}", first["grants_not_kept"]);
    let again = send().await.expect("replay");
    assert_eq!(again.status().as_u16(), 201);
    assert_eq!(again.headers().get("Idempotent-Replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let again: serde_json::Value = again.json().await.expect("json");
    assert_eq!((again["count"].clone(), again["granted_total"].clone()), (json!(400), json!("400.00")));
    assert_eq!((again["grants"].clone(), again["grants_not_kept"].clone()), (json!([]), json!(true)));
    assert_eq!(app.available(&f).await, "401.00", "the replay booked nothing");
}

mod keys_past_their_retention_are_purged_by_the_server {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::keys_past_their_retention_are_purged_by_the_server(super::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if crate::helpers::postgres_configured() {
            super::keys_past_their_retention_are_purged_by_the_server(super::Backend::Postgres).await
        }
    }
}

on_both_backends!(
    metrics_count_requests_decisions_and_the_pool,
    verify_on_the_command_line_exits_non_zero_on_tampering,
    a_large_bulk_is_replayed_as_its_totals
);

fn database_url(app: &TestApp) -> String {
    match &app.db.url {
        ptt_ledger::db::DbUrl::Sqlite(path) => path.display().to_string(),
        ptt_ledger::db::DbUrl::Postgres(url) => url.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_and_verifies() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "250.00", "B-1")).await.expect(201);
    let dir = std::env::temp_dir().join(format!("ptt-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let backup = dir.join("backup.db");
    let out = Command::new(BIN).args(["backup", "--to", backup.to_str().expect("utf8"), "--database-url", &database_url(&app)]).output().expect("backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&backup), 0o600);
    // Activity after the backup is not in it.
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "50.00", "B-2")).await.expect(201);
    let verify = Command::new(BIN).args(["verify", "--database-url", backup.to_str().expect("utf8")]).output().expect("verify");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let restored = spawn_app_with(Backend::Sqlite, {
        let backup = backup.clone();
        move |s| s.database = ptt_ledger::db::DbUrl::Sqlite(backup.clone())
    }).await;
    let budget = restored.budget(&f.fund, &f.worker).await;
    assert_eq!(budget["accounts"][0]["available"], "750.00");
    assert_eq!(app.available(&f).await, "700.00");
    let again = Command::new(BIN).args(["backup", "--to", backup.to_str().expect("utf8"), "--database-url", &database_url(&app)]).output().expect("backup");
    assert!(!again.status.success(), "an existing file is never overwritten");
    let _ = std::fs::remove_dir_all(&dir);
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
}

/// A server process in a directory of its own, on the embedded default database.
struct Served {
    child: std::process::Child,
    dir: std::path::PathBuf,
    address: String,
    /// Everything the server wrote to stderr, read as it comes so that a full pipe never
    /// blocks the server (it logs a line per request).
    logs: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    fn logs(&self) -> String {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

fn serve_in_fresh_dir(extra_env: &[(&str, &str)]) -> Served {
    let dir = std::env::temp_dir().join(format!("ptt-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("PTT_JWT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("serve");
    let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stderr = child.stderr.take().expect("stderr");
    let sink = logs.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if let Ok(mut logs) = sink.lock() {
                logs.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        }
    });
    let address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Served { child, dir, address, logs }
}

fn token(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("token").args(args).current_dir(dir).env_remove("DATABASE_URL").env_remove("PTT_JWT_SECRET").output().expect("token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_default_is_private_and_logs_keep_secrets() {
    let mut served = serve_in_fresh_dir(&[("RUST_LOG", "trace"), ("PTT_LOG_FORMAT", "json")]);
    for file in ["ptt-ledger.db", "ptt-ledger.db.secret", "ptt-ledger.db-wal", "ptt-ledger.db-shm"] {
        let path = served.dir.join(file);
        if path.exists() || !file.ends_with("-shm") {
            assert_eq!(mode(&path), 0o600, "{file} is readable by others");
        }
    }
    let secret = std::fs::read_to_string(served.dir.join("ptt-ledger.db.secret")).expect("secret");
    let admin = token(&served.dir, &["--role", "platform_admin"]);
    let client = reqwest::Client::new();
    let fund: serde_json::Value = client
        .post(format!("{}/v1/funds", served.address))
        .bearer_auth(&admin)
        .json(&json!({"code": "logtest", "name": "Fonds LOGMARKER-NAME"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let fund_id = fund["id"].as_str().expect("fund id").to_string();
    let back_office = token(&served.dir, &["--role", "fund_admin", "--fund", &fund_id]);
    let employer: serde_json::Value = client
        .post(format!("{}/v1/funds/{fund_id}/employers", served.address))
        .bearer_auth(&back_office)
        .json(&json!({"kvk_number": "12345678", "name": "Werkgever X", "sector": "metaal"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let worker = json!({"participant_number": "PERSONAL-LOGMARKER-7", "employer_id": employer["id"], "birth_year": 1977});
    let response = client.post(format!("{}/v1/funds/{fund_id}/workers", served.address)).bearer_auth(&back_office).json(&worker).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 201);
    client.post(format!("{}/v1/funds/{fund_id}/workers", served.address)).bearer_auth("not-a-valid-token-LOGMARKER").json(&worker).send().await.expect("sent");
    sigterm(&served.child);
    let status = served.child.wait().expect("exit");
    assert!(status.success(), "SIGTERM ends the server cleanly: {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let logs = served.logs();
    assert!(logs.contains("request_id"), "structured request logs were written");
    for secret_text in [admin.as_str(), back_office.as_str(), secret.trim(), "LOGMARKER"] {
        assert!(!logs.contains(secret_text), "the log contains {secret_text:?}");
    }
    let _ = std::fs::remove_dir_all(&served.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let mut served = serve_in_fresh_dir(&[("PTT_JWT_SECRET", TEST_SECRET)]);
    let admin = token(&served.dir, &["--role", "platform_admin", "--jwt-secret", TEST_SECRET]);
    let client = reqwest::Client::new();
    let fund: serde_json::Value =
        client.post(format!("{}/v1/funds", served.address)).bearer_auth(&admin).json(&json!({"code": "term", "name": "T"})).send().await.expect("sent").json().await.expect("json");
    let fund_id = fund["id"].as_str().expect("id").to_string();
    let bo = token(&served.dir, &["--role", "fund_admin", "--fund", &fund_id, "--jwt-secret", TEST_SECRET]);
    let scheme: serde_json::Value = client
        .post(format!("{}/v1/funds/{fund_id}/schemes", served.address))
        .bearer_auth(&bo)
        .json(&standard_scheme_body("ptt"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let employer: serde_json::Value = client
        .post(format!("{}/v1/funds/{fund_id}/employers", served.address))
        .bearer_auth(&bo)
        .json(&json!({"kvk_number": "12345678", "name": "W", "sector": "metaal"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let mut grants = Vec::new();
    for i in 0..300 {
        let worker: serde_json::Value = client
            .post(format!("{}/v1/funds/{fund_id}/workers", served.address))
            .bearer_auth(&bo)
            .json(&json!({"participant_number": format!("T-{i}"), "employer_id": employer["id"]}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        for year in 2020..2026 {
            grants.push(json!({"worker_id": worker["id"], "scheme_id": scheme["id"], "amount": "1.00", "grant_year": year}));
        }
    }
    // A bulk that takes a while is in flight when SIGTERM arrives.
    let bulk = {
        let (client, url, bo) = (client.clone(), format!("{}/v1/funds/{fund_id}/grants", served.address), bo.clone());
        tokio::spawn(async move { client.post(url).bearer_auth(bo).json(&json!({"grants": grants})).send().await.map(|r| r.status().as_u16()) })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    sigterm(&served.child);
    let status = tokio::task::spawn_blocking(move || {
        let status = served.child.wait().expect("exit");
        let _ = std::fs::remove_dir_all(&served.dir);
        status
    })
    .await
    .expect("wait");
    assert_eq!(bulk.await.expect("bulk task").expect("the in-flight request got its answer"), 201);
    assert!(status.success(), "{status:?}");
}

/// Decodes a token's claims (no signature check: only to read what the CLI put in).
fn token_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

/// `token` run where no server made a secret says which file it looked for and creates none;
/// with the server's database it says which secret it used, and gives each employer and
/// worker its own subject.
#[test]
fn the_token_command_never_invents_a_secret() {
    let dir = std::env::temp_dir().join(format!("ptt-token-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let run = |args: &[&str]| {
        Command::new(BIN).arg("token").args(args).current_dir(&dir).env_remove("DATABASE_URL").env_remove("PTT_JWT_SECRET").output().expect("token")
    };
    let refused = run(&["--role", "platform_admin"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("ptt-ledger.db.secret") && message.contains("serve"), "{message}");
    assert!(!dir.join("ptt-ledger.db.secret").exists(), "a secret was created outside serve");

    std::fs::write(dir.join("ptt-ledger.db.secret"), "0123456789abcdef0123456789abcdef0123456789abcdef").expect("secret");
    let fund = uuid::Uuid::new_v4().to_string();
    let (a, b, w) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let minted = run(&["--role", "employer", "--fund", &fund, "--employer", &a]);
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
    assert!(String::from_utf8_lossy(&minted.stderr).contains("ptt-ledger.db.secret"), "says which secret it used");
    let sub_a = token_claims(String::from_utf8_lossy(&minted.stdout).trim())["sub"].clone();
    let minted_b = run(&["--role", "employer", "--fund", &fund, "--employer", &b]);
    let sub_b = token_claims(String::from_utf8_lossy(&minted_b.stdout).trim())["sub"].clone();
    let minted_w = run(&["--role", "worker", "--fund", &fund, "--worker", &w]);
    let sub_w = token_claims(String::from_utf8_lossy(&minted_w.stdout).trim())["sub"].clone();
    assert!(sub_a != sub_b && sub_a != sub_w, "{sub_a} {sub_b} {sub_w}");
    let named = run(&["--role", "employer", "--fund", &fund, "--employer", &a, "--sub", "hr-system-7"]);
    assert_eq!(token_claims(String::from_utf8_lossy(&named.stdout).trim())["sub"], "hr-system-7");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fund with a back-office token, a scheme, an employer and one worker, set up over HTTP on a
/// server started with `serve_in_fresh_dir` and `PTT_JWT_SECRET`.
struct Seeded {
    client: reqwest::Client,
    base: String,
    fund_id: String,
    back_office: String,
    scheme: serde_json::Value,
    worker: serde_json::Value,
}

impl Seeded {
    async fn new(served: &Served, code: &str) -> Seeded {
        let tok = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--jwt-secret", TEST_SECRET]);
            token(&served.dir, &all)
        };
        let mut seeded = Seeded {
            client: reqwest::Client::new(),
            base: served.address.clone(),
            fund_id: String::new(),
            back_office: String::new(),
            scheme: serde_json::Value::Null,
            worker: serde_json::Value::Null,
        };
        let admin = tok(&["--role", "platform_admin"]);
        let fund: serde_json::Value = seeded.post_as("/v1/funds", &admin, &json!({"code": code, "name": code})).await.json().await.expect("json");
        seeded.fund_id = fund["id"].as_str().expect("id").to_string();
        seeded.back_office = tok(&["--role", "fund_admin", "--fund", &seeded.fund_id]);
        seeded.scheme = seeded.post("schemes", &standard_scheme_body("ptt")).await.json().await.expect("json");
        let employer: serde_json::Value =
            seeded.post("employers", &json!({"kvk_number": "12345678", "name": "W", "sector": "metaal"})).await.json().await.expect("json");
        seeded.worker =
            seeded.post("workers", &json!({"participant_number": "P-1", "employer_id": employer["id"]})).await.json().await.expect("json");
        seeded
    }

    async fn post_as(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.expect("sent")
    }

    /// POSTs to `/v1/funds/{fund}/{what}` as the back office.
    async fn post(&self, what: &str, body: &serde_json::Value) -> reqwest::Response {
        self.post_as(&format!("/v1/funds/{}/{what}", self.fund_id), &self.back_office, body).await
    }
}

/// A panic inside a request is logged once, as JSON, saying it was a panic and where, with the
/// request id; the request answers 500 and the server goes on. Logs off a terminal carry no
/// colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_logged_once_as_json() {
    let mut served = serve_in_fresh_dir(&[("PTT_LOG_FORMAT", "json"), ("PTT_JWT_SECRET", TEST_SECRET)]);
    let seeded = Seeded::new(&served, "panic").await;
    let (scheme, worker) = (&seeded.scheme, &seeded.worker);
    seeded.post("grants", &json!({"worker_id": worker["id"], "scheme_id": scheme["id"], "grant_year": crate::helpers::this_year()})).await;
    let claim = |course: &str, invoice: &str| {
        json!({
            "worker_id": worker["id"], "scheme_id": scheme["id"], "amount": "10.00", "category": "vakopleiding",
            "course": course, "provider": "Techniek BV", "invoice_reference": invoice,
            "training_start": crate::helpers::days_ago(40), "training_end": crate::helpers::days_ago(10)
        })
    };
    let panicked = seeded
        .client
        .post(format!("{}/v1/funds/{}/claims", served.address, seeded.fund_id))
        .bearer_auth(&seeded.back_office)
        .header("X-Request-Id", "panic-test-1")
        .json(&claim(ptt_ledger::test_hooks::PANIC_AFTER_WRITE, "PANIC-1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(panicked.status().as_u16(), 500);
    let after = seeded.post("claims", &claim("Lassen", "AFTER-1")).await;
    assert_eq!(after.status().as_u16(), 201, "the server goes on");
    sigterm(&served.child);
    assert!(served.child.wait().expect("exit").success());
    std::thread::sleep(Duration::from_millis(200));
    let logs = served.logs();
    assert!(!logs.contains('\u{1b}'), "colour codes in a log that is not a terminal");
    assert!(!logs.contains("Blocking thread pool"), "{logs}");
    let lines: Vec<serde_json::Value> =
        logs.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    let panics: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["panic"] == true).collect();
    assert_eq!(panics.len(), 1, "one panic line: {logs}");
    let line = panics[0].to_string();
    assert!(line.contains("test_hooks.rs:") && line.contains("panic-test-1"), "where, and which request: {line}");
    let _ = std::fs::remove_dir_all(&served.dir);
}

/// Another process holding SQLite's write lock (an operator's sqlite3, a backup): requests
/// answer 503 within the waits the README states (a turn at the write gate, then SQLite's busy
/// timeout), not one after another; once the lock is gone, writes go on. The server runs as its
/// own process, so that its write gate is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_sqlite_lock_answers_503_in_bounded_time() {
    let mut served = serve_in_fresh_dir(&[("PTT_JWT_SECRET", TEST_SECRET)]);
    let seeded = Seeded::new(&served, "lock").await;
    let grant = json!({"worker_id": seeded.worker["id"], "scheme_id": seeded.scheme["id"], "amount": "1.00", "grant_year": crate::helpers::this_year()});
    let mut holder = ptt_ledger::db::conn::Manager::new(
        ptt_ledger::db::DbUrl::Sqlite(served.dir.join("ptt-ledger.db")),
        ptt_ledger::db::SqliteSync::Full,
    )
    .connect_once()
    .expect("second connection");
    holder.batch_execute("BEGIN IMMEDIATE").expect("hold the write lock");
    let started = Instant::now();
    // Money movements queue at the write gate.
    let writes = (0..6).map(|_| seeded.post("grants", &grant));
    let statuses: Vec<u16> = futures_util::future::join_all(writes).await.iter().map(|r| r.status().as_u16()).collect();
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    let bound = Duration::from_millis(u64::from(ptt_ledger::db::conn::SQLITE_BUSY_TIMEOUT_MS)) + ptt_ledger::db::conn::SQLITE_GATE_WAIT;
    assert!(elapsed < bound, "six writers took {elapsed:?}");
    holder.batch_execute("ROLLBACK").expect("release");
    let after = seeded.post("grants", &grant).await;
    assert_eq!(after.status().as_u16(), 201);
    sigterm(&served.child);
    let _ = served.child.wait();
    let _ = std::fs::remove_dir_all(&served.dir);
}
