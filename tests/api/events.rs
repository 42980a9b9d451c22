//! The change feed and webhooks: one event per change of state in the same transaction, scoped
//! reads, a cursor that never misses or repeats an event, and signed, ordered, at-least-once
//! deliveries to a real HTTP receiver that fails for a while, across a restart and across two
//! server processes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::future::join_all;
use ptt_ledger::domain::webhooks::signature;
use ptt_ledger::http::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{claim_body, days_ago, days_ahead, spawn_app_with, standard_scheme_body, this_year, Backend, Fund, TestApp};
use crate::on_both_backends;

/// Every event of the fund the caller may see, following the cursor to the end.
async fn feed(app: &TestApp, fund: &Fund, token: &str, types: Option<&str>) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = "0".to_string();
    loop {
        let filter = types.map(|t| format!("&types={t}")).unwrap_or_default();
        let page = app.get(&format!("/v1/funds/{}/events?after={after}&limit=100{filter}", fund.id), token).await.expect(200).body;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        after = page["next_cursor"].as_str().expect("cursor").to_string();
        if items.is_empty() {
            return events;
        }
        events.extend(items);
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["type"].as_str().unwrap_or_default().to_string()).collect()
}

/// Every change of state writes one event, with the resource after the change, and each reader
/// sees only what it may: the back office all, an employer its workers and its claims, a worker
/// its own.
async fn every_change_of_state_writes_one_scoped_event(app: TestApp) {
    let fund = app.create_fund("feed").await;
    let mut scheme_body = standard_scheme_body("ptt");
    scheme_body["guidance_required_above"] = json!("500.00");
    let scheme = app.create_scheme(&fund, scheme_body).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let other_employer = app.create_employer(&fund, "87654321").await;
    let worker = app.create_worker(&fund, &employer, "E-1").await;
    let other = app.create_worker(&fund, &other_employer, "E-2").await;
    let f = crate::helpers::Funded { fund: fund.clone(), scheme: scheme.clone(), employer: employer.clone(), worker: worker.clone() };
    let admin = &fund.admin;
    let base = format!("/v1/funds/{}", fund.id);

    app.grant(&fund, &worker, &scheme, "1000.00", this_year()).await.expect(201);
    let bulk = json!({"grants": [
        {"worker_id": worker, "scheme_id": scheme, "amount": "100.00", "grant_year": this_year()},
        {"worker_id": other, "scheme_id": scheme, "amount": "300.00", "grant_year": this_year()}]});
    app.post(&format!("{base}/grants"), admin, &bulk).await.expect(201);
    let voucher = |amount: &str, w: &str| json!({"worker_id": w, "scheme_id": scheme, "amount": amount, "course": "C", "provider": "P", "valid_until": days_ahead(30)});
    let cancelled = app.post(&format!("{base}/vouchers"), admin, &voucher("50.00", &worker)).await.expect(201).id();
    app.post(&format!("{base}/vouchers/{cancelled}/cancel"), admin, &json!({})).await.expect(200);
    let used = app.post(&format!("{base}/vouchers"), admin, &voucher("40.00", &worker)).await.expect(201).body;
    let mut with_voucher = claim_body(&f, "40.00", "F-1");
    with_voucher["voucher_code"] = used["code"].clone();
    let redeemed = app.claim(&fund, admin, &with_voucher).await.expect(201).body;
    assert_eq!(redeemed["status"], "approved");
    let paid = app.claim(&fund, admin, &claim_body(&f, "60.00", "F-2")).await.expect(201).id();
    app.post(&format!("{base}/claims/{paid}/pay"), admin, &json!({"payment_reference": "SEPA-1"})).await.expect(200);
    app.post(&format!("{base}/claims/{paid}/reverse"), admin, &json!({"reason": "geannuleerd"})).await.expect(200);
    let waiting = app.claim(&fund, admin, &claim_body(&f, "600.00", "F-3")).await.expect(201).id();
    let refused = app.claim(&fund, admin, &claim_body(&f, "700.00", "F-4")).await.expect(201).id();
    app.post(&format!("{base}/claims/{refused}/reject"), admin, &json!({"reason": "geen bewijs"})).await.expect(200);
    app.session(&fund, &worker, &days_ago(1)).await.expect(201);
    let mut late = claim_body(&f, "10.00", "F-5");
    late["category"] = json!("taal");
    app.claim(&fund, admin, &late).await.expect(201);
    // A voucher that expires and a lot that lapses: the clock moves on, the expiry run books both.
    let expiring = app.post(&format!("{base}/vouchers"), admin, &voucher("20.00", &other)).await.expect(201).id();
    app.grant(&fund, &other, &scheme, "5.00", this_year() - 3).await.expect(201);
    app.set_today(&days_ahead(40));
    app.expire(&fund, &app.today().to_string()).await;

    let all = feed(&app, &fund, admin, None).await;
    assert_eq!(
        types(&all),
        [
            "grant.created", "grant.created", "grant.created", "voucher.issued", "voucher.cancelled", "voucher.issued",
            "voucher.redeemed", "claim.approved", "claim.approved", "claim.paid", "claim.reversed", "claim.awaiting_guidance",
            "claim.awaiting_guidance", "claim.rejected", "coaching_session.recorded", "claim.approved", "claim.rejected",
            "voucher.issued", "grant.created", "voucher.expired", "lot.lapsed",
        ],
        "{all:#?}"
    );
    let ids: HashSet<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), all.len(), "event ids are unique");
    let approved_after_session = &all[15];
    assert_eq!((approved_after_session["data"]["id"].as_str(), approved_after_session["data"]["status"].as_str()), (Some(waiting.as_str()), Some("approved")));
    assert!(all[20]["data"]["lapsed"].is_string(), "{}", all[20]);
    assert_eq!(all[19]["data"]["id"], json!(expiring));
    assert_eq!(all[6]["data"]["status"], "redeemed");
    assert!(all.iter().all(|e| e["fund_id"] == json!(fund.id) && e["occurred_at"].is_string()));

    // Scope: the other employer sees its worker's grant, voucher and lapses only.
    let hr = app.token(Role::Employer, Some(&fund.id), Some(&other_employer), None);
    let theirs = feed(&app, &fund, &hr, None).await;
    assert_eq!(types(&theirs), ["grant.created", "voucher.issued", "grant.created", "voucher.expired", "lot.lapsed"]);
    assert!(theirs.iter().all(|e| e["worker_id"] == json!(other)));
    let me = app.token(Role::Worker, Some(&fund.id), None, Some(&worker));
    let mine = feed(&app, &fund, &me, Some("claim.approved,claim.paid")).await;
    assert_eq!(types(&mine), ["claim.approved", "claim.approved", "claim.paid", "claim.approved"]);
    let board = app.token(Role::Board, Some(&fund.id), None, None);
    app.get(&format!("{base}/events"), &board).await.expect_problem(403, "forbidden");
    app.get(&format!("{base}/events?types=claim.bogus"), admin).await.expect_problem(400, "invalid_query");
    app.get(&format!("{base}/events?after=-1"), admin).await.expect_problem(400, "invalid_cursor");
}

