use super::*;

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mtq-accounts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn accounts(yaml: &str) -> Result<AccountsConfig, ConfigLoadError> {
    load_accounts_with_env(&ConfigSource::Text(yaml.to_string()), &[], &[])
}

const TWO: &str = r#"
emergency:
  max_daily_loss_percent: 5.0
currencies:
  - {symbol: EURUSD, risk_percent: 0.5, strategy_type: crossover, fast_period: 10, slow_period: 20, sl_pips: 20, tp_pips: 40}
  - {symbol: GBPUSD, risk_percent: 0.5, strategy_type: crossover, fast_period: 12, slow_period: 26, sl_pips: 25, tp_pips: 50}
accounts:
  - name: alpha
    magic: 11
  - name: beta
    magic: 22
    broker: {kind: mt5, mt5_port: 7790, mt5_token_env: BETA_TOKEN, expected_login: 42}
    emergency: {max_daily_loss_percent: 3.0}
    currencies:
      - {symbol: GBPUSD, enabled: false}
      - {symbol: USDJPY, risk_percent: 0.25, strategy_type: crossover, fast_period: 5, slow_period: 15, sl_pips: 20, tp_pips: 40}
"#;

#[test]
fn a_file_without_accounts_is_the_one_default_account_as_today() {
    let all = load_accounts_with_env(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[], &[]).unwrap();
    let one = load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap();
    assert!(!all.listed);
    assert_eq!(all.accounts.len(), 1);
    assert_eq!(all.accounts[0].name, DEFAULT_ACCOUNT);
    assert!(all.accounts[0].enabled);
    assert_eq!(all.accounts[0].config, one);
    assert!(!all.portfolio.is_set());
}

#[test]
fn each_account_starts_from_the_top_level_and_applies_its_own_overrides() {
    let all = accounts(TWO).unwrap();
    assert!(all.listed);
    let names: Vec<_> = all.enabled().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let alpha = &all.get("alpha").unwrap().config;
    let beta = &all.get("beta").unwrap().config;
    assert_eq!((alpha.trader.magic, beta.trader.magic), (11, 22));
    assert_eq!(alpha.broker.kind, BrokerKind::Sim);
    assert_eq!(beta.broker.kind, BrokerKind::Mt5);
    assert_eq!(beta.broker.mt5_port, 7790);
    assert_eq!(beta.broker.mt5_token_env.as_deref(), Some("BETA_TOKEN"));
    assert_eq!(beta.broker.expected_login, Some(42));
    assert_eq!(
        alpha.risk.emergency.max_daily_loss_percent,
        Some(Decimal::from(5))
    );
    assert_eq!(
        beta.risk.emergency.max_daily_loss_percent,
        Some(Decimal::from(3))
    );
    // GBPUSD is overridden by symbol (kept its strategy, switched off); USDJPY is added.
    let symbols = |c: &AppConfig| {
        c.currencies
            .iter()
            .map(|c| (c.symbol.to_string(), c.enabled))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        symbols(alpha),
        [("EURUSD".to_string(), true), ("GBPUSD".to_string(), true)]
    );
    assert_eq!(
        symbols(beta),
        [
            ("EURUSD".to_string(), true),
            ("GBPUSD".to_string(), false),
            ("USDJPY".to_string(), true)
        ]
    );
    assert_eq!(beta.currencies[1].strategy_type, "crossover");
    // Each account's client order ids carry its own prefix.
    assert_eq!(alpha.trader.id_prefix, "alpha");
    assert_eq!(beta.trader.id_prefix, "beta");
}

#[test]
fn the_shipped_two_account_example_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/accounts.yaml");
    let all = load_accounts_with_env(&ConfigSource::File(path.into()), &[], &[]).unwrap();
    assert_eq!(all.accounts.len(), 2);
    assert_eq!(all.portfolio.max_daily_loss, Some(Decimal::from(800)));
    let prop = &all.get("prop-challenge").unwrap().config;
    assert_eq!(prop.broker.kind, BrokerKind::Mt5);
    assert!(prop.currencies.iter().any(|c| !c.enabled));
}

#[test]
fn a_bad_value_in_an_account_names_the_account_and_the_key() {
    let bad = TWO.replace("max_daily_loss_percent: 3.0", "max_daily_loss_percent: 300");
    let e = accounts(&bad).unwrap_err();
    assert!(e.key.contains("accounts[1] (beta)"), "{e}");
    assert!(e.key.contains("max_daily_loss_percent"), "{e}");
    let bad = TWO.replace("kind: mt5", "kind: ctrader");
    let e = accounts(&bad).unwrap_err().to_string();
    assert!(e.contains("accounts[1] (beta).broker.kind"), "{e}");
}

#[test]
fn an_unknown_key_in_an_account_is_refused_with_the_nearest_name() {
    let bad = TWO.replace("magic: 22", "magic: 22\n    emergancy: {}");
    let e = accounts(&bad).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::UnknownKey);
    assert!(e.reason.contains("emergency"), "{e}");
    assert!(e.key.contains("accounts[1] (beta)"), "{e}");
    // database is the process's, not an account's.
    let bad = TWO.replace(
        "magic: 22",
        "magic: 22\n    database: {url: 'sqlite://b.db'}",
    );
    let e = accounts(&bad).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::UnknownKey, "{e}");
}

