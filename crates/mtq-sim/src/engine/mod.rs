//! The synchronous simulator: state, set-up and queries. Trading is in `trade`, price movement
//! (bars, ticks, SL/TP, pending orders, swaps, stop-out) in `market`.

mod exact;
mod market;
pub use market::QuietView;
pub(crate) mod money;
mod trade;
mod view;
pub use view::AccountView;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Bar, Deal, DealEntry, DealReason, Decimal, Magic, OrderKind, PendingOrder,
    Position, Side, Symbol, SymbolSpec, Tick, Ticket,
};
use rust_decimal::prelude::ToPrimitive;

use crate::{SimConfig, SimError, SimSymbol, Slippage};
use money::Conv;
use mtq_core::{SplitMix64, decimal_to_f64};

/// Index of a symbol inside one [`Simulator`]; resolve it once with [`Simulator::symbol_id`] and
/// use it on the hot path instead of the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymbolId(pub(crate) usize);

/// Something the simulator did on its own or in answer to a request, for the backtester and
/// the event bus. Read them with [`Simulator::drain_events`].
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// A deal: a position opened, added to, reduced, closed or reversed (by request, SL, TP,
    /// a triggered pending order or a stop-out).
    Deal(Deal),
    /// A stop-limit order reached its trigger and became a limit order.
    OrderActivated { ticket: Ticket },
    /// A pending order reached its expiration and was removed.
    OrderExpired { ticket: Ticket },
    /// A triggered pending order could not be filled (e.g. not enough margin) and was cancelled.
    OrderRejected { ticket: Ticket, reason: String },
    /// Swap was charged at a rollover.
    SwapCharged { position: Ticket, amount: Decimal },
    /// Margin level fell to the stop-out level; the named position was closed.
    StopOut {
        position: Ticket,
        margin_level: Decimal,
    },
}

pub(crate) struct SymState {
    /// Shared with the orders that read it while the simulator changes (a clone is a count).
    pub(crate) spec: std::sync::Arc<SymbolSpec>,
    pub(crate) tf_secs: Option<i64>,
    pub(crate) point: f64,
    pub(crate) bid: f64,
    pub(crate) ask: f64,
    pub(crate) has_quote: bool,
    pub(crate) bar: Option<Bar>,
    pub(crate) profit_conv: Conv,
    pub(crate) margin_conv: Conv,
    pub(crate) base_conv: Conv,
    pub(crate) book: Book,
    /// The last two prices normalised and their results ([`SymState::normalized`]).
    norm: std::cell::Cell<[(u64, Option<Decimal>); 2]>,
}

impl SymState {
    /// `spec.normalize_price_f64(price)`, remembered for the last two prices: an order and the
    /// close before it normalise the same bid and ask several times (the quote for the stop
    /// rules, the fill price, the sizing). A pure function of the price, so nothing resets it;
    /// it starts at `NaN`, whose result is `None`.
    #[inline]
    pub(crate) fn normalized(&self, price: f64) -> Option<Decimal> {
        let bits = price.to_bits();
        let memo = self.norm.get();
        if memo[0].0 == bits {
            return memo[0].1;
        }
        if memo[1].0 == bits {
            return memo[1].1;
        }
        let n = self.spec.normalize_price_f64(price);
        self.norm.set([(bits, n), memo[0]]);
        n
    }
}

/// Per-symbol aggregates of the open positions, so that a bar which reaches no SL/TP and a
/// margin level far from stop-out cost O(1) per symbol instead of O(positions). Rebuilt lazily
/// after any change to the positions (`Simulator::book_dirty`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Book {
    pub(crate) long_units: f64,
    pub(crate) long_cost: f64,
    pub(crate) short_units: f64,
    pub(crate) short_cost: f64,
    /// Highest buy SL: a bid low at or below it may close something.
    pub(crate) bid_down: f64,
    /// Lowest buy TP.
    pub(crate) bid_up: f64,
    /// Highest sell TP (ask line).
    pub(crate) ask_down: f64,
    /// Lowest sell SL (ask line).
    pub(crate) ask_up: f64,
}

