//! MT5 trade server return codes (`TRADE_RETCODE_*`) and what a caller should do about each.
//!
//! Values and meanings from the MQL5 reference, "Trade Server Return Codes".

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a return code tells the order executor to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetcodeClass {
    /// The request was executed in full.
    Done,
    /// Part of the volume was filled; the remainder was not.
    DonePartial,
    /// A pending order was placed.
    Placed,
    /// The price moved: the same intent may be sent again with a fresh price.
    RetryWithFreshPrice,
    /// The request may have been sent but the terminal could not process it now (no connection to
    /// the server, too many requests); after a pause, reconcile and retry.
    RetryLater,
    /// The request may or may not have been executed. Never resend: reconcile with the broker.
    OutcomeUnknown,
    /// Refused; sending the same request again will fail the same way.
    Rejected,
}

macro_rules! retcodes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $class:ident, $text:literal; )*) => {
        /// An MT5 trade return code. Unknown numbers are kept in [`Retcode::Other`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Retcode {
            $( $(#[$doc])* $name, )*
            /// A code this version of MTQ does not know.
            Other(u32),
        }

        impl Retcode {
            pub const ALL: &'static [Retcode] = &[$(Retcode::$name,)*];

            pub fn from_code(code: u32) -> Self {
                match code {
                    $( $code => Retcode::$name, )*
                    other => Retcode::Other(other),
                }
            }

            pub fn code(self) -> u32 {
                match self {
                    $( Retcode::$name => $code, )*
                    Retcode::Other(c) => c,
                }
            }

            pub fn class(self) -> RetcodeClass {
                match self {
                    $( Retcode::$name => RetcodeClass::$class, )*
                    Retcode::Other(_) => RetcodeClass::Rejected,
                }
            }

            /// MT5's description of the code.
            pub fn description(self) -> &'static str {
                match self {
                    $( Retcode::$name => $text, )*
                    Retcode::Other(_) => "unknown return code",
                }
            }
        }
    };
}

retcodes! {
    Requote = 10004, RetryWithFreshPrice, "requote";
    Reject = 10006, Rejected, "request rejected";
    Cancel = 10007, Rejected, "request canceled by trader";
    Placed = 10008, Placed, "order placed";
    Done = 10009, Done, "request completed";
    DonePartial = 10010, DonePartial, "only part of the request was completed";
    /// Ambiguous in MT5's documentation; treated as a refusal (no retry, so no duplicate either).
    Error = 10011, Rejected, "request processing error";
    Timeout = 10012, OutcomeUnknown, "request canceled by timeout";
    Invalid = 10013, Rejected, "invalid request";
    InvalidVolume = 10014, Rejected, "invalid volume in the request";
    InvalidPrice = 10015, Rejected, "invalid price in the request";
    InvalidStops = 10016, Rejected, "invalid stops in the request";
    TradeDisabled = 10017, Rejected, "trade is disabled";
    MarketClosed = 10018, Rejected, "market is closed";
    NoMoney = 10019, Rejected, "there is not enough money to complete the request";
    PriceChanged = 10020, RetryWithFreshPrice, "prices changed";
    PriceOff = 10021, RetryWithFreshPrice, "there are no quotes to process the request";
    InvalidExpiration = 10022, Rejected, "invalid order expiration date in the request";
    OrderChanged = 10023, Rejected, "order state changed";
    TooManyRequests = 10024, RetryLater, "too frequent requests";
    NoChanges = 10025, Rejected, "no changes in request";
    ServerDisablesAutoTrading = 10026, Rejected, "autotrading disabled by server";
    ClientDisablesAutoTrading = 10027, Rejected, "autotrading disabled by client terminal";
    /// The server is still processing the request: its outcome is not known yet.
    Locked = 10028, OutcomeUnknown, "request locked for processing";
    Frozen = 10029, Rejected, "order or position frozen";
    InvalidFill = 10030, Rejected, "invalid order filling type";
    Connection = 10031, RetryLater, "no connection with the trade server";
    OnlyReal = 10032, Rejected, "operation is allowed only for live accounts";
    LimitOrders = 10033, Rejected, "the number of pending orders has reached the limit";
    LimitVolume = 10034, Rejected, "the volume of orders and positions for the symbol has reached the limit";
    InvalidOrder = 10035, Rejected, "incorrect or prohibited order type";
    PositionClosed = 10036, Rejected, "position with the specified identifier has already been closed";
    InvalidCloseVolume = 10038, Rejected, "a close volume exceeds the current position volume";
    CloseOrderExist = 10039, Rejected, "a close order already exists for the position";
    LimitPositions = 10040, Rejected, "the number of open positions has reached the limit";
    RejectCancel = 10041, Rejected, "the pending order activation request is rejected, the order is canceled";
    LongOnly = 10042, Rejected, "only long positions are allowed for the symbol";
    ShortOnly = 10043, Rejected, "only short positions are allowed for the symbol";
    CloseOnly = 10044, Rejected, "only position closing is allowed for the symbol";
    FifoClose = 10045, Rejected, "position closing is allowed only by FIFO rule";
    HedgeProhibited = 10046, Rejected, "opposite positions on a single symbol are disabled";
}

impl Retcode {
    /// True for the codes after which the request took effect (done, partial, placed).
    pub fn is_success(self) -> bool {
        matches!(
            self.class(),
            RetcodeClass::Done | RetcodeClass::DonePartial | RetcodeClass::Placed
        )
    }
}

impl fmt::Display for Retcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

impl Serialize for Retcode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for Retcode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Retcode::from_code(u32::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_number() {
        for &rc in Retcode::ALL {
            assert_eq!(Retcode::from_code(rc.code()), rc);
        }
        assert_eq!(Retcode::ALL.len(), 41);
        assert_eq!(Retcode::from_code(10037), Retcode::Other(10037));
    }

    #[test]
    fn price_moves_are_retryable_and_timeouts_are_never_resent() {
        assert_eq!(Retcode::Requote.class(), RetcodeClass::RetryWithFreshPrice);
        assert_eq!(
            Retcode::PriceChanged.class(),
            RetcodeClass::RetryWithFreshPrice
        );
        assert_eq!(Retcode::PriceOff.class(), RetcodeClass::RetryWithFreshPrice);
        assert_eq!(Retcode::Timeout.class(), RetcodeClass::OutcomeUnknown);
        assert_eq!(Retcode::NoMoney.class(), RetcodeClass::Rejected);
        assert_eq!(Retcode::InvalidFill.class(), RetcodeClass::Rejected);
        assert!(Retcode::Done.is_success() && Retcode::Placed.is_success());
        assert!(!Retcode::Requote.is_success());
    }

    #[test]
    fn display_gives_number_and_meaning() {
        assert_eq!(
            Retcode::NoMoney.to_string(),
            "10019 (there is not enough money to complete the request)"
        );
    }
}
