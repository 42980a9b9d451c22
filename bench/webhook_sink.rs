//! A webhook receiver for the benchmark: answers every POST 200 at once and records how long
//! after the event occurred it arrived. `GET /stats` answers the count and the lag percentiles.
//! Usage: webhook_sink PORT

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};

#[derive(Default)]
struct Lags(Mutex<Vec<f64>>);

async fn receive(body: web::Bytes, lags: web::Data<Arc<Lags>>) -> HttpResponse {
    let now = Utc::now();
    let occurred = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["occurred_at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()));
    if let Some(occurred) = occurred {
        let lag_ms = (now - occurred.with_timezone(&Utc)).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        lags.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(lag_ms);
    }
    HttpResponse::Ok().finish()
}

async fn stats(lags: web::Data<Arc<Lags>>) -> HttpResponse {
    let mut all = lags.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    all.sort_by(f64::total_cmp);
    let at = |q: f64| all.get(((all.len() as f64 - 1.0) * q).round().max(0.0) as usize).copied().unwrap_or(0.0);
    HttpResponse::Ok().json(serde_json::json!({
        "count": all.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": all.last().copied().unwrap_or(0.0)
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8099);
    let lags = Arc::new(Lags::default());
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(lags.clone()))
            .route("/stats", web::get().to(stats))
            .default_service(web::post().to(receive))
    })
    .workers(2)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
