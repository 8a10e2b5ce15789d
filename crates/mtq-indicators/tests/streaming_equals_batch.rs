//! Property: every streaming indicator equals its batch form bit for bit, over random series.

mod common;

use mtq_core::Bar;
use mtq_indicators::batch;
use mtq_indicators::seeds;
use mtq_indicators::stream::{self, Indicator};
use proptest::prelude::*;

/// Random FX-like bars: a random walk of closes with wicks, positive and finite.
fn series() -> impl Strategy<Value = Vec<Bar>> {
    (
        prop::collection::vec((-1.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0, 1u64..500), 40..160),
        1.0f64..2.0,
    )
        .prop_map(|(steps, start)| {
            let mut price = start;
            steps
                .into_iter()
                .enumerate()
                .map(|(i, (step, up, down, volume))| {
                    let open = price;
                    let close = (price + step * 0.002).max(0.1);
                    price = close;
                    let high = open.max(close) + up * 0.001;
                    let low = (open.min(close) - down * 0.001).max(0.05);
                    common::series()
                        .tick_volume(volume)
                        .bar(i, open, high, low, close)
                })
                .collect()
        })
}

/// Streams `inputs` through `indicator` and checks each output against the batch value at the
/// same index: `None` exactly where batch is `NaN`, the same bits elsewhere.
fn check<I: Indicator>(
    name: &str,
    mut indicator: I,
    inputs: &[I::Input],
    batch: &[Vec<f64>],
    project: impl Fn(&I::Output) -> Vec<f64>,
) -> Result<(), TestCaseError> {
    for (i, x) in inputs.iter().enumerate() {
        let peeked = indicator.peek(*x).map(|o| project(&o));
        let out = indicator.update(*x).map(|o| project(&o));
        prop_assert_eq!(
            &peeked.as_ref().map(|v| bits(v)),
            &out.as_ref().map(|v| bits(v)),
            "{} peek[{}]",
            name,
            i
        );
        match out {
            None => {
                for series in batch {
                    prop_assert!(
                        series[i].is_nan(),
                        "{}[{}]: stream None, batch {}",
                        name,
                        i,
                        series[i]
                    );
                }
            }
            Some(values) => {
                for (v, series) in values.iter().zip(batch) {
                    prop_assert!(
                        common::same_bits(*v, series[i]),
                        "{}[{}]: stream {} batch {}",
                        name,
                        i,
                        v,
                        series[i]
                    );
                }
            }
        }
    }
    Ok(())
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn one(x: &f64) -> Vec<f64> {
    vec![*x]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn streaming_close_indicators_equal_batch(bars in series(), p in 2usize..12) {
        let c: Vec<f64> = bars.iter().map(|b| b.close).collect();
        check("sma", stream::Sma::new(p).unwrap(), &c, &[batch::sma(&c, p).unwrap()], one)?;
        check("ema", stream::Ema::new(p).unwrap(), &c, &[batch::ema(&c, p).unwrap()], one)?;
        check("wma", stream::Wma::new(p).unwrap(), &c, &[batch::wma(&c, p).unwrap()], one)?;
        check("dema", stream::Dema::new(p).unwrap(), &c, &[batch::dema(&c, p).unwrap()], one)?;
        check("tema", stream::Tema::new(p).unwrap(), &c, &[batch::tema(&c, p).unwrap()], one)?;
        check("kama", stream::Kama::new(p).unwrap(), &c, &[batch::kama(&c, p).unwrap()], one)?;
        check("zlema", stream::Zlema::new(p).unwrap(), &c, &[batch::zlema(&c, p).unwrap()], one)?;
        check("rsi", stream::Rsi::new(p).unwrap(), &c, &[batch::rsi(&c, p).unwrap()], one)?;
        check("stddev", stream::Stddev::new(p, 1.5).unwrap(), &c, &[batch::stddev(&c, p, 1.5).unwrap()], one)?;
        check("slope", stream::LinearregSlope::new(p).unwrap(), &c, &[batch::linearreg_slope(&c, p).unwrap()], one)?;
        let m = batch::macd(&c, p, p + 5, 3).unwrap();
        check("macd", stream::Macd::new(p, p + 5, 3).unwrap(), &c, &[m.macd, m.signal, m.hist], |v| vec![v.macd, v.signal, v.hist])?;
        let b = batch::bbands(&c, p, 2.0, 1.5).unwrap();
        check("bbands", stream::Bbands::new(p, 2.0, 1.5).unwrap(), &c, &[b.upper, b.middle, b.lower], |v| vec![v.upper, v.middle, v.lower])?;
        let s = batch::stochrsi(&c, p, 5, 3).unwrap();
        check("stochrsi", stream::StochRsi::new(p, 5, 3).unwrap(), &c, &[s.k, s.d], |v| vec![v.k, v.d])?;
    }

    #[test]
    fn streaming_bar_indicators_equal_batch(bars in series(), p in 2usize..12) {
        let o: Vec<f64> = bars.iter().map(|b| b.open).collect();
        let h: Vec<f64> = bars.iter().map(|b| b.high).collect();
        let l: Vec<f64> = bars.iter().map(|b| b.low).collect();
        let c: Vec<f64> = bars.iter().map(|b| b.close).collect();
        #[allow(clippy::cast_precision_loss)]
        let v: Vec<f64> = bars.iter().map(|b| b.tick_volume as f64).collect();
        check("atr", stream::Atr::new(p).unwrap(), &bars, &[batch::atr(&h, &l, &c, p).unwrap()], one)?;
        check("adx", stream::Adx::new(p).unwrap(), &bars, &[batch::adx(&h, &l, &c, p).unwrap()], one)?;
        check("+di", stream::PlusDi::new(p).unwrap(), &bars, &[batch::plus_di(&h, &l, &c, p).unwrap()], one)?;
        check("-di", stream::MinusDi::new(p).unwrap(), &bars, &[batch::minus_di(&h, &l, &c, p).unwrap()], one)?;
        check("cci", stream::Cci::new(p).unwrap(), &bars, &[batch::cci(&h, &l, &c, p).unwrap()], one)?;
        check("willr", stream::Willr::new(p).unwrap(), &bars, &[batch::willr(&h, &l, &c, p).unwrap()], one)?;
        check("mfi", stream::Mfi::new(p).unwrap(), &bars, &[batch::mfi(&h, &l, &c, &v, p).unwrap()], one)?;
        check("obv", stream::Obv::new(), &bars, &[batch::obv(&c, &v).unwrap()], one)?;
        check("sar", stream::Sar::new(0.02, 0.2).unwrap(), &bars, &[batch::sar(&h, &l, 0.02, 0.2).unwrap()], one)?;
        let d = batch::donchian(&h, &l, p).unwrap();
        check("donchian", stream::Donchian::new(p).unwrap(), &bars, &[d.upper, d.middle, d.lower], |v| vec![v.upper, v.middle, v.lower])?;
        let k = batch::keltner(&h, &l, &c, p, p, 2.0).unwrap();
        check("keltner", stream::Keltner::new(p, p, 2.0).unwrap(), &bars, &[k.upper, k.middle, k.lower], |v| vec![v.upper, v.middle, v.lower])?;
        let s = batch::stoch(&h, &l, &c, p, 3, 3).unwrap();
        check("stoch", stream::Stoch::new(p, 3, 3).unwrap(), &bars, &[s.k, s.d], |v| vec![v.k, v.d])?;
        let st = batch::supertrend(&h, &l, &c, p, 3.0).unwrap();
        let dir: Vec<f64> = st.direction.iter().map(|d| if *d == 0 { f64::NAN } else { f64::from(*d) }).collect();
        check("supertrend", stream::SuperTrend::new(p, 3.0).unwrap(), &bars, &[st.line, dir], |v| vec![v.line, f64::from(v.direction)])?;
        let ha = batch::heikin_ashi(&o, &h, &l, &c).unwrap();
        check("ha", stream::HeikinAshi::new(), &bars, &[ha.open, ha.high, ha.low, ha.close], |v| vec![v.open, v.high, v.low, v.close])?;
    }

    #[test]
    fn warm_up_then_update_equals_batch(bars in series(), p in 2usize..12, split in 0usize..40) {
        let c: Vec<f64> = bars.iter().map(|b| b.close).collect();
        let expected = batch::rsi(&c, p).unwrap();
        let mut rsi = stream::Rsi::new(p).unwrap();
        let split = split.min(c.len());
        let last = rsi.warm_up(&c[..split]);
        if split > 0 {
            prop_assert_eq!(last.map(f64::to_bits), Some(expected[split - 1]).filter(|x| !x.is_nan()).map(f64::to_bits));
        }
        for (i, x) in c.iter().enumerate().skip(split) {
            let got = rsi.update(*x).unwrap_or(f64::NAN);
            prop_assert!(common::same_bits(got, expected[i]), "rsi[{}]", i);
        }
    }

    #[test]
    fn seed_indicators_stream_equals_their_batch_form(bars in series()) {
        let c: Vec<f64> = bars.iter().map(|b| b.close).collect();
        let mut two_pole = seeds::TwoPoleOscillator::new(seeds::TwoPoleConfig::default()).unwrap();
        let batch_two_pole = seeds::two_pole(&c, seeds::TwoPoleConfig::default()).unwrap();
        for (x, expected) in c.iter().zip(&batch_two_pole) {
            prop_assert_eq!(two_pole.peek(*x), *expected);
            prop_assert_eq!(two_pole.update(*x), *expected);
        }
        let mut mbi = seeds::MomentumBiasIndex::new(seeds::MomentumBiasConfig::default()).unwrap();
        let batch_mbi = seeds::momentum_bias(&bars, seeds::MomentumBiasConfig::default()).unwrap();
        for (b, expected) in bars.iter().zip(&batch_mbi) {
            prop_assert_eq!(mbi.update(*b), *expected);
        }
        let mut obs = seeds::OrderBlocks::new(seeds::OrderBlockConfig { swing_left: 2, swing_right: 2, ..Default::default() }).unwrap();
        let batch_obs = seeds::order_blocks(&bars, seeds::OrderBlockConfig { swing_left: 2, swing_right: 2, ..Default::default() }).unwrap();
        for (b, expected) in bars.iter().zip(&batch_obs) {
            prop_assert_eq!(obs.peek(*b), *expected);
            prop_assert_eq!(obs.update(*b), *expected);
        }
        let mut fvg = seeds::FairValueGaps::new(0.0, 20).unwrap();
        let batch_fvg = seeds::fair_value_gaps(&bars, 0.0, 20).unwrap();
        for (b, expected) in bars.iter().zip(&batch_fvg) {
            prop_assert_eq!(fvg.update(*b), *expected);
        }
        // The first value of a fixed-lookback seed arrives exactly at its lookback.
        let first = batch_two_pole.iter().position(Option::is_some);
        prop_assert!(first.is_none_or(|i| i == two_pole.lookback()));
        let first = batch_mbi.iter().position(Option::is_some);
        prop_assert!(first.is_none_or(|i| i == mbi.lookback()));
    }
}
