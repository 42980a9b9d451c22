//! Grants: single and bulk, lots with expiry, the max_balance cap.

use serde_json::json;

use crate::helpers::{cents, TestApp};
use crate::on_both_backends;

async fn a_grant_shows_in_the_budget_and_verifies(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;

    // Without an amount the scheme's annual amount is granted.
    let body = json!({"worker_id": worker, "scheme_id": scheme, "grant_year": 2026});
    let grant = app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &body).await.expect(201);
    assert_eq!(grant.body["amount"], "750.00");
    assert_eq!(grant.body["capped"], false);
    assert_eq!(grant.body["expires_on"], "2028-12-31");

    let budget = app.budget(&fund, &worker).await;
    let account = &budget["accounts"][0];
    assert_eq!(account["scheme_id"], scheme.as_str());
    assert_eq!(account["available"], "750.00");
    assert_eq!(account["granted"], "750.00");
    assert_eq!(account["reserved"], "0.00");
    assert_eq!(account["spent"], "0.00");
    assert_eq!(account["lots"][0]["grant_year"], 2026);
    assert_eq!(account["lots"][0]["remaining"], "750.00");
    assert_eq!(account["lots"][0]["expires_on"], "2028-12-31");

    let ledger = app.get(&format!("/v1/funds/{}/workers/{worker}/ledger", fund.id), &fund.admin).await.expect(200);
    let entry = &ledger.body["items"][0];
    assert_eq!(entry["kind"], "grant");
    assert_eq!(entry["actor"], "test-fund_admin");
    let postings = entry["postings"].as_array().expect("postings");
    assert_eq!(postings.iter().map(|p| cents(&p["amount"])).sum::<i64>(), 0, "postings sum to zero");
    assert!(postings.iter().any(|p| p["account"] == "available" && p["amount"] == "750.00"));
    assert!(postings.iter().any(|p| p["account"] == "grants_issued" && p["amount"] == "-750.00"));

    let verify = app.verify(&fund).await;
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["transactions_checked"], 1);
    assert_eq!(verify["entries_checked"], 2);
}

async fn bulk_grants_book_in_one_transaction(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let mut workers = Vec::new();
    for i in 0..5 {
        workers.push(app.create_worker(&fund, &employer, &format!("P-{i}")).await);
    }
    let grants: Vec<_> = workers.iter().map(|w| json!({"worker_id": w, "scheme_id": scheme, "grant_year": 2026})).collect();
    let reply = app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &json!({"grants": grants})).await.expect(201);
    assert_eq!(reply.body["count"], 5);
    assert_eq!(reply.body["granted_total"], "3750.00");
    for w in &workers {
        assert_eq!(app.budget(&fund, w).await["accounts"][0]["available"], "750.00");
    }

    // One bad item: nothing of the bulk is booked, and the problem names the item.
    let mut bad = workers.iter().map(|w| json!({"worker_id": w, "scheme_id": scheme, "grant_year": 2026})).collect::<Vec<_>>();
    bad.push(json!({"worker_id": "01a22154-0c1c-7438-81c0-f3ad5b27b749", "scheme_id": scheme, "grant_year": 2026}));
    let reply = app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &json!({"grants": bad})).await;
    let reply = reply.expect_problem(422, "unknown_reference");
    assert_eq!(reply.body["index"], 5);
    for w in &workers {
        assert_eq!(app.budget(&fund, w).await["accounts"][0]["available"], "750.00", "bulk was not atomic");
    }
    app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &json!({"grants": []}))
        .await
        .expect_problem(422, "invalid_batch_size");
    assert_eq!(app.verify(&fund).await["ok"], true);
}

async fn grants_are_capped_at_max_balance(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await; // max_balance 2250.00
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;
    app.grant(&fund, &worker, &scheme, "2000.00", 2025).await.expect(201);
    let capped = app.grant(&fund, &worker, &scheme, "750.00", 2026).await.expect(201);
    assert_eq!(capped.body["requested_amount"], "750.00");
    assert_eq!(capped.body["amount"], "250.00");
    assert_eq!(capped.body["capped"], true);
    app.grant(&fund, &worker, &scheme, "750.00", 2026).await.expect_problem(422, "max_balance_reached");
    let budget = app.budget(&fund, &worker).await;
    assert_eq!(budget["accounts"][0]["available"], "2250.00");
    assert_eq!(budget["accounts"][0]["lots"].as_array().map(Vec::len), Some(2));

    // In a bulk, a grant of which nothing fits is reported, not an error.
    let body = json!({"grants": [{"worker_id": worker, "scheme_id": scheme, "grant_year": 2026}]});
    let reply = app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &body).await.expect(201);
    assert_eq!(reply.body["grants"][0]["amount"], "0.00");
    assert_eq!(reply.body["grants"][0]["id"], serde_json::Value::Null);
    assert_eq!(app.verify(&fund).await["ok"], true);
}

async fn back_dated_grants_keep_their_own_expiry(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;
    app.grant(&fund, &worker, &scheme, "100.00", 2026).await.expect(201);
    app.grant(&fund, &worker, &scheme, "200.00", 2020).await.expect(201);
    let lots = app.budget(&fund, &worker).await["accounts"][0]["lots"].clone();
    // Oldest expiry first.
    assert_eq!(lots[0]["expires_on"], "2022-12-31");
    assert_eq!(lots[0]["amount"], "200.00");
    assert_eq!(lots[1]["expires_on"], "2028-12-31");
    let reply = app.grant(&fund, &worker, &scheme, "100.00", 1999).await;
    let reply = reply.expect_problem(422, "invalid_field");
    assert_eq!(reply.body["field"], "grant_year");
}

on_both_backends!(
    a_grant_shows_in_the_budget_and_verifies,
    bulk_grants_book_in_one_transaction,
    grants_are_capped_at_max_balance,
    back_dated_grants_keep_their_own_expiry
);

async fn a_bulk_may_grant_one_worker_several_times(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await; // max_balance 2250.00
    let employer = app.create_employer(&fund, "12345678").await;
    let worker = app.create_worker(&fund, &employer, "P-1").await;
    let year = crate::helpers::this_year();
    let grants: Vec<_> = (0..4).map(|i| json!({"worker_id": worker, "scheme_id": scheme, "amount": "700.00", "grant_year": year - i})).collect();
    let reply = app.post(&format!("/v1/funds/{}/grants", fund.id), &fund.admin, &json!({"grants": grants})).await.expect(201).body;
    let amounts: Vec<&str> = reply["grants"].as_array().expect("grants").iter().map(|g| g["amount"].as_str().expect("amount")).collect();
    assert_eq!(amounts, vec!["700.00", "700.00", "700.00", "150.00"], "the cap applies item by item, in order");
    let budget = app.budget(&fund, &worker).await;
    // The oldest lot is past its date (three years valid): held, but not spendable.
    assert_eq!(budget["accounts"][0]["available"], "2100.00");
    assert_eq!(budget["accounts"][0]["lapse_pending"], "150.00");
    assert_eq!(budget["accounts"][0]["lots"].as_array().map(Vec::len), Some(4));
    let ledger = app.get(&format!("/v1/funds/{}/workers/{worker}/ledger", fund.id), &fund.admin).await.expect(200).body;
    let seqs: Vec<i64> = ledger["items"].as_array().expect("items").iter().map(|t| t["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, vec![4, 3, 2, 1]);
    assert_eq!(app.verify(&fund).await["ok"], true, "the chain over one bulk holds");
}

on_both_backends!(a_bulk_may_grant_one_worker_several_times);
