//! Price movement: bars and ticks move quotes; pending orders, SL and TP trigger along the bar's
//! intrabar path; swaps are charged at rollover; stop-out closes the biggest loser.
//!
//! The intrabar path has four points, all bid prices: open, the extreme nearer the open (the low
//! on a tie), the other extreme, close. The ask path is the bid path plus the bar's spread. A
//! trigger is hit at the first point of the path where its price line reaches its level: at that
//! level exactly while prices move, or at the open when the bar opened beyond it (a gap).

use chrono::{DateTime, Utc};
use mtq_core::{Bar, Decimal, OrderKind, Side, SwapMode, Tick, Ticket, decimal_to_f64};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use super::money::{self, SwapRates};
use super::trade::{Fill, FillCause};
use super::{AccountView, SimEvent, Simulator, SymbolId};
use crate::IntrabarPath;

const SECONDS_PER_DAY: i64 = 86_400;

/// The bid path through a bar: open, nearer extreme, farther extreme, close.
fn bar_path(bar: &Bar) -> [f64; 4] {
    if bar.open - bar.low <= bar.high - bar.open {
        [bar.open, bar.low, bar.high, bar.close]
    } else {
        [bar.open, bar.high, bar.low, bar.close]
    }
}

fn price_at(path: &[f64; 4], t: f64) -> f64 {
    // `t` is a path position in [0, 3]: the cast truncates, which is the floor (and saturates a
    // negative to 0); `floor` would be a library call on the baseline x86-64 target.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let k = (t as usize).min(2);
    let frac = t - k as f64;
    path[k] + (path[k + 1] - path[k]) * frac
}