#[test]
fn accounts_must_be_named_apart_and_not_share_ids_or_ports() {
    let e = accounts(&TWO.replace("name: beta", "name: alpha")).unwrap_err();
    assert!(e.reason.contains("listed twice"), "{e}");
    let e = accounts(&TWO.replace("name: beta", "name: 'be ta'")).unwrap_err();
    assert!(e.key.contains("accounts[1].name"), "{e}");
    let e = accounts(&TWO.replace("  - name: beta\n", "  - enabled: true\n")).unwrap_err();
    assert!(e.reason.contains("every account has a name"), "{e}");
    let same_prefix = TWO.replace("magic: 22", "magic: 22\n    trader: {id_prefix: alpha}");
    let e = accounts(&same_prefix).unwrap_err();
    assert!(
        e.reason.contains("`alpha`") && e.key.contains("id_prefix"),
        "{e}"
    );
    let both_mt5 = TWO.replace(
        "    magic: 11\n",
        "    magic: 11\n    broker: {kind: mt5, mt5_port: 7790}\n",
    );
    let e = accounts(&both_mt5).unwrap_err();
    assert!(
        e.key.contains("mt5_port") && e.reason.contains("same port"),
        "{e}"
    );
    // A disabled account may share anything: it does not run.
    let off = both_mt5.replace("name: beta", "name: beta\n    enabled: false");
    assert_eq!(accounts(&off).unwrap().enabled().count(), 1);
}

#[test]
fn an_empty_or_all_disabled_list_and_bad_portfolio_limits_are_refused() {
    let base = TWO.split("accounts:").next().unwrap().to_string();
    let e = accounts(&format!("{base}accounts: []\n")).unwrap_err();
    assert!(e.reason.contains("lists no account"), "{e}");
    let e = accounts(&format!("{base}accounts: 3\n")).unwrap_err();
    assert!(e.reason.contains("must be a list"), "{e}");
    let off = format!("{base}accounts:\n  - {{name: a, enabled: false}}\n");
    assert!(
        accounts(&off)
            .unwrap_err()
            .reason
            .contains("every account is disabled")
    );
    let e = accounts(&format!("{TWO}portfolio: {{max_daily_loss: -5}}\n")).unwrap_err();
    assert_eq!(e.key, "portfolio.max_daily_loss");
    let e = accounts(&format!("{TWO}portfolio: {{max_daly_loss: 5}}\n")).unwrap_err();
    assert!(e.reason.contains("max_daily_loss"), "{e}");
    let ok = accounts(&format!(
        "{TWO}portfolio: {{max_currency_exposure_lots: 2.5}}\n"
    ))
    .unwrap();
    assert_eq!(
        ok.portfolio.max_currency_exposure_lots,
        Some(Decimal::new(25, 1))
    );
}

#[test]
fn an_account_reads_its_own_file_beside_the_main_one() {
    let dir = TempDir::new("file");
    let main = dir.path().join("main.yaml");
    std::fs::write(
        &main,
        TWO.replace("    magic: 22\n", "    magic: 22\n    file: beta.yaml\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("beta.yaml"),
        "emergency: {max_drawdown_percent: 6.0}\ncurrencies:\n  - {symbol: EURUSD, risk_percent: 0.2}\n",
    )
    .unwrap();
    let all = load_accounts_with_env(&ConfigSource::File(main.clone()), &[], &[]).unwrap();
    let beta = &all.get("beta").unwrap().config;
    assert_eq!(
        beta.risk.emergency.max_drawdown_percent,
        Some(Decimal::from(6))
    );
    // Inline keys win over the file's.
    assert_eq!(
        beta.risk.emergency.max_daily_loss_percent,
        Some(Decimal::from(3))
    );
    assert_eq!(beta.currencies[0].risk.risk_percent, Decimal::new(2, 1));
    // A bad key in the account's file names that file.
    std::fs::write(dir.path().join("beta.yaml"), "globl: {}\n").unwrap();
    let e = load_accounts_with_env(&ConfigSource::File(main.clone()), &[], &[]).unwrap_err();
    assert!(
        e.file.ends_with("beta.yaml") && e.reason.contains("global"),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("beta.yaml")).unwrap();
    let e = load_accounts_with_env(&ConfigSource::File(main), &[], &[]).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::NotFound, "{e}");
}

#[test]
fn an_override_on_the_command_line_reaches_every_account_that_does_not_set_it() {
    let all = load_accounts_with_env(
        &ConfigSource::Text(TWO.into()),
        &[("emergency.max_daily_loss_percent".into(), "2".into())],
        &[],
    )
    .unwrap();
    let pct = |n: &str| {
        all.get(n)
            .unwrap()
            .config
            .risk
            .emergency
            .max_daily_loss_percent
    };
    assert_eq!(pct("alpha"), Some(Decimal::from(2)));
    assert_eq!(pct("beta"), Some(Decimal::from(3)));
}

#[test]
fn the_watcher_of_an_account_reloads_that_accounts_configuration() {
    let dir = TempDir::new("watch");
    let main = dir.path().join("main.yaml");
    std::fs::write(&main, TWO).unwrap();
    let mut w = ConfigWatcher::new(main.clone(), Vec::new()).for_account("beta");
    let c = w.load_now().unwrap();
    assert_eq!(c.trader.magic, 22);
    std::fs::write(&main, TWO.replace("name: beta", "name: gamma")).unwrap();
    let e = w.load_now().unwrap_err();
    assert!(e.reason.contains("no longer in the file"), "{e}");
}
