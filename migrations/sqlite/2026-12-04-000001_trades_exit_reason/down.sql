ALTER TABLE trades DROP COLUMN exit_reason;
