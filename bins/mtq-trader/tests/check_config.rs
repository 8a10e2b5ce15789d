//! `mtq-trader check` on a broken configuration: a non-zero exit and a message naming the file (or
//! the variable, or the flag), the key path, the value and what is expected.

use std::path::PathBuf;
use std::process::{Command, Output};

const GOOD: &str = include_str!("../../../config/currencies.yaml");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-check-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mtq-trader"));
    cmd.arg("check").args(args);
    // Only the variables a case sets: none inherited from whoever runs the tests.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().to_uppercase().starts_with("MTQ__") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

fn refused(out: &Output, says: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {stderr}");
    for s in says {
        assert!(stderr.contains(s), "`{stderr}` lacks `{s}`");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_refuses_a_misspelt_key_naming_the_file_key_and_nearest_name() {
    let dir = scratch("typo");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        GOOD.replacen("risk_percent: 0.5", "risk_percnt: 0.5", 1),
    )
    .unwrap();
    let out = check(&["--config", bad.to_str().unwrap()], &[]);
    refused(
        &out,
        &[
            bad.to_str().unwrap(),
            "unknown key `risk_percnt` in currencies[0] (EURUSD); did you mean `risk_percent`?",
        ],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_names_the_variable_or_flag_a_bad_value_came_from() {
    let dir = scratch("layers");
    let good = dir.join("good.yaml");
    std::fs::write(&good, GOOD).unwrap();
    let path = good.to_str().unwrap();
    let out = check(
        &["--config", path],
        &[("MTQ__GLOBAL__MAX_CONCURRENT_TRADES", "-1")],
    );
    refused(
        &out,
        &[
            "environment variable MTQ__GLOBAL__MAX_CONCURRENT_TRADES",
            "global.max_concurrent_trades = -1",
            ">= 1",
        ],
    );
    let out = check(
        &[
            "--config",
            path,
            "--set",
            "emergency.max_drawdown_percent=.nan",
        ],
        &[],
    );
    refused(
        &out,
        &[
            "--set emergency.max_drawdown_percent",
            "= .nan: must be a finite number",
        ],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_refuses_a_directory_an_empty_file_and_an_alias_bomb() {
    let dir = scratch("files");
    let out = check(&["--config", dir.to_str().unwrap()], &[]);
    refused(&out, &["is a directory, not a file"]);
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "# nothing yet\n").unwrap();
    refused(
        &check(&["--config", empty.to_str().unwrap()], &[]),
        &["is empty"],
    );
    let bomb = dir.join("bomb.yaml");
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    std::fs::write(&bomb, text).unwrap();
    refused(
        &check(&["--config", bomb.to_str().unwrap()], &[]),
        &[bomb.to_str().unwrap(), "alias"],
    );
    std::fs::remove_dir_all(&dir).ok();
}
