//! Grant lots: FIFO consumption, lapsing at year end, vouchers that outlive their lot,
//! scheme versions, the outreach list and worker self-service.

use ptt_ledger::http::auth::Role;
use serde_json::json;

use crate::helpers::{claim_body, standard_scheme_body, this_year, Funded, TestApp};
use crate::on_both_backends;

/// A worker in a scheme whose grants are valid for one calendar year.
async fn one_year_scheme(app: &TestApp, granted: &str) -> Funded {
    let mut scheme = standard_scheme_body("ptt");
    scheme["validity_years"] = json!(1);
    app.funded_worker(scheme, granted).await
}

async fn spending_takes_the_oldest_lot_first(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "500.00").await; // validity 3
    let year = this_year();
    app.grant(&f.fund, &f.worker, &f.scheme, "300.00", year - 2).await.expect(201);
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "400.00", "FIFO-1")).await.expect(201);
    let lots = app.account(&f).await["lots"].clone();
    assert_eq!(lots[0]["grant_year"], year - 2);
    assert_eq!(lots[0]["remaining"], "0.00", "the older lot is used up first");
    assert_eq!(lots[1]["grant_year"], year);
    assert_eq!(lots[1]["remaining"], "400.00");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn budget_lapses_exactly_at_year_end_and_only_once(app: TestApp) {
    let f = one_year_scheme(&app, "500.00").await;
    let year = this_year();
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "200.00", "SP-1")).await.expect(201);
    // On 31 December the lot is still usable, and a run as of that day lapses nothing.
    app.set_today(&format!("{year}-12-31"));
    let run = app.expire(&f.fund, &format!("{year}-12-31")).await;
    assert_eq!(run["lapsed"], "0.00");
    app.set_today(&format!("{}-01-01", year + 1));
    app.post(&format!("/v1/funds/{}/expiry-runs", f.fund.id), &f.fund.admin, &json!({"as_of": format!("{}-01-02", year + 1)}))
        .await
        .expect_problem(422, "invalid_field");
    let run = app.expire(&f.fund, &format!("{}-01-01", year + 1)).await;
    assert_eq!(run["lapsed"], "300.00");
    assert_eq!(run["lots_lapsed"], 1);
    let account = app.account(&f).await;
    assert_eq!(account["available"], "0.00");
    assert_eq!(account["expired"], "300.00");
    assert_eq!(account["spent"], "200.00");
    let again = app.expire(&f.fund, &format!("{}-01-01", year + 1)).await;
    assert_eq!((again["lapsed"].as_str(), again["accounts_lapsed"].as_u64()), (Some("0.00"), Some(0)));
    assert_eq!(app.account(&f).await["expired"], "300.00", "the second run changed nothing");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn a_lot_past_its_date_cannot_be_spent_before_the_run(app: TestApp) {
    let f = one_year_scheme(&app, "500.00").await;
    let year = this_year();
    app.set_today(&format!("{}-01-05", year + 1));
    let mut body = claim_body(&f, "100.00", "LATE-1");
    body["training_start"] = json!(format!("{year}-12-01"));
    body["training_end"] = json!(format!("{year}-12-20"));
    let claim = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(claim["rejection_reason"], "insufficient_budget");
    let account = app.account(&f).await;
    assert_eq!(account["available"], "0.00", "not yet lapsed, but not usable: {account}");
    assert_eq!(account["lapse_pending"], "500.00", "{account}");
    // The outreach list no longer shows money that can no longer be used.
    let list = app.get(&format!("/v1/funds/{}/workers?budget_lapsing_within_days=90", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
}

async fn a_voucher_keeps_its_money_past_the_lot_and_lapses_when_it_expires(app: TestApp) {
    let f = one_year_scheme(&app, "500.00").await;
    let year = this_year();
    let valid_until = format!("{}-01-31", year + 1);
    let body = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "200.00", "course": "C", "provider": "P", "valid_until": valid_until});
    let voucher = app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &body).await.expect(201).body;
    app.set_today(&format!("{}-01-01", year + 1));
    let run = app.expire(&f.fund, &format!("{}-01-01", year + 1)).await;
    assert_eq!(run["lapsed"], "300.00", "only the unreserved money lapses");
    assert_eq!(run["vouchers_expired"], 0);
    let account = app.account(&f).await;
    assert_eq!((account["reserved"].as_str(), account["expired"].as_str()), (Some("200.00"), Some("300.00")));

    app.set_today(&format!("{}-02-01", year + 1));
    let run = app.expire(&f.fund, &format!("{}-02-01", year + 1)).await;
    assert_eq!(run["vouchers_expired"], 1);
    assert_eq!(run["released"], "200.00");
    assert_eq!(run["lapsed"], "200.00", "released money of a lapsed lot lapses in the same run");
    let account = app.account(&f).await;
    assert_eq!((account["reserved"].as_str(), account["available"].as_str(), account["expired"].as_str()), (Some("0.00"), Some("0.00"), Some("500.00")));
    let fetched = app.get(&format!("/v1/funds/{}/vouchers/{}", f.fund.id, voucher["id"].as_str().expect("id")), &f.fund.admin).await.expect(200).body;
    assert_eq!(fetched["status"], "expired");
    let mut claim = claim_body(&f, "100.00", "V-1");
    claim["voucher_code"] = voucher["code"].clone();
    assert_eq!(app.claim(&f.fund, &f.fund.admin, &claim).await.expect(201).body["rejection_reason"], "voucher_expired");
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn a_valid_voucher_can_be_redeemed_after_its_lot_lapsed(app: TestApp) {
    let f = one_year_scheme(&app, "500.00").await;
    let year = this_year();
    let body = json!({"worker_id": f.worker, "scheme_id": f.scheme, "amount": "200.00", "course": "C", "provider": "P", "valid_until": format!("{}-03-31", year + 1)});
    let voucher = app.post(&format!("/v1/funds/{}/vouchers", f.fund.id), &f.fund.admin, &body).await.expect(201).body;
    app.set_today(&format!("{}-01-20", year + 1));
    app.expire(&f.fund, &format!("{}-01-01", year + 1)).await;
    let mut claim = claim_body(&f, "150.00", "V-1");
    claim["voucher_code"] = voucher["code"].clone();
    let claim = app.claim(&f.fund, &f.fund.admin, &claim).await.expect(201).body;
    assert_eq!((claim["status"].as_str(), claim["approved_amount"].as_str()), (Some("approved"), Some("150.00")));
    // The unused 50.00 returns to its lot, which is past due: the next run lapses it.
    let run = app.expire(&f.fund, &format!("{}-01-20", year + 1)).await;
    assert_eq!(run["lapsed"], "50.00");
    let account = app.account(&f).await;
    assert_eq!((account["spent"].as_str(), account["expired"].as_str()), (Some("150.00"), Some("350.00")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

async fn a_new_scheme_version_applies_from_its_date(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "2000.00").await;
    let from = app.today() - chrono::Duration::days(20);
    let mut rules = standard_scheme_body("x");
    rules.as_object_mut().expect("object").retain(|k, _| k != "code" && k != "name");
    rules["funding_pct"] = json!(50);
    rules["effective_from"] = json!(from.to_string());
    app.post(&format!("/v1/funds/{}/schemes/{}/versions", f.fund.id, f.scheme), &f.fund.admin, &rules).await.expect(201);
    // Training that started before the new version: the old rules (100 %).
    let old = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "OLD")).await.expect(201).body; // started 40 days ago
    assert_eq!(old["approved_amount"], "100.00");
    let mut body = claim_body(&f, "100.00", "NEW");
    body["training_start"] = json!(from.to_string());
    let new = app.claim(&f.fund, &f.fund.admin, &body).await.expect(201).body;
    assert_eq!(new["approved_amount"], "50.00");
    assert_ne!(new["scheme_version_id"], old["scheme_version_id"]);
}

