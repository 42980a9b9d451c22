DROP TABLE payment_batch_items;
DROP TABLE payment_batches;
DROP FUNCTION payment_batch_items_release_only();
DROP FUNCTION payment_batches_status_only();
ALTER TABLE funds DROP COLUMN bic;
ALTER TABLE funds DROP COLUMN iban;
ALTER TABLE funds DROP COLUMN legal_name;
