//! The provider registry, schemes that pay only registered providers, suspensions holding
//! claims and vouchers, and payment batches that pay providers directly.

use ptt_ledger::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{claim_body, standard_scheme_body, today_text, Fund, Reply, TestApp};
use crate::on_both_backends;

async fn register(app: &TestApp, fund: &Fund, kvk: &str, name: &str, iban: Option<&str>) -> String {
    let body = json!({"kvk_number": kvk, "name": name, "iban": iban, "quality_labels": ["CRKBO", "NRTO"]});
    app.post(&format!("/v1/funds/{}/providers", fund.id), &fund.admin, &body).await.expect(201).id()
}

async fn suspend(app: &TestApp, fund: &Fund, provider: &str) -> Reply {
    app.post(&format!("/v1/funds/{}/providers/{provider}/suspend", fund.id), &fund.admin, &json!({"reason": "onderzoek naar facturen"})).await
}

fn registered_scheme(payee: &str) -> Value {
    let mut body = standard_scheme_body("ptt");
    body["provider_policy"] = json!("registered");
    body["payee"] = json!(payee);
    body
}

fn with_provider(mut body: Value, provider: &str) -> Value {
    body["provider_id"] = json!(provider);
    body
}

async fn the_registry_keeps_providers_and_their_suspensions(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let base = format!("/v1/funds/{}/providers", fund.id);
    let body = json!({"kvk_number": "44445555", "name": "Techniek Opleidingen BV", "iban": "nl91 abna 0417 1643 00", "quality_labels": ["CRKBO"]});
    let created = app.post(&base, &fund.admin, &body).await.expect(201);
    let provider = created.body.clone();
    assert_eq!((provider["iban"].as_str(), provider["status"].as_str(), provider["quality_labels"].clone()), (Some("NL91ABNA0417164300"), Some("active"), json!(["CRKBO"])));
    let id = provider["id"].as_str().unwrap().to_string();
    let again = app.post(&base, &fund.admin, &body).await.expect_problem(409, "duplicate_kvk_number");
    assert_eq!(again.body["existing_id"], id.as_str());
    assert_eq!(app.get(&format!("{base}?kvk_number=44445555"), &fund.admin).await.expect(200).body["items"][0]["id"], id.as_str());
    for bad in [json!({"kvk_number": "123", "name": "X"}), json!({"kvk_number": "12345678", "name": "X", "iban": "NL00ABNA0417164300"}),
                json!({"kvk_number": "12345678", "name": "X", "quality_labels": ["A,B"]}), json!({"kvk_number": "12345678", "name": ""})] {
        app.post(&base, &fund.admin, &bad).await.expect_problem(422, "invalid_field");
    }
    // Employers' HR systems read the registry (to name providers); coaches do not.
    let employer = app.create_employer(&fund, "12345678").await;
    app.get(&format!("{base}/{id}"), &app.token(Role::Employer, Some(&fund.id), Some(&employer), None)).await.expect(200);
    app.get(&base, &app.token(Role::Coach, Some(&fund.id), None, None)).await.expect_problem(403, "forbidden");
    app.post(&base, &app.token(Role::Employer, Some(&fund.id), Some(&employer), None), &body).await.expect_problem(403, "forbidden");

    let suspended = suspend(&app, &fund, &id).await.expect(200).body;
    let today = today_text(&app);
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["suspensions"], json!([{"suspended_on": today, "reason": "onderzoek naar facturen", "reinstated_on": null}]));
    suspend(&app, &fund, &id).await.expect_problem(409, "invalid_state");
    let reinstate = format!("{base}/{id}/reinstate");
    let active = app.post(&reinstate, &fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((active["status"].as_str(), active["suspensions"][0]["reinstated_on"].as_str()), (Some("active"), Some(today.as_str())));
    app.post(&reinstate, &fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    app.post(&format!("{base}/01a22154-0c1c-7438-81c0-f3ad5b27b749/suspend"), &fund.admin, &json!({"reason": "x"})).await.expect_problem(404, "not_found");
    let other = app.create_fund("pmgm").await;
    app.get(&format!("{base}/{id}"), &other.admin).await.expect_problem(404, "not_found");
}

async fn a_registered_scheme_takes_only_active_registered_providers(app: TestApp) {
    let f = app.funded_worker(registered_scheme("employer"), "750.00").await;
    let active = register(&app, &f.fund, "44445555", "Techniek Opleidingen BV", None).await;
    let suspended = register(&app, &f.fund, "66667777", "Snelcursus BV", None).await;
    suspend(&app, &f.fund, &suspended).await.expect(200);
    let unknown = "01a22154-0c1c-7438-81c0-f3ad5b27b749";
    for (body, reason) in [
        (claim_body(&f, "10.00", "INV-1"), "provider_not_registered"),
        (with_provider(claim_body(&f, "10.00", "INV-2"), unknown), "provider_not_registered"),
        (with_provider(claim_body(&f, "10.00", "INV-3"), &suspended), "provider_suspended"),
    ] {
        let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
        assert_eq!((claim["status"].as_str(), claim["rejection_reason"].as_str()), (Some("rejected"), Some(reason)), "{claim}");
    }
    let claim = app.claim(&f.fund, &f.fund.admin, &with_provider(claim_body(&f, "10.00", "INV-4"), &active)).await.expect(201).body;
    assert_eq!((claim["status"].as_str(), claim["provider_id"].as_str()), (Some("approved"), Some(active.as_str())));
    assert_eq!(app.available(&f).await, "740.00", "only the approved claim spent");

    let vouchers = format!("/v1/funds/{}/vouchers", f.fund.id);
    let voucher = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "50.00", "course": "C", "provider": "P", "valid_until": crate::helpers::days_ahead(30)});
    app.post(&vouchers, &f.fund.admin, &voucher).await.expect_problem(409, "provider_not_registered");
    app.post(&vouchers, &f.fund.admin, &with_provider(voucher.clone(), &suspended)).await.expect_problem(409, "provider_suspended");
    let issued = app.post(&vouchers, &f.fund.admin, &with_provider(voucher, &active)).await.expect(201).body;
    assert_eq!(issued["provider_id"], active.as_str());
    assert_eq!(app.available(&f).await, "690.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn an_open_scheme_checks_a_named_provider(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    let suspended = register(&app, &f.fund, "66667777", "Snelcursus BV", None).await;
    suspend(&app, &f.fund, &suspended).await.expect(200);
    let unknown = "01a22154-0c1c-7438-81c0-f3ad5b27b749";
    app.claim(&f.fund, &f.fund.admin, &with_provider(claim_body(&f, "10.00", "INV-1"), unknown)).await.expect_problem(422, "unknown_reference");
    let claim = app.claim(&f.fund, &f.fund.admin, &with_provider(claim_body(&f, "10.00", "INV-2"), &suspended)).await.expect(201).body;
    assert_eq!(claim["rejection_reason"], "provider_suspended");
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "10.00", "INV-3")).await.expect(201).body["status"], "approved");
    // A scheme that pays providers must know them.
    let mut body = standard_scheme_body("direct");
    body["payee"] = json!("provider");
    let reply = app.post(&format!("/v1/funds/{}/schemes", f.fund.id), &f.fund.admin, &body).await.expect_problem(422, "invalid_field");
    assert_eq!(reply.body["field"], "payee");
}

