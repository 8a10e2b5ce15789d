-- Why each trade ended (signal, stop_loss, take_profit, breakeven, trailing, partial_close,
-- max_holding_time, operator, kill_switch, stop_out: mtq_core::ExitReason's stable form).
-- NULL while the trade is open, and for trades recorded before this migration.
ALTER TABLE trades ADD COLUMN exit_reason TEXT;
