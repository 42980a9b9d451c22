//! The lookups that every claim, grant, voucher, session and payment makes use an index, on a
//! fund of 10,000 workers (SQLite's `EXPLAIN QUERY PLAN`): a table scan there makes every
//! operation cost more as the fund grows (issue 17 found one in the grants' account lookup).
//! The statements are the shapes the ledger issues; a new hot lookup belongs in this list. (Tables
//! that do not grow with the fund, such as a scheme's versions, may be scanned.)

use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use ptt_ledger::db::conn::{run_migrations, Manager};
use ptt_ledger::db::SqliteSync;

use crate::helpers::{fresh_database, Backend};

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

const HOT: &[(&str, &str)] = &[
    ("a worker in its fund", "SELECT * FROM workers WHERE fund_id = 'f' AND id = 'w'"),
    ("a worker's accounts", "SELECT id FROM budget_accounts WHERE worker_id = 'w'"),
    ("a worker's account in a scheme", "SELECT id FROM budget_accounts WHERE worker_id = 'w' AND scheme_id = 's'"),
    ("an account's lots", "SELECT * FROM grant_lots WHERE account_id = 'a' ORDER BY expires_on, id"),
    ("an account's last transaction", "SELECT * FROM ledger_transactions WHERE account_id = 'a' ORDER BY seq DESC LIMIT 1"),
    ("a claim's spends", "SELECT id FROM ledger_transactions WHERE account_id = 'a' AND reference = 'claim:c' AND kind = 'spend'"),
    ("an invoice claimed before", "SELECT id FROM claims WHERE fund_id = 'f' AND employer_id = 'e' AND invoice_reference = 'i'"),
    ("a worker's waiting claims", "SELECT * FROM claims WHERE worker_id = 'w' AND status = 'awaiting_guidance' ORDER BY id"),
    ("the claim under review holding a voucher", "SELECT id FROM claims WHERE voucher_id = 'v' AND status = 'under_review'"),
    ("a claim's held lots", "SELECT * FROM claim_lots WHERE claim_id = 'c'"),
    ("a claim's upheld objection", "SELECT 1 FROM objections WHERE claim_id = 'c' AND status = 'upheld'"),
    (
        "a claim's open payment batch",
        "SELECT b.id FROM payment_batch_items i JOIN payment_batches b ON b.id = i.batch_id \
         WHERE i.claim_id = 'c' AND i.active = 1 AND b.status = 'open'",
    ),
    ("a voucher by its code", "SELECT * FROM vouchers WHERE fund_id = 'f' AND code = 'c'"),
    ("a voucher's lots", "SELECT * FROM voucher_lots WHERE voucher_id = 'v'"),
    ("a worker's sessions in a window", "SELECT 1 FROM coaching_sessions WHERE worker_id = 'w' AND held_on >= '2026-01-01' AND held_on <= '2026-12-31'"),
    ("a worker's current employment", "SELECT * FROM employments WHERE worker_id = 'w' AND valid_until IS NULL"),
    ("an idempotency key", "SELECT * FROM idempotency_keys WHERE fund_id = 'f' AND caller = 'c' AND key = 'k'"),
    ("a provider's standing", "SELECT * FROM providers WHERE fund_id = 'f' AND id = 'p'"),
];

#[test]
fn hot_lookups_use_an_index_on_a_large_fund() {
    let db = fresh_database(Backend::Sqlite);
    let mut conn = Manager::new(db.url.clone(), SqliteSync::Normal).connect_once().expect("connect");
    run_migrations(&mut conn).expect("migrate");
    let today = ptt_ledger::domain::time::today();
    ptt_ledger::cli::demo::build(&mut conn, "plans", 10_000, 7, today, &mut |_, _| {}).expect("a fund of 10,000 workers");
    // With the statistics of that fund (as `ANALYZE` or `PRAGMA optimize` would gather them), so
    // that the planner weighs the real sizes, not its defaults.
    diesel::sql_query("ANALYZE").execute(&mut conn).expect("analyze");
    let mut scans = Vec::new();
    for (what, sql) in HOT {
        let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(&mut conn).expect("plan");
        for line in plan.iter().filter(|l| l.detail.starts_with("SCAN ") && !l.detail.contains("USING COVERING INDEX")) {
            scans.push(format!("{what}: {}", line.detail));
        }
    }
    assert!(scans.is_empty(), "lookups that walk a whole table:\n{}", scans.join("\n"));
}
