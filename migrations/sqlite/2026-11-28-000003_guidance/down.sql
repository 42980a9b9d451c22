DROP INDEX grant_lots_fund_expiry;
DROP TABLE coaching_sessions;
