//! ptt-ledger: an append-only, double-entry ledger for the personal training budgets
//! (Persoonlijke TrainingsToelage) of Dutch sector training funds.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod ledger;
pub mod reports;
pub mod sepa;
pub mod startup;
pub mod telemetry;
pub mod views;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
