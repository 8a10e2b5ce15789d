//! Instrument and currency names.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CoreError;

/// Longest symbol name MT5 accepts (`SYMBOL_NAME` is a 31-character string plus terminator).
pub const MAX_SYMBOL_LEN: usize = 31;

/// A trading instrument's name as the broker spells it (`EURUSD`, `XAUUSD`, `EURUSD.m`, `GER40`).
///
/// Cloning is cheap (a shared, immutable string), so symbols can travel with every bar and event.
#[derive(Clone, Eq)]
pub struct Symbol(Arc<str>);

impl std::hash::Hash for Symbol {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

// Symbols are compared on every lookup; clones share one string, so most comparisons are
// settled by the pointer before any byte is read.
impl PartialEq for Symbol {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Ord for Symbol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            std::cmp::Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Symbol {
    /// Parses a symbol name: 1 to 31 printable ASCII characters without spaces.
    pub fn new(name: &str) -> Result<Self, CoreError> {
        let valid_char = |c: char| c.is_ascii_graphic();
        if name.is_empty() || name.len() > MAX_SYMBOL_LEN || !name.chars().all(valid_char) {
            return Err(CoreError::InvalidSymbol {
                name: name.to_string(),
                reason: "a symbol is 1 to 31 printable ASCII characters without spaces",
            });
        }
        Ok(Self(Arc::from(name)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base and quote currencies when the name starts with two ISO codes (`EURUSD`, `USDJPY.m`).
    pub fn currency_pair(&self) -> Option<(Currency, Currency)> {
        let bytes = self.0.as_bytes();
        if bytes.len() < 6 || !bytes[..6].iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let base = Currency::new(&self.0[..3]).ok()?;
        let quote = Currency::new(&self.0[3..6]).ok()?;
        Some((base, quote))
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Symbol {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Symbol::new(&s).map_err(serde::de::Error::custom)
    }
}

/// An ISO 4217-style three-letter currency code (`USD`, `JPY`, `XAU` for gold).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");
    pub const JPY: Currency = Currency(*b"JPY");
    pub const GBP: Currency = Currency(*b"GBP");

    /// Parses three ASCII letters; lower case is accepted and upper-cased.
    pub fn new(code: &str) -> Result<Self, CoreError> {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(CoreError::InvalidCurrency(code.to_string()));
        }
        Ok(Self([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Currency {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_rejects_empty_spaces_and_overlong_names() {
        assert!(Symbol::new("").is_err());
        assert!(Symbol::new("EUR USD").is_err());
        assert!(Symbol::new(&"X".repeat(32)).is_err());
        assert_eq!(Symbol::new("EURUSD.m").unwrap().as_str(), "EURUSD.m");
    }

    #[test]
    fn symbol_names_its_currency_pair_when_it_has_one() {
        let s = Symbol::new("USDJPY.pro").unwrap();
        assert_eq!(s.currency_pair(), Some((Currency::USD, Currency::JPY)));
        assert_eq!(Symbol::new("GER40").unwrap().currency_pair(), None);
    }

    #[test]
    fn symbol_and_currency_round_trip_through_json() {
        let s: Symbol = serde_json::from_str("\"EURUSD\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"EURUSD\"");
        let c: Currency = serde_json::from_str("\"usd\"").unwrap();
        assert_eq!(c, Currency::USD);
        assert!(serde_json::from_str::<Currency>("\"US\"").is_err());
    }
}
