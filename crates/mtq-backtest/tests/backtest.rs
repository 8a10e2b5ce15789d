//! Behaviour of the backtest driver on fixed synthetic data: fill timing, costs, sizing modes,
//! golden results, and trade-for-trade parity with a Python-style reference backtester.

use std::path::PathBuf;

use mtq_backtest::testkit::random_walk;
use mtq_backtest::{Backtest, BacktestResult, FillTiming, SetupOptions, Sizing, Stats};
use mtq_core::testkit::eurusd;
use mtq_core::{Bar, Decimal, Side, Timeframe};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal_macros::dec;

fn bars(n: usize, seed: u64) -> Vec<Bar> {
    random_walk(
        n,
        seed,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        10,
    )
}

fn options(params: &[(&str, &str)]) -> SetupOptions {
    SetupOptions {
        symbol: "EURUSD".into(),
        strategy: Some("crossover".into()),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        timeframe: Timeframe::M5,
        ..SetupOptions::default()
    }
}

fn run(opts: SetupOptions, bars: &[Bar]) -> BacktestResult {
    Backtest::new(opts.build().unwrap()).unwrap().run(bars)
}

fn bar_at(bars: &[Bar], t: chrono::DateTime<chrono::Utc>) -> usize {
    bars.iter()
        .position(|b| b.time == t)
        .expect("a fill at a bar's open time")
}

fn price(p: f64) -> Decimal {
    eurusd().normalize_price_f64(p).unwrap()
}

#[test]
fn signals_fill_at_the_next_bars_open_ask_for_buys_bid_for_sells() {
    let bars = bars(6_000, 11);
    let r = run(
        SetupOptions {
            sizing: Some(Sizing::Fixed(dec!(0.1))),
            ..options(&[
                ("fast_period", "8"),
                ("slow_period", "21"),
                ("sl_pips", "500"),
                ("tp_pips", "0"),
            ])
        },
        &bars,
    );
    assert!(r.trades.len() > 20, "{} trades", r.trades.len());
    let spread = 10.0 * 0.00001;
    for t in &r.trades {
        let i = bar_at(&bars, t.entry_time);
        assert!(i > r.warmup_bars, "no entry during warm-up");
        let want = match t.side {
            Side::Buy => price(bars[i].open + spread),
            Side::Sell => price(bars[i].open),
        };
        assert_eq!(t.entry_price, want, "entry of {t:?}");
        if t.exit_reason == "signal" {
            let j = bar_at(&bars, t.exit_time);
            let want = match t.side {
                Side::Buy => price(bars[j].open),
                Side::Sell => price(bars[j].open + spread),
            };
            assert_eq!(t.exit_price, want, "exit of {t:?}");
        }
    }
    // Always in the market: each reversal exits one trade where the next one enters.
    for w in r.trades.windows(2) {
        if w[0].exit_reason == "signal" {
            assert_eq!(w[0].exit_time, w[1].entry_time);
            assert_ne!(w[0].side, w[1].side);
        }
    }
    assert_eq!(r.trades.last().unwrap().exit_reason, "end_of_data");
}

#[test]
fn close_fills_trade_at_the_signal_bars_close() {
    let bars = bars(3_000, 12);
    let r = run(
        SetupOptions {
            sizing: Some(Sizing::Fixed(dec!(0.1))),
            fill: FillTiming::SignalClose,
            ..options(&[
                ("fast_period", "8"),
                ("slow_period", "21"),
                ("sl_pips", "500"),
            ])
        },
        &bars,
    );
    assert!(!r.trades.is_empty());
    for t in &r.trades {
        let i = bar_at(&bars, t.entry_time);
        let want = match t.side {
            Side::Buy => price(bars[i].close + 0.0001),
            Side::Sell => price(bars[i].close),
        };
        assert_eq!(t.entry_price, want);
    }
}

#[test]
fn commission_per_lot_is_charged_on_entry_and_exit() {
    let bars = bars(4_000, 13);
    let r = run(
        SetupOptions {
            sizing: Some(Sizing::Fixed(dec!(1))),
            commission_per_lot: Some(dec!(3.5)),
            ..options(&[("fast_period", "8"), ("slow_period", "21")])
        },
        &bars,
    );
    assert!(!r.trades.is_empty());
    for t in &r.trades {
        assert_eq!(t.volume, dec!(1));
        assert_eq!(t.commission, dec!(-7.0), "{t:?}");
        assert_eq!(t.net_profit, t.profit + t.commission + t.swap);
    }
    // The balance reconciles with the trades.
    let sum: Decimal = r.trades.iter().map(|t| t.net_profit).sum();
    assert_eq!(r.final_balance, r.initial_balance + sum);
}

