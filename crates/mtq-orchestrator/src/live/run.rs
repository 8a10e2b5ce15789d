//! The loop: cycles on a timer until shutdown.

use mtq_core::{DomainEvent, EventKind};
use tokio::sync::watch;
use tracing::{info, warn};

use super::{LiveError, LiveTrader, SessionSummary};
use crate::config::ConfigWatcher;
use crate::is_transient;

/// Runs cycles every `interval` until `shutdown` turns `true`, applying configuration changes
/// between cycles, then finishes the session. A cycle is never cut short: the shutdown request
/// is seen between cycles, so no order is left half-sent. A failed cycle (the broker away, a
/// read timing out) is logged with the count of failed cycles in a row and recorded, and a later
/// cycle tries again, after a pause that doubles with each failure in a row (see
/// [`TransientRetry`]).
pub async fn run_live(
    mut trader: LiveTrader,
    interval: std::time::Duration,
    mut watcher: Option<ConfigWatcher>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SessionSummary, LiveError> {
    let mut ticker = tokio::time::interval(interval.max(std::time::Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = ticker.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
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
    info!("shutting down: reconciling and writing the session summary");
    trader.finish().await
}
