DROP TABLE payment_returns;
