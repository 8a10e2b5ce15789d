//! Property tests for the invariants risk management promises: sizing never risks more than the
//! budget, trailing never loosens a stop, no entry passes once the daily loss limit trips, and an
//! allowed trade never takes a currency's net exposure beyond its cap.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mtq_core::testkit::{self, PositionBuilder, account};
use mtq_core::{Currency, Decimal, FxRates, Position, Side, StaticRates, Symbol, SymbolSpec};
use mtq_risk::{
    CheckContext, CurrencyExposure, EntryIntent, MONEY_TOLERANCE, ManagementConfig, PositionAction,
    Refusal, RiskConfig, RiskState, SizingRequest, SymbolRiskConfig, check_currency_exposure,
    levels, manage_position, plan_entry, size_position, trailing_stop, value_per_price_unit,
};
use proptest::prelude::*;

const SYMBOLS: [&str; 4] = ["EURUSD", "USDJPY", "EURGBP", "XAUUSD"];
const ACCOUNTS: [Currency; 3] = [Currency::USD, Currency::EUR, Currency::JPY];

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(512)
}

fn side(buy: bool) -> Side {
    if buy { Side::Buy } else { Side::Sell }
}

/// A typical price for each symbol, moved by `offset` points.
fn price(spec: &SymbolSpec, offset: i64) -> Decimal {
    let base = match spec.symbol.as_str() {
        "EURUSD" => Decimal::new(110_000, 5),
        "USDJPY" => Decimal::new(150_000, 3),
        "EURGBP" => Decimal::new(86_000, 5),
        _ => Decimal::new(200_000, 2),
    };
    base + spec.point * Decimal::from(offset)
}

fn rates(eurusd: i64, gbpusd: i64, usdjpy: i64) -> StaticRates {
    StaticRates::new()
        .with(Currency::EUR, Currency::USD, Decimal::new(eurusd, 4))
        .with(Currency::GBP, Currency::USD, Decimal::new(gbpusd, 4))
        .with(Currency::USD, Currency::JPY, Decimal::new(usdjpy, 2))
}

/// A risk-managed open position (magic 7, opened Monday 09:00 UTC) marked at its open price.
fn position(ticket: u64, spec: &SymbolSpec, side: Side, volume: Decimal, at: Decimal) -> Position {
    PositionBuilder::new(spec.symbol.as_str(), side)
        .ticket(ticket)
        .volume(volume)
        .open_price(at)
        .opened(t0())
        .magic(7)
        .build()
}

/// Monday 2024-03-04 09:00 UTC, an hour into London.
fn t0() -> DateTime<Utc> {
    testkit::at("2024-03-04T09:00:00Z")
}

