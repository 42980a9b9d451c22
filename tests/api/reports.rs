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
    // Every count of 1 to 4 workers or claims, and the money of such a count.
    assert_eq!(r["workers"], json!({"eligible": null, "with_budget": null, "spent_month": null, "spent_ytd": null, "coached_ytd": null}));
    assert_eq!(r["actions"]["approved_unpaid"], json!({"count": null, "amount": null}));
    assert_eq!(r["actions"]["awaiting_guidance"], json!({"count": 0, "amount": "0.00"}));
    assert_eq!((&r["payments"]["approved_unpaid_claims"], &r["payments"]["approved_unpaid"]), (&Value::Null, &Value::Null));
    assert_eq!(r["payments"]["objections_open"], 0);
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
    // And a provider named the same way, through a claim (provider names reach the report's
    // provider concentration).
    let workers = app.get(&format!("/v1/funds/{}/workers?limit=10", s.fund.id), &s.fund.admin).await.expect(200).body;
    let w1 = workers["items"].as_array().unwrap().iter().find(|w| w["participant_number"] == "W1").expect("W1");
    let schemes = app.get(&format!("/v1/funds/{}/schemes", s.fund.id), &s.fund.admin).await.expect(200).body;
    let funded = Funded {
        fund: s.fund.clone(),
        scheme: schemes["items"][0]["id"].as_str().unwrap().to_string(),
        employer: employer.clone(),
        worker: w1["id"].as_str().unwrap().to_string(),
    };
    let mut body = claim_body(&funded, "10.00", "R-EVIL");
    body["provider"] = json!(evil);
    assert_eq!(app.claim(&s.fund, &s.fund.admin, &body).await.expect(201).body["status"], "approved");
    let response = app.client.get(format!("{base}&format=csv&csv_dialect=nl")).bearer_auth(&s.fund.admin).send().await.expect("sent");
    assert!(response.headers()["content-type"].to_str().expect("ct").starts_with("text/csv"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let text = response.text().await.expect("csv");
    // For Excel: a byte-order mark (or it reads UTF-8 as Windows-1252) and CRLF line ends.
    let text = text.strip_prefix('\u{feff}').expect("the nl dialect starts with a byte-order mark");
    assert!(text.lines().count() > 1 && text.split_inclusive('\n').all(|line| line.ends_with("\r\n")), "CRLF line ends");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_string).collect();
    assert_eq!(header, ["maand", "sectie", "groep", "sleutel", "omschrijving", "maat", "waarde"], "Dutch headers for Excel");
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows parse");
    let value = |section: &str, group: &str, key: &str, measure: &str| -> String {
        rows.iter()
            .find(|r| &r[1] == section && &r[2] == group && &r[3] == key && &r[5] == measure)
            .unwrap_or_else(|| panic!("no row {section}/{group}/{key}/{measure}"))[6]
            .to_string()
    };
    // Every section of the JSON report is there, with decimal commas.
    assert_eq!(value("breakdowns", "sector", "metaal", "granted_ytd"), "2000,00");
    assert_eq!(value("breakdowns", "sector", "metaal", "utilisation_ytd_pct"), "15,5");
    assert_eq!(value("flows", "", "", "spent"), "610,00");
    assert_eq!(value("guidance", "", "", "coached_and_spent"), "1");
    assert_eq!(value("trend", "", &month, "spent"), "410,00");
    assert_eq!(value("guidance_by_segment", "education_level", "praktisch", "with_guidance.uptake_pct"), "100,0");
    assert_eq!(value("comparison", "this_month", "", "granted"), "2500,00");
    assert_eq!(value("actions", "approved_unpaid", "", "amount"), "410,00");
    assert_eq!(value("providers", "top", "Aanbieder A", "share_pct"), "97,6");
    assert_eq!(value("payments", "", "", "objections_open"), "0");
    assert!(value("headline", "", "", "").starts_with("Van de werknemers"));
    assert_eq!(value("digest", "", "", "accounts"), "3");
    let sections: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.get(1).unwrap()).collect();
    for section in ["flows", "positions", "utilisation", "workers", "guidance", "breakdowns", "trend", "signals", "guidance_by_segment",
        "guided_before_first_spend", "headline", "caveat", "comparison", "actions", "providers", "payments", "backdated", "digest"] {
        assert!(sections.contains(section), "section {section} missing: {sections:?}");
    }
    let named = rows.iter().find(|r| &r[1] == "breakdowns" && &r[2] == "employer" && &r[3] == employer.as_str()).expect("the employer's row");
    assert_eq!(&named[4], format!("'{evil}"), "the name is text, not a formula");
    let provider = rows.iter().find(|r| &r[1] == "providers" && &r[2] == "top" && r[3].contains("cmd|")).expect("the provider's row");
    assert_eq!(&provider[3], format!("'{evil}"), "the provider is text, not a formula");
    let standard = app.client.get(format!("{base}&format=csv")).bearer_auth(&s.fund.admin).send().await.expect("sent").text().await.expect("csv");
    assert!(standard.starts_with("month;section;") && !standard.contains('\r'), "the standard dialect is plain UTF-8 with LF");

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


