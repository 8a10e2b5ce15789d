//! Bar close to order request in the trader core, 20 symbols: strategy, filters, risk checks,
//! sizing and the order, for a bar that produces an entry every time (the `position` strategy
//! enters whenever it holds nothing, and the view holds nothing).
//!
//! `cargo bench -p mtq-orchestrator --bench core` prints the latency percentiles over 200,000
//! single bar closes before criterion's own measurement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use mtq_core::testkit::{self, BarBuilder};
use mtq_core::{AccountInfo, Bar, Currency, StaticRates, Symbol};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::{Command, MarketView, TraderCore};
use rust_decimal::Decimal;

const SYMBOLS: usize = 20;

fn names() -> Vec<String> {
    (0..SYMBOLS).map(|i| format!("EURUSD.{i:02}")).collect()
}

fn setup() -> (TraderCore, Vec<Symbol>) {
    let mut yaml = String::from(
        "global:\n  max_concurrent_trades: 1000\n  portfolio_risk_percent: 100\n  \
         max_currency_exposure_percent: 100000\ncurrencies:\n",
    );
    for n in names() {
        yaml.push_str(&format!(
            "  - symbol: {n}\n    strategy_type: position\n    timeframe: M5\n    \
             fast_period: 5\n    slow_period: 20\n    sl_pips: 20\n    tp_pips: 40\n    \
             risk_percent: 0.1\n    cooldown_seconds: 0\n    max_positions_same_direction: 1000\n"
        ));
    }
    let cfg = config::load(&ConfigSource::Text(yaml), &[]).expect("bench config");
    let base = testkit::eurusd();
    let mut specs = BTreeMap::new();
    let mut symbols = Vec::new();
    for n in names() {
        let s = Symbol::new(&n).expect("symbol");
        let mut spec = base.clone();
        spec.symbol = s.clone();
        specs.insert(s.clone(), spec);
        symbols.push(s);
    }
    let core = TraderCore::new(Arc::new(cfg), specs, 0).expect("core");
    (core, symbols)
}

fn bar(i: i64) -> Bar {
    let t0 = DateTime::<Utc>::from_timestamp(1_709_510_400, 0).expect("2024-03-04");
    #[allow(clippy::cast_precision_loss)]
    let close = 1.1000 + 0.00001 * (i % 1000) as f64;
    BarBuilder::new()
        .at(t0 + Duration::minutes(5 * i))
        .ohlc(close - 0.00001, close + 0.0002, close - 0.0002, close)
        .tick_volume(10)
        .spread(8)
        .build()
}

fn account() -> AccountInfo {
    AccountInfo {
        server: "bench".into(),
        ..testkit::account_usd(Decimal::from(100_000))
    }
}

struct Bench {
    core: TraderCore,
    symbols: Vec<Symbol>,
    account: AccountInfo,
    rates: StaticRates,
    i: i64,
    k: usize,
}

impl Bench {
    fn new() -> Self {
        let (mut core, symbols) = setup();
        for s in &symbols {
            let warm: Vec<Bar> = (0..40).map(bar).collect();
            core.warm_up(s, &warm);
        }
        let rates = StaticRates::new().with(Currency::EUR, Currency::USD, Decimal::new(11, 1));
        Self {
            core,
            symbols,
            account: account(),
            rates,
            i: 40,
            k: 0,
        }
    }

    /// The next symbol's next bar closes; `true` when it asked for an order.
    fn step(&mut self) -> bool {
        let b = bar(self.i);
        let view = MarketView {
            now: b.time + Duration::minutes(5),
            account: &self.account,
            positions: &[],
            rates: &self.rates,
        };
        // The quote is the bar's close (the next bar opens there).
        let bid = Decimal::new(110_000 + (self.i % 1000) - 1, 5);
        let out = self.core.on_bar(
            &self.symbols[self.k],
            &b,
            view,
            bid,
            bid + Decimal::new(8, 5),
        );
        self.k += 1;
        if self.k == SYMBOLS {
            self.k = 0;
            self.i += 1;
        }
        out.iter().any(|c| matches!(c, Command::Submit(_)))
    }
}

fn percentiles() {
    let mut b = Bench::new();
    let n = 200_000;
    let mut lat = Vec::with_capacity(n);
    let mut orders = 0usize;
    for _ in 0..n {
        let t = Instant::now();
        let ordered = b.step();
        lat.push(t.elapsed().as_nanos());
        orders += usize::from(ordered);
    }
    lat.sort_unstable();
    let p = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((lat.len() as f64) * q) as usize;
        lat[i.min(lat.len() - 1)]
    };
    eprintln!(
        "bar close -> order request, {SYMBOLS} symbols, {n} bar closes, {orders} orders: \
         p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        p(0.50),
        p(0.99),
        p(0.999),
        lat[lat.len() - 1]
    );
    assert!(
        orders * 10 >= n * 9,
        "most bar closes must ask for an order"
    );
}

fn bench(c: &mut Criterion) {
    percentiles();
    let mut b = Bench::new();
    c.bench_function("core/bar_close_to_order_20_symbols", |x| {
        x.iter(|| b.step());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
