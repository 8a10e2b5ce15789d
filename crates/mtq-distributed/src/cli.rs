//! `mtq-trader optimize --nats ...`, `optimize --status|--cancel|--resume RUN` and
//! `mtq-trader worker`: the clap arguments and entry points the binary wires up.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser};
use mtq_backtest::cli::OptimizeArgs;
use mtq_backtest::optimize::{SetupFactory, plan_windows};

use crate::DistributedError;
use crate::coordinator::{self, SubmitJob, SubmitOptions};
use crate::nats::{NatsOptions, Queue};
use crate::wire::{WalkSpec, WindowSpec};
use crate::worker::{WorkerOptions, run_worker};

/// Where NATS is and how to log in. Secrets come from the environment or files, never from
/// flags (which other users of the machine can read in the process list).
#[derive(Args, Clone, Debug, Default)]
pub struct NatsArgs {
    /// NATS server(s) with JetStream: nats://HOST:4222 (tls://HOST:4222 for TLS), comma-separated.
    /// With `optimize`: publish the run for `mtq-trader worker`s instead of running it here.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// NATS credentials file (JWT + NKey seed, as `nsc` writes them).
    #[arg(long, value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// NATS user; the password is read from MTQ_NATS_PASSWORD or --nats-password-file.
    #[arg(long, value_name = "NAME")]
    pub nats_user: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub nats_password_file: Option<PathBuf>,
    /// A file holding a NATS token (or set MTQ_NATS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub nats_token_file: Option<PathBuf>,
    /// CA certificate (PEM) the NATS server's certificate is checked against.
    #[arg(long, value_name = "FILE")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --nats-tls-key.
    #[arg(long, value_name = "FILE")]
    pub nats_tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub nats_tls_key: Option<PathBuf>,
    /// Refuse a connection without TLS.
    #[arg(long)]
    pub nats_require_tls: bool,
    /// Seconds a work item stays with a silent worker before another gets it (set when the
    /// workers' consumer is first created).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub ack_wait: u64,
}

fn secret(
    file: Option<&PathBuf>,
    env: &str,
    flag: &str,
) -> Result<Option<String>, DistributedError> {
    if let Some(p) = file {
        let text = std::fs::read_to_string(p).map_err(|e| {
            DistributedError::input(format!("{flag} {}", p.display()), e.to_string())
        })?;
        return Ok(Some(text.trim().to_string()));
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}

impl NatsArgs {
    /// The connection options, or why they cannot be used.
    pub fn options(&self) -> Result<NatsOptions, DistributedError> {
        let url = self
            .nats
            .clone()
            .ok_or_else(|| DistributedError::input("--nats", "missing: give nats://HOST:4222"))?;
        if self.ack_wait == 0 {
            return Err(DistributedError::input(
                "--ack-wait",
                "must be at least 1 second",
            ));
        }
        Ok(NatsOptions {
            url,
            creds_file: self.nats_creds.clone(),
            user: self.nats_user.clone(),
            password: secret(
                self.nats_password_file.as_ref(),
                "MTQ_NATS_PASSWORD",
                "--nats-password-file",
            )?,
            token: secret(
                self.nats_token_file.as_ref(),
                "MTQ_NATS_TOKEN",
                "--nats-token-file",
            )?,
            tls_ca: self.nats_tls_ca.clone(),
            tls_cert: self.nats_tls_cert.clone(),
            tls_key: self.nats_tls_key.clone(),
            require_tls: self.nats_require_tls,
            ack_wait: Duration::from_secs(self.ack_wait),
        })
    }
}

/// The distributed flags of `optimize`.
#[derive(Args, Clone, Debug, Default)]
pub struct DistributedArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Several symbols in one run (with --nats): each symbol's data is --data with `{symbol}`
    /// replaced, e.g. --data data/{symbol}_M5.csv.
    #[arg(long, value_name = "S[,S...]", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Several strategies in one run (with --nats), each optimised over the same data and
    /// stored as its own optimisation run. A range or --param written STRATEGY.key=... applies
    /// to that strategy alone, e.g. --range rsi.rsi_period=7..21:7; the others apply to all.
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        conflicts_with = "strategy"
    )]
    pub strategies: Vec<String>,
    /// Parameter sets per work item (by default sized from a measured cost per set).
    #[arg(long, value_name = "N")]
    pub chunk_sets: Option<u32>,
    /// What one work item should cost a worker, for sizing items.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub chunk_seconds: f64,
    /// Show a distributed run's progress (with --database-url, and --nats for the queue).
    #[arg(long, value_name = "RUN")]
    pub status: Option<String>,
    /// Cancel a distributed run: its items and results leave NATS, its jobs are marked
    /// cancelled.
    #[arg(long, value_name = "RUN")]
    pub cancel: Option<String>,
    /// Continue collecting a run whose submitting process died (republishing what is lost).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
}