/// Writers commit concurrently (on PostgreSQL out of id order); a reader following the cursor
/// meanwhile ends with every event exactly once.
async fn a_reader_following_the_cursor_misses_nothing_and_repeats_nothing(app: TestApp) {
    let fund = app.create_fund("cursor").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let mut workers = Vec::new();
    for n in 0..6 {
        workers.push(app.create_worker(&fund, &employer, &format!("C-{n}")).await);
    }
    let writers = workers.iter().enumerate().map(|(n, worker)| {
        let (app, fund, scheme, worker) = (&app, &fund, &scheme, worker.clone());
        async move {
            for i in 0..15 {
                app.grant(fund, &worker, scheme, "1.00", this_year()).await.expect(201);
                let f = crate::helpers::Funded { fund: fund.clone(), scheme: scheme.clone(), employer: String::new(), worker: worker.clone() };
                app.claim(fund, &fund.admin, &claim_body(&f, "0.50", &format!("R-{n}-{i}"))).await.expect(201);
            }
        }
    });
    let reader = async {
        let mut seen: Vec<String> = Vec::new();
        let mut after = "0".to_string();
        let started = Instant::now();
        while seen.len() < 6 * 15 * 2 && started.elapsed() < Duration::from_secs(60) {
            let page = app.get(&format!("/v1/funds/{}/events?after={after}&limit=7", fund.id), &fund.admin).await.expect(200).body;
            after = page["next_cursor"].as_str().expect("cursor").to_string();
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen.extend(items.iter().filter_map(|e| e["id"].as_str().map(str::to_string)));
        }
        seen
    };
    let (_, seen) = tokio::join!(join_all(writers), reader);
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "an event was read twice");
    assert_eq!(seen.len(), 6 * 15 * 2, "every event read once");
}

