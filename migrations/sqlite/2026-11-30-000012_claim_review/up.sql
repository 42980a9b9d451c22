-- Review of large claims (issue 14); see the PostgreSQL migration of the same name. SQLite cannot
-- alter a CHECK constraint, so the claims table is rebuilt (SQLite's documented twelve steps):
-- foreign keys off outside the transaction, copy, swap, rebuild indexes and triggers. (Every
-- foreign key still holds: the rows are copied as they were; verify and the upgrade test check.)
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
ALTER TABLE scheme_versions ADD COLUMN review_above_cents INTEGER CHECK (review_above_cents >= 0);
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
    status              TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'awaiting_guidance', 'under_review', 'rejected', 'paid', 'reversed')),
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
    held_cents          INTEGER NOT NULL DEFAULT 0 CHECK (held_cents >= 0),
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

-- The lots a claim under review reserved, like a voucher's. Never changed.
CREATE TABLE claim_lots (
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    lot_id          TEXT NOT NULL REFERENCES grant_lots (id),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (claim_id, lot_id)
);
CREATE INDEX claim_lots_fund ON claim_lots (fund_id);
CREATE TRIGGER claim_lots_no_update BEFORE UPDATE ON claim_lots
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on claim_lots refused'); END;
CREATE TRIGGER claim_lots_no_delete BEFORE DELETE ON claim_lots
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on claim_lots refused'); END;

-- When a claim waited, for guidance or for review; see the PostgreSQL migration.
CREATE TABLE claim_periods (
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    kind            TEXT NOT NULL CHECK (kind IN ('awaiting_guidance', 'under_review')),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    opened_at       TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP,
    PRIMARY KEY (claim_id, kind)
);
CREATE INDEX claim_periods_fund ON claim_periods (fund_id, kind, opened_at);
CREATE TRIGGER claim_periods_close_only BEFORE UPDATE ON claim_periods
WHEN OLD.closed_at IS NOT NULL OR NEW.claim_id <> OLD.claim_id OR NEW.kind <> OLD.kind OR NEW.fund_id <> OLD.fund_id
    OR NEW.opened_at <> OLD.opened_at
BEGIN SELECT RAISE(ABORT, 'a claim''s waiting period is closed once and never changed otherwise'); END;
CREATE TRIGGER claim_periods_no_delete BEFORE DELETE ON claim_periods
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on claim_periods refused'); END;
INSERT INTO claim_periods (claim_id, kind, fund_id, opened_at)
SELECT id, 'awaiting_guidance', fund_id, submitted_at FROM claims WHERE status = 'awaiting_guidance';

-- Lookups per claim that walked whole tables (found with EXPLAIN QUERY PLAN on a 100,000-worker
-- fund): the claim under review that holds a voucher, a claim's objections, a claim's batch items
-- (the partial index on active items does not serve a query that binds `active` as a parameter).
CREATE INDEX claims_voucher ON claims (voucher_id) WHERE voucher_id IS NOT NULL;
CREATE INDEX objections_claim ON objections (claim_id);
CREATE INDEX payment_batch_items_claim ON payment_batch_items (claim_id);
COMMIT;
PRAGMA foreign_keys = ON;