/// `mtq-trader optimize --status|--cancel|--resume RUN`: the run's key, NATS and the database;
/// no data or ranges (they are the run's).
#[derive(Parser, Clone, Debug)]
#[command(name = "mtq-trader optimize")]
pub struct ControlArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[arg(long, value_name = "RUN", conflicts_with_all = ["cancel", "resume"])]
    pub status: Option<String>,
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub cancel: Option<String>,
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// The database the run is stored in (sqlite://FILE or postgres://...).
    #[arg(long, value_name = "URL")]
    pub database_url: String,
    /// Results printed per symbol.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// With --resume of a walk-forward: where its report goes (as `--report` of the submitter).
    #[arg(long, value_name = "DIR", requires = "resume")]
    pub report: Option<PathBuf>,
    #[arg(long)]
    pub no_progress: bool,
}

/// True when `optimize`'s arguments ask for `--status`, `--cancel` or `--resume`: they are
/// parsed as [`ControlArgs`].
pub fn is_control(args: &[String]) -> bool {
    args.iter().any(|a| {
        ["--status", "--cancel", "--resume"]
            .iter()
            .any(|f| a == f || a.starts_with(&format!("{f}=")))
    })
}

/// `--symbols A,B` alone names the first as `--symbol` too (optimize's own flag).
pub fn with_first_symbol(mut args: Vec<String>) -> Vec<String> {
    let has_symbol = args
        .iter()
        .any(|a| a == "--symbol" || a.starts_with("--symbol="));
    if has_symbol {
        return args;
    }
    let first = args.iter().enumerate().find_map(|(i, a)| {
        if a == "--symbols" {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix("--symbols=").map(str::to_string)
        }
    });
    if let Some(list) = first
        && let Some(s) = list.split(',').map(str::trim).find(|s| !s.is_empty())
    {
        args.push("--symbol".into());
        args.push(s.to_string());
    }
    args
}

fn runtime() -> Result<tokio::runtime::Runtime, DistributedError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DistributedError::input("runtime", e.to_string()))
}