on_both_backends!(every_change_of_state_writes_one_scoped_event, a_reader_following_the_cursor_misses_nothing_and_repeats_nothing);

/// A receiver of webhooks: records every request, answers 500 to the first `failures`, takes
/// `delay` per request, and counts how many requests it handles at once.
/// One request received: its headers, its body and the status answered.
type Received = (HashMap<String, String>, String, u16);

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    delay_ms: u64,
}

impl Receiver {
    async fn start(self) -> (String, actix_web::dev::ServerHandle) {
        let state = self.clone();
        let server = HttpServer::new(move || App::new().app_data(web::Data::new(state.clone())).default_service(web::to(receive)))
            .workers(2)
            .bind("127.0.0.1:0")
            .expect("receiver binds");
        let address = format!("http://{}/hooks", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        (address, handle)
    }

    /// The ids of the events answered 2xx, in the order of their first success.
    fn delivered(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let received = self.received.lock().expect("lock");
        received
            .iter()
            .filter(|(_, _, status)| *status == 200)
            .filter_map(|(headers, _, _)| headers.get("webhook-id").cloned())
            .filter(|id| seen.insert(id.clone()))
            .collect()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Receiver>) -> HttpResponse {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    if state.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(state.delay_ms)).await;
    }
    let failing = state.failures.load(Ordering::SeqCst) > 0;
    if failing {
        state.failures.fetch_sub(1, Ordering::SeqCst);
    }
    let status = if failing { 500 } else { 200 };
    let headers = req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string())).collect();
    state.received.lock().expect("lock").push((headers, String::from_utf8_lossy(&body).into_owned(), status));
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).finish()
}

async fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "not within {seconds} s: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn subscribe(app: &TestApp, fund: &Fund, url: &str, extra: Value) -> Value {
    let mut body = json!({ "url": url });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.post(&format!("/v1/funds/{}/webhooks", fund.id), &fund.admin, &body).await.expect(201).body
}

