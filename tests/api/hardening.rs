//! What a ledger must never do: acknowledge a write it then loses. A panic or an error inside
//! a write transaction, a database that goes away and comes back, and the request-level rules
//! (tokens, idempotency scope, dates, duplicate keys, limits, headers) that an attacker or a
//! careless client meets first.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use ptt_ledger::http::auth::Role;
use ptt_ledger::test_hooks::{ERROR_AFTER_WRITE, PANIC_AFTER_WRITE};
use serde_json::{json, Value};

use crate::helpers::{cents, claim_body, now, spawn_app_with, standard_scheme_body, Backend, Funded, TestApp};
use crate::on_both_backends;

/// Posts a claim and returns the status and body without the harness's "never 500" check:
/// the injected faults answer 500 by design.
async fn post_claim_raw(app: &TestApp, f: &Funded, body: &Value) -> (u16, Value, String) {
    let response = app
        .client
        .post(format!("{}/v1/funds/{}/claims", app.address, f.fund.id))
        .bearer_auth(&f.fund.admin)
        .json(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, response.json().await.unwrap_or(Value::Null), content_type)
}

async fn claim_count(app: &TestApp, f: &Funded) -> usize {
    let mut count = 0;
    let mut after: Option<String> = None;
    loop {
        let cursor = after.as_ref().map(|c| format!("&after={c}")).unwrap_or_default();
        let page = app.get(&format!("/v1/funds/{}/claims?limit=500{cursor}", f.fund.id), &f.fund.admin).await.expect(200).body;
        count += page["items"].as_array().map(Vec::len).unwrap_or(0);
        match page["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return count,
        }
    }
}

