//! What the database itself guarantees: append-only entries, fund_id everywhere, and verify
//! catching what was changed behind the service's back.

use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

use crate::helpers::{Backend, Fund, TestApp};
use crate::on_both_backends;

async fn funded_worker(app: &TestApp) -> (Fund, String) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;
    app.grant(&fund, &worker, &scheme, "500.00", 2026).await.expect(201);
    (fund, worker)
}

async fn the_database_refuses_to_change_ledger_entries(app: TestApp) {
    let (fund, _) = funded_worker(&app).await;
    let mut conn = app.raw_connection();
    for statement in [
        "UPDATE ledger_transactions SET actor = 'mallory'",
        "DELETE FROM ledger_transactions",
        "UPDATE ledger_postings SET amount_cents = amount_cents * 2",
        "DELETE FROM ledger_postings",
    ] {
        let result = conn.batch_execute(statement);
        let error = result.expect_err(&format!("{statement} was allowed"));
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    if app.backend == Backend::Postgres {
        assert!(conn.batch_execute("TRUNCATE ledger_postings").is_err(), "TRUNCATE was allowed");
    }
    assert_eq!(app.verify(&fund).await["ok"], true);
}

async fn verify_finds_a_tampered_balance(app: TestApp) {
    let (fund, _) = funded_worker(&app).await;
    let mut conn = app.raw_connection();
    conn.batch_execute("UPDATE budget_accounts SET available_cents = available_cents + 100000").expect("tamper");
    let report = app.verify(&fund).await;
    assert_eq!(report["ok"], false);
    let problem = report["problems"][0]["problem"].as_str().expect("problem text");
    assert!(problem.contains("available balance is 150000 cents but the entries sum to 50000"), "{problem}");
}

async fn verify_finds_a_broken_chain(app: TestApp) {
    let (fund, _) = funded_worker(&app).await;
    let mut conn = app.raw_connection();
    conn.batch_execute("UPDATE budget_accounts SET chain_head = 'ffff'").expect("tamper");
    let report = app.verify(&fund).await;
    assert_eq!(report["ok"], false);
    assert!(report["problems"][0]["problem"].as_str().is_some_and(|p| p.contains("chain head")), "{report}");
}

/// A stored id that is not the text this service writes (here an id in upper case: a valid
/// UUID, but not as written; written with the database's own checks switched off) fails verify
/// with that finding: a 200 with `ok: false`, not an error answer.
async fn verify_reports_a_stored_value_that_does_not_read_back(app: TestApp) {
    let (fund, _) = funded_worker(&app).await;
    let mut conn = app.raw_connection();
    let tamper = match app.backend {
        Backend::Sqlite => "PRAGMA foreign_keys = OFF; UPDATE budget_accounts SET worker_id = UPPER(worker_id)",
        Backend::Postgres => "SET session_replication_role = replica; UPDATE budget_accounts SET worker_id = UPPER(worker_id)",
    };
    conn.batch_execute(tamper).expect("tamper");
    let report = app.verify(&fund).await;
    assert_eq!(report["ok"], false, "{report}");
    let problem = report["problems"][0]["problem"].as_str().expect("problem text");
    assert!(problem.contains("does not read back") && problem.contains("not a valid"), "{problem}");
}

async fn the_digest_fixes_history(app: TestApp) {
    let (fund, worker) = funded_worker(&app).await;
    let first = app.get(&format!("/v1/funds/{}/ledger/digest", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(first["accounts"], 1);
    let at = first["at"].as_str().expect("at").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let scheme = app.get(&format!("/v1/funds/{}/schemes", fund.id), &fund.admin).await.body["items"][0]["id"]
        .as_str()
        .expect("scheme")
        .to_string();
    app.grant(&fund, &worker, &scheme, "10.00", 2026).await.expect(201);
    let now = app.get(&format!("/v1/funds/{}/ledger/digest", fund.id), &fund.admin).await.expect(200).body;
    assert_ne!(now["digest"], first["digest"], "a new entry changes the digest");
    let again = app.get(&format!("/v1/funds/{}/ledger/digest?at={at}", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(again["digest"], first["digest"], "the digest as of a moment does not change later");
    let before = app.get(&format!("/v1/funds/{}/ledger/digest?at=2000-01-01T00:00:00Z", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(before["accounts"], 0);
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

async fn every_table_carries_fund_id(app: TestApp) {
    let mut conn = app.raw_connection();
    let tables_sql = match app.backend {
        Backend::Postgres => "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_%'",
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%'",
    };
    let tables: Vec<TableName> = diesel::sql_query(tables_sql).load(&mut conn).expect("tables");
    assert!(tables.len() >= 9, "found only {} tables", tables.len());
    for table in tables {
        if table.name == "funds" {
            continue; // its id is the fund id
        }
        let columns_sql = match app.backend {
            Backend::Postgres => format!("SELECT column_name AS name FROM information_schema.columns WHERE table_name = '{}'", table.name),
            Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{}')", table.name),
        };
        let columns: Vec<TableName> = diesel::sql_query(columns_sql).load(&mut conn).expect("columns");
        assert!(columns.iter().any(|c| c.name == "fund_id"), "table {} has no fund_id", table.name);
    }
}

on_both_backends!(
    the_database_refuses_to_change_ledger_entries,
    verify_finds_a_tampered_balance,
    verify_finds_a_broken_chain,
    verify_reports_a_stored_value_that_does_not_read_back,
    the_digest_fixes_history,
    every_table_carries_fund_id
);