impl Book {
    /// Whether a bid range `[lo, hi]` (tolerance included), with the ask `spread` above it,
    /// reaches any stop or target of the book.
    pub(crate) fn reachable(&self, lo: f64, hi: f64, spread: f64) -> bool {
        lo <= self.bid_down
            || hi >= self.bid_up
            || lo + spread <= self.ask_down
            || hi + spread >= self.ask_up
    }

    /// The book's floating profit in its profit currency at `bid`/`ask` (`f64`: for decisions
    /// about stop-out, never for money).
    #[inline]
    pub(crate) fn floating(&self, bid: f64, ask: f64) -> f64 {
        bid * self.long_units - self.long_cost + self.short_cost - ask * self.short_units
    }

    pub(crate) const EMPTY: Book = Book {
        long_units: 0.0,
        long_cost: 0.0,
        short_units: 0.0,
        short_cost: 0.0,
        bid_down: f64::NEG_INFINITY,
        bid_up: f64::INFINITY,
        ask_down: f64::NEG_INFINITY,
        ask_up: f64::INFINITY,
    };

    fn add(&mut self, p: &Pos) {
        // `max`/`min` ignore NaN, which marks an absent level.
        match p.side {
            Side::Buy => {
                self.long_units += p.units_f;
                self.long_cost += p.units_f * p.open_f;
                self.bid_down = self.bid_down.max(p.sl_f);
                self.bid_up = self.bid_up.min(p.tp_f);
            }
            Side::Sell => {
                self.short_units += p.units_f;
                self.short_cost += p.units_f * p.open_f;
                self.ask_down = self.ask_down.max(p.tp_f);
                self.ask_up = self.ask_up.min(p.sl_f);
            }
        }
    }
}

/// An open position with `f64` mirrors of its levels for the per-bar hot path. The `Decimal`
/// fields are the truth; the mirrors only decide *whether* something triggered.
#[derive(Clone, Debug)]
pub(crate) struct Pos {
    pub(crate) ticket: u64,
    pub(crate) sym: usize,
    pub(crate) side: Side,
    pub(crate) volume: Decimal,
    pub(crate) open_price: Decimal,
    pub(crate) open_time: DateTime<Utc>,
    pub(crate) sl: Option<Decimal>,
    pub(crate) tp: Option<Decimal>,
    pub(crate) swap: Decimal,
    pub(crate) margin: Decimal,
    pub(crate) magic: Magic,
    pub(crate) comment: String,
    pub(crate) sl_f: f64,
    pub(crate) tp_f: f64,
    pub(crate) open_f: f64,
    pub(crate) units_f: f64,
    pub(crate) swap_f: f64,
    pub(crate) margin_f: f64,
    /// Where along the current bar's path the position came to exist (0 = before the bar).
    pub(crate) start_t: f64,
}

impl Pos {
    pub(crate) fn set_stops(&mut self, sl: Option<Decimal>, tp: Option<Decimal>) {
        self.sl = sl;
        self.tp = tp;
        self.sl_f = sl.map_or(f64::NAN, decimal_to_f64);
        self.tp_f = tp.map_or(f64::NAN, decimal_to_f64);
    }

    pub(crate) fn refresh_mirrors(&mut self, contract_size: Decimal) {
        self.open_f = decimal_to_f64(self.open_price);
        self.units_f = decimal_to_f64(self.volume * contract_size);
        self.swap_f = decimal_to_f64(self.swap);
        self.margin_f = decimal_to_f64(self.margin);
    }