#[test]
fn stop_loss_and_take_profit_close_inside_the_bar_at_their_level() {
    let bars = bars(6_000, 14);
    let r = run(
        SetupOptions {
            sizing: Some(Sizing::Fixed(dec!(0.1))),
            ..options(&[
                ("fast_period", "5"),
                ("slow_period", "40"),
                ("sl_pips", "8"),
                ("tp_pips", "12"),
            ])
        },
        &bars,
    );
    let stops: Vec<_> = r
        .trades
        .iter()
        .filter(|t| t.exit_reason == "stop_loss")
        .collect();
    let targets: Vec<_> = r
        .trades
        .iter()
        .filter(|t| t.exit_reason == "take_profit")
        .collect();
    assert!(
        !stops.is_empty() && !targets.is_empty(),
        "{:?}",
        r.trades.len()
    );
    for t in targets {
        // A take profit pays at least the distance the strategy set (12 pips from the signal
        // close, so within a bar's move of 12 pips from the fill).
        assert!(t.profit > Decimal::ZERO, "{t:?}");
    }
    for t in stops {
        assert!(t.profit < Decimal::ZERO, "{t:?}");
    }
}

#[test]
fn risk_sizing_risks_the_percent_between_entry_and_stop() {
    let bars = bars(4_000, 15);
    let r = run(
        SetupOptions {
            sizing: Some(Sizing::Risk(dec!(1))),
            ..options(&[
                ("fast_period", "8"),
                ("slow_period", "21"),
                ("sl_pips", "20"),
            ])
        },
        &bars,
    );
    assert!(!r.trades.is_empty());
    let mut balance = r.initial_balance;
    let mut previous: Option<&mtq_backtest::TradeRecord> = None;
    for t in &r.trades {
        // The signal was sized on the bar before the entry, when a position being reversed at
        // the entry was still open: its profit was not in the balance yet.
        let at_signal = match previous {
            Some(p) if p.exit_time == t.entry_time => balance - p.net_profit,
            _ => balance,
        };
        // 1% of that balance over a 20-pip stop ($10 a pip a lot): never more, and at most a
        // few steps less.
        let most = (at_signal / dec!(20000))
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
        assert!(
            t.volume <= most && t.volume >= most - dec!(0.05),
            "{t:?} at balance {at_signal}"
        );
        balance += t.net_profit;
        previous = Some(t);
    }
}

fn spec_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/unit_eurusd.yaml")
}

fn parity_options(rate: Decimal, fast: usize, slow: usize) -> SetupOptions {
    SetupOptions {
        symbol_spec: Some(spec_file()),
        sizing: Some(Sizing::Equity(dec!(1.0))),
        leverage: Some(1),
        spread_points: Some(0),
        commission_rate: Some(rate),
        ..options(&[
            ("fast_period", &fast.to_string()),
            ("slow_period", &slow.to_string()),
            ("sl_pips", "5000"),
            ("tp_pips", "0"),
        ])
    }
}

/// A reference backtester written the way the Python libraries (backtesting.py, backtrader with
/// next-open orders) run an SMA crossover: signals on closes, orders at the next open, all-in
/// sizing in whole units after commission, commission as a rate of notional on both legs,
/// always in the market, open trade closed at the last close.
#[derive(Debug, PartialEq)]
struct RefTrade {
    side: Side,
    units: Decimal,
    entry: Decimal,
    exit: Decimal,
    profit: Decimal,
    commission: Decimal,
}

fn reference(
    bars: &[Bar],
    fast: usize,
    slow: usize,
    rate: Decimal,
    cash: Decimal,
) -> Vec<RefTrade> {
    let sma =
        |i: usize, n: usize| bars[i + 1 - n..=i].iter().map(|b| b.close).sum::<f64>() / n as f64;
    let mut cash = cash;
    let mut open: Option<(Side, Decimal, Decimal, Decimal)> = None;
    let mut out = Vec::new();
    let mut order: Option<Side> = None;
    let fee = |units: Decimal, p: Decimal| (rate * units * p).round_dp(2);
    let close = |cash: &mut Decimal,
                 o: (Side, Decimal, Decimal, Decimal),
                 p: Decimal,
                 out: &mut Vec<RefTrade>| {
        let (side, units, entry, entry_fee) = o;
        let diff = if side == Side::Buy {
            p - entry
        } else {
            entry - p
        };
        let profit = (diff * units).round_dp(2);
        let f = fee(units, p);
        *cash += profit - f;
        out.push(RefTrade {
            side,
            units,
            entry,
            exit: p,
            profit,
            commission: -(entry_fee + f),
        });
    };
    for (i, bar) in bars.iter().enumerate() {
        let open_price = Decimal::from_f64(bar.open).unwrap().round_dp(5);
        if let Some(side) = order.take() {
            if let Some(o) = open.take() {
                close(&mut cash, o, open_price, &mut out);
            }
            let units = (cash / (open_price * (Decimal::ONE + rate))).floor();
            let f = fee(units, open_price);
            cash -= f;
            open = Some((side, units, open_price, f));
        }
        // MTQ's crossover warms up on the first `slow` bars.
        if i >= slow {
            let (pf, ps, f, s) = (
                sma(i - 1, fast),
                sma(i - 1, slow),
                sma(i, fast),
                sma(i, slow),
            );
            let want = if pf <= ps && f > s {
                Some(Side::Buy)
            } else if pf >= ps && f < s {
                Some(Side::Sell)
            } else {
                None
            };
            if want.is_some() && open.map(|o| o.0) != want {
                order = want;
            }
        }
    }
    if let Some(o) = open.take() {
        let last = Decimal::from_f64(bars[bars.len() - 1].close)
            .unwrap()
            .round_dp(5);
        close(&mut cash, o, last, &mut out);
    }
    out
}