async fn batches_pay_providers_and_hold_suspended_ones(app: TestApp) {
    let f = app.funded_worker(registered_scheme("provider"), "750.00").await;
    let patch = json!({"legal_name": "Stichting OOM", "iban": "NL91ABNA0417164300"});
    app.send(reqwest::Method::PATCH, &format!("/v1/funds/{}", f.fund.id), Some(&f.fund.admin), Some(&patch)).await.expect(200);
    let paid = register(&app, &f.fund, "44445555", "Techniek Opleidingen BV", Some("DE89370400440532013000")).await;
    let held = register(&app, &f.fund, "66667777", "Lasschool Noord", Some("BE68539007547034")).await;
    let no_iban = register(&app, &f.fund, "88889999", "Zonder Rekening BV", None).await;
    let claim = |invoice: &str, provider: &str| with_provider(claim_body(&f, "100.00", invoice), provider);
    let to_paid = app.claim(&f.fund, &f.fund.admin, &claim("INV-1", &paid)).await.expect(201).id();
    let to_held = app.claim(&f.fund, &f.fund.admin, &claim("INV-2", &held)).await.expect(201).id();
    let to_none = app.claim(&f.fund, &f.fund.admin, &claim("INV-3", &no_iban)).await.expect(201).id();
    suspend(&app, &f.fund, &held).await.expect(200);

    let base = format!("/v1/funds/{}/payment-batches", f.fund.id);
    let batch = app.post(&base, &f.fund.admin, &json!({"execution_date": today_text(&app)})).await.expect(201).body;
    assert_eq!(batch["transaction_count"], 1);
    let mut skipped: Vec<(String, String)> = batch["skipped"].as_array().unwrap().iter()
        .map(|s| (s["claim_id"].as_str().unwrap().to_string(), s["reason"].as_str().unwrap().to_string())).collect();
    skipped.sort();
    let mut expected = vec![(to_held.clone(), "provider_suspended".to_string()), (to_none, "payee_iban_missing".to_string())];
    expected.sort();
    assert_eq!(skipped, expected);
    let id = batch["id"].as_str().unwrap();
    let items = app.get(&format!("{base}/{id}"), &f.fund.admin).await.expect(200).body;
    assert_eq!(items["items"], json!([{"claim_id": to_paid, "amount": "100.00", "creditor_name": "Techniek Opleidingen BV",
        "creditor_iban": "DE89370400440532013000", "end_to_end_id": to_paid.replace('-', ""), "remittance": "Factuur INV-1 PTT",
        "returned": false, "return_reason": null}]));
    crate::payments::assert_valid_pain_001(&app.client.get(format!("{}{base}/{id}/pain.001", app.address)).bearer_auth(&f.fund.admin).send().await.unwrap().text().await.unwrap());
    app.post(&format!("{base}/{id}/confirm"), &f.fund.admin, &json!({"bank_reference": "B-1"})).await.expect(200);

    // Reinstated: the held claim goes into the next batch.
    app.post(&format!("/v1/funds/{}/providers/{held}/reinstate", f.fund.id), &f.fund.admin, &json!({})).await.expect(200);
    let next = app.post(&base, &f.fund.admin, &json!({"execution_date": today_text(&app)})).await.expect(201).body;
    let next_items = app.get(&format!("{base}/{}", next["id"].as_str().unwrap()), &f.fund.admin).await.expect(200).body;
    assert_eq!((next_items["items"][0]["claim_id"].as_str(), next_items["items"][0]["creditor_name"].as_str()), (Some(to_held.as_str()), Some("Lasschool Noord")));
}

on_both_backends!(
    the_registry_keeps_providers_and_their_suspensions,
    a_registered_scheme_takes_only_active_registered_providers,
    an_open_scheme_checks_a_named_provider,
    batches_pay_providers_and_hold_suspended_ones
);
