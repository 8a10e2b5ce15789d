//! Several accounts in one `mtq-trader serve` never mix their orders (issue 18): two fake MT5
//! terminals on two ports beside a paper account.
//!
//! - A property test drives each terminal with its own random sequence of trends (so the
//!   crossover signals at each come at random, independent moments) and finds every order at
//!   the terminal of the account that recorded it: the right magic number, the right id prefix,
//!   and each terminal's orders exactly the orders its account wrote to the database.
//! - A SIGKILL while an order of each terminal's account is in flight (executed at the terminal,
//!   its reply never read), then a restart: each account reconciles its own order from its own
//!   terminal, nothing is sent twice, and the API, the database and the terminals agree on every
//!   account's positions.

#![cfg(unix)]

mod accounts_kit;
mod serve_kit;

use std::collections::{BTreeMap, BTreeSet};

use accounts_kit::{Server, Terminal, all_orders_are, config};
use diesel::{QueryableByName, RunQueryDsl};
use mtq::persistence::{OrderRepo, OrderState, Store, TradeRepo, TradingAccountRepo};
use mtq_mt5::fake::{FakeReaction, field};
use proptest::prelude::*;

const ALPHA_TOKEN: &str = "alpha-token-0123456789";
const BETA_TOKEN: &str = "beta-token-0123456789";

fn start(name: &str, alpha: &Terminal, beta: &Terminal) -> Server {
    let (pa, pb) = (alpha.port, beta.port);
    let server = Server::start(
        name,
        |dir, api| config(dir, api, pa, pb, ""),
        &[
            ("MTQ_TEST_TOKEN_ALPHA", ALPHA_TOKEN),
            ("MTQ_TEST_TOKEN_BETA", BETA_TOKEN),
        ],
    );
    alpha.fake.connect(alpha.port, ALPHA_TOKEN);
    beta.fake.connect(beta.port, BETA_TOKEN);
    server
}

#[derive(QueryableByName)]
struct OrderRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    client_order_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    magic: i64,
}

/// Each account's recorded orders (client order id and magic), by the account's name.
fn recorded_orders(url: &str) -> BTreeMap<String, Vec<(String, i64)>> {
    let mut store = Store::open(url).unwrap();
    let mut out = BTreeMap::new();
    for name in ["alpha", "beta", "paper"] {
        let row = store.trading_account(name).unwrap().unwrap();
        let Some(account) = row.account else {
            out.insert(name.to_string(), Vec::new());
            continue;
        };
        let rows: Vec<OrderRow> = diesel::sql_query(format!(
            "SELECT client_order_id, magic FROM orders WHERE account_id = {}",
            account.0
        ))
        .load(store.connection())
        .unwrap();
        out.insert(
            name.to_string(),
            rows.into_iter()
                .map(|r| (r.client_order_id, r.magic))
                .collect(),
        );
    }
    out
}

/// The closes of alternating trends: `(up, bars)` per trend, 8 pips a bar.
fn trend_closes(trends: &[(bool, u8)], from: f64) -> Vec<f64> {
    let mut price = from;
    let mut out = Vec::new();
    for &(up, bars) in trends {
        for _ in 0..bars {
            price += if up { 0.0008 } else { -0.0008 };
            out.push(price);
        }
    }
    out
}

/// Alternating trends of three to five bars: each turn is a crossover of the 2/5 averages.
fn trends() -> impl Strategy<Value = Vec<(bool, u8)>> {
    (any::<bool>(), prop::collection::vec(3u8..=5, 3..=5)).prop_map(|(first_up, lens)| {
        lens.into_iter()
            .enumerate()
            .map(|(i, n)| (first_up ^ (i % 2 == 1), n))
            .collect()
    })
}

