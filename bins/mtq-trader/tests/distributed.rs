//! Distributed optimisation against the real NATS server (`MTQ_TEST_NATS_URL`, which `.ci/run`
//! sets after making sure a nats-server with JetStream runs; without it these tests say they
//! were skipped). Real `mtq-trader worker` processes, killed with SIGKILL where a test says so;
//! every run's stored results are compared with a local run's, set for set and bit for bit.
//!
//! The tests run one at a time (they share the workers' consumer on the server).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use mtq::persistence::{
    BestParameters, NewOptimizationResult, OptimizationChunkRepo, OptimizationRepo, Store,
};
use mtq_distributed::nats::{NatsOptions, Queue, WORKER_CONSUMER, work_subject};
use mtq_distributed::wire::WorkItem;

static SERIAL: Mutex<()> = Mutex::new(());

/// Seconds a killed worker's item waits before redelivery in these tests.
const ACK_WAIT: &str = "3";

fn nats_url() -> Option<String> {
    match std::env::var("MTQ_TEST_NATS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("skipped: MTQ_TEST_NATS_URL is not set (.ci/run sets it)");
            None
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-dist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A seeded random walk of M5 bars as an OHLCV CSV.
fn write_data(dir: &Path, symbol: &str, seed: u64) {
    let start = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap();
    let bars = mtq_core::testkit::random_walk(12_000, seed, mtq_core::Timeframe::M5, start, 1.1, 8);
    let mut s = String::from("time,open,high,low,close,volume,spread\n");
    for b in &bars {
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            b.time.format("%Y-%m-%d %H:%M:%S"),
            b.open,
            b.high,
            b.low,
            b.close,
            b.tick_volume,
            b.spread
        ));
    }
    std::fs::write(dir.join(format!("{symbol}.csv")), s).unwrap();
}

/// The optimisation every test runs: 10 x 12 = 120 valid crossover sets.
fn grid_args(dir: &Path, symbol: &str) -> Vec<String> {
    [
        "optimize",
        "--data",
        &dir.join(format!("{symbol}.csv")).to_string_lossy(),
        "--symbol",
        symbol,
        "--strategy",
        "crossover",
        "--range",
        "fast_period=3..12:1",
        "--range",
        "slow_period=20..64:4",
        "--param",
        "sl_pips=25",
        "--param",
        "tp_pips=50",
        "--sizing",
        "risk:1",
        "--min-trades",
        "10",
        "--no-progress",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
}

/// A child process killed (SIGKILL) when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(nats: &str, name: &str, dir: &Path) -> Kid {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Kid(bin()
        .args([
            "worker",
            "--nats",
            nats,
            "--ack-wait",
            ACK_WAIT,
            "--name",
            name,
        ])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap())
}

/// Starts a submitter; its stderr lines arrive on the receiver.
fn submit(args: &[String]) -> (Kid, Receiver<String>) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Kid(child), rx)
}

fn run_key(rx: &Receiver<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(rest) = line.strip_prefix("submitted distributed run ")
        {
            return rest.split(':').next().unwrap().to_string();
        }
    }
    panic!("the submitter never said which run it submitted");
}

fn wait_exit(kid: &mut Kid, secs: u64) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = kid.0.try_wait().unwrap() {
            let mut out = String::new();
            if let Some(mut o) = kid.0.stdout.take() {
                std::io::Read::read_to_string(&mut o, &mut out).unwrap();
            }
            return (status.success(), out);
        }
        assert!(Instant::now() < deadline, "still running after {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

type Rows = Vec<(u64, NewOptimizationResult)>;

/// The local run of the same grid: its results keyed by parameters, and its best set.
fn local(dir: &Path, symbol: &str) -> (Vec<NewOptimizationResult>, Option<BestParameters>) {
    local_run(dir, grid_args(dir, symbol))
}

/// A local run of `args` (an `optimize` command line without a database).
fn local_run(
    dir: &Path,
    mut args: Vec<String>,
) -> (Vec<NewOptimizationResult>, Option<BestParameters>) {
    let url = format!("sqlite://{}", dir.join("local.db").display());
    args.extend(["--database-url".into(), url.clone()]);
    let out = bin().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let id: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("stored as optimisation run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let mut store = Store::open(&url).unwrap();
    let rows = store.top_results(id, u32::MAX).unwrap();
    let run = store.run(id).unwrap().unwrap();
    let best = store
        .best_parameters(&run.run.symbol, &run.run.strategy, run.run.timeframe)
        .unwrap();
    (rows.into_iter().map(|r| r.result).collect(), best)
}

fn distributed(url: &str, key: &str) -> Vec<(i64, Rows, String)> {
    let mut store = Store::open(url).unwrap();
    store
        .distributed_runs(key)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, store.results_by_set(r.id).unwrap(), r.status))
        .collect()
}

