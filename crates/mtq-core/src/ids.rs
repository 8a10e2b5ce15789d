//! Identifiers: our client order ids, the broker's tickets, the account's magic number.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::CoreError;

/// Longest comment an MT5 trade request carries (`MqlTradeRequest::comment`, 31 characters).
pub const MAX_COMMENT_LEN: usize = 31;

/// The id MTQ gives an order before it is sent. It travels in the MT5 comment so that after a
/// timeout or a restart the order can be found again at the broker: short, ASCII, no spaces.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientOrderId(String);

impl ClientOrderId {
    pub fn new(id: &str) -> Result<Self, CoreError> {
        Self::from_string(id.to_string())
    }

    /// [`ClientOrderId::new`] taking the text it checks, without copying it.
    pub fn from_string(id: String) -> Result<Self, CoreError> {
        // Byte by byte: a byte of a multi-byte character is no ASCII graphic either.
        if id.is_empty() || id.len() > MAX_COMMENT_LEN || !id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(CoreError::InvalidClientOrderId(id));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientOrderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClientOrderId::new(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({})", self.0)
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A broker ticket: an order, deal or position number (`ulong` in MQL5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ticket(pub u64);

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The expert's magic number (`ORDER_MAGIC`): marks the orders and positions an account's bot owns.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Magic(pub u64);

impl fmt::Display for Magic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Deserializes a comment and refuses one MT5 would truncate.
pub(crate) fn bounded_comment<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.chars().count() > MAX_COMMENT_LEN {
        return Err(serde::de::Error::custom(format!(
            "comment {s:?} is longer than MT5's {MAX_COMMENT_LEN} characters"
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_id_fits_an_mt5_comment() {
        assert!(ClientOrderId::new("mtq-1-EURUSD-000042").is_ok());
        assert!(ClientOrderId::new("").is_err());
        assert!(ClientOrderId::new("has space").is_err());
        assert!(ClientOrderId::new(&"a".repeat(32)).is_err());
        assert!(ClientOrderId::new("é").is_err());
    }
}
