//! The claim lifecycle, every rejection reason, co-funding, partial approval, duplicates.

use ptt_ledger::http::auth::Role;
use serde_json::json;

use crate::helpers::{claim_body, days_ago, standard_scheme_body, TestApp};
use crate::on_both_backends;

async fn a_claim_is_approved_paid_and_reversed(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let hr = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    let claim = app.claim(&f.fund, &hr, &claim_body(&f, "400.00", "INV-1")).await.expect(201).body;
    assert_eq!(claim["status"], "approved");
    assert_eq!(claim["approved_amount"], "400.00");
    assert_eq!(claim["rejection_reason"], serde_json::Value::Null);
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["spent"].as_str()), (Some("600.00"), Some("400.00")));

    let id = claim["id"].as_str().expect("id");
    let base = format!("/v1/funds/{}/claims/{id}", f.fund.id);
    // The employer may submit, not pay.
    app.post(&format!("{base}/pay"), &hr, &json!({"payment_reference": "BANK-1"})).await.expect_problem(403, "forbidden");
    let paid = app.post(&format!("{base}/pay"), &f.fund.admin, &json!({"payment_reference": "BANK-1"})).await.expect(200).body;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment_reference"], "BANK-1");
    assert_eq!(app.available(&f).await, "600.00", "paying moves no budget");
    app.post(&format!("{base}/pay"), &f.fund.admin, &json!({"payment_reference": "BANK-2"})).await.expect_problem(409, "invalid_state");

    let reversed = app.post(&format!("{base}/reverse"), &f.fund.admin, &json!({"reason": "cursus geannuleerd"})).await.expect(200).body;
    assert_eq!(reversed["status"], "reversed");
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["spent"].as_str()), (Some("1000.00"), Some("0.00")));
    app.post(&format!("{base}/reverse"), &f.fund.admin, &json!({"reason": "again"})).await.expect_problem(409, "already_reversed");
    assert_eq!(app.available(&f).await, "1000.00", "a second reversal moves nothing");

    let ledger = app.get(&format!("/v1/funds/{}/workers/{}/ledger", f.fund.id, f.worker), &f.fund.admin).await.expect(200).body;
    let reversal = &ledger["items"][0];
    assert_eq!(reversal["kind"], "reversal");
    assert_eq!(reversal["reverses"], claim["transaction_id"]);
    assert_eq!(app.verify(&f.fund).await["ok"], true);

    let fetched = app.get(&base, &hr).await.expect(200).body;
    assert_eq!(fetched["status"], "reversed");
}

async fn every_rejection_reason_moves_nothing(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await; // max claim 1500.00
    let mut cases = Vec::new();
    let mut body = claim_body(&f, "100.00", "R-1");
    body["category"] = json!("taal");
    cases.push((body, "category_not_eligible"));
    cases.push((claim_body(&f, "1500.01", "R-2"), "above_max_claim"));
    let mut body = claim_body(&f, "100.00", "R-3");
    body["training_start"] = json!(days_ago(200));
    body["training_end"] = json!(days_ago(121));
    cases.push((body, "claim_too_late"));
    cases.push((claim_body(&f, "1000.01", "R-4"), "insufficient_budget"));
    let mut body = claim_body(&f, "100.00", "R-5");
    body["voucher_code"] = json!("0000-0000-0000-00");
    cases.push((body, "voucher_unknown"));
    for (body, reason) in cases {
        let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
        assert_eq!(claim["status"], "rejected", "{reason}: {claim}");
        assert_eq!(claim["rejection_reason"], reason);
        assert_eq!(claim["approved_amount"], "0.00");
    }
    // Exactly on the deadline (120 days after the course) is still in time.
    let mut body = claim_body(&f, "100.00", "R-6");
    body["training_end"] = json!(days_ago(120));
    body["training_start"] = json!(days_ago(130));
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body["status"], "approved");
    assert_eq!(app.available(&f).await, "900.00");

    // A worker with no budget at all in the scheme.
    let other = app.create_worker(&f.fund, &f.employer, "P-2").await;
    let mut body = claim_body(&f, "10.00", "R-7");
    body["worker_id"] = json!(other);
    let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(claim["rejection_reason"], "insufficient_budget");
    let list = app.get(&format!("/v1/funds/{}/claims?status=rejected", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(6));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn the_fund_pays_its_share_rounded_down(app: TestApp) {
    let mut scheme = standard_scheme_body("ptt");
    scheme["funding_pct"] = json!(50);
    let f = app.funded_worker(scheme, "1000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "123.45", "INV-1")).await.expect(201).body;
    assert_eq!(claim["amount"], "123.45");
    assert_eq!(claim["approved_amount"], "61.72", "50% of 123.45 is 61.725: the fund pays at most its share");
    assert_eq!(app.available(&f).await, "938.28");
    // The invoice is what max_claim_amount and the budget are weighed against: 50% of 1500.00 fits.
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "1500.00", "INV-2")).await.expect(201).body;
    assert_eq!(claim["approved_amount"], "750.00");
}

async fn partial_approval_when_the_scheme_allows_it(app: TestApp) {
    let mut scheme = standard_scheme_body("ptt");
    scheme["allow_partial"] = json!(true);
    let f = app.funded_worker(scheme, "250.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "400.00", "INV-1")).await.expect(201).body;
    assert_eq!(claim["status"], "approved");
    assert_eq!(claim["approved_amount"], "250.00");
    assert_eq!(app.available(&f).await, "0.00");
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "10.00", "INV-2")).await.expect(201).body;
    assert_eq!(claim["rejection_reason"], "insufficient_budget", "nothing left to approve partially");
}

