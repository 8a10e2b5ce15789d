//! The two column types diesel does not map the way MTQ needs on both backends.
//!
//! - [`Money`]: an exact `Decimal`. PostgreSQL stores it as `NUMERIC`; SQLite as decimal `TEXT`,
//!   because diesel's own `Numeric` maps SQLite to `f64`, which loses cents.
//! - [`UtcTimestamp`]: a UTC instant. PostgreSQL stores it as `TIMESTAMPTZ`; SQLite as fixed-width
//!   RFC 3339 `TEXT` with microseconds and a `Z`, so that text order is time order and indexes on
//!   time columns work.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::pg::data_types::PgNumeric;
use diesel::query_builder::QueryId;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, Numeric, SqlType, Text, Timestamptz};
use diesel::sqlite::Sqlite;
use rust_decimal::Decimal;

use crate::conn::MultiBackend;

/// SQL type of money columns: `NUMERIC` on PostgreSQL, decimal `TEXT` on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 1700, array_oid = 1231))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Money;

/// SQL type of time columns: `TIMESTAMPTZ` on PostgreSQL, RFC 3339 `TEXT` on SQLite.
#[derive(Clone, Copy, Debug, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct UtcTimestamp;

/// A `Decimal` on its way to or from a [`Money`] column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Money)]
pub(crate) struct DbDecimal(pub(crate) Decimal);

/// A UTC time on its way to or from a [`UtcTimestamp`] column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = UtcTimestamp)]
pub(crate) struct DbTime(pub(crate) DateTime<Utc>);

impl From<Decimal> for DbDecimal {
    fn from(d: Decimal) -> Self {
        Self(d)
    }
}

impl From<DateTime<Utc>> for DbTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

/// The SQLite text form of a time: `2024-03-01T12:00:00.000000Z`.
pub(crate) fn sqlite_time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// What a SQLite money column gives back for `d`: its text, parsed.
pub(crate) fn sqlite_read_back(d: Decimal) -> Decimal {
    let text = d.to_string();
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_str(&text))
        .unwrap_or(d)
}

/// What a PostgreSQL money column gives back for `d`: its `NUMERIC` wire form, decoded.
pub(crate) fn postgres_read_back(d: Decimal) -> Decimal {
    pg_numeric_to_decimal(&decimal_to_pg_numeric(d)).unwrap_or(d)
}

// ---- MultiBackend: dispatch to the backend in use. ----

impl HasSqlType<Money> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<Money>(lookup)
    }
}

impl HasSqlType<UtcTimestamp> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<UtcTimestamp>(lookup)
    }
}

impl FromSql<Money, MultiBackend> for DbDecimal {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbDecimal, Money>()
    }
}

impl ToSql<Money, MultiBackend> for DbDecimal {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Money, self));
        Ok(IsNull::No)
    }
}

impl FromSql<UtcTimestamp, MultiBackend> for DbTime {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbTime, UtcTimestamp>()
    }
}

impl ToSql<UtcTimestamp, MultiBackend> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((UtcTimestamp, self));
        Ok(IsNull::No)
    }
}

// ---- SQLite: text. ----

impl FromSql<Money, Sqlite> for DbDecimal {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Decimal::from_str_exact(text.trim())
            .or_else(|_| Decimal::from_str(text.trim()))
            .map(DbDecimal)
            .map_err(|e| format!("money column holds {text:?}, not a decimal: {e}").into())
    }
}

impl ToSql<Money, Sqlite> for DbDecimal {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<UtcTimestamp, Sqlite> for DbTime {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| DbTime(t.with_timezone(&Utc)))
            .map_err(|e| format!("time column holds {text:?}, not RFC 3339: {e}").into())
    }
}

impl ToSql<UtcTimestamp, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(sqlite_time_text(&self.0));
        Ok(IsNull::No)
    }
}

// ---- PostgreSQL: NUMERIC and TIMESTAMPTZ in the binary protocol. ----

impl FromSql<Money, Pg> for DbDecimal {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let numeric = <PgNumeric as FromSql<Numeric, Pg>>::from_sql(value)?;
        pg_numeric_to_decimal(&numeric).map(DbDecimal)
    }
}

impl ToSql<Money, Pg> for DbDecimal {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        let numeric = decimal_to_pg_numeric(self.0);
        <PgNumeric as ToSql<Numeric, Pg>>::to_sql(&numeric, &mut out.reborrow())
    }
}

impl FromSql<UtcTimestamp, Pg> for DbTime {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(value).map(DbTime)
    }
}

impl ToSql<UtcTimestamp, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(&self.0, &mut out.reborrow())
    }
}

