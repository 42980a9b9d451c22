//! Vouchers: reserve, redeem through a claim, cancel; each used once.

use ptt_ledger::http::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{claim_body, days_ahead, standard_scheme_body, Funded, TestApp};
use crate::on_both_backends;

fn voucher_body(f: &Funded, amount: &str) -> Value {
    json!({
        "worker_id": f.worker, "scheme_id": f.scheme, "amount": amount,
        "course": "Lassen MIG/MAG", "provider": "Techniek Opleidingen BV", "valid_until": days_ahead(90)
    })
}

async fn issue(app: &TestApp, f: &Funded, amount: &str) -> Value {
    app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &voucher_body(f, amount)).await.expect(201).body
}

async fn a_voucher_reserves_and_a_claim_redeems_it(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let voucher = issue(&app, &f, "600.00").await;
    assert_eq!(voucher["status"], "issued");
    let code = voucher["code"].as_str().expect("code");
    assert_eq!(code.len(), 17, "XXXX-XXXX-XXXX-XX: {code}");
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["reserved"].as_str()), (Some("400.00"), Some("600.00")));

    // The claim uses 450.00 of the 600.00 reserved: 150.00 is released. Lower case and spaces are fine.
    let mut body = claim_body(&f, "450.00", "INV-1");
    body["voucher_code"] = json!(code.to_lowercase().replace('-', " "));
    let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(claim["status"], "approved");
    assert_eq!(claim["approved_amount"], "450.00");
    assert_eq!(claim["voucher_id"], voucher["id"]);
    let account = app.account(&f).await;
    assert_eq!(account["available"], "550.00");
    assert_eq!(account["reserved"], "0.00");
    assert_eq!(account["spent"], "450.00");
    let fetched = app.get(&format!("/v1/funds/{}/vouchers/{}", f.fund.id, voucher["id"].as_str().expect("id")), &f.fund.admin).await.expect(200).body;
    assert_eq!(fetched["status"], "redeemed");

    // Used once.
    let mut body = claim_body(&f, "50.00", "INV-2");
    body["voucher_code"] = json!(code);
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body["rejection_reason"], "voucher_used");
    assert_eq!(app.available(&f).await, "550.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn a_claim_above_its_voucher_takes_the_rest_from_available(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let voucher = issue(&app, &f, "300.00").await;
    let mut body = claim_body(&f, "500.00", "INV-1");
    body["voucher_code"] = voucher["code"].clone();
    let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(claim["approved_amount"], "500.00");
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["reserved"].as_str()), (Some("500.00"), Some("0.00")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn cancelled_vouchers_release_and_cannot_be_used(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let voucher = issue(&app, &f, "600.00").await;
    let id = voucher["id"].as_str().expect("id");
    let cancel = format!("/v1/funds/{}/vouchers/{id}/cancel", f.fund.id);
    let cancelled = app.post(&cancel, &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.available(&f).await, "1000.00");
    app.post(&cancel, &f.fund.admin, &json!({})).await.expect_problem(409, "voucher_not_issued");
    assert_eq!(app.available(&f).await, "1000.00", "a second cancel releases nothing");
    let mut body = claim_body(&f, "100.00", "INV-1");
    body["voucher_code"] = voucher["code"].clone();
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body["rejection_reason"], "voucher_cancelled");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn a_voucher_the_budget_cannot_cover_reserves_nothing(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "500.00").await;
    app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &voucher_body(&f, "500.01"))
        .await
        .expect_problem(409, "insufficient_budget");
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["reserved"].as_str()), (Some("500.00"), Some("0.00")));
    let list = app.get(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let mut past = voucher_body(&f, "10.00");
    past["valid_until"] = json!(crate::helpers::days_ago(1));
    app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &past).await.expect_problem(422, "invalid_field");
}

async fn another_workers_voucher_is_a_mismatch(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let other = app.create_worker(&f.fund, &f.employer, "P-2").await;
    app.grant(&f.fund, &other, &f.scheme, "1000.00", crate::helpers::this_year()).await.expect(201);
    let voucher = issue(&app, &f, "200.00").await;
    let mut body = claim_body(&f, "100.00", "INV-1");
    body["worker_id"] = json!(other);
    body["voucher_code"] = voucher["code"].clone();
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body["rejection_reason"], "voucher_mismatch");
    // The worker sees its own voucher; another worker does not.
    let me = app.token(Role::Worker, Some(&f.fund.id), None, Some(&f.worker));
    let them = app.token(Role::Worker, Some(&f.fund.id), None, Some(&other));
    let path = format!("/v1/funds/{}/vouchers/{}", f.fund.id, voucher["id"].as_str().expect("id"));
    app.get(&path, &me).await.expect(200);
    app.get(&path, &them).await.expect_problem(404, "not_found");
    let mine = app.get(&format!("/v1/funds/{}/vouchers", f.fund.id), &them).await.expect(200).body;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0));
}

on_both_backends!(
    a_voucher_reserves_and_a_claim_redeems_it,
    a_claim_above_its_voucher_takes_the_rest_from_available,
    cancelled_vouchers_release_and_cannot_be_used,
    a_voucher_the_budget_cannot_cover_reserves_nothing,
    another_workers_voucher_is_a_mismatch
);