fn bits(r: &NewOptimizationResult) -> (u64, String, Option<u64>, Option<u64>, u64, u32, u64) {
    (
        r.score.to_bits(),
        r.net_profit.to_string(),
        r.profit_factor.map(f64::to_bits),
        r.sharpe.map(f64::to_bits),
        r.max_drawdown_pct.to_bits(),
        r.trades,
        r.win_rate.to_bits(),
    )
}

/// Every set once (indices 0..n, no gap, no duplicate), each bit for bit the local run's, and
/// the same best parameters.
fn assert_equals_local(
    url: &str,
    key: &str,
    local: &(Vec<NewOptimizationResult>, Option<BestParameters>),
) {
    assert_eq!(distributed(url, key).len(), 1);
    assert_job_equals_local(url, key, 0, local);
}

fn assert_job_equals_local(
    url: &str,
    key: &str,
    job: usize,
    local: &(Vec<NewOptimizationResult>, Option<BestParameters>),
) {
    let runs = distributed(url, key);
    let (id, rows, status) = &runs[job];
    assert_eq!(status, "finished");
    assert_eq!(rows.len(), local.0.len(), "one row per set");
    let indices: Vec<u64> = rows.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        indices,
        (0..rows.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    for l in &local.0 {
        let twins: Vec<_> = rows
            .iter()
            .filter(|(_, r)| r.parameters == l.parameters)
            .collect();
        assert_eq!(twins.len(), 1, "{}", l.parameters);
        assert_eq!(bits(&twins[0].1), bits(l), "{}", l.parameters);
    }
    let mut store = Store::open(url).unwrap();
    let run = store.run(*id).unwrap().unwrap();
    let best = store
        .best_parameters(&run.run.symbol, &run.run.strategy, run.run.timeframe)
        .unwrap();
    let strip = |b: &Option<BestParameters>| {
        b.as_ref()
            .map(|b| (b.parameters.clone(), b.score.to_bits()))
    };
    assert_eq!(strip(&best), strip(&local.1));
    assert!(local.1.is_some(), "the grid has an eligible set");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn queue(rt: &tokio::runtime::Runtime, nats: &str) -> Queue {
    rt.block_on(Queue::open(&NatsOptions::new(nats), "mtq-test"))
        .unwrap()
}

/// Drops the workers' consumer so this test's workers create it with the test's ack wait.
fn fresh_consumer(rt: &tokio::runtime::Runtime, q: &Queue) {
    let _ = rt.block_on(q.work.delete_consumer(WORKER_CONSUMER));
}

fn queued(rt: &tokio::runtime::Runtime, q: &Queue, key: &str) -> (usize, usize) {
    let w = rt
        .block_on(Queue::subjects(&q.work, &format!("mtq.opt.work.{key}.>")))
        .unwrap();
    let r = rt
        .block_on(Queue::subjects(
            &q.results,
            &format!("mtq.opt.result.{key}.>"),
        ))
        .unwrap();
    (w.values().sum(), r.values().sum())
}

fn sets_done(url: &str, key: &str) -> u64 {
    let Ok(mut store) = Store::open(url) else {
        return 0;
    };
    store
        .distributed_runs(key)
        .unwrap_or_default()
        .iter()
        .map(|r| store.chunk_progress(r.id).map(|p| p.sets_done).unwrap_or(0))
        .sum()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn three_workers_one_killed_mid_run_store_the_local_results_set_for_set() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("kill");
    write_data(&dir, "EURUSD", 11);
    let expected = local(&dir, "EURUSD");
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args = grid_args(&dir, "EURUSD");
    args.extend(["--nats", &nats, "--database-url", &url, "--chunk-sets", "2"].map(String::from));
    let (mut submitter, lines) = submit(&args);
    let key = run_key(&lines);
    // One worker at a time first, SIGKILLed while it holds an item (the consumer shows an ack
    // pending, still after the kill: the item is stranded with a dead worker); then two more
    // workers finish the run.
    wait_for("an item stranded with a killed worker", 120, || {
        let doomed = worker(&nats, "w0", &dir);
        wait_for("the first worker's results", 120, || {
            sets_done(&url, &key) >= 10
        });
        wait_for("an item in the worker's hands", 30, || {
            ack_pending(&rt, &q) == 1
        });
        drop(doomed);
        std::thread::sleep(Duration::from_millis(200));
        ack_pending(&rt, &q) == 1
    });
    let _workers: Vec<Kid> = (1..3)
        .map(|i| worker(&nats, &format!("w{i}"), &dir))
        .collect();
    let (ok, out) = wait_exit(&mut submitter, 180);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("distributed run {key}: 120 sets")),
        "{out}"
    );
    assert_equals_local(&url, &key, &expected);
    assert_eq!(queued(&rt, &q, &key), (0, 0), "nothing left in NATS");
    let logs: String = (1..3)
        .map(|i| std::fs::read_to_string(dir.join(format!("w{i}.log"))).unwrap())
        .collect();
    // The stranded item went to another worker after the ack wait, or its dead worker had
    // stored its result just before the kill: then the run completed and purged the copy.
    assert!(
        logs.contains("item redelivered") || out.contains("queued copies of stored items purged"),
        "the killed worker's item went to another worker or was purged as a stored copy: {out}"
    );
}