/// A fault inside a write transaction (a panic, or an error the code returns) answers 500
/// and stores nothing; every connection the pool hands out afterwards is clean, so every
/// write acknowledged after it is committed and survives a restart.
async fn a_fault_inside_a_write_transaction_loses_nothing(mut app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "2000.00").await;
    let mut acknowledged = Vec::new();
    // More faults than the pool has connections, between writes, so every pooled connection
    // meets one and is then reused.
    for round in 0..6 {
        for fault in [PANIC_AFTER_WRITE, ERROR_AFTER_WRITE] {
            let mut body = claim_body(&f, "10.00", &format!("FAULT-{round}-{fault}"));
            body["course"] = json!(fault);
            let (status, problem, content_type) = post_claim_raw(&app, &f, &body).await;
            assert_eq!(status, 500, "{problem}");
            assert_eq!(content_type, "application/problem+json");
            assert_eq!(problem["code"], "internal");
            assert!(!problem["detail"].as_str().unwrap_or_default().contains("injected"), "internals leaked: {problem}");
        }
        for i in 0..3 {
            let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "10.00", &format!("OK-{round}-{i}"))).await.expect(201).body;
            assert_eq!(claim["status"], "approved");
            acknowledged.push(claim["id"].as_str().expect("id").to_string());
        }
        // Reads and verify work on whatever connection comes next.
        assert_eq!(app.verify(&f.fund).await["ok"], true);
    }
    assert_eq!(claim_count(&app, &f).await, acknowledged.len(), "no faulted claim was stored");
    app.restart().await;
    for id in &acknowledged {
        let claim = app.get(&format!("/v1/funds/{}/claims/{id}", f.fund.id), &f.fund.admin).await.expect(200).body;
        assert_eq!(claim["status"], "approved");
    }
    assert_eq!(claim_count(&app, &f).await, acknowledged.len());
    // The change feed rolled back with the faulted claims: one event per acknowledged claim.
    let feed = app.get(&format!("/v1/funds/{}/events?types=claim.approved&limit=1000", f.fund.id), &f.fund.admin).await.expect(200).body;
    let events: Vec<&str> = feed["items"].as_array().expect("items").iter().filter_map(|e| e["data"]["id"].as_str()).collect();
    assert_eq!(events, acknowledged.iter().map(String::as_str).collect::<Vec<_>>(), "events of exactly the acknowledged claims, in order");
    let spent = 1000 * acknowledged.len() as i64;
    assert_eq!(cents(&app.account(&f).await["available"]), 200_000 - spent);
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// Posts a body and returns the status and body, without the harness's "never 500" check.
async fn post_raw_status(app: &TestApp, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(format!("{}{path}", app.address)).bearer_auth(token).json(body).send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A fault halfway through a batch confirm (after every claim was paid and the event written)
/// or through a worker import (after every worker was written) answers 500 and leaves nothing:
/// the batch is still open, its claims unpaid, no worker created; the same request then succeeds.
async fn payments_and_imports_roll_back_a_fault_halfway(app: TestApp) {
    let (f, paid, _) = crate::payments::payable(&app).await;
    let base = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let id = app.post(&base, &f.fund.admin, &json!({"execution_date": app.today().to_string()})).await.expect(201).id();
    for fault in [PANIC_AFTER_WRITE, ERROR_AFTER_WRITE] {
        let (status, problem) = post_raw_status(&app, &format!("{base}/{id}/confirm"), &f.fund.admin, &json!({"bank_reference": fault})).await;
        assert_eq!((status, problem["code"].as_str()), (500, Some("internal")), "{problem}");
        assert_eq!(app.get(&format!("{base}/{id}"), &f.fund.admin).await.expect(200).body["status"], "open");
        for claim in &paid {
            assert_eq!(app.get(&format!("/v1/funds/{}/claims/{claim}", f.fund.id), &f.fund.admin).await.expect(200).body["status"], "approved");
        }
    }
    let confirmed = app.post(&format!("{base}/{id}/confirm"), &f.fund.admin, &json!({"bank_reference": "B-1"})).await.expect(200).body;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(app.verify(&f.fund).await["ok"], true);

    let import = format!("/v1/funds/{}/workers/import", f.fund.id);
    let before = app.get(&format!("/v1/funds/{}/workers?limit=100", f.fund.id), &f.fund.admin).await.expect(200).body;
    for fault in [PANIC_AFTER_WRITE, ERROR_AFTER_WRITE] {
        let body = json!({"workers": [{"participant_number": fault, "kvk_number": "12345678"}, {"participant_number": "N-2", "kvk_number": "12345678"}]});
        let (status, problem) = post_raw_status(&app, &import, &f.fund.admin, &body).await;
        assert_eq!((status, problem["code"].as_str()), (500, Some("internal")), "{problem}");
        let after = app.get(&format!("/v1/funds/{}/workers?limit=100", f.fund.id), &f.fund.admin).await.expect(200).body;
        assert_eq!(after["items"], before["items"], "no worker of the faulted import was stored");
    }
    let body = json!({"workers": [{"participant_number": "N-1", "kvk_number": "12345678"}, {"participant_number": "N-2", "kvk_number": "12345678"}]});
    assert_eq!(app.post(&import, &f.fund.admin, &body).await.expect(200).body["created"], 2);
}

/// Many claims, each hit by a pay and a reverse at once: each is either paid or reversed,
/// never both; a spend is reversed at most once; statuses match the money.
async fn racing_pay_and_reverse_undo_a_spend_at_most_once(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "2000.00").await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "50.00", &format!("RACE-{i}"))).await.expect(201).body;
        assert_eq!(claim["status"], "approved");
        ids.push(claim["id"].as_str().expect("id").to_string());
    }
    let base = format!("/v1/funds/{}/claims", f.fund.id);
    let races = ids.iter().map(|id| {
        let (app, base, admin) = (&app, &base, &f.fund.admin);
        async move {
            let (pay_url, reverse_url) = (format!("{base}/{id}/pay"), format!("{base}/{id}/reverse"));
            let (pay_body, reverse_body) = (json!({"payment_reference": format!("BANK-{id}")}), json!({"reason": "cursus geannuleerd"}));
            let pay = app.post(&pay_url, admin, &pay_body);
            let reverse = app.post(&reverse_url, admin, &reverse_body);
            let (pay, reverse) = futures_util::future::join(pay, reverse).await;
            (pay.status.as_u16(), reverse.status.as_u16())
        }
    });
    let outcomes = join_all(races).await;
    let mut reversed = 0;
    for (id, (pay, reverse)) in ids.iter().zip(outcomes) {
        let claim = app.get(&format!("{base}/{id}"), &f.fund.admin).await.expect(200).body;
        match claim["status"].as_str() {
            // Paid first, then reversed (a refund after payment): both answered 200.
            Some("reversed") => {
                assert_eq!(reverse, 200, "{claim}");
                assert!(pay == 200 || pay == 409, "pay answered {pay}");
                reversed += 1;
            }
            // Paid, and the reversal came too late? Impossible: a paid claim can be reversed.
            Some("paid") => panic!("a reversal of {id} answered {reverse} and did not happen: {claim}"),
            other => panic!("claim {id} is {other:?}"),
        }
        app.post(&format!("{base}/{id}/reverse"), &f.fund.admin, &json!({"reason": "again"})).await.expect_problem(409, "already_reversed");
        app.post(&format!("{base}/{id}/pay"), &f.fund.admin, &json!({"payment_reference": "LATE"})).await.expect(409);
    }
    assert_eq!(reversed, ids.len());
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["spent"].as_str()), (Some("2000.00"), Some("0.00")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// Pay and reverse racing on claims that are first paid: the one reversal per claim is
/// counted once in the money, whichever order the two arrive in.
async fn reverse_racing_reverse_happens_once(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "2000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "500.00", "TWICE")).await.expect(201).body;
    let url = format!("/v1/funds/{}/claims/{}/reverse", f.fund.id, claim["id"].as_str().expect("id"));
    let bodies: Vec<Value> = (0..8).map(|i| json!({"reason": format!("poging {i}")})).collect();
    let reverses = bodies.iter().map(|body| app.post(&url, &f.fund.admin, body));
    let statuses: Vec<u16> = join_all(reverses).await.into_iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    assert_eq!(app.available(&f).await, "2000.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn issue_voucher(app: &TestApp, f: &Funded, amount: &str) -> Value {
    let body = json!({
        "worker_id": f.worker, "scheme_id": f.scheme, "amount": amount,
        "course": "Lassen", "provider": "Techniek BV", "valid_until": crate::helpers::days_ahead(60)
    });
    app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &body).await.expect(201).body
}

/// A voucher carries only its own reservation past the guidance rule: a claim that spends
/// beyond it waits for guidance like any other.
async fn a_small_voucher_does_not_carry_a_large_claim_past_guidance(app: TestApp) {
    let mut scheme = standard_scheme_body("ptt");
    scheme["guidance_required_above"] = json!("500.00");
    let f = app.funded_worker(scheme, "2000.00").await;
    let voucher = issue_voucher(&app, &f, "10.00").await;
    let mut body = claim_body(&f, "1500.00", "BIG-WITH-VOUCHER");
    body["voucher_code"] = voucher["code"].clone();
    let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(claim["status"], "awaiting_guidance", "{claim}");
    assert_eq!(app.available(&f).await, "1990.00", "nothing spent while it waits");
    // A claim the voucher covers needs no session: the voucher was weighed when issued.
    let second = issue_voucher(&app, &f, "10.00").await;
    let mut covered = claim_body(&f, "10.00", "COVERED");
    covered["voucher_code"] = second["code"].clone();
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &covered).await.expect(201).body["status"], "approved");
    // Guidance recorded: the waiting claim is approved, from the voucher first.
    app.session(&f.fund, &f.worker, &crate::helpers::days_ago(1)).await.expect(201);
    let claim = app.get(&format!("/v1/funds/{}/claims/{}", f.fund.id, claim["id"].as_str().expect("id")), &f.fund.admin).await.expect(200).body;
    assert_eq!(claim["status"], "approved", "{claim}");
    assert_eq!(claim["approved_amount"], "1500.00");
    assert_eq!(app.available(&f).await, "490.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// The cap counts only money that can still be spent: a lot past its date that no expiry run
/// has lapsed yet does not block this year's grant, and the budget does not show it as
/// available.
async fn grants_around_an_unlapsed_lot_give_the_same_budget(app: TestApp) {
    let mut scheme = standard_scheme_body("ptt");
    scheme["validity_years"] = json!(1);
    scheme["max_balance"] = json!("1000.00");
    let fund = app.create_fund("oom").await;
    let scheme = app.create_scheme(&fund, scheme).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;
    let last_year = crate::helpers::this_year() - 1;
    app.grant(&fund, &worker, &scheme, "1000.00", last_year).await.expect(201);
    let budget = app.budget(&fund, &worker).await;
    assert_eq!(budget["accounts"][0]["available"], "0.00", "last year's lot cannot be spent: {budget}");
    assert_eq!(budget["accounts"][0]["lapse_pending"], "1000.00");
    let grant = app.grant(&fund, &worker, &scheme, "750.00", last_year + 1).await.expect(201).body;
    assert_eq!(grant["amount"], "750.00", "{grant}");
    assert_eq!(app.budget(&fund, &worker).await["accounts"][0]["available"], "750.00");
    // After the expiry run the same grant would give the same budget.
    app.expire(&fund, &app.today().to_string()).await;
    let account = app.budget(&fund, &worker).await["accounts"][0].clone();
    assert_eq!((account["available"].as_str(), account["lapse_pending"].as_str(), account["expired"].as_str()), (Some("750.00"), Some("0.00"), Some("1000.00")));
    let top_up = app.grant(&fund, &worker, &scheme, "750.00", last_year + 1).await.expect(201).body;
    assert_eq!(top_up["amount"], "250.00", "capped at 1000.00 of usable money: {top_up}");
    let f = Funded { fund, scheme, employer, worker };
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// `verify` reads claims, vouchers and lots against the ledger: a status changed behind its
/// back is found, and lot terms cannot be changed at all.
async fn verify_catches_a_claim_that_disagrees_with_its_transactions(app: TestApp) {
    use diesel::connection::SimpleConnection;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "TAMPER")).await.expect(201).body;
    assert_eq!(app.verify(&f.fund).await["ok"], true);
    let mut conn = app.raw_connection();
    let id = claim["id"].as_str().expect("id");
    conn.batch_execute(&format!("UPDATE claims SET status = 'awaiting_guidance' WHERE id = '{id}'")).expect("tamper");
    let report = app.verify(&f.fund).await;
    assert_eq!(report["ok"], false, "{report}");
    let problems = report["problems"].to_string();
    assert!(problems.contains(id) && problems.contains("spend"), "{report}");
    conn.batch_execute(&format!("UPDATE claims SET status = 'approved', approved_cents = 5000 WHERE id = '{id}'")).expect("tamper");
    let report = app.verify(&f.fund).await;
    assert!(report["problems"].to_string().contains("approved 5000 cents"), "{report}");
    // Lot terms are fixed by the database itself.
    let moved = conn.batch_execute("UPDATE grant_lots SET expires_on = '2199-12-31'");
    assert!(moved.is_err(), "a lot's expiry date was changed");
    let grown = conn.batch_execute("UPDATE grant_lots SET amount_cents = amount_cents + 1");
    assert!(grown.is_err(), "a lot's amount was changed");
    assert!(conn.batch_execute("DELETE FROM grant_lots").is_err(), "a lot was deleted");
}

