-- A lot's terms (what was granted, to whom, until when) are part of the ledger: only its
-- running balances (available, reserved) change, in the same transaction as the postings that
-- move them. Lots are never deleted.
CREATE FUNCTION grant_lot_terms_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'grant lots are append-only: DELETE on grant_lots refused';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.fund_id IS DISTINCT FROM OLD.fund_id
        OR NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.transaction_id IS DISTINCT FROM OLD.transaction_id
        OR NEW.grant_year IS DISTINCT FROM OLD.grant_year OR NEW.amount_cents IS DISTINCT FROM OLD.amount_cents
        OR NEW.expires_on IS DISTINCT FROM OLD.expires_on OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'grant lot terms are fixed: only available and reserved change';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER grant_lots_terms_fixed BEFORE UPDATE OR DELETE ON grant_lots
    FOR EACH ROW EXECUTE FUNCTION grant_lot_terms_fixed();
CREATE TRIGGER grant_lots_no_truncate BEFORE TRUNCATE ON grant_lots
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A transaction is reversed at most once: the database refuses a second reversal whatever
-- the code does.
CREATE UNIQUE INDEX ledger_transactions_reversed_once ON ledger_transactions (reverses) WHERE reverses IS NOT NULL;

-- A payment is recorded once, in its own append-only row, in the same transaction as the
-- claim's status: a claim can never be paid twice, and verify can tell a paid claim from an
-- approved one even if the claim row is changed behind the service's back.
CREATE TABLE claim_payments (
    claim_id            TEXT PRIMARY KEY REFERENCES claims (id),
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    payment_reference   TEXT NOT NULL,
    paid_by             TEXT NOT NULL,
    paid_at             TIMESTAMP NOT NULL
);
CREATE INDEX claim_payments_fund_id ON claim_payments (fund_id);
CREATE TRIGGER claim_payments_append_only BEFORE UPDATE OR DELETE ON claim_payments
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER claim_payments_no_truncate BEFORE TRUNCATE ON claim_payments
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Records of decisions are never deleted, and a scheme version is never edited (a changed
-- rule is a new version).
CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER vouchers_no_delete BEFORE DELETE ON vouchers FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER voucher_lots_append_only BEFORE UPDATE OR DELETE ON voucher_lots FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER coaching_sessions_append_only BEFORE UPDATE OR DELETE ON coaching_sessions FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER scheme_versions_append_only BEFORE UPDATE OR DELETE ON scheme_versions FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER claims_no_truncate BEFORE TRUNCATE ON claims FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER vouchers_no_truncate BEFORE TRUNCATE ON vouchers FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER voucher_lots_no_truncate BEFORE TRUNCATE ON voucher_lots FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER coaching_sessions_no_truncate BEFORE TRUNCATE ON coaching_sessions FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER scheme_versions_no_truncate BEFORE TRUNCATE ON scheme_versions FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
