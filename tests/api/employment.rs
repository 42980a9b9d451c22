//! Employment changes, lookups, employer corrections, worker imports and balances at a moment.

use ptt_ledger::auth::Role;
use serde_json::{json, Value};

use crate::helpers::{cents, claim_body, standard_scheme_body, Fund, TestApp};
use crate::on_both_backends;

fn employer_token(app: &TestApp, fund: &Fund, employer: &str) -> String {
    app.token(Role::Employer, Some(&fund.id), Some(employer), None)
}

async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> crate::helpers::Reply {
    app.send(reqwest::Method::PATCH, path, Some(token), Some(body)).await
}

async fn a_worker_moves_with_the_budget_and_the_old_employer_keeps_its_claims(app: TestApp) {
    let today = app.today();
    // Registered a month ago with employer A.
    app.set_today(&(today - chrono::Duration::days(30)).to_string());
    let funded = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    app.set_today(&today.to_string());
    let (fund, worker) = (&funded.fund, &funded.worker);
    let (a, b) = (funded.employer.clone(), app.create_employer(fund, "87654321").await);
    let (token_a, token_b) = (employer_token(&app, fund, &a), employer_token(&app, fund, &b));
    let claim = app.claim(fund, &token_a, &claim_body(&funded, "100.00", "INV-A1")).await.expect(201).body;
    assert_eq!(claim["status"], "approved");

    let path = format!("/v1/funds/{}/workers/{worker}/employment", fund.id);
    let change = json!({"employer_id": b, "from": today.to_string()});
    // Only the back office moves workers.
    app.post(&path, &token_a, &change).await.expect_problem(403, "forbidden");
    let moved = app.post(&path, &fund.admin, &change).await.expect(200).body;
    assert_eq!(moved["employer_id"], b.as_str());
    let start = (today - chrono::Duration::days(30)).to_string();
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    assert_eq!(
        moved["employment"],
        json!([{"employer_id": a, "from": start, "until": yesterday}, {"employer_id": b, "from": today.to_string(), "until": null}])
    );
    // Sent again (a retry): the same answer, nothing changes.
    assert_eq!(app.post(&path, &fund.admin, &change).await.expect(200).body, moved);

    // The budget stayed with the worker.
    assert_eq!(app.available(&funded).await, "650.00");
    // The new employer reads the worker and claims for it; the former one does not, but keeps
    // reading the claim it submitted.
    let worker_path = format!("/v1/funds/{}/workers/{worker}", fund.id);
    app.get(&worker_path, &token_b).await.expect(200);
    app.get(&worker_path, &token_a).await.expect_problem(404, "not_found");
    app.get(&format!("{worker_path}/budget"), &token_a).await.expect_problem(404, "not_found");
    app.claim(fund, &token_a, &claim_body(&funded, "50.00", "INV-A2")).await.expect_problem(422, "unknown_reference");
    app.claim(fund, &token_b, &claim_body(&funded, "50.00", "INV-B1")).await.expect(201);
    let claim_id = claim["id"].as_str().unwrap();
    app.get(&format!("/v1/funds/{}/claims/{claim_id}", fund.id), &token_a).await.expect(200);
    let listed = app.get(&format!("/v1/funds/{}/claims", fund.id), &token_a).await.expect(200).body;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "A lists its own claim only: {listed}");
    app.get(&format!("/v1/funds/{}/claims/{claim_id}", fund.id), &token_b).await.expect_problem(404, "not_found");

    // The feed tells the new employer's HR system.
    let mut seen = false;
    for _ in 0..50 {
        let page = app.get(&format!("/v1/funds/{}/events?types=worker.employment_changed", fund.id), &token_b).await.expect(200).body;
        if let Some(event) = page["items"].as_array().and_then(|i| i.first()) {
            assert_eq!(event["data"]["employment"], moved["employment"]);
            assert_eq!(event["employer_id"], b.as_str());
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "worker.employment_changed in the feed");

    // The report counts the worker under B (employer at the month's end) and the spending under
    // the employer that submitted each claim.
    let month = format!("{}", today.format("%Y-%m"));
    let report = app.get(&format!("/v1/funds/{}/reports/monthly?month={month}", fund.id), &fund.admin).await.expect(200).body;
    let cells = report["breakdowns"]["employer"].as_array().expect("employer cells").clone();
    let cell = |id: &str| cells.iter().find(|c| c["key"] == id).cloned().unwrap_or_else(|| panic!("no cell {id} in {cells:?}"));
    assert_eq!((cell(&b)["workers"].as_i64(), cell(&b)["spent_ytd"].as_str()), (Some(1), Some("50.00")));
    assert_eq!((cell(&a)["workers"].as_i64(), cell(&a)["spent_ytd"].as_str()), (Some(0), Some("100.00")));
    assert_eq!(app.verify(fund).await["ok"], true);
}

