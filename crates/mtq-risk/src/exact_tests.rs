use std::collections::BTreeMap;

use mtq_core::{AccountInfo, Currency, Decimal, Side, Symbol, SymbolSpec};
use proptest::prelude::*;
use rust_decimal_macros::dec;

use super::*;
use crate::checks::{GATE_CHECKS, size_and_check};
use crate::config::{RiskBase, RiskConfig};
use crate::state::RiskState;
use crate::testkit::*;
use crate::{Refusal, SymbolRiskConfig, TradingDayConfig, plan_entry};

/// The largest `Decimal` mantissa, 2^96 - 1.
const MAX_MANTISSA: i128 = (1 << 96) - 1;

/// One entry and everything the checks read, as the property test draws them.
#[derive(Clone, Debug)]
struct Case {
    symbol: &'static str,
    account_currency: Currency,
    balance: Decimal,
    equity: Decimal,
    free_margin: Decimal,
    margin: Decimal,
    leverage: u32,
    side: Side,
    /// The entry in points of the symbol.
    entry_points: i64,
    /// The stop's distance from the entry in points (negative: on the wrong side).
    sl_points: Option<i64>,
    sizing_mode: SizingMode,
    fixed_volume: Decimal,
    max_position_size: Option<Decimal>,
    commission_per_lot: Decimal,
    portfolio_risk_percent: Decimal,
    min_margin_level: Option<Decimal>,
    exposure_cap: Option<Decimal>,
    risk_percent: Decimal,
    risk_base: RiskBase,
}

/// A unit-size symbol as the Python-parity backtests use (`contract_size: 1`, whole units).
fn unit_spec() -> SymbolSpec {
    SymbolSpec {
        contract_size: Decimal::ONE,
        volume_min: Decimal::ONE,
        volume_step: Decimal::ONE,
        volume_max: dec!(100000000),
        ..spec("EURUSD")
    }
}

struct World {
    config: RiskConfig,
    symbol_config: SymbolRiskConfig,
    state: RiskState,
    account: AccountInfo,
    specs: BTreeMap<Symbol, SymbolSpec>,
    rates: mtq_core::StaticRates,
    intent: EntryIntent,
}

impl World {
    fn of(c: &Case) -> Self {
        let mut specs: BTreeMap<Symbol, SymbolSpec> = ["EURUSD", "USDJPY", "EURGBP", "XAUUSD"]
            .into_iter()
            .map(|n| (sym(n), spec(n)))
            .collect();
        let symbol = if c.symbol == "UNIT" {
            let unit = unit_spec();
            let symbol = unit.symbol.clone();
            specs.insert(symbol.clone(), unit);
            symbol
        } else {
            sym(c.symbol)
        };
        let s = &specs[&symbol];
        let price = |points: i64| Decimal::from(points) * s.point;
        let entry = price(c.entry_points);
        let sl = c.sl_points.map(|d| match c.side {
            Side::Buy => entry - price(d),
            Side::Sell => entry + price(d),
        });
        let spread = s.point * Decimal::TEN;
        let (bid, ask) = match c.side {
            Side::Buy => (entry - spread, entry),
            Side::Sell => (entry, entry + spread),
        };
        let mut config = RiskConfig::default();
        config.global.portfolio_risk_percent = c.portfolio_risk_percent;
        config.global.min_margin_level_percent = c.min_margin_level;
        config.global.max_currency_exposure_percent = c.exposure_cap;
        let symbol_config = SymbolRiskConfig {
            sizing_mode: c.sizing_mode,
            fixed_volume: c.fixed_volume,
            max_position_size: c.max_position_size,
            commission_per_lot: c.commission_per_lot,
            risk_percent: c.risk_percent,
            risk_base: c.risk_base,
            ..SymbolRiskConfig::default()
        };
        let account = AccountInfo {
            balance: c.balance,
            equity: c.equity,
            free_margin: c.free_margin,
            margin: c.margin,
            leverage: c.leverage,
            ..account(c.account_currency, c.balance)
        };
        let mut state = RiskState::new(TradingDayConfig::default());
        state.observe_account(t("2024-03-04T10:00:00Z"), &account);
        Self {
            config,
            symbol_config,
            state,
            account,
            specs,
            rates: rates(),
            intent: EntryIntent {
                symbol,
                side: c.side,
                entry,
                sl,
                bid,
                ask,
            },
        }
    }

    fn ctx(&self) -> CheckContext<'_> {
        CheckContext {
            now: t("2024-03-04T10:00:00Z"),
            config: &self.config,
            symbol_config: &self.symbol_config,
            state: &self.state,
            account: &self.account,
            positions: &[],
            specs: &self.specs,
            rates: &self.rates,
        }
    }

    /// The `Decimal` path alone: the gate checks, sizing and the book checks.
    fn reference(&self) -> Result<SizedVolume, Refusal> {
        let ctx = self.ctx();
        for check in GATE_CHECKS {
            check(&ctx, &self.intent, Decimal::ZERO)?;
        }
        size_and_check(&ctx, &self.intent)
    }
}

