//! Symbol names at a broker with a `.m` suffix and symbols outside Market Watch, over real TCP:
//! explicit map, else suffix, else discovery (the default), and Market Watch selection.

use std::sync::Arc;
use std::time::Duration;

use mtq_connector::{Broker, BrokerError, RetcodeClass};
use mtq_core::testkit::symbol as sym;
use mtq_core::{ClientOrderId, Magic, OrderRequest, Retcode, Side};
use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal};
use mtq_mt5::{Mt5Broker, Mt5Config, SymbolSource, Token};
use rust_decimal_macros::dec;

const TOKEN: &str = "symbols-token-0042";
const WAIT: Duration = Duration::from_secs(60);

fn cfg() -> Mt5Config {
    Mt5Config {
        request_timeout: Duration::from_secs(30),
        heartbeat_timeout: Duration::from_secs(120),
        ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
    }
}

/// A broker whose names end in `.m`; GBPUSD.m is not in Market Watch.
fn dot_m_broker() -> FakeTerminal {
    let fake = FakeTerminal::new(
        FakeAccount::default(),
        vec![
            FakeSymbol::forex("EURUSD.m"),
            FakeSymbol::forex("GBPUSD.m").outside_market_watch(),
            FakeSymbol::forex("USDJPY.m"),
            FakeSymbol::forex("EURUSD.pro").outside_market_watch(),
        ],
    );
    fake.set_quote("EURUSD.m", 1.08, 1.08012);
    fake.set_quote("GBPUSD.m", 1.27, 1.27015);
    fake
}

async fn connected(cfg: Mt5Config, fake: &FakeTerminal) -> Arc<Mt5Broker> {
    let broker = Mt5Broker::listen(cfg).await.unwrap();
    fake.connect(broker.local_port(), TOKEN);
    broker.wait_connected(WAIT).await.unwrap();
    Arc::new(broker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_is_the_default_and_symbols_outside_market_watch_are_selected() {
    let fake = dot_m_broker();
    let broker = connected(cfg(), &fake).await;

    let eur = broker.resolve_symbol(&sym("EURUSD")).await.unwrap();
    assert_eq!(eur.broker, "EURUSD.m", "the one in Market Watch wins");
    assert_eq!(eur.source, SymbolSource::Discovered);
    assert!(!eur.added_to_market_watch);

    assert!(!fake.in_market_watch("GBPUSD.m"));
    let gbp = broker.resolve_symbol(&sym("GBPUSD")).await.unwrap();
    assert_eq!(
        (gbp.broker.as_str(), gbp.source, gbp.added_to_market_watch),
        ("GBPUSD.m", SymbolSource::Discovered, true)
    );
    assert!(fake.in_market_watch("GBPUSD.m"));
    let selects = fake.requests_of("symbol_select");
    assert_eq!(selects.len(), 1);
    assert_eq!(selects[0]["symbol"], "GBPUSD.m");

    // Trading it works, and the bridge never had to select anything itself.
    let req = OrderRequest {
        magic: Magic(7),
        ..OrderRequest::market(
            ClientOrderId::new("mtq-sym-1").unwrap(),
            sym("GBPUSD"),
            Side::Buy,
            dec!(0.1),
        )
    };
    let out = broker.send_order(&req).await.unwrap();
    assert_eq!(out.retcode, Retcode::Done);
    assert_eq!(fake.orders_sent()[0]["symbol"], "GBPUSD.m");
    assert_eq!(broker.positions().await.unwrap()[0].symbol, sym("GBPUSD"));
    assert!(
        fake.auto_selected().is_empty(),
        "{:?}",
        fake.auto_selected()
    );

    let err = broker.symbol_spec(&sym("AUDUSD")).await.unwrap_err();
    assert!(matches!(err, BrokerError::UnknownSymbol(_)), "{err}");
    assert_eq!(err.class(), RetcodeClass::Rejected);
    fake.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_map_wins_then_the_suffix_and_neither_asks_for_the_list() {
    let fake = dot_m_broker();
    let cfg = cfg()
        .with_suffix(".m")
        .with_symbol(sym("EURUSD"), "EURUSD.pro");
    let broker = connected(cfg, &fake).await;
    let eur = broker.resolve_symbol(&sym("EURUSD")).await.unwrap();
    assert_eq!(
        (eur.broker.as_str(), eur.source, eur.added_to_market_watch),
        ("EURUSD.pro", SymbolSource::Explicit, true)
    );
    let jpy = broker.resolve_symbol(&sym("USDJPY")).await.unwrap();
    assert_eq!(
        (jpy.broker.as_str(), jpy.source),
        ("USDJPY.m", SymbolSource::Suffix)
    );
    // A suffix that does not fit is not papered over by discovery.
    let err = broker.symbol_spec(&sym("AUDUSD")).await.unwrap_err();
    assert!(matches!(err, BrokerError::UnknownSymbol(_)), "{err}");
    assert!(fake.requests_of("symbols").is_empty());
    fake.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_broker_name_is_refused_with_the_key_to_set() {
    let fake = FakeTerminal::new(
        FakeAccount::default(),
        vec![FakeSymbol::forex("EURUSD.m"), FakeSymbol::forex("EURUSDm")],
    );
    let broker = connected(cfg(), &fake).await;
    let err = broker.resolve_symbol(&sym("EURUSD")).await.unwrap_err();
    assert!(
        matches!(&err, BrokerError::AmbiguousSymbol { candidates, .. } if candidates.len() == 2),
        "{err}"
    );
    assert_eq!(err.class(), RetcodeClass::Rejected);
    let msg = err.to_string();
    assert!(
        msg.contains("EURUSD.m, EURUSDm") && msg.contains("symbols: {EURUSD: EURUSD.m}"),
        "{msg}"
    );
    fake.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_answering_4302_gets_the_symbol_selected_and_asked_again() {
    let fake = dot_m_broker();
    fake.set_symbol_info_needs_market_watch(true);
    let broker = connected(cfg().with_suffix(".m"), &fake).await;
    let gbp = broker.resolve_symbol(&sym("GBPUSD")).await.unwrap();
    assert_eq!(
        (gbp.broker.as_str(), gbp.added_to_market_watch),
        ("GBPUSD.m", true)
    );
    assert_eq!(broker.symbol_spec(&sym("GBPUSD")).await.unwrap().digits, 5);
    assert_eq!(fake.requests_of("symbol_select").len(), 1);
    fake.stop();
}
