//! Daily returns of curves long enough for their divisions to be shared between threads: the
//! same returns, bit for bit and in order, as the plain reading of the convention (one pass, one
//! division a day), including days after a close at zero or below (no return) and several
//! points a day.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mtq_analytics::EquityPoint;
use mtq_analytics::equity::daily_returns;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The convention read plainly: each UTC day's last equity over the previous day's (the first
/// point's for the first day), skipped after a close at zero or below.
fn reference(curve: &[EquityPoint]) -> Vec<(NaiveDate, f64)> {
    let mut closes: Vec<(NaiveDate, Decimal)> = Vec::new();
    for p in curve {
        let day = p.time.date_naive();
        match closes.last_mut() {
            Some((d, e)) if *d == day => *e = p.equity,
            _ => closes.push((day, p.equity)),
        }
    }
    let mut prev = curve[0].equity;
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

fn bits(v: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, u64)> {
    v.iter().map(|(d, r)| (*d, r.to_bits())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn long_curves_give_the_plain_readings_returns(
        days in 7_000usize..30_000,
        seed in any::<u64>(),
        start in -40_000i64..40_000,
    ) {
        let t0 = DateTime::<Utc>::UNIX_EPOCH + Duration::days(start);
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut cents: i64 = 1_000_000;
        let mut curve = Vec::new();
        let mut day = 0i64;
        for _ in 0..days {
            // One to three points a day, some days skipped; now and then a fall to zero or below.
            day += 1 + i64::from(next() % 7 == 0);
            for h in 0..=(next() % 3) {
                cents = match next() % 500 {
                    _ if cents <= 0 => 1_000_000,
                    0 => 0,
                    1 => -12_345,
                    _ => cents + i64::try_from(next() % 20_001).unwrap() - 10_000,
                };
                let time = t0 + Duration::days(day) + Duration::hours(i64::try_from(h).unwrap() * 5);
                curve.push(EquityPoint { time, equity: Decimal::new(cents, 2) });
            }
        }
        let got = daily_returns(&curve);
        prop_assert!(got.len() > 6_000);
        prop_assert_eq!(bits(&got), bits(&reference(&curve)));
    }
}
