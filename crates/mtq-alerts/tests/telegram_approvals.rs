//! `trader.mode: semi` decided from Telegram, over the real Bot API protocol on loopback (a fake
//! Bot API server the bot long-polls): `/approvals` lists the waiting entries, `/approve ID` and
//! `/reject ID` ask for `/confirm` and then decide through the trader's control channel. A chat
//! that is not allowed is never answered and decides nothing; a viewer chat may list but not
//! decide. The trader is a paced paper session on the simulated broker.

mod kit;

use std::sync::Arc;
use std::time::Duration;

use kit::{FakeTelegram, TOKEN, eventually};
use mtq_alerts::{BotOptions, TelegramBot};
use mtq_core::{Approval, ApprovalState, EventKind};
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG, Secret};
use mtq_orchestrator::paper::run_paper_session_controlled;
use mtq_orchestrator::paper::{CollectEvents, PaperControl, PaperOptions};
use mtq_orchestrator::{
    Actor, ControlCommand, ControlHandle, LiveSnapshot, MemoryIntentStore, Role, control_channel,
};

const CHAT: i64 = 42;
const VIEWER: i64 = 7;
const STRANGER: i64 = 999;

fn semi_config() -> Arc<config::AppConfig> {
    let overrides = [
        ("trader.mode".to_string(), "semi".to_string()),
        // A day, the longest allowed: about two and a half minutes of the paced feed.
        (
            "trader.approval_ttl_seconds".to_string(),
            "86400".to_string(),
        ),
    ];
    // No cooldown: the paced feed runs ~600 simulated seconds a real second, so whether an
    // approved entry still meets a symbol's 900 s cooldown (counted from the strategy's last
    // signal) would depend on how fast this machine answers the chat, not on the bot.
    let text = DEFAULT_CONFIG.replace("cooldown_seconds: 900", "cooldown_seconds: 0");
    let cfg = config::load(&ConfigSource::Text(text), &overrides).unwrap();
    Arc::new(cfg)
}

fn operator() -> Actor {
    Actor {
        id: "test".into(),
        role: Role::Trader,
        via: "api".into(),
    }
}

async fn approvals(handle: &ControlHandle) -> Vec<Approval> {
    let out = handle
        .send(ControlCommand::ListApprovals, operator())
        .await
        .unwrap();
    serde_json::from_value(out.detail.expect("a listing reports its approvals")).unwrap()
}

async fn state_of(handle: &ControlHandle, id: u64) -> Approval {
    approvals(handle)
        .await
        .into_iter()
        .find(|a| a.id == id)
        .expect("the approval is listed")
}

/// The replies to `chat` after the first `from`.
fn replies(tg: &FakeTelegram, chat: i64, from: usize) -> Vec<String> {
    tg.texts_to(chat).into_iter().skip(from).collect()
}

/// Sends `text` from `chat` and waits for the bot's next reply to it.
async fn ask(tg: &FakeTelegram, chat: i64, text: &str) -> String {
    let before = tg.texts_to(chat).len();
    tg.say(chat, text);
    eventually(&format!("the answer to {text}"), || {
        tg.texts_to(chat).len() > before
    })
    .await;
    replies(tg, chat, before).remove(0)
}