/// First point at or after `t0` where the line `path + offset` reaches `level` going up
/// (`up`) or down. Returns the path position and the fill price: the level itself, or the price
/// at `t0` when the line was already beyond it (a gap, flagged `true`).
fn first_hit(
    path: &[f64; 4],
    offset: f64,
    t0: f64,
    level: f64,
    up: bool,
    eps: f64,
) -> Option<(f64, f64, bool)> {
    if level.is_nan() {
        return None;
    }
    // Prices within `eps` (half a point) of the level are the level: f64 bar prices and f64
    // images of decimal levels may differ in their last bits.
    let trigger = if up { level - eps } else { level + eps };
    let beyond = |p: f64| if up { p >= trigger } else { p <= trigger };
    let p0 = price_at(path, t0) + offset;
    if beyond(p0) {
        return Some((t0, p0, true));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let k0 = (t0 as usize).min(2);
    for k in k0..3 {
        let (a, b) = (path[k] + offset, path[k + 1] + offset);
        if beyond(b) {
            // `a` is short of the level and `b` reaches it, so `b != a`.
            let frac = ((trigger - a) / (b - a)).clamp(0.0, 1.0);
            let t = (k as f64 + frac).max(t0);
            return Some((t, level, false));
        }
    }
    None
}

impl Simulator {
    /// Processes a whole bar: [`Simulator::begin_bar`] then [`Simulator::finish_bar`].
    pub fn on_bar(&mut self, id: SymbolId, bar: &Bar) {
        self.begin_bar(id, bar);
        self.finish_bar(id);
    }

    /// Starts a bar: moves time to the bar's open (charging swaps at a rollover, expiring pending
    /// orders), sets the quote to the open and fills what the open gapped through. Orders sent now
    /// fill at the open; [`Simulator::finish_bar`] then walks the rest of the bar.
    pub fn begin_bar(&mut self, id: SymbolId, bar: &Bar) {
        self.advance_time(bar.time);
        let spread_points = self.bar_spread(bar);
        let s = &mut self.symbols[id.0];
        let spread = f64::from(spread_points) * s.point;
        s.bar = Some(*bar);
        s.bid = bar.open;
        s.ask = bar.open + spread;
        s.has_quote = true;
        let open = [bar.open; 4];
        self.walk(id.0, &open, spread);
    }

    /// Finishes the bar begun with [`Simulator::begin_bar`]: triggers along the intrabar path, then
    /// the quote moves to the close and the stop-out level is checked.
    pub fn finish_bar(&mut self, id: SymbolId) {
        let s = &self.symbols[id.0];
        let Some(bar) = s.bar else { return };
        let spread = s.ask - s.bid;
        let path = bar_path(&bar);
        self.walk(id.0, &path, spread);
        let s = &mut self.symbols[id.0];
        s.bid = bar.close;
        s.ask = bar.close + spread;
        self.check_stop_out();
    }

    /// A tick: time moves, the quote becomes the tick's, and anything it reaches triggers at the
    /// tick's price.
    pub fn on_tick(&mut self, id: SymbolId, tick: &Tick) {
        self.advance_time(tick.time);
        let s = &mut self.symbols[id.0];
        s.bar = None;
        s.bid = tick.bid;
        s.ask = tick.ask;
        s.has_quote = true;
        let path = [tick.bid; 4];
        self.walk(id.0, &path, tick.ask - tick.bid);
        self.check_stop_out();
    }

    /// Moves the clock without a price (paper trading between ticks): rollover and expirations.
    pub fn set_time(&mut self, now: DateTime<Utc>) {
        self.advance_time(now);
    }

    fn advance_time(&mut self, now: DateTime<Utc>) {
        // The clock never goes back, except to its first time, which may lie before 1970 (the
        // clock starts at the epoch): else a history from 1900 would never move it, its
        // rollovers would never come and no bar of it could be quiet.
        if now < self.now && self.server_day.is_some() {
            return;
        }
        self.now = now;
        if !self.pending.is_empty() {
            self.expire_orders();
        }
        // Most bars fall inside the current server day: one comparison, no calendar arithmetic.
        if self.next_rollover.is_some_and(|t| now < t) {
            return;
        }
        let offset = i64::from(self.cfg.server_utc_offset_secs);
        let day = (now.timestamp() + offset).div_euclid(SECONDS_PER_DAY);
        self.next_rollover = DateTime::from_timestamp((day + 1) * SECONDS_PER_DAY - offset, 0);
        match self.server_day {
            None => {
                // The first price starts the account's history: the deposit is dated then.
                self.server_day = Some(day);
                for d in self
                    .deals
                    .iter_mut()
                    .filter(|d| d.time == DateTime::UNIX_EPOCH)
                {
                    d.time = now;
                }
            }
            Some(last) if day > last => {
                self.server_day = Some(day);
                if !self.positions.is_empty() {
                    self.charge_rollovers(last, day);
                }
            }
            Some(_) => {}
        }
    }

    /// Whether a rollover would charge no open position: each is swap-free on its side (the
    /// positions [`Simulator::charge_rollovers`] skips).
    fn rollovers_free(&self) -> bool {
        self.positions.iter().all(|p| {
            let spec = &self.symbols[p.sym].spec;
            let per_night = match p.side {
                Side::Buy => spec.swap_long,
                Side::Sell => spec.swap_short,
            };
            per_night.is_zero() || spec.swap_mode == SwapMode::Disabled
        })
    }

    /// Charges swap for every rollover from the end of server day `from` up to day `to`.
    /// Saturday and Sunday rollovers are free; the spec's triple-swap day is charged three nights.
    fn charge_rollovers(&mut self, from: i64, to: i64) {
        // Days since 1970-01-01, a Thursday; weekday numbered from Sunday = 0.
        let weekday = |d: i64| (d + 4).rem_euclid(7);
        for day in from..to {
            let wd = weekday(day);
            if wd == 0 || wd == 6 {
                continue;
            }
            for i in 0..self.positions.len() {
                let (sym, side) = (self.positions[i].sym, self.positions[i].side);
                let s = &self.symbols[sym];
                let per_night = match side {
                    Side::Buy => s.spec.swap_long,
                    Side::Sell => s.spec.swap_short,
                };
                if per_night.is_zero() || s.spec.swap_mode == SwapMode::Disabled {
                    // No charge whatever the rates: they are not converted (each conversion
                    // of an `f64` rate to `Decimal` costs hundreds of instructions).
                    continue;
                }
                let triple = i64::from(s.spec.swap_rollover3days.num_days_from_sunday()) == wd;
                let rates = SwapRates {
                    profit: money::rate_dec(&self.symbols, s.profit_conv).unwrap_or(Decimal::ONE),
                    margin: money::rate_dec(&self.symbols, s.margin_conv).unwrap_or(Decimal::ONE),
                    base: money::rate_dec(&self.symbols, s.base_conv).unwrap_or(Decimal::ONE),
                };
                let current = self
                    .close_price(sym, side)
                    .unwrap_or(self.positions[i].open_price);
                let amount = money::swap(
                    &self.cfg,
                    &s.spec,
                    &self.positions[i],
                    current,
                    rates,
                    if triple { 3 } else { 1 },
                );
                if amount.is_zero() {
                    continue;
                }
                self.book_dirty = true;
                let p = &mut self.positions[i];
                p.swap += amount;
                p.swap_f = decimal_to_f64(p.swap);
                let position = Ticket(p.ticket);
                self.events.push(SimEvent::SwapCharged { position, amount });
            }
        }
    }

    fn expire_orders(&mut self) {
        let now = self.now;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].expiration.is_some_and(|e| e <= now) {
                let o = self.pending.remove(i);
                self.events.push(SimEvent::OrderExpired {
                    ticket: Ticket(o.ticket),
                });
            } else {
                i += 1;
            }
        }
    }

    /// Walks `path` (bid prices; ask = bid + `spread`) for symbol `sym`: pending orders first, then
    /// SL/TP of positions, each from the point where it came to exist.
    fn walk(&mut self, sym: usize, path: &[f64; 4], spread: f64) {
        if !self.pending.is_empty() {
            self.walk_pending(sym, path, spread);
        }
        if !self.positions.is_empty() {
            self.walk_positions(sym, path, spread);
        }
        self.path_t = 0.0;
    }

    fn walk_pending(&mut self, sym: usize, path: &[f64; 4], spread: f64) {
        let eps = self.symbols[sym].point * 0.5;
        let mut i = 0;
        while i < self.pending.len() {
            let o = &self.pending[i];
            if o.sym != sym {
                i += 1;
                continue;
            }
            // Buys trigger on the ask line, sells on the bid line.
            let offset = if o.side == Side::Buy { spread } else { 0.0 };
            let up = matches!(
                (o.kind, o.side),
                (OrderKind::Limit, Side::Sell)
                    | (OrderKind::Stop | OrderKind::StopLimit, Side::Buy)
            );
            let Some(mut hit) = first_hit(path, offset, 0.0, o.price_f, up, eps) else {
                i += 1;
                continue;
            };
            if o.kind == OrderKind::StopLimit {
                // The stop is reached: it becomes a limit order at `stop_limit`, live from here on.
                let o = &mut self.pending[i];
                let limit = o.stop_limit.unwrap_or(o.price);
                o.kind = OrderKind::Limit;
                o.price = limit;
                o.price_f = limit.to_f64().unwrap_or(f64::NAN);
                o.stop_limit = None;
                let (ticket, price_f, side) = (o.ticket, o.price_f, o.side);
                self.events.push(SimEvent::OrderActivated {
                    ticket: Ticket(ticket),
                });
                match first_hit(path, offset, hit.0, price_f, side == Side::Sell, eps) {
                    Some(h) => hit = h,
                    None => {
                        i += 1;
                        continue;
                    }
                }
            }
            let (t, price, gap) = hit;
            self.path_t = t;
            let o = self.pending.remove(i);
            let slipped =
                o.kind == OrderKind::Stop && !matches!(self.cfg.slippage, crate::Slippage::None);
            let price = if gap || slipped {
                let price = if o.kind == OrderKind::Stop {
                    self.slip(sym, o.side, price, path, offset)
                } else {
                    price
                };
                match self.symbols[sym].spec.normalize_price_f64(price) {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                o.price
            };
            let margin = match self.check_margin(sym, o.side, o.volume) {
                Ok(m) => m,
                Err(e) => {
                    let reason = e.to_string();
                    self.events.push(SimEvent::OrderRejected {
                        ticket: Ticket(o.ticket),
                        reason,
                    });
                    continue;
                }
            };
            let fill = Fill {
                sym,
                side: o.side,
                volume: o.volume,
                price,
                sl: o.sl,
                tp: o.tp,
                magic: o.magic,
                comment: &o.comment,
                order: o.ticket,
                cause: FillCause::Pending,
                margin,
            };
            if let Err(e) = self.apply_fill(&fill) {
                let reason = e.to_string();
                self.events.push(SimEvent::OrderRejected {
                    ticket: Ticket(o.ticket),
                    reason,
                });
            }
        }
        self.path_t = 0.0;
    }

    /// Slippage against the trader for stop fills, kept within the bar's traded range.
    fn slip(&mut self, sym: usize, side: Side, price: f64, path: &[f64; 4], offset: f64) -> f64 {
        if matches!(self.cfg.slippage, crate::Slippage::None) {
            return price;
        }
        let slip = f64::from(self.slip_points()) * self.symbols[sym].point;
        let lo = path.iter().copied().fold(f64::INFINITY, f64::min) + offset;
        let hi = path.iter().copied().fold(f64::NEG_INFINITY, f64::max) + offset;
        match side {
            Side::Buy => crate::engine::clamp(price + slip, lo, hi),
            Side::Sell => crate::engine::clamp(price - slip, lo, hi),
        }
    }

    fn walk_positions(&mut self, sym: usize, path: &[f64; 4], spread: f64) {
        let (lo, hi) = (
            path[1].min(path[2]).min(path[0]),
            path[1].max(path[2]).max(path[0]),
        );
        if self.book_dirty {
            self.refresh_books();
        }
        // Most bars reach no level at all: the book's envelope says so in O(1).
        let s = &self.symbols[sym];
        let eps = s.point * 0.5;
        let (lo, hi) = (lo - eps, hi + eps);
        if !s.book.reachable(lo, hi, spread) && !self.fresh_position {
            return;
        }
        self.fresh_position = false;
        let stop_first = self.cfg.intrabar == IntrabarPath::StopFirst;
        let slippage = !matches!(self.cfg.slippage, crate::Slippage::None);
        let mut i = 0;
        while i < self.positions.len() {
            let p = &self.positions[i];
            if p.sym != sym {
                i += 1;
                continue;
            }
            // Buys close on the bid line, sells on the ask line. Cheap reject first: most bars
            // reach neither level.
            let (offset, sl_up) = match p.side {
                Side::Buy => (0.0, false),
                Side::Sell => (spread, true),
            };
            let (low, high) = (lo + offset, hi + offset);
            // `lo`/`hi` already include the half-point tolerance.
            let sl_reach = if sl_up { high >= p.sl_f } else { low <= p.sl_f };
            let tp_reach = if sl_up { low <= p.tp_f } else { high >= p.tp_f };
            let t0 = p.start_t;
            let sl_hit = if sl_reach {
                first_hit(path, offset, t0, p.sl_f, sl_up, eps)
            } else {
                None
            };
            let tp_hit = if tp_reach {
                first_hit(path, offset, t0, p.tp_f, !sl_up, eps)
            } else {
                None
            };
            let (cause, (t, price, gap)) = match (sl_hit, tp_hit) {
                (Some(s), Some(tp)) => {
                    // Both inside the bar: the earlier wins, or the stop when told to assume so
                    // (unless the bar opened beyond the TP: that one is certain).
                    let tp_gapped = tp.2 && !s.2;
                    if s.0 <= tp.0 || (stop_first && !tp_gapped) {
                        (FillCause::StopLoss, s)
                    } else {
                        (FillCause::TakeProfit, tp)
                    }
                }
                (Some(s), None) => (FillCause::StopLoss, s),
                (None, Some(tp)) => (FillCause::TakeProfit, tp),
                (None, None) => {
                    self.positions[i].start_t = 0.0;
                    i += 1;
                    continue;
                }
            };
            let (side, volume, level) = (
                p.side,
                p.volume,
                if cause == FillCause::StopLoss {
                    p.sl
                } else {
                    p.tp
                },
            );
            self.path_t = t;
            let slipped = cause == FillCause::StopLoss && slippage;
            let price = match level {
                // Reached while prices moved: filled at the level itself, exactly.
                Some(level) if !gap && !slipped => Some(level),
                _ => {
                    let price = if slipped {
                        self.slip(sym, side.opposite(), price, path, offset)
                    } else {
                        price
                    };
                    self.symbols[sym].spec.normalize_price_f64(price)
                }
            };
            let closed =
                price.is_some_and(|price| self.close_volume(i, volume, price, cause, None).is_ok());
            if !closed {
                // No rate to convert the profit yet: keep the position; the next price retries.
                self.positions[i].start_t = 0.0;
                i += 1;
            }
        }
    }

    /// The margin level in percent estimated in `f64` from the per-symbol books at the current
    /// quotes (`None` without margin in use). The books must be current.
    fn margin_level_f(&self) -> Option<f64> {
        let margin = self.margin_total_f;
        if margin <= 0.0 {
            return None;
        }
        let mut equity = self.balance_f + self.swap_total_f;
        for s in &self.symbols {
            let b = &s.book;
            if b.long_units == 0.0 && b.short_units == 0.0 {
                continue;
            }
            let rate = money::rate_f64(&self.symbols, s.profit_conv).unwrap_or(0.0);
            equity += b.floating(s.bid, s.ask) * rate;
        }
        Some(equity / margin * 100.0)
    }

    /// Whether beginning and finishing `bar` ([`Simulator::begin_bar`],
    /// [`Simulator::finish_bar`]) would change nothing but the clock and the quote: no pending
    /// order, no rollover due that would charge a swap, no stop or target within reach at the open or along the bar's
    /// path, and the margin level above stop-out at the close. Conservative: `false` also when
    /// a position's profit converts at a rate this bar's quote could move. Then
    /// [`Simulator::pass_quiet_bar`] does what those two calls would, in a few stores.
    #[inline]
    pub fn bar_is_quiet(&self, id: SymbolId, bar: &Bar) -> bool {
        bar.time >= self.now
            && self
                .quiet_state(id)
                .is_some_and(|q| bar.time < q.until && q.prices_quiet(bar))
    }

    /// What decides whether bars of the symbol whose quote marks `view` are quiet
    /// ([`Simulator::bar_is_quiet`]) and the equity at their opens
    /// ([`QuietView::open_equity`]), taken once for a stretch of them: valid until the simulator
    /// next changes. `None` when no bar can be quiet now (a pending order, positions on other
    /// symbols or whose profit converts at a moving rate, no server day started yet) or `view`
    /// is not current and exact in whole units.
    #[inline]
    pub fn quiet_view(&self, view: &AccountView) -> Option<QuietView> {
        if !view.in_units() {
            return None;
        }
        self.quiet_state(view.symbol())
    }

    /// [`Simulator::quiet_view`] for symbol `id`, whatever the view.
    #[inline]
    fn quiet_state(&self, id: SymbolId) -> Option<QuietView> {
        if !self.pending.is_empty() {
            return None;
        }
        let next = self.next_rollover?;
        // A rollover that charges no position (none open, or every one swap-free on its side)
        // only moves the server day: bars past it can be quiet, and the last of them moves the
        // day ([`Simulator::pass_quiet_bar`]).
        let until = if self.rollovers_free() {
            DateTime::<Utc>::MAX_UTC
        } else {
            next
        };
        let s = &self.symbols[id.0];
        let eps = s.point * 0.5;
        let mut view = QuietView {
            until,
            flat: self.positions.is_empty(),
            book: s.book,
            eps,
            point: s.point,
            default_spread: self.cfg.default_spread_points,
            stop_out: self.stop_out_f,
            margin: self.margin_total_f,
            safe_equity: safe_equity(self.margin_total_f, self.stop_out_f),
            fixed_equity: self.balance_f + self.swap_total_f,
            rate: 1.0,
            envelope: Envelope::of(&s.book, eps),
        };
        if view.flat {
            return Some(view);
        }
        if self.book_dirty || self.fresh_position {
            return None;
        }
        // The margin level at the close as `check_stop_out` works it out: only this symbol's
        // book moves, at a rate no quote moves.
        for (i, x) in self.symbols.iter().enumerate() {
            let held = x.book.long_units != 0.0 || x.book.short_units != 0.0;
            if held && i != id.0 {
                return None;
            }
        }
        view.rate = match s.profit_conv {
            money::Conv::Identity => 1.0,
            money::Conv::Fixed(r) => r,
            _ => return None,
        };
        Some(view)
    }

    /// Begins and finishes a bar that [`Simulator::bar_is_quiet`] found quiet: the clock moves to
    /// its open and the quote to its close, as the two calls would leave them.
    #[inline]
    pub fn pass_quiet_bar(&mut self, id: SymbolId, bar: &Bar) {
        debug_assert!(self.bar_is_quiet(id, bar), "{bar:?} is not quiet");
        // The clock, and the server day when rollovers passed (they charged nothing: the quiet
        // test takes no bar past one that would).
        self.advance_time(bar.time);
        let opened = f64::from(self.bar_spread(bar)) * self.symbols[id.0].point;
        let s = &mut self.symbols[id.0];
        let spread = (bar.open + opened) - bar.open;
        s.bar = Some(*bar);
        s.bid = bar.close;
        s.ask = bar.close + spread;
        s.has_quote = true;
        self.path_t = 0.0;
    }

    /// The bar's spread in points, or the configured default when it has none.
    fn bar_spread(&self, bar: &Bar) -> u32 {
        if bar.spread > 0 {
            bar.spread
        } else {
            self.cfg.default_spread_points
        }
    }

    /// Closes the biggest loser while the margin level is at or below the stop-out level.
    /// The level is estimated in `f64` from the per-symbol books; positions are only scanned
    /// when it is breached.
    fn check_stop_out(&mut self) {
        let stop_out = self.stop_out_f;
        while !self.positions.is_empty() {
            if self.book_dirty {
                self.refresh_books();
            }
            let Some(level) = self.margin_level_f() else {
                return;
            };
            if level > stop_out {
                return;
            }
            let mut worst = (0usize, f64::INFINITY);
            for (i, p) in self.positions.iter().enumerate() {
                let s = &self.symbols[p.sym];
                let rate = money::rate_f64(&self.symbols, s.profit_conv).unwrap_or(0.0);
                let (close, sign) = if p.side == Side::Buy {
                    (s.bid, 1.0)
                } else {
                    (s.ask, -1.0)
                };
                let pl = sign * (close - p.open_f) * p.units_f * rate + p.swap_f;
                if pl < worst.1 {
                    worst = (i, pl);
                }
            }
            let (i, _) = worst;
            let p = &self.positions[i];
            let Some(price) = self.close_price(p.sym, p.side) else {
                return;
            };
            let position = Ticket(p.ticket);
            let volume = p.volume;
            if self
                .close_volume(i, volume, price, FillCause::StopOut, None)
                .is_err()
            {
                return;
            }
            let margin_level = Decimal::from_f64(level).unwrap_or_default().round_dp(2);
            self.events.push(SimEvent::StopOut {
                position,
                margin_level,
            });
        }
    }
}