fn ack_pending(rt: &tokio::runtime::Runtime, q: &Queue) -> usize {
    rt.block_on(async {
        let mut c = q.worker_consumer().await.unwrap();
        c.info().await.unwrap().num_ack_pending
    })
}

#[test]
fn several_symbols_in_one_run_each_equal_their_local_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("symbols");
    write_data(&dir, "EURUSD", 15);
    write_data(&dir, "GBPUSD", 16);
    let expected = [local(&dir, "EURUSD"), local(&dir, "GBPUSD")];
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args: Vec<String> = grid_args(&dir, "EURUSD")
        .into_iter()
        .map(|a| a.replace("EURUSD.csv", "{symbol}.csv"))
        .collect();
    // `--symbols` names them all (optimize's own `--symbol` is left out).
    let at = args.iter().position(|a| a == "--symbol").unwrap();
    args.drain(at..at + 2);
    args.extend(
        [
            "--symbols",
            "EURUSD,GBPUSD",
            "--nats",
            &nats,
            "--database-url",
            &url,
        ]
        .map(String::from),
    );
    let _w: Vec<Kid> = (0..2)
        .map(|i| worker(&nats, &format!("s{i}"), &dir))
        .collect();
    let (mut submitter, lines) = submit(&args);
    let key = run_key(&lines);
    let (ok, out) = wait_exit(&mut submitter, 180);
    assert!(ok, "{out}");
    assert_eq!(distributed(&url, &key).len(), 2);
    for (job, local) in expected.iter().enumerate() {
        assert_job_equals_local(&url, &key, job, local);
    }
    assert!(
        out.contains("EURUSD crossover M5") && out.contains("GBPUSD crossover M5"),
        "{out}"
    );
}

#[test]
fn a_run_resumes_after_its_submitter_is_killed_and_republishes_lost_items() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("resume");
    write_data(&dir, "GBPUSD", 12);
    let expected = local(&dir, "GBPUSD");
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args = grid_args(&dir, "GBPUSD");
    args.extend(["--nats", &nats, "--database-url", &url, "--chunk-sets", "4"].map(String::from));
    // No worker yet: the submitter publishes and waits; then it is killed.
    let (submitter, lines) = submit(&args);
    let key = run_key(&lines);
    drop(submitter);
    assert_eq!(queued(&rt, &q, &key), (30, 0));
    // Three items as if the submitter had died before publishing them.
    for chunk in [0, 7, 29] {
        rt.block_on(async { q.work.purge().filter(work_subject(&key, 0, chunk)).await })
            .unwrap();
    }
    assert_eq!(queued(&rt, &q, &key), (27, 0));
    let _w: Vec<Kid> = (0..2)
        .map(|i| worker(&nats, &format!("r{i}"), &dir))
        .collect();
    let out = bin()
        .args([
            "optimize",
            "--resume",
            &key,
            "--nats",
            &nats,
            "--database-url",
            &url,
        ])
        .arg("--no-progress")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("3 work items republished"), "{stderr}");
    assert_equals_local(&url, &key, &expected);
    assert_eq!(queued(&rt, &q, &key), (0, 0));
    let status = bin()
        .args(["optimize", "--status", &key, "--database-url", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("finished, 30/30 chunks, 120/120 sets"),
        "{text}"
    );
}

