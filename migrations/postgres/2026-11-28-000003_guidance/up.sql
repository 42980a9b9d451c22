-- Coaching sessions: who was guided when. No notes: the service keeps no more personal data
-- than the rules and the board's report need.
CREATE TABLE coaching_sessions (
    id                  TEXT PRIMARY KEY,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    worker_id           TEXT NOT NULL REFERENCES workers (id),
    coach               TEXT NOT NULL,
    held_on             DATE NOT NULL,
    duration_minutes    INTEGER NOT NULL CHECK (duration_minutes > 0),
    kind                TEXT NOT NULL CHECK (kind IN ('intake', 'loopbaangesprek', 'follow_up')),
    voucher_id          TEXT REFERENCES vouchers (id),
    claim_id            TEXT REFERENCES claims (id),
    created_at          TIMESTAMP NOT NULL
);
CREATE INDEX coaching_sessions_worker ON coaching_sessions (worker_id, held_on);
CREATE INDEX coaching_sessions_fund ON coaching_sessions (fund_id, id);

-- Lots due for lapsing are found by date.
CREATE INDEX grant_lots_fund_expiry ON grant_lots (fund_id, expires_on);
