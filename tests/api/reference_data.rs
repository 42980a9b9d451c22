//! Funds, schemes, employers, workers: create, read, list with cursors, duplicates.

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

async fn lists_page_newest_first_with_stable_cursors(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.create_employer(&fund, &format!("1000000{i}")).await);
    }
    let mut seen = Vec::new();
    let mut path = format!("/v1/funds/{}/employers?limit=2", fund.id);
    loop {
        let page = app.get(&path, &fund.admin).await.expect(200).body;
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|e| e["id"].as_str().expect("id").to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/funds/{}/employers?limit=2&after={cursor}", fund.id),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "every employer once, newest first");
}

async fn duplicates_are_409(app: TestApp) {
    let fund = app.create_fund("oom").await;
    app.post("/v1/funds", &app.platform_admin(), &json!({"code": "oom", "name": "Again"})).await.expect_problem(409, "duplicate_fund_code");
    let employer = app.create_employer(&fund, "12345678").await;
    let again = json!({"kvk_number": "12345678", "name": "Other", "sector": "metaal"});
    app.post(&format!("/v1/funds/{}/employers", fund.id), &fund.admin, &again).await.expect_problem(409, "duplicate_kvk_number");
    app.create_worker(&fund, &employer, "P-1").await;
    let again = json!({"participant_number": "P-1", "employer_id": employer});
    app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &again).await.expect_problem(409, "duplicate_participant_number");
    app.standard_scheme(&fund).await;
    app.post(&format!("/v1/funds/{}/schemes", fund.id), &fund.admin, &crate::helpers::standard_scheme_body("ptt"))
        .await
        .expect_problem(409, "duplicate_scheme_code");
    // The same KvK number in another fund is another employer.
    let other = app.create_fund("pmgm").await;
    app.create_employer(&other, "12345678").await;
}

async fn schemes_keep_their_versions(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let view = app.get(&format!("/v1/funds/{}/schemes/{scheme}", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(view["annual_amount"], "750.00");
    assert_eq!(view["funding_pct"], 100);
    assert_eq!(view["claim_deadline_days"], 120);
    assert_eq!(view["eligible_categories"], json!(["digitaal", "loopbaan", "vakopleiding"]));
    let mut rules = crate::helpers::standard_scheme_body("ignored");
    rules.as_object_mut().expect("object").remove("code");
    rules.as_object_mut().expect("object").remove("name");
    rules["annual_amount"] = json!("800.00");
    rules["effective_from"] = json!("2021-01-01");
    let path = format!("/v1/funds/{}/schemes/{scheme}/versions", fund.id);
    let view = app.post(&path, &fund.admin, &rules).await.expect(201).body;
    assert_eq!(view["annual_amount"], "800.00", "the newest version in force is shown");
    assert_eq!(view["versions"].as_array().map(Vec::len), Some(2));
    rules["effective_from"] = json!("2020-06-01");
    app.post(&path, &fund.admin, &rules).await.expect_problem(422, "invalid_field");
}

async fn workers_record_only_what_reports_need(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let employer = app.create_employer(&fund, "12345678").await;
    let body = json!({"participant_number": "P-9", "employer_id": employer, "birth_year": 1990, "education_level": "praktisch"});
    let worker = app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &body).await.expect(201).body;
    assert_eq!(worker["education_level"], "praktisch");
    let fetched = app.get(&format!("/v1/funds/{}/workers/{}", fund.id, worker["id"].as_str().expect("id")), &fund.admin).await.expect(200);
    assert_eq!(fetched.body, worker);
    let bad = json!({"participant_number": "P-10", "employer_id": employer, "education_level": "hbo"});
    app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &bad).await.expect_problem(400, "invalid_body");
    let bad = json!({"participant_number": "P-10", "employer_id": employer, "birth_year": 1850});
    app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &bad).await.expect_problem(422, "invalid_field");
    let bad = json!({"participant_number": "P-10", "employer_id": "01a22154-0c1c-7438-81c0-f3ad5b27b749"});
    app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &bad).await.expect_problem(422, "unknown_reference");
}

on_both_backends!(
    lists_page_newest_first_with_stable_cursors,
    duplicates_are_409,
    schemes_keep_their_versions,
    workers_record_only_what_reports_need
);
