//! Every metric MTQ exports: its name, type, labels, help text and (for histograms) buckets, in
//! one table. The recorder describes them all at start-up, the Grafana test checks the
//! dashboard's queries against them, and `docs/operations.md` lists them.
//!
//! Conventions (Prometheus'): the `mtq_` prefix, base units (`_seconds`, `_ratio` in 0..1,
//! `_lots`, `_points`), `_total` for counters. Labels are low-cardinality only: account, symbol,
//! side, strategy, op, kind, result, reason, retcode, route and the like, never a ticket, an
//! order id or a price.

/// A metric's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
    /// Explicit buckets (histograms only): without them the exporter renders a summary.
    pub buckets: &'static [f64],
}

macro_rules! metrics_table {
    ($( $(#[$doc:meta])* $const:ident = $name:literal, $kind:ident, [$($label:literal),*], $buckets:expr, $help:literal; )*) => {
        $( $(#[$doc])* pub const $const: &str = $name; )*
        /// Every metric MTQ exports.
        pub const ALL: &[Metric] = &[
            $( Metric { name: $name, kind: Kind::$kind, labels: &[$($label),*], help: $help, buckets: $buckets }, )*
        ];
    };
}

const NONE: &[f64] = &[];
/// A trading cycle: a paper cycle takes tens of microseconds, an MT5 one a few round trips.
pub const CYCLE_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];
/// One broker request: microseconds on the simulator, milliseconds over the MT5 bridge.
pub const BROKER_BUCKETS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// An order from send to answer; the MtqOrderLatencyHigh alert fires above 2 s at p95.
pub const ORDER_LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
];
/// Slippage in points, signed (positive: worse than asked), symmetric around zero.
pub const SLIPPAGE_BUCKETS: &[f64] = &[
    -50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0,
];
/// A database batch write.
pub const DB_BUCKETS: &[f64] = &[
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// An HTTP request to the operator API.
pub const HTTP_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

metrics_table! {
    BUILD_INFO = "mtq_build_info", Gauge, ["version"], NONE,
        "Always 1; the version label says which MTQ build runs.";
    // Trading state and the kill switch.
    TRADING_STATE = "mtq_trading_state", Gauge, ["account", "state"], NONE,
        "1 for the account's current trading state (running, paused, stopped), 0 for the others.";
    KILL_SWITCH_ACTIVE = "mtq_kill_switch_active", Gauge, ["account"], NONE,
        "1 while the kill switch holds entries back (reduce-only or halted), 0 when trading is allowed.";
    KILL_SWITCH_TRIPS = "mtq_kill_switch_trips_total", Counter, ["account", "reason"], NONE,
        "Kill-switch trips by what tripped it (daily_loss, drawdown, order_failures, manual, file, emergency_stop).";
    // The loop.
    CYCLE_DURATION = "mtq_cycle_duration_seconds", Histogram, ["account"], CYCLE_BUCKETS,
        "Wall-clock duration of one trading cycle (deals, account, bars, management, snapshot).";
    CYCLES = "mtq_cycles_total", Counter, ["account", "result"], NONE,
        "Trading cycles run, by result (ok, error).";
    LAST_CYCLE = "mtq_last_cycle_timestamp_seconds", Gauge, ["account"], NONE,
        "Unix time (wall clock) when the trading loop was last seen alive: a completed cycle or a paced wait.";
    // The broker.
    BROKER_CONNECTED = "mtq_broker_connected", Gauge, ["account"], NONE,
        "1 while the last cycle could read the broker, 0 when it could not.";
    BROKER_RECONNECTS = "mtq_broker_reconnects_total", Counter, ["account"], NONE,
        "Times the broker connection came back after it was lost.";
    BROKER_HEARTBEAT_AGE = "mtq_broker_heartbeat_age_seconds", Gauge, ["account"], NONE,
        "Seconds since the broker last answered a request.";
    BROKER_REQUEST_DURATION = "mtq_broker_request_duration_seconds", Histogram, ["account", "op"], BROKER_BUCKETS,
        "Duration of one broker request, by operation (account, positions, deals, bars, send_order, ...).";
    BROKER_ERRORS = "mtq_broker_errors_total", Counter, ["account", "op", "class"], NONE,
        "Failed broker requests by operation and class (rejected, retry_with_fresh_price, retry_later, outcome_unknown).";
    // Market data.
    TICKS = "mtq_ticks_total", Counter, ["symbol"], NONE,
        "Quotes read from the broker.";
    BARS = "mtq_bars_total", Counter, ["symbol", "timeframe"], NONE,
        "Bars closed and handed to the strategies.";
    LAST_TICK = "mtq_last_tick_timestamp_seconds", Gauge, ["symbol"], NONE,
        "Unix time (wall clock) when a new quote of the symbol was last seen.";
    SPREAD = "mtq_spread_points", Gauge, ["symbol"], NONE,
        "The symbol's current spread in points.";
    MARKET_OPEN = "mtq_market_open", Gauge, ["symbol"], NONE,
        "1 while the symbol's market is taken to be open, 0 after the broker said it is closed (retcode 10018 or 10017), until it accepts a request again.";
    // Signals and orders.
    SIGNALS = "mtq_signals_total", Counter, ["account", "symbol", "strategy", "direction"], NONE,
        "Strategy signals by direction (buy, sell, close, hold).";
    SIGNALS_REFUSED = "mtq_signals_refused_total", Counter, ["account", "symbol", "strategy", "reason"], NONE,
        "Signals not acted on, by reason (the refusal's stable code: daily_loss_limit, kill_switch, entries_paused, hold, ...).";
    ML_SIGNALS = "mtq_ml_signals_total", Counter, ["account", "symbol", "status"], NONE,
        "Signals a model read, by the model's status: active, fallen_back (the model failed; the base strategy trades alone) or stopped (the model failed; entries blocked).";
    ORDERS = "mtq_orders_total", Counter, ["account", "symbol", "kind", "result"], NONE,
        "Orders sent to the broker by kind (entry, close, modify, cancel) and result (done, partial, placed, rejected, requote, retry_later, unknown).";
    ORDER_REJECTS = "mtq_order_rejects_total", Counter, ["account", "retcode"], NONE,
        "Orders the broker refused, by MT5 return code.";
    ORDER_RETRIES = "mtq_order_retries_total", Counter, ["account", "reason"], NONE,
        "An order sent again for the same intent, by the previous attempt's result.";
    ORDER_LATENCY = "mtq_order_latency_seconds", Histogram, ["account", "kind"], ORDER_LATENCY_BUCKETS,
        "Wall-clock time from sending an order to the broker's answer, by kind.";
    ORDER_SLIPPAGE = "mtq_order_slippage_points", Histogram, ["symbol", "side"], SLIPPAGE_BUCKETS,
        "Fill price against the quote the order was sent at, in points; positive is worse for the trader.";
    // Positions and the account.
    POSITIONS_OPEN = "mtq_positions_open", Gauge, ["account", "symbol", "side"], NONE,
        "Open positions.";
    POSITION_VOLUME = "mtq_position_volume_lots", Gauge, ["account", "symbol", "side"], NONE,
        "Open volume in lots.";
    UNREALIZED_PNL = "mtq_unrealized_pnl", Gauge, ["account", "symbol"], NONE,
        "Floating profit of the open positions, in the account currency.";
    BALANCE = "mtq_account_balance", Gauge, ["account", "currency"], NONE,
        "Account balance in the account currency.";
    EQUITY = "mtq_account_equity", Gauge, ["account", "currency"], NONE,
        "Account equity in the account currency.";
    MARGIN = "mtq_account_margin", Gauge, ["account", "currency"], NONE,
        "Margin in use, in the account currency.";
    FREE_MARGIN = "mtq_account_free_margin", Gauge, ["account", "currency"], NONE,
        "Free margin, in the account currency.";
    MARGIN_LEVEL = "mtq_account_margin_level_ratio", Gauge, ["account"], NONE,
        "Equity over margin (2.0 is 200 %); absent while no margin is used.";
    DRAWDOWN = "mtq_drawdown_ratio", Gauge, ["account"], NONE,
        "Drawdown from the equity peak, 0..1.";
    DRAWDOWN_LIMIT = "mtq_drawdown_limit_ratio", Gauge, ["account"], NONE,
        "The configured drawdown limit, 0..1 (absent when none is set).";
    DAILY_PNL = "mtq_daily_pnl", Gauge, ["account"], NONE,
        "Today's realised and floating P&L, in the account currency.";
    DAILY_LOSS_USED = "mtq_daily_loss_limit_used_ratio", Gauge, ["account"], NONE,
        "Today's loss over the daily-loss limit (1.0 trips the kill switch); 0 while in profit.";
    TRADES_CLOSED = "mtq_trades_closed_total", Counter, ["account", "symbol", "outcome", "exit_reason"], NONE,
        "Closing deals by outcome (win, loss, breakeven) and exit reason.";
    GROSS_PROFIT = "mtq_gross_profit_total", Counter, ["account", "symbol"], NONE,
        "Sum of the winning closing deals' net results, in the account currency (monotonic).";
    GROSS_LOSS = "mtq_gross_loss_total", Counter, ["account", "symbol"], NONE,
        "Sum of the losing closing deals' net results as a positive amount, in the account currency (monotonic).";
    COMMISSION = "mtq_commission_total", Counter, ["account"], NONE,
        "Commission paid, as a positive amount, in the account currency.";
    SWAP = "mtq_swap_total", Counter, ["account", "sign"], NONE,
        "Swap charged (sign=paid) and credited (sign=earned) as positive amounts, in the account currency.";
    ERRORS = "mtq_errors_total", Counter, ["account", "source"], NONE,
        "Errors the trader recorded, by source (broker, intent_store, config, close, modify, cycle, netting).";
    OPERATOR_COMMANDS = "mtq_operator_commands_total", Counter, ["account", "command", "accepted"], NONE,
        "Operator commands through the control channel, accepted or refused.";
    CONFIG_RELOADS = "mtq_config_reloads_total", Counter, ["result"], NONE,
        "Configuration reloads, by result (applied, refused).";
    // The database and queues.
    DB_WRITE_DURATION = "mtq_db_write_duration_seconds", Histogram, ["op"], DB_BUCKETS,
        "Duration of one database write (a batch of events, an order intent).";
    DB_WRITE_ERRORS = "mtq_db_write_errors_total", Counter, ["op"], NONE,
        "Database writes that failed (each retry counts).";
    QUEUE_DEPTH = "mtq_event_queue_depth", Gauge, ["queue"], NONE,
        "Items waiting in an internal queue (writer: events taken and not yet written).";
    EVENTS = "mtq_events_total", Counter, ["account", "type"], NONE,
        "Domain events the trader published, by type.";
    // The operator API.
    HTTP_REQUESTS = "mtq_http_requests_total", Counter, ["method", "route", "status"], NONE,
        "HTTP requests by method, matched route template and status code.";
    HTTP_DURATION = "mtq_http_request_duration_seconds", Histogram, ["method", "route"], HTTP_BUCKETS,
        "HTTP request duration by method and matched route template.";
    WS_CONNECTIONS = "mtq_ws_connections", Gauge, [], NONE,
        "Open WebSocket connections.";
    WS_DROPPED = "mtq_ws_dropped_total", Counter, ["reason"], NONE,
        "WebSocket clients dropped by the server, by reason (slow, heartbeat, revoked).";
    AUTH_FAILURES = "mtq_auth_failures_total", Counter, ["kind"], NONE,
        "Requests refused for bad or missing credentials, by kind (password, key, jwt, ticket, refresh, missing, scrape_token).";
    RATE_LIMITED = "mtq_rate_limited_total", Counter, ["route"], NONE,
        "Requests refused with 429 by the rate limiter, by matched route template.";
    ALERTS_SENT = "mtq_alerts_sent_total", Counter, ["channel", "severity", "result"], NONE,
        "Notifications delivered (result=ok) or given up (result=error), by channel (telegram, webhook, email).";
    // The LLM sentiment filter (mtq-sentiment).
    SENTIMENT_VERDICTS = "mtq_sentiment_verdicts_total", Counter, ["result"], NONE,
        "Sentiment filter verdicts on entry signals, by result (allowed, refused, fail_open, fail_closed).";
    SENTIMENT_FAILURES = "mtq_sentiment_failures_total", Counter, ["reason"], NONE,
        "Sentiment requests with no usable score, by reason (malformed, timeout, provider_error, feeds_failed, request_cap, cost_cap).";
}

/// The counters of money, kept as `f64` sums by [`crate::money`] (the facade's counters are
/// whole numbers) and rendered beside the recorder's output.
pub const MONEY: &[&str] = &[GROSS_PROFIT, GROSS_LOSS, COMMISSION, SWAP];

/// The metric of that name, when MTQ exports it.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|m| m.name == name)
}

/// Whether `series` (a name as a PromQL query writes it: a family name, or a histogram's
/// `_bucket`, `_sum` or `_count` series) is one MTQ exports.
pub fn exports(series: &str) -> bool {
    if find(series).is_some() {
        return true;
    }
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        series
            .strip_suffix(suffix)
            .and_then(find)
            .is_some_and(|m| m.kind == Kind::Histogram)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        let mut seen = std::collections::BTreeSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} twice", m.name);
            assert!(m.name.starts_with("mtq_"), "{}", m.name);
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == Kind::Histogram,
                !m.buckets.is_empty(),
                "{}",
                m.name
            );
            assert!(m.buckets.windows(2).all(|w| w[0] < w[1]), "{}", m.name);
            assert!(!m.help.is_empty());
            for bad in ["ticket", "order_id", "price", "client_order_id"] {
                assert!(
                    !m.labels.contains(&bad),
                    "{} has a high-cardinality label",
                    m.name
                );
            }
        }
    }

    #[test]
    fn histogram_series_are_recognised_and_unknown_names_are_not() {
        assert!(exports("mtq_order_latency_seconds_bucket"));
        assert!(exports("mtq_cycles_total"));
        assert!(!exports("mtq_cycles_total_bucket"));
        assert!(!exports("mtq_nonexistent"));
    }
}
