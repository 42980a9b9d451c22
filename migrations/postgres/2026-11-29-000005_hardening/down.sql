DROP INDEX ledger_transactions_reversed_once;
DROP TRIGGER grant_lots_no_truncate ON grant_lots;
DROP TRIGGER grant_lots_terms_fixed ON grant_lots;
DROP FUNCTION grant_lot_terms_fixed();
