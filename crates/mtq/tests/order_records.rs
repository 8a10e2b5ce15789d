//! What the `orders` table says went on the wire: the filling policy the connector sent and the
//! order ticket the reply carried, through the MT5 bridge over real TCP into a SQLite file.

use std::sync::Arc;
use std::time::Duration;

use mtq::db::DbIntentStore;
use mtq_connector::Broker;
use mtq_core::{
    ClientOrderId, FillPolicy, FillingFlags, Magic, OrderRequest, Side, Symbol, SystemClock,
};
use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal, field};
use mtq_mt5::{Mt5Broker, Mt5Config, Token};
use mtq_orchestrator::{IntentState, OrderExecutor, RetryPolicy};
use mtq_persistence::{OrderRepo, Store};
use rust_decimal_macros::dec;

const TOKEN: &str = "test-token-0123";
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_table_records_the_filling_sent_and_the_order_ticket_returned() {
    // GBPUSD at this broker takes IOC only; MTQ asks for FOK by default.
    let mut gbp = FakeSymbol::forex("GBPUSD.m");
    gbp.spec.filling = FillingFlags(FillingFlags::IOC);
    gbp.accepted_filling = FillingFlags::IOC;
    let fake = FakeTerminal::new(FakeAccount::default(), vec![gbp]);
    fake.set_quote("GBPUSD.m", 1.25, 1.25015);
    let cfg = Mt5Config {
        request_timeout: Duration::from_secs(30),
        trade_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(120),
        ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
    }
    .with_suffix(".m");
    let broker = Mt5Broker::listen(cfg).await.unwrap();
    fake.connect(broker.local_port(), TOKEN);
    broker.wait_connected(WAIT).await.unwrap();
    let broker: Arc<dyn Broker> = Arc::new(broker);
    let gbpusd = Symbol::new("GBPUSD").unwrap();
    let spec = broker.symbol_spec(&gbpusd).await.unwrap();

    let dir = std::env::temp_dir().join(format!("mtq-order-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("mtq.db").display());
    let store = DbIntentStore::new(Store::open(&url).unwrap(), None);
    let executor = OrderExecutor::new(
        broker,
        Arc::new(store),
        Arc::new(SystemClock),
        RetryPolicy::default(),
    )
    .with_specs([spec]);
    let id = ClientOrderId::new("mtq-ioc-0001").unwrap();
    let request = OrderRequest {
        magic: Magic(4242),
        ..OrderRequest::market(id.clone(), gbpusd, Side::Sell, dec!(0.1))
    };
    assert_eq!(request.filling, FillPolicy::Fok);
    let sub = executor.submit(request).await.unwrap();
    let IntentState::Filled {
        order, bid, ask, ..
    } = sub.intent().state.clone()
    else {
        panic!("expected a fill, got {:?}", sub.intent().state);
    };
    assert_eq!(
        field(&fake.orders_sent()[0], "type_filling"),
        "ORDER_FILLING_IOC"
    );
    assert!(order.is_some(), "the reply carries the order ticket");
    assert_eq!((bid, ask), (dec!(1.25), dec!(1.25015)), "the reply's quote");

    let row = Store::open(&url)
        .unwrap()
        .order(None, &id)
        .unwrap()
        .unwrap();
    assert_eq!(
        row.request.filling,
        FillPolicy::Ioc,
        "the filling that was sent"
    );
    assert_eq!(row.order, order, "the order ticket of the reply");
    std::fs::remove_dir_all(&dir).ok();
}
