//! The demo's bulk writer plays each worker's history in memory and inserts the rows itself
//! (issue 15: 100,000 workers within a minute). It must write what the ledger would have: the
//! same seed built both ways gives two funds that verify, and whose monthly reports agree figure
//! for figure in every month of the three years (ids aside, which are new in each).

use chrono::{Datelike, Months, NaiveDate};
use serde_json::Value;

use ptt_ledger::http::auth::Role;
use ptt_ledger::cli::demo::{build_with, Writer};

use crate::helpers::TestApp;
use crate::on_both_backends;

/// The report with what differs between two funds by construction taken out: ids (new in
/// each fund), the digest over them, and the fund's own name and code.
fn comparable(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "fund" | "fund_id" | "fund_code" | "fund_name" | "digest" | "generated_at"))
            .map(|(key, v)| (key.clone(), comparable(v)))
            .collect(),
        Value::Array(items) => items.iter().map(comparable).collect(),
        Value::String(text) if uuid::Uuid::parse_str(text).is_ok() => Value::String("<id>".into()),
        other => other.clone(),
    }
}

async fn the_bulk_demo_writes_what_the_ledger_would(app: TestApp) {
    let today = app.today();
    let mut conn = app.raw_connection();
    let (workers, seed) = (400, 11);
    let bulk = build_with(std::slice::from_mut(&mut conn), Writer::Bulk, "bulk", workers, seed, today, &mut |_, _| {}).expect("bulk demo");
    let ledger = build_with(std::slice::from_mut(&mut conn), Writer::Ledger, "ledger", workers, seed, today, &mut |_, _| {}).expect("ledger demo");
    assert_eq!((bulk.workers, bulk.employers, bulk.claims), (ledger.workers, ledger.employers, ledger.claims));
    assert!(bulk.claims > 100, "a history with claims: {}", bulk.claims);

    let token = |fund: &str| app.token(Role::FundAdmin, Some(fund), None, None);
    let (a, b) = (bulk.fund_id.to_string(), ledger.fund_id.to_string());
    for fund in [&a, &b] {
        let verified = app.get(&format!("/v1/funds/{fund}/ledger/verify"), &token(fund)).await.expect(200).body;
        assert_eq!(verified["ok"], true, "{verified}");
    }
    // Every month from the first January of the history to this one.
    let mut month = NaiveDate::from_ymd_opt(today.year() - 2, 1, 1).expect("a first month");
    let mut compared = 0;
    while month <= today {
        let m = month.format("%Y-%m");
        let bulk_report = app.get(&format!("/v1/funds/{a}/reports/monthly?month={m}"), &token(&a)).await.expect(200).body;
        let ledger_report = app.get(&format!("/v1/funds/{b}/reports/monthly?month={m}"), &token(&b)).await.expect(200).body;
        assert_eq!(comparable(&bulk_report), comparable(&ledger_report), "the reports of {m} differ");
        compared += 1;
        month = month + Months::new(1);
    }
    assert!(compared >= 25, "{compared} months");
    // Not a vacuous comparison: this January's report shows spending, lapses at the year's
    // end, and claims that wait for guidance.
    let january = format!("{}-01", today.year());
    let report = app.get(&format!("/v1/funds/{a}/reports/monthly?month={january}"), &token(&a)).await.expect(200).body;
    for figure in ["spent", "expired", "granted"] {
        assert_ne!(report["flows"][figure], "0.00", "{figure}: {}", report["flows"]);
    }
    assert!(report["actions"]["awaiting_guidance"]["count"].as_i64().is_some_and(|n| n > 0), "{}", report["actions"]);
}

on_both_backends!(the_bulk_demo_writes_what_the_ledger_would);