/// Closes off the 5-digit grid (a feed with fractional pips): on the grid, a fast and a slow
/// average are often exactly equal, and whether such a tie counts as a cross then depends on how
/// each implementation rounds its running sums, in MTQ (TA-Lib) as in pandas.
fn off_grid(mut bars: Vec<Bar>, seed: u64) -> Vec<Bar> {
    let mut rng = mtq_core::SplitMix64::new(seed);
    for b in &mut bars {
        b.close += (rng.next_f64() - 0.5) * 0.000_008;
        b.high = b.high.max(b.close);
        b.low = b.low.min(b.close);
    }
    bars
}

#[test]
fn python_parity_mode_matches_the_reference_trade_for_trade() {
    let bars = off_grid(
        random_walk(
            3_000,
            21,
            Timeframe::H1,
            "2024-01-01T00:00:00Z".parse().unwrap(),
            1.1,
            0,
        ),
        5,
    );
    let rate = dec!(0.0002);
    for (fast, slow) in [(5, 20), (10, 30)] {
        let r = run(parity_options(rate, fast, slow), &bars);
        let want = reference(&bars, fast, slow, rate, dec!(10000));
        assert!(want.len() > 20, "{} reference trades", want.len());
        assert_eq!(r.order_failures.len(), 0, "{:?}", r.order_failures);
        assert!(r.refusals.is_empty(), "{:?}", r.refusals);
        let got: Vec<RefTrade> = r
            .trades
            .iter()
            .map(|t| RefTrade {
                side: t.side,
                units: t.volume,
                entry: t.entry_price,
                exit: t.exit_price,
                profit: t.profit,
                commission: t.commission,
            })
            .collect();
        assert_eq!(got.len(), want.len(), "trade count ({fast}/{slow})");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "trade {i} ({fast}/{slow}): {:?}", r.trades[i]);
        }
        let net: Decimal = want.iter().map(|t| t.profit + t.commission).sum();
        assert_eq!(r.final_balance, dec!(10000) + net);
    }
}

#[test]
fn equity_sizing_uses_the_fraction_of_equity_at_the_fill() {
    let bars = random_walk(
        2_000,
        22,
        Timeframe::H1,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        0,
    );
    let mut o = parity_options(dec!(0), 5, 20);
    o.sizing = Some(Sizing::Equity(dec!(0.5)));
    let r = run(o, &bars);
    let mut equity = dec!(10000);
    for t in &r.trades {
        assert_eq!(
            t.volume,
            (equity * dec!(0.5) / t.entry_price).floor(),
            "{t:?}"
        );
        equity += t.net_profit;
    }
}

/// Golden figures: a fixed seed, strategy and cost model must keep giving these numbers. A
/// change here is a change in trading behaviour and needs a reason in the commit.
#[test]
fn golden_crossover_risk_sized_with_costs() {
    let bars = bars(20_000, 42);
    let r = run(
        SetupOptions {
            sizing: Some(Sizing::Risk(dec!(1))),
            commission_per_lot: Some(dec!(3.5)),
            slippage_points: Some(2),
            ..options(&[
                ("fast_period", "10"),
                ("slow_period", "30"),
                ("sl_pips", "25"),
                ("tp_pips", "50"),
            ])
        },
        &bars,
    );
    let s = Stats::of(&r);
    let first = &r.trades[0];
    let golden = format!(
        "trades={} wins={} final_equity={} max_dd={:.4} first={:?}@{} {}->{} {}",
        s.trades,
        s.wins,
        s.final_equity,
        s.max_drawdown_pct,
        first.side,
        first.volume,
        first.entry_price,
        first.exit_price,
        first.net_profit
    );
    assert_eq!(golden, GOLDEN);
}

const GOLDEN: &str =
    "trades=584 wins=191 final_equity=14520.09 max_dd=7.0443 first=Buy@0.37 1.09971->1.1006 30.33";
