DROP INDEX account_connection_states_trading_time;
ALTER TABLE account_connection_states DROP COLUMN last_heartbeat;
ALTER TABLE account_connection_states DROP COLUMN trading_account_id;
DELETE FROM account_connection_states WHERE account_id IS NULL;
ALTER TABLE account_connection_states ALTER COLUMN account_id SET NOT NULL;
DROP TABLE trading_accounts;
