//! Scope: another fund, another employer, another worker is 404; a role that may not is 403.

use ptt_ledger::http::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

async fn other_funds_are_invisible(app: TestApp) {
    let a = app.create_fund("fund-a").await;
    let b = app.create_fund("fund-b").await;
    let scheme_b = app.standard_scheme(&b).await;
    let employer_b = app.create_employer(&b, "22222222").await;
    let worker_b = app.create_worker(&b, &employer_b, "B-1").await;
    app.grant(&b, &worker_b, &scheme_b, "100.00", 2026).await.expect(201);

    for path in [
        format!("/v1/funds/{}", b.id),
        format!("/v1/funds/{}/workers/{worker_b}", b.id),
        format!("/v1/funds/{}/workers/{worker_b}/budget", b.id),
        format!("/v1/funds/{}/workers/{worker_b}/ledger", b.id),
        format!("/v1/funds/{}/employers/{employer_b}", b.id),
        format!("/v1/funds/{}/schemes/{scheme_b}", b.id),
        format!("/v1/funds/{}/ledger/verify", b.id),
        // Fund A's path with fund B's ids.
        format!("/v1/funds/{}/workers/{worker_b}", a.id),
        format!("/v1/funds/{}/workers/{worker_b}/budget", a.id),
        format!("/v1/funds/{}/employers/{employer_b}", a.id),
    ] {
        app.get(&path, &a.admin).await.expect_problem(404, "not_found");
    }
    // Fund A cannot grant to fund B's worker through its own fund either.
    let body = json!({"worker_id": worker_b, "scheme_id": scheme_b, "amount": "5.00", "grant_year": 2026});
    app.post(&format!("/v1/funds/{}/grants", b.id), &a.admin, &body).await.expect_problem(404, "not_found");
    app.post(&format!("/v1/funds/{}/grants", a.id), &a.admin, &body).await.expect_problem(422, "unknown_reference");
    let budget = app.budget(&b, &worker_b).await;
    assert_eq!(budget["accounts"][0]["available"], "100.00");
}

async fn employers_see_only_their_own_workers(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let mine = app.create_employer(&fund, "11111111").await;
    let theirs = app.create_employer(&fund, "22222222").await;
    let my_worker = app.create_worker(&fund, &mine, "M-1").await;
    let their_worker = app.create_worker(&fund, &theirs, "T-1").await;
    app.grant(&fund, &their_worker, &scheme, "300.00", 2026).await.expect(201);
    let hr = app.token(Role::Employer, Some(&fund.id), Some(&mine), None);

    app.get(&format!("/v1/funds/{}/workers/{my_worker}", fund.id), &hr).await.expect(200);
    app.get(&format!("/v1/funds/{}/workers/{their_worker}", fund.id), &hr).await.expect_problem(404, "not_found");
    app.get(&format!("/v1/funds/{}/workers/{their_worker}/budget", fund.id), &hr).await.expect_problem(404, "not_found");
    app.get(&format!("/v1/funds/{}/workers/{their_worker}/ledger", fund.id), &hr).await.expect_problem(404, "not_found");
    app.get(&format!("/v1/funds/{}/employers/{theirs}", fund.id), &hr).await.expect_problem(404, "not_found");
    let list = app.get(&format!("/v1/funds/{}/workers", fund.id), &hr).await.expect(200);
    let ids: Vec<&str> = list.body["items"].as_array().expect("items").iter().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(ids, vec![my_worker.as_str()]);
    // An employer registers workers for itself only.
    let body = json!({"participant_number": "X-1", "employer_id": theirs});
    app.post(&format!("/v1/funds/{}/workers", fund.id), &hr, &body).await.expect_problem(422, "unknown_reference");
    let body = json!({"participant_number": "M-2", "employer_id": mine});
    app.post(&format!("/v1/funds/{}/workers", fund.id), &hr, &body).await.expect(201);
    // Employers cannot grant money.
    let grant = json!({"worker_id": my_worker, "scheme_id": scheme, "amount": "5.00", "grant_year": 2026});
    app.post(&format!("/v1/funds/{}/grants", fund.id), &hr, &grant).await.expect_problem(403, "forbidden");
}

async fn workers_see_only_themselves_and_the_board_no_one(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "11111111").await;
    let me = app.create_worker(&fund, &employer, "W-1").await;
    let other = app.create_worker(&fund, &employer, "W-2").await;
    app.grant(&fund, &me, &scheme, "250.00", 2026).await.expect(201);
    let worker = app.token(Role::Worker, Some(&fund.id), None, Some(&me));
    let budget = app.get(&format!("/v1/funds/{}/workers/{me}/budget", fund.id), &worker).await.expect(200);
    assert_eq!(budget.body["accounts"][0]["available"], "250.00");
    app.get(&format!("/v1/funds/{}/workers/{other}/budget", fund.id), &worker).await.expect_problem(404, "not_found");
    app.get(&format!("/v1/funds/{}/workers", fund.id), &worker).await.expect_problem(403, "forbidden");

    let board = app.token(Role::Board, Some(&fund.id), None, None);
    for path in [
        format!("/v1/funds/{}/workers", fund.id),
        format!("/v1/funds/{}/workers/{me}", fund.id),
        format!("/v1/funds/{}/workers/{me}/budget", fund.id),
        format!("/v1/funds/{}/workers/{me}/ledger", fund.id),
    ] {
        app.get(&path, &board).await.expect_problem(403, "forbidden");
    }
    app.get(&format!("/v1/funds/{}/ledger/digest", fund.id), &board).await.expect(200);
}

on_both_backends!(
    other_funds_are_invisible,
    employers_see_only_their_own_workers,
    workers_see_only_themselves_and_the_board_no_one
);