/// A symbol spec with a randomised volume grid.
fn spec_strategy() -> impl Strategy<Value = SymbolSpec> {
    (0..SYMBOLS.len(), 0..3u32, 1..=5i64, 10..=10_000i64).prop_map(|(i, step_dp, k, n)| {
        let mut s = testkit::spec(SYMBOLS[i]);
        s.volume_step = Decimal::new(1, 2 - step_dp.min(2));
        s.volume_min = s.volume_step * Decimal::from(k);
        s.volume_max = s.volume_step * Decimal::from(n).max(Decimal::from(k));
        s
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sizing_never_risks_more_than_the_budget(
        spec in spec_strategy(),
        account_ix in 0..ACCOUNTS.len(),
        balance in 1i64..50_000_000,
        risk_bp in 1i64..=1_000,
        sl_points in 1i64..20_000,
        entry_offset in -2_000i64..2_000,
        buy in any::<bool>(),
        stacked in 0usize..4,
        commission_cents in 0i64..1_000,
        fx in (9_000i64..15_000, 11_000i64..15_000, 10_000i64..16_000),
    ) {
        let rates = rates(fx.0, fx.1, fx.2);
        let ccy = ACCOUNTS[account_ix];
        let acc = account(ccy, Decimal::from(balance));
        let side = side(buy);
        let entry = price(&spec, entry_offset);
        let distance = spec.point * Decimal::from(sl_points);
        let sl = match side { Side::Buy => entry - distance, Side::Sell => entry + distance };
        let cfg = SymbolRiskConfig {
            risk_percent: Decimal::new(risk_bp, 2),
            commission_per_lot: Decimal::new(commission_cents, 2),
            ..SymbolRiskConfig::default()
        };
        let req = SizingRequest { spec: &spec, side, entry, sl: Some(sl), account: &acc, rates: &rates, stacked };
        let per_lot = distance * value_per_price_unit(&spec, ccy, &rates).unwrap()
            + cfg.commission_per_lot * Decimal::TWO;
        let mut budget = acc.balance * cfg.risk_percent / Decimal::ONE_HUNDRED;
        for _ in 0..stacked {
            budget *= cfg.stacking_risk_multiplier;
        }
        match size_position(&cfg, &req) {
            Ok(sized) => {
                prop_assert!(spec.is_volume_valid(sized.volume), "volume {} off the grid", sized.volume);
                prop_assert!(sized.volume * per_lot <= budget + MONEY_TOLERANCE,
                    "{} lots risk {} > budget {}", sized.volume, sized.volume * per_lot, budget);
            }
            Err(Refusal::MinimumVolumeTooRisky { .. }) => {
                prop_assert!(spec.volume_min * per_lot > budget - MONEY_TOLERANCE);
            }
            Err(other) => prop_assert!(false, "unexpected refusal: {other}"),
        }
    }

    #[test]
    fn the_trailing_stop_never_moves_against_the_position(
        spec in spec_strategy(),
        buy in any::<bool>(),
        open_offset in -500i64..500,
        move_points in -3_000i64..3_000,
        sl_points in proptest::option::of(-2_000i64..4_000),
        stops_level in 0u32..60,
        freeze_level in 0u32..30,
        trail in (0i64..100, 1i64..100, 0i64..20),
        breakeven in (1i64..60, 0i64..1),
    ) {
        let mut spec = spec;
        spec.stops_level = stops_level;
        spec.freeze_level = freeze_level;
        let side = side(buy);
        let open = price(&spec, open_offset);
        let mut pos = position(1, &spec, side, Decimal::ONE, open);
        pos.current_price = open + spec.point * Decimal::from(move_points * i64::from(side.sign()));
        // A stop some points on the losing side of the open price (negative: beyond breakeven).
        pos.sl = sl_points.map(|p| open - spec.point * Decimal::from(p * i64::from(side.sign())));
        let cfg = ManagementConfig {
            enable_breakeven: true,
            breakeven_trigger_pips: Decimal::from(breakeven.0),
            breakeven_offset_pips: Decimal::from(breakeven.1),
            enable_trailing_stop: true,
            trailing_activation_pips: Decimal::from(trail.0),
            trailing_stop_pips: Decimal::from(trail.1),
            trailing_step_pips: Decimal::from(trail.2),
            ..ManagementConfig::default()
        };
        let mut moves: Vec<PositionAction> = trailing_stop(&pos, &spec, &cfg).into_iter().collect();
        moves.extend(manage_position(&pos, &spec, &cfg, t0(), true));
        for action in moves {
            if let PositionAction::ModifyStops { sl, .. } = action {
                prop_assert!(levels::tightens(side, pos.sl, sl), "{side:?} stop {:?} -> {sl}", pos.sl);
                prop_assert!(levels::sl_allowed(&pos, &spec, sl), "{sl} breaks the stops level");
                prop_assert!(!levels::is_frozen(&pos, &spec));
                prop_assert!(spec.is_price_normalized(sl), "{sl} is off the tick grid");
            }
        }
    }

    #[test]
    fn after_the_daily_loss_limit_trips_no_new_entry_passes(
        steps in proptest::collection::vec(-400i64..300, 1..40),
        limit_percent in 1i64..10,
        buy in any::<bool>(),
    ) {
        let mut config = RiskConfig::default();
        config.emergency.max_daily_loss_percent = Some(Decimal::from(limit_percent));
        config.emergency.max_drawdown_percent = None;
        config.global.max_currency_exposure_percent = None;
        let symbol_config = SymbolRiskConfig { cooldown_seconds: 0, ..SymbolRiskConfig::default() };
        let eurusd = testkit::eurusd();
        let specs = BTreeMap::from([(eurusd.symbol.clone(), eurusd)]);
        let rates = rates(11_000, 12_500, 15_000);
        let mut acc = account(Currency::USD, Decimal::from(10_000));
        let mut state = RiskState::new(config.global.trading_day.clone());
        let side = side(buy);
        let intent = EntryIntent {
            symbol: Symbol::new("EURUSD").unwrap(),
            side,
            entry: Decimal::new(110_000, 5),
            sl: Some(match side { Side::Buy => Decimal::new(109_800, 5), Side::Sell => Decimal::new(110_200, 5) }),
            bid: Decimal::new(110_000, 5),
            ask: Decimal::new(110_000, 5),
        };
        // The day starts at 10,000 USD.
        state.observe_account(t0(), &acc);
        let mut tripped = false;
        for (i, step) in steps.into_iter().enumerate() {
            let now = t0() + Duration::minutes(i64::try_from(i).unwrap());
            acc.equity += Decimal::from(step);
            acc.free_margin = acc.equity;
            state.observe_account(now, &acc);
            state.update_kill_switch(&config.emergency, now, false, &acc, &[]);
            let loss = Decimal::from(10_000) - acc.equity;
            tripped |= loss * Decimal::ONE_HUNDRED >= Decimal::from(10_000 * limit_percent);
            let ctx = CheckContext {
                now, config: &config, symbol_config: &symbol_config, state: &state,
                account: &acc, positions: &[], specs: &specs, rates: &rates,
            };
            let result = plan_entry(&ctx, &intent);
            if tripped {
                prop_assert!(result.is_err(), "entry passed after a {loss} USD loss");
            }
        }
    }

    #[test]
    fn an_allowed_trade_keeps_every_currency_within_its_exposure_cap(
        book in proptest::collection::vec((0..SYMBOLS.len(), any::<bool>(), 1i64..300, -500i64..500), 0..6),
        trade in (0..SYMBOLS.len(), any::<bool>(), 1i64..300, -500i64..500),
        account_ix in 0..ACCOUNTS.len(),
        cap_percent in 100i64..3_000,
        usd_cap in proptest::option::of(100i64..3_000),
    ) {
        let specs: BTreeMap<Symbol, SymbolSpec> = SYMBOLS
            .iter()
            .map(|n| { let s = testkit::spec(n); (s.symbol.clone(), s) })
            .collect();
        let spec_of = |i: usize| &specs[&Symbol::new(SYMBOLS[i]).unwrap()];
        let rates = rates(11_000, 12_500, 15_000);
        let ccy = ACCOUNTS[account_ix];
        let balance = match ccy { Currency::JPY => 1_500_000, _ => 10_000 };
        let acc = account(ccy, Decimal::from(balance));
        let positions: Vec<Position> = book
            .iter()
            .enumerate()
            .map(|(n, (i, buy, lots, off))| {
                let s = spec_of(*i);
                position(u64::try_from(n).unwrap(), s, side(*buy), Decimal::new(*lots, 2), price(s, *off))
            })
            .collect();
        let mut config = RiskConfig::default();
        config.global.max_currency_exposure_percent = Some(Decimal::from(cap_percent));
        if let Some(c) = usd_cap {
            config.global.currency_exposure_caps.insert(Currency::USD, Decimal::from(c));
        }
        let symbol_config = SymbolRiskConfig::default();
        let state = RiskState::new(config.global.trading_day.clone());
        let spec = spec_of(trade.0);
        let entry = price(spec, trade.3);
        let intent = EntryIntent {
            symbol: spec.symbol.clone(), side: side(trade.1), entry, sl: None, bid: entry, ask: entry,
        };
        let volume = Decimal::new(trade.2, 2);
        let ctx = CheckContext {
            now: t0(), config: &config, symbol_config: &symbol_config, state: &state,
            account: &acc, positions: &positions, specs: &specs, rates: &rates,
        };
        if check_currency_exposure(&ctx, &intent, volume).is_ok() {
            let before = CurrencyExposure::of_positions(&positions, &specs, ccy, &rates).unwrap();
            let mut after = before.clone();
            after.add(spec, intent.side, volume, entry, ccy, &rates as &dyn FxRates).unwrap();
            for (currency, net) in after.iter() {
                let cap = config.global.exposure_cap_percent(currency).unwrap() * acc.equity
                    / Decimal::ONE_HUNDRED;
                prop_assert!(
                    net.abs() <= cap || net.abs() <= before.get(currency).abs(),
                    "{currency}: {net} beyond the cap {cap} (was {})", before.get(currency)
                );
            }
        }
    }
}