/// An equity above which `equity / margin * 100.0 > stop_out` holds for certain, so that the
/// quiet test need not divide (`+inf` where no bound is taken: the division decides).
///
/// Why: the bound `T` is `stop_out * margin / 100` worked out in three `f64` operations and
/// raised by `10^-9` of itself, so it lies above the exact product by far more than the three
/// roundings (each under `2^-53` of its result, all of them normal numbers here). An equity above
/// it is above `stop_out / 100 * (1 + 10^-9)` times the margin, so its quotient by the margin,
/// rounded, and that times 100, rounded (two more relative errors under `2^-53` each, or an
/// overflow to infinity), stays above `stop_out`. The operands are kept where none of those
/// numbers is subnormal: margins and levels of at least `10^-100` and a bound of at least
/// `10^-280`. `safe_equity_decides_only_what_the_division_decides` checks it on random values.
fn safe_equity(margin: f64, stop_out: f64) -> f64 {
    let normal = |x: f64| x.is_finite() && x >= 1e-100;
    if !normal(margin) || !normal(stop_out) {
        return f64::INFINITY;
    }
    let bound = stop_out * margin / 100.0 * (1.0 + 1e-9);
    if bound.is_finite() && bound >= 1e-280 {
        bound
    } else {
        f64::INFINITY
    }
}

