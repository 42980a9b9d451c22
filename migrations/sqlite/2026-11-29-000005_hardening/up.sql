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
