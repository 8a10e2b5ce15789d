-- Backtests as `mtq-trader backtest` ran them (issue 19): what was tested, the headline figures,
-- the whole statistics object, the settings and a thinned equity curve, so the dashboard lists
-- and draws them beside the optimisation runs.
CREATE TABLE backtest_runs (
    id BIGSERIAL PRIMARY KEY,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    parameters TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    period_end TIMESTAMPTZ NOT NULL,
    bars BIGINT NOT NULL,
    trades BIGINT NOT NULL,
    net_profit NUMERIC NOT NULL,
    return_pct DOUBLE PRECISION NOT NULL,
    win_rate DOUBLE PRECISION NOT NULL,
    profit_factor DOUBLE PRECISION,
    sharpe DOUBLE PRECISION,
    max_drawdown_pct DOUBLE PRECISION NOT NULL,
    stats TEXT NOT NULL,
    settings TEXT NOT NULL,
    equity TEXT NOT NULL,
    report_dir TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX backtest_runs_created ON backtest_runs (created_at, id);
CREATE INDEX backtest_runs_symbol_strategy ON backtest_runs (symbol, strategy, created_at);
