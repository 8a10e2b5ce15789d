//! The connector against the Python sidecar (`sidecar/mtq_sidecar.py`) driving the fake
//! `MetaTrader5` module (`sidecar/fake_mt5`), over real TCP.
//!
//! Skipped, with a note, when `python3` is not on PATH. Timeouts are generous and no test asserts
//! a duration.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use mtq_connector::{BarRange, Broker};
use mtq_core::{
    ClientOrderId, DealEntry, FillingFlags, Magic, MarginMode, OrderRequest, Side, Symbol,
    Timeframe,
};
use mtq_mt5::{Mt5Broker, Mt5Config, Token};
use rust_decimal_macros::dec;

const TOKEN: &str = "sidecar-token-0123";
const WAIT: Duration = Duration::from_secs(60);

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some("python3")
}

/// Kills the sidecar when the test ends, however it ends.
struct Sidecar(Child);

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_sidecar(python: &str, port: u16) -> Sidecar {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sidecar");
    let child = Command::new(python)
        .arg(dir.join("mtq_sidecar.py"))
        .args(["--port", &port.to_string(), "--token", TOKEN])
        .env("PYTHONPATH", dir.join("fake_mt5"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("FAKE_MT5_OFFSET", "7200")
        .env("FAKE_MT5_SUFFIX", ".m")
        .env_remove("MT5_PASSWORD")
        .env_remove("MT5_LOGIN")
        .env_remove("MT5_PATH")
        .env_remove("MT5_SERVER")
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 starts");
    Sidecar(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sidecar_serves_the_broker_trait() {
    let Some(python) = python() else {
        eprintln!("note: python3 is not on PATH; the Python sidecar test is skipped");
        return;
    };
    let cfg = Mt5Config {
        request_timeout: Duration::from_secs(30),
        trade_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(120),
        ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
    }
    .with_suffix(".m");
    let broker = Mt5Broker::listen(cfg).await.unwrap();
    let _sidecar = spawn_sidecar(python, broker.local_port());

    let hello = broker.wait_connected(WAIT).await.unwrap();
    assert_eq!(hello.login, 5_001_234);
    assert_eq!(hello.server, "Fake-Demo");
    assert_eq!(hello.terminal_build, 4755);
    assert_eq!(hello.leverage, 100);
    assert_eq!(hello.margin_mode, MarginMode::Hedging);
    // Quotes, backslashes, non-ASCII and a newline survive the JSON escaping.
    assert_eq!(hello.company, "Fake \"Broker\" Ltd\\ \u{e9}\u{20ac}\n");
    assert!(hello.terminal_trade_allowed && hello.ea_trade_allowed);
    // The fake's quotes are stamped UTC+2; the sidecar derives the offset from them.
    assert_eq!(hello.server_offset_secs, 7200);
    assert_eq!(broker.server_offset_secs(), 7200);

    let account = broker.account().await.unwrap();
    assert_eq!(account.login, 5_001_234);
    assert_eq!(account.currency.as_str(), "USD");
    assert_eq!(account.balance, dec!(10000));
    assert_eq!(account.equity, dec!(10000));
    assert_eq!(account.margin_level, None);

    let eurusd = Symbol::new("EURUSD").unwrap();
    let spec = broker.symbol_spec(&eurusd).await.unwrap();
    assert_eq!(spec.digits, 5);
    assert_eq!(spec.point, dec!(0.00001));
    assert_eq!(spec.tick_size, dec!(0.00001));
    assert_eq!(spec.contract_size, dec!(100000));
    assert_eq!(
        (spec.volume_min, spec.volume_max, spec.volume_step),
        (dec!(0.01), dec!(100), dec!(0.01))
    );
    assert_eq!((spec.stops_level, spec.freeze_level), (10, 5));
    assert_eq!(spec.filling, FillingFlags(3));
    assert_eq!(spec.swap_long, dec!(-6.5));
    assert_eq!(spec.swap_rollover3days, chrono::Weekday::Wed);
    assert_eq!(broker.broker_symbol(&eurusd).await.unwrap(), "EURUSD.m");

    let tick = broker.last_tick(&eurusd).await.unwrap();
    assert_eq!((tick.bid, tick.ask), (1.08, 1.08012));
    // Server time UTC+2 converted back: the tick is "now" in UTC, give or take a loaded machine.
    assert!(
        (Utc::now() - tick.time).num_minutes().abs() < 30,
        "{tick:?}"
    );

    let bars = broker
        .bars(&eurusd, Timeframe::M1, BarRange::Last(50))
        .await
        .unwrap();
    assert_eq!(bars.len(), 50);
    assert!(bars.windows(2).all(|w| w[0].time < w[1].time));
    // The fake's bar i opens at 1.07 + 10 points * i, 500 bars in all.
    assert!((bars[49].open - 1.1199).abs() < 1e-9, "{:?}", bars[49]);
    assert!((bars[49].close - 1.11995).abs() < 1e-9, "{:?}", bars[49]);
    assert_eq!(bars[49].tick_volume, 599);
    let from = bars[10].time;
    let to = bars[19].time;
    let range = broker
        .bars(&eurusd, Timeframe::M1, BarRange::Between(from, to))
        .await
        .unwrap();
    assert!(
        range.len() >= 9 && range.first().unwrap().time >= from,
        "{range:?}"
    );

    let request = OrderRequest {
        magic: Magic(4242),
        sl: Some(dec!(1.0750)),
        tp: Some(dec!(1.0900)),
        ..OrderRequest::market(
            ClientOrderId::new("mtq-py-000001").unwrap(),
            eurusd.clone(),
            Side::Buy,
            dec!(0.10),
        )
    };
    let opened = broker.send_order(&request).await.unwrap();
    assert_eq!(opened.retcode.code(), 10009);
    assert_eq!(opened.price, dec!(1.08012));
    assert_eq!(opened.volume, dec!(0.1));
    let ticket = opened.position.expect("the position ticket");
    assert_eq!(Some(ticket), opened.order);

    let positions = broker.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    let p = &positions[0];
    assert_eq!(p.ticket, ticket);
    assert_eq!(p.symbol, eurusd);
    assert_eq!(p.side, Side::Buy);
    assert_eq!(p.open_price, dec!(1.08012));
    assert_eq!((p.sl, p.tp), (Some(dec!(1.075)), Some(dec!(1.09))));
    assert_eq!(p.magic, Magic(4242));
    assert_eq!(p.comment, "mtq-py-000001");

    let modified = broker
        .modify_position(ticket, Some(dec!(1.0760)), Some(dec!(1.0950)))
        .await
        .unwrap();
    assert_eq!(modified.retcode.code(), 10009);
    let p = broker.positions().await.unwrap().remove(0);
    assert_eq!((p.sl, p.tp), (Some(dec!(1.076)), Some(dec!(1.095))));

    let closed = broker.close_position(ticket, None).await.unwrap();
    assert_eq!(closed.retcode.code(), 10009);
    assert_eq!(closed.price, dec!(1.08));
    assert_eq!(closed.position, Some(ticket));
    assert!(broker.positions().await.unwrap().is_empty());

    let now = Utc::now();
    let deals = broker
        .deals(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(deals.len(), 2, "{deals:?}");
    let (open, close) = (&deals[0], &deals[1]);
    assert_eq!(open.entry, DealEntry::In);
    assert_eq!(open.side, Some(Side::Buy));
    assert_eq!(open.position, Some(ticket));
    assert_eq!(open.price, dec!(1.08012));
    assert_eq!(open.comment, "mtq-py-000001");
    assert_eq!(open.magic, Magic(4242));
    assert_eq!(close.entry, DealEntry::Out);
    assert_eq!(close.side, Some(Side::Sell));
    assert_eq!(close.position, Some(ticket));
    assert_eq!(close.price, dec!(1.08));
    assert_eq!(close.volume, dec!(0.1));
    // (1.08 - 1.08012) * 0.1 lots * 100,000.
    assert_eq!(close.profit, dec!(-1.2));
    assert_eq!(close.comment, "");

    // Unknown symbols are reported as such (error 4301), and the sidecar keeps serving.
    let unknown = Symbol::new("XAUUSD").unwrap();
    assert!(broker.symbol_spec(&unknown).await.is_err());
    assert_eq!(broker.account().await.unwrap().login, 5_001_234);
    assert!(broker.is_connected());
}
