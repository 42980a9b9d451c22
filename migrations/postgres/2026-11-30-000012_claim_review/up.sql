-- Review of large claims (issue 14): a scheme may set `review_above`; a claim whose fund share is
-- above it goes to `under_review` with its money reserved until the back office approves or
-- rejects it. `held_cents` is what the claim holds while under review (its own reservation plus
-- the part of a voucher it will use).
ALTER TABLE scheme_versions ADD COLUMN review_above_cents BIGINT CHECK (review_above_cents >= 0);
ALTER TABLE claims DROP CONSTRAINT claims_status_check;
ALTER TABLE claims ADD CONSTRAINT claims_status_check
    CHECK (status IN ('submitted', 'approved', 'awaiting_guidance', 'under_review', 'rejected', 'paid', 'reversed'));
ALTER TABLE claims ADD COLUMN held_cents BIGINT NOT NULL DEFAULT 0 CHECK (held_cents >= 0);

-- When a claim waited, for guidance or for review: the monthly report counts the claims waiting
-- at a month's end from these times, which later decisions do not move (a claim's decided_at
-- does). Opened once, closed once. Claims waiting for guidance now are backfilled.
CREATE TABLE claim_periods (
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    kind            TEXT NOT NULL CHECK (kind IN ('awaiting_guidance', 'under_review')),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    opened_at       TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP,
    PRIMARY KEY (claim_id, kind)
);
CREATE INDEX claim_periods_fund ON claim_periods (fund_id, kind, opened_at);
CREATE FUNCTION claim_periods_close_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed_at IS NOT NULL OR NEW.claim_id <> OLD.claim_id OR NEW.kind <> OLD.kind OR NEW.fund_id <> OLD.fund_id
       OR NEW.opened_at <> OLD.opened_at THEN
        RAISE EXCEPTION 'a claim''s waiting period is closed once and never changed otherwise';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER claim_periods_close_only BEFORE UPDATE ON claim_periods FOR EACH ROW EXECUTE FUNCTION claim_periods_close_only();
CREATE TRIGGER claim_periods_no_delete BEFORE DELETE ON claim_periods FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER claim_periods_no_truncate BEFORE TRUNCATE ON claim_periods FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
INSERT INTO claim_periods (claim_id, kind, fund_id, opened_at)
SELECT id, 'awaiting_guidance', fund_id, submitted_at FROM claims WHERE status = 'awaiting_guidance';

-- The lots a claim under review reserved, like a voucher's. Never changed.
CREATE TABLE claim_lots (
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    lot_id          TEXT NOT NULL REFERENCES grant_lots (id),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (claim_id, lot_id)
);
CREATE INDEX claim_lots_fund ON claim_lots (fund_id);
CREATE TRIGGER claim_lots_append_only BEFORE UPDATE OR DELETE ON claim_lots
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER claim_lots_no_truncate BEFORE TRUNCATE ON claim_lots
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Lookups per claim that walked whole tables (found with EXPLAIN QUERY PLAN on a 100,000-worker
-- fund): the claim under review that holds a voucher, a claim's objections, a claim's batch items
-- (the partial index on active items does not serve a query that binds `active` as a parameter).
CREATE INDEX claims_voucher ON claims (voucher_id) WHERE voucher_id IS NOT NULL;
CREATE INDEX objections_claim ON objections (claim_id);
CREATE INDEX payment_batch_items_claim ON payment_batch_items (claim_id);