/// Sends `texts` from a chat the bot must not answer, and waits until the bot has taken them.
async fn ignored(tg: &FakeTelegram, chat: i64, texts: &[&str]) {
    for t in texts {
        tg.say(chat, t);
    }
    let taken = tg.last_update();
    eventually("the bot to take the messages", || {
        *tg.offset.lock().unwrap() > taken
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_lists_approves_and_rejects_waiting_entries_and_a_stranger_decides_nothing() {
    let (tg, tg_url) = FakeTelegram::start().await;
    let client = mtq_alerts::telegram::TelegramClient::new(
        &tg_url,
        Secret::new(TOKEN),
        Duration::from_secs(5),
    )
    .unwrap();
    let (handle, port) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let events = Arc::new(CollectEvents::default());
    // An M5 bar every half second of wall time: entries come within seconds.
    let opts = PaperOptions {
        weeks: 1,
        realtime: true,
        pace: 600,
        kill_file: None,
        ..PaperOptions::default()
    };
    let session = run_paper_session_controlled(
        semi_config(),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        events.clone(),
        PaperControl::default(),
        Some(port),
    );
    let bot = TelegramBot::new(
        client,
        handle.clone(),
        BotOptions {
            chats: [(CHAT, Role::Trader), (VIEWER, Role::Viewer)].into(),
            confirm: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            history: None,
        },
    );
    let (stop_bot, bot_stopped) = tokio::sync::watch::channel(false);
    let bot_task = tokio::spawn(bot.run(bot_stopped));
    let scenario = async {
        let mut waiting = Vec::new();
        for _ in 0..600 {
            waiting = approvals(&handle)
                .await
                .into_iter()
                .filter(|a| a.state == ApprovalState::Pending)
                .collect();
            if waiting.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(waiting.len() >= 2, "two entries wait: {waiting:?}");
        let (yes, no) = (waiting[0].clone(), waiting[1].clone());

        // A stranger's chat: never answered, and its /approve and /reject decide nothing.
        ignored(
            &tg,
            STRANGER,
            &[
                "/approvals",
                &format!("/approve {}", yes.id),
                "/confirm",
                &format!("/reject {}", no.id),
                "/confirm",
            ],
        )
        .await;
        assert!(tg.texts_to(STRANGER).is_empty(), "a stranger was answered");
        assert_eq!(
            state_of(&handle, yes.id).await.state,
            ApprovalState::Pending
        );
        assert_eq!(state_of(&handle, no.id).await.state, ApprovalState::Pending);

        // A viewer may list, not decide.
        let list = ask(&tg, VIEWER, "/approvals").await;
        assert!(list.contains(&format!("#{}", yes.id)), "{list}");
        let refused = ask(&tg, VIEWER, &format!("/approve {}", yes.id)).await;
        assert!(refused.starts_with("Not allowed"), "{refused}");
        assert_eq!(ask(&tg, VIEWER, "/confirm").await, "Nothing to confirm.");
        assert_eq!(
            state_of(&handle, yes.id).await.state,
            ApprovalState::Pending
        );

        // The trader's chat: the list names both, with symbol and side.
        let list = ask(&tg, CHAT, "/approvals").await;
        assert!(list.contains("wait for approval"), "{list}");
        for a in [&yes, &no] {
            let side = if a.request.side == mtq_core::Side::Buy {
                "BUY"
            } else {
                "SELL"
            };
            let line = list
                .lines()
                .find(|l| l.starts_with(&format!("#{} ", a.id)))
                .unwrap_or_else(|| panic!("no line for {}: {list}", a.id));
            assert!(
                line.contains(side) && line.contains(a.request.symbol.as_str()),
                "{line}"
            );
        }
        assert_eq!(
            ask(&tg, CHAT, "/approve").await,
            "Usage: /approve ID (the number /approvals shows)."
        );
        let really = ask(&tg, CHAT, &format!("/approve {}", yes.id)).await;
        assert!(
            really.starts_with(&format!("Really approve entry {}", yes.id)),
            "{really}"
        );
        assert_eq!(
            state_of(&handle, yes.id).await.state,
            ApprovalState::Pending,
            "not before /confirm"
        );
        let done = ask(&tg, CHAT, "/confirm").await;
        assert!(
            done.starts_with(&format!(
                "Done: approval {} approved by telegram:{CHAT}",
                yes.id
            )),
            "{done}"
        );
        let approved = state_of(&handle, yes.id).await;
        assert_eq!(approved.state, ApprovalState::Approved);
        assert_eq!(
            approved.decided_by.as_deref(),
            Some(format!("telegram:{CHAT}").as_str())
        );
        // Approving again through Telegram sends nothing.
        ask(&tg, CHAT, &format!("/approve {}", yes.id)).await;
        let again = ask(&tg, CHAT, "/confirm").await;
        assert!(again.contains("nothing done again"), "{again}");

        let really = ask(&tg, CHAT, &format!("/reject #{}", no.id)).await;
        assert!(
            really.starts_with(&format!("Really reject entry {}", no.id)),
            "{really}"
        );
        let done = ask(&tg, CHAT, "/confirm").await;
        assert!(
            done.starts_with(&format!(
                "Done: approval {} rejected by telegram:{CHAT}",
                no.id
            )),
            "{done}"
        );
        assert_eq!(
            state_of(&handle, no.id).await.state,
            ApprovalState::Rejected
        );
        // A decided entry cannot be decided the other way.
        ask(&tg, CHAT, &format!("/approve {}", no.id)).await;
        let late = ask(&tg, CHAT, "/confirm").await;
        assert!(
            late.starts_with("Refused:") && late.contains("rejected"),
            "{late}"
        );
        // An id nobody made.
        ask(&tg, CHAT, "/reject 1").await;
        let unknown = ask(&tg, CHAT, "/confirm").await;
        assert!(unknown.starts_with("Refused:"), "{unknown}");

        handle.send(ControlCommand::Stop, operator()).await.unwrap();
        (yes, no)
    };
    let guarded = tokio::time::timeout(Duration::from_secs(300), session);
    let (summary, (yes, no)) = tokio::join!(guarded, scenario);
    summary.expect("a stop ends the session").unwrap();
    stop_bot.send(true).unwrap();
    bot_task.await.unwrap();

    // Exactly one order for the approved entry, none for the rejected one; the decisions are
    // audited with the chat as the actor.
    let events = events.events();
    let sent = |coid: &mtq_core::ClientOrderId| {
        events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::OrderIntent { request } if &request.client_order_id == coid))
            .count()
    };
    assert_eq!(sent(&yes.request.client_order_id), 1, "the approved entry");
    assert_eq!(sent(&no.request.client_order_id), 0, "the rejected entry");
    let audited: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::OperatorCommand { command, actor, .. } => {
                Some((command.clone(), actor.clone()))
            }
            _ => None,
        })
        .collect();
    let chat = format!("telegram:{CHAT}");
    assert!(
        audited.contains(&("approve".into(), chat.clone())),
        "{audited:?}"
    );
    assert!(audited.contains(&("reject".into(), chat)), "{audited:?}");
    assert!(
        !audited
            .iter()
            .any(|(_, a)| a.contains(&STRANGER.to_string())),
        "{audited:?}"
    );
}
