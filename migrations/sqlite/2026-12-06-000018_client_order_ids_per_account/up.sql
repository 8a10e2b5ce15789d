-- Client order ids are unique per account, not across the whole table (issue 18): two accounts
-- in one database may each have an order `mtq-1-...` of their own. An order's transitions name
-- the account as well as the id, so each belongs to exactly one order.
--
-- SQLite cannot drop a column constraint in place, so both tables are rebuilt (foreign keys stay
-- on: the transitions wait in a table without references while `orders` is replaced).
CREATE TABLE order_transitions_copy AS
    SELECT t.id, o.account_id, t.client_order_id, t.time, t.state, t.retcode, t.message
    FROM order_transitions t JOIN orders o ON o.client_order_id = t.client_order_id;
DROP TABLE order_transitions;

CREATE TABLE orders_new (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    client_order_id TEXT NOT NULL,
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
    updated_at TEXT NOT NULL,
    -- The target of the transitions' foreign key.
    UNIQUE (account_id, client_order_id)
);
INSERT INTO orders_new SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_account_state ON orders (account_id, state);
CREATE INDEX orders_account_created ON orders (account_id, created_at);
CREATE INDEX orders_position_ticket ON orders (position_ticket);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_account_state_created ON orders (account_id, state, created_at, id);
-- NULL is distinct from NULL in a UNIQUE constraint: orders recorded without an account are
-- kept unique among themselves by this index.
CREATE UNIQUE INDEX orders_client_order_id_per_account ON orders (COALESCE(account_id, 0), client_order_id);

CREATE TABLE order_transitions (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    client_order_id TEXT NOT NULL,
    time TEXT NOT NULL,
    state TEXT NOT NULL,
    retcode INTEGER,
    message TEXT,
    FOREIGN KEY (account_id, client_order_id) REFERENCES orders (account_id, client_order_id)
);
INSERT INTO order_transitions (id, account_id, client_order_id, time, state, retcode, message)
    SELECT id, account_id, client_order_id, time, state, retcode, message FROM order_transitions_copy;
DROP TABLE order_transitions_copy;
CREATE INDEX order_transitions_order_time ON order_transitions (client_order_id, account_id, time);
