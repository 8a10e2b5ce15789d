//! A program built only on mtq-core, mtq-connector and mtq-sim: open a simulated MT5 account,
//! stream historical bars through it, and place, modify and close orders with MT5's answers.

use std::sync::Arc;

use chrono::Duration;
use mtq_connector::{BarRange, Broker, RetcodeClass};
use mtq_core::testkit::{self, BarBuilder, monday};
use mtq_core::{
    Bar, ClientOrderId, DealReason, Decimal, Magic, OrderKind, OrderRequest, Retcode, Side, Symbol,
    Timeframe,
};
use mtq_sim::{Commission, SimBroker, SimConfig, Simulator};
use rust_decimal_macros::dec;

/// H1 bar `i` from Monday 00:00 UTC, tick volume 500 and a 12-point spread.
fn h1(i: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
    BarBuilder::new()
        .at(monday() + Duration::hours(i))
        .ohlc(o, h, l, c)
        .tick_volume(500)
        .spread(12)
        .build()
}

#[tokio::test]
async fn a_simulated_account_trades_history_like_an_mt5_broker() {
    let eurusd = Symbol::new("EURUSD").unwrap();
    let cfg = SimConfig {
        commission: Commission::PerLot(dec!(3)),
        ..SimConfig::default()
    };
    let sim = Simulator::new(cfg, [testkit::eurusd()]).unwrap();
    let feed = Arc::new(SimBroker::new(sim));
    let venue: Arc<dyn Broker> = feed.clone();

    let history = [
        h1(0, 1.0850, 1.0862, 1.0844, 1.0858),
        h1(1, 1.0858, 1.0871, 1.0851, 1.0869),
        h1(2, 1.0869, 1.0880, 1.0860, 1.0875),
    ];
    for b in history {
        feed.push_bar(&eurusd, Timeframe::H1, b).unwrap();
    }
    assert_eq!(
        venue
            .bars(&eurusd, Timeframe::H1, BarRange::Last(10))
            .await
            .unwrap()
            .len(),
        3
    );

    // Buy 0.5 lot at the ask (1.0875 + 12 points); the id travels in the comment, with the magic.
    let req = OrderRequest {
        sl: Some(dec!(1.0840)),
        tp: Some(dec!(1.0950)),
        magic: Magic(20_240_304),
        ..OrderRequest::market(
            ClientOrderId::new("mtq-EURUSD-1").unwrap(),
            eurusd.clone(),
            Side::Buy,
            dec!(0.5),
        )
    };
    let filled = venue.send_order(&req).await.unwrap();
    assert_eq!(
        (filled.retcode, filled.price),
        (Retcode::Done, dec!(1.08762))
    );
    let ticket = filled.position.unwrap();

    // A stop above the bid is refused with MT5's 10016; a sane one is accepted.
    let err = venue
        .modify_position(ticket, Some(dec!(1.0876)), None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.retcode(), err.class()),
        (Some(Retcode::InvalidStops), RetcodeClass::Rejected)
    );
    venue
        .modify_position(ticket, Some(dec!(1.0860)), Some(dec!(1.0950)))
        .await
        .unwrap();

    // A pending sell limit above the market is placed, then cancelled.
    let limit = OrderRequest::pending(
        ClientOrderId::new("mtq-EURUSD-2").unwrap(),
        eurusd.clone(),
        Side::Sell,
        OrderKind::Limit,
        dec!(0.2),
        dec!(1.0920),
    );
    let placed = venue.send_order(&limit).await.unwrap();
    assert_eq!(placed.retcode, Retcode::Placed);
    venue.cancel_order(placed.order.unwrap()).await.unwrap();

    // Half out at market.
    venue
        .close_position(ticket, Some(dec!(0.25)))
        .await
        .unwrap();
    let positions = venue.positions().await.unwrap();
    assert_eq!(
        (positions.len(), positions[0].volume, positions[0].magic),
        (1, dec!(0.25), Magic(20_240_304))
    );

    // The next bar falls through the stop at 1.0860: the rest closes there.
    feed.push_bar(
        &eurusd,
        Timeframe::H1,
        h1(3, 1.0875, 1.0878, 1.0850, 1.0855),
    )
    .unwrap();
    assert!(venue.positions().await.unwrap().is_empty());
    let deals = venue
        .deals(
            h1(0, 1.0, 1.0, 1.0, 1.0).time,
            h1(4, 1.0, 1.0, 1.0, 1.0).time,
        )
        .await
        .unwrap();
    let stop = deals
        .iter()
        .find(|d| d.reason == DealReason::StopLoss)
        .unwrap();
    assert_eq!((stop.price, stop.volume), (dec!(1.086), dec!(0.25)));

    // The books balance: every cent in the balance is explained by a deal.
    let account = venue.account().await.unwrap();
    let sum: Decimal = deals.iter().map(|d| d.balance_effect()).sum();
    assert_eq!(account.balance, sum);
    // Half out at the bid 1.0875 (-0.00012 x 25,000 = -3.00), half at the stop
    // (-0.00162 x 25,000 = -40.50); commission 3 per lot per side on 0.5 + 0.25 + 0.25 lots.
    assert_eq!(
        account.balance,
        dec!(10000) - dec!(3.00) - dec!(40.50) - dec!(3.00)
    );
}
