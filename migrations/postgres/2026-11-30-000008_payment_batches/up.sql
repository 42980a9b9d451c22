-- The fund as the debtor of its SEPA credit transfers (set with PATCH /v1/funds/{fund}).
ALTER TABLE funds ADD COLUMN legal_name TEXT;
ALTER TABLE funds ADD COLUMN iban TEXT;
ALTER TABLE funds ADD COLUMN bic TEXT;

-- A payment batch: approved, unpaid claims paid in one SEPA credit transfer file. What the file
-- says (debtor, amounts, creditors, end-to-end ids) is fixed when the batch is made, so the file
-- can be fetched again byte for byte; only the status moves on (open, then confirmed or
-- cancelled, once).
CREATE TABLE payment_batches (
    id                  TEXT PRIMARY KEY,
    fund_id             TEXT NOT NULL REFERENCES funds (id),
    status              TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'cancelled')),
    execution_date      DATE NOT NULL,
    debtor_name         TEXT NOT NULL,
    debtor_iban         TEXT NOT NULL,
    debtor_bic          TEXT,
    transaction_count   INTEGER NOT NULL CHECK (transaction_count > 0),
    total_cents         BIGINT NOT NULL CHECK (total_cents > 0),
    created_at          TIMESTAMP NOT NULL,
    created_by          TEXT NOT NULL,
    bank_reference      TEXT,
    closed_at           TIMESTAMP,
    closed_by           TEXT
);
CREATE INDEX payment_batches_fund ON payment_batches (fund_id, id);

-- One credit transfer per claim. `active` is true while the batch is open or once it paid the
-- claim; a cancelled batch releases its claims. A claim is in at most one active item: never in
-- two open batches, never paid twice by batches.
CREATE TABLE payment_batch_items (
    batch_id        TEXT NOT NULL REFERENCES payment_batches (id),
    claim_id        TEXT NOT NULL REFERENCES claims (id),
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    line            INTEGER NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    creditor_name   TEXT NOT NULL,
    creditor_iban   TEXT NOT NULL,
    end_to_end_id   TEXT NOT NULL,
    remittance      TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    PRIMARY KEY (batch_id, claim_id)
);
CREATE UNIQUE INDEX payment_batch_items_active_claim ON payment_batch_items (claim_id) WHERE active;
CREATE INDEX payment_batch_items_line ON payment_batch_items (batch_id, line);

-- A batch's terms and its items' terms never change; a status moves only from open.
CREATE FUNCTION payment_batches_status_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'open' OR NEW.id <> OLD.id OR NEW.fund_id <> OLD.fund_id OR NEW.execution_date <> OLD.execution_date
        OR NEW.debtor_name <> OLD.debtor_name OR NEW.debtor_iban <> OLD.debtor_iban
        OR NEW.debtor_bic IS DISTINCT FROM OLD.debtor_bic OR NEW.transaction_count <> OLD.transaction_count
        OR NEW.total_cents <> OLD.total_cents OR NEW.created_at <> OLD.created_at OR NEW.created_by <> OLD.created_by THEN
        RAISE EXCEPTION 'payment batches are fixed once made: only an open batch is confirmed or cancelled';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payment_batches_status_only BEFORE UPDATE ON payment_batches FOR EACH ROW EXECUTE FUNCTION payment_batches_status_only();
CREATE TRIGGER payment_batches_no_delete BEFORE DELETE ON payment_batches FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE FUNCTION payment_batch_items_release_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT OLD.active OR NEW.active OR NEW.batch_id <> OLD.batch_id OR NEW.claim_id <> OLD.claim_id OR NEW.fund_id <> OLD.fund_id
        OR NEW.line <> OLD.line OR NEW.amount_cents <> OLD.amount_cents OR NEW.creditor_name <> OLD.creditor_name
        OR NEW.creditor_iban <> OLD.creditor_iban OR NEW.end_to_end_id <> OLD.end_to_end_id OR NEW.remittance <> OLD.remittance THEN
        RAISE EXCEPTION 'payment batch items are fixed once made: an item is only released, once';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payment_batch_items_release_only BEFORE UPDATE ON payment_batch_items FOR EACH ROW EXECUTE FUNCTION payment_batch_items_release_only();
CREATE TRIGGER payment_batch_items_no_delete BEFORE DELETE ON payment_batch_items FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
