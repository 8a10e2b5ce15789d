-- The operator API's credentials and its read paths.
-- Secrets are never stored: API keys and passwords as argon2id PHC strings, refresh tokens as a
-- hash of the token. Roles are mtq-orchestrator's Role in its stable form.

-- API keys: the public key id (the prefix the client sends before the secret) finds the row,
-- then the secret is verified against the PHC hash.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

-- Dashboard users: argon2id password hash, disabled rather than deleted.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    created_at TEXT NOT NULL,
    disabled_at TEXT
);

-- Refresh tokens, rotated on every use: the used token is revoked and points at its successor,
-- so a token presented again after rotation is recognised as reuse.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    replaced_by BIGINT REFERENCES refresh_tokens (id)
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- History pages are read newest first by (time, id), per account or over all accounts; a page
-- is one index range scan from the cursor.
CREATE INDEX trades_account_entry_time ON trades (account_id, entry_time, id);
CREATE INDEX trades_entry_time ON trades (entry_time, id);
CREATE INDEX trades_account_symbol_entry_time ON trades (account_id, symbol, entry_time, id);
CREATE INDEX signals_time ON signals (time, id);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_account_state_created ON orders (account_id, state, created_at, id);
CREATE INDEX events_time ON events (time, id);
CREATE INDEX events_kind_time_id ON events (kind, time, id);