/// The database refuses a second reversal of one transaction, whatever the code does.
async fn the_database_refuses_a_second_reversal(app: TestApp) {
    use diesel::connection::SimpleConnection;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "ONCE")).await.expect(201).body;
    let url = format!("/v1/funds/{}/claims/{}/reverse", f.fund.id, claim["id"].as_str().expect("id"));
    let reversed = app.post(&url, &f.fund.admin, &json!({"reason": "refund"})).await.expect(200).body;
    let reversal = reversed["reversal_transaction_id"].as_str().expect("reversal id");
    let spend = reversed["transaction_id"].as_str().expect("spend id");
    let mut conn = app.raw_connection();
    let copy = format!(
        "INSERT INTO ledger_transactions (id, fund_id, account_id, seq, kind, effective_date, recorded_at, actor, reverses, reference, prev_hash, hash) \
         SELECT '{}', fund_id, account_id, seq + 100, kind, effective_date, recorded_at, actor, reverses, reference, prev_hash, hash \
         FROM ledger_transactions WHERE id = '{reversal}'",
        uuid::Uuid::now_v7()
    );
    let refused = conn.batch_execute(&copy);
    assert!(refused.is_err(), "a second reversal of {spend} was stored");
}

/// The database goes away under load and comes back: while it is away clients get 503 (never
/// 500), the service serves again within seconds without a restart, and every acknowledged
/// claim is there.
async fn a_database_that_goes_away_and_comes_back(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.pool_checkout_timeout = Duration::from_millis(500)).await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "2000.00").await;
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    let ptt_ledger::db::DbUrl::Postgres(db_url) = &app.db.url else { return };
    let name = db_url.rsplit('/').next().expect("database name").to_string();
    let outage = |allow: bool| {
        let (admin_url, name) = (admin_url.clone(), name.clone());
        move || {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;
            let mut admin = diesel::PgConnection::establish(&admin_url).expect("admin connection");
            let terminate = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();");
            admin.batch_execute(&format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allow}; {terminate}")).expect("outage");
            if !allow {
                // A connection that was starting up when the database closed is not in
                // pg_stat_activity yet: end it too, once it is, so that none survives the outage.
                std::thread::sleep(Duration::from_millis(200));
                admin.batch_execute(&terminate).expect("outage");
            }
        }
    };
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let statuses = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u16>::new()));
    let load = {
        let (client, url, token) = (app.client.clone(), format!("{}/v1/funds/{}/claims", app.address, f.fund.id), f.fund.admin.clone());
        let (acknowledged, statuses) = (acknowledged.clone(), statuses.clone());
        let f_worker = f.worker.clone();
        let f_scheme = f.scheme.clone();
        tokio::spawn(async move {
            for i in 0..120 {
                let body = json!({
                    "worker_id": f_worker, "scheme_id": f_scheme, "amount": "1.00", "category": "vakopleiding",
                    "course": "Lassen", "provider": "Techniek BV", "invoice_reference": format!("LOAD-{i}"),
                    "training_start": crate::helpers::days_ago(40), "training_end": crate::helpers::days_ago(10)
                });
                // A client that retries with one key until it gets an answer it can act on.
                let key = format!("load-{i}");
                let response = client.post(&url).bearer_auth(&token).header("Idempotency-Key", &key).json(&body).send().await;
                let Ok(response) = response else { continue };
                let status = response.status().as_u16();
                statuses.lock().expect("lock").push(status);
                if status == 201 {
                    let claim: Value = response.json().await.expect("json");
                    acknowledged.lock().expect("lock").push(claim["id"].as_str().expect("id").to_string());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Every backend connection killed while the database stays up (a failover, a restart).
    tokio::task::spawn_blocking(outage(true)).await.expect("terminate");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Then the database refuses connections for a while: an outage.
    tokio::task::spawn_blocking(outage(false)).await.expect("outage");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = app.client.get(format!("{}/v1/funds/{}/claims", app.address, f.fund.id)).bearer_auth(&f.fund.admin).send().await.expect("sent");
    assert_eq!(during.status().as_u16(), 503, "a client is told to retry while the database is away");
    assert!(during.headers().contains_key("retry-after"));
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.expect("sent");
    assert_eq!(ready.status().as_u16(), 503);
    let text = ready.text().await.unwrap_or_default();
    assert!(!text.contains("ALLOW_CONNECTIONS") && !text.contains(&name) && !text.contains("FATAL"), "readyz echoed database text: {text}");
    tokio::task::spawn_blocking(outage(true)).await.expect("back");
    let back = Instant::now();
    loop {
        let reply = app.client.get(format!("{}/readyz", app.address)).send().await.expect("sent");
        if reply.status().as_u16() == 200 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "the service did not recover on its own within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    load.await.expect("load");
    let statuses = statuses.lock().expect("lock").clone();
    assert!(statuses.iter().all(|s| *s == 201 || *s == 503), "only 201 or 503: {statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 503).count() > 0, "the outage was seen: {statuses:?}");
    // A write after the outage is acknowledged, and every acknowledged claim is there.
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "1.00", "AFTER")).await.expect(201);
    let acknowledged = acknowledged.lock().expect("lock").clone();
    for id in &acknowledged {
        app.get(&format!("/v1/funds/{}/claims/{id}", f.fund.id), &f.fund.admin).await.expect(200);
    }
    let f2 = Funded { fund: f.fund.clone(), scheme: f.scheme.clone(), employer: f.employer.clone(), worker: f.worker.clone() };
    assert_eq!(claim_count(&app, &f2).await, acknowledged.len() + 1, "nothing unacknowledged was committed twice or lost");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// Every connection dropped by the server while the service is idle (a restart, a failover):
/// the next requests get fresh connections, not 503s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_dropped_while_idle_are_replaced_unseen() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = crate::helpers::spawn_app(Backend::Postgres).await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let ptt_ledger::db::DbUrl::Postgres(db_url) = &app.db.url else { return };
    let name = db_url.rsplit('/').next().expect("database name").to_string();
    tokio::time::sleep(ptt_ledger::db::conn::IDLE_CHECK_AFTER + Duration::from_millis(200)).await;
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let mut admin = diesel::PgConnection::establish(&admin_url).expect("admin connection");
        admin
            .batch_execute(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            .expect("terminate");
    })
    .await
    .expect("terminate");
    // The service stays idle a while after the drop (a background task that took a connection
    // just before it meets the dead connection itself and discards it): every connection the
    // next requests get has been idle long enough to be checked.
    tokio::time::sleep(ptt_ledger::db::conn::IDLE_CHECK_AFTER + Duration::from_millis(200)).await;
    for i in 0..10 {
        app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "1.00", &format!("AFTER-RESET-{i}"))).await.expect(201);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_and_recovery() {
    if crate::helpers::postgres_configured() {
        a_database_that_goes_away_and_comes_back(Backend::Postgres).await;
    }
}

/// PostgreSQL: a claim whose statement waits past the statement timeout (another session holds
/// the worker's account lock) is cancelled mid-transaction: 503, nothing stored, the connection
/// not reused; the retry with the same key, once the lock is gone, books the claim once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timeout_mid_claim_stores_nothing() {
    if !crate::helpers::postgres_configured() {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return;
    }
    use diesel::connection::SimpleConnection;
    let app = spawn_app_with(Backend::Postgres, |s| s.statement_timeout_ms = 300).await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let mut blocker = app.raw_connection();
    blocker.batch_execute("BEGIN; UPDATE budget_accounts SET tx_count = tx_count").expect("lock the account");
    let send = || {
        app.client
            .post(format!("{}/v1/funds/{}/claims", app.address, f.fund.id))
            .bearer_auth(&f.fund.admin)
            .header("Idempotency-Key", "timeout-1")
            .json(&claim_body(&f, "100.00", "TO-1"))
            .send()
    };
    let started = Instant::now();
    let cancelled = send().await.expect("sent");
    assert_eq!(cancelled.status().as_u16(), 503, "a cancelled statement is a retryable outage");
    assert!(started.elapsed() < Duration::from_secs(5), "cancelled at the timeout, not after a hang");
    assert_eq!(claim_count(&app, &f).await, 0, "nothing of the cancelled claim is stored");
    blocker.batch_execute("ROLLBACK").expect("unlock");
    let booked = send().await.expect("sent");
    assert_eq!(booked.status().as_u16(), 201);
    let again = send().await.expect("sent");
    assert_eq!(again.headers().get("Idempotent-Replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(claim_count(&app, &f).await, 1);
    assert_eq!(app.available(&f).await, "900.00", "booked once");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

/// Tokens that are not valid yet, or issued in the future, are refused.
async fn tokens_from_the_future_are_refused(app: TestApp) {
    let claims = |extra: Value| {
        let mut c = json!({"sub": "ops", "role": "platform_admin", "exp": now() + 3600});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::TEST_SECRET.as_bytes()),
        )
        .expect("sign")
    };
    app.get("/v1/funds", &claims(json!({"nbf": now() - 10, "iat": now() - 10}))).await.expect(200);
    let early = app.get("/v1/funds", &claims(json!({"nbf": now() + 600}))).await.expect_problem(401, "unauthenticated");
    assert!(early.body["detail"].as_str().unwrap_or_default().contains("nbf"), "{}", early.body);
    app.get("/v1/funds", &claims(json!({"iat": now() + 600}))).await.expect_problem(401, "unauthenticated");
    // Within the leeway, a clock a few seconds ahead is fine.
    app.get("/v1/funds", &claims(json!({"nbf": now() + 5, "iat": now() + 5}))).await.expect(200);
}

/// An Idempotency-Key belongs to one caller: two employers whose tokens share a `sub` never
/// replay each other's claims.
async fn idempotency_keys_belong_to_one_caller(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let other_employer = app.create_employer(&f.fund, "87654321").await;
    let other_worker = app.create_worker(&f.fund, &other_employer, "P-2").await;
    app.grant(&f.fund, &other_worker, &f.scheme, "1000.00", crate::helpers::this_year()).await.expect(201);
    let first = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    let second = app.token(Role::Employer, Some(&f.fund.id), Some(&other_employer), None);
    let url = format!("{}/v1/funds/{}/claims", app.address, f.fund.id);
    let mut body = claim_body(&f, "100.00", "SAME-KEY");
    let send = |token: &str, body: &Value| app.client.post(&url).bearer_auth(token).header("Idempotency-Key", "shared-key-1").json(body).send();
    let a: Value = send(&first, &body).await.expect("sent").json().await.expect("json");
    body["worker_id"] = json!(other_worker);
    let response = send(&second, &body).await.expect("sent");
    assert_eq!(response.status().as_u16(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none(), "another employer's claim was replayed");
    let b: Value = response.json().await.expect("json");
    assert_ne!(a["id"], b["id"]);
    assert_eq!(b["worker_id"], other_worker);
    // The back office with the same key is a third caller.
    let mut third = claim_body(&f, "5.00", "BACK-OFFICE");
    third["worker_id"] = json!(f.worker);
    let c: Value = send(&f.fund.admin, &third).await.expect("sent").json().await.expect("json");
    assert_eq!(c["invoice_reference"], "BACK-OFFICE");
}

/// Dates are exactly YYYY-MM-DD from 1900 to 2199, in bodies and in query strings.
async fn dates_outside_the_sane_range_are_bad_input(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    for (field, value) in [
        ("training_start", "0000-01-01"),
        ("training_start", "-0001-01-01"),
        ("training_start", "2026-1-1"),
        ("training_end", "2200-01-01"),
        ("training_end", "+275760-01-01"),
        ("training_start", "1899-12-31"),
        ("training_end", "2026-02-30"),
    ] {
        let mut body = claim_body(&f, "10.00", &format!("DATE-{field}-{value}"));
        body[field] = json!(value);
        let reply = app.claim(&f.fund, &f.fund.admin, &body).await.expect_problem(400, "invalid_body");
        assert!(reply.body["detail"].as_str().unwrap_or_default().contains("YYYY-MM-DD"), "{}", reply.body);
    }
    let mut far = claim_body(&f, "10.00", "FAR-END");
    far["training_end"] = json!("2199-12-31");
    far["training_start"] = json!("1900-01-01");
    app.claim(&f.fund, &f.fund.admin, &far).await.expect(201);
    for query in ["submitted_from=-262143-01-01", "submitted_to=2200-01-01", "submitted_from=2026-1-1"] {
        app.get(&format!("/v1/funds/{}/claims?{query}", f.fund.id), &f.fund.admin).await.expect_problem(400, "invalid_query");
    }
    app.get(&format!("/v1/funds/{}/claims?submitted_from=1900-01-01&submitted_to=2199-12-31", f.fund.id), &f.fund.admin).await.expect(200);
    for month in ["1899-12", "2200-01", "2026-1", "+202-10"] {
        app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", f.fund.id), &f.fund.admin).await.expect_problem(400, "invalid_query");
    }
    app.get(&format!("/v1/funds/{}/ledger/digest?at=2200-01-01T00:00:00Z", f.fund.id), &f.fund.admin).await.expect_problem(400, "invalid_query");
    assert_eq!(claim_count(&app, &f).await, 1, "no refused claim was stored");
}

/// A JSON body that names a key twice is refused, and changes nothing.
async fn duplicate_keys_are_refused(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let body = format!(
        r#"{{"worker_id": "{w}", "scheme_id": "{s}", "amount": "10.00", "amount": "900.00", "category": "vakopleiding",
        "course": "Lassen", "provider": "Techniek BV", "invoice_reference": "DUP", "training_start": "{a}", "training_end": "{b}"}}"#,
        w = f.worker,
        s = f.scheme,
        a = crate::helpers::days_ago(40),
        b = crate::helpers::days_ago(10)
    );
    let path = format!("/v1/funds/{}/claims", f.fund.id);
    let reply = app.post_raw(&path, &f.fund.admin, "application/json", body.into_bytes()).await.expect_problem(400, "duplicate_key");
    assert!(reply.body["detail"].as_str().unwrap_or_default().contains("amount"), "{}", reply.body);
    let nested = format!(r#"{{"grants": [{{"worker_id": "{w}", "worker_id": "{w}", "scheme_id": "{s}", "grant_year": 2026}}]}}"#, w = f.worker, s = f.scheme);
    app.post_raw(&format!("/v1/funds/{}/grants", f.fund.id), &f.fund.admin, "application/json", nested.into_bytes())
        .await
        .expect_problem(400, "duplicate_key");
    let action = format!("/v1/funds/{}/claims/{}/reject", f.fund.id, uuid::Uuid::now_v7());
    app.post_raw(&action, &f.fund.admin, "application/json", br#"{"reason": "a", "reason": "b"}"#.to_vec())
        .await
        .expect_problem(400, "duplicate_key");
    // A compressed (or mislabelled) body is refused, not guessed at.
    let plain = serde_json::to_vec(&claim_body(&f, "10.00", "GZIP")).expect("json");
    let sent = app.client.post(format!("{}{path}", app.address)).bearer_auth(&f.fund.admin)
        .header("Content-Type", "application/json").header("Content-Encoding", "gzip").body(plain).send().await.expect("sent");
    assert_eq!(sent.status().as_u16(), 415);
    assert_eq!(claim_count(&app, &f).await, 0);
    assert_eq!(app.available(&f).await, "1000.00");
}

/// Every POST route answers a too-large body with 413 problem+json, at the stated limit.
async fn too_large_bodies_are_problems_on_every_route(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let id = uuid::Uuid::now_v7();
    let fund = &f.fund.id;
    let routes = [
        "/v1/funds".to_string(),
        format!("/v1/funds/{fund}/schemes"),
        format!("/v1/funds/{fund}/schemes/{}/versions", f.scheme),
        format!("/v1/funds/{fund}/employers"),
        format!("/v1/funds/{fund}/workers"),
        format!("/v1/funds/{fund}/grants"),
        format!("/v1/funds/{fund}/vouchers"),
        format!("/v1/funds/{fund}/vouchers/{id}/cancel"),
        format!("/v1/funds/{fund}/claims"),
        format!("/v1/funds/{fund}/claims/{id}/approve"),
        format!("/v1/funds/{fund}/claims/{id}/reject"),
        format!("/v1/funds/{fund}/claims/{id}/pay"),
        format!("/v1/funds/{fund}/claims/{id}/reverse"),
        format!("/v1/funds/{fund}/coaching-sessions"),
        format!("/v1/funds/{fund}/expiry-runs"),
    ];
    let limit = ptt_ledger::http::common::MAX_BODY_BYTES;
    let mut big = vec![b' '; limit + 1];
    big[0] = b'{';
    big[limit] = b'}';
    for route in &routes {
        let token = if route == "/v1/funds" { app.platform_admin() } else { f.fund.admin.clone() };
        let reply = app.post_raw(route, &token, "application/json", big.clone()).await;
        let reply = reply.expect_problem(413, "body_too_large");
        assert!(reply.body["detail"].as_str().unwrap_or_default().contains(&limit.to_string()), "{route}: {}", reply.body);
    }
    // At the limit it is read (and then judged on its content).
    let mut at_limit = vec![b' '; limit];
    at_limit[0] = b'{';
    at_limit[limit - 1] = b'}';
    let reply = app.post_raw(&format!("/v1/funds/{fund}/claims/{id}/approve"), &f.fund.admin, "application/json", at_limit).await;
    reply.expect_problem(404, "not_found");
}

/// 405 names the methods the route takes; 201 names what it created; every response carries
/// a request id, which problems repeat as their `instance`.
async fn protocol_headers(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/v1/funds".to_string(), "POST, GET, HEAD"),
        (reqwest::Method::PUT, format!("/v1/funds/{}/claims/{}", f.fund.id, uuid::Uuid::now_v7()), "GET, HEAD"),
        (reqwest::Method::GET, format!("/v1/funds/{}/grants", f.fund.id), "POST"),
        (reqwest::Method::POST, "/healthz".to_string(), "GET, HEAD"),
    ] {
        let response = app.client.request(method.clone(), format!("{}{path}", app.address)).bearer_auth(&f.fund.admin).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
        assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
    }
    let head = app.client.head(format!("{}/healthz", app.address)).send().await.expect("sent");
    assert_eq!(head.status().as_u16(), 200, "HEAD answers like GET");
    // A method HTTP does not define is counted, but not as a label of its own.
    let odd = reqwest::Method::from_bytes(b"M12345").expect("method");
    app.client.request(odd, format!("{}/healthz", app.address)).send().await.expect("sent");
    let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.expect("sent").text().await.expect("text");
    assert!(!metrics.contains("M12345") && metrics.contains(r#"method="other""#), "{metrics}");
    // Location of what a 201 created, readable there.
    let claim = app
        .client
        .post(format!("{}/v1/funds/{}/claims", app.address, f.fund.id))
        .bearer_auth(&f.fund.admin)
        .json(&claim_body(&f, "10.00", "LOC-1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(claim.status().as_u16(), 201);
    let location = claim.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location").to_string();
    let body: Value = claim.json().await.expect("json");
    let read = app.get(&location, &f.fund.admin).await.expect(200).body;
    assert_eq!(read["id"], body["id"]);
    let session = app.client.post(format!("{}/v1/funds/{}/coaching-sessions", app.address, f.fund.id)).bearer_auth(&f.fund.admin)
        .json(&json!({"worker_id": f.worker, "held_on": crate::helpers::days_ago(1), "duration_minutes": 30, "kind": "intake"}))
        .send().await.expect("sent");
    assert_eq!(session.status().as_u16(), 201);
    let location = session.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location").to_string();
    assert_eq!(app.get(&location, &f.fund.admin).await.expect(200).body["kind"], "intake");
    let fund = app.client.post(format!("{}/v1/funds", app.address)).bearer_auth(app.platform_admin()).json(&json!({"code": "loc", "name": "Loc"})).send().await.expect("sent");
    let location = fund.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location").to_string();
    assert_eq!(app.get(&location, &app.platform_admin()).await.expect(200).body["code"], "loc");

    // Request ids: a sane one is echoed, any other replaced; problems carry it as instance.
    let sent = app.client.get(format!("{}/v1/funds/{}/claims/{}", app.address, f.fund.id, uuid::Uuid::now_v7()))
        .bearer_auth(&f.fund.admin).header("X-Request-Id", "hr-system:42.a_b-c").send().await.expect("sent");
    assert_eq!(sent.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("hr-system:42.a_b-c"));
    let problem: Value = sent.json().await.expect("json");
    assert_eq!(problem["instance"], "urn:ptt-ledger:request:hr-system:42.a_b-c");
    for bad in ["with space", "semi;colon", &"x".repeat(129)] {
        let sent = app.client.get(format!("{}/healthz", app.address)).header("X-Request-Id", bad).send().await.expect("sent");
        let id = sent.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("a request id").to_string();
        assert!(id != bad && (1..=128).contains(&id.len()), "{bad:?} became {id:?}");
    }
    let a = app.client.get(format!("{}/healthz", app.address)).send().await.expect("sent");
    let b = app.client.get(format!("{}/healthz", app.address)).send().await.expect("sent");
    assert_ne!(a.headers().get("x-request-id"), b.headers().get("x-request-id"), "each request its own id");
}

/// Fund and scheme codes are case-insensitive and kept in lower case.
async fn codes_are_case_insensitive(app: TestApp) {
    let admin = app.platform_admin();
    let fund = app.post("/v1/funds", &admin, &json!({"code": "OOM", "name": "Fonds"})).await.expect(201).body;
    assert_eq!(fund["code"], "oom");
    app.post("/v1/funds", &admin, &json!({"code": "oom", "name": "Fonds"})).await.expect(409);
    app.post("/v1/funds", &admin, &json!({"code": "Oom", "name": "Fonds"})).await.expect(409);
    let fund_id = fund["id"].as_str().expect("id").to_string();
    let back_office = app.token(Role::FundAdmin, Some(&fund_id), None, None);
    let scheme = app.post(&format!("/v1/funds/{fund_id}/schemes"), &back_office, &standard_scheme_body("PTT-2027")).await.expect(201).body;
    assert_eq!(scheme["code"], "ptt-2027");
    app.post(&format!("/v1/funds/{fund_id}/schemes"), &back_office, &standard_scheme_body("ptt-2027")).await.expect(409);
}

on_both_backends!(
    a_fault_inside_a_write_transaction_loses_nothing,
    payments_and_imports_roll_back_a_fault_halfway,
    racing_pay_and_reverse_undo_a_spend_at_most_once,
    reverse_racing_reverse_happens_once,
    a_small_voucher_does_not_carry_a_large_claim_past_guidance,
    grants_around_an_unlapsed_lot_give_the_same_budget,
    verify_catches_a_claim_that_disagrees_with_its_transactions,
    the_database_refuses_a_second_reversal,
    tokens_from_the_future_are_refused,
    idempotency_keys_belong_to_one_caller,
    dates_outside_the_sane_range_are_bad_input,
    duplicate_keys_are_refused,
    too_large_bodies_are_problems_on_every_route,
    protocol_headers,
    codes_are_case_insensitive,
);

/// Findings of the review of this release, each kept from coming back.
mod review {
    use super::*;
    use diesel::connection::SimpleConnection;

    /// A back-dated lot already past its date, granted in the same bulk, does not count against
    /// the cap: the bulk gives what two separate requests give.
    async fn a_bulk_counts_its_own_expired_lot_as_unusable(app: TestApp) {
        let mut scheme = standard_scheme_body("ptt");
        scheme["annual_amount"] = json!("1000.00");
        scheme["max_balance"] = json!("1000.00");
        scheme["validity_years"] = json!(1);
        let fund = app.create_fund("oom").await;
        let scheme = app.create_scheme(&fund, scheme).await;
        let employer = app.create_employer(&fund, "12345678").await;
        let worker = app.create_worker(&fund, &employer, "P-1").await;
        let year = crate::helpers::this_year();
        let bulk = json!({"grants": [
            {"worker_id": worker, "scheme_id": scheme, "amount": "1000.00", "grant_year": year - 2},
            {"worker_id": worker, "scheme_id": scheme, "amount": "1000.00", "grant_year": year}
        ]});
        let reply = app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &bulk).await.expect(201).body;
        let amounts: Vec<&str> = reply["grants"].as_array().expect("grants").iter().map(|g| g["amount"].as_str().expect("amount")).collect();
        assert_eq!(amounts, vec!["1000.00", "1000.00"], "{reply}");
        let account = app.budget(&fund, &worker).await["accounts"][0].clone();
        assert_eq!((account["available"].as_str(), account["lapse_pending"].as_str()), (Some("1000.00"), Some("1000.00")));
        assert_eq!(app.verify(&fund).await["ok"], true);
    }

    /// A payment is recorded once: a paid claim set back to approved behind the service's back
    /// is found by verify, and cannot be paid a second time.
    async fn a_claim_is_paid_once_whatever_its_row_says(app: TestApp) {
        let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
        let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "PAY-ONCE")).await.expect(201).body;
        let id = claim["id"].as_str().expect("id");
        let pay = format!("/v1/funds/{}/claims/{id}/pay", f.fund.id);
        app.post(&pay, &f.fund.admin, &json!({"payment_reference": "BANK-1"})).await.expect(200);
        assert_eq!(app.verify(&f.fund).await["ok"], true);
        let mut conn = app.raw_connection();
        conn.batch_execute(&format!("UPDATE claims SET status = 'approved', payment_reference = NULL, paid_at = NULL WHERE id = '{id}'")).expect("tamper");
        let report = app.verify(&f.fund).await;
        assert_eq!(report["ok"], false, "{report}");
        assert!(report["problems"].to_string().contains("payment record"), "{report}");
        app.post(&pay, &f.fund.admin, &json!({"payment_reference": "BANK-2"})).await.expect_problem(409, "already_paid");
        // Records of decisions are never deleted, and rules never edited.
        assert!(conn.batch_execute(&format!("DELETE FROM claims WHERE id = '{id}'")).is_err(), "a claim was deleted");
        assert!(conn.batch_execute("DELETE FROM claim_payments").is_err(), "a payment record was deleted");
        assert!(conn.batch_execute("UPDATE scheme_versions SET funding_pct = 100").is_err(), "a scheme version was edited");
    }

    /// A lot's terms are in its grant's hashed reference: changed together behind the database's
    /// back (its trigger dropped), verify still finds them.
    async fn verify_finds_lot_terms_moved_together(app: TestApp) {
        let f = app.funded_worker(standard_scheme_body("ptt"), "500.00").await;
        let mut conn = app.raw_connection();
        let drop = match app.backend {
            Backend::Sqlite => "DROP TRIGGER grant_lots_terms_fixed",
            Backend::Postgres => "DROP TRIGGER grant_lots_terms_fixed ON grant_lots",
        };
        conn.batch_execute(drop).expect("drop the guard, as an intruder would");
        let later = match app.backend {
            Backend::Sqlite => "UPDATE grant_lots SET grant_year = grant_year + 1, expires_on = date(expires_on, '+1 years')",
            Backend::Postgres => "UPDATE grant_lots SET grant_year = grant_year + 1, expires_on = expires_on + INTERVAL '1 year'",
        };
        conn.batch_execute(later).expect("tamper");
        let report = app.verify(&f.fund).await;
        assert_eq!(report["ok"], false, "{report}");
        assert!(report["problems"].to_string().contains("differ from its grant transaction"), "{report}");
    }

    /// SQLite's INSERT OR REPLACE deletes the row it replaces: the append-only triggers see it.
    async fn a_replace_cannot_rewrite_a_lot_or_an_entry(app: TestApp) {
        if app.backend != Backend::Sqlite {
            return;
        }
        let f = app.funded_worker(standard_scheme_body("ptt"), "500.00").await;
        let mut conn = app.raw_connection();
        let replace_lot = "INSERT OR REPLACE INTO grant_lots SELECT id, fund_id, account_id, transaction_id, grant_year + 1, amount_cents, \
                           available_cents, reserved_cents, date(expires_on, '+1 years'), created_at FROM grant_lots";
        assert!(conn.batch_execute(replace_lot).is_err(), "a lot was rewritten by REPLACE");
        let replace_tx = "INSERT OR REPLACE INTO ledger_transactions SELECT * FROM ledger_transactions";
        assert!(conn.batch_execute(replace_tx).is_err(), "a ledger entry was rewritten by REPLACE");
        assert_eq!(app.verify(&f.fund).await["ok"], true);
    }

    /// Sessions recorded at once for a worker with waiting claims each answer 201, and the
    /// claims are approved once.
    async fn concurrent_sessions_decide_waiting_claims_once(app: TestApp) {
        let mut scheme = standard_scheme_body("ptt");
        scheme["guidance_required_above"] = json!("100.00");
        let f = app.funded_worker(scheme, "2000.00").await;
        for i in 0..4 {
            let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "300.00", &format!("WAIT-{i}"))).await.expect(201).body;
            assert_eq!(claim["status"], "awaiting_guidance");
        }
        let yesterday = crate::helpers::days_ago(1);
        let sessions = (0..8).map(|_| app.session(&f.fund, &f.worker, &yesterday));
        let replies = join_all(sessions).await;
        let approved: usize = replies
            .into_iter()
            .map(|r| r.expect(201).body["claims_approved"].as_array().map(Vec::len).unwrap_or(0))
            .sum();
        assert_eq!(approved, 4, "each waiting claim approved once");
        assert_eq!(app.available(&f).await, "800.00");
        assert_eq!(app.verify(&f.fund).await["ok"], true);
    }

    /// Adds a version of the standard rules from 1 January of `year`, with one rule changed.
    async fn add_version(app: &TestApp, f: &Funded, year: i32, rule: &str, value: Value) {
        let mut rules = standard_scheme_body("ptt");
        if let Some(rules) = rules.as_object_mut() {
            rules.remove("code");
            rules.remove("name");
        }
        rules[rule] = value;
        rules["effective_from"] = json!(format!("{year}-01-01"));
        app.post(&format!("/v1/funds/{}/schemes/{}/versions", f.fund.id, f.scheme), &f.fund.admin, &rules).await.expect(201);
    }

    /// A claim for a training that starts next year is judged by today's rules.
    async fn a_future_start_does_not_pick_future_rules(app: TestApp) {
        let mut scheme = standard_scheme_body("ptt");
        scheme["funding_pct"] = json!(50);
        let f = app.funded_worker(scheme, "1000.00").await;
        let next_year = crate::helpers::this_year() + 1;
        add_version(&app, &f, next_year, "funding_pct", json!(100)).await;
        let mut body = claim_body(&f, "200.00", "FUTURE");
        body["training_start"] = json!(format!("{next_year}-01-05"));
        body["training_end"] = json!(format!("{next_year}-01-06"));
        let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
        assert_eq!(claim["approved_amount"], "100.00", "today's 50 %: {claim}");
    }

    /// A subject with a control character is refused before it can reach the ledger.
    async fn a_subject_with_a_control_character_is_refused(app: TestApp) {
        let claims = json!({"sub": "ops\u{0}x", "role": "platform_admin", "exp": now() + 600});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::TEST_SECRET.as_bytes()),
        )
        .expect("sign");
        app.post("/v1/funds", &token, &json!({"code": "nul", "name": "N"})).await.expect_problem(401, "unauthenticated");
    }

    /// A scheme version published after a grant (next year's rules, published in December)
    /// leaves the grant's lot as it was, and verify agrees.
    async fn a_later_scheme_version_leaves_granted_lots_valid(app: TestApp) {
        let f = app.funded_worker(standard_scheme_body("ptt"), "500.00").await;
        let next_year = crate::helpers::this_year() + 1;
        app.grant(&f.fund, &f.worker, &f.scheme, "500.00", next_year).await.expect(201);
        add_version(&app, &f, next_year, "validity_years", json!(1)).await;
        let report = app.verify(&f.fund).await;
        assert_eq!(report["ok"], true, "{report}");
        if app.backend == Backend::Postgres {
            let mut conn = app.raw_connection();
            for table in ["coaching_sessions", "voucher_lots", "claims", "vouchers", "scheme_versions"] {
                assert!(conn.batch_execute(&format!("TRUNCATE {table} CASCADE")).is_err(), "{table} was truncated");
            }
        }
    }

    on_both_backends!(
        a_later_scheme_version_leaves_granted_lots_valid,
        a_bulk_counts_its_own_expired_lot_as_unusable,
        a_claim_is_paid_once_whatever_its_row_says,
        verify_finds_lot_terms_moved_together,
        a_replace_cannot_rewrite_a_lot_or_an_entry,
        concurrent_sessions_decide_waiting_claims_once,
        a_future_start_does_not_pick_future_rules,
        a_subject_with_a_control_character_is_refused,
    );
}
