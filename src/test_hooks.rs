//! Fault injection for the black-box tests, compiled only with the `test-hooks` feature (which
//! only the test build turns on): a write whose marker text names a fault fails after its rows
//! are written, inside the write transaction, as a bug would. The markers: a claim's `course`,
//! the reason of a claim's rejection by hand, a payment batch's `bank_reference` on confirm, the
//! first participant number of an import.

use crate::ledger::LedgerError;

/// Marker of a write that panics after its rows are written.
pub const PANIC_AFTER_WRITE: &str = "ptt-test-fault:panic";
/// Marker of a write that returns an error after its rows are written.
pub const ERROR_AFTER_WRITE: &str = "ptt-test-fault:error";

/// Called by a write path after all its writes, before the commit.
#[allow(clippy::panic, reason = "the injected fault is a panic")]
pub fn after_written(marker: &str) -> Result<(), LedgerError> {
    match marker {
        PANIC_AFTER_WRITE => panic!("injected test fault: panic inside a write transaction"),
        ERROR_AFTER_WRITE => Err(LedgerError::Invariant("injected test fault: error inside a write transaction".into())),
        _ => Ok(()),
    }
}
