//! Invariants over random trading sessions: the books balance, fills stay inside what traded,
//! and no input makes the simulator panic.

mod testkit;

use mtq_core::{Bar, Decimal, MarginMode, OrderKind, OrderRequest, Side, Ticket};
use mtq_sim::{Commission, IntrabarPath, SimConfig, SimEvent, Simulator, Slippage};
use proptest::prelude::*;
use rust_decimal_macros::dec;
use testkit::*;

#[derive(Debug, Clone)]
enum Op {
    /// A bar: open moves `gap` points from the last close, then `down`/`up` points of range,
    /// close somewhere inside; `minutes` later than the previous bar.
    Bar {
        gap: i32,
        down: u32,
        up: u32,
        close_frac: u8,
        minutes: u32,
    },
    Market {
        buy: bool,
        lots: u8,
        sl: Option<u16>,
        tp: Option<u16>,
    },
    Pending {
        buy: bool,
        kind: u8,
        offset: u16,
        lots: u8,
        sl: Option<u16>,
    },
    Close {
        pick: u8,
        part: bool,
    },
    Modify {
        pick: u8,
        sl: Option<u16>,
        tp: Option<u16>,
    },
    Cancel {
        pick: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (-60i32..60, 0u32..120, 0u32..120, any::<u8>(), prop_oneof![Just(1u32), Just(60), Just(1440)])
            .prop_map(|(gap, down, up, close_frac, minutes)| Op::Bar { gap, down, up, close_frac, minutes }),
        2 => (any::<bool>(), 1u8..50, proptest::option::of(5u16..300), proptest::option::of(5u16..300))
            .prop_map(|(buy, lots, sl, tp)| Op::Market { buy, lots, sl, tp }),
        1 => (any::<bool>(), 0u8..3, 1u16..200, 1u8..50, proptest::option::of(5u16..300))
            .prop_map(|(buy, kind, offset, lots, sl)| Op::Pending { buy, kind, offset, lots, sl }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(pick, part)| Op::Close { pick, part }),
        1 => (any::<u8>(), proptest::option::of(5u16..300), proptest::option::of(5u16..300))
            .prop_map(|(pick, sl, tp)| Op::Modify { pick, sl, tp }),
        1 => any::<u8>().prop_map(|pick| Op::Cancel { pick }),
    ]
}

const POINT: f64 = 0.00001;

fn points(p: i64) -> Decimal {
    Decimal::new(p, 5)
}

