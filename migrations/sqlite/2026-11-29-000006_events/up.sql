-- The change feed's outbox: every change of state writes its event in the same transaction.
-- On SQLite one writer commits at a time, so `position` is assigned when the event is written
-- (the next after the highest): commit order is position order. Events are never changed
-- otherwise or deleted.
CREATE TABLE events (
    id              TEXT PRIMARY KEY NOT NULL,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    position        BIGINT,
    type            TEXT NOT NULL,
    occurred_at     TIMESTAMP NOT NULL,
    worker_id       TEXT,
    employer_id     TEXT,
    data            TEXT NOT NULL
);
CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_fund_position ON events (fund_id, position);
CREATE INDEX events_unsequenced ON events (id) WHERE position IS NULL;
CREATE TRIGGER events_sequence_only BEFORE UPDATE ON events
WHEN OLD.position IS NOT NULL OR NEW.id IS NOT OLD.id OR NEW.fund_id IS NOT OLD.fund_id
    OR NEW.type IS NOT OLD.type OR NEW.occurred_at IS NOT OLD.occurred_at
    OR NEW.worker_id IS NOT OLD.worker_id OR NEW.employer_id IS NOT OLD.employer_id OR NEW.data IS NOT OLD.data
BEGIN SELECT RAISE(ABORT, 'events are append-only: only a position is assigned, once'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE on events refused'); END;

-- Webhook subscriptions: each follows the feed with its own cursor (`delivered_position`), so
-- deliveries are in event order per subscription and survive restarts. A delivery process takes
-- a subscription by lease (`lease_until`), so two processes never deliver to it at once.
CREATE TABLE webhook_subscriptions (
    id                  TEXT PRIMARY KEY NOT NULL,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    url                 TEXT NOT NULL,
    types               TEXT,
    employer_id         TEXT REFERENCES employers (id),
    secret              TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'failing')),
    delivered_position  BIGINT NOT NULL,
    attempts            INTEGER NOT NULL,
    failing_since       TIMESTAMP,
    next_attempt_at     TIMESTAMP NOT NULL,
    lease_until         TIMESTAMP,
    created_at          TIMESTAMP NOT NULL
);
CREATE INDEX webhook_subscriptions_fund_id ON webhook_subscriptions (fund_id, id);

-- Every delivery attempt, for `GET .../webhooks/{id}/deliveries`.
CREATE TABLE webhook_deliveries (
    id                  TEXT PRIMARY KEY NOT NULL,
    subscription_id     TEXT NOT NULL REFERENCES webhook_subscriptions (id),
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    event_id            TEXT NOT NULL REFERENCES events (id),
    attempt             INTEGER NOT NULL,
    attempted_at        TIMESTAMP NOT NULL,
    status_code         INTEGER,
    outcome             TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    error               TEXT,
    duration_ms         BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);