async fn an_invoice_is_claimed_once_per_employer(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let first = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "INV-7")).await.expect(201).body;
    let again = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "INV-7")).await;
    let again = again.expect_problem(409, "duplicate_invoice");
    assert_eq!(again.body["existing_id"], first["id"], "the problem names the claim made for the invoice");
    assert_eq!(app.available(&f).await, "900.00");
    // The same invoice number from another employer is another invoice.
    let other_employer = app.create_employer(&f.fund, "87654321").await;
    let other_worker = app.create_worker(&f.fund, &other_employer, "P-9").await;
    app.grant(&f.fund, &other_worker, &f.scheme, "500.00", crate::helpers::this_year()).await.expect(201);
    let mut body = claim_body(&f, "100.00", "INV-7");
    body["worker_id"] = json!(other_worker);
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body["status"], "approved");
}

async fn employers_and_workers_see_their_own_claims(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let other_employer = app.create_employer(&f.fund, "87654321").await;
    let other_worker = app.create_worker(&f.fund, &other_employer, "P-9").await;
    let hr = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    let other_hr = app.token(Role::Employer, Some(&f.fund.id), Some(&other_employer), None);
    let claim = app.claim(&f.fund, &hr, &claim_body(&f, "100.00", "INV-1")).await.expect(201).body;
    let id = claim["id"].as_str().expect("id");

    // Another employer cannot claim for, see, or list this worker's claims.
    app.claim(&f.fund, &other_hr, &claim_body(&f, "100.00", "INV-2")).await.expect_problem(422, "unknown_reference");
    app.get(&format!("/v1/funds/{}/claims/{id}", f.fund.id), &other_hr).await.expect_problem(404, "not_found");
    let list = app.get(&format!("/v1/funds/{}/claims", f.fund.id), &other_hr).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let list = app.get(&format!("/v1/funds/{}/claims?employer_id={}", f.fund.id, f.employer), &other_hr).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "an employer filter cannot widen the scope");

    let me = app.token(Role::Worker, Some(&f.fund.id), None, Some(&f.worker));
    let them = app.token(Role::Worker, Some(&f.fund.id), None, Some(&other_worker));
    app.get(&format!("/v1/funds/{}/claims/{id}", f.fund.id), &me).await.expect(200);
    app.get(&format!("/v1/funds/{}/claims/{id}", f.fund.id), &them).await.expect_problem(404, "not_found");
    app.claim(&f.fund, &me, &claim_body(&f, "100.00", "INV-3")).await.expect_problem(403, "forbidden");
    let board = app.token(Role::Board, Some(&f.fund.id), None, None);
    app.get(&format!("/v1/funds/{}/claims", f.fund.id), &board).await.expect_problem(403, "forbidden");
    assert_eq!(app.available(&f).await, "900.00");
}

async fn claims_list_filters_by_status_worker_and_period(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "A")).await.expect(201);
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "2000.00", "B")).await.expect(201);
    let path = |q: &str| format!("/v1/funds/{}/claims?{q}", f.fund.id);
    let count = |v: &serde_json::Value| v["items"].as_array().map(Vec::len).unwrap_or(99);
    assert_eq!(count(&app.get(&path("status=approved"), &f.fund.admin).await.expect(200).body), 1);
    assert_eq!(count(&app.get(&path(&format!("worker_id={}", f.worker)), &f.fund.admin).await.expect(200).body), 2);
    let today = ptt_ledger::domain::time::today();
    assert_eq!(count(&app.get(&path(&format!("submitted_from={today}&submitted_to={today}")), &f.fund.admin).await.expect(200).body), 2);
    assert_eq!(count(&app.get(&path(&format!("submitted_to={}", days_ago(1))), &f.fund.admin).await.expect(200).body), 0);
    app.get(&path("status=lost"), &f.fund.admin).await.expect_problem(400, "invalid_query");
}

async fn bad_claims_are_refused_before_anything_is_recorded(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let mut body = claim_body(&f, "100.00", "X");
    body["training_end"] = json!(days_ago(50));
    app.claim(&f.fund, &f.fund.admin, &body).await.expect_problem(422, "invalid_field");
    let mut body = claim_body(&f, "100.00", "X");
    body["amount"] = json!(100);
    app.claim(&f.fund, &f.fund.admin, &body).await.expect_problem(400, "invalid_body");
    let mut body = claim_body(&f, "100.00", "X");
    body["invoice_reference"] = json!("");
    app.claim(&f.fund, &f.fund.admin, &body).await.expect_problem(422, "invalid_field");
    let list = app.get(&format!("/v1/funds/{}/claims", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
}

on_both_backends!(
    a_claim_is_approved_paid_and_reversed,
    every_rejection_reason_moves_nothing,
    the_fund_pays_its_share_rounded_down,
    partial_approval_when_the_scheme_allows_it,
    an_invoice_is_claimed_once_per_employer,
    employers_and_workers_see_their_own_claims,
    claims_list_filters_by_status_worker_and_period,
    bad_claims_are_refused_before_anything_is_recorded
);
