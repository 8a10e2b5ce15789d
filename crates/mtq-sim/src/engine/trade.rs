//! Trade requests, validated with MT5's return codes, and the deals they produce.
//!
//! The trade mode, stops and freeze levels are MT5's rule book, [`mtq_core::rules`], shared with
//! the MT5 connector; this file adds what only a server knows (autotrading, market hours, tick
//! grid, margin, limits).

use chrono::{DateTime, Utc};
use mtq_connector::BrokerError;
use mtq_core::rules::{self, Quote, RuleViolation, StopKind, TradeAction};
use mtq_core::{
    Deal, DealEntry, DealReason, Decimal, ExecutionMode, MarginMode, OrderKind, OrderOutcome,
    OrderRequest, Retcode, Side, SymbolSpec, Ticket, decimal_to_f64,
};

use super::{Pend, Pos, Simulator, clamp, money};
use crate::Slippage;
use crate::config::is_weekly_open;

fn reject(code: Retcode, comment: impl Into<String>) -> BrokerError {
    BrokerError::rejected(code, comment)
}

/// A rule book refusal as the rejection an MT5 server sends.
fn refused(v: RuleViolation) -> BrokerError {
    reject(v.retcode(), v.to_string())
}

/// What caused a fill, for the deal's reason and comment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FillCause {
    Request,
    Pending,
    StopLoss,
    TakeProfit,
    StopOut,
}

impl FillCause {
    fn reason(self) -> DealReason {
        match self {
            FillCause::Request => DealReason::Expert,
            FillCause::Pending => DealReason::PendingTriggered,
            FillCause::StopLoss => DealReason::StopLoss,
            FillCause::TakeProfit => DealReason::TakeProfit,
            FillCause::StopOut => DealReason::StopOut,
        }
    }
}

/// What a request that went through did, for its reply ([`Simulator::send_order`] and the
/// others build the [`OrderOutcome`] from it; [`Simulator::execute_order`] drops it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Done {
    sym: usize,
    retcode: Retcode,
    deal: Option<Ticket>,
    order: u64,
    position: Option<Ticket>,
    volume: Decimal,
    price: Decimal,
    comment: &'static str,
}

/// An order to fill: from a request or a triggered pending order.
pub(crate) struct Fill<'a> {
    pub(crate) sym: usize,
    pub(crate) side: Side,
    pub(crate) volume: Decimal,
    pub(crate) price: Decimal,
    pub(crate) sl: Option<Decimal>,
    pub(crate) tp: Option<Decimal>,
    pub(crate) magic: mtq_core::Magic,
    pub(crate) comment: &'a str,
    pub(crate) order: u64,
    pub(crate) cause: FillCause,
    /// The margin of `volume` at the symbol's margin rate, when the margin check before the
    /// fill computed it ([`Simulator::check_margin`]): the position opened takes it as it is.
    pub(crate) margin: Option<Decimal>,
}

impl Simulator {
    fn check_permissions(&self, spec: &SymbolSpec, action: TradeAction) -> Result<(), BrokerError> {
        if !self.cfg.server_autotrading {
            return Err(reject(
                Retcode::ServerDisablesAutoTrading,
                "autotrading disabled by server",
            ));
        }
        if !self.cfg.client_autotrading {
            return Err(reject(
                Retcode::ClientDisablesAutoTrading,
                "AutoTrading disabled by client",
            ));
        }
        rules::trade_mode(spec, action).map_err(refused)
    }

    fn check_market_open(&self, sym: usize) -> Result<(), BrokerError> {
        let s = &self.symbols[sym];
        if !s.has_quote {
            return Err(reject(
                Retcode::PriceOff,
                format!("no quotes for {}", s.spec.symbol),
            ));
        }
        if !is_weekly_open(&self.cfg.market_hours, self.now) {
            return Err(reject(
                Retcode::MarketClosed,
                format!("market closed for {} at {}", s.spec.symbol, self.now),
            ));
        }
        Ok(())
    }

