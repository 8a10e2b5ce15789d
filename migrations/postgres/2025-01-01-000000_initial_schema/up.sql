-- MTQ schema. Money is exact (NUMERIC); times are UTC (TIMESTAMPTZ).

-- Trading accounts. Several may share one database. Credentials are never stored here.
CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    broker TEXT NOT NULL,
    server TEXT NOT NULL,
    login BIGINT NOT NULL,
    currency TEXT NOT NULL,
    margin_mode TEXT NOT NULL CHECK (margin_mode IN ('hedging', 'netting')),
    leverage INTEGER NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (broker, server, login)
);

-- Every connect and disconnect of an account's broker link.
CREATE TABLE account_connection_states (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    time TIMESTAMPTZ NOT NULL,
    connected BOOLEAN NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX account_connection_states_account_time ON account_connection_states (account_id, time);

-- Every signal a strategy produced, acted on or refused (with the reason).
CREATE TABLE signals (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    kind TEXT NOT NULL,
    entry DOUBLE PRECISION,
    sl DOUBLE PRECISION,
    tp DOUBLE PRECISION,
    confidence DOUBLE PRECISION NOT NULL,
    strategy TEXT NOT NULL,
    reason TEXT NOT NULL,
    executed BOOLEAN NOT NULL,
    refusal TEXT
);
CREATE INDEX signals_account_time ON signals (account_id, time);
CREATE INDEX signals_symbol_strategy_time ON signals (symbol, strategy, time);

-- The order intent log: written before an order is sent, updated with the broker's answer.
CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    volume NUMERIC NOT NULL,
    price NUMERIC,
    stop_limit NUMERIC,
    sl NUMERIC,
    tp NUMERIC,
    deviation INTEGER NOT NULL,
    magic BIGINT NOT NULL,
    comment TEXT NOT NULL,
    filling TEXT NOT NULL,
    expiration TIMESTAMPTZ,
    strategy TEXT,
    state TEXT NOT NULL,
    retcode INTEGER,
    message TEXT,
    deal_ticket BIGINT,
    order_ticket BIGINT,
    position_ticket BIGINT,
    filled_volume NUMERIC,
    fill_price NUMERIC,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_account_state ON orders (account_id, state);
CREATE INDEX orders_account_created ON orders (account_id, created_at);
CREATE INDEX orders_position_ticket ON orders (position_ticket);

-- Each state an order went through, in order.
CREATE TABLE order_transitions (
    id BIGSERIAL PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    time TIMESTAMPTZ NOT NULL,
    state TEXT NOT NULL,
    retcode INTEGER,
    message TEXT
);
CREATE INDEX order_transitions_order_time ON order_transitions (client_order_id, time);

-- Positions from entry to exit. Commission, swap and profit accumulate over partial closes.
CREATE TABLE trades (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    ticket BIGINT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    volume NUMERIC NOT NULL,
    closed_volume NUMERIC NOT NULL,
    entry_price NUMERIC NOT NULL,
    entry_time TIMESTAMPTZ NOT NULL,
    exit_price NUMERIC,
    exit_time TIMESTAMPTZ,
    sl NUMERIC,
    tp NUMERIC,
    commission NUMERIC NOT NULL,
    swap NUMERIC NOT NULL,
    profit NUMERIC NOT NULL,
    pips NUMERIC,
    strategy TEXT,
    magic BIGINT NOT NULL,
    comment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    UNIQUE (account_id, ticket)
);
CREATE INDEX trades_account_status ON trades (account_id, status);
CREATE INDEX trades_account_exit_time ON trades (account_id, exit_time);
CREATE INDEX trades_exit_time ON trades (exit_time);
CREATE INDEX trades_symbol_strategy ON trades (symbol, strategy);

-- Balance and equity over time: the equity curve.
CREATE TABLE account_snapshots (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TIMESTAMPTZ NOT NULL,
    balance NUMERIC NOT NULL,
    equity NUMERIC NOT NULL,
    margin NUMERIC NOT NULL,
    free_margin NUMERIC NOT NULL,
    margin_level NUMERIC,
    leverage INTEGER NOT NULL
);
CREATE INDEX account_snapshots_account_time ON account_snapshots (account_id, time);
CREATE INDEX account_snapshots_time ON account_snapshots (time);

-- One row per account (0 = all accounts) and UTC day, written by mtq-aggregator.
CREATE TABLE daily_performance (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL,
    date DATE NOT NULL,
    trades INTEGER NOT NULL,
    wins INTEGER NOT NULL,
    losses INTEGER NOT NULL,
    gross_profit NUMERIC NOT NULL,
    gross_loss NUMERIC NOT NULL,
    net_profit NUMERIC NOT NULL,
    commission NUMERIC NOT NULL,
    swap NUMERIC NOT NULL,
    largest_win NUMERIC NOT NULL,
    largest_loss NUMERIC NOT NULL,
    win_rate DOUBLE PRECISION NOT NULL,
    profit_factor DOUBLE PRECISION,
    start_equity NUMERIC,
    end_equity NUMERIC,
    max_drawdown NUMERIC NOT NULL,
    max_drawdown_pct DOUBLE PRECISION NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL,
    UNIQUE (account_id, date)
);
CREATE INDEX daily_performance_date ON daily_performance (date);

-- The audit journal: every domain event as JSON, plus kill switch, reloads, connections, errors.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT,
    message TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_account_time ON events (account_id, time);
CREATE INDEX events_kind_time ON events (kind, time);

-- Optimiser runs, their evaluated parameter sets, and the best set per symbol and strategy.
CREATE TABLE optimization_runs (
    id BIGSERIAL PRIMARY KEY,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    period_end TIMESTAMPTZ NOT NULL,
    objective TEXT NOT NULL,
    parameter_space TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
CREATE INDEX optimization_runs_symbol_strategy ON optimization_runs (symbol, strategy, started_at);

CREATE TABLE optimization_results (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES optimization_runs (id) ON DELETE CASCADE,
    parameters TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    net_profit NUMERIC NOT NULL,
    profit_factor DOUBLE PRECISION,
    sharpe DOUBLE PRECISION,
    max_drawdown_pct DOUBLE PRECISION NOT NULL,
    trades INTEGER NOT NULL,
    win_rate DOUBLE PRECISION NOT NULL
);
CREATE INDEX optimization_results_run_score ON optimization_results (run_id, score);

CREATE TABLE best_parameters (
    id BIGSERIAL PRIMARY KEY,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    parameters TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    run_id BIGINT REFERENCES optimization_runs (id) ON DELETE SET NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (symbol, strategy, timeframe)
);

-- Alerts sent (or that failed to send) to operators.
CREATE TABLE alert_history (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TIMESTAMPTZ NOT NULL,
    channel TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    delivered BOOLEAN NOT NULL,
    error TEXT
);
CREATE INDEX alert_history_time ON alert_history (time);
CREATE INDEX alert_history_severity_time ON alert_history (severity, time);
