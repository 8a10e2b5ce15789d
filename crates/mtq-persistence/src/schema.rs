//! diesel's view of the tables in `migrations/`. Kept by hand: the migrations are the truth, and a
//! test checks that every table here exists after they run, on both backends.

#![allow(missing_docs)]

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    accounts (id) {
        id -> BigInt,
        broker -> Text,
        server -> Text,
        login -> BigInt,
        currency -> Text,
        margin_mode -> Text,
        leverage -> Integer,
        label -> Text,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    account_connection_states (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        trading_account_id -> Nullable<BigInt>,
        time -> UtcTimestamp,
        connected -> Bool,
        detail -> Text,
        last_heartbeat -> Nullable<UtcTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    trading_accounts (id) {
        id -> BigInt,
        name -> Text,
        enabled -> Bool,
        broker_kind -> Text,
        broker -> Text,
        server -> Text,
        login -> Nullable<BigInt>,
        currency -> Text,
        magic -> BigInt,
        account_id -> Nullable<BigInt>,
        connected -> Bool,
        state_reason -> Text,
        state_changed_at -> Nullable<UtcTimestamp>,
        last_heartbeat -> Nullable<UtcTimestamp>,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    signals (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        time -> UtcTimestamp,
        recorded_at -> UtcTimestamp,
        symbol -> Text,
        timeframe -> Text,
        kind -> Text,
        entry -> Nullable<Double>,
        sl -> Nullable<Double>,
        tp -> Nullable<Double>,
        confidence -> Double,
        strategy -> Text,
        reason -> Text,
        executed -> Bool,
        refusal -> Nullable<Text>,
        ml_model -> Nullable<Text>,
        ml_status -> Nullable<Text>,
        ml_probability -> Nullable<Double>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Money, UtcTimestamp};

    orders (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        client_order_id -> Text,
        symbol -> Text,
        side -> Text,
        kind -> Text,
        volume -> Money,
        price -> Nullable<Money>,
        stop_limit -> Nullable<Money>,
        sl -> Nullable<Money>,
        tp -> Nullable<Money>,
        deviation -> Integer,
        magic -> BigInt,
        comment -> Text,
        filling -> Text,
        expiration -> Nullable<UtcTimestamp>,
        strategy -> Nullable<Text>,
        state -> Text,
        retcode -> Nullable<Integer>,
        message -> Nullable<Text>,
        deal_ticket -> Nullable<BigInt>,
        order_ticket -> Nullable<BigInt>,
        position_ticket -> Nullable<BigInt>,
        filled_volume -> Nullable<Money>,
        fill_price -> Nullable<Money>,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    order_transitions (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        client_order_id -> Text,
        time -> UtcTimestamp,
        state -> Text,
        retcode -> Nullable<Integer>,
        message -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Money, UtcTimestamp};

    trades (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        ticket -> BigInt,
        symbol -> Text,
        side -> Text,
        volume -> Money,
        closed_volume -> Money,
        entry_price -> Money,
        entry_time -> UtcTimestamp,
        exit_price -> Nullable<Money>,
        exit_time -> Nullable<UtcTimestamp>,
        sl -> Nullable<Money>,
        tp -> Nullable<Money>,
        commission -> Money,
        swap -> Money,
        profit -> Money,
        pips -> Nullable<Money>,
        strategy -> Nullable<Text>,
        magic -> BigInt,
        comment -> Text,
        status -> Text,
        exit_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Money, UtcTimestamp};

    account_snapshots (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        time -> UtcTimestamp,
        balance -> Money,
        equity -> Money,
        margin -> Money,
        free_margin -> Money,
        margin_level -> Nullable<Money>,
        leverage -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Money, UtcTimestamp};

    daily_performance (id) {
        id -> BigInt,
        account_id -> BigInt,
        date -> Date,
        trades -> Integer,
        wins -> Integer,
        losses -> Integer,
        gross_profit -> Money,
        gross_loss -> Money,
        net_profit -> Money,
        commission -> Money,
        swap -> Money,
        largest_win -> Money,
        largest_loss -> Money,
        win_rate -> Double,
        profit_factor -> Nullable<Double>,
        start_equity -> Nullable<Money>,
        end_equity -> Nullable<Money>,
        max_drawdown -> Money,
        max_drawdown_pct -> Double,
        computed_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    events (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        time -> UtcTimestamp,
        kind -> Text,
        symbol -> Nullable<Text>,
        message -> Text,
        payload -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    optimization_runs (id) {
        id -> BigInt,
        symbol -> Text,
        strategy -> Text,
        timeframe -> Text,
        period_start -> UtcTimestamp,
        period_end -> UtcTimestamp,
        objective -> Text,
        parameter_space -> Text,
        status -> Text,
        started_at -> UtcTimestamp,
        finished_at -> Nullable<UtcTimestamp>,
        distributed_run -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::Money;

    optimization_results (id) {
        id -> BigInt,
        run_id -> BigInt,
        parameters -> Text,
        score -> Double,
        net_profit -> Money,
        profit_factor -> Nullable<Double>,
        sharpe -> Nullable<Double>,
        max_drawdown_pct -> Double,
        trades -> Integer,
        win_rate -> Double,
        set_index -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    optimization_chunks (run_id, chunk) {
        run_id -> BigInt,
        chunk -> Integer,
        first_set -> BigInt,
        sets -> Integer,
        status -> Text,
        invalid -> Integer,
        worker -> Nullable<Text>,
        seconds -> Nullable<Double>,
        finished_at -> Nullable<UtcTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    best_parameters (id) {
        id -> BigInt,
        symbol -> Text,
        strategy -> Text,
        timeframe -> Text,
        parameters -> Text,
        score -> Double,
        run_id -> Nullable<BigInt>,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    alert_history (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        time -> UtcTimestamp,
        channel -> Text,
        severity -> Text,
        title -> Text,
        message -> Text,
        delivered -> Bool,
        error -> Nullable<Text>,
        event_type -> Text,
        attempts -> Integer,
        repeats -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    alert_configurations (id) {
        id -> BigInt,
        channel -> Text,
        event_type -> Text,
        level -> Text,
        updated_at -> UtcTimestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    api_keys (id) {
        id -> BigInt,
        key_id -> Text,
        name -> Text,
        role -> Text,
        secret_hash -> Text,
        created_at -> UtcTimestamp,
        last_used_at -> Nullable<UtcTimestamp>,
        revoked_at -> Nullable<UtcTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> UtcTimestamp,
        disabled_at -> Nullable<UtcTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::UtcTimestamp;

    refresh_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        issued_at -> UtcTimestamp,
        expires_at -> UtcTimestamp,
        revoked_at -> Nullable<UtcTimestamp>,
        replaced_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Money, UtcTimestamp};

    backtest_runs (id) {
        id -> BigInt,
        symbol -> Text,
        strategy -> Text,
        timeframe -> Text,
        parameters -> Text,
        period_start -> UtcTimestamp,
        period_end -> UtcTimestamp,
        bars -> BigInt,
        trades -> BigInt,
        net_profit -> Money,
        return_pct -> Double,
        win_rate -> Double,
        profit_factor -> Nullable<Double>,
        sharpe -> Nullable<Double>,
        max_drawdown_pct -> Double,
        stats -> Text,
        settings -> Text,
        equity -> Text,
        report_dir -> Nullable<Text>,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{Money, UtcTimestamp};

    approvals (id) {
        id -> BigInt,
        account_id -> Nullable<BigInt>,
        approval_id -> BigInt,
        client_order_id -> Text,
        symbol -> Text,
        side -> Text,
        volume -> Money,
        sl -> Nullable<Money>,
        tp -> Nullable<Money>,
        state -> Text,
        created_at -> UtcTimestamp,
        expires_at -> UtcTimestamp,
        decided_at -> Nullable<UtcTimestamp>,
        decided_by -> Nullable<Text>,
        note -> Nullable<Text>,
        payload -> Text,
    }
}

diesel::joinable!(optimization_results -> optimization_runs (run_id));
diesel::joinable!(optimization_chunks -> optimization_runs (run_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    account_connection_states,
    trading_accounts,
    signals,
    orders,
    order_transitions,
    trades,
    account_snapshots,
    daily_performance,
    events,
    optimization_runs,
    optimization_results,
    optimization_chunks,
    best_parameters,
    backtest_runs,
    alert_history,
    api_keys,
    users,
    refresh_tokens,
    alert_configurations,
    approvals,
);

/// Every table the migrations create, for the schema check.
pub(crate) const TABLES: [&str; 21] = [
    "accounts",
    "account_connection_states",
    "trading_accounts",
    "signals",
    "orders",
    "order_transitions",
    "trades",
    "account_snapshots",
    "daily_performance",
    "events",
    "optimization_runs",
    "optimization_results",
    "optimization_chunks",
    "best_parameters",
    "backtest_runs",
    "alert_history",
    "api_keys",
    "users",
    "refresh_tokens",
    "alert_configurations",
    "approvals",
];