#[test]
fn a_cancelled_run_leaves_no_items_behind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("cancel");
    write_data(&dir, "EURUSD", 13);
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args = grid_args(&dir, "EURUSD");
    args.extend(["--nats", &nats, "--database-url", &url, "--chunk-sets", "1"].map(String::from));
    let (mut submitter, lines) = submit(&args);
    let key = run_key(&lines);
    let _w = worker(&nats, "c0", &dir);
    wait_for("the first results", 60, || sets_done(&url, &key) >= 3);
    let out = bin()
        .args([
            "optimize",
            "--cancel",
            &key,
            "--nats",
            &nats,
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, _) = wait_exit(&mut submitter, 30);
    assert!(
        !ok,
        "the submitter stops with an error when its run is cancelled"
    );
    // A worker in the middle of a chunk drops it; nothing of the run is left.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(queued(&rt, &q, &key), (0, 0));
    let runs = distributed(&url, &key);
    assert_eq!(runs[0].2, "cancelled");
    assert!(runs[0].1.len() < 120);
}

#[test]
fn a_worker_refuses_an_item_of_another_mtq_version_and_leaves_it_queued() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("version");
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let key = format!("rversion{}", std::process::id());
    let mut refusals = rt
        .block_on(q.client.subscribe(format!("mtq.opt.refused.{key}")))
        .unwrap();
    let _w = worker(&nats, "v0", &dir);
    let item = WorkItem {
        version: "0.0.0-other".into(),
        run: key.clone(),
        job: 0,
        chunk: 0,
        first_set: 0,
        sets: 5,
        data_hash: "0".repeat(64),
    };
    rt.block_on(async {
        q.js.publish(
            work_subject(&key, 0, 0),
            serde_json::to_vec(&item).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    });
    let refusal = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            futures_util::StreamExt::next(&mut refusals),
        )
        .await
        .expect("no refusal within 30 s")
        .unwrap()
    });
    let text = String::from_utf8_lossy(&refusal.payload).to_string();
    assert!(
        text.contains("0.0.0-other") && text.contains(env!("CARGO_PKG_VERSION")),
        "{text}"
    );
    assert_eq!(
        queued(&rt, &q, &key),
        (1, 0),
        "kept for a worker of its version, no result"
    );
    rt.block_on(async { q.work.purge().filter(format!("mtq.opt.work.{key}.>")).await })
        .unwrap();
}

#[test]
fn a_run_completes_across_a_nats_server_restart() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if nats_url().is_none() {
        return;
    }
    if Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: nats-server is not on PATH");
        return;
    }
    let dir = scratch("restart");
    write_data(&dir, "EURUSD", 14);
    let expected = local(&dir, "EURUSD");
    let port = 14_222 + (std::process::id() % 1000) as u16;
    let nats = format!("nats://127.0.0.1:{port}");
    let server = || {
        Kid(Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.join("js"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap())
    };
    let mut srv = server();
    let rt = rt();
    wait_for("the private NATS server", 20, || {
        rt.block_on(Queue::open(&NatsOptions::new(&nats), "mtq-test"))
            .is_ok()
    });
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args = grid_args(&dir, "EURUSD");
    args.extend(["--nats", &nats, "--database-url", &url, "--chunk-sets", "2"].map(String::from));
    let (mut submitter, lines) = submit(&args);
    let key = run_key(&lines);
    let _w: Vec<Kid> = (0..2)
        .map(|i| worker(&nats, &format!("n{i}"), &dir))
        .collect();
    wait_for("a fifth of the sets", 120, || sets_done(&url, &key) >= 24);
    drop(srv);
    std::thread::sleep(Duration::from_secs(2));
    srv = server();
    let (ok, out) = wait_exit(&mut submitter, 240);
    assert!(ok, "{out}");
    assert_equals_local(&url, &key, &expected);
    drop(srv);
}

/// `args` with the value after `flag` replaced.
fn with_value(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    let at = args.iter().position(|a| a == flag).unwrap();
    args[at + 1] = value.to_string();
    args
}