async fn the_outreach_list_names_workers_whose_budget_lapses_soon(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "100.00").await; // lapses in three years
    let year = this_year();
    let soon = app.create_worker(&f.fund, &f.employer, "P-SOON").await;
    app.grant(&f.fund, &soon, &f.scheme, "400.00", year - 2).await.expect(201); // lapses 31 Dec this year
    app.set_today(&format!("{year}-11-01"));
    let path = format!("/v1/funds/{}/workers?budget_lapsing_within_days=90", f.fund.id);
    let list = app.get(&path, &f.fund.admin).await.expect(200).body;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], soon.as_str());
    assert_eq!(items[0]["lapsing"]["amount"], "400.00");
    assert_eq!(items[0]["lapsing"]["first_expires_on"], format!("{year}-12-31"));
    let hr = app.token(Role::Employer, Some(&f.fund.id), Some(&f.employer), None);
    app.get(&path, &hr).await.expect_problem(403, "forbidden");
    let short = app.get(&format!("/v1/funds/{}/workers?budget_lapsing_within_days=30", f.fund.id), &f.fund.admin).await.expect(200).body;
    assert_eq!(short["items"].as_array().map(Vec::len), Some(0));
}

async fn a_worker_sees_its_own_budget(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "100.00", "ME-1")).await.expect(201);
    app.session(&f.fund, &f.worker, &crate::helpers::days_ago(2)).await.expect(201);
    let me = app.token(Role::Worker, Some(&f.fund.id), None, Some(&f.worker));
    let mine = app.get("/v1/me/budget", &me).await.expect(200).body;
    assert_eq!(mine["worker_id"], f.worker.as_str());
    assert_eq!(mine["accounts"][0]["available"], "650.00");
    assert_eq!(mine["accounts"][0]["lots"][0]["expires_on"], format!("{}-12-31", this_year() + 2));
    assert_eq!(mine["claims"][0]["invoice_reference"], "ME-1");
    assert_eq!(mine["guidance"]["last_session_on"], crate::helpers::days_ago(2));
    app.get("/v1/me/budget", &f.fund.admin).await.expect_problem(403, "forbidden");
    let stranger = app.token(Role::Worker, Some(&f.fund.id), None, Some("01a22154-0c1c-7438-81c0-f3ad5b27b749"));
    app.get("/v1/me/budget", &stranger).await.expect_problem(404, "not_found");
}

