-- Back to ids unique across all accounts: fails if two accounts already share an id.
CREATE TABLE order_transitions_copy AS
    SELECT id, client_order_id, time, state, retcode, message FROM order_transitions;
DROP TABLE order_transitions;
CREATE TABLE orders_old (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    volume TEXT NOT NULL,
    price TEXT,
    stop_limit TEXT,
    sl TEXT,
    tp TEXT,
    deviation INTEGER NOT NULL,
    magic BIGINT NOT NULL,
    comment TEXT NOT NULL,
    filling TEXT NOT NULL,
    expiration TEXT,
    strategy TEXT,
    state TEXT NOT NULL,
    retcode INTEGER,
    message TEXT,
    deal_ticket BIGINT,
    order_ticket BIGINT,
    position_ticket BIGINT,
    filled_volume TEXT,
    fill_price TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO orders_old SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders_old RENAME TO orders;
CREATE INDEX orders_account_state ON orders (account_id, state);
CREATE INDEX orders_account_created ON orders (account_id, created_at);
CREATE INDEX orders_position_ticket ON orders (position_ticket);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_account_state_created ON orders (account_id, state, created_at, id);
CREATE TABLE order_transitions (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    time TEXT NOT NULL,
    state TEXT NOT NULL,
    retcode INTEGER,
    message TEXT
);
INSERT INTO order_transitions SELECT * FROM order_transitions_copy;
DROP TABLE order_transitions_copy;
CREATE INDEX order_transitions_order_time ON order_transitions (client_order_id, time);
