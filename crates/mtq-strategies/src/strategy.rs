//! The [`Strategy`] trait and the read-only [`Context`] it sees on each closed bar.

use std::fmt;

use mtq_core::{Bar, Position, Side, Signal, SignalKind, SymbolSpec, Timeframe};

/// A trading strategy: closed bars in, at most one [`Signal`] out.
///
/// Synchronous, no I/O, no clock of its own (time is the bar's open time) and deterministic: the
/// same bars and contexts give the same signals, in a backtest and live. Strategies never size
/// or send orders; the trader core passes their signals through risk checks and sizing.
///
/// How the trader core calls it:
/// 1. build it with [`registry::build`](crate::registry::build) from the symbol's config entry;
/// 2. feed [`warmup_bars`](Strategy::warmup_bars) bars of history (more for
///    [`higher_timeframes`](Strategy::higher_timeframes), see
///    [`history_bars`](crate::history_bars)) through [`on_bar`](Strategy::on_bar), ignoring what
///    it returns;
/// 3. then call `on_bar` once per closed bar of the entry timeframe with a [`Context`] holding
///    the symbol's spec, the higher-timeframe bars closed so far
///    ([`HigherTimeframes`](crate::HigherTimeframes) keeps them) and this strategy's open
///    positions on the symbol.
///
/// What a signal means:
/// - `Buy` / `Sell`: enter at market at the next price. Every strategy here leaves
///   [`Signal::entry`] at `None` (market entry, as `mtq-core` defines it) and sets `sl` and `tp`
///   as absolute prices measured from the bar's close by its [`StopsConfig`](crate::StopsConfig).
///   When the strategy holds positions on the other side, the entry **reverses**: close them,
///   then enter (the reason says so). This is how `crossover` stays always in the market.
/// - `Close`: close this strategy's positions on the symbol.
/// - `Hold`: no action; [`Filtered`](crate::Filtered) returns it for an entry a filter blocked,
///   so that the signal log records why.
///
/// After warm-up `on_bar` does not allocate unless it returns a signal (the reason is a
/// `String`).
pub trait Strategy: Send + fmt::Debug {
    /// The registry name, e.g. `crossover`.
    fn name(&self) -> &'static str;

    /// Closed bars of the entry timeframe to feed before the strategy can signal.
    fn warmup_bars(&self) -> usize;

    /// Higher timeframes the strategy reads from [`Context::higher`], with the closed bars of
    /// each it needs before it can signal.
    fn higher_timeframes(&self) -> &[HigherNeed] {
        &[]
    }

    /// The effective parameters as config spells them (defaults filled in): for logs, reports and
    /// the optimiser.
    fn params(&self) -> serde_json::Value;

    /// One closed bar of the entry timeframe. Returns at most one signal.
    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal>;

    /// A closed bar announced before [`Strategy::on_bar`] takes it: when the trader closes a
    /// bar of several symbols at once, each symbol's strategy is told first, then each is asked
    /// `on_bar` with the same bar and context. A strategy that shares work across symbols does
    /// its own part here (the ML filter takes the bar into its features and marks its model's
    /// window wanted, so the model runs every symbol's window in one batch); `on_bar` with the
    /// same bar then finishes and gives exactly what it would have given without this call.
    /// The default does nothing; a backtest never calls it.
    fn prepare_bar(&mut self, _bar: &Bar, _ctx: &Context<'_>) {}

    /// Closed bars in a row, each as [`Strategy::on_bar`] would take it, up to the first that
    /// signals or the first that `take` refuses (`take(i)` is asked just before `bars[i]` is
    /// taken, in order): how many bars were taken, and the signal of the last one taken if it
    /// signalled. The bars after it are not taken. The context holds for all of them (a
    /// backtest's quiet stretch: the same positions, no higher-timeframe bars; `take` is where
    /// the backtest checks that the next bar's open is quiet, so that no bar is looked at ahead
    /// of the strategy in vain). A strategy overrides this only to do the same work faster; the
    /// default takes one bar at a time. The default body is compiled for each strategy, so its
    /// loop calls `on_bar` directly (one virtual call a run instead of one a bar). Without it,
    /// the trader core looping `on_bar` through `Box<dyn Strategy>` cost 6% more instructions
    /// in a quiet backtest (crossover 100/400, 200,000 bars: 81.2 M instead of 76.8 M).
    /// `crossover`, which optimisers sweep, has its `on_bar` always inlined into this loop.
    fn on_bars(
        &mut self,
        bars: &[Bar],
        ctx: &Context<'_>,
        take: &mut dyn FnMut(usize) -> bool,
    ) -> (usize, Option<Signal>) {
        for (i, bar) in bars.iter().enumerate() {
            if !take(i) {
                return (i, None);
            }
            if let Some(s) = self.on_bar(bar, ctx) {
                return (i + 1, Some(s));
            }
        }
        (bars.len(), None)
    }
}

/// A higher timeframe a strategy reads, and how many of its closed bars it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HigherNeed {
    pub timeframe: Timeframe,
    pub bars: usize,
}

