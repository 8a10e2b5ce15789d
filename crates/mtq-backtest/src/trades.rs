//! Round trips from the simulator's deals: each closing deal (or part close) becomes one trade
//! with its entry, exit, costs and profit.

use chrono::{DateTime, Utc};
use mtq_core::{Deal, DealEntry, DealReason, Decimal, Side, Symbol};
use serde::Serialize;

/// One closed trade (a position closed in full, or the closed part of one).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TradeRecord {
    pub symbol: Symbol,
    /// The position's side: `buy` or `sell`.
    pub side: Side,
    /// Lots closed.
    pub volume: Decimal,
    #[serde(serialize_with = "rfc3339")]
    pub entry_time: DateTime<Utc>,
    pub entry_price: Decimal,
    #[serde(serialize_with = "rfc3339")]
    pub exit_time: DateTime<Utc>,
    pub exit_price: Decimal,
    /// Entry commission (pro rata for a part close) plus exit commission; negative is a charge.
    pub commission: Decimal,
    /// Swap accrued on the closed volume; negative is a charge.
    pub swap: Decimal,
    /// Price profit in the account currency, before commission and swap (MT5's deal profit).
    pub profit: Decimal,
    /// `profit + commission + swap`: what the trade added to the balance.
    pub net_profit: Decimal,
    /// `signal`, `stop_loss`, `take_profit`, `stop_out` or `end_of_data`.
    pub exit_reason: &'static str,
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[derive(Clone, Debug)]
struct Open {
    symbol: Symbol,
    side: Side,
    volume: Decimal,
    time: DateTime<Utc>,
    price: Decimal,
    /// Entry commission not yet attributed to a closed part.
    commission: Decimal,
}

/// Builds trades as deals arrive.
/// Positions by ticket, in a vector.
#[derive(Debug, Default)]
struct OpenBook(Vec<(u64, Open)>);

impl OpenBook {
    fn get(&self, pos: u64) -> Option<&Open> {
        self.0.iter().find(|(p, _)| *p == pos).map(|(_, o)| o)
    }

    fn get_mut(&mut self, pos: u64) -> Option<&mut Open> {
        self.0.iter_mut().find(|(p, _)| *p == pos).map(|(_, o)| o)
    }

    fn insert(&mut self, pos: u64, open: Open) {
        match self.get_mut(pos) {
            Some(o) => *o = open,
            None => self.0.push((pos, open)),
        }
    }

    fn remove(&mut self, pos: u64) {
        if let Some(i) = self.0.iter().position(|(p, _)| *p == pos) {
            self.0.swap_remove(i);
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct TradeBook {
    /// Open positions by ticket: a few at most, so a vector searched in order (no tree node
    /// allocated per trade).
    open: OpenBook,
    pub(crate) trades: Vec<TradeRecord>,
    /// Set while the driver closes what is left at the end of the data.
    pub(crate) closing_at_end: bool,
}

impl TradeBook {
    pub(crate) fn on_deal(&mut self, d: &Deal) {
        let (Some(symbol), Some(side), Some(pos)) = (&d.symbol, d.side, d.position) else {
            return;
        };
        match d.entry {
            DealEntry::In => self.add(pos.0, symbol, side, d),
            DealEntry::Out => self.close(pos.0, d, d.volume),
            DealEntry::InOut => {
                // Netting reversal: close all that was open, open the rest the other way.
                let was = self.open.get(pos.0).map_or(Decimal::ZERO, |o| o.volume);
                self.close(pos.0, d, was);
                let rest = d.volume - was;
                if rest > Decimal::ZERO {
                    let open = Deal {
                        volume: rest,
                        commission: Decimal::ZERO,
                        ..d.clone()
                    };
                    self.add(pos.0, symbol, side, &open);
                }
            }
            DealEntry::Balance => {}
        }
    }

    fn add(&mut self, pos: u64, symbol: &Symbol, side: Side, d: &Deal) {
        match self.open.get_mut(pos) {
            // Netting: more volume on the same position at a volume-weighted price.
            Some(o) if o.side == side => {
                let total = o.volume + d.volume;
                if !total.is_zero() {
                    o.price = (o.price * o.volume + d.price * d.volume) / total;
                }
                o.volume = total;
                o.commission += d.commission;
            }
            _ => {
                self.open.insert(
                    pos,
                    Open {
                        symbol: symbol.clone(),
                        side,
                        volume: d.volume,
                        time: d.time,
                        price: d.price,
                        commission: d.commission,
                    },
                );
            }
        }
    }

    fn close(&mut self, pos: u64, d: &Deal, volume: Decimal) {
        let Some(o) = self.open.get_mut(pos) else {
            return;
        };
        if volume <= Decimal::ZERO {
            return;
        }
        let full = o.volume.is_zero() || volume >= o.volume;
        // A zero charge is written as -0 by `-x.round_dp(..)`; keep reports free of it.
        let plain = |d: Decimal| if d.is_zero() { Decimal::ZERO } else { d };
        let commission = if full && o.commission.is_zero() && d.commission.is_zero() {
            // What the arithmetic below gives for a whole close without commissions (both
            // parts are zero, whatever their scale, and the open entry goes): the trade-heavy
            // case, which skips a product, two roundings and three sums.
            Decimal::ZERO
        } else {
            let share = if full {
                Decimal::ONE
            } else {
                volume / o.volume
            };
            let entry_commission = (o.commission * share).round_dp(2);
            o.commission -= entry_commission;
            let exit_commission = if volume == d.volume {
                d.commission
            } else {
                (d.commission * volume / d.volume).round_dp(2)
            };
            plain(entry_commission + exit_commission)
        };
        let swap = plain(d.swap);
        let exit_reason = match d.reason {
            _ if self.closing_at_end => "end_of_data",
            DealReason::StopLoss => "stop_loss",
            DealReason::TakeProfit => "take_profit",
            DealReason::StopOut => "stop_out",
            _ => "signal",
        };
        self.trades.push(TradeRecord {
            symbol: o.symbol.clone(),
            side: o.side,
            volume,
            entry_time: o.time,
            entry_price: o.price,
            exit_time: d.time,
            exit_price: d.price,
            commission,
            swap,
            profit: d.profit,
            net_profit: d.profit + commission + swap,
            exit_reason,
        });
        o.volume -= volume;
        if o.volume <= Decimal::ZERO {
            self.open.remove(pos);
        }
    }
}
