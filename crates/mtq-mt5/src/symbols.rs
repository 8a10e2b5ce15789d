//! MTQ symbol names <-> the broker's (`EURUSD` <-> `EURUSD.m`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use mtq_core::Symbol;

use crate::config::SymbolMapping;

/// How MTQ found a symbol's broker name, as `mtq-trader check --broker mt5` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolSource {
    /// From the configured map (`broker.symbols`).
    Explicit,
    /// MTQ's name with the configured suffix (`--mt5-suffix`).
    Suffix,
    /// The broker uses MTQ's name as it is.
    AsIs,
    /// Found in the broker's symbol list (`symbols`).
    Discovered,
}

impl fmt::Display for SymbolSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SymbolSource::Explicit => "configured in broker.symbols",
            SymbolSource::Suffix => "configured suffix",
            SymbolSource::AsIs => "same name at the broker",
            SymbolSource::Discovered => "discovered in the broker's symbol list",
        })
    }
}

/// The mapping in force: configured names, then names learned from the terminal.
#[derive(Debug)]
pub(crate) struct SymbolNames {
    cfg: SymbolMapping,
    learned: Mutex<Learned>,
}

#[derive(Debug, Default)]
struct Learned {
    forward: HashMap<Symbol, String>,
    reverse: HashMap<String, Symbol>,
}

impl SymbolNames {
    pub(crate) fn new(cfg: SymbolMapping) -> Self {
        let mut learned = Learned::default();
        for (mtq, broker) in &cfg.explicit {
            learned.reverse.insert(broker.clone(), mtq.clone());
        }
        Self {
            cfg,
            learned: Mutex::new(learned),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Learned> {
        self.learned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn discovery_enabled(&self) -> bool {
        self.cfg.discover
    }

    /// The broker's name for `s` as configured or learned; otherwise the configured suffix
    /// appended, otherwise the name itself.
    pub(crate) fn broker_name(&self, s: &Symbol) -> String {
        if let Some(b) = self.lock().forward.get(s) {
            return b.clone();
        }
        self.configured_name(s).0
    }

    /// The first name to ask the terminal for, and where it comes from: the explicit map, else
    /// the suffix, else the name as it is (discovery follows only in that last case).
    pub(crate) fn configured_name(&self, s: &Symbol) -> (String, SymbolSource) {
        if let Some(b) = self.cfg.explicit.get(s) {
            return (b.clone(), SymbolSource::Explicit);
        }
        match &self.cfg.suffix {
            Some(suffix) if !s.as_str().ends_with(suffix.as_str()) => {
                (format!("{}{suffix}", s.as_str()), SymbolSource::Suffix)
            }
            Some(_) => (s.as_str().to_string(), SymbolSource::Suffix),
            None => (s.as_str().to_string(), SymbolSource::AsIs),
        }
    }

    /// Records that the broker calls `s` `broker`.
    pub(crate) fn learn(&self, s: &Symbol, broker: &str) {
        let mut l = self.lock();
        l.forward.insert(s.clone(), broker.to_string());
        l.reverse.insert(broker.to_string(), s.clone());
    }

    /// MTQ's name for a symbol the broker reported.
    pub(crate) fn mtq_name(&self, broker: Symbol) -> Symbol {
        if let Some(s) = self.lock().reverse.get(broker.as_str()) {
            return s.clone();
        }
        if let Some(suffix) = &self.cfg.suffix
            && let Some(stem) = broker.as_str().strip_suffix(suffix.as_str())
            && let Ok(s) = Symbol::new(stem)
        {
            return s;
        }
        broker
    }
}

/// Picks the broker symbol for `wanted` from the broker's list: the exact name, else the only
/// name that starts with it (`EURUSD.m`, `EURUSDm`, `EURUSD.pro`), else the only such name in
/// Market Watch. Returns the candidates when the choice is ambiguous (two or more) or empty.
pub(crate) fn discover(list: &[(String, bool)], wanted: &str) -> Result<String, Vec<String>> {
    if list.iter().any(|(n, _)| n == wanted) {
        return Ok(wanted.to_string());
    }
    let candidates: Vec<&(String, bool)> = list
        .iter()
        .filter(|(n, _)| n.len() > wanted.len() && n.starts_with(wanted))
        .collect();
    if let [only] = candidates.as_slice() {
        return Ok(only.0.clone());
    }
    let selected: Vec<&&(String, bool)> = candidates.iter().filter(|(_, sel)| *sel).collect();
    if let [only] = selected.as_slice() {
        return Ok(only.0.clone());
    }
    Err(candidates.iter().map(|(n, _)| n.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit::symbol as sym;

    #[test]
    fn explicit_names_win_then_the_suffix_applies() {
        let mut cfg = SymbolMapping {
            suffix: Some(".m".into()),
            ..SymbolMapping::default()
        };
        cfg.explicit.insert(sym("XAUUSD"), "GOLD".into());
        let names = SymbolNames::new(cfg);
        assert_eq!(names.broker_name(&sym("XAUUSD")), "GOLD");
        assert_eq!(names.broker_name(&sym("EURUSD")), "EURUSD.m");
        assert_eq!(names.broker_name(&sym("EURUSD.m")), "EURUSD.m");
        assert_eq!(names.mtq_name(sym("GOLD")), sym("XAUUSD"));
        assert_eq!(names.mtq_name(sym("EURUSD.m")), sym("EURUSD"));
        assert_eq!(names.mtq_name(sym("GER40")), sym("GER40"));
    }

    #[test]
    fn learned_names_map_both_ways() {
        let names = SymbolNames::new(SymbolMapping::default());
        assert_eq!(names.broker_name(&sym("EURUSD")), "EURUSD");
        names.learn(&sym("EURUSD"), "EURUSDm");
        assert_eq!(names.broker_name(&sym("EURUSD")), "EURUSDm");
        assert_eq!(names.mtq_name(sym("EURUSDm")), sym("EURUSD"));
    }

    #[test]
    fn discovery_prefers_the_exact_name_then_a_unique_prefix_then_market_watch() {
        let list = |v: &[(&str, bool)]| {
            v.iter()
                .map(|(n, s)| (n.to_string(), *s))
                .collect::<Vec<_>>()
        };
        let l = list(&[("EURUSD.m", false), ("GBPUSD.m", true)]);
        assert_eq!(discover(&l, "EURUSD"), Ok("EURUSD.m".into()));
        let l = list(&[("EURUSD", false), ("EURUSD.m", true)]);
        assert_eq!(discover(&l, "EURUSD"), Ok("EURUSD".into()));
        let l = list(&[("EURUSD.a", false), ("EURUSD.b", true)]);
        assert_eq!(discover(&l, "EURUSD"), Ok("EURUSD.b".into()));
        let l = list(&[("EURUSD.a", true), ("EURUSD.b", true)]);
        assert_eq!(
            discover(&l, "EURUSD"),
            Err(vec!["EURUSD.a".to_string(), "EURUSD.b".to_string()])
        );
        assert_eq!(discover(&l, "USDJPY"), Err(vec![]));
    }
}