/// What [`Simulator::quiet_view`] took of the simulator: whether a bar is quiet is then a
/// function of the bar alone.
#[derive(Clone, Copy, Debug)]
pub struct QuietView {
    /// The next server rollover that would charge a swap: a bar opening then or later is not
    /// quiet.
    until: DateTime<Utc>,
    flat: bool,
    book: super::Book,
    eps: f64,
    point: f64,
    default_spread: u32,
    stop_out: f64,
    margin: f64,
    /// An equity above which the margin level is certainly above `stop_out` ([`safe_equity`]).
    safe_equity: f64,
    /// Balance and swaps, to which the book's floating profit adds.
    fixed_equity: f64,
    rate: f64,
    /// The book's stops and targets as bounds on a bar's low and high, padded well beyond any
    /// rounding of the exact test ([`QuietView::prices_quiet`]).
    envelope: Envelope,
}

/// The quiet test's fast half: a bar whose low and high lie strictly inside these bounds (the
/// ask-line bounds less the bar's spread) reaches no stop or target, whatever the rounding of
/// the exact test's `f64` arithmetic; any other bar takes the exact test. One seam: the exact
/// test decides every bar this one does not accept, so it changes no result, only the cost of
/// the common bar (a property test, `the_envelope_accepts_only_bars_the_exact_test_accepts`,
/// runs random books and bars, many at the bounds, through both).
///
/// Why the padding suffices: the exact test compares `low - eps` (or `open - eps`, and the
/// high's mirror), plus a spread for the ask line, against each level. Each of those `f64`
/// operations errs by at most half an ulp of its result, about `1.1e-16` of the price, and the
/// spread the path uses, `(open + opened) - open`, differs from `opened` by about as much; a
/// bound padded by `1e-9` of the level plus `1e-9` (a price within it is near the level, so of
/// its size) leaves that error far behind.
#[derive(Clone, Copy, Debug)]
struct Envelope {
    /// The bid line's low must stay above this (the highest buy stop), its high below `bid_hi`.
    bid_lo: f64,
    bid_hi: f64,
    /// The same for the ask line before the bar's spread is taken off.
    ask_lo: f64,
    ask_hi: f64,
}

