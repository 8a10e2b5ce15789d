//! The observers against a real Prometheus recorder: events, broker calls and cycles become
//! the series the alert rules and the dashboard read, with the values a trader expects.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::{
    AccountInfo, Bar, ClientOrderId, Deal, DealEntry, DealReason, Decimal, DomainEvent, EventKind,
    ExitReason, KillSwitchState, Magic, OrderOutcome, OrderRequest, PendingOrder, Position,
    Retcode, Side, Signal, SignalKind, SignalRefusal, Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};
use mtq_metrics::{EventMetrics, TimedBroker, money};
use rust_decimal_macros::dec;

fn t() -> DateTime<Utc> {
    "2024-03-04T10:00:00Z".parse().unwrap()
}

fn ev(kind: EventKind) -> DomainEvent {
    DomainEvent::new(t(), kind)
}

/// The sample value of one series, written exactly as the exporter renders it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `f` with a fresh recorder and returns the scrape.
fn scrape(f: impl FnOnce()) -> String {
    let recorder = mtq_metrics::build().unwrap();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        mtq_metrics::describe_all();
        f();
    });
    mtq_metrics::render(&handle)
}

fn kill(state: KillSwitchState, reason: &str) -> DomainEvent {
    ev(EventKind::KillSwitch {
        state,
        reason: reason.into(),
    })
}

