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

    /// `prefix-` and `value` in 16 lower-case hex digits (`format!("{prefix}-{value:016x}")`),
    /// checked as [`ClientOrderId::new`] checks an id. Built in one allocation without the
    /// formatting machinery: a backtest makes one id per trade.
    pub fn prefixed_hex(prefix: &str, value: u64) -> Result<Self, CoreError> {
        const HEX: usize = 17;
        // The hex part is ASCII graphic by construction: only the prefix needs the check.
        if prefix.is_empty()
            || prefix.len() + HEX > MAX_COMMENT_LEN
            || !prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(CoreError::InvalidClientOrderId(format!(
                "{prefix}-{value:016x}"
            )));
        }
        let mut buf = [0u8; MAX_COMMENT_LEN];
        let n = prefix.len();
        buf[..n].copy_from_slice(prefix.as_bytes());
        buf[n] = b'-';
        buf[n + 1..n + 9].copy_from_slice(&hex8(value >> 32));
        buf[n + 9..n + HEX].copy_from_slice(&hex8(value));
        // ASCII throughout, so the conversion cannot fail.
        let id = std::str::from_utf8(&buf[..n + HEX])
            .map_err(|_| CoreError::InvalidClientOrderId(prefix.to_string()))?;
        Ok(Self(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The 8 hex digits of `x`'s low 32 bits, most significant first, lower case, without a loop:
/// each nibble spread into a byte of its own (byte `i` of the little-endian word holds nibble
/// `i`), then `'0'` added to every byte and, where the nibble is 10 or more, the 39 more that
/// reach `'a'` (no byte carries into the next: at most 15 + 48 + 39).
fn hex8(x: u64) -> [u8; 8] {
    let mut v = x & 0xFFFF_FFFF;
    v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    let ten_or_more = ((v + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (v + 0x3030_3030_3030_3030 + ten_or_more * 39).to_be_bytes()
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

    #[test]
    fn prefixed_hex_is_the_formatted_id() {
        // Every nibble value in every position, and a spread of others.
        let mut values: Vec<u64> = (0..16u64)
            .flat_map(|d| (0..16).map(move |k| d << (4 * k)))
            .collect();
        values.extend([0, u64::MAX, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x);
        }
        for v in values {
            for prefix in ["mtq", "A", "abcdefghijklmn"] {
                let id = ClientOrderId::prefixed_hex(prefix, v).unwrap();
                assert_eq!(id.as_str(), format!("{prefix}-{v:016x}"));
                assert_eq!(
                    id,
                    ClientOrderId::new(&format!("{prefix}-{v:016x}")).unwrap()
                );
            }
        }
    }

    #[test]
    fn prefixed_hex_refuses_what_new_refuses() {
        assert!(ClientOrderId::prefixed_hex("", 1).is_err());
        assert!(ClientOrderId::prefixed_hex("has space", 1).is_err());
        assert!(ClientOrderId::prefixed_hex("é", 1).is_err());
        // 14 + 17 = 31 fits; 15 + 17 does not.
        assert!(ClientOrderId::prefixed_hex(&"a".repeat(14), 1).is_ok());
        assert!(ClientOrderId::prefixed_hex(&"a".repeat(15), 1).is_err());
    }
}
