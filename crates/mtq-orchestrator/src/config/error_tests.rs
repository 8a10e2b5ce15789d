//! Malformed configurations, one per row: each must be refused with a message naming the source
//! (the file, the variable or the flag), the key path, the value and what is expected, and none
//! may panic.

use super::*;

/// How a case's configuration is put together: the shipped file with one edit, and the layers.
struct Case {
    name: &'static str,
    /// `(find, replace)` in the shipped configuration, applied once.
    edit: (&'static str, &'static str),
    env: &'static [(&'static str, &'static str)],
    set: &'static [(&'static str, &'static str)],
    kind: ConfigErrorKind,
    /// Fragments the message must contain: the source, the key, the value, the expectation.
    says: &'static [&'static str],
}

const F: &str = "bad.yaml";
const NONE: &[(&str, &str)] = &[];

fn case(
    name: &'static str,
    edit: (&'static str, &'static str),
    kind: ConfigErrorKind,
    says: &'static [&'static str],
) -> Case {
    Case {
        name,
        edit,
        env: NONE,
        set: NONE,
        kind,
        says,
    }
}

use ConfigErrorKind::{InvalidValue as Invalid, NotFinite, UnknownKey as Unknown};

fn cases() -> Vec<Case> {
    vec![
        // Unknown keys, at every level, each with the nearest valid name.
        case(
            "top level",
            ("modifications:", "modificatons:"),
            Unknown,
            &[
                F,
                "unknown key `modificatons` at the top level; did you mean `modifications`?",
            ],
        ),
        case(
            "global",
            ("max_concurrent_trades: 6", "max_concurent_trades: 6"),
            Unknown,
            &[
                F,
                "`max_concurent_trades` in global; did you mean `max_concurrent_trades`?",
            ],
        ),
        case(
            "global.trading_day",
            ("timezone: UTC", "timezon: UTC"),
            Unknown,
            &[
                F,
                "`timezon` in global.trading_day; did you mean `timezone`?",
            ],
        ),
        case(
            "emergency",
            ("emergency_stop: false", "emergancy_stop: false"),
            Unknown,
            &[
                F,
                "`emergancy_stop` in emergency; did you mean `emergency_stop`?",
            ],
        ),
        case(
            "modifications",
            ("enable_breakeven: true", "enable_breakevn: true"),
            Unknown,
            &[
                F,
                "`enable_breakevn` in modifications; did you mean `enable_breakeven`?",
            ],
        ),
        case(
            "a currency's risk key",
            ("risk_percent: 0.5", "risk_percnt: 0.5"),
            Unknown,
            &[
                F,
                "unknown key `risk_percnt` in currencies[0] (EURUSD); did you mean `risk_percent`?",
            ],
        ),
        case(
            "a strategy parameter",
            ("fast_period: 12", "fast_perod: 12"),
            Unknown,
            &[
                F,
                "`fast_perod` in currencies[1] (GBPUSD); did you mean `fast_period`?",
            ],
        ),
        case(
            "a filter",
            (
                "    sl_pips: 20\n",
                "    sl_pips: 20\n    filters:\n      max_spred_pips: 2\n",
            ),
            Unknown,
            &[
                F,
                "`max_spred_pips` in currencies[0] (EURUSD).filters; did you mean `max_spread_pips`?",
            ],
        ),
        case(
            "a trading-hours window",
            (
                "    sl_pips: 20\n",
                "    sl_pips: 20\n    trading_hours:\n      start: \"08:00\"\n      ends: \"17:00\"\n",
            ),
            Unknown,
            &[
                F,
                "`ends` in currencies[0] (EURUSD).trading_hours; did you mean `end`?",
            ],
        ),
        case(
            "broker",
            ("leverage: 100", "leverag: 100"),
            Unknown,
            &[F, "`leverag` in broker; did you mean `leverage`?"],
        ),
        case(
            "database",
            ("url: \"sqlite://mtq.db\"", "uri: \"sqlite://mtq.db\""),
            Unknown,
            &[F, "`uri` in database; did you mean `url`?"],
        ),
        case(
            "trader",
            ("interval_seconds: 5", "interval_secs: 5"),
            Unknown,
            &[
                F,
                "`interval_secs` in trader; did you mean `interval_seconds`?",
            ],
        ),
        case(
            "logging",
            ("format: human", "fromat: human"),
            Unknown,
            &[F, "`fromat` in logging; did you mean `format`?"],
        ),
        case(
            "no near name lists the valid ones",
            ("emergency_stop: false", "zzzzzz: false"),
            Unknown,
            &[F, "`zzzzzz` in emergency; valid keys: ", "emergency_stop"],
        ),
        case(
            "an unknown strategy",
            ("strategy_type: crossover", "strategy_type: crosover"),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).strategy_type = crosover",
                "did you mean `crossover`?",
            ],
        ),
        Case {
            env: &[("MTQ__GLOBAL__RISK_PERCENT", "2")],
            ..case(
                "an environment variable",
                ("", ""),
                Unknown,
                &[
                    "environment variable MTQ__GLOBAL__RISK_PERCENT",
                    "unknown key `risk_percent` in global; did you mean `portfolio_risk_percent`?",
                ],
            )
        },
        Case {
            env: &[("MTQ__EMERGANCY__EMERGENCY_STOP", "true")],
            ..case(
                "an environment variable's section",
                ("", ""),
                Unknown,
                &[
                    "environment variable MTQ__EMERGANCY__EMERGENCY_STOP",
                    "`emergancy` at the top level; did you mean `emergency`?",
                ],
            )
        },
        Case {
            env: &[("MTQ__CURRENCIES__0__RISK_PERCNT", "1")],
            ..case(
                "an environment variable into an entry",
                ("", ""),
                Unknown,
                &[
                    "environment variable MTQ__CURRENCIES__0__RISK_PERCNT",
                    "`risk_percnt` in currencies[0] (EURUSD); did you mean `risk_percent`?",
                ],
            )
        },
        Case {
            set: &[("global.risk_percent", "2")],
            ..case(
                "a --set flag",
                ("", ""),
                Unknown,
                &[
                    "--set global.risk_percent",
                    "unknown key `risk_percent` in global; did you mean `portfolio_risk_percent`?",
                ],
            )
        },
        Case {
            set: &[("currencies[0].risk_percnt", "1")],
            ..case(
                "a --set flag into an entry",
                ("", ""),
                Unknown,
                &[
                    "--set currencies[0].risk_percnt",
                    "`risk_percnt` in currencies[0] (EURUSD); did you mean `risk_percent`?",
                ],
            )
        },
        // Values of the wrong type or out of range.
        case(
            "a word for a percentage",
            ("risk_percent: 0.5", "risk_percent: lots"),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).risk_percent = lots: expected a number between 0 and 100",
            ],
        ),
        case(
            "a percentage above 100",
            ("risk_percent: 0.5", "risk_percent: 150"),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).risk_percent = 150",
                "at most 100",
            ],
        ),
        case(
            "a negative count",
            ("max_concurrent_trades: 6", "max_concurrent_trades: -1"),
            Invalid,
            &[
                F,
                "global.max_concurrent_trades = -1: expected a whole number >= 1",
            ],
        ),
        case(
            "a zero count",
            ("max_concurrent_trades: 6", "max_concurrent_trades: 0"),
            Invalid,
            &[F, "global.max_concurrent_trades = 0: must be at least 1"],
        ),
        case(
            "a negative cooldown",
            ("cooldown_seconds: 900", "cooldown_seconds: -5"),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).cooldown_seconds = -5: expected a whole number >= 0",
            ],
        ),
        case(
            "a negative stacking limit",
            (
                "max_positions_same_direction: 1",
                "max_positions_same_direction: -1",
            ),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).max_positions_same_direction = -1",
                ">= 1",
            ],
        ),
        case(
            "a word for a switch",
            ("emergency_stop: false", "emergency_stop: maybe"),
            Invalid,
            &[
                F,
                "emergency.emergency_stop = maybe: expected true or false",
            ],
        ),
        case(
            "a word for pips",
            ("trailing_stop_pips: 15", "trailing_stop_pips: far"),
            Invalid,
            &[
                F,
                "modifications.trailing_stop_pips = far: expected a number",
            ],
        ),
        case(
            "an unknown time zone",
            ("timezone: UTC", "timezone: Mars/Base"),
            Invalid,
            &[F, "global.trading_day.timezone = Mars/Base"],
        ),
        case(
            "a word for enabled",
            ("enabled: true", "enabled: maybe"),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).enabled = maybe: expected true or false",
            ],
        ),
        case(
            "a word for a period",
            ("fast_period: 10", "fast_period: ten"),
            Invalid,
            &[F, "currencies[0] (EURUSD).fast_period = ten"],
        ),
        case(
            "a word for leverage",
            ("leverage: 100", "leverage: lots"),
            Invalid,
            &[F, "broker.leverage = lots: expected a whole number >= 1"],
        ),
        case(
            "an unknown broker kind",
            ("kind: sim", "kind: ftx"),
            Invalid,
            &[F, "broker.kind = ftx", "unknown variant `ftx`"],
        ),
        case(
            "a timeframe that is a number",
            ("timeframe: M5", "timeframe: 5"),
            Invalid,
            &[
                F,
                "currencies[0] (EURUSD).timeframe = 5: expected a timeframe",
            ],
        ),
        // Numbers that are not finite, wherever they come from.
        case(
            ".nan",
            ("risk_percent: 0.5", "risk_percent: .nan"),
            NotFinite,
            &[
                F,
                "currencies[0] (EURUSD).risk_percent = .nan: must be a finite number",
            ],
        ),
        case(
            ".inf",
            ("max_drawdown_percent: 15.0", "max_drawdown_percent: .inf"),
            NotFinite,
            &[
                F,
                "emergency.max_drawdown_percent = .inf: must be a finite number",
            ],
        ),
        case(
            "-.inf",
            (
                "portfolio_risk_percent: 6.0",
                "portfolio_risk_percent: -.inf",
            ),
            NotFinite,
            &[
                F,
                "global.portfolio_risk_percent = -.inf: must be a finite number",
            ],
        ),
        case(
            "a float beyond range",
            ("sl_pips: 20", "sl_pips: 1.0e400"),
            NotFinite,
            &[
                F,
                "currencies[0] (EURUSD).sl_pips = 1.0e400: must be a finite number",
            ],
        ),
        Case {
            env: &[("MTQ__GLOBAL__PORTFOLIO_RISK_PERCENT", "NaN")],
            ..case(
                "nan from the environment",
                ("", ""),
                NotFinite,
                &[
                    "environment variable MTQ__GLOBAL__PORTFOLIO_RISK_PERCENT",
                    "global.portfolio_risk_percent = NaN: must be a finite number",
                ],
            )
        },
        Case {
            set: &[("emergency.max_daily_loss_percent", "inf")],
            ..case(
                "inf from a flag",
                ("", ""),
                NotFinite,
                &[
                    "--set emergency.max_daily_loss_percent",
                    "= inf: must be a finite number",
                ],
            )
        },
        // Bad values from the environment and flags are blamed on them, not on the file.
        Case {
            env: &[("MTQ__GLOBAL__MAX_CONCURRENT_TRADES", "lots")],
            ..case(
                "a word from the environment",
                ("", ""),
                Invalid,
                &[
                    "environment variable MTQ__GLOBAL__MAX_CONCURRENT_TRADES",
                    "global.max_concurrent_trades = lots: expected a whole number >= 1",
                ],
            )
        },
        Case {
            set: &[("global.max_concurrent_trades", "-1")],
            ..case(
                "a negative count from a flag",
                ("", ""),
                Invalid,
                &[
                    "--set global.max_concurrent_trades",
                    "global.max_concurrent_trades = -1: expected a whole number >= 1",
                ],
            )
        },
        Case {
            set: &[("emergency.max_drawdown_percent", "150")],
            ..case(
                "an out-of-range value from a flag",
                ("", ""),
                Invalid,
                &[
                    "--set emergency.max_drawdown_percent",
                    "emergency.max_drawdown_percent = 150",
                    "at most 100",
                ],
            )
        },
        Case {
            env: &[("MTQ__BROKER__LEVERAGE", "0")],
            ..case(
                "zero leverage from the environment",
                ("", ""),
                Invalid,
                &[
                    "environment variable MTQ__BROKER__LEVERAGE",
                    "broker.leverage = 0: must be at least 1",
                ],
            )
        },
    ]
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_malformed_configuration_is_refused_naming_its_source_key_and_value() {
    let dir = scratch("table");
    let path = dir.join(F);
    let mut failures = Vec::new();
    for c in cases() {
        let (find, replace) = c.edit;
        assert!(
            DEFAULT_CONFIG.contains(find),
            "{}: `{find}` is not in the shipped configuration",
            c.name
        );
        std::fs::write(&path, DEFAULT_CONFIG.replacen(find, replace, 1)).unwrap();
        let owned = |kv: &[(&str, &str)]| -> Vec<(String, String)> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let result = std::panic::catch_unwind(|| {
            load_with_env(
                &ConfigSource::File(path.clone()),
                &owned(c.set),
                &owned(c.env),
            )
        });
        match result {
            Err(_) => failures.push(format!("{}: panicked", c.name)),
            Ok(Ok(_)) => failures.push(format!("{}: was accepted", c.name)),
            Ok(Err(e)) => {
                let msg = e.to_string();
                let missing: Vec<_> = c.says.iter().filter(|s| !msg.contains(*s)).collect();
                if e.kind != c.kind || !missing.is_empty() {
                    failures.push(format!(
                        "{}: {:?} `{msg}` lacks {missing:?} (expected {:?})",
                        c.name, e.kind, c.kind
                    ));
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Nine levels of ten aliases each: a billion values once expanded.
const BILLION_LAUGHS: &str = r#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"#;

fn file_error(name: &str, content: Option<&str>) -> ConfigLoadError {
    let dir = scratch(name);
    let path = dir.join("c.yaml");
    if let Some(text) = content {
        std::fs::write(&path, text).unwrap();
    }
    let err = load(&ConfigSource::File(path.clone()), &[]).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
    err
}

#[test]
fn an_alias_bomb_is_refused_before_it_expands() {
    let err = file_error("bomb", Some(BILLION_LAUGHS));
    assert_eq!(err.kind, ConfigErrorKind::TooComplex, "{err}");
    assert!(err.to_string().contains("alias"), "{err}");
    // Also under a real section, and as text.
    let under = format!("{DEFAULT_CONFIG}\nbroker_extra:\n  x: 1\n{BILLION_LAUGHS}");
    let err = load(&ConfigSource::Text(under), &[]).unwrap_err();
    assert_eq!(err.kind, ConfigErrorKind::TooComplex, "{err}");
}

#[test]
fn a_few_aliases_are_still_fine() {
    let yaml = DEFAULT_CONFIG.replacen(
        "    risk_percent: 0.5\n",
        "    risk_percent: &risk 0.5\n",
        1,
    );
    let yaml = yaml.replacen("    risk_percent: 0.5\n", "    risk_percent: *risk\n", 1);
    let c = load(&ConfigSource::Text(yaml), &[]).unwrap();
    assert_eq!(c.currencies[1].risk.risk_percent, Decimal::new(5, 1));
}

#[test]
fn nesting_deeper_than_the_bound_is_refused() {
    let deep = format!("global: {}1{}", "[".repeat(200), "]".repeat(200));
    let err = load(&ConfigSource::Text(deep), &[]).unwrap_err();
    assert_eq!(err.kind, ConfigErrorKind::TooComplex, "{err}");
    assert!(err.to_string().contains("deep"), "{err}");
}

#[test]
fn a_file_above_the_size_cap_is_refused_unread() {
    let big = "# padding\n".repeat(usize::try_from(MAX_CONFIG_BYTES / 10 + 1).unwrap());
    let err = file_error("big", Some(&big));
    assert_eq!(err.kind, ConfigErrorKind::TooLarge, "{err}");
    assert!(err.to_string().contains("1 MiB"), "{err}");
}

#[test]
fn a_directory_is_not_a_file_and_a_missing_file_is_not_found() {
    let dir = scratch("dir");
    let err = load(&ConfigSource::File(dir.clone()), &[]).unwrap_err();
    assert_eq!(err.kind, ConfigErrorKind::NotAFile);
    assert!(
        err.to_string()
            .ends_with(&format!("{}: is a directory, not a file", dir.display())),
        "{err}"
    );
    let err = file_error("missing", None);
    assert_eq!(err.kind, ConfigErrorKind::NotFound);
    assert!(err.to_string().ends_with(": not found"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_empty_file_or_one_of_only_comments_is_an_error() {
    for text in ["", "\n\n", "# nothing here\n# at all\n", "---\n"] {
        let err = file_error("empty", Some(text));
        assert_eq!(err.kind, ConfigErrorKind::Empty, "{text:?}: {err}");
        assert!(err.to_string().contains("is empty"), "{err}");
    }
}

#[test]
fn broken_yaml_and_a_non_map_document_name_the_file() {
    let err = file_error("syntax", Some("global: [unclosed\n"));
    assert_eq!(err.kind, ConfigErrorKind::Syntax, "{err}");
    let err = file_error("list", Some("- 1\n- 2\n"));
    assert!(
        err.to_string().contains("must be a map of sections"),
        "{err}"
    );
}

#[test]
fn a_value_from_the_file_is_blamed_on_the_file_even_with_other_layers_set() {
    let bad = DEFAULT_CONFIG.replacen("risk_percent: 0.5", "risk_percent: lots", 1);
    let err = load_with_env(
        &ConfigSource::Text(bad),
        &[("trader.interval_seconds".into(), "1".into())],
        &[("MTQ__GLOBAL__MAX_CONCURRENT_TRADES".into(), "3".into())],
    )
    .unwrap_err();
    assert_eq!(err.file, "config text");
    assert_eq!(err.key, "currencies[0] (EURUSD).risk_percent");
    assert_eq!(err.value, "lots");
}

#[test]
fn valid_environment_variables_and_flags_still_apply() {
    let c = load_with_env(
        &ConfigSource::Text(DEFAULT_CONFIG.into()),
        &[("currencies[0].risk_percent".into(), "0.25".into())],
        &[
            ("MTQ__GLOBAL__MAX_CONCURRENT_TRADES".into(), "3".into()),
            ("MTQ__EMERGENCY__EMERGENCY_STOP".into(), "true".into()),
            ("MTQ__CURRENCIES__1__RISK_PERCENT".into(), "0.75".into()),
        ],
    )
    .unwrap();
    assert_eq!(c.currencies[1].risk.risk_percent, Decimal::new(75, 2));
    assert_eq!(c.risk.global.max_concurrent_trades, 3);
    assert!(c.risk.emergency.emergency_stop);
    assert_eq!(c.currencies[0].risk.risk_percent, Decimal::new(25, 2));
    assert_eq!(c.currencies.len(), 6);
}

#[test]
fn a_database_password_never_reaches_the_message() {
    let err = load(
        &ConfigSource::Text(DEFAULT_CONFIG.replacen(
            "url: \"sqlite://mtq.db\"",
            "url: [\"postgres://mtq:hunter2@db/mtq\"]",
            1,
        )),
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn the_nearest_name_is_suggested_only_when_near() {
    use super::keys::{levenshtein, suggest};
    assert_eq!(levenshtein("risk_percnt", "risk_percent"), 1);
    assert_eq!(levenshtein("", "abc"), 3);
    let names = ["risk_percent", "sl_pips", "portfolio_risk_percent"];
    assert_eq!(
        suggest("risk_percnt", names.iter().copied()),
        Some("risk_percent")
    );
    assert_eq!(suggest("SL_PIPS", names.iter().copied()), Some("sl_pips"));
    assert_eq!(suggest("volume", names.iter().copied()), None);
}

#[test]
fn a_bomb_written_into_a_watched_file_is_refused_and_the_next_good_edit_loads() {
    let dir = scratch("watch-bomb");
    let path = dir.join("c.yaml");
    std::fs::write(&path, DEFAULT_CONFIG).unwrap();
    let mut w = ConfigWatcher::new(path.clone(), vec![]);
    let touch = |secs: u64| {
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    std::fs::write(&path, format!("{DEFAULT_CONFIG}\n{BILLION_LAUGHS}")).unwrap();
    touch(1);
    let err = w.poll().unwrap().unwrap_err();
    assert_eq!(err.kind, ConfigErrorKind::TooComplex, "{err}");
    std::fs::write(&path, "").unwrap();
    touch(2);
    let err = w.poll().unwrap().unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
    std::fs::write(
        &path,
        DEFAULT_CONFIG.replacen("risk_percent: 0.5", "risk_percent: 0.75", 1),
    )
    .unwrap();
    touch(3);
    let c = w.poll().unwrap().unwrap();
    assert_eq!(c.currencies[0].risk.risk_percent, Decimal::new(75, 2));
    std::fs::remove_dir_all(&dir).ok();
}
