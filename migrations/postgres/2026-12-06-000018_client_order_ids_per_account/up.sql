-- Client order ids are unique per account, not across the whole table (issue 18): two accounts
-- in one database may each have an order `mtq-1-...` of their own. An order's transitions name
-- the account as well as the id, so each belongs to exactly one order.
ALTER TABLE order_transitions DROP CONSTRAINT order_transitions_client_order_id_fkey;
ALTER TABLE orders DROP CONSTRAINT orders_client_order_id_key;
-- The target of the transitions' foreign key.
ALTER TABLE orders ADD CONSTRAINT orders_account_client_order_id_key UNIQUE (account_id, client_order_id);
-- NULL is distinct from NULL in a UNIQUE constraint: orders recorded without an account are
-- kept unique among themselves by this index.
CREATE UNIQUE INDEX orders_client_order_id_per_account ON orders (COALESCE(account_id, 0), client_order_id);

ALTER TABLE order_transitions ADD COLUMN account_id BIGINT REFERENCES accounts (id);
UPDATE order_transitions t SET account_id = o.account_id FROM orders o
    WHERE o.client_order_id = t.client_order_id;
ALTER TABLE order_transitions ADD CONSTRAINT order_transitions_order_fkey
    FOREIGN KEY (account_id, client_order_id) REFERENCES orders (account_id, client_order_id);
DROP INDEX order_transitions_order_time;
CREATE INDEX order_transitions_order_time ON order_transitions (client_order_id, account_id, time);