fn cents(lo: i64, hi: i64) -> impl Strategy<Value = Decimal> {
    (lo..hi).prop_map(|c| Decimal::new(c, 2))
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            prop::sample::select(vec!["UNIT", "EURUSD", "USDJPY", "EURGBP", "XAUUSD"]),
            prop::sample::select(vec![Currency::USD, Currency::EUR, Currency::JPY]),
            cents(-10_000, 100_000_000),
            // The equity's distance from the balance, and the margin in use.
            cents(-1_000_000, 1_000_000),
            cents(0, 10_000_000),
            prop::sample::select(vec![0u32, 1, 1, 3, 30, 100, 100, 500]),
            prop::sample::select(vec![Side::Buy, Side::Sell]),
        ),
        (
            -10i64..300_000,
            prop::option::of(-100i64..200_000),
            prop::sample::select(vec![
                SizingMode::FixedVolume,
                SizingMode::FixedVolume,
                SizingMode::RiskPercent,
                SizingMode::RiskPercent,
                SizingMode::FractionOfEquity,
            ]),
            (0i64..100_000, 0u32..4).prop_map(|(m, s)| Decimal::new(m, s)),
            prop::option::of((1i64..10_000, 0u32..3).prop_map(|(m, s)| Decimal::new(m, s))),
            cents(0, 1_000),
            prop::sample::select(vec![dec!(0.5), dec!(2), dec!(5), dec!(100), dec!(250)]),
            prop::option::of(prop::sample::select(vec![
                dec!(0),
                dec!(50),
                dec!(100),
                dec!(200),
                dec!(150.5),
            ])),
            prop::option::of(prop::sample::select(vec![dec!(10), dec!(1000), dec!(3.5)])),
        ),
        (
            prop::sample::select(vec![
                dec!(0.5),
                dec!(1),
                dec!(1),
                dec!(2.25),
                dec!(3.3),
                dec!(0),
            ]),
            prop::sample::select(vec![RiskBase::Balance, RiskBase::Equity]),
        ),
    )
        .prop_map(|(a, b, r)| Case {
            symbol: a.0,
            account_currency: a.1,
            balance: a.2,
            equity: a.2 + a.3,
            free_margin: a.2 + a.3 - a.4,
            margin: a.4,
            leverage: a.5,
            side: a.6,
            entry_points: b.0,
            sl_points: b.1,
            sizing_mode: b.2,
            fixed_volume: b.3,
            max_position_size: b.4,
            commission_per_lot: b.5,
            portfolio_risk_percent: b.6,
            min_margin_level: b.7,
            exposure_cap: b.8,
            risk_percent: r.0,
            risk_base: r.1,
        })
}

