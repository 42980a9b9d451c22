-- Objections (bezwaar) to a claim's rejection or partial approval, filed within 42 days of the
-- decision by the submitting employer, the worker, or the back office on their behalf, and
-- decided by the back office (upheld or dismissed, with a motivation). One open objection per
-- claim at a time. What was filed never changes; a decision is recorded once.
CREATE TABLE objections (
    id              TEXT PRIMARY KEY NOT NULL,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    worker_id       TEXT NOT NULL REFERENCES workers (id),
    employer_id     TEXT NOT NULL REFERENCES employers (id),
    filed_by_role   TEXT NOT NULL CHECK (filed_by_role IN ('fund_admin', 'employer', 'worker')),
    filed_by        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'upheld', 'dismissed')),
    filed_at        TIMESTAMP NOT NULL,
    decided_at      TIMESTAMP,
    decided_by      TEXT,
    motivation      TEXT
);
CREATE UNIQUE INDEX objections_open_per_claim ON objections (claim_id) WHERE status = 'open';
CREATE INDEX objections_fund ON objections (fund_id, id);
