//! `/metrics` in Prometheus text format: requests by route and status, latency, claim
//! decisions, committed ledger transactions, and the connection pool. Labels are route
//! patterns (`/v1/funds/{fund}/claims`), never ids, tokens or personal data.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, HttpResponse};
use futures_util::future::LocalBoxFuture;
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
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(claim_decisions.clone()))?;
        registry.register(Box::new(ledger_transactions.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        Ok(Metrics { registry, requests, latency, claim_decisions, ledger_transactions, pool })
    }

    pub fn claim_decided(&self, outcome: &str) {
        self.claim_decisions.with_label_values(&[outcome]).inc();
    }

    fn render(&self, pool: &Pool) -> String {
        let state = pool.state();
        self.pool.with_label_values(&["in_use"]).set(i64::from(state.connections - state.idle_connections));
        self.pool.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
        for (kind, count) in crate::ledger::committed_transactions() {
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

/// Middleware that counts and times every request by its route pattern.
pub struct RecordRequests(pub Metrics);

impl<S, B> Transform<S, ServiceRequest> for RecordRequests
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RecordRequestsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RecordRequestsService { service: Rc::new(service), metrics: self.0.clone() }))
    }
}

pub struct RecordRequestsService<S> {
    service: Rc<S>,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for RecordRequestsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = req.method().to_string();
        let metrics = self.metrics.clone();
        let service = self.service.clone();
        Box::pin(async move {
            let response = service.call(req).await?;
            let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
            let status = response.status().as_u16().to_string();
            metrics.requests.with_label_values(&[&route, &method, &status]).inc();
            metrics.latency.with_label_values(&[&route]).observe(started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}
