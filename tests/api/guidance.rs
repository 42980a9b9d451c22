//! Guidance: above a scheme's threshold money moves only after a coaching session.

use ptt_ledger::http::auth::Role;
use serde_json::json;

use crate::helpers::{claim_body, days_ago, days_ahead, standard_scheme_body, Funded, TestApp};
use crate::on_both_backends;

async fn guided(app: &TestApp) -> Funded {
    let mut scheme = standard_scheme_body("ptt");
    scheme["guidance_required_above"] = json!("500.00");
    scheme["guidance_window_days"] = json!(365);
    app.funded_worker(scheme, "2000.00").await
}

async fn a_waiting_claim_is_approved_by_a_later_session(app: TestApp) {
    let f = guided(&app).await;
    // At the threshold: no guidance needed.
    let small = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "500.00", "S-1")).await.expect(201).body;
    assert_eq!(small["status"], "approved");
    let big = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "600.00", "B-1")).await.expect(201).body;
    assert_eq!(big["status"], "awaiting_guidance");
    assert_eq!(big["approved_amount"], "0.00");
    assert_eq!(app.available(&f).await, "1500.00", "a waiting claim moves nothing");
    let budget = app.budget(&f.fund, &f.worker).await;
    assert_eq!(budget["accounts"][0]["guidance"]["met"], false);
    assert_eq!(budget["guidance"]["last_session_on"], serde_json::Value::Null);

    let session = app.session(&f.fund, &f.worker, &days_ago(0)).await.expect(201).body;
    assert_eq!(session["coach"], "test-coach");
    let approved = session["claims_approved"].as_array().expect("approved claims");
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["id"], big["id"]);
    assert_eq!(approved[0]["status"], "approved");
    assert_eq!(app.available(&f).await, "900.00");
    let budget = app.budget(&f.fund, &f.worker).await;
    assert_eq!(budget["accounts"][0]["guidance"]["met"], true);
    assert_eq!(budget["guidance"]["last_session_on"], days_ago(0));
    // Now guided, the next big claim is approved at once.
    let next = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "600.00", "B-2")).await.expect(201).body;
    assert_eq!(next["status"], "approved");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn waiting_claims_are_decided_in_submission_order_within_budget(app: TestApp) {
    let f = guided(&app).await; // 2000.00 available
    let first = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "1200.00", "W-1")).await.expect(201).body;
    let second = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "1000.00", "W-2")).await.expect(201).body;
    let session = app.session(&f.fund, &f.worker, &days_ago(3)).await.expect(201).body;
    let approved: Vec<_> = session["claims_approved"].as_array().expect("list").iter().map(|c| c["id"].clone()).collect();
    assert_eq!(approved, vec![first["id"].clone()], "the first fits, the second no longer does");
    let still = app.get(&format!("/v1/funds/{}/claims/{}", f.fund.id, second["id"].as_str().expect("id")), &f.fund.admin).await.expect(200).body;
    assert_eq!(still["status"], "awaiting_guidance");
    assert_eq!(app.available(&f).await, "800.00");
    // The back office decides the rest by hand.
    let path = format!("/v1/funds/{}/claims/{}", f.fund.id, second["id"].as_str().expect("id"));
    app.post(&format!("{path}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "insufficient_budget");
    let rejected = app.post(&format!("{path}/reject"), &f.fund.admin, &json!({"reason": "budget op"})).await.expect(200).body;
    assert_eq!(rejected["rejection_reason"], "rejected_by_fund");
    assert_eq!(rejected["decision_note"], "budget op");
    app.post(&format!("{path}/reject"), &f.fund.admin, &json!({"reason": "again"})).await.expect_problem(409, "invalid_state");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn a_session_outside_the_window_does_not_count(app: TestApp) {
    let f = guided(&app).await;
    app.session(&f.fund, &f.worker, &days_ago(400)).await.expect(201);
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "600.00", "B-1")).await.expect(201).body;
    assert_eq!(claim["status"], "awaiting_guidance");
    // Recording another old session approves nothing either.
    let session = app.session(&f.fund, &f.worker, &days_ago(366)).await.expect(201).body;
    assert_eq!(session["claims_approved"].as_array().map(Vec::len), Some(0));
    // One within the window does.
    let session = app.session(&f.fund, &f.worker, &days_ago(365)).await.expect(201).body;
    assert_eq!(session["claims_approved"].as_array().map(Vec::len), Some(1));
    // The back office may approve a waiting claim by hand, without a session.
    let other = app.create_worker(&f.fund, &f.employer, "P-2").await;
    app.grant(&f.fund, &other, &f.scheme, "1000.00", crate::helpers::this_year()).await.expect(201);
    let mut body = claim_body(&f, "700.00", "B-2");
    body["worker_id"] = json!(other);
    let waiting = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(waiting["status"], "awaiting_guidance");
    let path = format!("/v1/funds/{}/claims/{}/approve", f.fund.id, waiting["id"].as_str().expect("id"));
    let approved = app.post(&path, &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((approved["status"].as_str(), approved["approved_amount"].as_str()), (Some("approved"), Some("700.00")));
}

async fn vouchers_above_the_threshold_need_guidance(app: TestApp) {
    let f = guided(&app).await;
    let body = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "800.00", "course": "C", "provider": "P", "valid_until": days_ahead(60)});
    let path = format!("/v1/funds/{}/vouchers", f.fund.id);
    app.post(&path, &f.fund.admin, &body).await.expect_problem(409, "guidance_required");
    assert_eq!(app.account(&f).await["reserved"], "0.00");
    app.session(&f.fund, &f.worker, &days_ago(10)).await.expect(201);
    let voucher = app.post(&path, &f.fund.admin, &body).await.expect(201).body;
    // The voucher carries the guidance: its claim is approved at once.
    let mut claim = claim_body(&f, "800.00", "V-1");
    claim["voucher_code"] = voucher["code"].clone();
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &claim).await.expect(201).body["status"], "approved");
}

async fn sessions_are_recorded_by_coaches_and_the_back_office_only(app: TestApp) {
    let f = guided(&app).await;
    let hr = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    let body = json!({"worker_id": f.worker, "held_on": days_ago(1), "duration_minutes": 60, "kind": "intake"});
    let path = format!("/v1/funds/{}/coaching-sessions", f.fund.id);
    app.post(&path, &hr, &body).await.expect_problem(403, "forbidden");
    app.post(&path, &f.fund.admin, &body).await.expect(201);
    let mut future = body.clone();
    future["held_on"] = json!(days_ahead(1));
    app.post(&path, &f.fund.admin, &future).await.expect_problem(422, "invalid_field");
    let mut notes = body.clone();
    notes["notes"] = json!("private");
    app.post(&path, &f.fund.admin, &notes).await.expect_problem(400, "invalid_body");
    let mut kind = body.clone();
    kind["kind"] = json!("therapy");
    app.post(&path, &f.fund.admin, &kind).await.expect_problem(400, "invalid_body");
    let coach = app.token(Role::Coach, Some(&f.fund.id), None, None);
    let list = app.get(&format!("{path}?worker_id={}", f.worker), &coach).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

on_both_backends!(
    a_waiting_claim_is_approved_by_a_later_session,
    waiting_claims_are_decided_in_submission_order_within_budget,
    a_session_outside_the_window_does_not_count,
    vouchers_above_the_threshold_need_guidance,
    sessions_are_recorded_by_coaches_and_the_back_office_only
);