async fn employment_dates_and_references_are_checked(app: TestApp) {
    let today = app.today();
    app.set_today(&(today - chrono::Duration::days(10)).to_string());
    let fund = app.create_fund("oom").await;
    let a = app.create_employer(&fund, "12345678").await;
    let b = app.create_employer(&fund, "87654321").await;
    let worker = app.create_worker(&fund, &a, "P-1").await;
    app.set_today(&today.to_string());
    let path = format!("/v1/funds/{}/workers/{worker}/employment", fund.id);
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    // After today, before the current period's start: refused on the field, nothing changes.
    app.post(&path, &fund.admin, &json!({"employer_id": b, "from": day(1)})).await.expect_problem(422, "invalid_field");
    app.post(&path, &fund.admin, &json!({"employer_id": b, "from": day(-11)})).await.expect_problem(422, "invalid_field");
    app.post(&path, &fund.admin, &json!({"employer_id": b, "from": "2026-02-30"})).await.expect_problem(400, "invalid_body");
    let unknown = "01a22154-0c1c-7438-81c0-f3ad5b27b749";
    app.post(&path, &fund.admin, &json!({"employer_id": unknown, "from": day(0)})).await.expect_problem(422, "unknown_reference");
    app.post(&format!("/v1/funds/{}/workers/{unknown}/employment", fund.id), &fund.admin, &json!({"employer_id": b, "from": day(0)}))
        .await
        .expect_problem(404, "not_found");
    // Another fund's employer is unknown here.
    let other = app.create_fund("pmgm").await;
    let theirs = app.create_employer(&other, "11112222").await;
    app.post(&path, &fund.admin, &json!({"employer_id": theirs, "from": day(0)})).await.expect_problem(422, "unknown_reference");
    let unchanged = app.get(&format!("/v1/funds/{}/workers/{worker}", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(unchanged["employment"], json!([{"employer_id": a, "from": day(-10), "until": null}]));
    // From the period's own first day: the period gets the new employer (a correction).
    let fixed = app.post(&path, &fund.admin, &json!({"employer_id": b, "from": day(-10)})).await.expect(200).body;
    assert_eq!(fixed["employment"], json!([{"employer_id": b, "from": day(-10), "until": null}]));
    // The earliest allowed later day: a period of exactly one day.
    let moved = app.post(&path, &fund.admin, &json!({"employer_id": a, "from": day(-9)})).await.expect(200).body;
    assert_eq!(moved["employment"][0], json!({"employer_id": b, "from": day(-10), "until": day(-10)}));
}

async fn lookups_and_duplicates_name_the_existing_resource(app: TestApp) {
    let funded = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    let fund = &funded.fund;
    let base = format!("/v1/funds/{}", fund.id);
    let found = app.get(&format!("{base}/workers?participant_number=P-1"), &fund.admin).await.expect(200).body;
    assert_eq!(found["items"][0]["id"], funded.worker.as_str());
    let none = app.get(&format!("{base}/workers?participant_number=P-2"), &fund.admin).await.expect(200).body;
    assert_eq!(none["items"], json!([]));
    let found = app.get(&format!("{base}/employers?kvk_number=12345678"), &fund.admin).await.expect(200).body;
    assert_eq!(found["items"][0]["id"], funded.employer.as_str());
    app.get(&format!("{base}/employers?kvk_number=1234"), &fund.admin).await.expect_problem(400, "invalid_query");
    app.get(&format!("{base}/workers?participant_number=%20P-1"), &fund.admin).await.expect_problem(400, "invalid_query");
    app.get(&format!("{base}/claims?invoice_reference="), &fund.admin).await.expect_problem(400, "invalid_query");
    let claim = app.claim(fund, &fund.admin, &claim_body(&funded, "10.00", "INV-7")).await.expect(201).id();
    let found = app.get(&format!("{base}/claims?invoice_reference=INV-7"), &fund.admin).await.expect(200).body;
    assert_eq!(found["items"][0]["id"], claim.as_str());
    // Another employer's lookup does not see this employer's workers.
    let other = app.create_employer(fund, "99998888").await;
    let theirs = app.get(&format!("{base}/workers?participant_number=P-1"), &employer_token(&app, fund, &other)).await.expect(200).body;
    assert_eq!(theirs["items"], json!([]));

    let again = app.post(&format!("{base}/workers"), &fund.admin, &json!({"participant_number": "P-1", "employer_id": funded.employer})).await;
    assert_eq!(again.expect_problem(409, "duplicate_participant_number").body["existing_id"], funded.worker.as_str());
    // Another employer learns that the number is taken, not whose worker has it.
    let theirs = employer_token(&app, fund, &other);
    let again = app.post(&format!("{base}/workers"), &theirs, &json!({"participant_number": "P-1", "employer_id": other})).await;
    assert_eq!(again.expect_problem(409, "duplicate_participant_number").body["existing_id"], Value::Null);
    let again = app.post(&format!("{base}/employers"), &fund.admin, &json!({"kvk_number": "12345678", "name": "X", "sector": "metaal"})).await;
    assert_eq!(again.expect_problem(409, "duplicate_kvk_number").body["existing_id"], funded.employer.as_str());
    let again = app.claim(fund, &fund.admin, &claim_body(&funded, "10.00", "INV-7")).await;
    assert_eq!(again.expect_problem(409, "duplicate_invoice").body["existing_id"], claim.as_str());
    let again = app.post(&format!("{base}/schemes"), &fund.admin, &standard_scheme_body("PTT")).await;
    assert_eq!(again.expect_problem(409, "duplicate_scheme_code").body["existing_id"], funded.scheme.as_str());
    let again = app.post("/v1/funds", &app.platform_admin(), &json!({"code": "OOM", "name": "Again"})).await;
    assert_eq!(again.expect_problem(409, "duplicate_fund_code").body["existing_id"], fund.id.as_str());
}

async fn employers_are_corrected_with_patch(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let employer = app.create_employer(&fund, "12345678").await;
    let path = format!("/v1/funds/{}/employers/{employer}", fund.id);
    let view = patch(&app, &path, &fund.admin, &json!({"name": "Lasbedrijf Noord BV", "iban": "nl91 abna 0417 1643 00"})).await.expect(200).body;
    assert_eq!((view["name"].as_str(), view["sector"].as_str(), view["iban"].as_str()), (Some("Lasbedrijf Noord BV"), Some("metaal"), Some("NL91ABNA0417164300")));
    assert_eq!(app.get(&path, &fund.admin).await.expect(200).body, view);
    for bad in ["NL92ABNA0417164300", "NL91ABNA041716430", "XX91ABNA0417164300"] {
        let reply = patch(&app, &path, &fund.admin, &json!({"iban": bad})).await.expect_problem(422, "invalid_field");
        assert_eq!(reply.body["field"], "iban", "{}", reply.body);
    }
    patch(&app, &path, &fund.admin, &json!({"kvk_number": "87654321"})).await.expect_problem(400, "invalid_body");
    patch(&app, &path, &fund.admin, &json!({"name": ""})).await.expect_problem(422, "invalid_field");
    patch(&app, &path, &employer_token(&app, &fund, &employer), &json!({"name": "Mine"})).await.expect_problem(403, "forbidden");
    patch(&app, &format!("/v1/funds/{}/employers/01a22154-0c1c-7438-81c0-f3ad5b27b749", fund.id), &fund.admin, &json!({"name": "X"}))
        .await
        .expect_problem(404, "not_found");
    assert_eq!(app.get(&path, &fund.admin).await.expect(200).body, view, "refused patches changed nothing");
    let cleared = patch(&app, &path, &fund.admin, &json!({"iban": null})).await.expect(200).body;
    assert_eq!((cleared["iban"].clone(), cleared["name"].clone()), (Value::Null, view["name"].clone()));
}

async fn import(app: &TestApp, fund: &Fund, content_type: &str, body: Vec<u8>) -> crate::helpers::Reply {
    app.post_raw(&format!("/v1/funds/{}/workers/import", fund.id), &fund.admin, content_type, body).await
}

async fn worker_lists_import_all_or_nothing(app: TestApp) {
    let fund = app.create_fund("oom").await;
    let a = app.create_employer(&fund, "12345678").await;
    let b = app.create_employer(&fund, "87654321").await;
    let existing = app.create_worker(&fund, &a, "P-1").await; // 1980, middelbaar
    let json_import = json!({"workers": [
        {"participant_number": "P-1", "education_level": "theoretisch"},
        {"participant_number": "P-2", "employer_id": a, "birth_year": 1990},
        {"participant_number": "P-3", "kvk_number": "87654321"}
    ]});
    let body = serde_json::to_vec(&json_import).unwrap();
    assert_eq!(import(&app, &fund, "application/json", body.clone()).await.expect(200).body, json!({"created": 2, "updated": 1, "unchanged": 0}));
    assert_eq!(import(&app, &fund, "application/json", body).await.expect(200).body, json!({"created": 0, "updated": 0, "unchanged": 3}));
    let p1 = app.get(&format!("/v1/funds/{}/workers/{existing}", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!((p1["education_level"].as_str(), p1["birth_year"].as_i64()), (Some("theoretisch"), Some(1980)), "an omitted field keeps what is stored");

    // The Dutch CSV, with a byte-order mark and CRLF: an empty cell keeps what is stored; a new
    // KvK number moves the worker from the day of the import.
    let csv = "\u{feff}participant_number;kvk_number;birth_year;education_level\r\nP-1;87654321;;\r\nP-4;12345678;1975;praktisch\r\nP-2;;;\r\n";
    assert_eq!(import(&app, &fund, "text/csv; charset=utf-8", csv.as_bytes().to_vec()).await.expect(200).body, json!({"created": 1, "updated": 1, "unchanged": 1}));
    let p1 = app.get(&format!("/v1/funds/{}/workers/{existing}", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!((p1["employer_id"].as_str(), p1["education_level"].as_str()), (Some(b.as_str()), Some("theoretisch")));
    let listed = app.get(&format!("/v1/funds/{}/workers?limit=100", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(4));

    // One bad item refuses everything, naming where it is.
    let bad = json!({"workers": [{"participant_number": "P-9", "employer_id": a}, {"participant_number": "P-10", "kvk_number": "55555555"}]});
    let reply = import(&app, &fund, "application/json", serde_json::to_vec(&bad).unwrap()).await.expect_problem(422, "import_invalid");
    assert_eq!((reply.body["index"].as_i64(), reply.body["field"].as_str()), (Some(1), Some("kvk_number")), "{}", reply.body);
    for (csv, line, field) in [
        ("participant_number;kvk_number;birth_year;education_level\nP-9;12345678;;\nP-10;12345678;negentien;\n", 3, "birth_year"),
        ("participant_number;kvk_number;birth_year;education_level\nP-9;12345678;;\nP-9;12345678;;\n", 3, "participant_number"),
        ("participant_number;kvk_number;birth_year;education_level\nP-9;;;\n", 2, "kvk_number"),
        ("participant_number;kvk_number;birth_year;education_level\nP-9;12345678;;hbo\n", 2, "education_level"),
        ("participant_number,kvk_number,birth_year,education_level\nP-9,12345678,,\n", 1, "header"),
        ("participant_number;kvk_number;birth_year;education_level\nP-9;123;;\n", 2, "kvk_number"),
    ] {
        let reply = import(&app, &fund, "text/csv", csv.as_bytes().to_vec()).await.expect_problem(422, "import_invalid");
        assert_eq!((reply.body["line"].as_i64(), reply.body["field"].as_str()), (Some(line), Some(field)), "{csv}: {}", reply.body);
    }
    let reply = import(&app, &fund, "text/csv", b"participant_number;kvk_number;birth_year;education_level\nP-9;12345678;\xff;\n".to_vec()).await;
    reply.expect_problem(422, "import_invalid");
    let after = app.get(&format!("/v1/funds/{}/workers?limit=100", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!(after["items"], listed["items"], "refused imports changed nothing");

    // Two imports at once, each correcting another field of the same workers: both land.
    let years = json!({"workers": [{"participant_number": "P-2", "birth_year": 1971}, {"participant_number": "P-3", "birth_year": 1972}]});
    let levels = json!({"workers": [{"participant_number": "P-2", "education_level": "praktisch"}, {"participant_number": "P-3", "education_level": "praktisch"}]});
    let (first, second) = tokio::join!(
        import(&app, &fund, "application/json", serde_json::to_vec(&years).unwrap()),
        import(&app, &fund, "application/json", serde_json::to_vec(&levels).unwrap())
    );
    first.expect(200);
    second.expect(200);
    let p2 = app.get(&format!("/v1/funds/{}/workers?participant_number=P-2", fund.id), &fund.admin).await.expect(200).body;
    assert_eq!((p2["items"][0]["birth_year"].as_i64(), p2["items"][0]["education_level"].as_str()), (Some(1971), Some("praktisch")));

    // Edges: 10,000 workers are taken, 10,001 are not; other media types are 415.
    let many: Vec<Value> = (0..10_001).map(|i| json!({"participant_number": format!("N-{i}"), "employer_id": a})).collect();
    let reply = import(&app, &fund, "application/json", serde_json::to_vec(&json!({"workers": many})).unwrap()).await;
    reply.expect_problem(422, "import_too_large");
    let body = serde_json::to_vec(&json!({"workers": many[..10_000]})).unwrap();
    assert_eq!(import(&app, &fund, "application/json", body).await.expect(200).body["created"], 10_000);
    import(&app, &fund, "text/plain", b"x".to_vec()).await.expect_problem(415, "unsupported_media_type");
    let coach = app.token(Role::Coach, Some(&fund.id), None, None);
    app.post_raw(&format!("/v1/funds/{}/workers/import", fund.id), &coach, "text/csv", csv.as_bytes().to_vec()).await.expect_problem(403, "forbidden");
}

async fn balances_as_of_a_moment(app: TestApp) {
    let funded = app.funded_worker(standard_scheme_body("ptt"), "750.00").await;
    let fund = &funded.fund;
    let before_claim = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.claim(fund, &fund.admin, &claim_body(&funded, "200.00", "INV-1")).await.expect(201);
    let at = before_claim.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let budget_path = format!("/v1/funds/{}/workers/{}/budget", fund.id, funded.worker);
    let then = app.get(&format!("{budget_path}?as_of={at}"), &fund.admin).await.expect(200).body;
    assert_eq!(then["as_of"], at.as_str());
    let account = &then["accounts"][0];
    assert_eq!((account["available"].as_str(), account["spent"].as_str(), account["granted"].as_str()), (Some("750.00"), Some("0.00"), Some("750.00")));
    assert_eq!(account["lots"][0]["remaining"], "750.00");
    let now = app.get(&format!("{budget_path}?as_of={}", app.today()), &fund.admin).await.expect(200).body;
    assert_eq!((now["accounts"][0]["available"].as_str(), now["accounts"][0]["spent"].as_str()), (Some("550.00"), Some("200.00")));
    // The worker sees the same of its own budget.
    let own = app.token(Role::Worker, Some(&fund.id), None, Some(&funded.worker));
    let mine = app.get(&format!("/v1/me/budget?as_of={at}"), &own).await.expect(200).body;
    assert_eq!((mine["as_of"].as_str(), mine["accounts"][0]["available"].as_str()), (Some(at.as_str()), Some("750.00")));
    app.get("/v1/me/budget?as_of=gisteren", &own).await.expect_problem(400, "invalid_query");
    let long_ago = app.get(&format!("{budget_path}?as_of=2001-01-01"), &fund.admin).await.expect(200).body;
    assert_eq!(long_ago["accounts"], json!([]), "nothing was recorded yet");

    let balances_path = format!("/v1/funds/{}/ledger/balances", fund.id);
    let then = app.get(&format!("{balances_path}?as_of={at}"), &fund.admin).await.expect(200).body;
    let scheme = &then["schemes"][0];
    assert_eq!(
        (scheme["granted"].as_str(), scheme["spent"].as_str(), scheme["available"].as_str(), scheme["accounts"].as_i64()),
        (Some("750.00"), Some("0.00"), Some("750.00"), Some(1))
    );
    let now = app.get(&balances_path, &fund.admin).await.expect(200).body;
    let scheme = &now["schemes"][0];
    assert_eq!((scheme["spent"].as_str(), scheme["available"].as_str(), scheme["reserved"].as_str()), (Some("200.00"), Some("550.00"), Some("0.00")));
    let total: i64 = ["spent", "expired", "available", "reserved"].iter().map(|k| cents(&scheme[*k])).sum();
    assert_eq!(total, cents(&scheme["granted"]), "granted = spent + expired + available + reserved");

    // Tenancy and bad input.
    let other = app.create_fund("pmgm").await;
    app.get(&format!("{balances_path}?as_of={at}"), &other.admin).await.expect_problem(404, "not_found");
    let employer = employer_token(&app, fund, &funded.employer);
    app.get(&balances_path, &employer).await.expect_problem(403, "forbidden");
    app.get(&format!("{budget_path}?as_of={at}"), &employer).await.expect(200);
    let board = app.token(Role::Board, Some(&fund.id), None, None);
    app.get(&balances_path, &board).await.expect(200);
    for bad in ["yesterday", "2026-13-01", "1899-12-31", "2200-01-01T00:00:00Z", "2026-10-31T25:00:00Z"] {
        app.get(&format!("{balances_path}?as_of={bad}"), &fund.admin).await.expect_problem(400, "invalid_query");
        app.get(&format!("{budget_path}?as_of={bad}"), &fund.admin).await.expect_problem(400, "invalid_query");
    }
}

on_both_backends!(
    a_worker_moves_with_the_budget_and_the_old_employer_keeps_its_claims,
    employment_dates_and_references_are_checked,
    lookups_and_duplicates_name_the_existing_resource,
    employers_are_corrected_with_patch,
    worker_lists_import_all_or_nothing,
    balances_as_of_a_moment
);
