//! Client order ids: short, ASCII, unique, and the same for the same signal.

use chrono::{DateTime, Utc};
use mtq_core::{ClientOrderId, CoreError, Side, Symbol};

/// Longest prefix that leaves room for `-` and 16 hex digits inside MT5's 31-character comment.
pub const MAX_PREFIX_LEN: usize = 14;

/// FNV-1a, 64 bit: a fixed, documented hash (Fowler, Noll, Vo), so an id computed today is the
/// same id after an upgrade or a restart.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The client order id of the entry a signal asks for: `prefix-` and 16 hex digits of a hash of
/// the symbol, strategy, bar time and side. The same signal always yields the same id, so a
/// signal replayed after a restart or processed twice is caught by the intent store's unique id
/// instead of becoming a second order.
pub fn signal_order_id(
    prefix: &str,
    symbol: &Symbol,
    strategy: &str,
    bar_time: DateTime<Utc>,
    side: Side,
) -> Result<ClientOrderId, CoreError> {
    check_prefix(prefix)?;
    let side = match side {
        Side::Buy => b"buy".as_slice(),
        Side::Sell => b"sell".as_slice(),
    };
    let time = bar_time.timestamp().to_le_bytes();
    let h = fnv1a(&[symbol.as_str().as_bytes(), strategy.as_bytes(), &time, side]);
    ClientOrderId::prefixed_hex(prefix, h)
}

/// Checks a client-order-id prefix: 1 to [`MAX_PREFIX_LEN`] ASCII letters or digits.
pub fn check_prefix(prefix: &str) -> Result<(), CoreError> {
    if prefix.is_empty()
        || prefix.len() > MAX_PREFIX_LEN
        || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(CoreError::InvalidClientOrderId(format!(
            "{prefix} (the id prefix must be 1 to {MAX_PREFIX_LEN} ASCII letters or digits)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit::at as t;

    #[test]
    fn the_id_is_the_prefix_and_the_hash_in_sixteen_hex_digits() {
        let eu = Symbol::new("EURUSD").unwrap();
        let mut time = t("2024-01-01T00:00:00Z");
        for i in 0..2_000 {
            time += chrono::Duration::seconds(300 * i);
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            let id = signal_order_id("mtq", &eu, "crossover", time, side).unwrap();
            let words: &[&[u8]] = &[
                b"EURUSD",
                b"crossover",
                &time.timestamp().to_le_bytes(),
                if side == Side::Buy { b"buy" } else { b"sell" },
            ];
            assert_eq!(id.as_str(), format!("mtq-{:016x}", fnv1a(words)));
        }
    }

    #[test]
    fn the_same_signal_always_gets_the_same_id_and_others_differ() {
        let eu = Symbol::new("EURUSD").unwrap();
        let a = signal_order_id(
            "mtq",
            &eu,
            "crossover",
            t("2024-03-04T10:00:00Z"),
            Side::Buy,
        )
        .unwrap();
        let b = signal_order_id(
            "mtq",
            &eu,
            "crossover",
            t("2024-03-04T10:00:00Z"),
            Side::Buy,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 20);
        let other_bar = signal_order_id(
            "mtq",
            &eu,
            "crossover",
            t("2024-03-04T10:05:00Z"),
            Side::Buy,
        )
        .unwrap();
        let other_side = signal_order_id(
            "mtq",
            &eu,
            "crossover",
            t("2024-03-04T10:00:00Z"),
            Side::Sell,
        )
        .unwrap();
        let other_strategy =
            signal_order_id("mtq", &eu, "rsi", t("2024-03-04T10:00:00Z"), Side::Buy).unwrap();
        assert!(a != other_bar && a != other_side && a != other_strategy);
    }

    #[test]
    fn a_long_or_odd_prefix_is_refused() {
        let eu = Symbol::new("EURUSD").unwrap();
        assert!(
            signal_order_id(
                "abcdefghijklmnopq",
                &eu,
                "x",
                DateTime::UNIX_EPOCH,
                Side::Buy
            )
            .is_err()
        );
        assert!(signal_order_id("a b", &eu, "x", DateTime::UNIX_EPOCH, Side::Buy).is_err());
        let longest =
            signal_order_id("abcdefghijklmn", &eu, "x", DateTime::UNIX_EPOCH, Side::Buy).unwrap();
        assert_eq!(longest.as_str().len(), 31);
    }
}
