DROP TABLE idempotency_keys;
DROP TABLE claims;
DROP TABLE voucher_lots;
DROP TABLE vouchers;
