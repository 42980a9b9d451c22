-- The report reads each lot's available money at a month's end from its postings.
CREATE INDEX ledger_postings_lot ON ledger_postings (lot_id) WHERE lot_id IS NOT NULL;