fn no_order_on_the_wrong_terminal(
    case: usize,
    alpha_trends: &[(bool, u8)],
    beta_trends: &[(bool, u8)],
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut alpha = Terminal::new(1001, ALPHA_TOKEN);
        let mut beta = Terminal::new(2002, BETA_TOKEN);
        let mut server = start(&format!("isolation-{case}"), &alpha, &beta);
        let log = || server.log();
        let from = |t: &Terminal| t.bars.last().unwrap().close;
        let (a, b) = (
            trend_closes(alpha_trends, from(&alpha)),
            trend_closes(beta_trends, from(&beta)),
        );
        for i in 0..a.len().max(b.len()) {
            // Both terminals' bars close together; each account sees only its own.
            let sa = a.get(i).map(|&c| alpha.push(c));
            let sb = b.get(i).map(|&c| beta.push(c));
            if let Some(seen) = sa {
                alpha.wait_read(seen, &log).await;
            }
            if let Some(seen) = sb {
                beta.wait_read(seen, &log).await;
            }
        }
        // One more read each: the last bar's orders have gone out.
        let (sa, sb) = (
            alpha.fake.requests_of("rates").len(),
            beta.fake.requests_of("rates").len(),
        );
        alpha.wait_read(sa, &log).await;
        beta.wait_read(sb, &log).await;
        let status = server.stop();
        assert!(status.success(), "exit {status}:\n{}", server.log());

        let at_alpha = all_orders_are(&alpha, 111, "alpha");
        let at_beta = all_orders_are(&beta, 222, "beta");
        assert!(
            at_alpha >= 1 && at_beta >= 1,
            "every trend turn is a signal: alpha {at_alpha}, beta {at_beta} orders;\n{}",
            server.log()
        );
        let recorded = recorded_orders(&server.url());
        let comments = |t: &Terminal| -> BTreeSet<String> {
            t.fake
                .orders_sent()
                .iter()
                .map(|o| field(o, "comment").as_str().unwrap_or_default().to_string())
                .collect()
        };
        let ids = |name: &str| -> BTreeSet<String> {
            recorded[name].iter().map(|(id, _)| id.clone()).collect()
        };
        // Each terminal received exactly the orders its account recorded, each once.
        assert_eq!(comments(&alpha), ids("alpha"), "alpha");
        assert_eq!(comments(&beta), ids("beta"), "beta");
        assert_eq!(
            comments(&alpha).len(),
            at_alpha,
            "an order sent twice to alpha"
        );
        assert_eq!(
            comments(&beta).len(),
            at_beta,
            "an order sent twice to beta"
        );
        // Every recorded order carries its own account's magic number; the paper account's
        // orders reached neither terminal.
        for (name, magic) in [("alpha", 111), ("beta", 222), ("paper", 333)] {
            for (id, m) in &recorded[name] {
                assert_eq!(*m, magic, "{name}'s order {id}");
                assert!(id.starts_with(name), "{name}'s order {id}");
            }
        }
        assert!(ids("paper").is_disjoint(&comments(&alpha)));
        assert!(ids("paper").is_disjoint(&comments(&beta)));
    });
}

proptest! {
    // Each case is a whole `serve` run of up to 25 bars a terminal (a second a bar).
    #![proptest_config(ProptestConfig {
        cases: 3,
        max_shrink_iters: 2,
        ..ProptestConfig::default()
    })]
    #[test]
    fn random_signals_never_reach_another_accounts_terminal(
        alpha_trends in trends(),
        beta_trends in trends(),
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CASE: AtomicUsize = AtomicUsize::new(0);
        let case = CASE.fetch_add(1, Ordering::Relaxed);
        no_order_on_the_wrong_terminal(case, &alpha_trends, &beta_trends);
    }
}

/// The open position tickets of an account in the API.
async fn api_positions(server: &Server, name: &str) -> Option<Vec<u64>> {
    let r = server
        .call("GET", &format!("/api/v1/accounts/{name}/positions"), "")
        .await;
    if r.status != 200 {
        return None;
    }
    let mut got: Vec<u64> = r
        .json()
        .as_array()?
        .iter()
        .filter_map(|p| p["ticket"].as_u64())
        .collect();
    got.sort_unstable();
    Some(got)
}

fn terminal_positions(t: &Terminal) -> Vec<u64> {
    let mut v: Vec<u64> = t.fake.open_positions().iter().map(|p| p.0).collect();
    v.sort_unstable();
    v
}

