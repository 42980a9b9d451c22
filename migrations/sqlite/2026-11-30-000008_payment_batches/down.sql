DROP TABLE payment_batch_items;
DROP TABLE payment_batches;
ALTER TABLE funds DROP COLUMN bic;
ALTER TABLE funds DROP COLUMN iban;
ALTER TABLE funds DROP COLUMN legal_name;
