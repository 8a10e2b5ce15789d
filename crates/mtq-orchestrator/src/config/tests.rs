use super::*;

fn text(yaml: &str) -> Result<AppConfig, ConfigLoadError> {
    load(&ConfigSource::Text(yaml.to_string()), &[])
}

#[test]
fn the_shipped_default_configuration_loads() {
    let c = text(DEFAULT_CONFIG).unwrap();
    assert_eq!(c.currencies.len(), 6);
    assert!(
        c.currencies
            .iter()
            .all(|c| c.enabled && c.timeframe == Timeframe::M5)
    );
    assert_eq!(c.database.url, "sqlite://mtq.db");
    assert_eq!(c.broker.kind, BrokerKind::Sim);
    for cur in &c.currencies {
        cur.build_strategy().unwrap();
    }
}

#[test]
fn the_aggressive_example_loads_too() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/aggressive.yaml"
    ))
    .unwrap();
    let c = text(&yaml).unwrap();
    assert_eq!(c.currencies[0].risk.risk_percent, Decimal::from(2));
    assert!(c.currencies[0].risk.allow_position_stacking);
}

#[test]
fn a_bad_value_is_named_with_its_key() {
    let bad = DEFAULT_CONFIG.replacen("risk_percent: 0.5", "risk_percent: 150", 1);
    let err = text(&bad).unwrap_err().to_string();
    assert!(err.contains("risk_percent") && err.contains("150"), "{err}");
    let bad = DEFAULT_CONFIG.replacen("timeframe: M5", "timeframe: M7", 1);
    let err = text(&bad).unwrap_err().to_string();
    assert!(
        err.contains("currencies[0] (EURUSD).timeframe") && err.contains("M7"),
        "{err}"
    );
    let bad = DEFAULT_CONFIG.replacen("strategy_type: crossover", "strategy_type: martingale", 1);
    let err = text(&bad).unwrap_err().to_string();
    assert!(err.contains("martingale"), "{err}");
    let bad = DEFAULT_CONFIG.replacen("  leverage: 100", "  leverage: 0", 1);
    assert!(
        text(&bad)
            .unwrap_err()
            .to_string()
            .contains("broker.leverage")
    );
    let bad = DEFAULT_CONFIG.replacen("interval_seconds: 5", "interval_secs: 5", 1);
    let err = text(&bad).unwrap_err().to_string();
    assert!(
        err.contains("trader") && err.contains("interval_secs"),
        "{err}"
    );
}

#[test]
fn malformed_yaml_is_an_error_not_a_panic() {
    let err = text("global: [unclosed").unwrap_err();
    assert_eq!(err.file, "config text");
    assert!(
        text("currencies: 7")
            .unwrap_err()
            .to_string()
            .contains("currencies")
    );
}

#[test]
fn command_line_overrides_win_over_the_file() {
    let c = load(
        &ConfigSource::Text(DEFAULT_CONFIG.into()),
        &[("trader.interval_seconds".into(), "1".into())],
    )
    .unwrap();
    assert_eq!(c.trader.interval_seconds, 1);
}

#[test]
fn a_missing_file_names_the_path() {
    let err = load(&ConfigSource::File("/nonexistent/mtq.yaml".into()), &[]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/mtq.yaml"), "{err}");
}

#[test]
fn the_diff_lists_changed_keys_with_old_and_new_values() {
    let a = text(DEFAULT_CONFIG).unwrap();
    let b =
        text(&DEFAULT_CONFIG.replacen("emergency_stop: false", "emergency_stop: true", 1)).unwrap();
    assert_eq!(
        diff(&a, &b),
        vec!["emergency.emergency_stop: false -> true".to_string()]
    );
    assert!(diff(&a, &a).is_empty());
}

#[test]
fn the_watcher_reloads_only_when_the_file_changes_and_keeps_bad_edits_out() {
    let dir = std::env::temp_dir().join(format!("mtq-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.yaml");
    std::fs::write(&path, DEFAULT_CONFIG).unwrap();
    let mut w = ConfigWatcher::new(path.clone(), vec![]);
    assert!(w.poll().is_none());
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        &path,
        DEFAULT_CONFIG.replacen("risk_percent: 0.5", "risk_percent: 1.5", 1),
    )
    .unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() + std::time::Duration::from_secs(1))
        .unwrap();
    let reloaded = w.poll().unwrap().unwrap();
    assert_eq!(
        reloaded.currencies[0].risk.risk_percent,
        Decimal::new(15, 1)
    );
    std::fs::write(&path, "global: [").unwrap();
    file.set_modified(SystemTime::now() + std::time::Duration::from_secs(2))
        .unwrap();
    assert!(w.poll().unwrap().is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn manual_orders_are_off_unless_api_manual_orders_says_so() {
    let off = load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap();
    assert!(!off.api.manual_orders);
    let text = format!("{DEFAULT_CONFIG}\napi:\n  manual_orders: true\n");
    let on = load(&ConfigSource::Text(text), &[]).unwrap();
    assert!(on.api.manual_orders);
    let typo = format!("{DEFAULT_CONFIG}\napi:\n  manual_order: true\n");
    let err = load(&ConfigSource::Text(typo), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`manual_order` in api; did you mean `manual_orders`?"),
        "{err}"
    );
}