/// Signed deliveries, in order, through a receiver that fails at first; the failed attempts
/// and the successes are listed under the subscription.
async fn webhooks_are_signed_ordered_and_retried(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let receiver = Receiver { failures: Arc::new(AtomicUsize::new(2)), ..Receiver::default() };
    let (url, _server) = receiver.clone().start().await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let hook = subscribe(&app, &f.fund, &url, json!({"types": ["claim.approved", "claim.paid"]})).await;
    let secret = hook["secret"].as_str().expect("secret once").to_string();
    assert!(secret.starts_with("whsec_"));
    for n in 0..5 {
        app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "10.00", &format!("W-{n}"))).await.expect(201);
    }
    app.session(&f.fund, &f.worker, &days_ago(1)).await.expect(201);
    // The first retry comes within 10 s; two failures in a row wait 5 + 10 s. Nobody reads the
    // feed meanwhile: the server itself gives the events their positions.
    wait_for("every event delivered", 60, || receiver.delivered().len() == 5).await;
    let expected: Vec<String> = feed(&app, &f.fund, &f.fund.admin, Some("claim.approved,claim.paid")).await.iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
    assert_eq!(expected.len(), 5);
    assert_eq!(receiver.delivered(), expected, "in feed order");
    for (headers, body, _) in receiver.received.lock().expect("lock").iter() {
        let id = &headers["webhook-id"];
        let timestamp: i64 = headers["webhook-timestamp"].parse().expect("timestamp");
        assert_eq!(Some(headers["webhook-signature"].clone()), signature(&secret, id, timestamp, body), "the signature verifies");
        let event: Value = serde_json::from_str(body).expect("json");
        assert_eq!(event["id"], json!(id));
    }
    let listed = app.get(&format!("/v1/funds/{}/webhooks/{}", f.fund.id, hook["id"].as_str().expect("id")), &f.fund.admin).await.expect(200).body;
    assert!(listed.get("secret").is_none(), "the secret is answered once");
    let deliveries = app.get(&format!("/v1/funds/{}/webhooks/{}/deliveries", f.fund.id, hook["id"].as_str().expect("id")), &f.fund.admin).await.expect(200).body;
    let outcomes: Vec<&str> = deliveries["items"].as_array().expect("items").iter().filter_map(|d| d["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "failed").count(), 2, "{deliveries}");
    assert_eq!(outcomes.iter().filter(|o| **o == "delivered").count(), 5, "{deliveries}");
}

mod webhooks_are_signed_ordered_and_retried {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::webhooks_are_signed_ordered_and_retried(super::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if crate::helpers::postgres_configured() {
            super::webhooks_are_signed_ordered_and_retried(super::Backend::Postgres).await
        }
    }
}

/// A backlog survives the server: deliveries stopped half-way go on from where they were when
/// the server starts again, in order; and two servers on one PostgreSQL database deliver every
/// event between them, never two at once to one subscription.
async fn a_backlog_survives_a_restart_and_two_servers_share_it(backend: Backend) {
    let mut app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let receiver = Receiver { delay_ms: 20, ..Receiver::default() };
    let (url, _server) = receiver.clone().start().await;
    let f = app.funded_worker(standard_scheme_body("ptt"), "2000.00").await;
    subscribe(&app, &f.fund, &url, json!({})).await;
    for n in 0..40 {
        app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "1.00", &format!("B-{n}"))).await.expect(201);
    }
    wait_for("deliveries under way", 30, || receiver.delivered().len() >= 5).await;
    app.restart().await;
    let second = (backend == Backend::Postgres).then(|| {
        let url = app.db.url.clone();
        async move { spawn_app_with(Backend::Postgres, move |s| {
            s.database = url.clone();
            s.webhook_allow_private = true;
        }).await }
    });
    let _second = match second {
        Some(second) => Some(second.await),
        None => None,
    };
    // The subscription receives what happened after it was made: the 40 claims, not the grant.
    let expected: Vec<String> =
        feed(&app, &f.fund, &f.fund.admin, Some("claim.approved")).await.iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
    assert_eq!(expected.len(), 40);
    wait_for("the backlog delivered after the restart", 60, || receiver.delivered().len() == expected.len()).await;
    assert_eq!(receiver.delivered(), expected, "in feed order, nothing lost");
    assert_eq!(receiver.most_in_flight.load(Ordering::SeqCst), 1, "one delivery at a time per subscription");
}

mod a_backlog_survives_a_restart_and_two_servers_share_it {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_backlog_survives_a_restart_and_two_servers_share_it(super::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if crate::helpers::postgres_configured() {
            super::a_backlog_survives_a_restart_and_two_servers_share_it(super::Backend::Postgres).await
        }
    }
}

