//! Black-box tests over HTTP. Every test runs on a fresh SQLite file and, when
//! `TEST_DATABASE_URL` is set, on a fresh PostgreSQL database.

// A failed expectation in a test is a panic with a message: that is how tests fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod auth;
mod claims;
mod employment;
mod events;
mod concurrency;
mod demo;
mod grants;
mod guidance;
mod hardening;
mod identity;
mod health;
mod input;
mod ledger_integrity;
mod lots;
mod model;
mod objections;
mod operations;
mod payments;
mod privileges;
mod query_plans;
mod providers;
mod reference_data;
mod reports;
mod review;
mod schema_twins;
mod security;
mod tenancy;
mod vouchers;