/// `items` without repeats or blanks, in order.
fn distinct(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in items.iter().map(|x| x.trim().to_string()) {
        if !x.is_empty() && !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// The name a `STRATEGY.key` range or parameter is for, and its key; `None` for a plain key.
fn scoped(name: &str) -> Option<(&str, &str)> {
    name.split_once('.')
}

/// `args` for one strategy of a `--strategies` run: its name, the ranges and parameters for
/// all strategies and those scoped to it (`STRATEGY.key`), the scope taken off.
fn for_strategy(
    args: &OptimizeArgs,
    strategy: Option<&str>,
    strategies: &[String],
) -> Result<OptimizeArgs, DistributedError> {
    let mut a = args.clone();
    let known = |scope: &str, what: &str| {
        if strategies.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(DistributedError::input(
                format!("{what} {scope}."),
                format!(
                    "`{scope}` is not one of --strategies ({})",
                    strategies.join(",")
                ),
            ))
        }
    };
    let mut ranges = Vec::new();
    for r in &args.ranges {
        match scoped(&r.name) {
            Some((scope, key)) => {
                known(scope, "--range")?;
                if Some(scope) == strategy {
                    let mut r = r.clone();
                    r.name = key.to_string();
                    ranges.push(r);
                }
            }
            None => ranges.push(r.clone()),
        }
    }
    let mut params = Vec::new();
    for (k, v) in &args.run.params {
        match scoped(k) {
            Some((scope, key)) => {
                known(scope, "--param")?;
                if Some(scope) == strategy {
                    params.push((key.to_string(), v.clone()));
                }
            }
            None => params.push((k.clone(), v.clone())),
        }
    }
    a.ranges = ranges;
    a.run.params = params;
    if let Some(s) = strategy {
        a.run.strategy = Some(s.to_string());
    }
    Ok(a)
}

/// `optimize ... --nats URL`: submits the run and collects it; returns what to print. A run is
/// one job per symbol and strategy, or with `--walk-forward` one job per window of each.
pub fn run_submit(args: &OptimizeArgs, d: &DistributedArgs) -> Result<String, DistributedError> {
    let nats = d.nats.options()?;
    if args.no_store {
        return Err(DistributedError::input(
            "--no-store",
            "a distributed run is collected in the database; leave --no-store out",
        ));
    }
    if args.report.is_some() && !args.walk_forward {
        return Err(DistributedError::input(
            "--report",
            "a distributed run's results are in the database (optimization_results); leave \
             --report out (it is written for a --walk-forward run)",
        ));
    }
    let symbols = if d.symbols.is_empty() {
        vec![args.run.symbol.clone()]
    } else {
        distinct(&d.symbols)
    };
    let strategies = distinct(&d.strategies);
    let templated = args
        .run
        .data
        .data
        .iter()
        .any(|p| p.to_string_lossy().contains("{symbol}"));
    if symbols.len() > 1 && !templated {
        return Err(DistributedError::input(
            "--data",
            "with several --symbols, name each symbol's file with {symbol}, e.g. data/{symbol}_M5.csv",
        ));
    }
    if strategies.is_empty()
        && let Some((scope, _)) = args.ranges.iter().find_map(|r| scoped(&r.name))
    {
        return Err(DistributedError::input(
            format!("--range {scope}."),
            "a range scoped to a strategy needs --strategies",
        ));
    }
    let walk = args.walk_forward.then(|| WalkSpec {
        in_sample_secs: i64::from(args.wf_in_sample) * 86_400,
        out_of_sample_secs: i64::from(args.wf_out_of_sample) * 86_400,
    });
    let per_strategy: Vec<Option<&str>> = if strategies.is_empty() {
        vec![None]
    } else {
        strategies.iter().map(|s| Some(s.as_str())).collect()
    };
    let mut jobs = Vec::new();
    let mut database = args.database_url.clone();
    let mut walks = 0u32;
    for s in &symbols {
        for strategy in &per_strategy {
            let a = for_strategy(args, *strategy, &strategies)?;
            let mut run = a.run.clone();
            run.symbol = s.clone();
            run.data.data = run
                .data
                .data
                .iter()
                .map(|p| PathBuf::from(p.to_string_lossy().replace("{symbol}", s)))
                .collect();
            let (data, setup, portable) = run.load_portable()?;
            database.get_or_insert_with(|| setup.config.database.url.clone());
            let opts = a.options()?;
            let factory = SetupFactory::new(setup);
            let bars = Arc::new(data.bars);
            match walk {
                None => jobs.push(SubmitJob {
                    setup: portable,
                    factory,
                    bars,
                    window: None,
                    optimize: opts,
                }),
                Some(w) => {
                    let plans = plan_windows(
                        &bars,
                        chrono::Duration::seconds(w.in_sample_secs),
                        chrono::Duration::seconds(w.out_of_sample_secs),
                    )?;
                    for p in plans {
                        jobs.push(SubmitJob {
                            setup: portable.clone(),
                            factory: factory.clone(),
                            bars: bars.clone(),
                            window: Some(WindowSpec {
                                walk: walks,
                                index: u32::try_from(p.index).unwrap_or(u32::MAX),
                                from: p.in_sample.start,
                                to: p.in_sample.end,
                            }),
                            optimize: opts.clone(),
                        });
                    }
                    walks += 1;
                }
            }
        }
    }
    if jobs.is_empty() {
        return Err(DistributedError::input(
            "--symbols",
            "no symbol to optimise",
        ));
    }
    let opts = SubmitOptions {
        chunk_sets: d.chunk_sets,
        chunk_seconds: if d.chunk_seconds.is_finite() && d.chunk_seconds > 0.0 {
            d.chunk_seconds
        } else {
            return Err(DistributedError::input(
                "--chunk-seconds",
                "must be positive",
            ));
        },
        database_url: database.unwrap_or_default(),
        progress: !args.no_progress,
        walk_forward: walk,
        report: args.report.clone(),
    };
    runtime()?.block_on(async {
        let q = Queue::open(&nats, "mtq-optimize").await?;
        let outcome = coordinator::submit(&q, jobs, &opts).await?;
        Ok(outcome.render(args.top))
    })
}

/// `optimize --status|--cancel|--resume RUN`; returns what to print.
pub fn run_control(c: &ControlArgs) -> Result<String, DistributedError> {
    let rt = runtime()?;
    if let Some(key) = &c.status {
        return rt.block_on(async {
            let q = match &c.nats.nats {
                Some(_) => Some(Queue::open(&c.nats.options()?, "mtq-optimize-status").await?),
                None => None,
            };
            Ok(coordinator::status(q.as_ref(), key, &c.database_url)
                .await?
                .render())
        });
    }
    let nats = c.nats.options()?;
    if let Some(key) = &c.cancel {
        return rt.block_on(async {
            let q = Queue::open(&nats, "mtq-optimize-cancel").await?;
            let purged = coordinator::cancel(&q, key, &c.database_url).await?;
            Ok(format!(
                "run {key} cancelled: {purged} queued items and results removed from NATS\n"
            ))
        });
    }
    if let Some(key) = &c.resume {
        return rt.block_on(async {
            let q = Queue::open(&nats, "mtq-optimize").await?;
            let outcome = coordinator::resume(
                &q,
                key,
                &c.database_url,
                !c.no_progress,
                c.report.as_deref(),
            )
            .await?;
            Ok(outcome.render(c.top))
        });
    }
    Err(DistributedError::input(
        "optimize",
        "give --status RUN, --cancel RUN or --resume RUN",
    ))
}

/// `mtq-trader worker`.
#[derive(Args, Clone, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// This worker's name in results and logs (host name and process id by default).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Threads per work item (1 by default: start one worker per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Directory where fetched data is kept by content hash (none by default).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Stop after this many seconds without a work item (run until killed by default).
    #[arg(long, value_name = "SECS")]
    pub idle_exit: Option<u64>,
}