fn row<'a>(rows: &'a Value, segment: &str) -> &'a Value {
    rows.as_array().expect("rows").iter().find(|r| r["segment"] == segment).unwrap_or_else(|| panic!("no row {segment} in {rows}"))
}

fn side(workers: i64, spent: i64, pct: Option<&str>) -> Value {
    json!({"workers": workers, "spent": spent, "uptake_pct": pct, "suppressed": false})
}

/// DESIGN's "What the board asks next" on the small fund, by hand: W1 (praktisch, 35–54, metaal)
/// coached and spent; W2 (middelbaar, 55+, metaal) spent and was refunded; W3 (theoretisch, 55+,
/// techniek) spent; both employers have 2 workers.
async fn the_board_questions_match_hand_computed_figures(app: TestApp) {
    let s = small_fund(&app).await;
    let month = this_month(&app);
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", s.fund.id), &s.fund.admin).await.expect(200).body;
    let g = &r["guidance_by_segment"];
    let education: Vec<&str> = g["education_level"].as_array().unwrap().iter().map(|r| r["segment"].as_str().unwrap()).collect();
    assert_eq!(education, ["praktisch", "middelbaar", "theoretisch"]);
    assert_eq!(row(&g["education_level"], "praktisch")["with_guidance"], side(1, 1, Some("100.0")));
    assert_eq!(row(&g["education_level"], "praktisch")["without_guidance"], side(0, 0, None));
    assert_eq!(row(&g["education_level"], "middelbaar")["without_guidance"], side(1, 0, Some("0.0")));
    assert_eq!(row(&g["education_level"], "theoretisch")["without_guidance"], side(1, 1, Some("100.0")));
    assert_eq!(row(&g["age_band"], "55_plus")["without_guidance"], side(2, 1, Some("50.0")));
    assert_eq!(row(&g["sector"], "metaal")["with_guidance"], side(1, 1, Some("100.0")));
    assert_eq!(row(&g["sector"], "metaal")["without_guidance"], side(1, 0, Some("0.0")));
    assert_eq!(g["employer_size"].as_array().map(Vec::len), Some(1));
    assert_eq!(row(&g["employer_size"], "1_9")["without_guidance"], side(2, 1, Some("50.0")));
    assert_eq!(r["guided_before_first_spend"], json!({"guided_spenders": 1, "before_first_spend": 1, "pct": "100.0", "suppressed": false}));
    assert_eq!(
        r["headline"],
        "Van de werknemers met begeleiding gebruikte dit jaar 100,0 % hun budget, tegen 50,0 % zonder begeleiding; \
         het verschil is het grootst bij metaal (100,0 procentpunt)."
    );
    assert!(r["caveat"].as_str().unwrap().contains("geen oorzaak"));

    let previous = (app.today().with_day(1).unwrap() - chrono::Duration::days(1)).format("%Y-%m").to_string();
    let last_year = format!("{}-{}", app.today().year() - 1, app.today().format("%m"));
    let c = &r["comparison"];
    assert_eq!(c["this_month"], json!({"month": month, "granted": "2500.00", "spent": "400.00", "expired": "0.00", "workers_spent": 3}));
    assert_eq!(c["previous_month"], json!({"month": previous, "granted": "0.00", "spent": "0.00", "expired": "0.00", "workers_spent": 0}));
    assert_eq!(c["same_month_last_year"]["month"], last_year.as_str());
    assert_eq!(r["trend"].as_array().map(Vec::len), Some(12));

    // The voucher (valid 30 days from today) shows when it lapses within 30 days of the month's end.
    let last_day = (app.today().with_day(1).unwrap() + chrono::Months::new(1)) - chrono::Duration::days(1);
    let valid_until = crate::helpers::date(&days_ahead(30));
    let soon = valid_until > last_day && valid_until <= last_day + chrono::Duration::days(30);
    let a = &r["actions"];
    assert_eq!(a["vouchers_expiring_30_days"], if soon { json!({"count": 1, "amount": "100.00"}) } else { json!({"count": 0, "amount": "0.00"}) });
    assert_eq!(a["awaiting_guidance"], json!({"count": 0, "amount": "0.00"}));
    assert_eq!(a["under_review"], json!({"count": 0, "amount": "0.00"}));
    assert_eq!(a["approved_unpaid"], json!({"count": 2, "amount": "400.00"}));
    assert_eq!(a["lapsing"], json!([]));
    assert_eq!(a["objections_open"], 0);
    // Aanbieder B's only claim was refunded: all of this year's net spending went to A.
    assert_eq!(r["providers"], json!({"top_share_pct": "100.0", "hhi": 10000, "top": [{"provider": "Aanbieder A", "spent": "400.00", "share_pct": "100.0"}]}));

    // For the board every side under 5 workers is withheld.
    let board = app.token(Role::Board, Some(&s.fund.id), None, None);
    let b = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", s.fund.id), &board).await.expect(200).body;
    for dimension in ["education_level", "age_band", "sector", "employer_size"] {
        for row in b["guidance_by_segment"][dimension].as_array().unwrap() {
            for half in ["with_guidance", "without_guidance"] {
                let h = &row[half];
                assert!(h["suppressed"] == true || h["workers"] == 0, "{dimension} {half}: {h}");
                if h["suppressed"] == true {
                    assert_eq!((&h["workers"], &h["spent"], &h["uptake_pct"]), (&Value::Null, &Value::Null, &Value::Null));
                }
            }
        }
    }
    assert_eq!(b["guided_before_first_spend"]["suppressed"], true);
    assert_eq!(b["guided_before_first_spend"]["guided_spenders"], Value::Null);
}

