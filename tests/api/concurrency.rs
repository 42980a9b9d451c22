//! Money under concurrent requests: no account below zero, no double spend, retries with one
//! Idempotency-Key make one effect — also across two server processes on one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{claim_body, standard_scheme_body, Backend, TestApp, TEST_SECRET};
use crate::on_both_backends;

async fn racing_claims_never_overspend(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let requests = (0..40).map(|i| {
        let body = claim_body(&f, "100.00", &format!("RACE-{i}"));
        let app = &app;
        let fund = &f.fund;
        async move { app.claim(fund, &fund.admin, &body).await }
    });
    let replies = join_all(requests).await;
    let mut approved = 0;
    for reply in replies {
        let body = reply.expect(201).body;
        match body["status"].as_str() {
            Some("approved") => approved += 1,
            _ => assert_eq!(body["rejection_reason"], "insufficient_budget", "{body}"),
        }
    }
    assert_eq!(approved, 10);
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["spent"].as_str()), (Some("0.00"), Some("1000.00")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn racing_retries_with_one_key_make_one_claim(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let body = claim_body(&f, "100.00", "INV-1");
    let url = format!("{}/v1/funds/{}/claims", app.address, f.fund.id);
    let requests = (0..16).map(|_| {
        app.client.post(&url).bearer_auth(&f.fund.admin).header("Idempotency-Key", "retry-me-0001").json(&body).send()
    });
    let mut ids = Vec::new();
    for response in join_all(requests).await {
        let response = response.expect("sent");
        assert_eq!(response.status().as_u16(), 201);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["status"], "approved");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry got the first response");
    let list = app.get(&format!("/v1/funds/{}/claims", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.available(&f).await, "900.00");

    // A later retry replays too, and says so; the same key with another body is refused.
    let replay = app.client.post(&url).bearer_auth(&f.fund.admin).header("Idempotency-Key", "retry-me-0001").json(&body).send().await.expect("sent");
    assert_eq!(replay.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let other = claim_body(&f, "200.00", "INV-2");
    let reused = app.client.post(&url).bearer_auth(&f.fund.admin).header("Idempotency-Key", "retry-me-0001").json(&other).send().await.expect("sent");
    assert_eq!(reused.status().as_u16(), 422);
    assert_eq!(app.available(&f).await, "900.00");
}

async fn idempotent_actions_replay(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "INV-1")).await.expect(201).body;
    let url = format!("{}/v1/funds/{}/claims/{}/reverse", app.address, f.fund.id, claim["id"].as_str().expect("id"));
    for _ in 0..3 {
        let response = app.client.post(&url).bearer_auth(&f.fund.admin).header("Idempotency-Key", "rev-1").json(&json!({"reason": "refund"})).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 200);
    }
    assert_eq!(app.available(&f).await, "1000.00");
    let grant = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "10.00", "grant_year": crate::helpers::this_year()});
    let url = format!("{}/v1/funds/{}/grants", app.address, f.fund.id);
    for _ in 0..3 {
        let response = app.client.post(&url).bearer_auth(&f.fund.admin).header("Idempotency-Key", "grant-1").json(&grant).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 201);
    }
    assert_eq!(app.available(&f).await, "1010.00", "three retries granted once");
    let bad = app.client.post(&url).bearer_auth(&f.fund.admin).header("Idempotency-Key", "é").json(&grant).send().await.expect("sent");
    assert_eq!(bad.status().as_u16(), 400);
}

on_both_backends!(racing_claims_never_overspend, racing_retries_with_one_key_make_one_claim, idempotent_actions_replay);

/// A server process of the real binary, killed on drop.
struct ServerProcess {
    child: Child,
    address: String,
}

impl ServerProcess {
    fn start(database_url: &str) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ptt-ledger"))
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
            .env("DATABASE_URL", database_url)
            .env("PTT_JWT_SECRET", TEST_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server process");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut address = String::new();
        for line in lines.by_ref() {
            let line = line.expect("line");
            if let Some(rest) = line.split(" listening on ").nth(1) {
                address = rest.split_whitespace().next().expect("url").to_string();
                break;
            }
        }
        // Keep draining stdout so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        assert!(address.starts_with("http://"), "server did not report its address");
        ServerProcess { child, address }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_postgres_never_overspend() {
    if !crate::helpers::postgres_configured() {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return;
    }
    let app = crate::helpers::spawn_app(Backend::Postgres).await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let ptt_ledger::db::DbUrl::Postgres(url) = &app.db.url else { unreachable!("postgres app") };
    let servers = [ServerProcess::start(url), ServerProcess::start(url)];
    let requests = (0..40).map(|i| {
        let server = &servers[i % 2];
        let body = claim_body(&f, "100.00", &format!("TWO-{i}"));
        let request = app.client.post(format!("{}/v1/funds/{}/claims", server.address, f.fund.id)).bearer_auth(&f.fund.admin).json(&body);
        async move {
            let response = request.send().await.expect("sent");
            assert_eq!(response.status().as_u16(), 201);
            response.json::<serde_json::Value>().await.expect("json")
        }
    });
    let approved = join_all(requests).await.iter().filter(|c| c["status"] == "approved").count();
    assert_eq!(approved, 10);
    assert_eq!(app.available(&f).await, "0.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}
