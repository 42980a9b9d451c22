//! Review of large claims (scheme `review_above`): the claim goes to `under_review` with its
//! money held, so nothing else can spend it, until the back office approves or rejects.

use ptt_ledger::http::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{claim_body, days_ahead, standard_scheme_body, today_text, Funded, TestApp};
use crate::on_both_backends;

fn reviewed_scheme() -> Value {
    let mut scheme = standard_scheme_body("ptt");
    scheme["review_above"] = json!("500.00");
    scheme
}

async fn balances(app: &TestApp, f: &Funded) -> (String, String, String) {
    let a = app.account(f).await;
    let text = |k: &str| a[k].as_str().unwrap().to_string();
    (text("available"), text("reserved"), text("spent"))
}

fn strs(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

async fn report_payments(app: &TestApp, f: &Funded) -> Value {
    let month = app.today().format("%Y-%m").to_string();
    app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", f.fund.id), &f.fund.admin).await.expect(200).body["payments"].clone()
}

async fn a_large_claim_holds_its_money_until_reviewed(app: TestApp) {
    let f = app.funded_worker(reviewed_scheme(), "1000.00").await;
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let scheme = app.get(&format!("/v1/funds/{}/schemes/{}", f.fund.id, f.scheme), &f.fund.admin).await.expect(200).body;
    assert_eq!(scheme["review_above"], "500.00");

    // At the threshold: approved at once.
    let small = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "500.00", "INV-1")).await.expect(201).body;
    assert_eq!(small["status"], "approved");
    // Above it: under review, its money held (reserved), nothing approved yet.
    let employer = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    let large = app.claim(&f.fund, &employer, &claim_body(&f, "400.01", "INV-2")).await.expect(201).body;
    assert_eq!(large["status"], "approved", "400.01 is under the threshold");
    app.grant(&f.fund, &f.worker, &f.scheme, "750.00", crate::helpers::this_year()).await.expect(201);
    let held = app.claim(&f.fund, &employer, &claim_body(&f, "500.01", "INV-3")).await.expect(201).body;
    assert_eq!((held["status"].as_str(), held["approved_amount"].as_str(), held["held_amount"].as_str()), (Some("under_review"), Some("0.00"), Some("500.01")));
    let id = held["id"].as_str().unwrap().to_string();
    let waiting = app.get(&format!("{claims}?status=under_review"), &f.fund.admin).await.expect(200).body;
    assert_eq!(waiting["items"].as_array().map(|i| i.iter().map(|c| c["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(id)]));
    assert_eq!(balances(&app, &f).await, strs("349.98", "500.01", "900.01"));
    // Nothing else can spend the held money.
    let more = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "350.00", "INV-4")).await.expect(201).body;
    assert_eq!(more["rejection_reason"], "insufficient_budget");
    // Not payable, not reversible, not objectionable, and not in a payment batch.
    app.post(&format!("{claims}/{id}/pay"), &f.fund.admin, &json!({"payment_reference": "X"})).await.expect_problem(409, "invalid_state");
    app.post(&format!("{claims}/{id}/reverse"), &f.fund.admin, &json!({"reason": "x"})).await.expect_problem(409, "invalid_state");
    app.post(&format!("{claims}/{id}/objections"), &employer, &json!({"reason": "x"})).await.expect_problem(409, "not_objectionable");
    // Only the back office decides.
    app.post(&format!("{claims}/{id}/approve"), &employer, &json!({})).await.expect_problem(403, "forbidden");
    let payments = report_payments(&app, &f).await;
    assert_eq!((payments["under_review_claims"].as_i64(), payments["under_review"].as_str()), (Some(1), Some("500.01")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);

    let approved = app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((approved["status"].as_str(), approved["approved_amount"].as_str(), approved["held_amount"].as_str()), (Some("approved"), Some("500.01"), None));
    assert_eq!(balances(&app, &f).await, strs("349.98", "0.00", "1400.02"));
    app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect_problem(409, "invalid_state");
    app.post(&format!("{claims}/{id}/reject"), &f.fund.admin, &json!({"reason": "te laat"})).await.expect_problem(409, "invalid_state");

    // Rejected on review: the held money comes back to the lots it came from.
    app.grant(&f.fund, &f.worker, &f.scheme, "750.00", crate::helpers::this_year()).await.expect(201);
    let second = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "900.00", "INV-5")).await.expect(201).id();
    assert_eq!(balances(&app, &f).await, strs("199.98", "900.00", "1400.02"));
    let rejected = app.post(&format!("{claims}/{second}/reject"), &f.fund.admin, &json!({"reason": "offerte ontbreekt"})).await.expect(200).body;
    assert_eq!((rejected["status"].as_str(), rejected["rejection_reason"].as_str()), (Some("rejected"), Some("rejected_by_fund")));
    assert_eq!(balances(&app, &f).await, strs("1099.98", "0.00", "1400.02"));
    let payments = report_payments(&app, &f).await;
    assert_eq!((payments["under_review_claims"].as_i64(), payments["under_review"].as_str()), (Some(0), Some("0.00")));
    // The rejection can be objected to, and an upheld objection lets the back office approve.
    let objection = app.post(&format!("{claims}/{second}/objections"), &employer, &json!({"reason": "offerte bijgevoegd"})).await.expect(201).body;
    let decide = json!({"outcome": "upheld", "motivation": "offerte ontvangen"});
    app.post(&format!("/v1/funds/{}/objections/{}/decide", f.fund.id, objection["id"].as_str().unwrap()), &f.fund.admin, &decide).await.expect(200);
    let approved = app.post(&format!("{claims}/{second}/approve"), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!(approved["approved_amount"], "900.00");
    assert_eq!(balances(&app, &f).await, strs("199.98", "0.00", "2300.02"));
    assert_eq!(app.verify(&f.fund).await["ok"], true);

    // The feed tells an HR system the claim waits for review, and then what was decided.
    let mut kinds = Vec::new();
    for _ in 0..50 {
        let page = app.get(&format!("/v1/funds/{}/events?types=claim.under_review", f.fund.id), &employer).await.expect(200).body;
        kinds = page["items"].as_array().unwrap().iter().map(|e| e["data"]["id"].as_str().unwrap().to_string()).collect();
        if kinds.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(kinds, [id, second]);
}

async fn a_voucher_claim_under_review_holds_the_voucher(app: TestApp) {
    let f = app.funded_worker(reviewed_scheme(), "1000.00").await;
    let vouchers = format!("/v1/funds/{}/vouchers", f.fund.id);
    let voucher_body = json!({
        "worker_id": f.worker, "scheme_id": f.scheme, "amount": "400.00",
        "course": "Lassen MIG/MAG", "provider": "Techniek Opleidingen BV", "valid_until": days_ahead(5)
    });
    let voucher = app.post(&vouchers, &f.fund.admin, &voucher_body).await.expect(201).body;
    let code = voucher["code"].as_str().unwrap();
    let mut body = claim_body(&f, "700.00", "INV-1");
    body["voucher_code"] = json!(code);
    let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!((claim["status"].as_str(), claim["held_amount"].as_str()), (Some("under_review"), Some("700.00")));
    // 400.00 stays in the voucher's reservation, 300.00 more is reserved for the claim.
    assert_eq!(balances(&app, &f).await, strs("300.00", "700.00", "0.00"));
    let id = claim["id"].as_str().unwrap();

    // The held voucher cannot be cancelled, used by another claim, or expired meanwhile.
    let voucher_id = voucher["id"].as_str().unwrap();
    app.post(&format!("{vouchers}/{voucher_id}/cancel"), &f.fund.admin, &json!({})).await.expect_problem(409, "voucher_held_by_claim");
    let mut other = claim_body(&f, "100.00", "INV-2");
    other["voucher_code"] = json!(code);
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &other).await.expect(201).body["rejection_reason"], "voucher_used");
    let later = app.today() + chrono::Duration::days(10);
    app.set_today(&later.to_string());
    let run = app.expire(&f.fund, &later.to_string()).await;
    assert_eq!(run["vouchers_expired"], 0, "{run}");
    assert_eq!(app.verify(&f.fund).await["ok"], true);

    let approved = app.post(&format!("/v1/funds/{}/claims/{id}/approve", f.fund.id), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((approved["approved_amount"].as_str(), approved["voucher_id"].as_str()), (Some("700.00"), Some(voucher_id)));
    assert_eq!(balances(&app, &f).await, strs("300.00", "0.00", "700.00"));
    let voucher = app.get(&format!("{vouchers}/{voucher_id}"), &f.fund.admin).await.expect(200).body;
    assert_eq!(voucher["status"], "redeemed");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn guidance_comes_first_then_review(app: TestApp) {
    let mut scheme = reviewed_scheme();
    scheme["guidance_required_above"] = json!("300.00");
    let f = app.funded_worker(scheme, "1000.00").await;
    let claim = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "600.00", "INV-1")).await.expect(201).body;
    assert_eq!(claim["status"], "awaiting_guidance");
    assert_eq!(balances(&app, &f).await, strs("1000.00", "0.00", "0.00"), "a claim waiting for guidance holds nothing");
    // The coaching session meets the guidance rule: the claim is now large enough for review.
    app.session(&f.fund, &f.worker, &today_text(&app)).await.expect(201);
    let id = claim["id"].as_str().unwrap();
    let claim = app.get(&format!("/v1/funds/{}/claims/{id}", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!((claim["status"].as_str(), claim["held_amount"].as_str()), (Some("under_review"), Some("600.00")));
    assert_eq!(balances(&app, &f).await, strs("400.00", "600.00", "0.00"));

    // Approve and reject at the same moment: exactly one decides, and the money follows it.
    let (approve_path, reject_path) = (format!("/v1/funds/{}/claims/{id}/approve", f.fund.id), format!("/v1/funds/{}/claims/{id}/reject", f.fund.id));
    let (empty, reason) = (json!({}), json!({"reason": "dubbel"}));
    let (approve, reject) = tokio::join!(app.post(&approve_path, &f.fund.admin, &empty), app.post(&reject_path, &f.fund.admin, &reason));
    let statuses = [approve.status.as_u16(), reject.status.as_u16()];
    assert!(statuses == [200, 409] || statuses == [409, 200], "{statuses:?}");
    let expected = if approve.status.as_u16() == 200 { strs("400.00", "0.00", "600.00") } else { strs("1000.00", "0.00", "0.00") };
    assert_eq!(balances(&app, &f).await, expected);
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn review_above_is_checked_like_any_amount(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let path = format!("/v1/funds/{}/schemes", fund.id);
    for bad in [json!("-1.00"), json!("1.001"), json!(500), json!("abc")] {
        let mut body = standard_scheme_body("ptt");
        body["review_above"] = bad.clone();
        let reply = app.post(&path, &fund.admin, &body).await;
        assert_eq!(reply.status.as_u16() / 100, 4, "{bad}: {}", reply.body);
    }
    // Zero reviews every claim.
    let mut body = standard_scheme_body("ptt");
    body["review_above"] = json!("0.00");
    let scheme = app.post(&path, &fund.admin, &body).await.expect(201).body;
    assert_eq!(scheme["review_above"], "0.00");
}

/// A claim rejected on review whose voucher is gone by the time an objection is upheld (cancelled
/// here) is approved from the available budget, not left stuck on a voucher it cannot use.
async fn an_upheld_claim_whose_voucher_is_gone_is_approved_from_budget(app: TestApp) {
    let f = app.funded_worker(reviewed_scheme(), "2000.00").await;
    let vouchers = format!("/v1/funds/{}/vouchers", f.fund.id);
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let body = json!({
        "worker_id": f.worker, "scheme_id": f.scheme, "amount": "600.00",
        "course": "Lassen MIG/MAG", "provider": "Techniek Opleidingen BV", "valid_until": days_ahead(60)
    });
    let voucher = app.post(&vouchers, &f.fund.admin, &body).await.expect(201).body;
    let mut claim = claim_body(&f, "900.00", "INV-1");
    claim["voucher_code"] = voucher["code"].clone();
    let id = app.claim(&f.fund, &f.fund.admin, &claim).await.expect(201).id();
    app.post(&format!("{claims}/{id}/reject"), &f.fund.admin, &json!({"reason": "offerte ontbreekt"})).await.expect(200);
    app.post(&format!("{vouchers}/{}/cancel", voucher["id"].as_str().unwrap()), &f.fund.admin, &json!({})).await.expect(200);
    assert_eq!(balances(&app, &f).await, strs("2000.00", "0.00", "0.00"));
    let objection = app.post(&format!("{claims}/{id}/objections"), &f.fund.admin, &json!({"reason": "offerte nagestuurd"})).await.expect(201).body;
    let decide = json!({"outcome": "upheld", "motivation": "offerte ontvangen"});
    app.post(&format!("/v1/funds/{}/objections/{}/decide", f.fund.id, objection["id"].as_str().unwrap()), &f.fund.admin, &decide).await.expect(200);
    let approved = app.post(&format!("{claims}/{id}/approve"), &f.fund.admin, &json!({})).await.expect(200).body;
    assert_eq!((approved["approved_amount"].as_str(), approved["voucher_id"].as_str()), (Some("900.00"), None));
    assert_eq!(balances(&app, &f).await, strs("1100.00", "0.00", "900.00"));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

on_both_backends!(
    an_upheld_claim_whose_voucher_is_gone_is_approved_from_budget,
    a_large_claim_holds_its_money_until_reviewed,
    a_voucher_claim_under_review_holds_the_voucher,
    guidance_comes_first_then_review,
    review_above_is_checked_like_any_amount,
    the_review_migration_keeps_every_claim,
    a_fault_halfway_through_a_review_leaves_nothing
);

/// The review migration rebuilds SQLite's claims table (a CHECK constraint cannot change in
/// place): a database holding claims, payments, objections and vouchers is taken back one
/// version and migrated up again, and keeps every claim and a ledger that verifies.
async fn the_review_migration_keeps_every_claim(mut app: TestApp) {
    let f = app.funded_worker(reviewed_scheme(), "1000.00").await;
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let paid = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "INV-1")).await.expect(201).id();
    app.post(&format!("{claims}/{paid}/pay"), &f.fund.admin, &json!({"payment_reference": "BANK-1"})).await.expect(200);
    let mut rejected = claim_body(&f, "50.00", "INV-2");
    rejected["category"] = json!("vitaliteit");
    let rejected = app.claim(&f.fund, &f.fund.admin, &rejected).await.expect(201).id();
    app.post(&format!("{claims}/{rejected}/objections"), &f.fund.admin, &json!({"reason": "x"})).await.expect(201);
    let before = app.get(&format!("{claims}?limit=100"), &f.fund.admin).await.expect(200).body;

    let mut conn = app.raw_connection();
    let reverted = ptt_ledger::db::conn::revert_last_migration(&mut conn).expect("revert");
    assert!(reverted.contains("000012"), "{reverted}");
    drop(conn);
    app.restart().await;

    let after = app.get(&format!("{claims}?limit=100"), &f.fund.admin).await.expect(200).body;
    assert_eq!(after, before);
    assert_eq!(app.verify(&f.fund).await["ok"], true);
    // And the claims table takes the new status and refuses a DELETE as before.
    // (Going back lost the scheme's review_above, a column of the newer version.)
    let mut scheme = standard_scheme_body("rev");
    scheme["review_above"] = json!("0.00");
    let scheme = app.create_scheme(&f.fund, scheme).await;
    app.grant(&f.fund, &f.worker, &scheme, "100.00", crate::helpers::this_year()).await.expect(201);
    let mut body = claim_body(&f, "10.00", "INV-3");
    body["scheme_id"] = json!(scheme);
    let held = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(held["status"], "under_review");
    let mut conn = app.raw_connection();
    let deleted = diesel::RunQueryDsl::execute(diesel::sql_query("DELETE FROM claims"), &mut conn);
    assert!(deleted.is_err(), "claims are append-only");
}

/// A fault halfway through sending a claim to review (after its reservation and rows are
/// written) or through rejecting it (after the release) answers 500 and leaves nothing: no
/// claim and no hold, or the claim still under review with its money held.
async fn a_fault_halfway_through_a_review_leaves_nothing(app: TestApp) {
    use ptt_ledger::test_hooks::{ERROR_AFTER_WRITE, PANIC_AFTER_WRITE};
    let f = app.funded_worker(reviewed_scheme(), "1000.00").await;
    let claims = format!("/v1/funds/{}/claims", f.fund.id);
    let raw = |path: String, body: Value| {
        let request = app.client.post(format!("{}{path}", app.address)).bearer_auth(&f.fund.admin).json(&body);
        async move { request.send().await.expect("sent").status().as_u16() }
    };
    for fault in [PANIC_AFTER_WRITE, ERROR_AFTER_WRITE] {
        let mut body = claim_body(&f, "600.00", &format!("FAULT-{fault}"));
        body["course"] = json!(fault);
        assert_eq!(raw(claims.clone(), body).await, 500);
        assert_eq!(balances(&app, &f).await, strs("1000.00", "0.00", "0.00"));
    }
    let listed = app.get(&claims, &f.fund.admin).await.expect(200).body;
    assert_eq!(listed["items"], json!([]), "no claim of a faulted submission was stored");
    let id = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "600.00", "INV-1")).await.expect(201).id();
    for fault in [PANIC_AFTER_WRITE, ERROR_AFTER_WRITE] {
        assert_eq!(raw(format!("{claims}/{id}/reject"), json!({"reason": fault})).await, 500);
        assert_eq!(app.get(&format!("{claims}/{id}"), &f.fund.admin).await.expect(200).body["status"], "under_review");
        assert_eq!(balances(&app, &f).await, strs("400.00", "600.00", "0.00"));
    }
    app.post(&format!("{claims}/{id}/reject"), &f.fund.admin, &json!({"reason": "geen offerte"})).await.expect(200);
    assert_eq!(balances(&app, &f).await, strs("1000.00", "0.00", "0.00"));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}