/// A waiting claim and a claim under review appear in the action panel, and leave it when decided.
async fn the_action_panel_counts_what_waits(app: TestApp) {
    let mut scheme = crate::helpers::standard_scheme_body("ptt");
    scheme["guidance_required_above"] = json!("300.00");
    scheme["review_above"] = json!("200.00");
    let f = app.funded_worker(scheme, "1000.00").await;
    let month = this_month(&app);
    let path = format!("/v1/funds/{}/reports/monthly?month={month}", f.fund.id);
    let waiting = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "400.00", "INV-1")).await.expect(201).body;
    assert_eq!(waiting["status"], "awaiting_guidance");
    let held = app.claim(&f.fund, &f.fund.admin, &claim_body(&f, "250.00", "INV-2")).await.expect(201).body;
    assert_eq!(held["status"], "under_review");
    let a = app.get(&path, &f.fund.admin).await.expect(200).body["actions"].clone();
    assert_eq!((&a["awaiting_guidance"], &a["under_review"]), (&json!({"count": 1, "amount": "400.00"}), &json!({"count": 1, "amount": "250.00"})));
    // Guidance arrives: the waiting claim goes to review too; then both are decided.
    app.session(&f.fund, &f.worker, &crate::helpers::today_text(&app)).await.expect(201);
    let a = app.get(&path, &f.fund.admin).await.expect(200).body["actions"].clone();
    assert_eq!((&a["awaiting_guidance"], &a["under_review"]), (&json!({"count": 0, "amount": "0.00"}), &json!({"count": 2, "amount": "650.00"})));
    for claim in [&waiting, &held] {
        app.post(&format!("/v1/funds/{}/claims/{}/approve", f.fund.id, claim["id"].as_str().unwrap()), &f.fund.admin, &json!({})).await.expect(200);
    }
    let a = app.get(&path, &f.fund.admin).await.expect(200).body["actions"].clone();
    assert_eq!((&a["under_review"], &a["approved_unpaid"]), (&json!({"count": 0, "amount": "0.00"}), &json!({"count": 2, "amount": "650.00"})));
}

