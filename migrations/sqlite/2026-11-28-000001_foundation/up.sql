-- Foundation: tenants, reference data, budget accounts and the append-only ledger.
-- Money is integer euro cents (INTEGER); ids are UUIDv7 strings; times are UTC without zone.

CREATE TABLE funds (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE schemes (
    id          TEXT PRIMARY KEY,
    fund_id     TEXT NOT NULL REFERENCES funds (id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (fund_id, code)
);
CREATE INDEX schemes_fund_id ON schemes (fund_id, id);

-- The rules of a scheme. A version in use is never edited; a changed rule is a new row.
CREATE TABLE scheme_versions (
    id                              TEXT PRIMARY KEY,
    fund_id                         TEXT NOT NULL REFERENCES funds (id),
    scheme_id                       TEXT NOT NULL REFERENCES schemes (id),
    effective_from                  DATE NOT NULL,
    annual_amount_cents             INTEGER NOT NULL CHECK (annual_amount_cents > 0),
    max_balance_cents               INTEGER NOT NULL CHECK (max_balance_cents > 0),
    validity_years                  INTEGER NOT NULL CHECK (validity_years > 0),
    eligible_categories             TEXT NOT NULL,
    max_claim_amount_cents          INTEGER NOT NULL CHECK (max_claim_amount_cents > 0),
    allow_partial                   INTEGER NOT NULL,
    guidance_required_above_cents   INTEGER CHECK (guidance_required_above_cents >= 0),
    guidance_window_days            INTEGER NOT NULL CHECK (guidance_window_days > 0),
    funding_pct                     INTEGER NOT NULL CHECK (funding_pct BETWEEN 1 AND 100),
    claim_deadline_days             INTEGER NOT NULL CHECK (claim_deadline_days > 0),
    created_at                      TIMESTAMP NOT NULL,
    UNIQUE (scheme_id, effective_from)
);

CREATE TABLE employers (
    id          TEXT PRIMARY KEY,
    fund_id     TEXT NOT NULL REFERENCES funds (id),
    kvk_number  TEXT NOT NULL,
    name        TEXT NOT NULL,
    sector      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (fund_id, kvk_number)
);
CREATE INDEX employers_fund_id ON employers (fund_id, id);

CREATE TABLE workers (
    id                  TEXT PRIMARY KEY,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    participant_number  TEXT NOT NULL,
    employer_id         TEXT NOT NULL REFERENCES employers (id),
    birth_year          INTEGER,
    education_level     TEXT CHECK (education_level IN ('praktisch', 'middelbaar', 'theoretisch')),
    created_at          TIMESTAMP NOT NULL,
    UNIQUE (fund_id, participant_number)
);
CREATE INDEX workers_fund_id ON workers (fund_id, id);
CREATE INDEX workers_employer_id ON workers (employer_id, id);

-- One per worker per scheme: the projection of the ledger and the unit of locking.
CREATE TABLE budget_accounts (
    id              TEXT PRIMARY KEY,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    worker_id       TEXT NOT NULL REFERENCES workers (id),
    scheme_id       TEXT NOT NULL REFERENCES schemes (id),
    available_cents INTEGER NOT NULL DEFAULT 0 CHECK (available_cents >= 0),
    reserved_cents  INTEGER NOT NULL DEFAULT 0 CHECK (reserved_cents >= 0),
    granted_cents   INTEGER NOT NULL DEFAULT 0 CHECK (granted_cents >= 0),
    spent_cents     INTEGER NOT NULL DEFAULT 0 CHECK (spent_cents >= 0),
    expired_cents   INTEGER NOT NULL DEFAULT 0 CHECK (expired_cents >= 0),
    tx_count        INTEGER NOT NULL DEFAULT 0,
    chain_head      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (worker_id, scheme_id)
);
CREATE INDEX budget_accounts_fund_id ON budget_accounts (fund_id);

-- Each grant is a lot with its own expiry; spending and reserving consume the oldest lot first.
CREATE TABLE grant_lots (
    id              TEXT PRIMARY KEY,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    account_id      TEXT NOT NULL REFERENCES budget_accounts (id),
    transaction_id  TEXT NOT NULL,
    grant_year      INTEGER NOT NULL,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    available_cents INTEGER NOT NULL CHECK (available_cents >= 0),
    reserved_cents  INTEGER NOT NULL DEFAULT 0 CHECK (reserved_cents >= 0),
    expires_on      DATE NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX grant_lots_account_id ON grant_lots (account_id, expires_on, id);

-- The ledger. Every transaction concerns exactly one budget account and is chained to the
-- previous transaction of that account by SHA-256.
CREATE TABLE ledger_transactions (
    id              TEXT PRIMARY KEY,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    account_id      TEXT NOT NULL REFERENCES budget_accounts (id),
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    effective_date  DATE NOT NULL,
    recorded_at     TIMESTAMP NOT NULL,
    actor           TEXT NOT NULL,
    reverses        TEXT REFERENCES ledger_transactions (id),
    reference       TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    UNIQUE (account_id, seq)
);
CREATE INDEX ledger_transactions_fund_recorded ON ledger_transactions (fund_id, recorded_at);

CREATE TABLE ledger_postings (
    transaction_id      TEXT NOT NULL REFERENCES ledger_transactions (id),
    line                INTEGER NOT NULL,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    account             TEXT NOT NULL,
    budget_account_id   TEXT REFERENCES budget_accounts (id),
    scheme_id           TEXT NOT NULL REFERENCES schemes (id),
    lot_id              TEXT,
    amount_cents        INTEGER NOT NULL CHECK (amount_cents <> 0),
    PRIMARY KEY (transaction_id, line)
);

-- Append-only, enforced by the database and not just the code.
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on ledger_transactions refused'); END;
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on ledger_transactions refused'); END;
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on ledger_postings refused'); END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on ledger_postings refused'); END;
