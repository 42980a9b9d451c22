-- Transfers of a batch that the bank refused (from its pain.002 status report), with the bank's
-- reason code: the claim is released from the batch and stays approved, unpaid. Never changed.
CREATE TABLE payment_returns (
    batch_id        TEXT NOT NULL REFERENCES payment_batches (id),
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    reason_code     TEXT,
    report_id       TEXT NOT NULL,
    recorded_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, claim_id)
);
CREATE TRIGGER payment_returns_append_only BEFORE UPDATE OR DELETE ON payment_returns
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER payment_returns_no_truncate BEFORE TRUNCATE ON payment_returns
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
