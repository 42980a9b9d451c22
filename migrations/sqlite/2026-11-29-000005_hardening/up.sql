-- A lot's terms (what was granted, to whom, until when) are part of the ledger: only its
-- running balances (available, reserved) change, in the same transaction as the postings that
-- move them. Lots are never deleted.
CREATE TRIGGER grant_lots_terms_fixed BEFORE UPDATE OF id, fund_id, account_id, transaction_id, grant_year,
    amount_cents, expires_on, created_at ON grant_lots
WHEN NEW.id IS NOT OLD.id OR NEW.fund_id IS NOT OLD.fund_id OR NEW.account_id IS NOT OLD.account_id
    OR NEW.transaction_id IS NOT OLD.transaction_id OR NEW.grant_year IS NOT OLD.grant_year
    OR NEW.amount_cents IS NOT OLD.amount_cents OR NEW.expires_on IS NOT OLD.expires_on
    OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'grant lot terms are fixed: only available and reserved change'); END;
CREATE TRIGGER grant_lots_no_delete BEFORE DELETE ON grant_lots
BEGIN SELECT RAISE(ABORT, 'grant lots are append-only: DELETE on grant_lots refused'); END;

-- A transaction is reversed at most once: the database refuses a second reversal whatever
-- the code does.
CREATE UNIQUE INDEX ledger_transactions_reversed_once ON ledger_transactions (reverses) WHERE reverses IS NOT NULL;

-- A payment is recorded once, in its own append-only row, in the same transaction as the
-- claim's status: a claim can never be paid twice, and verify can tell a paid claim from an
-- approved one even if the claim row is changed behind the service's back.
CREATE TABLE claim_payments (
    claim_id            TEXT PRIMARY KEY NOT NULL REFERENCES claims (id),
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    payment_reference   TEXT NOT NULL,
    paid_by             TEXT NOT NULL,
    paid_at             TIMESTAMP NOT NULL
);
CREATE INDEX claim_payments_fund_id ON claim_payments (fund_id);
CREATE TRIGGER claim_payments_no_update BEFORE UPDATE ON claim_payments
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on claim_payments refused'); END;
CREATE TRIGGER claim_payments_no_delete BEFORE DELETE ON claim_payments
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on claim_payments refused'); END;

-- Records of decisions are never deleted, and a scheme version is never edited (a changed
-- rule is a new version).
CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on claims refused'); END;
CREATE TRIGGER vouchers_no_delete BEFORE DELETE ON vouchers
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on vouchers refused'); END;
CREATE TRIGGER voucher_lots_no_update BEFORE UPDATE ON voucher_lots
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on voucher_lots refused'); END;
CREATE TRIGGER voucher_lots_no_delete BEFORE DELETE ON voucher_lots
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on voucher_lots refused'); END;
CREATE TRIGGER coaching_sessions_no_update BEFORE UPDATE ON coaching_sessions
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on coaching_sessions refused'); END;
CREATE TRIGGER coaching_sessions_no_delete BEFORE DELETE ON coaching_sessions
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on coaching_sessions refused'); END;
CREATE TRIGGER scheme_versions_no_update BEFORE UPDATE ON scheme_versions
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE on scheme_versions refused'); END;
CREATE TRIGGER scheme_versions_no_delete BEFORE DELETE ON scheme_versions
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE on scheme_versions refused'); END;
