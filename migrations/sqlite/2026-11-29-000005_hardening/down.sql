DROP INDEX ledger_transactions_reversed_once;
DROP TRIGGER grant_lots_no_delete;
DROP TRIGGER grant_lots_terms_fixed;
