-- Several accounts in one process (issue 18): each configured account by its name, and every
-- change of its broker link. Credentials are never stored here.

-- One row per account the configuration names (`accounts:`; `default` for a file without it),
-- with its current connection state. `account_id` links the broker account (`accounts`) once
-- the broker has said which login it is.
CREATE TABLE trading_accounts (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    enabled BOOLEAN NOT NULL,
    broker_kind TEXT NOT NULL CHECK (broker_kind IN ('sim', 'mt5')),
    broker TEXT NOT NULL DEFAULT '',
    server TEXT NOT NULL DEFAULT '',
    login BIGINT,
    currency TEXT NOT NULL,
    magic BIGINT NOT NULL,
    account_id BIGINT REFERENCES accounts (id),
    connected BOOLEAN NOT NULL DEFAULT FALSE,
    state_reason TEXT NOT NULL DEFAULT '',
    state_changed_at TIMESTAMPTZ,
    last_heartbeat TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The connection history gains the configured account, the heartbeat at the change, and an
-- optional broker account (a terminal that never connected has no login yet).
ALTER TABLE account_connection_states ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE account_connection_states ADD COLUMN trading_account_id BIGINT REFERENCES trading_accounts (id);
ALTER TABLE account_connection_states ADD COLUMN last_heartbeat TIMESTAMPTZ;
CREATE INDEX account_connection_states_trading_time ON account_connection_states (trading_account_id, time);
