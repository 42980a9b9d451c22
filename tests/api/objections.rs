//! Objections (bezwaar) to claim decisions: who may file, within 42 days, one open at a time,
//! decided both ways, and what an upheld objection allows.

use ptt_ledger::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{claim_body, standard_scheme_body, Funded, Reply, TestApp};
use crate::on_both_backends;

async fn object(app: &TestApp, f: &Funded, token: &str, claim: &str) -> Reply {
    app.post(&format!("/v1/funds/{}/claims/{claim}/objections", f.fund.id), token, &json!({"reason": "de cursus valt wel onder vakopleiding"})).await
}

async fn decide(app: &TestApp, f: &Funded, objection: &str, outcome: &str) -> Reply {
    let body = json!({"outcome": outcome, "motivation": "beoordeeld door de commissie"});
    app.post(&format!("/v1/funds/{}/objections/{objection}/decide", f.fund.id), &f.fund.admin, &body).await
}

fn rejected_claim(f: &Funded, invoice: &str) -> Value {
    let mut body = claim_body(f, "100.00", invoice);
    body["category"] = json!("vitaliteit"); // not eligible: rejected
    body
}

async fn objections_are_filed_by_those_concerned_and_decided_once(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    let employer = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    let worker = app.token(Role::Worker, Some(&f.fund.id), None, Some(&f.worker));
    let claim = app.claim(&f.fund, &employer, &rejected_claim(&f, "INV-1")).await.expect(201).body;
    assert_eq!(claim["rejection_reason"], "category_not_eligible");
    let claim = claim["id"].as_str().unwrap().to_string();

    // Others may not: another employer does not see the claim, a coach may not object.
    let other = app.create_employer(&f.fund, "99998888").await;
    object(&app, &f, &app.token(Role::Employer, Some(&f.fund.id), Some(&other), None), &claim).await.expect_problem(404, "not_found");
    object(&app, &f, &app.token(Role::Coach, Some(&f.fund.id), None, None), &claim).await.expect_problem(403, "forbidden");
    let filed = object(&app, &f, &employer, &claim).await.expect(201).body;
    assert_eq!((filed["status"].as_str(), filed["filed_by_role"].as_str()), (Some("open"), Some("employer")));
    object(&app, &f, &worker, &claim).await.expect_problem(409, "objection_open");
    let theirs = app.get(&format!("/v1/funds/{}/objections", f.fund.id), &worker).await.expect(200).body;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(1));
    let none = app.get(&format!("/v1/funds/{}/objections", f.fund.id), &app.token(Role::Employer, Some(&f.fund.id), Some(&other), None)).await.expect(200).body;
    assert_eq!(none["items"], json!([]));

    // Not upheld: the claim cannot be approved.
    let id = filed["id"].as_str().unwrap();
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    app.post(&format!("{claims}/{claim}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    let body = json!({"outcome": "upheld", "motivation": "x"});
    app.post(&format!("/v1/funds/{}/objections/{id}/decide", f.fund.id), &employer, &body).await.expect_problem(403, "forbidden");
    app.post(&format!("/v1/funds/{}/objections/{id}/decide", f.fund.id), &f.fund.admin, &json!({"outcome": "maybe", "motivation": "x"})).await.expect_problem(400, "invalid_body");
    let upheld = decide(&app, &f, id, "upheld").await.expect(200).body;
    assert_eq!((upheld["status"].as_str(), upheld["motivation"].as_str()), (Some("upheld"), Some("beoordeeld door de commissie")));
    decide(&app, &f, id, "dismissed").await.expect_problem(409, "invalid_state");
    assert_eq!(app.available(&f).await, "750.00", "the decision itself moves no money");
    let approved = app.post(&format!("{claims}/{claim}/approve"), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((approved["status"].as_str(), approved["approved_amount"].as_str()), (Some("approved"), Some("100.00")));
    assert_eq!(app.available(&f).await, "650.00");

    // Dismissed: a new objection may follow (the first is closed), but no approval.
    let second = app.claim(&f.fund, &f.fund.admin, &rejected_claim(&f, "INV-2")).await.expect(201).id();
    let objection = object(&app, &f, &f.fund.admin, &second).await.expect(201).body;
    assert_eq!(objection["filed_by_role"], "fund_admin");
    decide(&app, &f, objection["id"].as_str().unwrap(), "dismissed").await.expect(200);
    app.post(&format!("{claims}/{second}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    object(&app, &f, &worker, &second).await.expect(201);
    decide(&app, &f, "01a22154-0c1c-7438-81c0-f3ad5b27b749", "upheld").await.expect_problem(404, "not_found");
    assert_eq!(app.verify(&f.fund).await["ok"], true);

    let mut kinds = Vec::new();
    for _ in 0..50 {
        let page = app.get(&format!("/v1/funds/{}/events?types=objection.filed,objection.decided", f.fund.id), &employer).await.expect(200).body;
        kinds = page["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
        if kinds.len() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(kinds, ["objection.filed", "objection.decided", "objection.filed", "objection.decided", "objection.filed"]);
}

async fn only_rejections_and_partial_approvals_within_six_weeks(app: TestApp) {
    let mut scheme = standard_scheme_body("ptt");
    scheme["allow_partial"] = json!(true);
    let f = app.funded_worker(scheme, "150.00").await;
    let full = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "50.00", "INV-1")).await.expect(201).id();
    object(&app, &f, &f.fund.admin, &full).await.expect_problem(409, "not_objectionable");
    let partial = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "300.00", "INV-2")).await.expect(201).body;
    assert_eq!(partial["approved_amount"], "100.00");
    let partial = partial["id"].as_str().unwrap().to_string();
    let rejected = app.claim(&f.fund, &f.fund.admin, &rejected_claim(&f, "INV-3")).await.expect(201).id();
    // Day 42 after the decision is the last day; day 43 is too late.
    let today = app.today();
    app.set_today(&(today + chrono::Duration::days(43)).to_string());
    object(&app, &f, &f.fund.admin, &rejected).await.expect_problem(422, "objection_too_late");
    app.set_today(&(today + chrono::Duration::days(42)).to_string());
    object(&app, &f, &f.fund.admin, &rejected).await.expect(201);
    object(&app, &f, &f.fund.admin, &partial).await.expect(201);
    app.post(&format!("/v1/funds/{}/claims/01a22154-0c1c-7438-81c0-f3ad5b27b749/objections", f.fund.id), &f.fund.admin, &json!({"reason": "x"}))
        .await
        .expect_problem(404, "not_found");
    app.post(&format!("/v1/funds/{}/claims/{rejected}/objections", f.fund.id), &f.fund.admin, &json!({"reason": ""})).await.expect_problem(422, "invalid_field");
    let open = app.get(&format!("/v1/funds/{}/objections?status=open", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(2));
    // The month's report counts them, and the approved claims not yet paid.
    let month = app.today().format("%Y-%m").to_string();
    let report = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!((report["payments"]["objections_open"].as_i64(), report["payments"]["approved_unpaid"].as_str()), (Some(2), Some("150.00")));
    app.get(&format!("/v1/funds/{}/objections?status=pending", f.fund.id), &f.fund.admin).await.expect_problem(400, "invalid_query");
}

on_both_backends!(
    objections_are_filed_by_those_concerned_and_decided_once,
    only_rejections_and_partial_approvals_within_six_weeks
);

/// An upheld objection to a partial approval lets the back office top it up, within budget, as a
/// further spend of the claim; a batch then pays the whole amount, and a reversal gives all of it
/// back. Not once the claim is in an open batch, and not beyond the fund's share.
async fn an_upheld_objection_tops_up_a_partial_approval(app: TestApp) {
    let mut scheme = standard_scheme_body("ptt");
    scheme["allow_partial"] = json!(true);
    let f = app.funded_worker(scheme, "150.00").await;
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let partial = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "300.00", "INV-1")).await.expect(201).body;
    assert_eq!(partial["approved_amount"], "150.00");
    let id = partial["id"].as_str().unwrap().to_string();
    // Without an upheld objection an approved claim is not approved again.
    app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    let objection = object(&app, &f, &f.fund.admin, &id).await.expect(201).body;
    decide(&app, &f, objection["id"].as_str().unwrap(), "upheld").await.expect(200);
    // No budget left: nothing to top up with.
    app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "insufficient_budget");
    // Part of what is missing arrives: the partial scheme tops up what it can.
    app.grant(&f.fund, &f.worker, &f.scheme, "100.00", crate::helpers::this_year()).await.expect(201);
    let topped = app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((topped["status"].as_str(), topped["approved_amount"].as_str()), (Some("approved"), Some("250.00")));
    app.grant(&f.fund, &f.worker, &f.scheme, "500.00", crate::helpers::this_year()).await.expect(201);
    // A later objection that is dismissed ends what the earlier upholding allowed; upheld again,
    // the top-up may go on.
    let second = object(&app, &f, &f.fund.admin, &id).await.expect(201).body;
    decide(&app, &f, second["id"].as_str().unwrap(), "dismissed").await.expect(200);
    app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    let third = object(&app, &f, &f.fund.admin, &id).await.expect(201).body;
    decide(&app, &f, third["id"].as_str().unwrap(), "upheld").await.expect(200);
    // In an open batch it waits for the batch.
    app.send(reqwest::Method::PATCH, &format!("/v1/funds/{}", f.fund.id), Some(&f.fund.admin), Some(&json!({"legal_name": "Stichting OOM", "iban": "NL91ABNA0417164300"}))).await.expect(200);
    app.send(reqwest::Method::PATCH, &format!("/v1/funds/{}/employers/{}", f.fund.id, f.employer), Some(&f.fund.admin), Some(&json!({"iban": "NL64ABNA0417164301"}))).await.expect(200);
    let batches = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let batch = app.post(&batches, &f.fund.admin, &json!({"execution_date": app.today().to_string()})).await.expect(201).id();
    app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "in_payment_batch");
    app.post(&format!("{batches}/{batch}/cancel"), &f.fund.admin, &json!({})).await.expect(200);
    let topped = app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!(topped["approved_amount"], "300.00");
    app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    assert_eq!(app.account(&f).await["spent"], "300.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
    // A batch pays the whole approved amount.
    let batch = app.post(&batches, &f.fund.admin, &json!({"execution_date": app.today().to_string()})).await.expect(201).body;
    assert_eq!(batch["total"], "300.00", "{batch}");
    app.post(&format!("{batches}/{}/cancel", batch["id"].as_str().unwrap()), &f.fund.admin, &json!({})).await.expect(200);
    // A reversal gives back all three spends.
    let reversed = app.post(&format!("{claims}/{id}/reverse"), &f.fund.admin, &json!({"reason": "cursus geannuleerd"})).await.expect(200).body;
    assert_eq!(reversed["status"], "reversed");
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["spent"].as_str()), (Some("750.00"), Some("0.00")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

on_both_backends!(an_upheld_objection_tops_up_a_partial_approval);
