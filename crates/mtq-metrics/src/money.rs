//! Counters of money. The `metrics` facade's counters are whole numbers, and P&L is not: gross
//! profit, gross loss, commission and swap are kept here as exact `Decimal` sums and rendered as
//! Prometheus counters beside the recorder's output ([`crate::render`]). They change once per
//! deal, so one mutex is no cost to speak of.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use rust_decimal::Decimal;

use crate::names;

type Labels = Vec<(&'static str, String)>;

type Sums = BTreeMap<&'static str, BTreeMap<Labels, Decimal>>;

static SUMS: Mutex<Sums> = Mutex::new(BTreeMap::new());

/// Adds `amount` (made positive) to the counter `name` with `labels`.
pub fn add(name: &'static str, labels: &[(&'static str, &str)], amount: Decimal) {
    let key: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
    let mut sums = SUMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *sums
        .entry(name)
        .or_default()
        .entry(key)
        .or_insert(Decimal::ZERO) += amount.abs();
}

/// The current value of one series (tests, the API).
pub fn value(name: &str, labels: &[(&str, &str)]) -> Option<Decimal> {
    let sums = SUMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    sums.get(name)?.iter().find_map(|(k, v)| {
        (k.len() == labels.len() && k.iter().zip(labels).all(|(a, b)| a.0 == b.0 && a.1 == b.1))
            .then_some(*v)
    })
}

/// The money counters in the Prometheus text format (HELP, TYPE, one line per series).
pub fn render(out: &mut String) {
    let sums = SUMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (name, series) in sums.iter() {
        let help = names::find(name).map_or("", |m| m.help);
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (labels, v) in series {
            let _ = write!(out, "{name}");
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, val)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape(val));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", v.normalize());
        }
        out.push('\n');
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