#[test]
fn each_kill_switch_trip_is_counted_once_by_its_trigger_and_the_gauge_follows_the_state() {
    let text = scrape(|| {
        let mut m = EventMetrics::new("ks");
        m.observe(&kill(
            KillSwitchState::ReduceOnly,
            "daily loss limit reached: lost 600 USD today, the limit is 500 USD",
        ));
        // The same state reported again is not a new trip.
        m.observe(&kill(
            KillSwitchState::ReduceOnly,
            "daily loss limit reached: lost 610 USD today, the limit is 500 USD",
        ));
        m.observe(&kill(
            KillSwitchState::Active,
            "every kill-switch trigger has cleared",
        ));
        m.observe(&kill(
            KillSwitchState::Halted,
            "stopped by hand: operator ann",
        ));
    });
    assert_eq!(
        sample(
            &text,
            r#"mtq_kill_switch_trips_total{account="ks",reason="daily_loss"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_kill_switch_trips_total{account="ks",reason="manual"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"mtq_kill_switch_active{account="ks"}"#),
        Some(1.0)
    );
}

fn closing(
    ticket: u64,
    reason: DealReason,
    profit: Decimal,
    commission: Decimal,
    swap: Decimal,
) -> Deal {
    Deal {
        ticket: Ticket(1000 + ticket),
        order: None,
        position: Some(Ticket(ticket)),
        symbol: Some(Symbol::new("EURUSD").unwrap()),
        side: Some(Side::Sell),
        entry: DealEntry::Out,
        reason,
        volume: dec!(0.1),
        price: dec!(1.1),
        commission,
        swap,
        profit,
        time: t(),
        magic: Magic(7),
        comment: String::new(),
    }
}

#[test]
fn closed_trades_count_by_outcome_and_exit_reason_and_money_adds_up_exactly() {
    let text = scrape(|| {
        let mut m = EventMetrics::new("pnl");
        // The stop was trailed before the stop-loss deal: the exit is a trailing exit.
        m.observe(&ev(EventKind::PositionExit {
            ticket: Ticket(1),
            reason: ExitReason::Trailing,
        }));
        m.observe(&ev(EventKind::PositionClosed {
            deal: closing(
                1,
                DealReason::StopLoss,
                dec!(10.10),
                dec!(-0.35),
                dec!(-0.05),
            ),
        }));
        m.observe(&ev(EventKind::PositionClosed {
            deal: closing(2, DealReason::TakeProfit, dec!(0.20), dec!(-0.35), dec!(0)),
        }));
        m.observe(&ev(EventKind::PositionClosed {
            deal: closing(
                3,
                DealReason::StopLoss,
                dec!(-20.00),
                dec!(-0.35),
                dec!(0.30),
            ),
        }));
    });
    let series = |outcome: &str, reason: &str| {
        sample(
            &text,
            &format!(
                r#"mtq_trades_closed_total{{account="pnl",symbol="EURUSD",outcome="{outcome}",exit_reason="{reason}"}}"#
            ),
        )
    };
    assert_eq!(series("win", "trailing"), Some(1.0));
    // A take profit that does not cover the commission is a loss.
    assert_eq!(series("loss", "take_profit"), Some(1.0));
    assert_eq!(series("loss", "stop_loss"), Some(1.0));
    let eur = [("account", "pnl"), ("symbol", "EURUSD")];
    assert_eq!(
        money::value("mtq_gross_profit_total", &eur),
        Some(dec!(9.70))
    );
    assert_eq!(
        money::value("mtq_gross_loss_total", &eur),
        Some(dec!(20.20))
    );
    assert_eq!(
        money::value("mtq_commission_total", &[("account", "pnl")]),
        Some(dec!(1.05))
    );
    assert_eq!(
        money::value("mtq_swap_total", &[("account", "pnl"), ("sign", "earned")]),
        Some(dec!(0.30))
    );
    assert!(text.contains("# TYPE mtq_gross_profit_total counter"));
    assert!(text.contains(r#"mtq_commission_total{account="pnl"} 1.05"#));
}

fn signal(kind: SignalKind) -> Signal {
    Signal {
        symbol: Symbol::new("GBPUSD").unwrap(),
        timeframe: Timeframe::M5,
        time: t(),
        kind,
        entry: None,
        sl: None,
        tp: None,
        confidence: 0.5,
        strategy: "crossover".into(),
        reason: "test".into(),
        ml: None,
    }
}

#[test]
fn signals_count_by_direction_and_refusals_by_their_stable_code() {
    let text = scrape(|| {
        let mut m = EventMetrics::new("sig");
        m.observe(&ev(EventKind::SignalRecorded {
            signal: signal(SignalKind::Buy),
            refusal: None,
        }));
        m.observe(&ev(EventKind::SignalRecorded {
            signal: signal(SignalKind::Sell),
            refusal: Some(SignalRefusal::Entry(mtq_core::EntryRefusal::EntriesPaused)),
        }));
    });
    let base = r#"account="sig",symbol="GBPUSD",strategy="crossover""#;
    assert_eq!(
        sample(
            &text,
            &format!("mtq_signals_total{{{base},direction=\"buy\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("mtq_signals_total{{{base},direction=\"sell\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("mtq_signals_refused_total{{{base},reason=\"entries_paused\"}}")
        ),
        Some(1.0)
    );
}

#[test]
fn signals_a_model_read_count_by_the_model_status() {
    use mtq_core::{ModelReading, ModelStatus};
    let read = |status, probability| {
        let mut s = signal(SignalKind::Buy);
        s.ml = Some(ModelReading {
            model: "eurusd-rf@1".into(),
            probability,
            status,
        });
        ev(EventKind::SignalRecorded {
            signal: s,
            refusal: None,
        })
    };
    let text = scrape(|| {
        let mut m = EventMetrics::new("ml");
        m.observe(&read(ModelStatus::Active, Some(0.61)));
        m.observe(&read(ModelStatus::Active, Some(0.42)));
        m.observe(&read(ModelStatus::FallenBack, None));
        // A signal of a symbol without models is not counted here.
        m.observe(&ev(EventKind::SignalRecorded {
            signal: signal(SignalKind::Sell),
            refusal: None,
        }));
    });
    let series = |status: &str| {
        sample(
            &text,
            &format!(
                "mtq_ml_signals_total{{account=\"ml\",symbol=\"GBPUSD\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(series("active"), Some(2.0), "{text}");
    assert_eq!(series("fallen_back"), Some(1.0), "{text}");
    assert_eq!(series("stopped"), None, "{text}");
}

/// A broker whose `send_order` answers from a script and whose quote moves on each read.
struct Scripted {
    answers: Mutex<VecDeque<Result<OrderOutcome, BrokerError>>>,
    quote_at: Mutex<i64>,
}

fn filled(price: Decimal) -> OrderOutcome {
    OrderOutcome {
        retcode: Retcode::Done,
        deal: Some(Ticket(9)),
        order: Some(Ticket(8)),
        position: Some(Ticket(7)),
        volume: dec!(0.1),
        price,
        bid: dec!(1.08500),
        ask: dec!(1.08510),
        comment: String::new(),
        time: t(),
    }
}

fn unused<T>() -> Result<T, BrokerError> {
    Err(BrokerError::Protocol("unused in this test".into()))
}

#[async_trait]
impl Broker for Scripted {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        Err(BrokerError::Unanswered {
            request: "account".into(),
            detail: "bridge away".into(),
        })
    }
    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        SymbolSpec::builtin(symbol.as_str())
            .ok_or_else(|| BrokerError::UnknownSymbol(symbol.clone()))
    }
    async fn last_tick(&self, _: &Symbol) -> Result<Tick, BrokerError> {
        let mut at = self.quote_at.lock().unwrap();
        *at += 1;
        Ok(Tick {
            time: DateTime::<Utc>::from_timestamp((*at + 1) / 2, 0).unwrap(),
            bid: 1.08500,
            ask: 1.08512,
            last: 0.0,
            volume: 0,
        })
    }
    async fn bars(&self, _: &Symbol, _: Timeframe, _: BarRange) -> Result<Vec<Bar>, BrokerError> {
        unused()
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        unused()
    }
    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        unused()
    }
    async fn deals(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<Vec<Deal>, BrokerError> {
        unused()
    }
    async fn send_order(&self, _: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(unused)
    }
    async fn modify_position(
        &self,
        _: Ticket,
        _: Option<Decimal>,
        _: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        unused()
    }
    async fn close_position(
        &self,
        _: Ticket,
        _: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        unused()
    }
    async fn cancel_order(&self, _: Ticket) -> Result<OrderOutcome, BrokerError> {
        unused()
    }
}

#[test]
fn the_timed_broker_counts_orders_rejects_retries_slippage_and_the_market_state() {
    let eurusd = Symbol::new("EURUSD").unwrap();
    let script = Scripted {
        answers: Mutex::new(VecDeque::from([
            Err(BrokerError::rejected(
                Retcode::MarketClosed,
                "market closed",
            )),
            Ok(filled(dec!(1.08530))),
            Err(BrokerError::Timeout {
                millis: 5000,
                after_send: true,
            }),
        ])),
        quote_at: Mutex::new(0),
    };
    let id = ClientOrderId::new("mtq-1").unwrap();
    let buy = OrderRequest::market(id, eurusd.clone(), Side::Buy, dec!(0.1));
    let other = OrderRequest::market(
        ClientOrderId::new("mtq-2").unwrap(),
        eurusd.clone(),
        Side::Buy,
        dec!(0.1),
    );
    let closed_after_reject = Arc::new(Mutex::new(None));
    let seen = closed_after_reject.clone();
    let text = scrape(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let b = TimedBroker::wrap(Arc::new(script), "tb");
        rt.block_on(async {
            b.symbol_spec(&eurusd).await.unwrap();
            assert!(b.send_order(&buy).await.is_err());
            *seen.lock().unwrap() = Some(());
            // The same intent again: a retry, filled 20 points (2 pips) above the ask it was sent at.
            b.send_order(&buy).await.unwrap();
            assert!(b.send_order(&other).await.is_err());
            for _ in 0..4 {
                b.last_tick(&eurusd).await.unwrap();
            }
            assert!(b.account().await.is_err());
        });
    });
    let orders = |result: &str| {
        sample(
            &text,
            &format!(
                r#"mtq_orders_total{{account="tb",symbol="EURUSD",kind="entry",result="{result}"}}"#
            ),
        )
    };
    assert_eq!(orders("rejected"), Some(1.0));
    assert_eq!(orders("done"), Some(1.0));
    assert_eq!(orders("unknown"), Some(1.0));
    assert_eq!(
        sample(
            &text,
            r#"mtq_order_rejects_total{account="tb",retcode="10018"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_order_retries_total{account="tb",reason="rejected"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_order_slippage_points_sum{symbol="EURUSD",side="buy"}"#
        ),
        Some(20.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_order_latency_seconds_count{account="tb",kind="entry"}"#
        ),
        Some(3.0)
    );
    // Accepted again after the refusal: open.
    assert_eq!(
        sample(&text, r#"mtq_market_open{symbol="EURUSD"}"#),
        Some(1.0)
    );
    // Four reads, two distinct quotes; the spread is 12 points (EURUSD has 5 digits).
    assert_eq!(
        sample(&text, r#"mtq_ticks_total{symbol="EURUSD"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"mtq_spread_points{symbol="EURUSD"}"#),
        Some(12.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_broker_errors_total{account="tb",op="account",class="retry_later"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_broker_errors_total{account="tb",op="send_order",class="outcome_unknown"}"#
        ),
        Some(1.0)
    );
    assert!(closed_after_reject.lock().unwrap().is_some());
    assert!(text.contains("mtq_broker_request_duration_seconds_bucket{account=\"tb\",op=\"send_order\",le=\"0.00001\"}"));
}

#[test]
fn a_market_closed_refusal_marks_the_symbol_closed_until_the_broker_accepts_again() {
    let eurusd = Symbol::new("EURUSD").unwrap();
    let script = Scripted {
        answers: Mutex::new(VecDeque::from([Err(BrokerError::rejected(
            Retcode::MarketClosed,
            "market closed",
        ))])),
        quote_at: Mutex::new(0),
    };
    let buy = OrderRequest::market(
        ClientOrderId::new("mtq-9").unwrap(),
        eurusd.clone(),
        Side::Sell,
        dec!(0.1),
    );
    let text = scrape(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let b = TimedBroker::wrap(Arc::new(script), "mc");
        rt.block_on(async {
            b.last_tick(&eurusd).await.unwrap();
            assert!(b.send_order(&buy).await.is_err());
            b.last_tick(&eurusd).await.unwrap();
        });
    });
    assert_eq!(
        sample(&text, r#"mtq_market_open{symbol="EURUSD"}"#),
        Some(0.0)
    );
}

#[test]
fn a_cycle_is_timed_into_the_explicit_buckets_and_counted_by_result() {
    // Cycles are recorded only once the process has a recorder (this test then reads a local one).
    let _ = mtq_metrics::install();
    assert!(mtq_metrics::enabled());
    let text = scrape(|| {
        mtq_metrics::record_cycle("cy", std::time::Duration::from_micros(300), true);
        mtq_metrics::record_cycle("cy", std::time::Duration::from_millis(30), false);
    });
    assert_eq!(
        sample(&text, r#"mtq_cycles_total{account="cy",result="ok"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"mtq_cycles_total{account="cy",result="error"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_cycle_duration_seconds_bucket{account="cy",le="0.0005"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"mtq_cycle_duration_seconds_bucket{account="cy",le="0.05"}"#
        ),
        Some(2.0)
    );
    assert!(text.contains("# TYPE mtq_cycle_duration_seconds histogram"));
    assert!(text.contains("# HELP mtq_cycle_duration_seconds "));
}

#[test]
fn a_reconnect_is_counted_when_the_broker_answers_again_after_it_stopped() {
    let eurusd = Symbol::new("EURUSD").unwrap();
    let script = Scripted {
        answers: Mutex::new(VecDeque::new()),
        quote_at: Mutex::new(0),
    };
    let text = scrape(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let b = TimedBroker::wrap(Arc::new(script), "rc");
        rt.block_on(async {
            // Answers, then no answer twice (one outage), answers, no answer, answers.
            b.last_tick(&eurusd).await.unwrap();
            assert!(b.account().await.is_err());
            assert!(b.account().await.is_err());
            b.last_tick(&eurusd).await.unwrap();
            b.last_tick(&eurusd).await.unwrap();
            assert!(b.account().await.is_err());
            b.last_tick(&eurusd).await.unwrap();
        });
    });
    assert_eq!(
        sample(&text, r#"mtq_broker_reconnects_total{account="rc"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"mtq_broker_heartbeat_age_seconds{account="rc"}"#),
        Some(0.0)
    );
}