/// Equal values, and the volume (which goes into the order) written the same way.
fn assert_same(ours: &Result<SizedVolume, Refusal>, reference: &Result<SizedVolume, Refusal>) {
    assert_eq!(ours, reference);
    if let (Ok(a), Ok(b)) = (ours, reference) {
        assert_eq!(a.volume.to_string(), b.volume.to_string());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn integer_plan_equals_the_decimal_plan(c in case()) {
        let w = World::of(&c);
        let reference = w.reference();
        let ours = plan_entry(&w.ctx(), &w.intent);
        assert_same(&ours, &reference);
        // Where the integer path answers, it answers what the reference does.
        if let Some(sized) = sized_and_checked(&w.ctx(), &w.intent) {
            prop_assert_eq!(Ok(sized), reference);
        }
    }
}

/// The Python-parity backtest's entry (unit symbol, 1:1, the volume checked at the minimum as
/// equity sizing does, the default limits) takes the integer path, and so do entries in lots.
#[test]
fn the_backtests_entries_take_the_integer_path() {
    let base = Case {
        symbol: "UNIT",
        account_currency: Currency::USD,
        balance: dec!(10000),
        equity: dec!(10000),
        free_margin: dec!(10000),
        margin: Decimal::ZERO,
        leverage: 1,
        side: Side::Sell,
        entry_points: 112_345,
        sl_points: Some(50_000),
        sizing_mode: SizingMode::FixedVolume,
        fixed_volume: Decimal::ONE,
        max_position_size: None,
        commission_per_lot: Decimal::ZERO,
        portfolio_risk_percent: dec!(100),
        min_margin_level: Some(dec!(200)),
        exposure_cap: Some(dec!(1000)),
        risk_percent: dec!(1),
        risk_base: RiskBase::Balance,
    };
    let lots = Case {
        symbol: "EURUSD",
        leverage: 100,
        side: Side::Buy,
        sl_points: Some(200),
        fixed_volume: dec!(0.1),
        commission_per_lot: dec!(3.5),
        portfolio_risk_percent: dec!(5),
        ..base
    };
    // The speed figures' crossover: 1% of the balance at risk to a 20-pip stop.
    let risked = Case {
        sizing_mode: SizingMode::RiskPercent,
        commission_per_lot: Decimal::ZERO,
        ..lots
    };
    for c in [base, lots, risked] {
        let w = World::of(&c);
        let sized = sized_and_checked(&w.ctx(), &w.intent);
        assert!(sized.is_some(), "{c:?}");
        assert_same(&Ok(sized.unwrap()), &w.reference());
    }
}

/// A refused entry is never the integer path's: the reference words the refusal.
#[test]
fn refusals_are_left_to_the_reference() {
    let broke = Case {
        symbol: "EURUSD",
        account_currency: Currency::USD,
        balance: dec!(100),
        equity: dec!(100),
        free_margin: dec!(100),
        margin: Decimal::ZERO,
        leverage: 1,
        side: Side::Buy,
        entry_points: 110_000,
        sl_points: Some(100),
        sizing_mode: SizingMode::FixedVolume,
        fixed_volume: Decimal::ONE,
        max_position_size: None,
        commission_per_lot: Decimal::ZERO,
        portfolio_risk_percent: dec!(100),
        min_margin_level: None,
        exposure_cap: None,
        risk_percent: dec!(1),
        risk_base: RiskBase::Balance,
    };
    let w = World::of(&broke);
    assert_eq!(sized_and_checked(&w.ctx(), &w.intent), None);
    let refused = plan_entry(&w.ctx(), &w.intent).unwrap_err();
    assert_eq!(refused.code(), "free_margin");
}

proptest! {
    /// The rounded quotient, where it answers, is `Decimal`'s `(budget / per_lot).round_dp(12)`,
    /// ties and near-ties included (quotients built to land on or beside a 13th-decimal half).
    #[test]
    fn rounded_quotient_equals_decimal_division_rounded(
        budget in (1i64..1_000_000_000_000, 0u32..8),
        per_lot in (1i64..1_000_000_000, 0u32..10),
        near_tie in any::<bool>(),
    ) {
        let per_lot = Decimal::new(per_lot.0, per_lot.1);
        let budget = if near_tie {
            // per_lot * (k + 0.5) * 10^-12, give or take a unit of the budget's last digit.
            let tie = per_lot * Decimal::new(2 * budget.0 + 1, 13);
            tie.round_dp(budget.1 + 12)
        } else {
            Decimal::new(budget.0, budget.1)
        };
        let expected = (budget / per_lot).round_dp(VOLUME_NOISE_DP);
        let wide = |d: Decimal| (d.mantissa(), d.scale());
        if let Some(m) = rounded_quotient(wide(budget), wide(per_lot)) {
            prop_assert_eq!(Decimal::from_i128_with_scale(m, VOLUME_NOISE_DP), expected);
        }
    }
}

/// `divrem` is the Euclidean quotient and remainder for every positive divisor: dividends
/// either side of zero and of `i64`'s ends, divisors from one to beyond `i64`.
#[test]
fn divrem_is_the_euclidean_division() {
    let mut rng = mtq_core::SplitMix64::new(77);
    let mut dividends: Vec<i128> = vec![
        0,
        1,
        -1,
        i128::from(i64::MAX),
        i128::from(i64::MIN),
        i128::from(i64::MIN) + 1,
        i128::from(i64::MAX) + 1,
        i128::from(i64::MIN) - 1,
        MAX_MANTISSA,
        -MAX_MANTISSA,
    ];
    let mut divisors: Vec<i128> = vec![1, 2, 3, 7, 10, 100, i128::from(i64::MAX), 1 << 70];
    for _ in 0..20_000 {
        #[allow(clippy::cast_possible_wrap)]
        let a = (rng.next_u64() >> (rng.next_u64() % 64)) as i64;
        dividends.push(if rng.next_f64() < 0.5 {
            i128::from(a)
        } else {
            -i128::from(a)
        });
        let d = rng.next_u64() >> (rng.next_u64() % 64);
        divisors.push(i128::from(d.max(1)));
    }
    for (i, a) in dividends.iter().enumerate() {
        for d in divisors.iter().skip(i % 7).step_by(97) {
            assert_eq!(
                divrem(*a, *d),
                (a.div_euclid(*d), a.rem_euclid(*d)),
                "{a} / {d}"
            );
        }
    }
}