impl Envelope {
    fn of(b: &super::Book, eps: f64) -> Self {
        // `-inf` and `inf` (no level) stay what they are: no bar is bounded by them.
        let pad = |level: f64| level.abs() * 1e-9 + 1e-9;
        let above = |level: f64| {
            if level.is_finite() {
                level + eps + pad(level)
            } else {
                level
            }
        };
        let below = |level: f64| {
            if level.is_finite() {
                level - eps - pad(level)
            } else {
                level
            }
        };
        Self {
            bid_lo: above(b.bid_down),
            bid_hi: below(b.bid_up),
            ask_lo: above(b.ask_down),
            ask_hi: below(b.ask_up),
        }
    }

    /// Whether `bar`, quoted with an ask `opened` above the bid, is certainly inside: its open
    /// between its low and high (so that those are its path's extremes) and those inside.
    #[inline]
    fn holds(&self, bar: &Bar, opened: f64) -> bool {
        bar.low <= bar.open
            && bar.open <= bar.high
            && bar.low > self.bid_lo
            && bar.high < self.bid_hi
            && bar.low > self.ask_lo - opened
            && bar.high < self.ask_hi - opened
    }
}

impl QuietView {
    /// The spread `begin_bar` quotes at `bar`'s open: the bar's own, or the default.
    #[inline]
    fn opening_spread(&self, bar: &Bar) -> f64 {
        let points = if bar.spread > 0 {
            bar.spread
        } else {
            self.default_spread
        };
        f64::from(points) * self.point
    }

