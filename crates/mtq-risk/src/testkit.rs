//! Fixtures local to the crate's unit tests. Specs, symbols, rates, times and accounts are
//! mtq-core's canonical ones (`mtq_core::testkit`), under the short names these tests use.

use mtq_core::testkit::PositionBuilder;
pub(crate) use mtq_core::testkit::{account, at as t, rates, spec, symbol as sym};
use mtq_core::{Decimal, Position, Side};

/// A risk-managed open position (magic 7, opened Monday 08:00 UTC) at `open_price`, marked at
/// its open price.
pub(crate) fn position(
    ticket: u64,
    symbol: &str,
    side: Side,
    volume: Decimal,
    open_price: Decimal,
    sl: Option<Decimal>,
) -> Position {
    PositionBuilder::new(symbol, side)
        .ticket(ticket)
        .volume(volume)
        .open_price(open_price)
        .opened(t("2024-03-04T08:00:00Z"))
        .sl(sl)
        .magic(7)
        .build()
}
