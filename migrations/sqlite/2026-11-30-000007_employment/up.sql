-- Employment history: a worker's employers over time. The budget stays with the worker; an
-- employer reads the workers it employs today, and the report counts a worker under the employer
-- of the month's end. `workers.employer_id` is the current period's employer, kept in step in the
-- same transaction. `valid_until` is the last day, inclusive; NULL for the current period.
CREATE TABLE employments (
    worker_id       TEXT NOT NULL REFERENCES workers (id),
    valid_from      DATE NOT NULL,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    employer_id     TEXT NOT NULL REFERENCES employers (id),
    valid_until     DATE,
    recorded_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (worker_id, valid_from),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX employments_employer ON employments (employer_id, valid_from);
-- At most one open period per worker.
CREATE UNIQUE INDEX employments_current ON employments (worker_id) WHERE valid_until IS NULL;
INSERT INTO employments (worker_id, valid_from, fund_id, employer_id, valid_until, recorded_at)
SELECT id, date(created_at), fund_id, employer_id, NULL, created_at FROM workers;

-- The employer's bank account, for reimbursements (ISO 13616, checked by the service).
ALTER TABLE employers ADD COLUMN iban TEXT;
