-- MTQ schema. Money is exact (decimal TEXT, never REAL); times are UTC (TEXT 'YYYY-MM-DDTHH:MM:SS.ffffffZ', so text order is time order).

-- Trading accounts. Several may share one database. Credentials are never stored here.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    broker TEXT NOT NULL,
    server TEXT NOT NULL,
    login BIGINT NOT NULL,
    currency TEXT NOT NULL,
    margin_mode TEXT NOT NULL CHECK (margin_mode IN ('hedging', 'netting')),
    leverage INTEGER NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (broker, server, login)
);

-- Every connect and disconnect of an account's broker link.
CREATE TABLE account_connection_states (
    id INTEGER PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    time TEXT NOT NULL,
    connected BOOLEAN NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX account_connection_states_account_time ON account_connection_states (account_id, time);

-- Every signal a strategy produced, acted on or refused (with the reason).
CREATE TABLE signals (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    kind TEXT NOT NULL,
    entry DOUBLE,
    sl DOUBLE,
    tp DOUBLE,
    confidence DOUBLE NOT NULL,
    strategy TEXT NOT NULL,
    reason TEXT NOT NULL,
    executed BOOLEAN NOT NULL,
    refusal TEXT
);
CREATE INDEX signals_account_time ON signals (account_id, time);
CREATE INDEX signals_symbol_strategy_time ON signals (symbol, strategy, time);

-- The order intent log: written before an order is sent, updated with the broker's answer.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    client_order_id TEXT NOT NULL UNIQUE,
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
    updated_at TEXT NOT NULL
);
CREATE INDEX orders_account_state ON orders (account_id, state);
CREATE INDEX orders_account_created ON orders (account_id, created_at);
CREATE INDEX orders_position_ticket ON orders (position_ticket);

-- Each state an order went through, in order.
CREATE TABLE order_transitions (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    time TEXT NOT NULL,
    state TEXT NOT NULL,
    retcode INTEGER,
    message TEXT
);
CREATE INDEX order_transitions_order_time ON order_transitions (client_order_id, time);

-- Positions from entry to exit. Commission, swap and profit accumulate over partial closes.
CREATE TABLE trades (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    ticket BIGINT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    volume TEXT NOT NULL,
    closed_volume TEXT NOT NULL,
    entry_price TEXT NOT NULL,
    entry_time TEXT NOT NULL,
    exit_price TEXT,
    exit_time TEXT,
    sl TEXT,
    tp TEXT,
    commission TEXT NOT NULL,
    swap TEXT NOT NULL,
    profit TEXT NOT NULL,
    pips TEXT,
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
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TEXT NOT NULL,
    balance TEXT NOT NULL,
    equity TEXT NOT NULL,
    margin TEXT NOT NULL,
    free_margin TEXT NOT NULL,
    margin_level TEXT,
    leverage INTEGER NOT NULL
);
CREATE INDEX account_snapshots_account_time ON account_snapshots (account_id, time);
CREATE INDEX account_snapshots_time ON account_snapshots (time);

-- One row per account (0 = all accounts) and UTC day, written by mtq-aggregator.
CREATE TABLE daily_performance (
    id INTEGER PRIMARY KEY,
    account_id BIGINT NOT NULL,
    date DATE NOT NULL,
    trades INTEGER NOT NULL,
    wins INTEGER NOT NULL,
    losses INTEGER NOT NULL,
    gross_profit TEXT NOT NULL,
    gross_loss TEXT NOT NULL,
    net_profit TEXT NOT NULL,
    commission TEXT NOT NULL,
    swap TEXT NOT NULL,
    largest_win TEXT NOT NULL,
    largest_loss TEXT NOT NULL,
    win_rate DOUBLE NOT NULL,
    profit_factor DOUBLE,
    start_equity TEXT,
    end_equity TEXT,
    max_drawdown TEXT NOT NULL,
    max_drawdown_pct DOUBLE NOT NULL,
    computed_at TEXT NOT NULL,
    UNIQUE (account_id, date)
);
CREATE INDEX daily_performance_date ON daily_performance (date);

-- The audit journal: every domain event as JSON, plus kill switch, reloads, connections, errors.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT,
    message TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_account_time ON events (account_id, time);
CREATE INDEX events_kind_time ON events (kind, time);

-- Optimiser runs, their evaluated parameter sets, and the best set per symbol and strategy.
CREATE TABLE optimization_runs (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    objective TEXT NOT NULL,
    parameter_space TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX optimization_runs_symbol_strategy ON optimization_runs (symbol, strategy, started_at);

CREATE TABLE optimization_results (
    id INTEGER PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES optimization_runs (id) ON DELETE CASCADE,
    parameters TEXT NOT NULL,
    score DOUBLE NOT NULL,
    net_profit TEXT NOT NULL,
    profit_factor DOUBLE,
    sharpe DOUBLE,
    max_drawdown_pct DOUBLE NOT NULL,
    trades INTEGER NOT NULL,
    win_rate DOUBLE NOT NULL
);
CREATE INDEX optimization_results_run_score ON optimization_results (run_id, score);

CREATE TABLE best_parameters (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    parameters TEXT NOT NULL,
    score DOUBLE NOT NULL,
    run_id BIGINT REFERENCES optimization_runs (id) ON DELETE SET NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (symbol, strategy, timeframe)
);

-- Alerts sent (or that failed to send) to operators.
CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY,
    account_id BIGINT REFERENCES accounts (id),
    time TEXT NOT NULL,
    channel TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    delivered BOOLEAN NOT NULL,
    error TEXT
);
CREATE INDEX alert_history_time ON alert_history (time);
CREATE INDEX alert_history_severity_time ON alert_history (severity, time);