    /// The equity in whole units at `bar`'s open, as [`Simulator::mark_view`] would mark `view`
    /// there, when the bar is quiet ([`Simulator::bar_is_quiet`]; its time is checked here too):
    /// `None` when it is not, or when the marking would not be exact in units.
    #[inline]
    pub fn open_equity(&self, bar: &Bar, view: &AccountView) -> Option<i64> {
        if bar.time >= self.until || !self.prices_quiet(bar) {
            return None;
        }
        let (bid, ask) = self.open_quote(bar);
        view.equity_at(bid, ask)
    }

    /// The bid and ask [`Simulator::begin_bar`] would quote at `bar`'s open.
    #[inline]
    fn open_quote(&self, bar: &Bar) -> (f64, f64) {
        (bar.open, bar.open + self.opening_spread(bar))
    }

    /// Whether `bar`'s prices (its open with its spread, its path, its close) reach no stop,
    /// target or stop-out, with the same arithmetic as `begin_bar` and `finish_bar`. Its time
    /// is the caller's to check against `until`.
    #[inline]
    fn prices_quiet(&self, bar: &Bar) -> bool {
        if self.flat {
            return true;
        }
        let opened = self.opening_spread(bar);
        if !self.envelope.holds(bar, opened) && !self.reaches_nothing(bar, opened) {
            return false;
        }
        if self.margin <= 0.0 {
            return true;
        }
        let spread = (bar.open + opened) - bar.open;
        let mut equity = self.fixed_equity;
        equity += self.book.floating(bar.close, bar.close + spread) * self.rate;
        // The level's division only where the bound cannot tell (it decides nothing itself).
        equity > self.safe_equity || equity / self.margin * 100.0 > self.stop_out
    }

