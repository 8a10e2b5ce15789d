-- Entries waiting for an operator's approval (`trader.mode: semi`, issue 22): the strategy's
-- signal and the order the checks allowed, and what became of them (approved, rejected or
-- expired). One row per approval, updated in place as its state changes.
CREATE TABLE approvals (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    approval_id BIGINT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    volume TEXT NOT NULL,
    sl TEXT,
    tp TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    note TEXT,
    -- The whole approval (signal and order request) as JSON.
    payload TEXT NOT NULL
);
-- NULL is distinct from NULL in a UNIQUE constraint: the index keeps ids unique per account,
-- and among approvals recorded without one.
CREATE UNIQUE INDEX approvals_account_approval ON approvals (COALESCE(account_id, 0), approval_id);
CREATE INDEX approvals_account_state_created ON approvals (account_id, state, created_at);
