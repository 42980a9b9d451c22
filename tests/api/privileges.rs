//! Least privilege on PostgreSQL: the owner migrates and grants (`migrate --grant-to ROLE`), the
//! service runs as ROLE (`serve --no-migrate`), and ROLE can do everything the API does but
//! cannot rewrite history: no UPDATE or DELETE of ledger rows, no TRUNCATE or DROP, no way to
//! disable or drop the append-only triggers, no DDL.

use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use ptt_ledger::db::conn::Schema;
use ptt_ledger::db::DbUrl;
use ptt_ledger::startup::{Application, Settings};
use serde_json::json;

use crate::helpers::{claim_body, fresh_database, postgres_configured, spawn_app_with, standard_scheme_body, Backend, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_ptt-ledger");

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The database URL with another user name.
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL with a scheme");
    let host = rest.rsplit_once('@').map(|(_, host)| host).unwrap_or(rest);
    format!("{scheme}://{user}@{host}")
}

/// Everything a fund does through the API, as the least-privilege role.
async fn every_kind_of_write(app: &TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let paid = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "LP-1")).await.expect(201).id();
    app.post(&format!("{claims}/{paid}/pay"), &f.fund.admin, &json!({"payment_reference": "SEPA-1"})).await.expect(200);
    app.post(&format!("{claims}/{paid}/reverse"), &f.fund.admin, &json!({"reason": "geannuleerd"})).await.expect(200);
    let voucher = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "50.00", "course": "C", "provider": "P",
                         "valid_until": crate::helpers::days_ahead(30)});
    let voucher = app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &voucher).await.expect(201).id();
    app.post(&format!("/v1/funds/{}/vouchers/{voucher}/cancel", f.fund.id), &f.fund.admin, &json!({})).await.expect(200);
    app.session(&f.fund, &f.worker, &crate::helpers::days_ago(1)).await.expect(201);
    // With an idempotency key (a row answered in the same transaction), and its replay.
    let keyed = app
        .client
        .post(format!("{}{claims}", app.address))
        .bearer_auth(&f.fund.admin)
        .header("Idempotency-Key", "lp-key")
        .json(&claim_body(&f, "10.00", "LP-2"));
    let first = keyed.try_clone().expect("clone").send().await.expect("send");
    assert_eq!(first.status().as_u16(), 201);
    let again = keyed.send().await.expect("send");
    assert_eq!(again.headers().get("Idempotent-Replayed").and_then(|v| v.to_str().ok()), Some("true"));
    app.expire(&f.fund, &app.today().to_string()).await;
    // The change feed: positions assigned, a subscription made.
    let events = app.get(&format!("/v1/funds/{}/events", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert!(events["items"].as_array().is_some_and(|items| items.len() >= 8), "{events}");
    app.post(&format!("/v1/funds/{}/webhooks", f.fund.id), &f.fund.admin, &json!({"url": "http://127.0.0.1:9/hook"})).await.expect(201);
    // Reference data that changes: an employer corrected, a worker moved and imported.
    let employers = format!("/v1/funds/{}/employers", f.fund.id);
    app.send(reqwest::Method::PATCH, &format!("{employers}/{}", f.employer), Some(&f.fund.admin), Some(&json!({"iban": "NL91ABNA0417164300"})))
        .await
        .expect(200);
    let other = app.create_employer(&f.fund, "87654321").await;
    let moved = json!({"employer_id": other, "from": app.today().to_string()});
    app.post(&format!("/v1/funds/{}/workers/{}/employment", f.fund.id, f.worker), &f.fund.admin, &moved).await.expect(200);
    let import = json!({"workers": [{"participant_number": "P-1", "kvk_number": "12345678", "birth_year": 1970},
                                    {"participant_number": "LP-NEW", "kvk_number": "87654321"}]});
    let imported = app.post(&format!("/v1/funds/{}/workers/import", f.fund.id), &f.fund.admin, &import).await.expect(200).body;
    assert_eq!(imported, json!({"created": 1, "updated": 1, "unchanged": 0}));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_least_privilege_role_serves_but_cannot_rewrite_history() {
    if !postgres_configured() {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return;
    }
    let db = fresh_database(Backend::Postgres);
    let DbUrl::Postgres(owner_url) = db.url.clone() else { unreachable!() };
    let role = format!("ptt_app_{}", uuid::Uuid::new_v4().simple());
    let mut owner = diesel::PgConnection::establish(&owner_url).expect("owner connection");
    owner.batch_execute(&format!("CREATE ROLE {role} LOGIN")).expect("create role");

    let migrate = Command::new(BIN).args(["migrate", "--database-url", &owner_url, "--grant-to", &role]).output().expect("migrate");
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let role_url = as_user(&owner_url, &role);

    // The schema is current, so commands that migrate first have nothing to do and run as the
    // role too (no DDL is attempted): the year-end expiry and verify of the systemd units.
    for args in [vec!["verify"], vec!["expire", "--as-of", "2026-01-01"]] {
        let out = Command::new(BIN).args(&args).args(["--database-url", &role_url]).env("PTT_JWT_SECRET", crate::helpers::TEST_SECRET).output().expect("run");
        assert!(out.status.success(), "{args:?} as the serving role: {}", String::from_utf8_lossy(&out.stderr));
    }
    let auth = ptt_ledger::http::auth::AuthConfig::from_secret(crate::helpers::TEST_SECRET.as_bytes(), None, None).expect("auth");
    drop(Application::build(Settings::new(DbUrl::Postgres(role_url.clone()), "127.0.0.1:0", auth)).expect("serve without --no-migrate on a current schema"));

    let serving = role_url.clone();
    let app = spawn_app_with(Backend::Postgres, move |s| {
        s.database = DbUrl::Postgres(serving.clone());
        s.schema = Schema::MustBeCurrent;
        s.webhook_allow_private = true;
    })
    .await;
    every_kind_of_write(&app).await;

    let mut app_conn = diesel::PgConnection::establish(&role_url).expect("role connection");
    for statement in [
        "UPDATE ledger_postings SET amount_cents = amount_cents * 2",
        "UPDATE ledger_transactions SET actor = 'mallory'",
        "DELETE FROM ledger_transactions",
        "DELETE FROM ledger_postings",
        "DELETE FROM claim_payments",
        "UPDATE claim_payments SET payment_reference = 'x'",
        "DELETE FROM claims",
        "DELETE FROM budget_accounts",
        "UPDATE claims SET amount_cents = 1",
        "UPDATE claims SET worker_id = worker_id",
        "UPDATE vouchers SET amount_cents = 1",
        "UPDATE budget_accounts SET worker_id = worker_id",
        "UPDATE grant_lots SET amount_cents = 1",
        "UPDATE events SET data = '{}'",
        "DELETE FROM events",
        "UPDATE webhook_subscriptions SET url = 'http://evil.example/'",
        "DELETE FROM webhook_deliveries",
        "TRUNCATE ledger_postings",
        "TRUNCATE claims",
        "DROP TABLE ledger_postings",
        "ALTER TABLE ledger_postings DISABLE TRIGGER ALL",
        "ALTER TABLE ledger_transactions ADD COLUMN note TEXT",
        "SET session_replication_role = replica",
        "CREATE TABLE shadow (id TEXT)",
    ] {
        let error = app_conn.batch_execute(statement).expect_err(&format!("the serving role may run {statement}"));
        let text = error.to_string();
        assert!(text.contains("permission denied") || text.contains("must be owner"), "{statement}: {text}");
    }
    let triggers: Vec<String> = {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT tgname::text AS name FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
            .load::<Name>(&mut owner)
            .expect("triggers")
            .into_iter()
            .map(|n| n.name)
            .collect()
    };
    assert!(triggers.len() >= 4, "the append-only triggers are in place: {triggers:?}");
    for trigger in &triggers {
        let table: String = {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("SELECT tgrelid::regclass::text AS name FROM pg_trigger WHERE tgname = '{trigger}' LIMIT 1"))
                .get_result::<Name>(&mut owner)
                .expect("trigger table")
                .name
        };
        let drop = app_conn.batch_execute(&format!("DROP TRIGGER {trigger} ON {table}"));
        assert!(drop.is_err(), "the serving role dropped trigger {trigger}");
    }

    drop(app_conn);
    drop(app);
    drop(db);
    let _ = owner.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
}

#[test]
fn grant_to_is_refused_on_sqlite_and_for_odd_role_names() {
    let dir = std::env::temp_dir().join(format!("ptt-grant-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("x.db");
    let out = Command::new(BIN).args(["migrate", "--database-url", &file.display().to_string(), "--grant-to", "ptt_app"]).output().expect("migrate");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PostgreSQL"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_migrate_refuses_a_schema_that_is_behind() {
    let dir = std::env::temp_dir().join(format!("ptt-behind-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("fresh.db");
    let auth = ptt_ledger::http::auth::AuthConfig::from_secret(crate::helpers::TEST_SECRET.as_bytes(), None, None).expect("auth");
    let mut settings = Settings::new(DbUrl::Sqlite(file), "127.0.0.1:0", auth);
    settings.schema = Schema::MustBeCurrent;
    let message = Application::build(settings).err().expect("a fresh database is behind").to_string();
    assert!(message.contains("migration(s) behind") && message.contains("ptt-ledger migrate"), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}