    /// The exact stop and target test of `bar` quoted with an ask `opened` above the bid, with
    /// the arithmetic of `begin_bar` and `finish_bar`: the one that decides every bar
    /// [`Envelope::holds`] does not accept.
    #[cold]
    #[inline(never)]
    fn reaches_nothing(&self, bar: &Bar, opened: f64) -> bool {
        let (b, eps) = (&self.book, self.eps);
        // The open (`begin_bar` walks it with this spread), then the path (`finish_bar` walks
        // it with the spread as the quote holds it).
        if b.reachable(bar.open - eps, bar.open + eps, opened) {
            return false;
        }
        let spread = (bar.open + opened) - bar.open;
        let path = bar_path(bar);
        let (lo, hi) = (
            path[1].min(path[2]).min(path[0]),
            path[1].max(path[2]).max(path[0]),
        );
        !b.reachable(lo - eps, hi + eps, spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit::BarBuilder;

    /// A bar `ulps` steps of `f64` from `x` (the bounds' neighbourhood, where rounding decides).
    fn nudged(x: f64, ulps: i64) -> f64 {
        f64::from_bits(x.to_bits().wrapping_add_signed(ulps))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200_000))]
        /// An equity above [`safe_equity`] has a margin level above the stop-out level by the
        /// division itself: margins and levels of any size (down to where the bound is not
        /// taken), equities at the bound, a few `f64` steps from it, or anywhere near it.
        #[test]
        fn safe_equity_decides_only_what_the_division_decides(
            log_margin in -100.0f64..150.0,
            log_level in -100.0f64..150.0,
            mantissas in proptest::collection::vec(1.0f64..10.0, 2),
            ulps in -8i64..=8,
            spread in -1e-6f64..1e-6,
            near in proptest::bool::ANY,
        ) {
            let margin = mantissas[0] * 10f64.powf(log_margin.floor());
            let stop_out = mantissas[1] * 10f64.powf(log_level.floor());
            let bound = safe_equity(margin, stop_out);
            proptest::prop_assert!(bound.is_finite());
            let equity = if near {
                nudged(bound, ulps)
            } else {
                bound * (1.0 + spread)
            };
            if equity > bound {
                proptest::prop_assert!(
                    equity / margin * 100.0 > stop_out,
                    "equity {equity:e} margin {margin:e} stop-out {stop_out:e}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(50_000))]
        /// The envelope accepts a bar only when the exact test does: random books (levels on
        /// either line or none, prices from 0.5 to 50,000 on grids of 0 to 5 decimals) and
        /// bars whose low or high lies at a level's edge (the level, the tolerance and the
        /// spread applied), a few `f64` steps or a multiple of the envelope's padding either
        /// side, or anywhere near.
        #[test]
        fn the_envelope_accepts_only_bars_the_exact_test_accepts(
            digits in 0i32..=5,
            log_price in -0.3f64..4.7,
            offsets in proptest::collection::vec(-400i64..=400, 4),
            present in proptest::collection::vec(proptest::bool::ANY, 4),
            which in 0usize..4,
            side in 0usize..3,
            ulps in -6i64..=6,
            pads in -3.0f64..3.0,
            spread_points in 0u32..40,
            default_spread in 0u32..40,
            width in 0i64..300,
            open_at in 0.0f64..1.0,
        ) {
            let point = 10f64.powi(-digits);
            let price = 10f64.powf(log_price);
            let eps = point * 0.5;
            #[allow(clippy::cast_precision_loss)]
            let level = |k: usize, absent: f64| {
                if present[k] { price + offsets[k] as f64 * point } else { absent }
            };
            let book = super::super::Book {
                bid_down: level(0, f64::NEG_INFINITY),
                bid_up: level(1, f64::INFINITY),
                ask_down: level(2, f64::NEG_INFINITY),
                ask_up: level(3, f64::INFINITY),
                ..super::super::Book::EMPTY
            };
            let view = QuietView {
                until: DateTime::<Utc>::MAX_UTC,
                flat: false,
                book,
                eps,
                point,
                default_spread,
                stop_out: 50.0,
                margin: 0.0,
                safe_equity: f64::INFINITY,
                fixed_equity: 0.0,
                rate: 1.0,
                envelope: Envelope::of(&book, eps),
            };
            let opened = f64::from(if spread_points > 0 { spread_points } else { default_spread }) * point;
            // An edge of the chosen level: where the bar's low (levels below) or high (above)
            // begins to reach it, on the bid line or the ask line.
            let target = [book.bid_down, book.bid_up, book.ask_down, book.ask_up][which];
            let edge = match which {
                0 => target + eps,
                1 => target - eps,
                2 => target + eps - opened,
                _ => target - eps - opened,
            };
            let edge = if edge.is_finite() { edge } else { price };
            let pad = edge.abs() * 1e-9 + 1e-9;
            let at = match side {
                0 => nudged(edge, ulps),
                1 => edge + pads * pad,
                #[allow(clippy::cast_precision_loss)]
                _ => edge + (ulps as f64) * point,
            };
            #[allow(clippy::cast_precision_loss)]
            let span = width as f64 * point;
            let (low, high) = if which % 2 == 0 { (at, at + span) } else { (at - span, at) };
            let open = low + (high - low) * open_at;
            let close = high - (high - low) * open_at;
            let bar = Bar { spread: spread_points, ..BarBuilder::new().ohlc(open, high, low, close).build() };
            let opened = view.opening_spread(&bar);
            let exact = view.reaches_nothing(&bar, opened);
            if view.envelope.holds(&bar, opened) {
                proptest::prop_assert!(exact, "{bar:?} accepted by {:?} of {book:?}", view.envelope);
            }
            proptest::prop_assert_eq!(view.prices_quiet(&bar), exact);
        }
    }

    /// Bars before 1970 move the clock (it starts at the epoch) and the server day, as later
    /// ones do: the deposit is dated at the first bar and each bar's time is the clock's.
    /// Where the bound's own arithmetic could leave normal numbers, no bound is taken.
    #[test]
    fn safe_equity_takes_no_bound_outside_normal_numbers() {
        for (margin, stop_out) in [
            (0.0, 50.0),
            (-1.0, 50.0),
            (1e-101, 50.0),
            (1000.0, 0.0),
            (1000.0, 1e-101),
            (f64::NAN, 50.0),
            (1000.0, f64::INFINITY),
            (1e200, 1e200),
            (1e-95, 1e-95),
        ] {
            let bound = safe_equity(margin, stop_out);
            assert!(
                bound.is_infinite() || (1e-280..f64::MAX).contains(&bound),
                "{margin:e} {stop_out:e}: {bound:e}"
            );
        }
        assert!(safe_equity(1e200, 1e200).is_infinite());
        assert!(safe_equity(1e-101, 50.0).is_infinite());
        assert!(safe_equity(1000.0, 50.0) > 500.0);
        assert!(safe_equity(1000.0, 50.0) < 500.001);
    }

    #[test]
    fn a_history_before_1970_moves_the_clock() {
        let spec = mtq_core::testkit::eurusd();
        let symbol = spec.symbol.clone();
        let mut sim = Simulator::new(crate::SimConfig::default(), [spec]).unwrap();
        let id = sim.symbol_id(&symbol).unwrap();
        let start: DateTime<Utc> = "1900-01-01T00:00:00Z".parse().unwrap();
        for h in 0..72 {
            let time = start + chrono::Duration::hours(h);
            let bar = BarBuilder::new().ohlc(1.1, 1.1002, 1.0998, 1.1001).build();
            sim.on_bar(id, &Bar { time, ..bar });
            assert_eq!(sim.now(), time);
        }
        assert_eq!(sim.deals()[0].time, start);
        assert!(
            sim.next_rollover
                .is_some_and(|t| t > start + chrono::Duration::hours(71))
        );
    }

    /// A rollover that charges nothing (no swap on the position's side) does not end the quiet
    /// bars: a bar opening past it is quiet, and passing it leaves the simulator as beginning and
    /// finishing it would (the server day moved, nothing charged). One that charges a swap
    /// ends them.
    #[test]
    fn a_rollover_without_swaps_is_quiet() {
        use mtq_core::{ClientOrderId, OrderRequest};
        use rust_decimal_macros::dec;
        let start: DateTime<Utc> = "2024-03-05T20:00:00Z".parse().unwrap();
        let bar = |h: i64| Bar {
            time: start + chrono::Duration::hours(h),
            ..BarBuilder::new().ohlc(1.1, 1.1002, 1.0998, 1.1001).build()
        };
        for swap in [Decimal::ZERO, dec!(-5)] {
            // Two simulators with a position bought, one bar stepped after the order.
            let make = || {
                let mut spec = mtq_core::testkit::eurusd();
                spec.swap_long = swap;
                let symbol = spec.symbol.clone();
                let mut sim = Simulator::new(crate::SimConfig::default(), [spec]).unwrap();
                let id = sim.symbol_id(&symbol).unwrap();
                sim.on_bar(id, &bar(0));
                let id_ = ClientOrderId::new("t-1").unwrap();
                sim.send_order(&OrderRequest::market(id_, symbol, Side::Buy, dec!(0.1)))
                    .unwrap();
                sim.on_bar(id, &bar(1));
                sim.drain_events(&mut Vec::new());
                (sim, id)
            };
            let (mut quiet, id) = make();
            let (mut full, _) = make();
            let rollover = quiet.next_rollover.unwrap();
            let past = (2..48).map(bar).find(|b| b.time > rollover).unwrap();
            assert_eq!(quiet.bar_is_quiet(id, &past), swap.is_zero(), "swap {swap}");
            if !swap.is_zero() {
                continue;
            }
            // The bars up to and past the rollover, the quiet way (the last one passed) and in
            // full.
            let bars: Vec<Bar> = (2..48)
                .map(bar)
                .take_while(|b| b.time <= past.time)
                .collect();
            quiet.pass_quiet_bar(id, bars.last().unwrap());
            for b in &bars {
                full.on_bar(id, b);
            }
            let mut events = Vec::new();
            full.drain_events(&mut events);
            assert!(events.is_empty(), "{events:?}");
            assert_eq!(quiet.now(), full.now());
            assert_eq!(quiet.next_rollover, full.next_rollover);
            assert_eq!(quiet.server_day, full.server_day);
            assert_eq!(quiet.account(), full.account());
            assert_eq!(quiet.positions(), full.positions());
            assert_eq!(quiet.tick(id), full.tick(id));
        }
    }

    #[test]
    #[allow(clippy::float_cmp)] // the path copies bar prices: exact equality is the point
    fn the_path_visits_the_nearer_extreme_first() {
        let bar = |o, h, l, c| BarBuilder::new().ohlc(o, h, l, c).build();
        assert_eq!(
            bar_path(&bar(1.10, 1.20, 1.05, 1.15)),
            [1.10, 1.05, 1.20, 1.15]
        );
        assert_eq!(
            bar_path(&bar(1.18, 1.20, 1.05, 1.15)),
            [1.18, 1.20, 1.05, 1.15]
        );
    }

    #[test]
    fn a_level_inside_a_segment_is_hit_at_the_level_and_a_gap_at_the_open() {
        let path = [1.10, 1.05, 1.20, 1.15];
        let (t, p, gap) = first_hit(&path, 0.0, 0.0, 1.08, false, 0.0).unwrap();
        assert!(t > 0.0 && t < 1.0 && (p - 1.08).abs() < 1e-12 && !gap);
        let (t, p, gap) = first_hit(&path, 0.0, 0.0, 1.12, false, 0.0).unwrap();
        assert!(
            t.abs() < 1e-12 && (p - 1.10).abs() < 1e-12 && gap,
            "open already below 1.12: gap fill at the open"
        );
        let (t, _, _) = first_hit(&path, 0.0, 0.0, 1.19, true, 0.0).unwrap();
        assert!(t > 1.0 && t < 2.0);
        assert!(first_hit(&path, 0.0, 0.0, 1.21, true, 0.0).is_none());
        assert!(
            first_hit(&path, 0.0, 1.5, 1.06, false, 0.0).is_none(),
            "the low was before t0"
        );
    }
}
