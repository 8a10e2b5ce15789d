//! The loop: cycles on a timer until shutdown.

use mtq_core::{DomainEvent, EventKind};
use tokio::sync::watch;
use tracing::{info, warn};

use super::{LiveError, LiveTrader, SessionSummary};
use crate::config::ConfigWatcher;
use crate::control::ControlRequest;
use crate::is_transient;

/// Runs cycles every `interval` until `shutdown` turns `true`, applying configuration changes
/// between cycles, then finishes the session. A cycle is never cut short: the shutdown request
/// is seen between cycles, so no order is left half-sent. A failed cycle (the broker away, a
/// read timing out) is logged with the count of failed cycles in a row and recorded, and a later
/// cycle tries again, after a pause that doubles with each failure in a row (see
/// [`TransientRetry`](crate::TransientRetry)).
///
/// With a control channel attached ([`LiveTrader::control`]), commands are taken between
/// cycles as they arrive, so one is answered within a cycle interval; a command that arrives
/// during a cycle waits for it to end. A `stop` command ends the loop as `shutdown` does.
/// Commands still queued when the loop ends are answered `stopping`.
pub async fn run_live(
    mut trader: LiveTrader,
    interval: std::time::Duration,
    mut watcher: Option<ConfigWatcher>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SessionSummary, LiveError> {
    let mut ticker = tokio::time::interval(interval.max(std::time::Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures: u32 = 0;
    let mut commands = trader.operator.commands.take();
    loop {
        if *shutdown.borrow() || trader.stop_requested() {
            break;
        }
        let wake = tokio::select! {
            _ = ticker.tick() => Wake::Cycle,
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
            req = next_command(&mut commands) => Wake::Command(req),
        };
        if let Wake::Command(req) = wake {
            match req {
                Some(req) => trader.handle_command(req, watcher.as_mut()).await,
                // Every handle is gone: no more commands can come.
                None => commands = None,
            }
            continue;
        }
        if let Some(w) = watcher.as_mut() {
            trader.poll_config(w).await;
        }
        match trader.cycle().await {
            Ok(_) => {
                if failures > 0 {
                    info!(failures, "a cycle ran through again after failed ones");
                }
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                let transient = matches!(&e, LiveError::Broker(b) if is_transient(b));
                warn!(error = %e, attempt = failures, transient, "cycle failed; the next cycle tries again");
                let kind = EventKind::Error {
                    source: "cycle".into(),
                    message: format!("{e} (failed cycles in a row: {failures})"),
                };
                let now = trader.clock.now();
                trader.publish(DomainEvent::new(now, kind)).await;
                // A broker in trouble is not asked every interval: the pause doubles with each
                // failed cycle in a row, up to the transient-retry cap.
                if failures > 1 {
                    let pause = trader.opts.transient.delay(failures - 1);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
    }
    // Queued commands are answered `stopping` when their replies drop with the queue.
    drop(commands);
    info!("shutting down: reconciling and writing the session summary");
    trader.finish().await
}

enum Wake {
    Cycle,
    Command(Option<ControlRequest>),
}

/// The next command, or never when no channel is attached.
async fn next_command(
    commands: &mut Option<tokio::sync::mpsc::Receiver<ControlRequest>>,
) -> Option<ControlRequest> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