/// Targets on loopback, private and link-local networks are refused by default (SSRF), and
/// only http and https URLs are taken.
async fn private_targets_are_refused_by_default(app: TestApp) {
    let fund = app.create_fund("ssrf").await;
    for url in ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.0.0.1/", "http://169.254.169.254/latest", "http://[::1]/", "ftp://example.org/", "not a url"] {
        let reply = app.post(&format!("/v1/funds/{}/webhooks", fund.id), &fund.admin, &json!({ "url": url })).await;
        assert_eq!(reply.status.as_u16(), 422, "{url}: {}", reply.body);
        assert_eq!(reply.body["field"], "url", "{url}: {}", reply.body);
    }
    let hr = app.token(Role::Employer, Some(&fund.id), Some(&uuid::Uuid::new_v4().to_string()), None);
    app.post(&format!("/v1/funds/{}/webhooks", fund.id), &hr, &json!({"url": "https://example.org/"})).await.expect_problem(403, "forbidden");
}

/// Subscriptions at the edges: a retried POST makes no second subscription, the URL's length
/// limit holds at the exact boundary, and the feed's and the attempts' page limits and cursors
/// refuse what is out of range.
async fn webhook_and_feed_edges(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let fund = app.create_fund("edges").await;
    let employer = app.create_employer(&fund, "12345678").await;
    let base = format!("/v1/funds/{}", fund.id);
    let first = subscribe(&app, &fund, "http://127.0.0.1:9/hook", json!({})).await;
    let again = app.post(&format!("{base}/webhooks"), &fund.admin, &json!({"url": "http://127.0.0.1:9/hook"})).await;
    let again = again.expect_problem(409, "duplicate_webhook");
    assert_eq!(again.body["existing_id"], first["id"]);
    assert!(again.body.get("secret").is_none());
    subscribe(&app, &fund, "http://127.0.0.1:9/hook", json!({ "employer_id": employer })).await;
    let listed = app.get(&format!("{base}/webhooks"), &fund.admin).await.expect(200).body;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));

    let prefix = "http://127.0.0.1:9/";
    let longest = format!("{prefix}{}", "a".repeat(2000 - prefix.len()));
    subscribe(&app, &fund, &longest, json!({})).await;
    let too_long = format!("{longest}a");
    let reply = app.post(&format!("{base}/webhooks"), &fund.admin, &json!({ "url": too_long })).await;
    assert_eq!((reply.status.as_u16(), reply.body["field"].clone()), (422, json!("url")), "{}", reply.body);
    let reply = app.post(&format!("{base}/webhooks"), &fund.admin, &json!({"url": "http://127.0.0.1:9/t", "types": []})).await;
    assert_eq!((reply.status.as_u16(), reply.body["field"].clone()), (422, json!("types")), "{}", reply.body);

    app.get(&format!("{base}/events?limit=0"), &fund.admin).await.expect_problem(400, "invalid_limit");
    app.get(&format!("{base}/events?limit=1001"), &fund.admin).await.expect_problem(400, "invalid_limit");
    app.get(&format!("{base}/events?limit=1000"), &fund.admin).await.expect(200);
    let last = app.get(&format!("{base}/events?after=9223372036854775807"), &fund.admin).await.expect(200).body;
    assert_eq!((last["items"].clone(), last["next_cursor"].clone()), (json!([]), json!("9223372036854775807")));
    app.get(&format!("{base}/events?after=9223372036854775808"), &fund.admin).await.expect_problem(400, "invalid_cursor");
    let deliveries = format!("{base}/webhooks/{}/deliveries", first["id"].as_str().expect("id"));
    app.get(&format!("{deliveries}?limit=0"), &fund.admin).await.expect_problem(400, "invalid_limit");
    app.get(&format!("{deliveries}?after=not-a-cursor"), &fund.admin).await.expect_problem(400, "invalid_cursor");
    app.get(&deliveries, &fund.admin).await.expect(200);
}

mod webhook_and_feed_edges {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::webhook_and_feed_edges(super::Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if crate::helpers::postgres_configured() {
            super::webhook_and_feed_edges(super::Backend::Postgres).await
        }
    }
}

on_both_backends!(private_targets_are_refused_by_default);