fn db_positions(url: &str, name: &str) -> Vec<u64> {
    let mut store = Store::open(url).unwrap();
    let account = store.trading_account(name).unwrap().unwrap().account;
    let mut v: Vec<u64> = store
        .open_trades(account)
        .unwrap()
        .iter()
        .map(|t| t.ticket.0)
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_with_orders_in_flight_is_reconciled_per_account_without_a_duplicate() {
    let mut alpha = Terminal::new(1001, ALPHA_TOKEN);
    let mut beta = Terminal::new(2002, BETA_TOKEN);
    let mut server = start("sigkill", &alpha, &beta);
    let dir = server.dir.clone();
    // Each terminal executes the next order and never answers it.
    alpha
        .fake
        .react_next("order_send", FakeReaction::ExecuteNoReply);
    beta.fake
        .react_next("order_send", FakeReaction::ExecuteNoReply);
    // Each terminal hangs as soon as it has its order: the trader's request times out after
    // 10 s, and an answering terminal would then let it reconcile the order before the kill
    // (the drive loop below can take longer than that on a loaded machine).
    let hang_after_first_order = |fake: mtq_mt5::fake::FakeTerminal| {
        tokio::spawn(async move {
            while fake.orders_sent().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            fake.go_silent(true);
        })
    };
    let hangs = [
        hang_after_first_order(alpha.fake.clone()),
        hang_after_first_order(beta.fake.clone()),
    ];
    let log = || accounts_kit::log_in(&dir);
    let sent = |t: &Terminal| t.fake.orders_sent().len();
    for _ in 0..40 {
        if sent(&alpha) >= 1 && sent(&beta) >= 1 {
            break;
        }
        if sent(&alpha) == 0 {
            alpha.step_or_order(&log, true).await;
        }
        if sent(&beta) == 0 {
            beta.step_or_order(&log, true).await;
        }
    }
    let in_flight = |t: &Terminal| {
        let first = t.fake.orders_sent()[0].clone();
        field(&first, "comment").as_str().unwrap().to_string()
    };
    assert!(
        sent(&alpha) >= 1 && sent(&beta) >= 1,
        "no order at alpha or beta:\n{}",
        server.log()
    );
    let (alpha_id, beta_id) = (in_flight(&alpha), in_flight(&beta));
    for hang in hangs {
        hang.await.unwrap();
    }
    server.kill();

    // The intents were written before the orders went out; their outcomes are not known.
    let url = server.url();
    let unresolved = |name: &str| -> Vec<String> {
        let mut store = Store::open(&url).unwrap();
        let account = store.trading_account(name).unwrap().unwrap().account;
        let mut ids = Vec::new();
        for state in [OrderState::Intent, OrderState::Unknown] {
            for o in store.orders_in_state(account, state).unwrap() {
                ids.push(o.request.client_order_id.as_str().to_string());
            }
        }
        ids
    };
    assert!(unresolved("alpha").contains(&alpha_id), "{alpha_id}");
    assert!(unresolved("beta").contains(&beta_id), "{beta_id}");

    // Restarted on the same database: each account finds its own order at its own terminal.
    alpha.fake.go_silent(false);
    beta.fake.go_silent(false);
    server.spawn();
    server
        .until("both in-flight orders reconciled", || async {
            (unresolved("alpha").is_empty() && unresolved("beta").is_empty()).then_some(())
        })
        .await;
    {
        let mut store = Store::open(&url).unwrap();
        for (name, id, t) in [("alpha", &alpha_id, &alpha), ("beta", &beta_id, &beta)] {
            let account = store.trading_account(name).unwrap().unwrap().account;
            let coid = mtq::core::ClientOrderId::new(id).unwrap();
            let o = store.order(account, &coid).unwrap().unwrap();
            assert_eq!(o.state, OrderState::Done, "{name}: {o:?}");
            let at_terminal: Vec<u64> = t
                .fake
                .open_positions()
                .iter()
                .filter(|p| &p.5 == id)
                .map(|p| p.0)
                .collect();
            assert_eq!(
                o.position.map(|p| vec![p.0]),
                Some(at_terminal),
                "{name}'s order found as the terminal's position"
            );
        }
    }
    // Trading goes on after the restart.
    for _ in 0..3 {
        alpha.step(&log).await;
        beta.step(&log).await;
    }
    // The API, the database and each terminal agree on every account's positions.
    for (name, t) in [("alpha", &alpha), ("beta", &beta)] {
        server
            .until(&format!("{name}'s positions agree"), || async {
                let want = terminal_positions(t);
                let api = api_positions(&server, name).await?;
                (api == want && db_positions(&url, name) == want).then_some(())
            })
            .await;
    }
    server
        .until("paper's positions agree", || async {
            let api = api_positions(&server, "paper").await?;
            (api == db_positions(&url, "paper")).then_some(())
        })
        .await;
    let status = server.stop();
    assert!(status.success(), "exit {status}:\n{}", server.log());

    // Nothing was sent twice, across the crash, to either terminal.
    for (t, magic, prefix) in [(&alpha, 111, "alpha"), (&beta, 222, "beta")] {
        let n = all_orders_are(t, magic, prefix);
        let ids: BTreeSet<String> = t
            .fake
            .orders_sent()
            .iter()
            .map(|o| field(o, "comment").as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), n, "{prefix}: an order was sent twice");
    }
}
