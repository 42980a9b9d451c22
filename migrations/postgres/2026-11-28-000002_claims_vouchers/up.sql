-- Vouchers, claims and idempotency keys. Their status columns are workflow state; every euro
-- they move is in the ledger.

CREATE TABLE vouchers (
    id              TEXT PRIMARY KEY,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    worker_id       TEXT NOT NULL REFERENCES workers (id),
    scheme_id       TEXT NOT NULL REFERENCES schemes (id),
    account_id      TEXT NOT NULL REFERENCES budget_accounts (id),
    code            TEXT NOT NULL UNIQUE,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    course          TEXT NOT NULL,
    provider        TEXT NOT NULL,
    valid_until     DATE NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('issued', 'redeemed', 'cancelled', 'expired')),
    issued_by       TEXT NOT NULL,
    claim_id        TEXT,
    created_at      TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP
);
CREATE INDEX vouchers_fund_id ON vouchers (fund_id, id);
CREATE INDEX vouchers_worker_id ON vouchers (worker_id, id);
CREATE INDEX vouchers_open ON vouchers (fund_id, status, valid_until);

-- Which lots a voucher's reservation came from, so that spending and releasing it return to
-- the right lots.
CREATE TABLE voucher_lots (
    voucher_id      TEXT NOT NULL REFERENCES vouchers (id),
    lot_id          TEXT NOT NULL REFERENCES grant_lots (id),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (voucher_id, lot_id)
);

CREATE TABLE claims (
    id                  TEXT PRIMARY KEY,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    worker_id           TEXT NOT NULL REFERENCES workers (id),
    employer_id         TEXT NOT NULL REFERENCES employers (id),
    scheme_id           TEXT NOT NULL REFERENCES schemes (id),
    scheme_version_id   TEXT NOT NULL REFERENCES scheme_versions (id),
    account_id          TEXT REFERENCES budget_accounts (id),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
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
    approved_cents      BIGINT NOT NULL DEFAULT 0 CHECK (approved_cents >= 0),
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
    UNIQUE (fund_id, employer_id, invoice_reference)
);
CREATE INDEX claims_fund_id ON claims (fund_id, id);
CREATE INDEX claims_worker_id ON claims (worker_id, id);
CREATE INDEX claims_employer_id ON claims (employer_id, id);
CREATE INDEX claims_status ON claims (fund_id, status, id);

-- A retried request with the same key gets the first response. The primary key makes racing
-- retries wait for the first and then replay it.
CREATE TABLE idempotency_keys (
    fund_id         TEXT NOT NULL,
    caller          TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status_code     INTEGER,
    response_body   TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (fund_id, caller, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