    fn check_volume(spec: &SymbolSpec, volume: Decimal) -> Result<(), BrokerError> {
        if !spec.is_volume_valid(volume) {
            return Err(reject(
                Retcode::InvalidVolume,
                format!(
                    "volume {volume} outside {}..{} in steps of {}",
                    spec.volume_min, spec.volume_max, spec.volume_step
                ),
            ));
        }
        Ok(())
    }

    /// The current bid and ask on the symbol's tick grid.
    fn quote(&self, sym: usize) -> Quote {
        let s = &self.symbols[sym];
        Quote {
            bid: s.normalized(s.bid).unwrap_or_default(),
            ask: s.normalized(s.ask).unwrap_or_default(),
        }
    }

    /// SL and TP on the tick grid and positive; their distances are the rule book's.
    fn check_stops_on_grid(
        spec: &SymbolSpec,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<(), BrokerError> {
        for (kind, level) in [(StopKind::StopLoss, sl), (StopKind::TakeProfit, tp)] {
            let Some(level) = level else { continue };
            if !spec.is_price_normalized(level) || level <= Decimal::ZERO {
                return Err(reject(
                    Retcode::InvalidStops,
                    format!("{kind} {level} is not on the tick grid"),
                ));
            }
        }
        Ok(())
    }

    /// Points of slippage for one fill, from the configured model (drawn from the seeded
    /// generator for `Random`): shared by market orders and stop fills.
    pub(crate) fn slip_points(&mut self) -> u32 {
        match self.cfg.slippage {
            Slippage::None => 0,
            Slippage::Fixed(p) => p,
            Slippage::Random { max_points, .. } => {
                u32::try_from(self.slip_rng.below_inclusive(u64::from(max_points)))
                    .unwrap_or(max_points)
            }
        }
    }

    /// Market fill price with the slippage model, against the trader, within the current bar.
    pub(crate) fn market_price(&mut self, sym: usize, side: Side) -> f64 {
        let slip_points = self.slip_points();
        let s = &self.symbols[sym];
        let slip = f64::from(slip_points) * s.point;
        let (raw, spread) = match side {
            Side::Buy => (s.ask + slip, s.ask - s.bid),
            Side::Sell => (s.bid - slip, s.ask - s.bid),
        };
        match (&s.bar, side) {
            (Some(b), Side::Buy) => clamp(raw, b.low + spread, b.high + spread),
            (Some(b), Side::Sell) => clamp(raw, b.low, b.high),
            (None, _) => raw,
        }
    }

    fn fill_time(&self, sym: usize) -> DateTime<Utc> {
        match self.symbols[sym].tf_secs {
            Some(secs) if self.path_t > 0.0 => {
                // Estimated: the path's three legs are taken to last a third of the bar each.
                #[allow(clippy::cast_possible_truncation)]
                let offset = (self.path_t / 3.0 * secs as f64) as i64;
                self.now + chrono::Duration::seconds(offset.min(secs - 1))
            }
            _ => self.now,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        sym: usize,
        retcode: Retcode,
        deal: Option<Ticket>,
        order: u64,
        position: Option<Ticket>,
        volume: Decimal,
        price: Decimal,
        comment: &'static str,
    ) -> Done {
        Done {
            sym,
            retcode,
            deal,
            order,
            position,
            volume,
            price,
            comment,
        }
    }

    /// The reply to a request that went through, as an MT5 server words it.
    fn answer(&self, d: Done) -> OrderOutcome {
        let s = &self.symbols[d.sym];
        OrderOutcome {
            retcode: d.retcode,
            deal: d.deal,
            order: (d.order != 0).then_some(Ticket(d.order)),
            position: d.position,
            volume: d.volume,
            price: d.price,
            bid: s.normalized(s.bid).unwrap_or_default(),
            ask: s.normalized(s.ask).unwrap_or_default(),
            comment: d.comment.to_string(),
            time: self.now,
        }
    }

    /// [`Simulator::send_order`] without the reply: the same checks, fill and deal, for a caller
    /// that reads the outcome from the deals and the account (a backtest) and would drop the
    /// reply's copies of the quote and its text unread.
    pub fn execute_order(&mut self, req: &OrderRequest) -> Result<(), BrokerError> {
        self.send(req).map(|_| ())
    }

    /// [`Simulator::close_position`] without the reply (see [`Simulator::execute_order`]).
    pub fn execute_close(
        &mut self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<(), BrokerError> {
        self.close(ticket, volume).map(|_| ())
    }

    /// The symbol's index: a scan of a few symbols compares shared strings by pointer, cheaper
    /// than hashing the name; many symbols use the map.
    fn symbol_index(&self, symbol: &mtq_core::Symbol) -> Option<usize> {
        if self.symbols.len() <= 8 {
            self.symbols.iter().position(|s| s.spec.symbol == *symbol)
        } else {
            self.by_name.get(symbol).copied()
        }
    }

    /// Opens a position or places a pending order, as an MT5 server would.
    pub fn send_order(&mut self, req: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        self.send(req).map(|d| self.answer(d))
    }

    fn send(&mut self, req: &OrderRequest) -> Result<Done, BrokerError> {
        let sym = self
            .symbol_index(&req.symbol)
            .ok_or_else(|| BrokerError::UnknownSymbol(req.symbol.clone()))?;
        let spec = self.symbols[sym].spec.clone();
        self.check_permissions(&spec, TradeAction::Open(req.side))?;
        self.check_market_open(sym)?;
        Self::check_volume(&spec, req.volume)?;
        if req.comment.chars().count() > mtq_core::MAX_COMMENT_LEN {
            return Err(reject(
                Retcode::Invalid,
                "comment longer than 31 characters",
            ));
        }
        match req.kind {
            OrderKind::Market => self.send_market(sym, &spec, req),
            _ => self.place_pending(sym, &spec, req),
        }
    }

    fn send_market(
        &mut self,
        sym: usize,
        spec: &SymbolSpec,
        req: &OrderRequest,
    ) -> Result<Done, BrokerError> {
        if !spec.filling.allows(req.filling, spec.execution) {
            return Err(reject(
                Retcode::InvalidFill,
                format!(
                    "filling {:?} not allowed for {} (flags {})",
                    req.filling, spec.symbol, spec.filling.0
                ),
            ));
        }
        Self::check_stops_on_grid(spec, req.sl, req.tp)?;
        rules::position_stops(spec, req.side, self.quote(sym), req.sl, req.tp).map_err(refused)?;
        let opens_new = self.cfg.margin_mode == MarginMode::Hedging
            || !self.positions.iter().any(|p| p.sym == sym);
        if opens_new && self.cfg.max_positions > 0 && self.positions.len() >= self.cfg.max_positions
        {
            return Err(reject(
                Retcode::LimitPositions,
                format!("position limit {} reached", self.cfg.max_positions),
            ));
        }
        let price_f = self.market_price(sym, req.side);
        let price = self.symbols[sym]
            .normalized(price_f)
            .ok_or_else(|| reject(Retcode::PriceOff, "no price"))?;
        if spec.execution == ExecutionMode::Instant
            && let Some(asked) = req.price
            && (price - asked).abs() > spec.point * Decimal::from(req.deviation)
        {
            return Err(reject(
                Retcode::Requote,
                format!(
                    "requote {price} (asked {asked}, deviation {})",
                    req.deviation
                ),
            ));
        }
        let margin = self.check_margin(sym, req.side, req.volume)?;
        let order = self.take_order_ticket();
        let (deal, position) = self.apply_fill(&Fill {
            sym,
            side: req.side,
            volume: req.volume,
            price,
            sl: req.sl,
            tp: req.tp,
            magic: req.magic,
            comment: &req.comment,
            order,
            cause: FillCause::Request,
            margin,
        })?;
        Ok(self.outcome(
            sym,
            Retcode::Done,
            Some(deal),
            order,
            Some(position),
            req.volume,
            price,
            "Request executed",
        ))
    }

    /// Refuses with 10019 when the margin after the trade would exceed equity. On a hedging
    /// account the margin it checks is the new position's, which it returns for the fill.
    pub(crate) fn check_margin(
        &self,
        sym: usize,
        side: Side,
        volume: Decimal,
    ) -> Result<Option<Decimal>, BrokerError> {
        let s = &self.symbols[sym];
        let rate = money::rate_dec(&self.symbols, s.margin_conv).ok_or_else(|| {
            reject(
                Retcode::PriceOff,
                format!(
                    "no quote to convert {} into {}",
                    s.spec.margin_currency, self.cfg.currency
                ),
            )
        })?;
        let (added, whole) = match self.cfg.margin_mode {
            MarginMode::Hedging => (volume, true),
            MarginMode::Netting => {
                let net: Decimal = self
                    .positions
                    .iter()
                    .filter(|p| p.sym == sym)
                    .map(|p| if p.side == side { p.volume } else { -p.volume })
                    .sum();
                // Only the volume that grows the exposure needs margin.
                ((net + volume).abs() - net.abs(), false)
            }
        };
        let need = money::margin(
            &self.cfg,
            &s.spec,
            added.max(Decimal::ZERO),
            rate,
            self.exact_money,
        );
        let free = self.equity() - self.margin_used();
        if need > free {
            return Err(reject(
                Retcode::NoMoney,
                format!("not enough money: margin {need} needed, free margin {free}"),
            ));
        }
        // `volume` itself went into the margin (a hedging order's volume is positive: the
        // request checks refuse any other), at the rate `open_position` takes.
        Ok((whole && volume > Decimal::ZERO).then_some(need))
    }

    fn place_pending(
        &mut self,
        sym: usize,
        spec: &SymbolSpec,
        req: &OrderRequest,
    ) -> Result<Done, BrokerError> {
        let price = req
            .price
            .ok_or_else(|| reject(Retcode::InvalidPrice, "a pending order needs a price"))?;
        if !spec.is_price_normalized(price) || price <= Decimal::ZERO {
            return Err(reject(
                Retcode::InvalidPrice,
                format!("price {price} is not on the tick grid of {}", spec.symbol),
            ));
        }
        if let Some(exp) = req.expiration
            && exp <= self.now
        {
            return Err(reject(
                Retcode::InvalidExpiration,
                format!("expiration {exp} is not after {}", self.now),
            ));
        }
        if self.cfg.max_pending_orders > 0 && self.pending.len() >= self.cfg.max_pending_orders {
            return Err(reject(
                Retcode::LimitOrders,
                format!(
                    "pending order limit {} reached",
                    self.cfg.max_pending_orders
                ),
            ));
        }
        rules::order_price(spec, req.side, req.kind, price, self.quote(sym)).map_err(refused)?;
        let entry = if req.kind == OrderKind::StopLimit {
            let limit = req.stop_limit.ok_or_else(|| {
                reject(Retcode::InvalidPrice, "a stop-limit order needs stop_limit")
            })?;
            if !spec.is_price_normalized(limit) {
                return Err(reject(
                    Retcode::InvalidPrice,
                    format!("stop_limit {limit} is not on the tick grid"),
                ));
            }
            rules::stop_limit_price(spec, req.side, price, limit).map_err(refused)?;
            limit
        } else {
            price
        };
        Self::check_stops_on_grid(spec, req.sl, req.tp)?;
        rules::order_stops(spec, req.side, entry, req.sl, req.tp).map_err(refused)?;
        let ticket = self.take_order_ticket();
        self.pending.push(Pend {
            ticket,
            sym,
            side: req.side,
            kind: req.kind,
            volume: req.volume,
            price,
            price_f: decimal_to_f64(price),
            stop_limit: req.stop_limit.filter(|_| req.kind == OrderKind::StopLimit),
            sl: req.sl,
            tp: req.tp,
            expiration: req.expiration,
            magic: req.magic,
            comment: req.comment.clone(),
            time_setup: self.now,
        });
        Ok(self.outcome(
            sym,
            Retcode::Placed,
            None,
            ticket,
            None,
            req.volume,
            price,
            "Request placed",
        ))
    }

    /// Executes a fill: opens a position (hedging), or adds to, reduces, closes or reverses the
    /// symbol's position (netting). Returns the deal and position tickets.
    pub(crate) fn apply_fill(&mut self, f: &Fill<'_>) -> Result<(Ticket, Ticket), BrokerError> {
        self.book_dirty = true;
        let existing = match self.cfg.margin_mode {
            MarginMode::Hedging => None,
            MarginMode::Netting => self.positions.iter().position(|p| p.sym == f.sym),
        };
        let Some(idx) = existing else {
            return self.open_position(f);
        };
        let (pos_side, pos_volume, ticket) = {
            let p = &self.positions[idx];
            (p.side, p.volume, p.ticket)
        };
        if pos_side == f.side {
            // Netting, same direction: volume-weighted price, new stops if given.
            let profit_rate = self.profit_rate(f.sym)?;
            let spec = &self.symbols[f.sym].spec;
            let commission = money::commission(&self.cfg, spec, f.volume, f.price, profit_rate);
            let margin_rate = money::rate_dec(&self.symbols, self.symbols[f.sym].margin_conv)
                .unwrap_or(Decimal::ONE);
            let add_margin =
                money::margin(&self.cfg, spec, f.volume, margin_rate, self.exact_money);
            let contract = spec.contract_size;
            let p = &mut self.positions[idx];
            let total = p.volume + f.volume;
            p.open_price = ((p.open_price * p.volume + f.price * f.volume) / total).round_dp(10);
            p.volume = total;
            p.margin += add_margin;
            if f.sl.is_some() || f.tp.is_some() {
                p.set_stops(f.sl.or(p.sl), f.tp.or(p.tp));
            }
            p.refresh_mirrors(contract);
            let deal = self.record_deal(
                f,
                Some(ticket),
                DealEntry::In,
                f.volume,
                commission,
                Decimal::ZERO,
                Decimal::ZERO,
            );
            return Ok((deal, Ticket(ticket)));
        }
        // Netting, opposite direction: reduce, close or reverse.
        let closing = f.volume.min(pos_volume);
        let deal = self.close_volume(idx, closing, f.price, f.cause, Some(f))?;
        let rest = f.volume - closing;
        if rest > Decimal::ZERO {
            let (_, pos) = self.open_position(&Fill {
                volume: rest,
                margin: None,
                ..*f
            })?;
            if self.keep_deals
                && let Some(d) = self.deals.last_mut()
            {
                // MT5 books a reversal as one IN/OUT deal; we keep two deals and mark the second.
                d.entry = DealEntry::InOut;
            }
            return Ok((deal, pos));
        }
        Ok((deal, Ticket(ticket)))
    }

    fn profit_rate(&self, sym: usize) -> Result<Decimal, BrokerError> {
        let s = &self.symbols[sym];
        money::rate_dec(&self.symbols, s.profit_conv).ok_or_else(|| {
            reject(
                Retcode::PriceOff,
                format!(
                    "no quote to convert {} into {}",
                    s.spec.profit_currency, self.cfg.currency
                ),
            )
        })
    }

    fn open_position(&mut self, f: &Fill<'_>) -> Result<(Ticket, Ticket), BrokerError> {
        let profit_rate = self.profit_rate(f.sym)?;
        let s = &self.symbols[f.sym];
        let commission = money::commission(&self.cfg, &s.spec, f.volume, f.price, profit_rate);
        let margin = f.margin.unwrap_or_else(|| {
            let margin_rate = money::rate_dec(&self.symbols, s.margin_conv).unwrap_or(Decimal::ONE);
            money::margin(&self.cfg, &s.spec, f.volume, margin_rate, self.exact_money)
        });
        let contract = s.spec.contract_size;
        let mut p = Pos {
            ticket: f.order,
            sym: f.sym,
            side: f.side,
            volume: f.volume,
            open_price: f.price,
            open_time: self.fill_time(f.sym),
            sl: None,
            tp: None,
            swap: Decimal::ZERO,
            margin,
            magic: f.magic,
            comment: f.comment.to_string(),
            sl_f: f64::NAN,
            tp_f: f64::NAN,
            open_f: 0.0,
            units_f: 0.0,
            swap_f: 0.0,
            margin_f: 0.0,
            start_t: self.path_t,
        };
        p.set_stops(f.sl, f.tp);
        p.refresh_mirrors(contract);
        self.fresh_position |= p.start_t > 0.0;
        self.positions.push(p);
        let deal = self.record_deal(
            f,
            Some(f.order),
            DealEntry::In,
            f.volume,
            commission,
            Decimal::ZERO,
            Decimal::ZERO,
        );
        Ok((deal, Ticket(f.order)))
    }

    /// Closes `volume` of position `idx` at `price`, realising profit, swap (pro rata) and
    /// commission into the balance.
    pub(crate) fn close_volume(
        &mut self,
        idx: usize,
        volume: Decimal,
        price: Decimal,
        cause: FillCause,
        by: Option<&Fill<'_>>,
    ) -> Result<Ticket, BrokerError> {
        let profit_rate = self.profit_rate(self.positions[idx].sym)?;
        self.book_dirty = true;
        let (spec_contract, profit, commission, swap, full) = {
            let p = &self.positions[idx];
            let spec = &self.symbols[p.sym].spec;
            let profit = money::realized_profit(
                p,
                spec,
                volume,
                price,
                profit_rate,
                self.cfg.money_digits,
                self.exact_money,
            );
            let commission = money::commission(&self.cfg, spec, volume, price, profit_rate);
            let full = volume >= p.volume;
            let swap = if full {
                p.swap
            } else {
                (p.swap * volume / p.volume).round_dp(self.cfg.money_digits)
            };
            (spec.contract_size, profit, commission, swap, full)
        };
        // Only the position's plain fields are needed: no clone of its comment.
        let (sym, side, ticket, magic, sl, tp) = {
            let p = &self.positions[idx];
            (p.sym, p.side, p.ticket, p.magic, p.sl, p.tp)
        };
        // Borrowed unless it is built here: the deal copies it once.
        let comment: std::borrow::Cow<'_, str> = match cause {
            FillCause::StopLoss => format!("[sl {}]", sl.unwrap_or(price)).into(),
            FillCause::TakeProfit => format!("[tp {}]", tp.unwrap_or(price)).into(),
            FillCause::StopOut => "[so]".into(),
            _ => by.map_or("", |f| f.comment).into(),
        };
        let fill = Fill {
            sym,
            side: side.opposite(),
            volume,
            price,
            sl: None,
            tp: None,
            magic: by.map_or(magic, |f| f.magic),
            comment: &comment,
            order: by.map_or(0, |f| f.order),
            cause,
            margin: None,
        };
        let deal = self.record_deal(
            &fill,
            Some(ticket),
            DealEntry::Out,
            volume,
            commission,
            swap,
            profit,
        );
        if full {
            self.positions.remove(idx);
        } else {
            let q = &mut self.positions[idx];
            q.margin = (q.margin * (q.volume - volume) / q.volume).round_dp(self.cfg.money_digits);
            q.swap -= swap;
            q.volume -= volume;
            q.refresh_mirrors(spec_contract);
        }
        Ok(deal)
    }

    #[allow(clippy::too_many_arguments)]
    fn record_deal(
        &mut self,
        f: &Fill<'_>,
        position: Option<u64>,
        entry: DealEntry,
        volume: Decimal,
        commission: Decimal,
        swap: Decimal,
        profit: Decimal,
    ) -> Ticket {
        let ticket = self.take_deal_ticket();
        let delta = profit + commission + swap;
        self.balance += delta;
        self.balance_f = decimal_to_f64(self.balance);
        let deal = Deal {
            ticket,
            order: (f.order != 0).then_some(Ticket(f.order)),
            position: position.map(Ticket),
            symbol: Some(self.symbols[f.sym].spec.symbol.clone()),
            side: Some(f.side),
            entry,
            reason: f.cause.reason(),
            volume,
            price: f.price,
            commission,
            swap,
            profit,
            time: self.fill_time(f.sym),
            magic: f.magic,
            comment: f.comment.to_string(),
        };
        self.push_deal(deal);
        ticket
    }

    /// Sets a position's SL/TP, refusing inside the freeze level (10029) or stops level (10016).
    pub fn modify_position(
        &mut self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        let idx = self.position_index(ticket)?;
        let sym = self.positions[idx].sym;
        let spec = self.symbols[sym].spec.clone();
        self.check_permissions(&spec, TradeAction::Manage)?;
        self.check_market_open(sym)?;
        let p = &self.positions[idx];
        if p.sl == sl && p.tp == tp {
            return Err(reject(Retcode::NoChanges, "no changes"));
        }
        // The market is open, so the symbol has a quote.
        let quote = self.quote(sym);
        rules::position_freeze(&spec, p.side, quote, p.sl, p.tp).map_err(refused)?;
        Self::check_stops_on_grid(&spec, sl, tp)?;
        rules::position_stops(&spec, p.side, quote, sl, tp).map_err(refused)?;
        self.positions[idx].set_stops(sl, tp);
        self.book_dirty = true;
        Ok(self.answer(self.outcome(
            sym,
            Retcode::Done,
            None,
            0,
            Some(ticket),
            Decimal::ZERO,
            Decimal::ZERO,
            "Request executed",
        )))
    }

    fn position_index(&self, ticket: Ticket) -> Result<usize, BrokerError> {
        self.positions
            .iter()
            .position(|p| p.ticket == ticket.0)
            .ok_or_else(|| {
                reject(
                    Retcode::PositionClosed,
                    format!("position {ticket} not found or already closed"),
                )
            })
    }

    /// Closes a position at market, in full or in part.
    pub fn close_position(
        &mut self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.close(ticket, volume).map(|d| self.answer(d))
    }

    fn close(&mut self, ticket: Ticket, volume: Option<Decimal>) -> Result<Done, BrokerError> {
        let idx = self.position_index(ticket)?;
        let (sym, side, pos_volume) = {
            let p = &self.positions[idx];
            (p.sym, p.side, p.volume)
        };
        let spec = self.symbols[sym].spec.clone();
        self.check_permissions(&spec, TradeAction::Manage)?;
        self.check_market_open(sym)?;
        let volume = volume.unwrap_or(pos_volume);
        if volume > pos_volume {
            return Err(reject(
                Retcode::InvalidCloseVolume,
                format!("close volume {volume} exceeds position volume {pos_volume}"),
            ));
        }
        if volume <= Decimal::ZERO || !(volume % spec.volume_step).is_zero() {
            return Err(reject(
                Retcode::InvalidVolume,
                format!(
                    "close volume {volume} is not a positive multiple of {}",
                    spec.volume_step
                ),
            ));
        }
        let price_f = self.market_price(sym, side.opposite());
        let price = self.symbols[sym]
            .normalized(price_f)
            .ok_or_else(|| reject(Retcode::PriceOff, "no price"))?;
        let order = self.take_order_ticket();
        let magic = self.positions[idx].magic;
        let deal = self.close_volume(
            idx,
            volume,
            price,
            FillCause::Request,
            Some(&Fill {
                sym,
                side: side.opposite(),
                volume,
                price,
                sl: None,
                tp: None,
                magic,
                comment: "close",
                order,
                cause: FillCause::Request,
                margin: None,
            }),
        )?;
        Ok(self.outcome(
            sym,
            Retcode::Done,
            Some(deal),
            order,
            Some(ticket),
            volume,
            price,
            "Request executed",
        ))
    }

    /// Deletes a pending order, refusing within the freeze level of its activation price (10029).
    pub fn cancel_order(&mut self, ticket: Ticket) -> Result<OrderOutcome, BrokerError> {
        let idx = self
            .pending
            .iter()
            .position(|o| o.ticket == ticket.0)
            .ok_or_else(|| {
                reject(
                    Retcode::Invalid,
                    format!("pending order {ticket} not found"),
                )
            })?;
        let (sym, side, kind, price, volume) = {
            let o = &self.pending[idx];
            (o.sym, o.side, o.kind, o.price, o.volume)
        };
        let spec = self.symbols[sym].spec.clone();
        self.check_permissions(&spec, TradeAction::Manage)?;
        if self.symbols[sym].has_quote {
            rules::order_freeze(&spec, side, kind, price, self.quote(sym))
                .map_err(|v| reject(v.retcode(), format!("order {ticket}: {v}")))?;
        }
        self.pending.remove(idx);
        Ok(self.answer(self.outcome(
            sym,
            Retcode::Done,
            None,
            ticket.0,
            None,
            volume,
            price,
            "Request executed",
        )))
    }
}
