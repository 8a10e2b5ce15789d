//! Statistics against values computed by hand (the arithmetic is in the comments).

use chrono::{DateTime, Duration, TimeZone, Utc};
use mtq_analytics::*;
use mtq_core::Symbol;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

fn noon(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, 12, 0, 0).unwrap()
}

/// Seven trades, one a day at noon, each held two hours:
/// +100 -50 +150 (EURUSD), -30 -20 0 +80 (GBPUSD); strategy "ma" on trades 1, 3, 5.
fn sample() -> Vec<ClosedTrade> {
    let profits = [
        dec!(100),
        dec!(-50),
        dec!(150),
        dec!(-30),
        dec!(-20),
        dec!(0),
        dec!(80),
    ];
    profits
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let day = u32::try_from(i).unwrap() + 1;
            ClosedTrade {
                symbol: Symbol::new(if i < 3 { "EURUSD" } else { "GBPUSD" }).unwrap(),
                strategy: [0, 2, 4].contains(&i).then(|| "ma".to_string()),
                entry_time: noon(day) - Duration::hours(2),
                exit_time: noon(day),
                net_profit: *p,
            }
        })
        .collect()
}

#[test]
fn trade_statistics_match_hand_computed_values() {
    let s = trade_stats(&sample());
    assert_eq!(
        (s.trades, s.wins, s.losses),
        (7, 3, 3),
        "the zero trade is neither"
    );
    assert_eq!(s.net_profit, dec!(230));
    assert_eq!(s.gross_profit, dec!(330));
    assert_eq!(s.gross_loss, dec!(-100));
    assert!(close(s.win_rate, 3.0 / 7.0));
    assert_eq!(s.profit_factor, Some(3.3)); // 330 / 100
    assert_eq!(s.expectancy, dec!(230) / dec!(7));
    assert_eq!(s.average_win, dec!(110));
    assert_eq!(s.average_loss, dec!(-100) / dec!(3));
    assert_eq!((s.largest_win, s.largest_loss), (dec!(150), dec!(-50)));
    // W L W L L 0 W: the breakeven trade ends the losing streak of two.
    assert_eq!((s.longest_winning_streak, s.longest_losing_streak), (1, 2));
    // mean 230/7 = 32.857; sum of squares about the mean 42700 - 52900/7 = 35142.857;
    // sd = sqrt(35142.857 / 6) = 76.532; SQN = sqrt(7) x 32.857 / 76.532 = 1.13589.
    assert!(close(s.sqn.unwrap(), 1.135_889_036), "{:?}", s.sqn);
    assert_eq!(s.average_holding, Duration::hours(2));
}

#[test]
fn no_trades_give_zeros_not_errors() {
    let s = trade_stats(&[]);
    assert_eq!(s, TradeStats::default());
    assert_eq!(PerformanceReport::new(&[], &[]).equity, None);
}

#[test]
fn a_single_trade_has_no_sqn_and_only_wins_have_no_profit_factor() {
    let s = trade_stats(&sample()[..1]);
    assert_eq!(s.sqn, None);
    assert_eq!(s.profit_factor, None);
    assert!(close(s.win_rate, 1.0));
}

#[test]
fn breakdowns_split_by_symbol_and_strategy() {
    let b = breakdown(&sample());
    let eur = &b.by_symbol[&Symbol::new("EURUSD").unwrap()];
    let gbp = &b.by_symbol[&Symbol::new("GBPUSD").unwrap()];
    assert_eq!((eur.net_profit, eur.profit_factor), (dec!(200), Some(5.0))); // 250 / 50
    assert_eq!((gbp.net_profit, gbp.profit_factor), (dec!(30), Some(1.6))); // 80 / 50
    assert_eq!(b.by_strategy["ma"].net_profit, dec!(230)); // 100 + 150 - 20
    assert_eq!(b.by_strategy[UNKNOWN_STRATEGY].net_profit, dec!(0)); // -50 - 30 + 0 + 80
    assert_eq!(b.all, trade_stats(&sample()));
}

