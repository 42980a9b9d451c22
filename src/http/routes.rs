//! The one route table.

use actix_web::http::Method;
use actix_web::{guard, web};

use super::health::method_not_allowed;
use super::{claims, coaching, employers, events, expiry, funds, grants, health, ledger, me, objections, payments, providers, reports, schemes, vouchers, webhooks, worker_import, workers};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(root("/healthz", [get(health::healthz)]))
        .service(root("/readyz", [get(health::readyz)]))
        .service(root("/openapi.yaml", [get(health::openapi)]))
        .service(root("/metrics", [get(super::metrics::metrics)]))
        .service(
            web::scope("/v1")
                .service(resource("/funds", [post(funds::create_fund), get(funds::list_funds)]))
                .service(resource("/funds/{fund}", [get(funds::get_fund), patch(funds::update_fund)]))
                .service(resource("/funds/{fund}/claims/{id}/objections", [post(objections::file_objection)]))
                .service(resource("/funds/{fund}/objections", [get(objections::list_objections)]))
                .service(resource("/funds/{fund}/objections/{id}/decide", [post(objections::decide_objection)]))
                .service(resource("/funds/{fund}/providers", [post(providers::create_provider), get(providers::list_providers)]))
                .service(resource("/funds/{fund}/providers/{id}", [get(providers::get_provider)]))
                .service(resource("/funds/{fund}/providers/{id}/suspend", [post(providers::suspend_provider)]))
                .service(resource("/funds/{fund}/providers/{id}/reinstate", [post(providers::reinstate_provider)]))
                .service(resource("/funds/{fund}/payment-batches", [post(payments::create_batch), get(payments::list_batches)]))
                .service(resource("/funds/{fund}/payment-batches/{id}", [get(payments::get_batch)]))
                .service(resource("/funds/{fund}/payment-batches/{id}/pain.001", [get(payments::get_pain_001)]))
                .service(resource("/funds/{fund}/payment-batches/{id}/confirm", [post(payments::confirm_batch)]))
                .service(resource("/funds/{fund}/payment-batches/{id}/cancel", [post(payments::cancel_batch)]))
                .service(resource("/funds/{fund}/payment-batches/{id}/status-report", [post(payments::status_report)]))
                .service(resource("/funds/{fund}/schemes", [post(schemes::create_scheme), get(schemes::list_schemes)]))
                .service(resource("/funds/{fund}/schemes/{id}", [get(schemes::get_scheme)]))
                .service(resource("/funds/{fund}/schemes/{id}/versions", [post(schemes::create_scheme_version)]))
                .service(resource("/funds/{fund}/employers", [post(employers::create_employer), get(employers::list_employers)]))
                .service(resource("/funds/{fund}/employers/{id}", [get(employers::get_employer), patch(employers::update_employer)]))
                .service(resource("/funds/{fund}/workers", [post(workers::create_worker), get(workers::list_workers)]))
                // Before `/workers/{id}`, which would otherwise take the path (and answer 405).
                .service(resource("/funds/{fund}/workers/import", [post(worker_import::import_workers)]))
                .service(resource("/funds/{fund}/workers/{id}", [get(workers::get_worker)]))
                .service(resource("/funds/{fund}/workers/{id}/employment", [post(workers::change_employment)]))
                .service(resource("/funds/{fund}/workers/{id}/budget", [get(ledger::get_worker_budget)]))
                .service(resource("/funds/{fund}/workers/{id}/ledger", [get(ledger::list_worker_ledger)]))
                .service(resource("/funds/{fund}/grants", [post(grants::create_grants)]))
                .service(resource("/funds/{fund}/vouchers", [post(vouchers::create_voucher), get(vouchers::list_vouchers)]))
                .service(resource("/funds/{fund}/vouchers/{id}", [get(vouchers::get_voucher)]))
                .service(resource("/funds/{fund}/vouchers/{id}/cancel", [post(vouchers::cancel_voucher)]))
                .service(resource("/funds/{fund}/claims", [post(claims::create_claim), get(claims::list_claims)]))
                .service(resource("/funds/{fund}/claims/{id}", [get(claims::get_claim)]))
                .service(resource("/funds/{fund}/claims/{id}/approve", [post(claims::approve_claim)]))
                .service(resource("/funds/{fund}/claims/{id}/reject", [post(claims::reject_claim)]))
                .service(resource("/funds/{fund}/claims/{id}/pay", [post(claims::pay_claim)]))
                .service(resource("/funds/{fund}/claims/{id}/reverse", [post(claims::reverse_claim)]))
                .service(
                    resource("/funds/{fund}/coaching-sessions", [post(coaching::create_coaching_session), get(coaching::list_coaching_sessions)]),
                )
                .service(resource("/funds/{fund}/coaching-sessions/{id}", [get(coaching::get_coaching_session)]))
                .service(resource("/funds/{fund}/expiry-runs", [post(expiry::create_expiry_run)]))
                .service(resource("/me/budget", [get(me::get_my_budget)]))
                .service(resource("/funds/{fund}/reports/monthly", [get(reports::get_monthly_report)]))
                .service(resource("/funds/{fund}/ledger/verify", [get(ledger::verify_ledger)]))
                .service(resource("/funds/{fund}/ledger/digest", [get(ledger::get_ledger_digest)]))
                .service(resource("/funds/{fund}/ledger/balances", [get(ledger::get_fund_balances)]))
                .service(resource("/funds/{fund}/events", [get(events::list_events)]))
                .service(resource("/funds/{fund}/webhooks", [post(webhooks::create_webhook), get(webhooks::list_webhooks)]))
                .service(resource("/funds/{fund}/webhooks/{id}", [get(webhooks::get_webhook)]))
                .service(resource("/funds/{fund}/webhooks/{id}/enable", [post(webhooks::enable_webhook)]))
                .service(resource("/funds/{fund}/webhooks/{id}/deliveries", [get(webhooks::list_deliveries)])),
        );
}

/// A route of a resource: its method and handler.
type MethodRoute = (Method, actix_web::Route);

fn get<F, Args>(handler: F) -> MethodRoute
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    (Method::GET, web::to(handler))
}

fn patch<F, Args>(handler: F) -> MethodRoute
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    (Method::PATCH, web::to(handler))
}

fn post<F, Args>(handler: F) -> MethodRoute
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    (Method::POST, web::to(handler))
}

/// A resource outside `/v1` (health, metrics, the API document).
fn root<const N: usize>(path: &str, routes: [MethodRoute; N]) -> actix_web::Resource {
    resource(path, routes)
}

/// A resource with its methods; any other method answers 405 with an `Allow` header that
/// lists exactly these.
fn resource<const N: usize>(path: &str, routes: [MethodRoute; N]) -> actix_web::Resource {
    // A GET route answers HEAD too (the same answer without its body).
    let allow = routes
        .iter()
        .flat_map(|(m, _)| if *m == Method::GET { vec!["GET", "HEAD"] } else { vec![m.as_str()] })
        .collect::<Vec<_>>()
        .join(", ");
    let mut resource = web::resource(path);
    for (method, route) in routes {
        resource = match method {
            Method::GET => resource.route(route.guard(guard::Any(guard::Get()).or(guard::Head()))),
            other => resource.route(route.method(other)),
        };
    }
    resource.default_service(web::to(move || method_not_allowed(allow.clone())))
}
