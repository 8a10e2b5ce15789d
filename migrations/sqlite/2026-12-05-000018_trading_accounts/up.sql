-- Several accounts in one process (issue 18): each configured account by its name, and every
-- change of its broker link. Credentials are never stored here.

-- One row per account the configuration names (`accounts:`; `default` for a file without it),
-- with its current connection state. `account_id` links the broker account (`accounts`) once
-- the broker has said which login it is.
CREATE TABLE trading_accounts (
    id INTEGER PRIMARY KEY,
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
    state_changed_at TEXT,
    last_heartbeat TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The connection history gains the configured account, the heartbeat at the change, and an
-- optional broker account (a terminal that never connected has no login yet). SQLite cannot
-- drop NOT NULL in place: the table is rebuilt (nothing references it).
CREATE TABLE account_connection_states_new (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    trading_account_id BIGINT REFERENCES trading_accounts (id),
    time TEXT NOT NULL,
    connected BOOLEAN NOT NULL,
    detail TEXT NOT NULL,
    last_heartbeat TEXT
);
INSERT INTO account_connection_states_new (id, account_id, time, connected, detail)
    SELECT id, account_id, time, connected, detail FROM account_connection_states;
DROP TABLE account_connection_states;
ALTER TABLE account_connection_states_new RENAME TO account_connection_states;
CREATE INDEX account_connection_states_account_time ON account_connection_states (account_id, time);
CREATE INDEX account_connection_states_trading_time ON account_connection_states (trading_account_id, time);
