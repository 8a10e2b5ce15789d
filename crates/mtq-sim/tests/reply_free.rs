//! Two simulators that must agree, over random sessions of bars, orders and closes: they accept
//! and refuse the same requests, send the same deals and leave the same account and positions
//! after every step, bit for bit (every `Decimal` compared by its text, so a scale or a sign of
//! zero that differs fails).
//! - The backtest's way of trading (`execute_order` / `execute_close`, no deal history) against
//!   the broker's (`send_order` / `close_position`, the history kept).
//! - The integer money (realised profit and margin in scaled integers where exact, the default)
//!   against the `Decimal` formulas alone (`with_reference_money`), at several leverages.

mod testkit;

use mtq_core::{Bar, Decimal, MarginMode, OrderRequest, Side};
use mtq_sim::{Commission, SimConfig, SimEvent, Simulator};
use proptest::prelude::*;
use rust_decimal_macros::dec;
use testkit::*;

#[derive(Debug, Clone)]
enum Op {
    Bar {
        gap: i32,
        down: u32,
        up: u32,
        close_frac: u8,
        minutes: u32,
    },
    Market {
        buy: bool,
        units: u32,
        sl: Option<u16>,
        tp: Option<u16>,
    },
    Close {
        pick: u8,
        part: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-60i32..60, 0u32..120, 0u32..120, any::<u8>(), prop_oneof![Just(1u32), Just(60), Just(1440)])
            .prop_map(|(gap, down, up, close_frac, minutes)| Op::Bar { gap, down, up, close_frac, minutes }),
        2 => (any::<bool>(), 1u32..500, proptest::option::of(5u16..300), proptest::option::of(5u16..300))
            .prop_map(|(buy, units, sl, tp)| Op::Market { buy, units, sl, tp }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(pick, part)| Op::Close { pick, part }),
    ]
}

/// The commission models, zero charges among them (which take a shortcut).
fn commission() -> impl Strategy<Value = Commission> {
    prop_oneof![
        Just(Commission::None),
        Just(Commission::PerLot(Decimal::ZERO)),
        Just(Commission::Rate(dec!(0.000))),
        Just(Commission::PerLot(dec!(3.5))),
        Just(Commission::Rate(dec!(0.00002))),
    ]
}

/// Everything observable of a simulator, as text: account and positions.
fn state(s: &Simulator) -> String {
    format!("{:?} {:?} {:?}", s.account(), s.positions(), s.balance())
}

fn drained(s: &mut Simulator) -> String {
    let mut events: Vec<SimEvent> = Vec::new();
    s.drain_events(&mut events);
    format!("{events:?}")
}

/// Which two simulators a session compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ways {
    /// `send_order` against `execute_order` (no reply, no deal history).
    Reply,
    /// The integer money against the `Decimal` reference; both answer as the broker does.
    Money,
}

fn run(cfg: SimConfig, volume_dp: u32, ops: &[Op], ways: Ways) -> Result<(), TestCaseError> {
    let mut a = sim_with(cfg.clone(), &["EURUSD"]);
    let mut b = match ways {
        Ways::Reply => sim_with(cfg, &["EURUSD"]).without_deal_history(),
        Ways::Money => sim_with(cfg, &["EURUSD"]).with_reference_money(),
    };
    let id = a.symbol_id(&sym("EURUSD")).unwrap();
    let mut close: i64 = 110_000;
    let mut now_min = 0i64;
    let first = flat_bar(minute(0), 1.1);
    a.on_bar(id, &first);
    b.on_bar(id, &first);
    prop_assert_eq!(drained(&mut a), drained(&mut b));
    for op in ops {
        match op {
            Op::Bar {
                gap,
                down,
                up,
                close_frac,
                minutes,
            } => {
                now_min += i64::from(*minutes);
                let open = (close + i64::from(*gap)).max(1000);
                let low = (open - i64::from(*down)).max(500);
                let high = open + i64::from(*up);
                close = low + (high - low) * i64::from(*close_frac) / 255;
                #[allow(clippy::cast_precision_loss)]
                let px = |p: i64| p as f64 * 0.00001;
                let bar = Bar {
                    spread: 10,
                    ..bar(minute(now_min), px(open), px(high), px(low), px(close))
                };
                a.on_bar(id, &bar);
                b.on_bar(id, &bar);
            }
            Op::Market { buy, units, sl, tp } => {
                let side = if *buy { Side::Buy } else { Side::Sell };
                let dir = if *buy { -1 } else { 1 };
                let req = OrderRequest {
                    sl: sl.map(|d| Decimal::new(close + dir * i64::from(d), 5)),
                    tp: tp.map(|d| Decimal::new(close - dir * i64::from(d), 5)),
                    ..market("EURUSD", side, Decimal::new(i64::from(*units), volume_dp))
                };
                let ra = a.send_order(&req).map(|_| ()).map_err(|e| e.to_string());
                let rb = match ways {
                    Ways::Reply => b.execute_order(&req).map_err(|e| e.to_string()),
                    Ways::Money => b.send_order(&req).map(|_| ()).map_err(|e| e.to_string()),
                };
                prop_assert_eq!(ra, rb);
            }
            Op::Close { pick, part } => {
                let ps = a.positions();
                prop_assert_eq!(&ps, &b.positions());
                if let Some(p) = ps.get(usize::from(*pick) % ps.len().max(1)) {
                    let half = (p.volume / dec!(2)).round_dp(volume_dp);
                    let v = (*part && !half.is_zero()).then_some(half);
                    let ra = a
                        .close_position(p.ticket, v)
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    let rb = match ways {
                        Ways::Reply => b.execute_close(p.ticket, v).map_err(|e| e.to_string()),
                        Ways::Money => b
                            .close_position(p.ticket, v)
                            .map(|_| ())
                            .map_err(|e| e.to_string()),
                    };
                    prop_assert_eq!(ra, rb);
                }
            }
        }
        prop_assert_eq!(drained(&mut a), drained(&mut b));
        prop_assert_eq!(state(&a), state(&b));
    }
    match ways {
        Ways::Reply => prop_assert!(b.deals().len() <= 1, "only the deposit is kept"),
        Ways::Money => prop_assert_eq!(format!("{:?}", a.deals()), format!("{:?}", b.deals())),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Lots in hundredths (the usual spec), hedging and netting.
    #[test]
    fn execute_equals_send_in_lots(
        ops in proptest::collection::vec(op(), 1..120),
        commission in commission(),
        netting in any::<bool>(),
    ) {
        let cfg = SimConfig {
            commission,
            margin_mode: if netting { MarginMode::Netting } else { MarginMode::Hedging },
            ..SimConfig::default()
        };
        run(cfg, 2, &ops, Ways::Reply)?;
    }

    /// Deliverable 1 of issue 21's check: random trade sequences through the integer money and
    /// the `Decimal` reference give the same deals, balances and positions, cent for cent, at
    /// leverages where the margin's division is exact and where it is not, in lots and tenths.
    #[test]
    fn integer_money_equals_the_decimal_reference(
        ops in proptest::collection::vec(op(), 1..120),
        commission in commission(),
        netting in any::<bool>(),
        leverage in prop_oneof![Just(1u32), Just(3), Just(30), Just(100), Just(500)],
        volume_dp in 1u32..3,
    ) {
        let cfg = SimConfig {
            commission,
            leverage,
            margin_mode: if netting { MarginMode::Netting } else { MarginMode::Hedging },
            ..SimConfig::default()
        };
        run(cfg, volume_dp, &ops, Ways::Money)?;
    }
}
