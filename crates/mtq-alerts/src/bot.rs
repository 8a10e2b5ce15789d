//! Telegram commands by long polling (`getUpdates`).
//!
//! Only chats in `alerts.telegram.command_chats` are answered, each with a role (the API's
//! viewer / trader / admin); any other chat is ignored (logged, never answered, so a stranger
//! learns nothing). Reads come from the trader's published snapshot and the database; a command
//! that changes state (`/pause /resume /stop /kill`) asks for `/confirm` first and then goes
//! through the trader's control channel as an [`Actor`] `telegram:<chat id>`, recorded in the
//! audit trail like any API command.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mtq_core::Decimal;
use mtq_orchestrator::config::TelegramSection;
use mtq_orchestrator::{Actor, ControlCommand, ControlHandle, Role, TradingState};
use mtq_persistence::{TradeRecord, TradeRepo};
use tokio::sync::watch;

use crate::dispatch::History;
use crate::telegram::{TelegramClient, TelegramError};
use crate::{SetupError, bad};

/// How the bot runs.
#[derive(Clone, Debug)]
pub struct BotOptions {
    /// Allowed chats and their roles.
    pub chats: BTreeMap<i64, Role>,
    /// How long a state-changing command waits for `/confirm`.
    pub confirm: Duration,
    /// The long poll's hold time.
    pub poll: Duration,
    /// The database the history commands read (`None`: they say it is unavailable).
    pub history: Option<History>,
}

struct Pending {
    command: ControlCommand,
    what: String,
    until: Instant,
}

/// The command bot.
pub struct TelegramBot {
    client: TelegramClient,
    control: ControlHandle,
    opts: BotOptions,
    pending: HashMap<i64, Pending>,
    offset: i64,
}

impl std::fmt::Debug for TelegramBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramBot")
            .field("chats", &self.opts.chats)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

const HELP: &str = "MTQ commands:\n\
/status - trading state, kill switch, broker, last cycle\n\
/positions - open positions\n\
/balance - balance, equity, margin\n\
/profit - closed trades, win rate, net P&L\n\
/daily [days] - net P&L per day (7 by default)\n\
/performance - net P&L by symbol\n\
/pause - pause new entries (trader)\n\
/resume - resume entries (trader)\n\
/stop - stop the trader (trader)\n\
/kill - trip the kill switch (trader)\n\
/approvals - entries waiting for approval (semi mode)\n\
/approve ID, /reject ID - decide a waiting entry (trader)\n\
/confirm, /cancel - answer a pending command\n\
/help - this list";

impl TelegramBot {
    pub fn new(client: TelegramClient, control: ControlHandle, opts: BotOptions) -> Self {
        Self {
            client,
            control,
            opts,
            pending: HashMap::new(),
            offset: 0,
        }
    }

    /// The bot `alerts.telegram` describes; an error names the key to fix.
    pub fn from_config(
        cfg: &TelegramSection,
        control: ControlHandle,
        history: Option<History>,
    ) -> Result<Self, SetupError> {
        if cfg.bot_token.is_empty() {
            return Err(bad(
                "alerts.telegram.bot_token",
                "commands need the bot's token (MTQ__ALERTS__TELEGRAM__BOT_TOKEN)",
            ));
        }
        crate::check_url("alerts.telegram.api_url", &cfg.api_url)?;
        let mut chats = BTreeMap::new();
        for (id, role) in &cfg.command_chats {
            let n: i64 = id.trim().parse().map_err(|_| {
                bad(
                    &format!("alerts.telegram.command_chats.{id}"),
                    "a chat id is a whole number (negative for groups)",
                )
            })?;
            chats.insert(n, *role);
        }
        if chats.is_empty() {
            return Err(bad(
                "alerts.telegram.command_chats",
                "commands are on but no chat may send them: add `\"<chat id>\": trader`",
            ));
        }
        let client = TelegramClient::new(
            &cfg.api_url,
            cfg.bot_token.clone(),
            Duration::from_secs(cfg.timeout_seconds),
        )?;
        Ok(Self::new(
            client,
            control,
            BotOptions {
                chats,
                confirm: Duration::from_secs(cfg.confirm_seconds.max(1)),
                poll: Duration::from_secs(cfg.poll_seconds),
                history,
            },
        ))
    }