    #[cfg(test)]
    pub(crate) fn for_test(side: Side, open: Decimal, volume: Decimal) -> Self {
        Pos {
            ticket: 1,
            sym: 0,
            side,
            volume,
            open_price: open,
            open_time: DateTime::UNIX_EPOCH,
            sl: None,
            tp: None,
            swap: Decimal::ZERO,
            margin: Decimal::ZERO,
            magic: Magic(0),
            comment: String::new(),
            sl_f: f64::NAN,
            tp_f: f64::NAN,
            open_f: open.to_f64().unwrap_or(0.0),
            units_f: 0.0,
            swap_f: 0.0,
            margin_f: 0.0,
            start_t: 0.0,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Pend {
    pub(crate) ticket: u64,
    pub(crate) sym: usize,
    pub(crate) side: Side,
    pub(crate) kind: OrderKind,
    pub(crate) volume: Decimal,
    pub(crate) price: Decimal,
    pub(crate) price_f: f64,
    pub(crate) stop_limit: Option<Decimal>,
    pub(crate) sl: Option<Decimal>,
    pub(crate) tp: Option<Decimal>,
    pub(crate) expiration: Option<DateTime<Utc>>,
    pub(crate) magic: Magic,
    pub(crate) comment: String,
    pub(crate) time_setup: DateTime<Utc>,
}

/// A simulated MT5 forex account and its broker. Synchronous and allocation-free per bar: the
/// backtester drives it directly, [`crate::SimBroker`] wraps it for async callers.
///
/// Feed prices with [`Simulator::on_bar`] (or [`Simulator::begin_bar`] then
/// [`Simulator::finish_bar`], to trade at the bar's open) and [`Simulator::on_tick`]; trade with
/// [`Simulator::send_order`], [`Simulator::modify_position`], [`Simulator::close_position`] and
/// [`Simulator::cancel_order`], which answer as MT5 does, return codes included.
pub struct Simulator {
    pub(crate) cfg: SimConfig,
    pub(crate) symbols: Vec<SymState>,
    pub(crate) by_name: HashMap<Symbol, usize>,
    pub(crate) positions: Vec<Pos>,
    pub(crate) pending: Vec<Pend>,
    pub(crate) deals: Vec<Deal>,
    /// Deals are kept in `deals` (else only sent as events: [`Simulator::without_deal_history`]).
    pub(crate) keep_deals: bool,
    /// Money in scaled integers where exact ([`exact`]); off: the `Decimal` formulas only.
    pub(crate) exact_money: bool,
    pub(crate) events: Vec<SimEvent>,
    pub(crate) balance: Decimal,
    pub(crate) balance_f: f64,
    pub(crate) now: DateTime<Utc>,
    pub(crate) next_order: u64,
    pub(crate) next_deal: u64,
    pub(crate) server_day: Option<i64>,
    /// Start of the next server day: until then no rollover can be due.
    pub(crate) next_rollover: Option<DateTime<Utc>>,
    pub(crate) slip_rng: SplitMix64,
    /// Position along the current bar's path while it is being walked (0..=3).
    pub(crate) path_t: f64,
    /// Positions changed since the books were last built.
    pub(crate) book_dirty: bool,
    /// A position was opened part-way through the current bar (its `start_t` is not 0).
    pub(crate) fresh_position: bool,
    pub(crate) margin_total_f: f64,
    pub(crate) swap_total_f: f64,
    /// `cfg.stop_out_level` as `f64`, converted once.
    pub(crate) stop_out_f: f64,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("login", &self.cfg.login)
            .field("balance", &self.balance)
            .field("symbols", &self.symbols.len())
            .field("positions", &self.positions.len())
            .field("pending", &self.pending.len())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// An account with `cfg.deposit` booked as a balance deal, trading `symbols`. Fails when a
    /// symbol's profit or margin currency cannot be converted into the account currency.
    pub fn new<S: Into<SimSymbol>>(
        cfg: SimConfig,
        symbols: impl IntoIterator<Item = S>,
    ) -> Result<Self, SimError> {
        if cfg.leverage == 0 {
            return Err(SimError::InvalidLeverage(cfg.leverage));
        }
        if cfg.deposit < Decimal::ZERO {
            return Err(SimError::InvalidDeposit(cfg.deposit));
        }
        let seed = match cfg.slippage {
            Slippage::Random { seed, .. } => seed,
            _ => 0,
        };
        let mut sim = Simulator {
            balance: Decimal::ZERO,
            balance_f: 0.0,
            cfg,
            symbols: Vec::new(),
            by_name: HashMap::new(),
            positions: Vec::new(),
            pending: Vec::new(),
            deals: Vec::new(),
            keep_deals: true,
            exact_money: true,
            events: Vec::new(),
            now: DateTime::UNIX_EPOCH,
            next_order: 1,
            next_deal: 1,
            server_day: None,
            next_rollover: None,
            slip_rng: SplitMix64::new(seed),
            path_t: 0.0,
            book_dirty: false,
            fresh_position: false,
            margin_total_f: 0.0,
            swap_total_f: 0.0,
            stop_out_f: 0.0,
        };
        sim.stop_out_f = sim.cfg.stop_out_level.to_f64().unwrap_or(0.0);
        for s in symbols {
            sim.push_symbol(s.into())?;
        }
        sim.resolve_conversions()?;
        let deposit = sim.cfg.deposit;
        sim.book_balance(deposit, "deposit");
        Ok(sim)
    }

    /// Adds a symbol, re-resolving every currency conversion (a new pair may serve older ones).
    pub fn add_symbol(&mut self, s: SimSymbol) -> Result<SymbolId, SimError> {
        let id = self.push_symbol(s)?;
        if let Err(e) = self.resolve_conversions() {
            let removed = self.symbols.pop().map(|s| s.spec.symbol.clone());
            if let Some(name) = removed {
                self.by_name.remove(&name);
            }
            self.resolve_conversions()?;
            return Err(e);
        }
        Ok(id)
    }

    fn push_symbol(&mut self, s: SimSymbol) -> Result<SymbolId, SimError> {
        s.spec.validate()?;
        if self.by_name.contains_key(&s.spec.symbol) {
            return Err(SimError::DuplicateSymbol(s.spec.symbol));
        }
        let id = self.symbols.len();
        self.by_name.insert(s.spec.symbol.clone(), id);
        self.symbols.push(SymState {
            point: s.spec.point.to_f64().unwrap_or(0.0),
            tf_secs: s.timeframe.map(|tf| tf.seconds()),
            spec: std::sync::Arc::new(s.spec),
            bid: 0.0,
            ask: 0.0,
            has_quote: false,
            bar: None,
            profit_conv: Conv::Identity,
            margin_conv: Conv::Identity,
            base_conv: Conv::Identity,
            book: Book::EMPTY,
            norm: std::cell::Cell::new([(f64::NAN.to_bits(), None); 2]),
        });
        self.book_dirty = true;
        Ok(SymbolId(id))
    }

    fn resolve_conversions(&mut self) -> Result<(), SimError> {
        for i in 0..self.symbols.len() {
            let spec = &self.symbols[i].spec;
            let p = money::resolve(&self.symbols, &self.cfg, spec, spec.profit_currency)?;
            let m = money::resolve(&self.symbols, &self.cfg, spec, spec.margin_currency)?;
            let b = money::resolve(&self.symbols, &self.cfg, spec, spec.base_currency)?;
            let st = &mut self.symbols[i];
            (st.profit_conv, st.margin_conv, st.base_conv) = (p, m, b);
        }
        Ok(())
    }

    /// Adds money (positive) or withdraws it (negative) as a balance deal.
    pub fn book_balance(&mut self, amount: Decimal, comment: &str) {
        let ticket = self.take_deal_ticket();
        self.balance += amount;
        self.balance_f = decimal_to_f64(self.balance);
        let deal = Deal {
            ticket,
            order: None,
            position: None,
            symbol: None,
            side: None,
            entry: DealEntry::Balance,
            reason: DealReason::Balance,
            volume: Decimal::ZERO,
            price: Decimal::ZERO,
            commission: Decimal::ZERO,
            swap: Decimal::ZERO,
            profit: amount,
            time: self.now,
            magic: Magic(0),
            comment: comment.to_string(),
        };
        self.push_deal(deal);
    }

    /// Stops keeping the deals from here on for [`Simulator::deals`]: each is still sent as a
    /// [`SimEvent::Deal`]. For a caller that reads the events and never the history (a backtest:
    /// one copy of each deal instead of two, and no history growing with every trade).
    pub fn without_deal_history(mut self) -> Self {
        self.keep_deals = false;
        self
    }

    /// Works out every realised profit and margin with the `Decimal` formulas alone, without
    /// the integer path that answers where it is exact: the reference the property tests compare
    /// the simulator with (the same deals, balances and positions, text for text).
    pub fn with_reference_money(mut self) -> Self {
        self.exact_money = false;
        self
    }

    /// Sends `deal` as an event, and keeps it in the history when one is kept.
    pub(crate) fn push_deal(&mut self, deal: Deal) {
        if self.keep_deals {
            self.deals.push(deal.clone());
        }
        self.events.push(SimEvent::Deal(deal));
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    pub fn symbol_id(&self, symbol: &Symbol) -> Option<SymbolId> {
        self.by_name.get(symbol).map(|&i| SymbolId(i))
    }

    pub fn spec(&self, id: SymbolId) -> &SymbolSpec {
        &self.symbols[id.0].spec
    }

    pub fn specs(&self) -> impl Iterator<Item = &SymbolSpec> {
        self.symbols.iter().map(|s| &*s.spec)
    }

    /// The simulator's current time: that of the last bar, tick or [`Simulator::set_time`].
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The current quote, once the symbol has had a bar or tick.
    pub fn tick(&self, id: SymbolId) -> Option<Tick> {
        let s = &self.symbols[id.0];
        s.has_quote.then_some(Tick {
            time: self.now,
            bid: s.bid,
            ask: s.ask,
            last: 0.0,
            volume: 0,
        })
    }

    /// The current mid quote of every symbol as exchange rates (base -> profit currency), for
    /// callers that convert money with [`mtq_core::FxRates`] (sizing, exposure checks).
    pub fn rate_snapshot(&self) -> mtq_core::StaticRates {
        let mut r = mtq_core::StaticRates::new();
        for s in self.symbols.iter().filter(|s| s.has_quote) {
            if let Some(mid) = rust_decimal::prelude::FromPrimitive::from_f64((s.bid + s.ask) / 2.0)
            {
                r.set(s.spec.base_currency, s.spec.profit_currency, mid);
            }
        }
        r
    }

    pub fn balance(&self) -> Decimal {
        self.balance
    }

    pub fn open_position_count(&self) -> usize {
        self.positions.len()
    }

    pub fn pending_order_count(&self) -> usize {
        self.pending.len()
    }

    /// Every deal since the deposit, oldest first (none after
    /// [`Simulator::without_deal_history`]).
    pub fn deals(&self) -> &[Deal] {
        &self.deals
    }

    /// Moves the events since the last call into `out` (appending). Reusing `out` keeps the
    /// backtest loop free of allocation.
    pub fn drain_events(&mut self, out: &mut Vec<SimEvent>) {
        if out.is_empty() {
            // The two buffers change places: nothing is moved.
            std::mem::swap(out, &mut self.events);
        } else {
            out.append(&mut self.events);
        }
    }

    /// Floating profit of a position at the current quote, in the account currency.
    fn floating(&self, p: &Pos) -> Decimal {
        self.floating_at(p, self.close_price(p.sym, p.side))
    }

    /// [`Simulator::floating`] with the position's close price already worked out.
    fn floating_at(&self, p: &Pos, close: Option<Decimal>) -> Decimal {
        let s = &self.symbols[p.sym];
        let (Some(close), Some(rate)) = (close, money::rate_dec(&self.symbols, s.profit_conv))
        else {
            return Decimal::ZERO;
        };
        money::realized_profit(
            p,
            &s.spec,
            p.volume,
            close,
            rate,
            self.cfg.money_digits,
            self.exact_money,
        )
    }

    /// The quote a market entry on `side` is priced from, normalised: the ask for a buy, the bid
    /// for a sell (`None` before the symbol's first quote).
    pub fn entry_quote(&self, id: SymbolId, side: Side) -> Option<Decimal> {
        let s = self.symbols.get(id.0)?;
        if !s.has_quote {
            return None;
        }
        s.normalized(match side {
            Side::Buy => s.ask,
            Side::Sell => s.bid,
        })
    }

    /// The price a position of `side` would close at now: bid for buys, ask for sells.
    pub(crate) fn close_price(&self, sym: usize, side: Side) -> Option<Decimal> {
        let s = &self.symbols[sym];
        if !s.has_quote {
            return None;
        }
        let p = match side {
            Side::Buy => s.bid,
            Side::Sell => s.ask,
        };
        s.normalized(p)
    }

    pub(crate) fn margin_used(&self) -> Decimal {
        self.positions.iter().map(|p| p.margin).sum()
    }

    pub(crate) fn equity(&self) -> Decimal {
        self.balance
            + self
                .positions
                .iter()
                .map(|p| self.floating(p) + p.swap)
                .sum::<Decimal>()
    }

    /// Equity and free margin, as [`Simulator::account`] gives them, without building the rest
    /// of the account (a backtest's all-in sizing reads them on every entry).
    pub fn equity_and_free_margin(&self) -> (Decimal, Decimal) {
        let equity = self.equity();
        (equity, equity - self.margin_used())
    }

    /// Balance, equity, margin, free margin and margin level, exact.
    pub fn account(&self) -> AccountInfo {
        let equity = self.equity();
        let margin = self.margin_used();
        let margin_level =
            (margin > Decimal::ZERO).then(|| (equity / margin * Decimal::ONE_HUNDRED).round_dp(2));
        AccountInfo {
            login: self.cfg.login,
            server: self.cfg.server.clone(),
            currency: self.cfg.currency,
            balance: self.balance,
            equity,
            margin,
            free_margin: equity - margin,
            margin_level,
            leverage: self.cfg.leverage,
            margin_mode: self.cfg.margin_mode,
        }
    }

    /// [`Simulator::account`] and [`Simulator::positions`] written into `account` and
    /// `positions`, reusing their memory, with each position's profit worked out once for both
    /// (the same values; the margin level may be written with more decimals): a backtest reads
    /// them after every trade.
    pub fn snapshot(&self, account: &mut AccountInfo, positions: &mut Vec<Position>) {
        positions.clear();
        let mut floating = Decimal::ZERO;
        for p in &self.positions {
            let view = self.position_view(p);
            floating += view.profit + view.swap;
            positions.push(view);
        }
        let equity = self.balance + floating;
        let margin = self.margin_used();
        self.account_book(account, margin);
        account.equity = equity;
        account.free_margin = equity - margin;
        // The same value as `account`'s, in integers when equity and margin are whole cents.
        account.margin_level = (margin > Decimal::ZERO)
            .then(|| mtq_core::margin_level(equity, margin, self.cfg.money_digits));
    }

    /// The account's fields that no quote moves: everything but equity, free margin and margin
    /// level, with `margin` the margin in use.
    pub(crate) fn account_book(&self, account: &mut AccountInfo, margin: Decimal) {
        account.login = self.cfg.login;
        // Two empty names (a backtest's) are told equal without a call to compare bytes: this
        // runs after every trade.
        let both_empty = account.server.is_empty() && self.cfg.server.is_empty();
        if !both_empty && account.server != self.cfg.server {
            account.server.clone_from(&self.cfg.server);
        }
        account.currency = self.cfg.currency;
        account.balance = self.balance;
        account.margin = margin;
        account.leverage = self.cfg.leverage;
        account.margin_mode = self.cfg.margin_mode;
    }

    pub fn positions(&self) -> Vec<Position> {
        self.positions
            .iter()
            .map(|p| self.position_view(p))
            .collect()
    }

    pub fn position(&self, ticket: Ticket) -> Option<Position> {
        self.positions
            .iter()
            .find(|p| p.ticket == ticket.0)
            .map(|p| self.position_view(p))
    }

    fn position_view(&self, p: &Pos) -> Position {
        // Put on the grid once, for the price shown and the profit.
        let close = self.close_price(p.sym, p.side);
        Position {
            current_price: close.unwrap_or(p.open_price),
            profit: self.floating_at(p, close),
            ..self.position_unmarked(p)
        }
    }

    /// A position's copy with its price at the open and no profit: the caller marks it.
    pub(crate) fn position_unmarked(&self, p: &Pos) -> Position {
        Position {
            ticket: Ticket(p.ticket),
            symbol: self.symbols[p.sym].spec.symbol.clone(),
            side: p.side,
            volume: p.volume,
            open_price: p.open_price,
            open_time: p.open_time,
            sl: p.sl,
            tp: p.tp,
            current_price: p.open_price,
            swap: p.swap,
            profit: Decimal::ZERO,
            magic: p.magic,
            comment: p.comment.clone(),
        }
    }

    pub fn pending_orders(&self) -> Vec<PendingOrder> {
        self.pending
            .iter()
            .map(|o| PendingOrder {
                ticket: Ticket(o.ticket),
                symbol: self.symbols[o.sym].spec.symbol.clone(),
                side: o.side,
                kind: o.kind,
                volume: o.volume,
                price: o.price,
                stop_limit: o.stop_limit,
                sl: o.sl,
                tp: o.tp,
                time_setup: o.time_setup,
                expiration: o.expiration,
                magic: o.magic,
                comment: o.comment.clone(),
            })
            .collect()
    }

    /// Rebuilds the per-symbol books and account totals from the positions.
    pub(crate) fn refresh_books(&mut self) {
        for s in &mut self.symbols {
            s.book = Book::EMPTY;
        }
        self.margin_total_f = 0.0;
        self.swap_total_f = 0.0;
        for p in &self.positions {
            self.symbols[p.sym].book.add(p);
            self.margin_total_f += p.margin_f;
            self.swap_total_f += p.swap_f;
        }
        self.book_dirty = false;
    }

    pub(crate) fn take_deal_ticket(&mut self) -> Ticket {
        let t = Ticket(self.next_deal);
        self.next_deal += 1;
        t
    }

    pub(crate) fn take_order_ticket(&mut self) -> u64 {
        let t = self.next_order;
        self.next_order += 1;
        t
    }
}

/// `x` limited to `[lo, hi]` without `f64::clamp`'s panic on a malformed (inverted or NaN) range.
pub(crate) fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered normalisation gives the specification's for every price, whatever the
    /// order: repeats, alternation between three prices, non-finite prices, both zeros, off-grid
    /// prices, on a one-point tick (the `f64` path) and a coarser one (the exact path).
    #[test]
    fn remembered_normalisation_is_the_specs() {
        let prices = [
            1.1,
            1.1,
            1.2,
            1.1,
            1.3,
            1.2,
            1.3,
            1.1,
            f64::NAN,
            1.1,
            f64::INFINITY,
            -0.0,
            0.0,
            1.123456789,
            1.12345,
            1.123456789,
            -1.5,
            1.100005,
            1.100015,
            1.1,
        ];
        let fine = mtq_core::testkit::eurusd();
        let mut coarse = fine.clone();
        coarse.tick_size = rust_decimal_macros::dec!(0.00005);
        for spec in [fine, coarse] {
            let sim = Simulator::new(crate::SimConfig::default(), [spec.clone()]).unwrap();
            let s = &sim.symbols[0];
            for (i, p) in prices.iter().chain(prices.iter().rev()).enumerate() {
                assert_eq!(
                    s.normalized(*p),
                    spec.normalize_price_f64(*p),
                    "price {p} at {i}, tick {}",
                    spec.tick_size
                );
            }
        }
    }
}
