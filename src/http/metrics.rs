//! `/metrics` in Prometheus text format: requests by route and status, latency, claim
//! decisions, committed ledger transactions, and the connection pool. Labels are route
//! patterns (`/v1/funds/{fund}/claims`), never ids, tokens or personal data.

use actix_web::{web, HttpResponse};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::db::Pool;

/// Latency buckets in seconds: from a cached read to a slow bulk.
const LATENCY_BUCKETS_S: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    claim_decisions: IntCounterVec,
    ledger_transactions: IntCounterVec,
    pool: IntGaugeVec,
    events_written: prometheus::IntCounter,
    deliveries: IntCounterVec,
    oldest_undelivered: prometheus::IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("ptt_http_requests_total", "HTTP requests by route pattern, method and status"),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("ptt_http_request_duration_seconds", "HTTP request latency by route pattern")
                .buckets(LATENCY_BUCKETS_S.to_vec()),
            &["route"],
        )?;
        let claim_decisions =
            IntCounterVec::new(Opts::new("ptt_claim_decisions_total", "Claim decisions by outcome"), &["outcome"])?;
        let ledger_transactions = IntCounterVec::new(
            Opts::new("ptt_ledger_transactions_total", "Ledger transactions committed by this process, by kind"),
            &["kind"],
        )?;
        let pool = IntGaugeVec::new(Opts::new("ptt_db_pool_connections", "Database connections by state"), &["state"])?;
        let events_written = prometheus::IntCounter::new("ptt_events_written_total", "Change-feed events committed by this process")?;
        let deliveries =
            IntCounterVec::new(Opts::new("ptt_webhook_deliveries_total", "Webhook delivery attempts by outcome"), &["outcome"])?;
        let oldest_undelivered = prometheus::IntGauge::new(
            "ptt_webhook_oldest_undelivered_seconds",
            "Age of the oldest event not yet delivered to an active subscription (0: none waiting)",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(claim_decisions.clone()))?;
        registry.register(Box::new(ledger_transactions.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(events_written.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(oldest_undelivered.clone()))?;
        Ok(Metrics { registry, requests, latency, claim_decisions, ledger_transactions, pool, events_written, deliveries, oldest_undelivered })
    }

    /// Counts and times one served request by its route pattern.
    pub fn request_served(&self, route: &str, method: &str, status: u16, elapsed: std::time::Duration) {
        // A method label only for the methods HTTP defines: a caller cannot mint label values.
        const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"];
        let method = if KNOWN.contains(&method) { method } else { "other" };
        self.requests.with_label_values(&[route, method, &status.to_string()]).inc();
        self.latency.with_label_values(&[route]).observe(elapsed.as_secs_f64());
    }

    pub fn claim_decided(&self, outcome: &str) {
        self.claim_decisions.with_label_values(&[outcome]).inc();
    }

    fn render(&self, pool: &Pool) -> String {
        let state = pool.state();
        self.pool.with_label_values(&["in_use"]).set(i64::from(state.connections - state.idle_connections));
        self.pool.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
        let (written, delivered, failed, oldest) = crate::telemetry::feed_figures();
        self.events_written.inc_by(written.saturating_sub(self.events_written.get()));
        for (outcome, count) in [("delivered", delivered), ("failed", failed)] {
            let counter = self.deliveries.with_label_values(&[outcome]);
            counter.inc_by(count.saturating_sub(counter.get()));
        }
        self.oldest_undelivered.set(oldest.max(0));
        for (kind, count) in crate::telemetry::committed_transactions() {
            let counter = self.ledger_transactions.with_label_values(&[kind.as_str()]);
            counter.inc_by(count.saturating_sub(counter.get()));
        }
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

pub async fn metrics(metrics: web::Data<Metrics>, pool: web::Data<Pool>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics.render(&pool))
}