/// Runs `ops`, checking after every step that each new deal's price lies inside the range its
/// price line traded in the current bar. Returns the simulator.
fn run(cfg: SimConfig, ops: &[Op]) -> Result<Simulator, TestCaseError> {
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    let mut close: i64 = 110_000; // in points
    let mut now_min = 0i64;
    let spread = 10i64;
    let mut current = flat_bar(minute(0), 1.1);
    s.on_bar(id, &current);
    let mut seen = s.deals().len();
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
                let px = |p: i64| p as f64 * POINT;
                current = Bar {
                    spread: 10,
                    ..bar(minute(now_min), px(open), px(high), px(low), px(close))
                };
                let quiet = s.bar_is_quiet(id, &current);
                let before = s.positions();
                s.drain_events(&mut Vec::new());
                s.on_bar(id, &current);
                if quiet {
                    // A quiet bar only moves the quote: no deal, no event, the same positions.
                    let mut events = Vec::new();
                    s.drain_events(&mut events);
                    prop_assert!(
                        events.is_empty(),
                        "quiet bar {:?} made {:?}",
                        current,
                        events
                    );
                    prop_assert_eq!(s.deals().len(), seen);
                    let after = s.positions();
                    prop_assert_eq!(
                        before
                            .iter()
                            .map(|p| (p.ticket, p.volume, p.sl, p.tp))
                            .collect::<Vec<_>>(),
                        after
                            .iter()
                            .map(|p| (p.ticket, p.volume, p.sl, p.tp))
                            .collect::<Vec<_>>()
                    );
                }
                // The snapshot a backtest copies is the account and the positions, exactly.
                let (mut account, mut positions) = (s.account(), Vec::new());
                account.equity = Decimal::MIN;
                s.snapshot(&mut account, &mut positions);
                prop_assert_eq!(&account, &s.account());
                prop_assert_eq!(&positions, &s.positions());
                // Every position that lived through the whole bar has levels the bar did not reach.
                for p in s.positions().iter().filter(|p| p.open_time < current.time) {
                    let (lo, hi) = match p.side {
                        Side::Buy => (points(low), points(high)),
                        Side::Sell => (points(low + spread), points(high + spread)),
                    };
                    let (down, up) = match p.side {
                        Side::Buy => (p.sl, p.tp),
                        Side::Sell => (p.tp, p.sl),
                    };
                    prop_assert!(
                        down.is_none_or(|d| lo > d) && up.is_none_or(|u| hi < u),
                        "position {:?} survived a bar {}..{} that reached its SL/TP",
                        p,
                        lo,
                        hi
                    );
                }
            }
            Op::Market { buy, lots, sl, tp } => {
                let side = if *buy { Side::Buy } else { Side::Sell };
                let dir = if *buy { -1 } else { 1 };
                let req = OrderRequest {
                    sl: sl.map(|d| points(close + dir * i64::from(d))),
                    tp: tp.map(|d| points(close - dir * i64::from(d))),
                    ..market("EURUSD", side, Decimal::new(i64::from(*lots), 2))
                };
                let _ = s.send_order(&req);
            }
            Op::Pending {
                buy,
                kind,
                offset,
                lots,
                sl,
            } => {
                let side = if *buy { Side::Buy } else { Side::Sell };
                let kind =
                    [OrderKind::Limit, OrderKind::Stop, OrderKind::StopLimit][usize::from(*kind)];
                let above = matches!(
                    (kind, side),
                    (OrderKind::Limit, Side::Sell)
                        | (OrderKind::Stop | OrderKind::StopLimit, Side::Buy)
                );
                let base = if *buy { close + spread } else { close };
                let price = if above {
                    base + i64::from(*offset)
                } else {
                    base - i64::from(*offset)
                };
                let mut req = pending(
                    "EURUSD",
                    side,
                    kind,
                    Decimal::new(i64::from(*lots), 2),
                    points(price),
                );
                if kind == OrderKind::StopLimit {
                    req.stop_limit = Some(points(if *buy { price - 5 } else { price + 5 }));
                }
                req.sl = sl.map(|d| {
                    points(if *buy {
                        price - 10 - i64::from(d)
                    } else {
                        price + 10 + i64::from(d)
                    })
                });
                let _ = s.send_order(&req);
            }
            Op::Close { pick, part } => {
                let ps = s.positions();
                if let Some(p) = ps.get(usize::from(*pick) % ps.len().max(1)) {
                    let half = (p.volume / dec!(2)).round_dp(2);
                    let v = if *part && half >= dec!(0.01) {
                        Some(half)
                    } else {
                        None
                    };
                    let _ = s.close_position(p.ticket, v);
                }
            }
            Op::Modify { pick, sl, tp } => {
                let ps = s.positions();
                if let Some(p) = ps.get(usize::from(*pick) % ps.len().max(1)) {
                    let dir = if p.side == Side::Buy { -1 } else { 1 };
                    let _ = s.modify_position(
                        p.ticket,
                        sl.map(|d| points(close + dir * i64::from(d))),
                        tp.map(|d| points(close - dir * i64::from(d))),
                    );
                }
            }
            Op::Cancel { pick } => {
                let os = s.pending_orders();
                if let Some(o) = os.get(usize::from(*pick) % os.len().max(1)) {
                    let _ = s.cancel_order(o.ticket);
                }
            }
        }
        for d in &s.deals()[seen..] {
            let Some(side) = d.side else { continue };
            #[allow(clippy::cast_precision_loss)]
            let px = |p: f64| Decimal::try_from(p).unwrap().round_dp(5);
            let offset = if side == Side::Buy {
                spread as f64 * POINT
            } else {
                0.0
            };
            let (lo, hi) = (px(current.low + offset), px(current.high + offset));
            prop_assert!(
                d.price >= lo && d.price <= hi,
                "deal {:?} {:?} at {} outside the bar's {:?} range {}..{} ({:?})",
                d.reason,
                side,
                d.price,
                side,
                lo,
                hi,
                current
            );
        }
        seen = s.deals().len();
    }
    Ok(s)
}

fn config(netting: bool, slip: u32, stop_first: bool) -> SimConfig {
    SimConfig {
        margin_mode: if netting {
            MarginMode::Netting
        } else {
            MarginMode::Hedging
        },
        commission: Commission::PerLot(dec!(3.5)),
        slippage: if slip == 0 {
            Slippage::None
        } else {
            Slippage::Random {
                max_points: slip,
                seed: u64::from(slip),
            }
        },
        intrabar: if stop_first {
            IntrabarPath::StopFirst
        } else {
            IntrabarPath::NearerExtremeFirst
        },
        deposit: dec!(5000),
        ..SimConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn balance_is_deposit_plus_profit_commission_and_swap_of_every_deal(
        ops in proptest::collection::vec(op(), 1..150),
        netting in any::<bool>(), slip in 0u32..4, stop_first in any::<bool>(),
    ) {
        let mut s = run(config(netting, slip, stop_first), &ops)?;
        let sum: Decimal = s.deals().iter().map(|d| d.balance_effect()).sum();
        prop_assert_eq!(s.balance(), sum);
        // Closing everything turns equity into balance, exactly.
        for p in s.positions() {
            let _ = s.close_position(p.ticket, None);
        }
        if s.open_position_count() == 0 {
            prop_assert_eq!(s.account().equity, s.balance());
        }
        let sum: Decimal = s.deals().iter().map(|d| d.balance_effect()).sum();
        prop_assert_eq!(s.balance(), sum);
    }

    #[test]
    fn fills_stay_inside_the_range_the_bar_traded(
        ops in proptest::collection::vec(op(), 1..150),
        netting in any::<bool>(), slip in 0u32..6,
    ) {
        run(config(netting, slip, false), &ops)?;
    }

    #[test]
    fn netting_accounts_hold_at_most_one_position_per_symbol(ops in proptest::collection::vec(op(), 1..100)) {
        let s = run(config(true, 0, false), &ops)?;
        prop_assert!(s.open_position_count() <= 1);
    }
}

/// SplitMix64 for the torture test: no dependency, same sequence every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.next() % u64::try_from(hi - lo + 1).unwrap()).unwrap()
    }
}

