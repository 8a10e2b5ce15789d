CREATE TABLE account_connection_states_old (
    id INTEGER PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    time TEXT NOT NULL,
    connected BOOLEAN NOT NULL,
    detail TEXT NOT NULL
);
INSERT INTO account_connection_states_old (id, account_id, time, connected, detail)
    SELECT id, account_id, time, connected, detail FROM account_connection_states
    WHERE account_id IS NOT NULL;
DROP TABLE account_connection_states;
ALTER TABLE account_connection_states_old RENAME TO account_connection_states;
CREATE INDEX account_connection_states_account_time ON account_connection_states (account_id, time);
DROP TABLE trading_accounts;
