//! The maximum drawdown worked out only where it can be reached against its plain reading (a
//! percentage at every point): the same `Drawdown`, bit for bit, on random curves. The curves
//! walk in cents with flat stretches, returns to the peak, values written with other decimals
//! (1500 beside 1500.00), returns to the deepest point (ties), falls through zero, and some values the faster reading leaves to the
//! plain one (ten million and more, or finer than 10^-4).

use chrono::{DateTime, Duration, TimeZone, Utc};
use mtq_analytics::EquityPoint;
use mtq_analytics::equity::{daily_returns, drawdown, drawdown_reference};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
enum Step {
    /// Move by this many cents.
    Cents(i64),
    /// Stay where it is.
    Flat,
    /// Back to the running peak exactly.
    Peak,
    /// Back to the lowest value since the peak exactly: a tie with the deepest fall.
    Trough,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (-50_000i64..50_000).prop_map(Step::Cents),
        3 => (-300i64..300).prop_map(Step::Cents),
        2 => Just(Step::Flat),
        1 => Just(Step::Peak),
        2 => Just(Step::Trough),
    ]
}

/// A value in cents written with `extra` more decimals (and, for a whole amount, sometimes none).
fn written(cents: i64, extra: u32) -> Decimal {
    let d = Decimal::new(cents, 2);
    match extra {
        0 => d,
        9 => d.normalize(),
        e => {
            let mut d = d;
            d.rescale(2 + e);
            d
        }
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn curve(first: i64, steps: &[(Step, u32)], big: bool) -> Vec<EquityPoint> {
    let mut cents = first;
    let mut peak = first;
    let mut trough = first;
    let mut out = Vec::with_capacity(steps.len() + 1);
    let mut push = |i: usize, cents: i64, extra: u32| {
        let equity = if big {
            written(cents, extra) * Decimal::from(1000)
        } else {
            written(cents, extra)
        };
        out.push(EquityPoint {
            time: start() + Duration::hours(i64::try_from(i).unwrap()),
            equity,
        });
    };
    push(0, cents, 0);
    for (i, (s, extra)) in steps.iter().enumerate() {
        match s {
            Step::Cents(c) => cents += c,
            Step::Flat => {}
            Step::Peak => cents = peak,
            Step::Trough => cents = trough,
        }
        if cents > peak {
            peak = cents;
            trough = cents;
        }
        trough = trough.min(cents);
        push(i + 1, cents, *extra);
    }
    out
}

fn same(a: &mtq_analytics::Drawdown, b: &mtq_analytics::Drawdown) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.max_money.to_string(), b.max_money.to_string());
    prop_assert_eq!(a.max_percent.to_bits(), b.max_percent.to_bits());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn drawdown_equals_the_reference_on_random_curves(
        first in -100_000i64..5_000_000,
        steps in proptest::collection::vec((step(), prop_oneof![8 => Just(0u32), 1 => Just(1u32), 1 => Just(9u32), 1 => Just(3u32)]), 0..400),
        big in proptest::bool::weighted(0.1),
    ) {
        let c = curve(first, &steps, big);
        same(&drawdown(&c), &drawdown_reference(&c))?;
    }

    /// Daily returns, which skip the date of a point on the day of the one before, against
    /// the plain reading (each point's date), on curves with points minutes to days apart.
    #[test]
    fn daily_returns_equal_the_plain_reading(
        first in 100_000i64..5_000_000,
        steps in proptest::collection::vec((step(), 0u32..1, prop_oneof![Just(1i64), Just(7), Just(60), Just(600), Just(1440), Just(4000)]), 0..300),
    ) {
        let mut c = curve(first, &steps.iter().map(|(s, e, _)| (s.clone(), *e)).collect::<Vec<_>>(), false);
        let mut t = start() - Duration::minutes(3);
        for (p, (_, _, gap)) in c.iter_mut().skip(1).zip(&steps) {
            t += Duration::minutes(*gap);
            p.time = t;
        }
        prop_assert_eq!(format!("{:?}", daily_returns(&c)), format!("{:?}", plain_daily_returns(&c)));
    }
}

/// Daily returns as the module docs define them, reading every point's date.
fn plain_daily_returns(curve: &[EquityPoint]) -> Vec<(chrono::NaiveDate, f64)> {
    use rust_decimal::prelude::ToPrimitive;
    let Some(first) = curve.first() else {
        return Vec::new();
    };
    let mut closes: Vec<(chrono::NaiveDate, Decimal)> = Vec::new();
    for p in curve {
        let day = p.time.date_naive();
        match closes.last_mut() {
            Some((d, e)) if *d == day => *e = p.equity,
            _ => closes.push((day, p.equity)),
        }
    }
    let mut prev = first.equity;
    let mut out = Vec::new();
    for (day, equity) in closes {
        if prev > Decimal::ZERO
            && let Some(r) = (equity / prev - Decimal::ONE).to_f64()
        {
            out.push((day, r));
        }
        prev = equity;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Curves long enough (8,192 days and more) for `daily_returns` to share its divisions
    /// between threads: the plain reading's returns, bit for bit and in order, with one to three
    /// points a day, days skipped, and closes at zero and below (no return the day after).
    #[test]
    fn long_curves_give_the_plain_readings_returns(
        days in 7_000usize..30_000,
        seed in any::<u64>(),
        start_day in -40_000i64..40_000,
    ) {
        let t0 = DateTime::<Utc>::UNIX_EPOCH + Duration::days(start_day);
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut cents: i64 = 1_000_000;
        let mut c = Vec::new();
        let mut day = 0i64;
        for _ in 0..days {
            day += 1 + i64::from(next() % 7 == 0);
            for h in 0..=(next() % 3) {
                cents = match next() % 500 {
                    _ if cents <= 0 => 1_000_000,
                    0 => 0,
                    1 => -12_345,
                    _ => cents + i64::try_from(next() % 20_001).unwrap() - 10_000,
                };
                let time = t0 + Duration::days(day) + Duration::hours(i64::try_from(h).unwrap() * 5);
                c.push(EquityPoint { time, equity: Decimal::new(cents, 2) });
            }
        }
        let got = daily_returns(&c);
        prop_assert!(got.len() > 6_000);
        let bits = |v: &[(chrono::NaiveDate, f64)]| -> Vec<(chrono::NaiveDate, u64)> {
            v.iter().map(|(d, r)| (*d, r.to_bits())).collect()
        };
        prop_assert_eq!(bits(&got), bits(&plain_daily_returns(&c)));
    }
}

#[test]
fn deepest_fall_and_percentage_on_a_small_curve() {
    let at = |cents: &[i64]| {
        cents
            .iter()
            .enumerate()
            .map(|(i, &c)| EquityPoint {
                time: start() + Duration::hours(i64::try_from(i).unwrap()),
                equity: Decimal::new(c, 2),
            })
            .collect::<Vec<_>>()
    };
    // Peak 1000.00, down to 800.00 (-20%), new peak 1200.00, down to 1000.00 (-16.67%, 200.00).
    let dd = drawdown(&at(&[
        100_000, 90_000, 80_000, 95_000, 120_000, 110_000, 100_000, 105_000,
    ]));
    assert_eq!(dd.max_money, Decimal::new(20_000, 2));
    assert_eq!(dd.max_percent.to_bits(), 20.0f64.to_bits());
    assert_eq!(
        dd,
        drawdown_reference(&at(&[
            100_000, 90_000, 80_000, 95_000, 120_000, 110_000, 100_000, 105_000
        ]))
    );
}
