//! Walking every money route with the wrong token: an employer never moves another employer's
//! worker's money, the board never reaches a worker, `exp` leeway is short.

use ptt_ledger::http::auth::Role;
use serde_json::json;

use crate::helpers::{claim_body, days_ago, days_ahead, now, standard_scheme_body, TestApp, TEST_SECRET};
use crate::on_both_backends;

async fn an_employer_cannot_move_another_employers_money_through_any_route(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await; // their worker
    let mine = app.create_employer(&f.fund, "87654321").await;
    let hr = app.token(Role::Employer, Some(&f.fund.id), Some(&mine), None);
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "THEIRS-1")).await.expect(201).body;
    let voucher_body = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "50.00", "course": "C", "provider": "P", "valid_until": days_ahead(30)});
    let voucher = app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &voucher_body).await.expect(201).body;
    let (claim_id, voucher_id) = (claim["id"].as_str().expect("id"), voucher["id"].as_str().expect("id"));
    let fund = &f.fund.id;
    let attempts = vec![
        (format!("/v1/funds/{fund}/grants"), json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "10.00", "grant_year": crate::helpers::this_year()})),
        (format!("/v1/funds/{fund}/grants"), json!({"grants": [{"worker_id": f.worker, "scheme_id": f.scheme, "grant_year": crate::helpers::this_year()}]})),
        (format!("/v1/funds/{fund}/claims"), claim_body(&f, "100.00", "MINE-1")),
        (format!("/v1/funds/{fund}/vouchers"), voucher_body.clone()),
        (format!("/v1/funds/{fund}/vouchers/{voucher_id}/cancel"), json!({})),
        (format!("/v1/funds/{fund}/claims/{claim_id}/approve"), json!({})),
        (format!("/v1/funds/{fund}/claims/{claim_id}/reject"), json!({"reason": "x"})),
        (format!("/v1/funds/{fund}/claims/{claim_id}/pay"), json!({"payment_reference": "x"})),
        (format!("/v1/funds/{fund}/claims/{claim_id}/reverse"), json!({"reason": "x"})),
        (format!("/v1/funds/{fund}/coaching-sessions"), json!({"worker_id": f.worker, "held_on": days_ago(1), "duration_minutes": 30, "kind": "intake"})),
        (format!("/v1/funds/{fund}/expiry-runs"), json!({"as_of": days_ago(0)})),
        (format!("/v1/funds/{fund}/schemes"), standard_scheme_body("mine")),
        (format!("/v1/funds/{fund}/schemes/{}/versions", f.scheme), json!({})),
    ];
    for (path, body) in attempts {
        let reply = app.post(&path, &hr, &body).await;
        assert!(reply.status.is_client_error(), "{path} answered {} to another employer", reply.status);
    }
    for path in [
        format!("/v1/funds/{fund}/claims/{claim_id}"),
        format!("/v1/funds/{fund}/vouchers/{voucher_id}"),
        format!("/v1/funds/{fund}/workers/{}", f.worker),
        format!("/v1/funds/{fund}/workers/{}/budget", f.worker),
        format!("/v1/funds/{fund}/workers/{}/ledger", f.worker),
    ] {
        app.get(&path, &hr).await.expect_problem(404, "not_found");
    }
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["reserved"].as_str(), account["spent"].as_str()), (Some("850.00"), Some("50.00"), Some("100.00")));
    let claim_now = app.get(&format!("/v1/funds/{fund}/claims/{claim_id}"), &f.fund.admin).await.expect(200).body;
    assert_eq!(claim_now["status"], "approved");
}

async fn the_board_reaches_no_worker_route(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "1000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "B-1")).await.expect(201).body;
    let board = app.token(Role::Board, Some(&f.fund.id), None, None);
    let fund = &f.fund.id;
    for path in [
        format!("/v1/funds/{fund}/workers"),
        format!("/v1/funds/{fund}/workers/{}", f.worker),
        format!("/v1/funds/{fund}/workers/{}/budget", f.worker),
        format!("/v1/funds/{fund}/workers/{}/ledger", f.worker),
        format!("/v1/funds/{fund}/claims"),
        format!("/v1/funds/{fund}/claims/{}", claim["id"].as_str().expect("id")),
        format!("/v1/funds/{fund}/vouchers"),
        format!("/v1/funds/{fund}/coaching-sessions"),
        format!("/v1/funds/{fund}/employers"),
        "/v1/me/budget".to_string(),
    ] {
        app.get(&path, &board).await.expect_problem(403, "forbidden");
    }
}

async fn an_expired_token_is_refused_beyond_a_short_leeway(app: TestApp) {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let key = EncodingKey::from_secret(TEST_SECRET.as_bytes());
    let expired = |seconds_ago: u64| encode(&Header::default(), &json!({"sub": "ops", "role": "platform_admin", "exp": now() - seconds_ago}), &key).expect("sign");
    app.get("/v1/funds", &expired(61)).await.expect_problem(401, "unauthenticated");
    app.get("/v1/funds", &expired(45)).await.expect_problem(401, "unauthenticated");
    // Within the 30 s leeway a clock a little behind is tolerated.
    app.get("/v1/funds", &expired(5)).await.expect(200);
}

on_both_backends!(
    an_employer_cannot_move_another_employers_money_through_any_route,
    the_board_reaches_no_worker_route,
    an_expired_token_is_refused_beyond_a_short_leeway
);
