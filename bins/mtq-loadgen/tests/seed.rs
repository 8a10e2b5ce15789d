//! `mtq-loadgen seed`, the command CI's API fuzzing (.ci/api-fuzz) starts from: it writes the
//! trades and prints one fresh key a line; a database it cannot open is a clear error. (This
//! test also makes `cargo test --workspace` build the binary the CI scripts then run.)

use std::process::Command;

fn loadgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mtq-loadgen"))
}

#[test]
fn seed_writes_trades_and_prints_one_key_a_line() {
    let dir = std::env::temp_dir().join(format!("mtq-loadgen-seed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("seed.db").display());
    let out = loadgen()
        .args([
            "seed",
            "--database-url",
            &db,
            "--trades",
            "40",
            "--keys",
            "3",
        ])
        .args(["--role", "admin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let keys: Vec<&str> = stdout.lines().collect();
    assert_eq!(keys.len(), 3, "{stdout}");
    assert!(keys.iter().all(|k| k.len() >= 20), "{keys:?}");
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "keys repeat: {keys:?}");
    assert!(dir.join("seed.db").metadata().unwrap().len() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_it_cannot_open_is_named_in_the_error() {
    let out = loadgen()
        .args([
            "seed",
            "--database-url",
            "mysql://nowhere/x",
            "--trades",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--database-url"), "{stderr}");
}
