DROP TABLE alert_configurations;
DROP INDEX alert_history_channel_time;
ALTER TABLE alert_history DROP COLUMN repeats;
ALTER TABLE alert_history DROP COLUMN attempts;
ALTER TABLE alert_history DROP COLUMN event_type;