/// Closed bars of one higher timeframe, oldest first, the newest last. Any recent window will
/// do as long as it holds every bar closed since the previous call.
#[derive(Debug, Clone, Copy)]
pub struct HigherBars<'a> {
    pub timeframe: Timeframe,
    pub closed: &'a [Bar],
}

/// What a strategy may read besides the bar. Everything is borrowed and read-only.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The symbol and how it trades (pip size, digits...).
    pub spec: &'a SymbolSpec,
    /// The entry timeframe, the one `on_bar` is called on.
    pub timeframe: Timeframe,
    /// Closed higher-timeframe bars from the resampler.
    pub higher: &'a [HigherBars<'a>],
    /// This strategy's open positions on the symbol.
    pub positions: &'a [Position],
}

impl<'a> Context<'a> {
    /// A context with no higher-timeframe bars and no open positions.
    pub fn new(spec: &'a SymbolSpec, timeframe: Timeframe) -> Self {
        Self {
            spec,
            timeframe,
            higher: &[],
            positions: &[],
        }
    }

    pub fn with_higher(mut self, higher: &'a [HigherBars<'a>]) -> Self {
        self.higher = higher;
        self
    }

    pub fn with_positions(mut self, positions: &'a [Position]) -> Self {
        self.positions = positions;
        self
    }

    /// The closed bars of `timeframe`, empty when the context has none.
    pub fn higher_bars(&self, timeframe: Timeframe) -> &'a [Bar] {
        self.higher
            .iter()
            .find(|h| h.timeframe == timeframe)
            .map_or(&[], |h| h.closed)
    }

    /// Whether the strategy holds a position on `side`.
    pub fn holds(&self, side: Side) -> bool {
        self.positions.iter().any(|p| p.side == side)
    }

    /// One pip of the symbol as a series price (`0.0001` for EURUSD).
    pub fn pip(&self) -> f64 {
        f64::try_from(self.spec.pip_size()).unwrap_or(0.0)
    }
}

/// The signal kind that enters on `side`.
pub(crate) fn kind_of(side: Side) -> SignalKind {
    match side {
        Side::Buy => SignalKind::Buy,
        Side::Sell => SignalKind::Sell,
    }
}

pub(crate) fn side_word(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// Builds an entry signal on `side` at the bar's close, with the strategy's stops. `None` when
/// the stops cannot be placed yet (their indicators are still warming up).
pub(crate) fn entry<'r>(
    ctx: &Context<'_>,
    bar: &Bar,
    side: Side,
    confidence: f64,
    strategy: &'static str,
    stops: &crate::stops::Stops,
    reason: impl Into<std::borrow::Cow<'r, str>>,
) -> Option<Signal> {
    let (sl, tp) = stops.levels(side, bar.close, stops.pip(ctx.spec))?;
    let reason = reason.into();
    let reason = if ctx.holds(side.opposite()) {
        // One allocation of the full length (appending to an owned reason would grow it again).
        const REVERSES: &str = "; reverses the open ";
        let opposite = side_word(side.opposite());
        let mut full = String::with_capacity(reason.len() + REVERSES.len() + opposite.len());
        full.push_str(&reason);
        full.push_str(REVERSES);
        full.push_str(opposite);
        full
    } else {
        reason.into_owned()
    };
    let confidence = if confidence.is_finite() {
        confidence.clamp(0.0, 1.0)
    } else {
        0.0
    };
    Signal::new(
        ctx.spec.symbol.clone(),
        ctx.timeframe,
        bar.time,
        kind_of(side),
        confidence,
        strategy,
        reason,
    )
    .ok()
    .map(|s| s.with_levels(None, sl, tp))
}

/// Closed bars of the entry timeframe to feed a strategy before trading: its own warm-up, or
/// enough entry bars to produce the higher-timeframe bars it needs, whichever is more.
pub fn history_bars(strategy: &dyn Strategy, timeframe: Timeframe) -> usize {
    let base = usize::try_from(timeframe.seconds())
        .unwrap_or(usize::MAX)
        .max(1);
    strategy
        .higher_timeframes()
        .iter()
        .map(|n| {
            let per = usize::try_from(n.timeframe.seconds()).unwrap_or(usize::MAX) / base;
            // One extra higher bar: the first one resampled may be partial.
            (n.bars + 1).saturating_mul(per.max(1))
        })
        .fold(strategy.warmup_bars(), usize::max)
}
