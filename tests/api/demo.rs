//! The demo's bulk writer plays each worker's history in memory and inserts the rows itself
//! (issue 15: 100,000 workers within a minute). It must write what the ledger would have: the
//! same seed built both ways gives two funds with the same rows in every table (ids and voucher
//! codes aside, which are new in each), that verify, and whose monthly reports agree figure for
//! figure in every month of the three years.

use chrono::{Datelike, Months, NaiveDate};
use diesel::RunQueryDsl;
use serde_json::Value;

use ptt_ledger::http::auth::Role;
use ptt_ledger::cli::demo::{build_with, Writer};

use ptt_ledger::db::DbConn;

use crate::helpers::{Backend, TestApp};
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

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// Every row the demo wrote for a fund, one text line each, keyed by the worker's participant
/// number (the same in both funds) and in a stable order; what is new in each fund (ids, the
/// random voucher codes) masked.
fn fund_rows(conn: &mut DbConn, fund: &str) -> Vec<String> {
    const QUERIES: &[&str] = &[
        "SELECT w.participant_number || '|' || COALESCE(CAST(w.birth_year AS TEXT), '') || '|' || COALESCE(w.education_level, '') || '|' || CAST(w.created_at AS TEXT)
            || '|' || CAST(m.valid_from AS TEXT) || '|' || CAST(m.recorded_at AS TEXT) AS line
         FROM workers w JOIN employments m ON m.worker_id = w.id WHERE w.fund_id = $1 ORDER BY w.participant_number",
        "SELECT w.participant_number || '|' || CAST(a.available_cents AS TEXT) || '|' || CAST(a.reserved_cents AS TEXT) || '|' || CAST(a.granted_cents AS TEXT)
            || '|' || CAST(a.spent_cents AS TEXT) || '|' || CAST(a.expired_cents AS TEXT) || '|' || CAST(a.tx_count AS TEXT) || '|' || CAST(a.created_at AS TEXT) AS line
         FROM budget_accounts a JOIN workers w ON w.id = a.worker_id WHERE a.fund_id = $1 ORDER BY w.participant_number",
        "SELECT w.participant_number || '|' || CAST(t.seq AS TEXT) || '|' || t.kind || '|' || t.actor || '|' || CAST(t.effective_date AS TEXT)
            || '|' || CAST(t.recorded_at AS TEXT) || '|' || COALESCE(t.reference, '') || '|' || CASE WHEN t.reverses IS NULL THEN '' ELSE 'reverses' END
            || '|' || CAST(p.line AS TEXT) || '|' || p.account || '|' || CAST(p.amount_cents AS TEXT) || '|' || COALESCE(CAST(g.grant_year AS TEXT), '') AS line
         FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id JOIN budget_accounts a ON a.id = t.account_id
         JOIN workers w ON w.id = a.worker_id LEFT JOIN grant_lots g ON g.id = p.lot_id
         WHERE t.fund_id = $1 ORDER BY w.participant_number, t.seq, p.line",
        "SELECT w.participant_number || '|' || CAST(g.grant_year AS TEXT) || '|' || CAST(g.amount_cents AS TEXT) || '|' || CAST(g.available_cents AS TEXT)
            || '|' || CAST(g.reserved_cents AS TEXT) || '|' || CAST(g.expires_on AS TEXT) || '|' || CAST(g.created_at AS TEXT) AS line
         FROM grant_lots g JOIN budget_accounts a ON a.id = g.account_id JOIN workers w ON w.id = a.worker_id WHERE g.fund_id = $1
         ORDER BY w.participant_number, g.grant_year",
        "SELECT w.participant_number || '|' || CAST(v.amount_cents AS TEXT) || '|' || v.status || '|' || CAST(v.valid_until AS TEXT) || '|' || v.provider
            || '|' || CAST(v.created_at AS TEXT) || '|' || COALESCE(CAST(v.closed_at AS TEXT), '') || '|' || CASE WHEN v.claim_id IS NULL THEN '' ELSE 'claim' END AS line
         FROM vouchers v JOIN workers w ON w.id = v.worker_id WHERE v.fund_id = $1 ORDER BY w.participant_number, v.created_at",
        "SELECT w.participant_number || '|' || CAST(l.amount_cents AS TEXT) || '|' || CAST(g.grant_year AS TEXT) AS line
         FROM voucher_lots l JOIN vouchers v ON v.id = l.voucher_id JOIN workers w ON w.id = v.worker_id JOIN grant_lots g ON g.id = l.lot_id
         WHERE l.fund_id = $1 ORDER BY w.participant_number, v.created_at, g.grant_year",
        "SELECT w.participant_number || '|' || c.invoice_reference || '|' || c.status || '|' || CAST(c.amount_cents AS TEXT) || '|' || CAST(c.approved_cents AS TEXT)
            || '|' || COALESCE(c.rejection_reason, '') || '|' || COALESCE(c.decision_note, '') || '|' || c.category || '|' || c.course || '|' || c.provider
            || '|' || CAST(c.training_start AS TEXT) || '|' || CAST(c.training_end AS TEXT) || '|' || CAST(c.submitted_at AS TEXT)
            || '|' || COALESCE(CAST(c.decided_at AS TEXT), '') || '|' || COALESCE(CAST(c.paid_at AS TEXT), '') || '|' || COALESCE(CAST(c.reversed_at AS TEXT), '')
            || '|' || COALESCE(c.payment_reference, '') || '|' || COALESCE(c.voucher_code, '') || '|' || CASE WHEN c.voucher_id IS NULL THEN '' ELSE 'voucher' END
            || '|' || CASE WHEN c.spend_tx_id IS NULL THEN '' ELSE 'spend' END || '|' || CASE WHEN c.reversal_tx_id IS NULL THEN '' ELSE 'reversal' END AS line
         FROM claims c JOIN workers w ON w.id = c.worker_id WHERE c.fund_id = $1 ORDER BY w.participant_number, c.invoice_reference",
        "SELECT c.invoice_reference || '|' || p.kind || '|' || CAST(p.opened_at AS TEXT) || '|' || COALESCE(CAST(p.closed_at AS TEXT), '') AS line
         FROM claim_periods p JOIN claims c ON c.id = p.claim_id WHERE p.fund_id = $1 ORDER BY c.invoice_reference, p.kind",
        "SELECT c.invoice_reference || '|' || p.payment_reference || '|' || p.paid_by || '|' || CAST(p.paid_at AS TEXT) AS line
         FROM claim_payments p JOIN claims c ON c.id = p.claim_id WHERE p.fund_id = $1 ORDER BY c.invoice_reference",
        "SELECT w.participant_number || '|' || CAST(s.held_on AS TEXT) || '|' || s.kind || '|' || s.coach || '|' || CAST(s.duration_minutes AS TEXT)
            || '|' || CAST(s.created_at AS TEXT) AS line
         FROM coaching_sessions s JOIN workers w ON w.id = s.worker_id WHERE s.fund_id = $1 ORDER BY w.participant_number, s.created_at",
        "SELECT COALESCE(w.participant_number, '') || '|' || e.type || '|' || CAST(e.occurred_at AS TEXT) || '|' || e.data AS line
         FROM events e LEFT JOIN workers w ON w.id = e.worker_id WHERE e.fund_id = $1 ORDER BY w.participant_number, e.id",
    ];
    // A voucher's code as stored, and as claims and views write it.
    let mut codes: Vec<Line> = sql(conn, "SELECT code AS line FROM vouchers WHERE fund_id = $1", fund);
    codes.extend(sql(conn, "SELECT voucher_code AS line FROM claims WHERE fund_id = $1 AND voucher_code IS NOT NULL", fund));
    let mut lines = Vec::new();
    for query in QUERIES {
        for Line { line } in sql(conn, query, fund) {
            let line = codes.iter().fold(line, |line, code| line.replace(&code.line, "<code>"));
            lines.push(masked_ids(&line));
        }
    }
    lines
}

