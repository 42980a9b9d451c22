DROP INDEX claims_provider;
ALTER TABLE vouchers DROP COLUMN provider_id;
ALTER TABLE claims DROP COLUMN provider_id;
ALTER TABLE scheme_versions DROP COLUMN payee;
ALTER TABLE scheme_versions DROP COLUMN provider_policy;
DROP TABLE provider_suspensions;
DROP TABLE providers;
