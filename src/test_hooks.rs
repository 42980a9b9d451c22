//! Fault injection for the black-box tests, compiled only with the `test-hooks` feature (which
//! only the test build turns on): a claim whose `course` names a fault fails after its money
//! and its row are written, inside the write transaction, as a bug would.

use crate::ledger::LedgerError;

/// `course` of a claim that panics after it is written.
pub const PANIC_AFTER_WRITE: &str = "ptt-test-fault:panic";
/// `course` of a claim that returns an error after it is written.
pub const ERROR_AFTER_WRITE: &str = "ptt-test-fault:error";

/// Called by claim submission after every write of the claim, before the commit.
#[allow(clippy::panic, reason = "the injected fault is a panic")]
pub fn after_claim_written(course: &str) -> Result<(), LedgerError> {
    match course {
        PANIC_AFTER_WRITE => panic!("injected test fault: panic inside a write transaction"),
        ERROR_AFTER_WRITE => Err(LedgerError::Invariant("injected test fault: error inside a write transaction".into())),
        _ => Ok(()),
    }
}