fn sql(conn: &mut DbConn, query: &str, fund: &str) -> Vec<Line> {
    let text = match conn {
        DbConn::Pg(_) => query.to_string(),
        DbConn::Sqlite(_) => query.replace("$1", "?"),
    };
    diesel::sql_query(text).bind::<diesel::sql_types::Text, _>(fund).load(conn).expect("rows")
}

/// A voucher code as views show it: `XXXX-XXXX-XXXX-XX`.
const VOUCHER_CODE_LEN: usize = 17;

fn is_voucher_code(bytes: &[u8]) -> bool {
    bytes.len() >= VOUCHER_CODE_LEN
        && bytes[..VOUCHER_CODE_LEN].iter().enumerate().all(|(i, b)| match i {
            4 | 9 | 14 => *b == b'-',
            _ => b.is_ascii_uppercase() || b.is_ascii_digit(),
        })
}

/// `text` with every UUID in it replaced by `<id>`, every voucher code by `<code>`.
fn masked_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && uuid::Uuid::parse_str(&rest[..36]).is_ok() {
            out.push_str("<id>");
            rest = &rest[36..];
        } else if is_voucher_code(rest.as_bytes()) {
            out.push_str("<code>");
            rest = &rest[VOUCHER_CODE_LEN..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

async fn the_bulk_demo_writes_what_the_ledger_would(app: TestApp) {
    let today = app.today();
    let (workers, seed) = (400, 11);
    // Several batches; on PostgreSQL on two connections at once, as the command line runs it.
    let mut conns = vec![app.raw_connection()];
    if app.backend == Backend::Postgres {
        conns.push(app.raw_connection());
    }
    let bulk = build_with(&mut conns, Writer::Bulk { batch_workers: 70 }, "bulk", workers, seed, today, &mut |_, _| {}).expect("bulk demo");
    let ledger = build_with(&mut conns, Writer::Ledger, "ledger", workers, seed, today, &mut |_, _| {}).expect("ledger demo");
    assert_eq!((bulk.workers, bulk.employers, bulk.claims), (ledger.workers, ledger.employers, ledger.claims));
    assert!(bulk.claims > 100, "a history with claims: {}", bulk.claims);

    // Row for row the same, every table the demo writes.
    let conn = &mut conns[0];
    let (bulk_rows, ledger_rows) = (fund_rows(conn, &bulk.fund_id.to_string()), fund_rows(conn, &ledger.fund_id.to_string()));
    assert!(bulk_rows.len() > 5_000, "{} rows", bulk_rows.len());
    if let Some((a, b)) = bulk_rows.iter().zip(&ledger_rows).find(|(a, b)| a != b) {
        panic!("the bulk demo wrote\n  {a}\nwhere the ledger wrote\n  {b}");
    }
    assert_eq!(bulk_rows.len(), ledger_rows.len());

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
