//! Symbols whose market is closed: after the broker refuses a request because the market is
//! closed (10018 `TRADE_RETCODE_MARKET_CLOSED`, or 10017 trade disabled), every request for the
//! symbol (entry, close, modification, pending order) waits instead of being sent again each
//! cycle; after 10044 (close only) its entries wait. MTQ's symbol specifications carry no
//! trading sessions, so the wait is a backoff: 1 minute, doubling after each refusal up to 30
//! minutes, and over at the first request the broker accepts. The first refusal is logged
//! once, as a warning; the end of the wait as information.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Retcode, Symbol};
use tracing::{debug, info, warn};

/// The first wait after a market-closed refusal.
const FIRST_WAIT_SECS: i64 = 60;
/// The longest wait: a market that opens is tried within half an hour.
const MAX_WAIT_SECS: i64 = 30 * 60;

/// Which requests a refusal holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Market closed or trade disabled: everything.
    All,
    /// Close only (10044): new entries.
    Entries,
}

fn scope(retcode: Retcode) -> Option<Scope> {
    match retcode {
        Retcode::MarketClosed | Retcode::TradeDisabled => Some(Scope::All),
        Retcode::CloseOnly => Some(Scope::Entries),
        _ => None,
    }
}

#[derive(Clone, Debug)]
struct Wait {
    until: DateTime<Utc>,
    backoff: Duration,
    scope: Scope,
}

/// The symbols waiting for their market, with the time each may be tried again.
#[derive(Debug, Default)]
pub(crate) struct MarketWaits {
    waits: BTreeMap<Symbol, Wait>,
}

impl MarketWaits {
    /// Until when a request for `symbol` waits (an entry when `entry`), or `None` to send it.
    pub(crate) fn holds(
        &self,
        symbol: &Symbol,
        entry: bool,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let w = self.waits.get(symbol)?;
        (now < w.until && (entry || w.scope == Scope::All)).then_some(w.until)
    }

    /// The broker refused a request for `symbol` with `retcode`: true when the refusal says the
    /// market is closed, and the symbol now waits (longer after each refusal).
    pub(crate) fn refused(
        &mut self,
        symbol: &Symbol,
        retcode: Option<Retcode>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some((retcode, scope)) = retcode.and_then(|r| scope(r).map(|s| (r, s))) else {
            return false;
        };
        match self.waits.get_mut(symbol) {
            Some(w) => {
                w.backoff = (w.backoff * 2).min(Duration::seconds(MAX_WAIT_SECS));
                w.until = now + w.backoff;
                if scope == Scope::All {
                    w.scope = Scope::All;
                }
                debug!(%symbol, %retcode, until = %w.until, "market still closed; waiting longer");
            }
            None => {
                let backoff = Duration::seconds(FIRST_WAIT_SECS);
                let until = now + backoff;
                let what = match scope {
                    Scope::All => "requests",
                    Scope::Entries => "new entries",
                };
                warn!(%symbol, %retcode, %until, "market closed: {what} for {symbol} wait for it to open (tried again after 1 min, then after doubling waits up to 30 min), instead of being sent every cycle");
                self.waits.insert(
                    symbol.clone(),
                    Wait {
                        until,
                        backoff,
                        scope,
                    },
                );
            }
        }
        true
    }

    /// The broker accepted a request for `symbol`: its market is open.
    pub(crate) fn accepted(&mut self, symbol: &Symbol) {
        if self.waits.remove(symbol).is_some() {
            info!(%symbol, "market open again: requests for it are sent as usual");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_market_waits_doubling_up_to_half_an_hour_and_ends_when_accepted() {
        let eurusd = Symbol::new("EURUSD").unwrap();
        let t0: DateTime<Utc> = "2024-03-09T12:00:00Z".parse().unwrap();
        let mut w = MarketWaits::default();
        assert!(!w.refused(&eurusd, Some(Retcode::InvalidStops), t0));
        assert!(w.holds(&eurusd, true, t0).is_none());
        assert!(w.refused(&eurusd, Some(Retcode::MarketClosed), t0));
        assert_eq!(w.holds(&eurusd, false, t0), Some(t0 + Duration::minutes(1)));
        assert!(w.holds(&eurusd, false, t0 + Duration::minutes(1)).is_none());
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            now += Duration::hours(1);
            w.refused(&eurusd, Some(Retcode::MarketClosed), now);
            waits.push((w.holds(&eurusd, false, now).unwrap() - now).num_minutes());
        }
        assert_eq!(waits, [2, 4, 8, 16, 30, 30, 30, 30]);
        w.accepted(&eurusd);
        assert!(w.holds(&eurusd, true, now).is_none());
    }

    #[test]
    fn close_only_holds_entries_but_not_closes() {
        let eurusd = Symbol::new("EURUSD").unwrap();
        let t0: DateTime<Utc> = "2024-03-09T12:00:00Z".parse().unwrap();
        let mut w = MarketWaits::default();
        assert!(w.refused(&eurusd, Some(Retcode::CloseOnly), t0));
        assert!(w.holds(&eurusd, true, t0).is_some());
        assert!(w.holds(&eurusd, false, t0).is_none());
    }
}