    /// Polls until `shutdown` turns `true`, answering each message.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut pause = Duration::from_secs(1);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let updates = tokio::select! {
                u = self.client.get_updates(self.offset, self.opts.poll) => u,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let updates = match updates {
                Ok(u) => {
                    pause = Duration::from_secs(1);
                    u
                }
                Err(e) => {
                    let wait = match e {
                        TelegramError::RetryAfter(d) => d,
                        _ => {
                            let p = pause;
                            pause = (pause * 2).min(Duration::from_secs(60));
                            p
                        }
                    };
                    tracing::warn!(error = %e, "telegram commands: getUpdates failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => continue,
                        _ = shutdown.wait_for(|s| *s) => return,
                    }
                }
            };
            for u in updates {
                self.offset = self.offset.max(u.update_id + 1);
                let Some(msg) = u.message else { continue };
                let Some(text) = msg.text else { continue };
                if let Some(reply) = self.handle(msg.chat.id, &text).await
                    && let Err(e) = self.client.send_message(msg.chat.id, &reply, false).await
                {
                    tracing::warn!(chat = msg.chat.id, error = %e, "telegram commands: reply failed");
                }
            }
        }
    }

    /// The answer to `text` from `chat`; `None` for a chat that is not allowed (or a message
    /// that is no command).
    pub async fn handle(&mut self, chat: i64, text: &str) -> Option<String> {
        let Some(role) = self.opts.chats.get(&chat).copied() else {
            tracing::warn!(
                chat,
                "telegram commands: a message from a chat that is not allowed; ignored"
            );
            return None;
        };
        let mut words = text.split_whitespace();
        let first = words.next()?;
        let command = first.strip_prefix('/')?;
        // In groups commands come as `/status@MyBot`.
        let command = command.split('@').next().unwrap_or(command).to_lowercase();
        let arg = words.next();
        let now = Instant::now();
        Some(match command.as_str() {
            "help" | "start" => HELP.to_string(),
            "status" => self.status(),
            "positions" => self.positions(),
            "balance" => self.balance(),
            "profit" => self.profit().await,
            "daily" => self.daily(arg).await,
            "performance" => self.performance().await,
            "pause" => self.ask(
                chat,
                role,
                ControlCommand::PauseEntries,
                "pause new entries",
                now,
            ),
            "resume" => self.ask(
                chat,
                role,
                ControlCommand::ResumeEntries,
                "resume entries",
                now,
            ),
            "stop" => self.ask(chat, role, ControlCommand::Stop, "stop the trader", now),
            "kill" => self.ask(
                chat,
                role,
                ControlCommand::TripKillSwitch {
                    reason: format!("Telegram /kill from chat {chat}"),
                },
                "trip the kill switch (trading halts until an admin resets it)",
                now,
            ),
            "approvals" => self.approvals(chat, role).await,
            "approve" | "reject" => {
                let Some(id) = arg.and_then(|a| a.trim_start_matches('#').parse::<u64>().ok())
                else {
                    return Some(format!(
                        "Usage: /{command} ID (the number /approvals shows)."
                    ));
                };
                if command == "approve" {
                    self.ask(
                        chat,
                        role,
                        ControlCommand::Approve { id },
                        &format!("approve entry {id} (its risk checks run again, then it is sent)"),
                        now,
                    )
                } else {
                    self.ask(
                        chat,
                        role,
                        ControlCommand::Reject { id },
                        &format!("reject entry {id} (it is never sent)"),
                        now,
                    )
                }
            }
            "confirm" => self.confirm(chat, role, now).await,
            "cancel" => match self.pending.remove(&chat) {
                Some(p) => format!("Cancelled: {}.", p.what),
                None => "Nothing to cancel.".into(),
            },
            other => format!("Unknown command /{other}. /help lists them."),
        })
    }

    fn ask(
        &mut self,
        chat: i64,
        role: Role,
        command: ControlCommand,
        what: &str,
        now: Instant,
    ) -> String {
        let need = command.required_role();
        if role < need {
            return format!("Not allowed: this chat has the {role} role; {what} needs {need}.");
        }
        self.pending.insert(
            chat,
            Pending {
                command,
                what: what.to_string(),
                until: now + self.opts.confirm,
            },
        );
        format!(
            "Really {what}? Send /confirm within {} s, or /cancel.",
            self.opts.confirm.as_secs()
        )
    }

    async fn confirm(&mut self, chat: i64, role: Role, now: Instant) -> String {
        let Some(p) = self.pending.remove(&chat) else {
            return "Nothing to confirm.".into();
        };
        if now > p.until {
            return format!(
                "Too late: the request to {} expired. Send it again.",
                p.what
            );
        }
        let actor = Actor {
            id: format!("telegram:{chat}"),
            role,
            via: "telegram".into(),
        };
        match self.control.send(p.command, actor).await {
            Ok(outcome) => format!("Done: {}", outcome.message),
            Err(refusal) => format!("Refused: {refusal}"),
        }
    }

    /// The pending approvals of `semi` mode, one line each.
    async fn approvals(&self, chat: i64, role: Role) -> String {
        let actor = Actor {
            id: format!("telegram:{chat}"),
            role,
            via: "telegram".into(),
        };
        let out = match self
            .control
            .send(ControlCommand::ListApprovals, actor)
            .await
        {
            Ok(out) => out,
            Err(refusal) => return format!("Refused: {refusal}"),
        };
        let list: Vec<mtq_core::Approval> = out
            .detail
            .and_then(|d| serde_json::from_value(d).ok())
            .unwrap_or_default();
        let pending: Vec<_> = list
            .iter()
            .filter(|a| a.state == mtq_core::ApprovalState::Pending)
            .collect();
        if pending.is_empty() {
            return "No entries wait for approval.".into();
        }
        let mut text = format!("{} entr(ies) wait for approval:", pending.len());
        for a in pending {
            let side = match a.request.side {
                mtq_core::Side::Buy => "BUY",
                mtq_core::Side::Sell => "SELL",
            };
            text.push_str(&format!(
                "\n#{} {side} {} {} SL {} TP {} ({}) until {}",
                a.id,
                a.request.volume,
                a.request.symbol,
                a.request.sl.map_or_else(|| "-".into(), |x| x.to_string()),
                a.request.tp.map_or_else(|| "-".into(), |x| x.to_string()),
                a.signal.strategy,
                stamp(a.expires)
            ));
        }
        text.push_str("\n/approve ID or /reject ID");
        text
    }

    fn status(&self) -> String {
        let s = self.control.snapshot();
        let trading = match s.trading {
            TradingState::Running => "running",
            TradingState::EntriesPaused => "entries paused",
            TradingState::Stopped => "stopped",
        };
        let kill = if s.kill_switch_reason.is_empty() {
            s.kill_switch.clone()
        } else {
            format!("{} ({})", s.kill_switch, s.kill_switch_reason)
        };
        let last = s
            .health
            .last_cycle
            .map_or_else(|| "none yet".to_string(), stamp);
        format!(
            "Account {}: {trading}\nKill switch: {kill}\nBroker: {}\nLast cycle: {last} (#{})\nOpen positions: {}\nToday's P&L: {}",
            s.account_name,
            if s.health.broker_connected {
                "connected"
            } else {
                "disconnected"
            },
            s.cycle,
            s.positions.len(),
            s.daily_pnl.round_dp(2)
        )
    }

    fn positions(&self) -> String {
        let s = self.control.snapshot();
        if s.positions.is_empty() {
            return "No open positions.".into();
        }
        let mut out = format!("{} open position(s):", s.positions.len());
        for p in &s.positions {
            let side = match p.side {
                mtq_core::Side::Buy => "BUY",
                mtq_core::Side::Sell => "SELL",
            };
            out.push_str(&format!(
                "\n#{} {side} {} {} @ {} now {} P&L {}",
                p.ticket,
                p.volume,
                p.symbol,
                p.open_price,
                p.current_price,
                (p.profit + p.swap).round_dp(2)
            ));
        }
        out
    }

    fn balance(&self) -> String {
        let s = self.control.snapshot();
        let Some(a) = &s.account else {
            return "The account has not been read yet.".into();
        };
        let level = a
            .margin_level
            .map_or_else(|| "-".to_string(), |l| format!("{}%", l.round_dp(1)));
        format!(
            "Balance {} {c}\nEquity {} {c}\nMargin {} {c}, free {} {c}, level {level}",
            a.balance.round_dp(2),
            a.equity.round_dp(2),
            a.margin.round_dp(2),
            a.free_margin.round_dp(2),
            c = a.currency
        )
    }

    /// Closed trades with exit time from `from` to the trader's now.
    async fn closed(&self, from: DateTime<Utc>) -> Result<Vec<TradeRecord>, String> {
        let Some(h) = self.opts.history.clone() else {
            return Err("the trade history is not available to the bot".into());
        };
        let to = self.control.snapshot().at.max(Utc::now()) + chrono::Duration::days(1);
        tokio::task::spawn_blocking(move || {
            let mut s = h
                .store
                .lock()
                .map_err(|_| "database handle poisoned".to_string())?;
            s.reconnecting(|s| s.closed_trades(h.account(), from, to))
                .map_err(|e| format!("the database could not be read: {e}"))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn profit(&self) -> String {
        let trades = match self.closed(DateTime::<Utc>::UNIX_EPOCH).await {
            Ok(t) => t,
            Err(e) => return e,
        };
        if trades.is_empty() {
            return "No closed trades yet.".into();
        }
        let n = trades.len();
        let wins = trades
            .iter()
            .filter(|t| t.net_profit() > Decimal::ZERO)
            .count();
        let gross_win: Decimal = trades
            .iter()
            .map(TradeRecord::net_profit)
            .filter(|p| *p > Decimal::ZERO)
            .sum();
        let gross_loss: Decimal = trades
            .iter()
            .map(TradeRecord::net_profit)
            .filter(|p| *p < Decimal::ZERO)
            .sum();
        let net = gross_win + gross_loss;
        let pf = if gross_loss.is_zero() {
            "-".to_string()
        } else {
            (gross_win / -gross_loss).round_dp(2).to_string()
        };
        format!(
            "{n} closed trades, {wins} winners ({}%)\nNet P&L {}\nProfit factor {pf}",
            wins * 100 / n,
            net.round_dp(2)
        )
    }

    async fn daily(&self, arg: Option<&str>) -> String {
        let days: i64 = match arg.map(str::parse::<i64>) {
            None => 7,
            Some(Ok(d)) if (1..=90).contains(&d) => d,
            Some(_) => return "Usage: /daily [days], days from 1 to 90.".into(),
        };
        let today = self.control.snapshot().at.date_naive();
        let first = today - chrono::Duration::days(days - 1);
        let from = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let trades = match self.closed(from).await {
            Ok(t) => t,
            Err(e) => return e,
        };
        let mut by_day: BTreeMap<chrono::NaiveDate, (usize, Decimal)> = BTreeMap::new();
        for d in 0..days {
            by_day.insert(first + chrono::Duration::days(d), (0, Decimal::ZERO));
        }
        for t in &trades {
            if let Some(x) = t.exit_time
                && let Some(e) = by_day.get_mut(&x.date_naive())
            {
                e.0 += 1;
                e.1 += t.net_profit();
            }
        }
        let mut out = format!("Net P&L, last {days} day(s):");
        for (day, (n, net)) in by_day.iter().rev() {
            out.push_str(&format!("\n{day}: {} ({n} trades)", net.round_dp(2)));
        }
        out
    }

    async fn performance(&self) -> String {
        let trades = match self.closed(DateTime::<Utc>::UNIX_EPOCH).await {
            Ok(t) => t,
            Err(e) => return e,
        };
        if trades.is_empty() {
            return "No closed trades yet.".into();
        }
        let mut by: BTreeMap<String, (usize, usize, Decimal)> = BTreeMap::new();
        for t in &trades {
            let e = by.entry(t.symbol.to_string()).or_default();
            e.0 += 1;
            if t.net_profit() > Decimal::ZERO {
                e.1 += 1;
            }
            e.2 += t.net_profit();
        }
        let mut rows: Vec<_> = by.into_iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.2));
        let mut out = "Net P&L by symbol:".to_string();
        for (sym, (n, w, net)) in rows {
            out.push_str(&format!(
                "\n{sym}: {} ({n} trades, {}% won)",
                net.round_dp(2),
                w * 100 / n
            ));
        }
        out
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
