-- Operator notifications (mtq-alerts): what each delivery was about and how it went, and the
-- per-channel, per-event levels an operator set (they override the configuration file's).

-- The event type (`kill_switch_tripped`, ...), how many attempts the delivery took, and how many
-- identical alerts the dedup window folded into this one.
ALTER TABLE alert_history ADD COLUMN event_type TEXT NOT NULL DEFAULT 'other';
ALTER TABLE alert_history ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alert_history ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
CREATE INDEX alert_history_channel_time ON alert_history (channel, time);

CREATE TABLE alert_configurations (
    id BIGSERIAL PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('telegram', 'webhook', 'email')),
    event_type TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('on', 'silent', 'off')),
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (channel, event_type)
);
