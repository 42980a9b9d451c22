-- Back to the claims table without review (a claim under review must be decided first: the
-- old CHECK refuses its status).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP INDEX payment_batch_items_claim;
DROP INDEX objections_claim;
DROP TABLE claim_lots;
DROP TABLE claim_periods;
CREATE TABLE claims_rebuilt (
    id                  TEXT PRIMARY KEY,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    worker_id           TEXT NOT NULL REFERENCES workers (id),
    employer_id         TEXT NOT NULL REFERENCES employers (id),
    scheme_id           TEXT NOT NULL REFERENCES schemes (id),
    scheme_version_id   TEXT NOT NULL REFERENCES scheme_versions (id),
    account_id          TEXT REFERENCES budget_accounts (id),
    amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
    category            TEXT NOT NULL,
    course              TEXT NOT NULL,
    provider            TEXT NOT NULL,
    invoice_reference   TEXT NOT NULL,
    training_start      DATE NOT NULL,
    training_end        DATE NOT NULL,
    voucher_id          TEXT REFERENCES vouchers (id),
    voucher_code        TEXT,
    evidence_reference  TEXT,
    status              TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'awaiting_guidance', 'rejected', 'paid', 'reversed')),
    approved_cents      INTEGER NOT NULL DEFAULT 0 CHECK (approved_cents >= 0),
    rejection_reason    TEXT,
    decision_note       TEXT,
    payment_reference   TEXT,
    spend_tx_id         TEXT REFERENCES ledger_transactions (id),
    reversal_tx_id      TEXT REFERENCES ledger_transactions (id),
    submitted_by        TEXT NOT NULL,
    submitted_at        TIMESTAMP NOT NULL,
    decided_at          TIMESTAMP,
    paid_at             TIMESTAMP,
    reversed_at         TIMESTAMP,
    provider_id         TEXT REFERENCES providers (id),
    UNIQUE (fund_id, employer_id, invoice_reference)
);
INSERT INTO claims_rebuilt (id, fund_id, worker_id, employer_id, scheme_id, scheme_version_id, account_id, amount_cents,
    category, course, provider, invoice_reference, training_start, training_end, voucher_id, voucher_code,
    evidence_reference, status, approved_cents, rejection_reason, decision_note, payment_reference, spend_tx_id,
    reversal_tx_id, submitted_by, submitted_at, decided_at, paid_at, reversed_at, provider_id)
SELECT id, fund_id, worker_id, employer_id, scheme_id, scheme_version_id, account_id, amount_cents,
    category, course, provider, invoice_reference, training_start, training_end, voucher_id, voucher_code,
    evidence_reference, status, approved_cents, rejection_reason, decision_note, payment_reference, spend_tx_id,
    reversal_tx_id, submitted_by, submitted_at, decided_at, paid_at, reversed_at, provider_id
FROM claims;
DROP TRIGGER claims_no_delete;
DROP TABLE claims;
ALTER TABLE claims_rebuilt RENAME TO claims;
CREATE INDEX claims_fund_id ON claims (fund_id, id);
CREATE INDEX claims_worker_id ON claims (worker_id, id);
CREATE INDEX claims_employer_id ON claims (employer_id, id);
CREATE INDEX claims_status ON claims (fund_id, status, id);
CREATE INDEX claims_provider ON claims (provider_id) WHERE provider_id IS NOT NULL;
CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on claims refused'); END;

ALTER TABLE scheme_versions DROP COLUMN review_above_cents;
COMMIT;
PRAGMA foreign_keys = ON;
