//! Market data: bars and ticks. Series values are `f64`, as MT5 and TA-Lib use them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// One OHLC bar, MT5's `MqlRates`. Prices are bid prices, as MT5 charts draw them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Open time of the bar, UTC.
    pub time: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Number of ticks in the bar (`tick_volume`).
    pub tick_volume: u64,
    /// Exchange volume (`real_volume`); zero for most forex feeds.
    pub real_volume: u64,
    /// Spread in points at the bar (`spread`); zero when the feed has none.
    pub spread: u32,
}

impl Bar {
    /// Checks what a bar must satisfy before anything trusts it: finite positive prices and
    /// `low <= open, close <= high`.
    pub fn validate(&self) -> Result<(), CoreError> {
        let prices = [self.open, self.high, self.low, self.close];
        if prices.iter().any(|p| !p.is_finite() || *p <= 0.0) {
            return Err(CoreError::InvalidBar {
                time: self.time,
                reason: "prices must be finite and positive",
            });
        }
        if self.low > self.open.min(self.close) || self.high < self.open.max(self.close) {
            return Err(CoreError::InvalidBar {
                time: self.time,
                reason: "low must not exceed open/close and high must not be below them",
            });
        }
        Ok(())
    }
}

/// One price update, MT5's `MqlTick`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub time: DateTime<Utc>,
    pub bid: f64,
    pub ask: f64,
    /// Last deal price; zero for forex quotes.
    pub last: f64,
    /// Volume of the last deal; zero for forex quotes.
    pub volume: u64,
}

impl Tick {
    pub fn spread(&self) -> f64 {
        self.ask - self.bid
    }

    pub fn mid(&self) -> f64 {
        (self.ask + self.bid) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::BarBuilder;

    fn bar(o: f64, h: f64, l: f64, c: f64) -> Bar {
        BarBuilder::new()
            .at(DateTime::UNIX_EPOCH)
            .ohlc(o, h, l, c)
            .tick_volume(1)
            .build()
    }

    #[test]
    fn a_bar_whose_high_is_below_its_close_is_refused() {
        assert!(bar(1.1, 1.2, 1.0, 1.15).validate().is_ok());
        assert!(bar(1.1, 1.12, 1.0, 1.15).validate().is_err());
        assert!(bar(1.1, 1.2, 1.11, 1.15).validate().is_err());
        assert!(bar(f64::NAN, 1.2, 1.0, 1.15).validate().is_err());
    }
}
