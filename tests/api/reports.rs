//! The monthly report, checked against figures computed by hand for a small fund.

use ptt_ledger::http::auth::Role;
use chrono::Datelike;
use serde_json::{json, Value};

use crate::helpers::{claim_body, days_ahead, this_year, Fund, Funded, TestApp};
use crate::on_both_backends;

struct SmallFund {
    fund: Fund,
}

/// Four workers: three with budget (2500.00 granted), spending 300 + 200 (reversed) + 100,
/// a voucher of 100 reserved, one coaching session.
async fn small_fund(app: &TestApp) -> SmallFund {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let metaal = app.create_employer(&fund, "11111111").await;
    let body = json!({"kvk_number": "22222222", "name": "Techniek BV", "sector": "techniek"});
    let techniek = app.post(&format!("/v1/funds/{}/employers", fund.id), &fund.admin, &body).await.expect(201).id();
    let year = this_year();
    let mut ids = Vec::new();
    for (employer, number, birth, education) in [
        (&metaal, "W1", json!(year - 36), json!("praktisch")),
        (&metaal, "W2", json!(year - 56), json!("middelbaar")),
        (&techniek, "W3", json!(year - 66), json!("theoretisch")),
        (&techniek, "W4", Value::Null, Value::Null),
    ] {
        let body = json!({"participant_number": number, "employer_id": employer, "birth_year": birth, "education_level": education});
        ids.push(app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &body).await.expect(201).id());
    }
    for (worker, amount) in [(&ids[0], "1000.00"), (&ids[1], "1000.00"), (&ids[2], "500.00")] {
        app.grant(&fund, worker, &scheme, amount, year).await.expect(201);
    }
    let funded = |worker: &String| Funded { fund: fund.clone(), scheme: scheme.clone(), employer: metaal.clone(), worker: worker.clone() };
    let mut c1 = claim_body(&funded(&ids[0]), "300.00", "R-1");
    c1["provider"] = json!("Aanbieder A");
    app.claim(&fund, &fund.admin, &c1).await.expect(201);
    let mut c2 = claim_body(&funded(&ids[1]), "200.00", "R-2");
    c2["provider"] = json!("Aanbieder B");
    let c2 = app.claim(&fund, &fund.admin, &c2).await.expect(201).body;
    app.post(&format!("/v1/funds/{}/claims/{}/reverse", fund.id, c2["id"].as_str().expect("id")), &fund.admin, &json!({"reason": "geannuleerd"}))
        .await
        .expect(200);
    let mut c3 = claim_body(&funded(&ids[2]), "100.00", "R-3");
    c3["provider"] = json!("Aanbieder A");
    app.claim(&fund, &fund.admin, &c3).await.expect(201);
    let voucher = json!({"worker_id": ids[2], "scheme_id": scheme, "amount": "100.00", "course": "C", "provider": "Aanbieder C", "valid_until": days_ahead(30)});
    app.post(&format!("/v1/funds/{}/vouchers", fund.id), &fund.admin, &voucher).await.expect(201);
    app.session(&fund, &ids[0], &crate::helpers::days_ago(0)).await.expect(201);
    SmallFund { fund }
}

fn this_month(app: &TestApp) -> String {
    app.today().format("%Y-%m").to_string()
}

fn cell<'a>(cells: &'a Value, key: &str) -> &'a Value {
    cells.as_array().expect("cells").iter().find(|c| c["key"] == key).unwrap_or_else(|| panic!("no cell {key} in {cells}"))
}