/// PostgreSQL's NUMERIC wire form: base-10000 digit groups, the weight (power of 10000) of the
/// first group, and the display scale (digits after the point).
pub(crate) fn decimal_to_pg_numeric(d: Decimal) -> PgNumeric {
    let scale = u16::try_from(d.scale()).unwrap_or(0);
    let text = d.abs().to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let int_part = int_part.trim_start_matches('0');
    // Pad both parts to whole groups of four digits around the decimal point.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let mut padded = String::with_capacity(int_part.len() + frac_part.len() + 8);
    padded.extend(std::iter::repeat_n('0', int_pad));
    padded.push_str(int_part);
    padded.push_str(frac_part);
    padded.extend(std::iter::repeat_n('0', frac_pad));
    let int_groups = (int_part.len() + int_pad) / 4;
    let mut digits: Vec<i16> = padded
        .as_bytes()
        .chunks(4)
        .map(|c| {
            c.iter()
                .fold(0i16, |acc, b| acc * 10 + i16::from(b.saturating_sub(b'0')))
        })
        .collect();
    // A Decimal has at most 29 digits, so the group counts fit comfortably in i16.
    let mut weight = i16::try_from(int_groups).unwrap_or(i16::MAX) - 1;
    let leading = digits.iter().take_while(|g| **g == 0).count();
    digits.drain(..leading);
    weight -= i16::try_from(leading).unwrap_or(0);
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    if d.is_sign_negative() && !digits.is_empty() {
        PgNumeric::Negative {
            weight,
            scale,
            digits,
        }
    } else {
        PgNumeric::Positive {
            weight,
            scale,
            digits,
        }
    }
}

/// The inverse of [`decimal_to_pg_numeric`]; refuses NaN and values beyond `Decimal`'s 28 digits.
pub(crate) fn pg_numeric_to_decimal(n: &PgNumeric) -> deserialize::Result<Decimal> {
    let (negative, weight, scale, digits) = match n {
        PgNumeric::Positive {
            weight,
            scale,
            digits,
        } => (false, *weight, *scale, digits),
        PgNumeric::Negative {
            weight,
            scale,
            digits,
        } => (true, *weight, *scale, digits),
        PgNumeric::NaN => return Err("NUMERIC NaN is not a money amount".into()),
    };
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for (i, group) in digits.iter().enumerate() {
        let position = i64::from(weight) - i64::try_from(i).unwrap_or(i64::MAX);
        let text = format!("{group:04}");
        if position >= 0 {
            int_part.push_str(&text);
        } else {
            // Groups skipped between the point and this one are zeros.
            let expected_len = usize::try_from(-position - 1).unwrap_or(0) * 4;
            while frac_part.len() < expected_len {
                frac_part.push('0');
            }
            frac_part.push_str(&text);
        }
    }
    // Trailing zero groups before the point that the wire form omits.
    let last_position = i64::from(weight) - i64::try_from(digits.len()).unwrap_or(0) + 1;
    if !digits.is_empty() && last_position > 0 {
        for _ in 0..last_position {
            int_part.push_str("0000");
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let text = format!(
        "{}{}.{}",
        if negative { "-" } else { "" },
        int_part,
        if frac_part.is_empty() {
            "0"
        } else {
            &frac_part
        }
    );
    let mut value = Decimal::from_str_exact(&text)
        .map_err(|e| format!("NUMERIC {text} does not fit a Decimal: {e}"))?;
    // Restores the display scale, e.g. 1.50 stays 1.50.
    value.rescale(u32::from(scale));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn decimals_round_trip_through_the_postgres_numeric_form() {
        for d in [
            dec!(0),
            dec!(0.00),
            dec!(1),
            dec!(-1),
            dec!(10000),
            dec!(100000000),
            dec!(1.08125),
            dec!(-1234.5),
            dec!(0.00001),
            dec!(151.235),
            dec!(12345678901234567890.12345678),
            dec!(-0.0001),
        ] {
            let back = pg_numeric_to_decimal(&decimal_to_pg_numeric(d)).unwrap();
            assert_eq!(back, d, "{d}");
            assert_eq!(back.scale(), d.scale(), "scale of {d}");
        }
    }

    #[test]
    fn numeric_form_matches_postgres_for_known_values() {
        assert_eq!(
            decimal_to_pg_numeric(dec!(1.08125)),
            PgNumeric::Positive {
                weight: 0,
                scale: 5,
                digits: vec![1, 812, 5000]
            }
        );
        assert_eq!(
            decimal_to_pg_numeric(dec!(-20000)),
            PgNumeric::Negative {
                weight: 1,
                scale: 0,
                digits: vec![2]
            }
        );
    }

    #[test]
    fn sqlite_times_are_fixed_width_so_text_order_is_time_order() {
        let a = DateTime::parse_from_rfc3339("2024-03-01T09:00:00Z").unwrap();
        let b = DateTime::parse_from_rfc3339("2024-03-01T10:00:00.5Z").unwrap();
        let (ta, tb) = (
            sqlite_time_text(&a.with_timezone(&Utc)),
            sqlite_time_text(&b.with_timezone(&Utc)),
        );
        assert_eq!(ta, "2024-03-01T09:00:00.000000Z");
        assert!(ta < tb);
    }
}
