-- The fund's registry of training providers. Under a scheme with provider_policy 'registered',
-- claims and vouchers must name an active registered provider; a suspended provider's approved,
-- unpaid claims are held out of payment batches until it is reinstated.
CREATE TABLE providers (
    id              TEXT PRIMARY KEY,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    kvk_number      TEXT NOT NULL,
    name            TEXT NOT NULL,
    iban            TEXT,
    quality_labels  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (fund_id, kvk_number)
);
CREATE INDEX providers_fund ON providers (fund_id, id);

-- Every suspension, with its reason and (once reinstated) its end: the provider's history.
CREATE TABLE provider_suspensions (
    provider_id     TEXT NOT NULL REFERENCES providers (id),
    recorded_at     TIMESTAMP NOT NULL,
    fund_id         TEXT NOT NULL REFERENCES funds (id),
    suspended_on    DATE NOT NULL,
    reason          TEXT NOT NULL,
    suspended_by    TEXT NOT NULL,
    reinstated_on   DATE,
    reinstated_by   TEXT,
    PRIMARY KEY (provider_id, recorded_at)
);
CREATE UNIQUE INDEX provider_suspensions_open ON provider_suspensions (provider_id) WHERE reinstated_on IS NULL;

ALTER TABLE scheme_versions ADD COLUMN provider_policy TEXT NOT NULL DEFAULT 'open' CHECK (provider_policy IN ('open', 'registered'));
ALTER TABLE scheme_versions ADD COLUMN payee TEXT NOT NULL DEFAULT 'employer' CHECK (payee IN ('employer', 'provider'));
ALTER TABLE claims ADD COLUMN provider_id TEXT REFERENCES providers (id);
ALTER TABLE vouchers ADD COLUMN provider_id TEXT REFERENCES providers (id);
CREATE INDEX claims_provider ON claims (provider_id) WHERE provider_id IS NOT NULL;
