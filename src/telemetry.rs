//! Logging. Every request runs in a span carrying its request id (see
//! `http::request_context`); logs record method, route and status, never headers (tokens) or
//! bodies (personal data).

use std::cell::Cell;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

use crate::domain::ledger::TxKind;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal; a file, a pipe or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // Already initialised (e.g. twice in one process): keep the first.
    if result.is_ok() {
        log_panics();
    }
}

/// A panic is logged once, through the same logger as everything else (so as JSON with
/// `--log-format json`, inside the request's span), saying that it was a panic and where.
/// The request that panicked answers 500 and its database connection is discarded.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-text payload".to_string());
        let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
        tracing::error!(panic = true, panic.message = %message, panic.location = %location, "panic");
    }));
}

/// Ledger transactions committed by this process, per kind, for `/metrics`. The ledger counts
/// each posting into a per-thread tally that `ledger::write_tx` adds here on commit and drops on rollback, so
/// a transaction that rolls back is never counted.
static COMMITTED: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

thread_local! {
    static PENDING: Cell<[u64; 6]> = const { Cell::new([0; 6]) };
    static PENDING_EVENTS: Cell<u64> = const { Cell::new(0) };
}

/// Change-feed events committed by this process.
static EVENTS_WRITTEN: AtomicU64 = AtomicU64::new(0);
/// Webhook delivery attempts by this process: delivered, failed.
static DELIVERIES: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
/// Age in seconds of the oldest event not yet delivered to an active subscription; -1: none.
static OLDEST_UNDELIVERED_SECS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(-1);

/// Events written in the current transaction (counted if it commits).
pub fn tally_events(n: usize) {
    PENDING_EVENTS.with(|p| p.set(p.get() + n as u64));
}

pub fn delivery_attempted(delivered: bool) {
    DELIVERIES[usize::from(!delivered)].fetch_add(1, Ordering::Relaxed);
}

pub fn set_oldest_undelivered(seconds: Option<i64>) {
    OLDEST_UNDELIVERED_SECS.store(seconds.unwrap_or(-1), Ordering::Relaxed);
}

/// (events written, deliveries delivered, deliveries failed, oldest undelivered age or -1).
pub fn feed_figures() -> (u64, u64, u64, i64) {
    (
        EVENTS_WRITTEN.load(Ordering::Relaxed),
        DELIVERIES[0].load(Ordering::Relaxed),
        DELIVERIES[1].load(Ordering::Relaxed),
        OLDEST_UNDELIVERED_SECS.load(Ordering::Relaxed),
    )
}

pub fn tally_posted(kind: TxKind) {
    PENDING.with(|p| {
        let mut counts = p.get();
        counts[kind.index()] += 1;
        p.set(counts);
    });
}

/// Called by `ledger::write_tx` when a transaction starts (`commit = false`: forget the tally) and
/// when it commits (`commit = true`: publish it).
pub fn settle_tally(commit: bool) {
    let counts = PENDING.with(|p| p.replace([0; 6]));
    let events = PENDING_EVENTS.with(|p| p.replace(0));
    if commit {
        EVENTS_WRITTEN.fetch_add(events, Ordering::Relaxed);
        for (slot, n) in COMMITTED.iter().zip(counts) {
            slot.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Committed ledger transactions per kind.
pub fn committed_transactions() -> Vec<(TxKind, u64)> {
    TxKind::ALL.iter().map(|k| (*k, COMMITTED[k.index()].load(Ordering::Relaxed))).collect()
}
