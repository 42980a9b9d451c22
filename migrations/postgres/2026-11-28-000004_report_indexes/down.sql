DROP INDEX ledger_postings_lot;
