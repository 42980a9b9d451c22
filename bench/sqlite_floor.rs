//! The storage floor for claim posting on SQLite: the service's own posting code and SQL
//! (`ledger::claims::submit` in a write transaction), on a file with the service's settings,
//! from several threads, with no HTTP in between. `bench/run` prints the HTTP service's claims/s
//! beside this.
//!
//! Usage: cargo bench --bench sqlite_floor -- DB_FILE THREADS SECONDS WORKERS [hot]

// A benchmark that cannot set up stops with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use ptt_ledger::db::conn::POOL_CHECKOUT_TIMEOUT;
use ptt_ledger::db::schema::{budget_accounts, schemes};
use ptt_ledger::db::{open_pool, DbUrl, SqliteSync};
use ptt_ledger::ledger::write_tx;
use ptt_ledger::domain::time::today;
use ptt_ledger::domain::{Amount, FundId, SchemeId, WorkerId};
use ptt_ledger::ledger::claims::{submit, ClaimError, ClaimRequest};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let usage = "usage: sqlite_floor DB_FILE THREADS SECONDS WORKERS [hot]";
    let path = args.first().expect(usage).clone();
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).expect(usage);
    let workers: usize = args.get(3).and_then(|a| a.parse().ok()).expect(usage);
    let hot = args.get(4).is_some_and(|a| a == "hot");

    let url = DbUrl::Sqlite(path.into());
    let pool = open_pool(ptt_ledger::db::conn::Manager::new(url, SqliteSync::Full), threads as u32, POOL_CHECKOUT_TIMEOUT, ptt_ledger::db::conn::Schema::Migrate).expect("pool");
    let mut conn = pool.get().expect("connection");
    let day = today();
    let summary = ptt_ledger::cli::demo::build(&mut conn, "floor", workers, 7, day, &mut |_, _| {}).expect("demo data");
    let fund: FundId = summary.fund_id;
    let scheme: SchemeId = schemes::table.filter(schemes::fund_id.eq(fund)).select(schemes::id).first(&mut **conn).expect("scheme");
    let mut worker_ids: Vec<WorkerId> =
        budget_accounts::table.filter(budget_accounts::fund_id.eq(fund)).select(budget_accounts::worker_id).load(&mut **conn).expect("workers");
    if hot {
        worker_ids.truncate(1);
    }
    drop(conn);
    let worker_ids = Arc::new(worker_ids);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (pool, worker_ids, done, stop) = (pool.clone(), worker_ids.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().expect("connection");
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let worker = worker_ids[(n as usize * 7919 + t * 104_729) % worker_ids.len()];
                    let request = ClaimRequest {
                        worker_id: worker,
                        scheme_id: scheme,
                        amount: Amount::from_cents(1_000).expect("amount"),
                        category: "vakopleiding".into(),
                        course: "Bench".into(),
                        provider: "Bench BV".into(),
                        invoice_reference: format!("FLOOR-{t}-{n}"),
                        training_start: day - chrono::Duration::days(20),
                        training_end: day - chrono::Duration::days(10),
                        voucher_code: None,
                        evidence_reference: None,
                        provider_id: None,
                    };
                    write_tx(&mut conn, |c| submit(c, fund, None, "bench", &request, day)).map_err(|e: ClaimError| e).expect("claim");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("thread");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let claims = done.load(Ordering::Relaxed);
    println!("sqlite_floor claims={claims} seconds={elapsed:.2} claims_per_s={:.1}", claims as f64 / elapsed);
}
