//! The storage floor for claim posting on SQLite, in plain SQL that owes nothing to the service
//! (so that it cannot move with the service's code): one claim is what the disk must do for
//! it at least, `BEGIN IMMEDIATE`, a conditional debit (`UPDATE ... WHERE available >= ?`), the
//! transaction, its two postings and the claim row (three INSERTs), `COMMIT`, on a WAL file with
//! `synchronous=FULL`, from several threads each with its own connection, with no HTTP and no
//! pool. `bench/run` prints the HTTP service's claims/s beside this.
//!
//! Usage: cargo bench --bench sqlite_floor -- DB_FILE THREADS SECONDS WORKERS [hot]

// A benchmark that cannot set up stops with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, RunQueryDsl, SqliteConnection};

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, available INTEGER NOT NULL, seq INTEGER NOT NULL, head TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS transactions (id TEXT PRIMARY KEY, account_id INTEGER NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL,
        recorded_at TEXT NOT NULL, UNIQUE (account_id, seq));
    CREATE TABLE IF NOT EXISTS postings (transaction_id TEXT NOT NULL, line INTEGER NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL,
        PRIMARY KEY (transaction_id, line));
    CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, account_id INTEGER NOT NULL, amount INTEGER NOT NULL, invoice TEXT NOT NULL UNIQUE,
        transaction_id TEXT NOT NULL);
";

fn connect(path: &str) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(path).expect("open the floor's file");
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA journal_mode = WAL;").expect("pragmas");
    conn
}

/// One claim as the disk must see it. Returns whether the debit was covered.
fn claim(conn: &mut SqliteConnection, account: i64, n: u64, thread: usize) -> bool {
    let id = format!("{thread}-{n}");
    conn.batch_execute("BEGIN IMMEDIATE").expect("begin");
    let debited = diesel::sql_query("UPDATE accounts SET available = available - ?1, seq = seq + 1, head = ?2 WHERE id = ?3 AND available >= ?1")
        .bind::<BigInt, _>(1_000)
        .bind::<Text, _>(&id)
        .bind::<BigInt, _>(account)
        .execute(conn)
        .expect("debit");
    if debited == 1 {
        diesel::sql_query("INSERT INTO transactions (id, account_id, seq, hash, recorded_at) VALUES (?1, ?2, (SELECT seq FROM accounts WHERE id = ?2), ?1, datetime('now'))")
            .bind::<Text, _>(&id)
            .bind::<BigInt, _>(account)
            .execute(conn)
            .expect("transaction");
        diesel::sql_query("INSERT INTO postings (transaction_id, line, account, amount) VALUES (?1, 1, 'available', -1000), (?1, 2, 'spent', 1000)")
            .bind::<Text, _>(&id)
            .execute(conn)
            .expect("postings");
        diesel::sql_query("INSERT INTO claims (id, account_id, amount, invoice, transaction_id) VALUES (?1, ?2, 1000, ?1, ?1)")
            .bind::<Text, _>(&id)
            .bind::<BigInt, _>(account)
            .execute(conn)
            .expect("claim");
    }
    conn.batch_execute("COMMIT").expect("commit");
    debited == 1
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let usage = "usage: sqlite_floor DB_FILE THREADS SECONDS WORKERS [hot]";
    let path = args.first().expect(usage).clone();
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).expect(usage);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).expect(usage);
    let workers: i64 = args.get(3).and_then(|a| a.parse().ok()).expect(usage);
    let hot = args.get(4).is_some_and(|a| a == "hot");

    let mut conn = connect(&path);
    conn.batch_execute(SCHEMA).expect("schema");
    conn.batch_execute("BEGIN").expect("begin");
    for id in 0..workers {
        diesel::sql_query("INSERT OR IGNORE INTO accounts (id, available, seq, head) VALUES (?1, 1000000000, 0, '')")
            .bind::<BigInt, _>(id)
            .execute(&mut conn)
            .expect("account");
    }
    conn.batch_execute("COMMIT").expect("commit");
    drop(conn);

    let accounts = if hot { 1 } else { workers.max(1) };
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (path, done, stop) = (path.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = connect(&path);
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let account = ((n as usize * 7919 + t * 104_729) % accounts as usize) as i64;
                    if claim(&mut conn, account, n, t) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
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