/// Runs a worker until it is idle for `--idle-exit` (or for ever); returns what to print.
pub fn run_worker_command(args: &WorkerArgs) -> Result<String, DistributedError> {
    let nats = args.nats.options()?;
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    let opts = WorkerOptions {
        name: args
            .name
            .clone()
            .unwrap_or_else(|| format!("{host}-{}", std::process::id())),
        jobs: args.jobs,
        cache_dir: args.cache_dir.clone(),
        idle_exit: args.idle_exit.map(Duration::from_secs),
    };
    let report = runtime()?.block_on(run_worker(&nats, &opts))?;
    Ok(format!(
        "worker {}: {} chunks, {} sets, {} items refused\n",
        opts.name, report.chunks, report.sets, report.refused
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn symbols_alone_name_the_first_as_the_symbol() {
        assert_eq!(
            with_first_symbol(v("optimize --symbols EURUSD,GBPUSD")),
            v("optimize --symbols EURUSD,GBPUSD --symbol EURUSD")
        );
        assert_eq!(
            with_first_symbol(v("optimize --symbol X --symbols EURUSD")),
            v("optimize --symbol X --symbols EURUSD")
        );
    }

    #[test]
    fn status_cancel_and_resume_are_control_commands() {
        assert!(is_control(&v("optimize --status r1")));
        assert!(is_control(&v("optimize --cancel=r1")));
        assert!(!is_control(&v("optimize --symbol EURUSD")));
    }

    #[test]
    fn a_missing_nats_url_is_named() {
        let e = NatsArgs::default().options().unwrap_err().to_string();
        assert!(e.contains("--nats"), "{e}");
    }
}
