DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TRIGGER events_no_delete;
DROP TRIGGER events_sequence_only;
DROP TABLE events;
