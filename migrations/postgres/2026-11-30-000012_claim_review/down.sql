DROP INDEX payment_batch_items_claim;
DROP INDEX objections_claim;
DROP INDEX claims_voucher;
DROP TABLE claim_lots;
DROP TABLE claim_periods;
DROP FUNCTION claim_periods_close_only();
ALTER TABLE claims DROP COLUMN held_cents;
ALTER TABLE claims DROP CONSTRAINT claims_status_check;
ALTER TABLE claims ADD CONSTRAINT claims_status_check
    CHECK (status IN ('submitted', 'approved', 'awaiting_guidance', 'rejected', 'paid', 'reversed'));
ALTER TABLE scheme_versions DROP COLUMN review_above_cents;