/// For the board a segment row and the breakdown cell of the same value hide together: a
/// hidden side would otherwise follow from the cell's totals (and the other way round).
async fn segments_and_breakdowns_hide_together_for_the_board(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let scheme = app.standard_scheme(&fund).await;
    let employer = app.create_employer(&fund, "11111111").await;
    let mut coached = Vec::new();
    for (i, level) in ["praktisch", "middelbaar", "theoretisch"].iter().flat_map(|l| std::iter::repeat_n(*l, 6)).enumerate() {
        let body = json!({"participant_number": format!("W{i}"), "employer_id": employer, "birth_year": 1980, "education_level": level});
        let worker = app.post(&format!("/v1/funds/{}/workers", fund.id), &fund.admin, &body).await.expect(201).id();
        app.grant(&fund, &worker, &scheme, "750.00", this_year()).await.expect(201);
        if level == "praktisch" && coached.len() < 2 {
            coached.push(worker);
        }
    }
    for worker in &coached {
        app.session(&fund, worker, &crate::helpers::days_ago(0)).await.expect(201);
    }
    let month = this_month(&app);
    let board = app.token(Role::Board, Some(&fund.id), None, None);
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", fund.id), &board).await.expect(200).body;
    let rows = &r["guidance_by_segment"]["education_level"];
    let cells = &r["breakdowns"]["education_level"];
    let hidden_row = |key: &str| row(rows, key)["with_guidance"]["suppressed"] == true && row(rows, key)["without_guidance"]["suppressed"] == true;
    // Two coached praktisch workers: that row is hidden whole, and its breakdown cell with it.
    assert!(hidden_row("praktisch"), "{rows}");
    assert_eq!(cell(cells, "praktisch")["suppressed"], true);
    // Never alone: one more value goes, row and cell together.
    let others: Vec<&str> = ["middelbaar", "theoretisch"].into_iter().filter(|k| hidden_row(k)).collect();
    assert_eq!(others.len(), 1, "{rows}");
    assert_eq!(cell(cells, others[0])["suppressed"], true);
    // The back office sees every figure.
    let r = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(row(&r["guidance_by_segment"]["education_level"], "praktisch")["with_guidance"], side(2, 0, Some("0.0")));
}

on_both_backends!(
    segments_and_breakdowns_hide_together_for_the_board,
    the_board_questions_match_hand_computed_figures,
    the_action_panel_counts_what_waits,
    every_figure_matches_the_hand_computed_report,
    the_board_sees_no_small_cells,
    the_board_sees_no_small_spender_counts,
    later_activity_does_not_change_an_earlier_month,
    csv_and_html_are_what_spreadsheets_and_printers_want
);
