-- Back to ids unique across all accounts: fails if two accounts already share an id.
DROP INDEX order_transitions_order_time;
CREATE INDEX order_transitions_order_time ON order_transitions (client_order_id, time);
ALTER TABLE order_transitions DROP CONSTRAINT order_transitions_order_fkey;
ALTER TABLE order_transitions DROP COLUMN account_id;
DROP INDEX orders_client_order_id_per_account;
ALTER TABLE orders DROP CONSTRAINT orders_account_client_order_id_key;
ALTER TABLE orders ADD CONSTRAINT orders_client_order_id_key UNIQUE (client_order_id);
ALTER TABLE order_transitions ADD CONSTRAINT order_transitions_client_order_id_fkey
    FOREIGN KEY (client_order_id) REFERENCES orders (client_order_id);
