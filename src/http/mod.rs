//! The HTTP API: one module per resource, one route table, problem+json errors, auth.

pub mod auth;
pub mod claims;
pub mod coaching;
pub mod common;
pub mod employers;
pub mod error;
pub mod events;
pub mod expiry;
pub mod funds;
pub mod grants;
pub mod health;
pub mod idempotency;
pub mod json_body;
pub mod ledger;
pub mod me;
pub mod metrics;
pub mod money_post;
pub mod payments;
pub mod reports;
pub mod request_context;
pub mod routes;
pub mod schemes;
pub mod vouchers;
pub mod webhooks;
pub mod worker_import;
pub mod workers;
