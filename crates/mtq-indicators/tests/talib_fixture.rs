//! Every standard indicator equals TA-Lib's C library on a committed fixture.
//!
//! `fixtures/talib_fixture.csv` holds 5000 EURUSD-like M15 bars and the values the Python
//! `TA-Lib` package (C TA-Lib 0.8.1) computed on them; `fixtures/generate_talib_fixture.py`
//! regenerates it. The rule: the same `NaN` placement, and a relative error of at most 1e-9.

mod common;

use std::collections::HashMap;

use mtq_indicators::batch;

/// The bound on relative error against TA-Lib's C library.
const MAX_RELATIVE_ERROR: f64 = 1e-9;

struct Fixture {
    columns: HashMap<String, Vec<f64>>,
}

impl Fixture {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/talib_fixture.csv");
        let text = std::fs::read_to_string(path).expect("fixture file is committed");
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
        for (n, line) in lines.enumerate() {
            for (i, field) in line.split(',').enumerate() {
                let v = if field.is_empty() {
                    f64::NAN
                } else {
                    field
                        .parse()
                        .unwrap_or_else(|_| panic!("line {}: bad number {field:?}", n + 2))
                };
                columns[i].push(v);
            }
        }
        Self {
            columns: header.into_iter().zip(columns).collect(),
        }
    }

    /// The mean close: the price level that difference-type outputs are measured against.
    fn price_level(&self) -> f64 {
        let c = self.col("close");
        c.iter().sum::<f64>() / c.len() as f64
    }

    fn col(&self, name: &str) -> &[f64] {
        self.columns
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no column {name}"))
    }

    fn check(&self, name: &str, ours: &[f64]) {
        self.check_scaled(name, ours, 0.0);
    }

    /// For outputs that are differences of price-level quantities (MACD, slopes), which cancel
    /// to near zero: the error is relative to `max(|TA-Lib value|, scale)`, `scale` being the
    /// price level, since the last bits of a difference of two numbers near 1.1 carry no
    /// information about the indicator and differ between FMA and non-FMA builds.
    fn check_scaled(&self, name: &str, ours: &[f64], scale: f64) {
        let theirs = self.col(name);
        assert_eq!(ours.len(), theirs.len(), "{name}: length");
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(
                a.is_nan(),
                b.is_nan(),
                "{name}[{i}]: NaN placement ({a} vs TA-Lib {b})"
            );
            assert!(
                common::close_enough(*a, *b, MAX_RELATIVE_ERROR)
                    || (a - b).abs() <= MAX_RELATIVE_ERROR * b.abs().max(scale),
                "{name}[{i}]: {a} vs TA-Lib {b}"
            );
        }
    }
}

#[test]
fn moving_averages_equal_talib() {
    let f = Fixture::load();
    let c = f.col("close");
    f.check("sma_20", &batch::sma(c, 20).unwrap());
    f.check("ema_20", &batch::ema(c, 20).unwrap());
    f.check("wma_20", &batch::wma(c, 20).unwrap());
    f.check("dema_20", &batch::dema(c, 20).unwrap());
    f.check("tema_20", &batch::tema(c, 20).unwrap());
    f.check("kama_30", &batch::kama(c, 30).unwrap());
    f.check("zlema_21", &batch::zlema(c, 21).unwrap());
}

#[test]
fn oscillators_equal_talib() {
    let f = Fixture::load();
    let (h, l, c, v) = (f.col("high"), f.col("low"), f.col("close"), f.col("volume"));
    f.check("rsi_14", &batch::rsi(c, 14).unwrap());
    f.check("adx_14", &batch::adx(h, l, c, 14).unwrap());
    f.check("plus_di_14", &batch::plus_di(h, l, c, 14).unwrap());
    f.check("minus_di_14", &batch::minus_di(h, l, c, 14).unwrap());
    f.check("cci_20", &batch::cci(h, l, c, 20).unwrap());
    f.check("willr_14", &batch::willr(h, l, c, 14).unwrap());
    f.check("mfi_14", &batch::mfi(h, l, c, v, 14).unwrap());
    f.check("obv", &batch::obv(c, v).unwrap());
    let m = batch::macd(c, 12, 26, 9).unwrap();
    let level = f.price_level();
    f.check_scaled("macd_12_26_9", &m.macd, level);
    f.check_scaled("macd_signal", &m.signal, level);
    f.check_scaled("macd_hist", &m.hist, level);
    let s = batch::stoch(h, l, c, 14, 3, 3).unwrap();
    f.check("stoch_k_14_3_3", &s.k);
    f.check("stoch_d", &s.d);
    let s = batch::stochrsi(c, 14, 5, 3).unwrap();
    f.check("stochrsi_k_14_5_3", &s.k);
    f.check("stochrsi_d", &s.d);
}

#[test]
fn volatility_and_bands_equal_talib() {
    let f = Fixture::load();
    let (o, h, l, c) = (f.col("open"), f.col("high"), f.col("low"), f.col("close"));
    f.check("atr_14", &batch::atr(h, l, c, 14).unwrap());
    f.check("sar_0.02_0.2", &batch::sar(h, l, 0.02, 0.2).unwrap());
    f.check("stddev_20_1", &batch::stddev(c, 20, 1.0).unwrap());
    f.check(
        "linearreg_slope_14",
        &batch::linearreg_slope(c, 14).unwrap(),
    );
    let b = batch::bbands(c, 20, 2.0, 2.0).unwrap();
    f.check("bb_upper_20_2", &b.upper);
    f.check("bb_middle", &b.middle);
    f.check("bb_lower", &b.lower);
    let b = batch::donchian(h, l, 20).unwrap();
    f.check("donchian_upper_20", &b.upper);
    f.check("donchian_middle", &b.middle);
    f.check("donchian_lower", &b.lower);
    let b = batch::keltner(h, l, c, 20, 10, 2.0).unwrap();
    f.check("kc_upper_20_10_2", &b.upper);
    f.check("kc_middle", &b.middle);
    f.check("kc_lower", &b.lower);
    let st = batch::supertrend(h, l, c, 10, 3.0).unwrap();
    f.check("supertrend_10_3", &st.line);
    let dir: Vec<f64> = st.direction.iter().map(|d| f64::from(*d)).collect();
    f.check("supertrend_dir", &dir);
    let ha = batch::heikin_ashi(o, h, l, c).unwrap();
    f.check("ha_open", &ha.open);
    f.check("ha_high", &ha.high);
    f.check("ha_low", &ha.low);
    f.check("ha_close", &ha.close);
}