#[test]
fn a_hundred_thousand_random_orders_and_modifications_never_panic() {
    let mut r = Rng(42);
    let mut s = sim_with(
        SimConfig {
            commission: Commission::Rate(dec!(0.00002)),
            ..SimConfig::default()
        },
        &["EURUSD", "USDJPY"],
    );
    let ids = [
        s.symbol_id(&sym("EURUSD")).unwrap(),
        s.symbol_id(&sym("USDJPY")).unwrap(),
    ];
    let names = ["EURUSD", "USDJPY"];
    let mut now_min = 0;
    let wild = |r: &mut Rng| -> Decimal {
        match r.int(0, 5) {
            0 => Decimal::ZERO,
            1 => Decimal::new(-r.int(0, 1_000_000), 5),
            2 => Decimal::new(r.int(0, i64::MAX / 4), r.int(0, 20).try_into().unwrap()),
            _ => Decimal::new(r.int(1, 400), 2),
        }
    };
    for i in 0..100_000 {
        let k = usize::try_from(r.int(0, 1)).unwrap();
        match r.int(0, 9) {
            0 | 1 => {
                now_min += r.int(0, 2000);
                #[allow(clippy::cast_precision_loss)]
                let base =
                    if k == 0 { 1.1 } else { 150.0 } * (1.0 + r.int(-500, 500) as f64 / 10_000.0);
                #[allow(clippy::cast_precision_loss)]
                let wiggle = |r: &mut Rng| r.int(0, 300) as f64 * base / 100_000.0;
                let (lo, hi) = (base - wiggle(&mut r), base + wiggle(&mut r));
                let mut b = bar(minute(now_min), base, hi, lo, (lo + hi) / 2.0);
                if i % 997 == 0 {
                    b.low = hi + 1.0; // a malformed bar must not panic either
                }
                s.on_bar(ids[k], &b);
            }
            2 | 3 => {
                let mut req = market(
                    names[k],
                    if r.int(0, 1) == 0 {
                        Side::Buy
                    } else {
                        Side::Sell
                    },
                    wild(&mut r),
                );
                if r.int(0, 1) == 0 {
                    req.sl = Some(wild(&mut r));
                }
                if r.int(0, 1) == 0 {
                    req.tp = Some(wild(&mut r));
                }
                let _ = s.send_order(&req);
            }
            4 => {
                let kind = [
                    OrderKind::Limit,
                    OrderKind::Stop,
                    OrderKind::StopLimit,
                    OrderKind::Market,
                ][usize::try_from(r.int(0, 3)).unwrap()];
                let mut req = pending(names[k], Side::Buy, kind, wild(&mut r), wild(&mut r));
                req.stop_limit = Some(wild(&mut r));
                req.expiration = Some(minute(now_min + r.int(-100, 100)));
                let _ = s.send_order(&req);
            }
            5 | 6 => {
                let _ = s.modify_position(
                    Ticket(u64::try_from(r.int(0, 2000)).unwrap()),
                    Some(wild(&mut r)),
                    Some(wild(&mut r)),
                );
            }
            7 => {
                let _ = s.close_position(
                    Ticket(u64::try_from(r.int(0, 2000)).unwrap()),
                    Some(wild(&mut r)),
                );
            }
            8 => {
                let _ = s.cancel_order(Ticket(u64::try_from(r.int(0, 2000)).unwrap()));
            }
            _ => {
                let mut ev = Vec::new();
                s.drain_events(&mut ev);
                let _ = s.account();
                if ev.iter().any(|e| matches!(e, SimEvent::StopOut { .. })) {
                    s.book_balance(dec!(10000), "top up");
                }
            }
        }
    }
    let sum: Decimal = s.deals().iter().map(|d| d.balance_effect()).sum();
    assert_eq!(s.balance(), sum);
}
