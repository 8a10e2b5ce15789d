//! Why a trade was not taken, in words a trader understands: [`Refusal`] lives in mtq-core, so
//! that the events recording it carry it typed.

use mtq_core::Decimal;

pub use mtq_core::Refusal;

/// A money or percentage figure as a message shows it: two decimals, no trailing zeros.
pub(crate) fn shown(d: Decimal) -> Decimal {
    d.round_dp(2).normalize()
}