on_both_backends!(
    spending_takes_the_oldest_lot_first,
    budget_lapses_exactly_at_year_end_and_only_once,
    a_lot_past_its_date_cannot_be_spent_before_the_run,
    a_voucher_keeps_its_money_past_the_lot_and_lapses_when_it_expires,
    a_valid_voucher_can_be_redeemed_after_its_lot_lapsed,
    a_new_scheme_version_applies_from_its_date,
    the_outreach_list_names_workers_whose_budget_lapses_soon,
    a_worker_sees_its_own_budget
);

async fn the_cli_expiry_run_lapses_back_dated_lots(app: TestApp) {
    let f = app.funded_worker(standard_scheme_body("ptt"), "100.00").await;
    app.grant(&f.fund, &f.worker, &f.scheme, "250.00", this_year() - 5).await.expect(201); // lapsed years ago
    let url = match &app.db.url {
        ptt_ledger::db::DbUrl::Sqlite(path) => path.display().to_string(),
        ptt_ledger::db::DbUrl::Postgres(url) => url.clone(),
    };
    let today = ptt_ledger::domain::time::today().to_string();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ptt-ledger"))
        .args(["expire", "--as-of", &today, "--fund", &f.fund.id, "--database-url", &url])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run ptt-ledger expire");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 lot(s) of 1 account(s) lapsed, 250.00 lapsed"), "{stdout}");
    let account = app.account(&f).await;
    assert_eq!((account["available"].as_str(), account["expired"].as_str()), (Some("100.00"), Some("250.00")));
    assert_eq!(app.verify(&f.fund).await["ok"], true);
}

on_both_backends!(the_cli_expiry_run_lapses_back_dated_lots);