async fn every_figure_matches_the_hand_computed_report(app: TestApp) {
    let s = small_fund(&app).await;
    let month = this_month(&app);
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", s.fund.id), &s.fund.admin).await.expect(200).body;
    assert_eq!(r["month"], month.as_str());
    assert_eq!(r["provisional"], true, "this month has not ended");
    assert_eq!(r["flows"], json!({"granted": "2500.00", "spent": "600.00", "reversed": "200.00", "expired": "0.00"}));
    assert_eq!(r["positions"], json!({"available": "2000.00", "reserved": "100.00"}));
    assert_eq!(r["utilisation"], json!({"granted_ytd": "2500.00", "spent_ytd": "400.00", "utilisation_ytd_pct": "16.0"}));
    assert_eq!(r["workers"], json!({"eligible": 4, "with_budget": 3, "spent_month": 2, "spent_ytd": 2, "coached_ytd": 1}));
    assert_eq!(
        r["guidance"],
        json!({"coached_and_spent": 1, "coached_not_spent": 0, "spent_not_coached": 1, "neither": 1,
               "uptake_with_guidance_pct": "100.0", "uptake_without_guidance_pct": "50.0", "suppressed": false})
    );
    let b = &r["breakdowns"];
    let metaal = cell(&b["sector"], "metaal");
    assert_eq!(
        (metaal["workers"].as_i64(), metaal["workers_spent_ytd"].as_i64(), metaal["workers_coached_ytd"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!((metaal["granted_ytd"].as_str(), metaal["spent_ytd"].as_str(), metaal["utilisation_ytd_pct"].as_str()), (Some("2000.00"), Some("300.00"), Some("15.0")));
    let techniek = cell(&b["sector"], "techniek");
    assert_eq!((techniek["workers"].as_i64(), techniek["spent_ytd"].as_str(), techniek["utilisation_ytd_pct"].as_str()), (Some(1), Some("100.00"), Some("20.0")));
    assert_eq!(cell(&b["age_band"], "35_54")["workers"], 1);
    assert_eq!(cell(&b["age_band"], "55_plus")["workers"], 2);
    assert_eq!(cell(&b["education_level"], "praktisch")["spent_ytd"], "300.00");
    assert_eq!(cell(&b["education_level"], "middelbaar")["spent_ytd"], "0.00");
    assert_eq!(cell(&b["scheme"], "ptt")["workers"], 3);
    assert_eq!(b["employer"].as_array().map(Vec::len), Some(2));

    let trend = r["trend"].as_array().expect("trend");
    assert_eq!(trend.len(), 12);
    let last = &trend[11];
    assert_eq!((last["month"].as_str(), last["granted"].as_str(), last["spent"].as_str()), (Some(month.as_str()), Some("2500.00"), Some("400.00")));
    assert_eq!(last["workers_spent"], 3);
    assert!(trend[..11].iter().all(|p| p["granted"] == "0.00"));
    assert_eq!(r["signals"]["lapsing_next_3_months"]["workers"], 0);
    assert_eq!(r["signals"]["providers"], 1, "Aanbieder B's only claim was reversed");
    assert_eq!(
        r["payments"],
        json!({"approved_unpaid_claims": 2, "approved_unpaid": "400.00", "paid_month_claims": 0, "paid_month": "0.00", "objections_open": 0, "under_review_claims": 0, "under_review": "0.00"}),
        "300 and 100 approved and unpaid; the reversed claim is neither"
    );
    assert_eq!(r["signals"]["top10_provider_share_pct"], "100.0");
    assert_eq!(r["backdated"]["transactions"], 0);
    let digest = app.get(&format!("/v1/funds/{}/ledger/digest", s.fund.id), &s.fund.admin).await.expect(200).body;
    assert_eq!(r["digest"]["value"], digest["digest"], "nothing was recorded since: the month-end digest is today's");
}

async fn the_board_sees_no_small_cells(app: TestApp) {
    let s = small_fund(&app).await;
    let month = this_month(&app);
    let board = app.token(Role::Board, Some(&s.fund.id), None, None);
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", s.fund.id), &board).await.expect(200).body;
    assert_eq!(r["small_cells_suppressed"], true);
    for breakdown in ["scheme", "employer", "sector", "age_band", "education_level"] {
        for c in r["breakdowns"][breakdown].as_array().expect("cells") {
            assert_eq!(c["suppressed"], true, "{breakdown}: {c}");
            assert_eq!(c["workers"], Value::Null);
            assert_eq!(c["spent_ytd"], Value::Null);
        }
    }
    assert_eq!(r["guidance"]["suppressed"], true);
    assert_eq!(r["guidance"]["coached_and_spent"], Value::Null);
    // Fund-wide totals stay: they are not cells.
    assert_eq!(r["flows"]["spent"], "600.00");
    let html = app.client.get(format!("{}/v1/funds/{}/reports/monthly?month={month}&format=html", app.address, s.fund.id)).bearer_auth(&board).send().await.expect("sent");
    let html = html.text().await.expect("html");
    // Every breakdown row (1 + 2 + 2 + 2 + 3) is shown as suppressed, with no figures.
    assert!(html.matches("afgeschermd (minder dan 5 werknemers)").count() >= 5, "{html}");
}

/// A cell of enough workers but only a few spenders is hidden from the board too: its spending
/// would be those few people's.
async fn the_board_sees_no_small_spender_counts(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let mut by_employer = Vec::new();
    for (kvk, workers) in [("11111111", 6), ("22222222", 6), ("33333333", 7)] {
        let employer = app.create_employer(&fund, kvk).await;
        for i in 0..workers {
            let worker = app.create_worker(&fund, &employer, &format!("{kvk}-{i}")).await;
            app.grant(&fund, &worker, &scheme, "500.00", this_year()).await.expect(201);
            if kvk == "11111111" && i < 2 {
                let f = Funded { fund: fund.clone(), scheme: scheme.clone(), employer: employer.clone(), worker: worker.clone() };
                app.claim(&fund, &fund.admin, &claim_body(&f, "75.00", &format!("INV-{i}"))).await.expect(201);
            }
        }
        by_employer.push(employer);
    }
    let month = this_month(&app);
    let board = app.token(Role::Board, Some(&fund.id), None, None);
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", fund.id), &board).await.expect(200).body;
    let cells = r["breakdowns"]["employer"].as_array().expect("cells").clone();
    let cell = |id: &str| cells.iter().find(|c| c["key"] == id).cloned().expect("cell");
    assert_eq!((cell(&by_employer[0])["suppressed"].clone(), cell(&by_employer[0])["spent_ytd"].clone()), (json!(true), Value::Null), "2 spenders of 6");
    assert_eq!(cell(&by_employer[1])["suppressed"], true, "the next smallest, so the first is not the total minus the rest");
    assert_eq!((cell(&by_employer[2])["suppressed"].clone(), cell(&by_employer[2])["workers"].clone()), (json!(false), json!(7)));
    // The back office sees every figure.
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", fund.id), &fund.admin).await.expect(200).body;
    let first = r["breakdowns"]["employer"].as_array().expect("cells").iter().find(|c| c["key"] == by_employer[0].as_str()).cloned().expect("cell");
    assert_eq!((first["workers_spent_ytd"].clone(), first["spent_ytd"].clone()), (json!(2), json!("150.00")));
}

async fn later_activity_does_not_change_an_earlier_month(app: TestApp) {
    let s = small_fund(&app).await;
    let previous = (app.today().with_day(1).expect("day") - chrono::Duration::days(1)).format("%Y-%m").to_string();
    let path = format!("/v1/funds/{}/reports/monthly?month={previous}", s.fund.id);
    let before = app.get(&path, &s.fund.admin).await.expect(200).body;
    let workers = app.get(&format!("/v1/funds/{}/workers", s.fund.id), &s.fund.admin).await.expect(200).body;
    let worker = workers["items"][0]["id"].as_str().expect("worker").to_string();
    let scheme = app.get(&format!("/v1/funds/{}/schemes", s.fund.id), &s.fund.admin).await.expect(200).body["items"][0]["id"].as_str().expect("scheme").to_string();
    app.grant(&s.fund, &worker, &scheme, "50.00", this_year()).await.expect(201);
    let after = app.get(&path, &s.fund.admin).await.expect(200).body;
    assert_eq!(before, after);
    assert_eq!(after["provisional"], false, "last month has ended");
    assert_eq!(after["workers"]["eligible"], 0, "workers registered this month are not in last month's report");
    let month = this_month(&app);
    let now = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", s.fund.id), &s.fund.admin).await.expect(200).body;
    assert_eq!(now["flows"]["granted"], "2550.00");
}

async fn csv_and_html_are_what_spreadsheets_and_printers_want(app: TestApp) {
    let s = small_fund(&app).await;
    let month = this_month(&app);
    let base = format!("{}/v1/funds/{}/reports/monthly?month={month}", app.address, s.fund.id);
    // A name that a spreadsheet would run as a formula, and markup: text in the CSV, inert in HTML.
    let employers = app.get(&format!("/v1/funds/{}/employers?kvk_number=11111111", s.fund.id), &s.fund.admin).await.expect(200).body;
    let employer = employers["items"][0]["id"].as_str().expect("employer").to_string();
    let evil = "=cmd|' /C calc'!A0 <script>alert(1)</script>";
    app.send(reqwest::Method::PATCH, &format!("/v1/funds/{}/employers/{employer}", s.fund.id), Some(&s.fund.admin), Some(&json!({"name": evil})))
        .await
        .expect(200);
    let response = app.client.get(format!("{base}&format=csv&csv_dialect=nl")).bearer_auth(&s.fund.admin).send().await.expect("sent");
    assert!(response.headers()["content-type"].to_str().expect("ct").starts_with("text/csv"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let text = response.text().await.expect("csv");
    // For Excel: a byte-order mark (or it reads UTF-8 as Windows-1252) and CRLF line ends.
    let text = text.strip_prefix('\u{feff}').expect("the nl dialect starts with a byte-order mark");
    assert!(text.lines().count() > 1 && text.split_inclusive('\n').all(|line| line.ends_with("\r\n")), "CRLF line ends");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_string).collect();
    assert_eq!(header[..4], ["month", "breakdown", "key", "label"]);
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows parse");
    assert_eq!(rows.len(), 1 + 2 + 2 + 2 + 3, "scheme, employers, sectors, age bands, education levels");
    let metaal = rows.iter().find(|r| &r[1] == "sector" && &r[2] == "metaal").expect("metaal row");
    assert_eq!((&metaal[7], &metaal[8], &metaal[9]), ("2000,00", "300,00", "15,0"));
    let named = rows.iter().find(|r| &r[1] == "employer" && &r[2] == employer.as_str()).expect("the employer's row");
    assert_eq!(&named[3], format!("'{evil}"), "the name is text, not a formula");
    let standard = app.client.get(format!("{base}&format=csv")).bearer_auth(&s.fund.admin).send().await.expect("sent").text().await.expect("csv");
    assert!(standard.starts_with("month;") && !standard.contains('\r'), "the standard dialect is plain UTF-8 with LF");

    let response = app.client.get(format!("{base}&format=html")).bearer_auth(&s.fund.admin).send().await.expect("sent");
    assert!(response.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
    assert_eq!(response.headers()["content-security-policy"], "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.expect("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.to_lowercase().contains("<script"));
    assert!(html.contains("&lt;script&gt;"), "the name is escaped");
    assert!(!html.to_lowercase().contains("http"), "no external assets or links");
    assert!(html.contains("<svg"));
    assert!(html.contains("Begeleiding en besteding"));
    assert!(html.contains("Techniek BV"));
    let problem = app.client.get(format!("{base}&format=bogus")).bearer_auth(&s.fund.admin).send().await.expect("sent");
    assert_eq!(problem.headers()["x-content-type-options"], "nosniff", "errors too");
    app.get(&format!("/v1/funds/{}/reports/monthly?month=2026-13", s.fund.id), &s.fund.admin).await.expect_problem(400, "invalid_query");
    app.get(&format!("/v1/funds/{}/reports/monthly?month=2099-01", s.fund.id), &s.fund.admin).await.expect_problem(422, "invalid_field");
    let hr = app.token(Role::Employer, Some(&s.fund.id), Some("01a22154-0c1c-7438-81c0-f3ad5b27b749"), None);
    app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", s.fund.id), &hr).await.expect_problem(403, "forbidden");
}

on_both_backends!(
    every_figure_matches_the_hand_computed_report,
    the_board_sees_no_small_cells,
    the_board_sees_no_small_spender_counts,
    later_activity_does_not_change_an_earlier_month,
    csv_and_html_are_what_spreadsheets_and_printers_want
);