#[test]
fn equity_statistics_match_hand_computed_values() {
    let trades = sample();
    // 10000 (day 1, 10:00), then 10100 10050 10200 10170 10150 10150 10230 at each noon.
    let curve = equity_from_trades(dec!(10000), &trades);
    assert_eq!(curve.len(), 8);
    let r = PerformanceReport::new(&trades, &curve);
    let e = r.equity.unwrap();
    // Falls: 10100 -> 10050 (50, 0.495 %) and 10200 -> 10150 (50, 0.490 %).
    assert_eq!(e.drawdown.max_money, dec!(50));
    assert!(close(e.drawdown.max_percent, 50.0 / 10100.0 * 100.0));
    assert_eq!(r.recovery_factor, Some(4.6)); // 230 / 50
    // Daily returns: 0.01, -0.004950, 0.014925, -0.002941, -0.001967, 0, 0.007882.
    assert_eq!(e.daily_returns.len(), 7);
    assert!(close(e.daily_returns[0].1, 0.01));
    assert!(close(e.daily_returns[2].1, 10200.0 / 10050.0 - 1.0));
    // mean 0.0031355, sample sd 0.0072705 -> x sqrt(252) = 6.8466.
    assert!(close(e.sharpe.unwrap(), 6.846_623_959), "{:?}", e.sharpe);
    // downside deviation sqrt((0.004950^2 + 0.002941^2 + 0.001967^2) / 7) = 0.0021997 -> 22.629.
    assert!(close(e.sortino.unwrap(), 22.628_923_327), "{:?}", e.sortino);
    // 2.3 % over 6 days 2 hours, compounded to a year: 291.69 %; / 0.49505 % = 589.22.
    assert!(close(e.cagr.unwrap(), 2.916_912_507), "{:?}", e.cagr);
    assert!(close(e.calmar.unwrap(), 589.216_326_364), "{:?}", e.calmar);
}

#[test]
fn drawdown_series_is_percent_below_the_running_peak() {
    let curve = equity_from_trades(dec!(10000), &sample());
    let dd = drawdown_series(&curve);
    assert!(close(dd[0], 0.0));
    assert!(close(dd[2], -50.0 / 10100.0 * 100.0));
    assert!(close(dd[5], -50.0 / 10200.0 * 100.0));
    assert!(close(dd[7], 0.0), "a new high");
}

#[test]
fn a_flat_curve_has_no_ratios() {
    let t0 = noon(1);
    let curve: Vec<EquityPoint> = (0..3)
        .map(|i| EquityPoint {
            time: t0 + Duration::days(i),
            equity: Decimal::from(1000),
        })
        .collect();
    let e = equity_stats(&curve).unwrap();
    assert_eq!((e.sharpe, e.sortino, e.calmar), (None, None, None));
    assert_eq!(e.drawdown, Drawdown::default());
}

/// The returns' statistics without the drawdown are those of `equity_stats`, field for field
/// (a backtest reads them and tracks the drawdown itself).
#[test]
fn return_stats_are_equity_stats_without_the_drawdown() {
    let mut curves = vec![equity_from_trades(dec!(10000), &sample())];
    let t0 = noon(1);
    curves.push(
        (0..400)
            .map(|i: i64| EquityPoint {
                time: t0 + Duration::hours(5 * i),
                equity: Decimal::from(10_000 + (i * 37 % 113) - (i * 53 % 71)) / dec!(100),
            })
            .collect(),
    );
    curves.push(vec![EquityPoint {
        time: t0,
        equity: dec!(500),
    }]);
    for curve in curves {
        let e = equity_stats(&curve).unwrap();
        let r = return_stats(&curve).unwrap();
        assert_eq!(r.daily_returns, e.daily_returns);
        assert_eq!(r.sharpe.map(f64::to_bits), e.sharpe.map(f64::to_bits));
        assert_eq!(r.sortino.map(f64::to_bits), e.sortino.map(f64::to_bits));
        assert_eq!(r.cagr.map(f64::to_bits), e.cagr.map(f64::to_bits));
    }
    assert_eq!(return_stats(&[]), None);
}