#[test]
fn several_strategies_in_one_run_each_equal_their_own_local_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("strategies");
    write_data(&dir, "EURUSD", 17);
    // The position strategy with EMAs: a --param scoped to it, given plainly to its local run.
    let mut position = with_value(grid_args(&dir, "EURUSD"), "--strategy", "position");
    position.extend(["--param".into(), "ma_type=ema".into()]);
    let expected = [local(&dir, "EURUSD"), local_run(&dir, position)];
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args = grid_args(&dir, "EURUSD");
    let at = args.iter().position(|a| a == "--strategy").unwrap();
    args.drain(at..at + 2);
    args.extend(
        [
            "--strategies",
            "crossover,position",
            "--param",
            "position.ma_type=ema",
            "--nats",
            &nats,
            "--database-url",
            &url,
        ]
        .map(String::from),
    );
    let _w: Vec<Kid> = (0..2)
        .map(|i| worker(&nats, &format!("m{i}"), &dir))
        .collect();
    let (mut submitter, lines) = submit(&args);
    let key = run_key(&lines);
    let (ok, out) = wait_exit(&mut submitter, 180);
    assert!(ok, "{out}");
    let runs = distributed(&url, &key);
    assert_eq!(runs.len(), 2);
    for (job, local) in expected.iter().enumerate() {
        assert_job_equals_local(&url, &key, job, local);
    }
    assert!(
        out.contains("EURUSD crossover M5") && out.contains("EURUSD position M5"),
        "{out}"
    );
    let status = bin()
        .args(["optimize", "--status", &key, "--database-url", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("EURUSD crossover: 120/120 sets done")
            && text.contains("EURUSD position: 120/120 sets done"),
        "per-strategy progress: {text}"
    );
}

/// Every file under `dir`, relative path and bytes, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// What `optimize --walk-forward` prints from its windows on (the line before has the time).
fn walk_text(out: &str) -> String {
    let at = out.find("walk-forward: ").expect(out);
    let rest = &out[at..];
    let rest = &rest[rest.find('\n').unwrap()..];
    rest.lines()
        .filter(|l| !l.starts_with("report written to"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_walk_forward_over_workers_equals_the_local_walk_forward_bit_for_bit() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(nats) = nats_url() else { return };
    let dir = scratch("walk");
    write_data(&dir, "EURUSD", 18);
    // 12,000 M5 bars of a five-day week are 57 days: eight 20-day in-sample windows, 5 days
    // apart.
    let mut wf = grid_args(&dir, "EURUSD");
    wf.extend(
        [
            "--walk-forward",
            "--wf-in-sample",
            "20",
            "--wf-out-of-sample",
            "5",
        ]
        .map(String::from),
    );
    let mut local = wf.clone();
    local.extend([
        "--report".into(),
        dir.join("local").to_string_lossy().to_string(),
    ]);
    let out = bin().args(&local).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local_out = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(local_out.contains("walk-forward: 8 windows"), "{local_out}");
    let rt = rt();
    let q = queue(&rt, &nats);
    fresh_consumer(&rt, &q);
    let url = format!("sqlite://{}", dir.join("dist.db").display());
    let mut args = wf.clone();
    args.extend(
        [
            "--nats",
            &nats,
            "--database-url",
            &url,
            "--chunk-sets",
            "8",
            "--report",
            &dir.join("dist").to_string_lossy(),
        ]
        .map(String::from),
    );
    let _w: Vec<Kid> = (0..2)
        .map(|i| worker(&nats, &format!("f{i}"), &dir))
        .collect();
    let (mut submitter, lines) = submit(&args);
    let key = run_key(&lines);
    let (ok, out) = wait_exit(&mut submitter, 240);
    assert!(ok, "{out}");
    // The report (walk_forward.json, the stitched out-of-sample report, the HTML page) is the
    // local one byte for byte, and so is what the run prints of its windows.
    let (a, b) = (files(&dir.join("local")), files(&dir.join("dist")));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(a.iter().any(|f| f.0 == "walk_forward.json"));
    for (x, y) in a.iter().zip(&b) {
        assert!(x.1 == y.1, "{} differs from the local run's", x.0);
    }
    assert_eq!(walk_text(&out), walk_text(&local_out));
    // Each window's in-sample grid is stored once per set, and no window wrote the symbol's
    // best parameters (a local walk-forward writes none).
    let runs = distributed(&url, &key);
    assert_eq!(runs.len(), 8);
    for (_, rows, status) in &runs {
        assert_eq!(status, "finished");
        let indices: Vec<u64> = rows.iter().map(|(i, _)| *i).collect();
        assert_eq!(
            indices,
            (0..120).collect::<Vec<u64>>(),
            "no gap, no duplicate"
        );
    }
    let mut store = Store::open(&url).unwrap();
    let run = store.run(runs[0].0).unwrap().unwrap();
    assert!(
        store
            .best_parameters(&run.run.symbol, &run.run.strategy, run.run.timeframe)
            .unwrap()
            .is_none()
    );
    assert_eq!(queued(&rt, &q, &key), (0, 0), "nothing left in NATS");
    let status = bin()
        .args(["optimize", "--status", &key, "--database-url", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("window 7 (")
            && text.contains("EURUSD crossover: 8/8 windows, 960/960 sets done"),
        "per-window progress: {text}"
    );
}
