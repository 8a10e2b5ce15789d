//! Daily aggregation on a real (SQLite) store, and chart rendering without system fonts.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use mtq_analytics::*;
use mtq_core::{
    Currency, Deal, DealEntry, DealReason, Magic, MarginMode, Position, Side, Symbol, Ticket,
};
use mtq_persistence::{
    ALL_ACCOUNTS, AccountRepo, DailyPerformanceRepo, NewAccount, SnapshotRepo, Store, TradeRepo,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "mtq-analytics-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0).unwrap()
}

fn trade(
    store: &mut Store,
    account: Option<mtq_persistence::AccountId>,
    ticket: u64,
    exit: DateTime<Utc>,
    profit: Decimal,
) {
    let p = Position {
        ticket: Ticket(ticket),
        symbol: Symbol::new("EURUSD").unwrap(),
        side: Side::Buy,
        volume: dec!(0.1),
        open_price: dec!(1.08),
        open_time: exit - Duration::hours(1),
        sl: None,
        tp: None,
        current_price: dec!(1.08),
        swap: Decimal::ZERO,
        profit: Decimal::ZERO,
        magic: Magic(1),
        comment: String::new(),
    };
    store.open_trade(account, &p, Some("ma")).unwrap();
    let d = Deal {
        ticket: Ticket(ticket + 1000),
        order: None,
        position: Some(Ticket(ticket)),
        symbol: Some(p.symbol.clone()),
        side: Some(Side::Sell),
        entry: DealEntry::Out,
        reason: DealReason::Expert,
        volume: dec!(0.1),
        price: dec!(1.09),
        commission: dec!(-1),
        swap: Decimal::ZERO,
        profit,
        time: exit,
        magic: Magic(1),
        comment: String::new(),
    };
    store.apply_close(account, &d, None).unwrap();
}

#[test]
fn aggregating_a_day_twice_leaves_one_row_with_the_same_numbers() {
    let dir = TempDir::new("daily");
    let mut store = Store::open(&format!("sqlite://{}", dir.0.join("t.db").display())).unwrap();
    let account = store
        .ensure_account(
            &NewAccount {
                broker: "B".into(),
                server: "S".into(),
                login: 1,
                currency: Currency::USD,
                margin_mode: MarginMode::Hedging,
                leverage: 100,
                label: String::new(),
            },
            at(1, 0),
        )
        .unwrap()
        .id;
    let info = |equity| mtq_core::AccountInfo {
        login: 1,
        server: "S".into(),
        currency: Currency::USD,
        balance: equity,
        equity,
        margin: Decimal::ZERO,
        free_margin: equity,
        margin_level: None,
        leverage: 100,
        margin_mode: MarginMode::Hedging,
    };
    store
        .record_snapshot(Some(account), at(1, 23), &info(dec!(1000)))
        .unwrap();
    store
        .record_snapshot(Some(account), at(2, 10), &info(dec!(1049)))
        .unwrap();
    store
        .record_snapshot(Some(account), at(2, 11), &info(dec!(1018)))
        .unwrap();
    store
        .record_snapshot(Some(account), at(2, 23), &info(dec!(1038)))
        .unwrap();
    // Net: +49, -31, +20 on March 2nd; one trade on the 3rd that must not count.
    trade(&mut store, Some(account), 1, at(2, 10), dec!(50));
    trade(&mut store, Some(account), 2, at(2, 11), dec!(-30));
    trade(&mut store, Some(account), 3, at(2, 23), dec!(21));
    trade(&mut store, Some(account), 4, at(3, 1), dec!(500));

    let date = NaiveDate::from_ymd_opt(2024, 3, 2).unwrap();
    let first = aggregate_day(&mut store, &[account], date, at(4, 0)).unwrap();
    let again = aggregate_day(&mut store, &[account], date, at(4, 0)).unwrap();
    assert_eq!(first, again);
    let all = &store.days(ALL_ACCOUNTS, date, date).unwrap()[0];
    let mine = &store.days(account.0, date, date).unwrap()[0];
    assert_eq!(store.days(account.0, date, date).unwrap().len(), 1);
    assert_eq!((mine.trades, mine.wins, mine.losses), (3, 2, 1));
    assert_eq!(mine.net_profit, dec!(38));
    assert_eq!(mine.gross_loss, dec!(-31));
    assert_eq!(mine.commission, dec!(-3));
    assert_eq!(
        (mine.start_equity, mine.end_equity),
        (Some(dec!(1000)), Some(dec!(1038)))
    );
    // Snapshot curve 1000 -> 1049 -> 1018 -> 1038: a 31 fall from 1049.
    assert_eq!(mine.max_drawdown, dec!(31));
    assert!((mine.max_drawdown_pct - 31.0 / 1049.0 * 100.0).abs() < 1e-9);
    // All accounts together: the day's running P&L 0 -> 49 -> 18 -> 38.
    assert_eq!((all.net_profit, all.max_drawdown), (dec!(38), dec!(31)));
}

fn curve() -> Vec<EquityPoint> {
    let t0 = at(1, 0);
    [10000, 10120, 10050, 9900, 10200, 10310]
        .iter()
        .enumerate()
        .map(|(i, e)| EquityPoint {
            time: t0 + Duration::days(i64::try_from(i).unwrap()),
            equity: Decimal::from(*e),
        })
        .collect()
}

#[test]
fn charts_render_to_png_and_svg_with_the_embedded_font() {
    let dir = TempDir::new("chart");
    let opts = ChartOptions {
        title: "EURUSD demo".into(),
        ..ChartOptions::default()
    };
    let png = dir.0.join("equity.png");
    let svg = dir.0.join("equity.svg");
    write_png(&curve(), &png, &opts).unwrap();
    write_svg(&curve(), &svg, &opts).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("EURUSD demo") && text.contains("Drawdown %"));
    assert!(svg_string(&curve(), &opts).unwrap().starts_with("<svg"));
}

#[test]
fn an_empty_curve_is_refused_with_a_reason() {
    let err = svg_string(&[], &ChartOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the equity curve is empty: nothing to chart"
    );
}
