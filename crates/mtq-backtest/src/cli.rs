//! The `mtq-trader backtest`, `import` and `optimize` subcommands: clap argument structs and the
//! functions that run them. The binary parses, calls `run_*`, and prints what it returns.
//!
//! ```no_run
//! use clap::Parser;
//! use mtq_backtest::cli::{BacktestArgs, run_backtest};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     backtest: BacktestArgs,
//! }
//! let cli = Cli::parse_from(["mtq", "--data", "EURUSD_M5.csv", "--symbol", "EURUSD",
//!                            "--strategy", "crossover", "--report", "out"]);
//! let outcome = run_backtest(&cli.backtest)?;
//! print!("{}", outcome.render());
//! # Ok::<(), mtq_backtest::BacktestError>(())
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, ValueEnum};
use mtq_core::{Bar, Decimal, Timeframe};

use crate::data::{
    CacheStatus, DataFormat, ImportOptions, LoadedFile, MarketData, TimeZoneSpec, bars_from_ticks,
    load_files, loaded_timeframe, resample_bars,
};
use crate::optimize::{
    Objective, Optimization, OptimizeOptions, ParamRange, Search, SetupFactory, WalkForward,
    WalkForwardOptions, optimize, parameter_space, parse_range, walk_forward,
};
use crate::settings::{FillTiming, SetupOptions, Sizing, parse_param};
use crate::{
    Backtest, BacktestError, BacktestResult, EquityDetail, ReportFiles, Stats,
    write_optimization_html, write_report, write_report_with_bars, write_walk_forward_html,
};

/// When orders decided on a closed bar execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FillArg {
    /// At the next bar's open (ask for buys, bid for sells).
    NextOpen,
    /// At the signal bar's close (optimistic; for comparisons).
    Close,
}

/// Where the data comes from and how to read it (shared by every subcommand).
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// Data files of one symbol (MT5 bar or tick exports, or OHLCV CSV), comma-separated.
    #[arg(
        long,
        value_name = "FILE[,FILE...]",
        value_delimiter = ',',
        required = true
    )]
    pub data: Vec<PathBuf>,
    /// The file format; by default told from the header.
    #[arg(long, value_name = "mt5-bars|mt5-ticks|csv")]
    pub format: Option<DataFormat>,
    /// Time zone of times without an offset: the broker's server zone for MT5 exports
    /// (e.g. +02:00, UTC+3, Europe/Athens). UTC when not given.
    #[arg(long, value_name = "TZ", default_value = "UTC")]
    pub server_tz: TimeZoneSpec,
    /// Parse the text every time: neither read nor write the binary cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Warn about gaps between rows longer than this (e.g. 7d, 36h, 90m; 0 for no warning).
    #[arg(long, value_name = "SPAN", default_value = "7d", value_parser = parse_span)]
    pub max_gap: chrono::Duration,
    /// Refuse a price more than this factor away from the previous close (or bid), and a bar
    /// whose high is more than this factor above its low.
    #[arg(long, value_name = "FACTOR", default_value_t = crate::data::MAX_JUMP, value_parser = parse_jump)]
    pub max_jump: f64,
}

/// `7d`, `36h`, `90m` or `45s`.
fn parse_span(s: &str) -> Result<chrono::Duration, String> {
    let t = s.trim();
    let help = || format!("`{s}`: expected a span such as 7d, 36h, 90m or 0");
    if t == "0" {
        return Ok(chrono::Duration::zero());
    }
    let (n, unit) = t.split_at(t.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| help())?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(help()),
    };
    n.checked_mul(secs)
        .filter(|v| *v >= 0 && *v <= 100 * 365 * 86_400)
        .map(chrono::Duration::seconds)
        .ok_or_else(help)
}

fn parse_jump(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 1.0 => Ok(v),
        _ => Err(format!("`{s}`: expected a factor above 1, e.g. 10")),
    }
}

impl DataArgs {
    fn options(&self) -> ImportOptions {
        ImportOptions {
            format: self.format,
            timezone: self.server_tz.clone(),
            use_cache: !self.no_cache,
            rules: crate::data::DataRules {
                max_jump: self.max_jump,
                max_gap: (self.max_gap > chrono::Duration::zero()).then_some(self.max_gap),
                ..crate::data::DataRules::default()
            },
        }
    }
}

/// Everything that defines a backtest (shared by `backtest` and `optimize`).
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The symbol traded, e.g. EURUSD.
    #[arg(long, value_name = "S")]
    pub symbol: String,
    /// A symbols file (config/symbols.yaml layout) holding the symbol's specification; built-in
    /// specifications are used without it.
    #[arg(long, value_name = "FILE.yaml")]
    pub symbol_spec: Option<PathBuf>,
    /// The strategy (`mtq-trader strategies` lists them).
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// A strategy or symbol setting, repeatable: --param fast_period=10 --param sl_pips=30.
    #[arg(long = "param", value_name = "key=value", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// A trader configuration whose global, modifications, emergency and broker sections (and
    /// the symbol's own entry, if any) the backtest uses. Without it: no portfolio caps, kill
    /// switch, breakeven or trailing stops.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// First day (YYYY-MM-DD) or instant (RFC 3339) traded; earlier bars only warm up.
    #[arg(long, value_name = "DATE", value_parser = parse_from)]
    pub from: Option<DateTime<Utc>>,
    /// Last day traded (inclusive) or instant (exclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_to)]
    pub to: Option<DateTime<Utc>>,
    /// The strategy's timeframe; by default the data's. Finer bars (or ticks) are resampled.
    #[arg(long, value_name = "TF")]
    pub timeframe: Option<Timeframe>,
    /// Opening balance of the simulated account (10000 by default).
    #[arg(long, value_name = "X")]
    pub initial_balance: Option<Decimal>,
    /// Account leverage 1:N (100 by default).
    #[arg(long, value_name = "N")]
    pub leverage: Option<u32>,
    /// Commission per lot per side, in the account currency.
    #[arg(long, value_name = "X", conflicts_with = "commission_rate")]
    pub commission_per_lot: Option<Decimal>,
    /// Commission as a fraction of notional per side (0.0002 = 2 basis points).
    #[arg(long, value_name = "R")]
    pub commission_rate: Option<Decimal>,
    /// Spread in points for every bar, replacing the data's spread column.
    #[arg(long, value_name = "P")]
    pub spread_points: Option<u32>,
    /// Slippage in points against the trader on market and stop fills.
    #[arg(long, value_name = "P")]
    pub slippage_points: Option<u32>,
    /// Position sizing: fixed:LOTS, risk:PERCENT or equity:FRACTION.
    #[arg(long, value_name = "MODE:VALUE")]
    pub sizing: Option<Sizing>,
    /// When orders execute.
    #[arg(long, value_enum, default_value = "next-open")]
    pub fill: FillArg,
}

/// `mtq-trader backtest`.
#[derive(Args, Clone, Debug)]
pub struct BacktestArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Directory for report.json, trades.csv, equity.csv, equity.png/.svg and report.html.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Store the run in this database's `backtest_runs` (sqlite://FILE or postgres://...), where
    /// `serve`'s dashboard lists it beside the optimisation runs. Not stored without it.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// `mtq-trader import`: parse exports once and write the binary cache beside each.
#[derive(Args, Clone, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataArgs,
}

/// `mtq-trader optimize`.
#[derive(Args, Clone, Debug)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// A parameter range, repeatable: key=FROM..TO:STEP (inclusive), key=a,b,c or key=value.
    #[arg(long = "range", value_name = "k=a..b:step", value_parser = parse_range, required = true)]
    pub ranges: Vec<ParamRange>,
    /// Evaluate this many distinct combinations drawn at random (with --seed) instead of the
    /// whole grid.
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Seed of the random sample.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// What to maximise: net_profit, profit_factor, sharpe or composite.
    #[arg(long, value_name = "NAME", default_value = "sharpe")]
    pub objective: Objective,
    /// Fewest trades a set needs to be ranked.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub min_trades: u64,
    /// Worker threads (one per core by default).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Results printed.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Database for optimization_runs, optimization_results and best_parameters (the
    /// configuration's database.url by default).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Do not write results to the database.
    #[arg(long)]
    pub no_store: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Walk-forward: optimise on rolling in-sample windows, trade each best set on the
    /// out-of-sample window after it. With --nats every window's grid is work for the workers
    /// and the submitter stitches the out-of-sample windows.
    #[arg(long)]
    pub walk_forward: bool,
    /// In-sample window length in days.
    #[arg(long, value_name = "DAYS", default_value_t = 180)]
    pub wf_in_sample: u32,
    /// Out-of-sample window length in days (also the step).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub wf_out_of_sample: u32,
    /// Directory for optimization.json and results.csv (and the walk-forward's files). With
    /// --nats, written for a walk-forward only (a plain run's results are in the database).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

fn parse_day(s: &str) -> Result<(DateTime<Utc>, bool), String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok((d.and_time(chrono::NaiveTime::MIN).and_utc(), true));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| (t.with_timezone(&Utc), false))
        .map_err(|_| format!("`{s}`: expected YYYY-MM-DD or an RFC 3339 time"))
}

pub(crate) fn parse_from_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_from(s)
}

pub(crate) fn parse_to_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_to(s)
}

fn parse_from(s: &str) -> Result<DateTime<Utc>, String> {
    parse_day(s).map(|(t, _)| t)
}

/// A day is inclusive: `--to 2024-03-31` trades bars opening before April 1st.
fn parse_to(s: &str) -> Result<DateTime<Utc>, String> {
    parse_day(s).map(|(t, day)| {
        if day {
            t + chrono::Duration::days(1)
        } else {
            t
        }
    })
}

/// Loaded bars and how they were read.
#[derive(Clone, Debug)]
pub struct PreparedData {
    /// Bars of the run's timeframe: warm-up bars before `--from`, then the traded range.
    pub bars: Vec<Bar>,
    pub timeframe: Timeframe,
    pub files: Vec<LoadedFile>,
    pub server_offset_secs: i32,
    /// Seconds spent loading (parsing or reading the cache) and preparing.
    pub load_seconds: f64,
}

impl RunArgs {
    fn setup_options(&self, timeframe: Timeframe, server_offset_secs: i32) -> SetupOptions {
        SetupOptions {
            symbol: self.symbol.clone(),
            symbol_spec: self.symbol_spec.clone(),
            strategy: self.strategy.clone(),
            params: self.params.clone(),
            config: self.config.clone(),
            timeframe,
            initial_balance: self.initial_balance,
            leverage: self.leverage,
            commission_per_lot: self.commission_per_lot,
            commission_rate: self.commission_rate,
            spread_points: self.spread_points,
            slippage_points: self.slippage_points,
            sizing: self.sizing,
            fill: match self.fill {
                FillArg::NextOpen => FillTiming::NextOpen,
                FillArg::Close => FillTiming::SignalClose,
            },
            server_offset_secs,
        }
    }

    /// Loads the data and resamples it to the timeframe (uncut: `cut` applies `--from`/`--to`).
    fn prepare(&self) -> Result<PreparedData, BacktestError> {
        let started = std::time::Instant::now();
        let symbol = mtq_core::Symbol::new(&self.symbol).map_err(|e| {
            BacktestError::input(format!("--symbol {}", self.symbol), e.to_string())
        })?;
        let spec = crate::settings::load_spec(&symbol, self.symbol_spec.as_deref())?;
        let mut opts = self.data.options();
        // Nothing is quoted below one point of the symbol.
        opts.rules.min_price = crate::stats::to_f64(spec.point);
        let (data, files) = load_files(&self.data.data, &opts)?;
        let first_time = data.span().map(|(a, _)| a).unwrap_or_default();
        let offset = self.data.server_tz.offset_secs_at(first_time);
        let (bars, native) = match data {
            MarketData::Bars(b) => {
                let tf = loaded_timeframe(&b, &files);
                (b, tf)
            }
            MarketData::Ticks(t) => {
                let tf = self.timeframe.ok_or_else(|| {
                    BacktestError::input(
                        "--timeframe",
                        "tick data needs a timeframe to build bars of",
                    )
                })?;
                let point = crate::stats::to_f64(spec.point);
                (bars_from_ticks(&t, tf, point, offset), Some(tf))
            }
        };
        let timeframe = match (self.timeframe, native) {
            (Some(tf), Some(n)) if tf.seconds() < n.seconds() => {
                return Err(BacktestError::input(
                    format!("--timeframe {tf}"),
                    format!("the data is {n}; bars cannot be split into a finer timeframe"),
                ));
            }
            (Some(tf), Some(n)) if tf != n => {
                return Ok(PreparedData {
                    bars: resample_bars(&bars, tf, offset),
                    timeframe: tf,
                    files,
                    server_offset_secs: offset,
                    load_seconds: started.elapsed().as_secs_f64(),
                });
            }
            (Some(tf), _) => tf,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(BacktestError::input(
                    "--timeframe",
                    "could not tell the data's timeframe (fewer than two bars?); give it",
                ));
            }
        };
        Ok(PreparedData {
            bars,
            timeframe,
            files,
            server_offset_secs: offset,
            load_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Keeps the bars from `--from` (and `warmup` bars before it) to `--to`.
    fn cut(&self, data: &mut PreparedData, warmup: usize) {
        let bars = &data.bars;
        let start = self
            .from
            .map_or(0, |f| bars.partition_point(|b| b.time < f))
            .saturating_sub(warmup);
        let end = self
            .to
            .map_or(bars.len(), |t| bars.partition_point(|b| b.time < t));
        data.bars.truncate(end);
        data.bars.drain(..start.min(end));
    }

    /// The data and the setup for it. The warm-up before `--from` is the strategy's.
    pub fn load(&self) -> Result<(PreparedData, crate::BacktestSetup), BacktestError> {
        let started = std::time::Instant::now();
        let mut data = self.prepare()?;
        let setup = self
            .setup_options(data.timeframe, data.server_offset_secs)
            .build()?;
        let warmup = if self.from.is_some() {
            Backtest::new(setup.clone())?.warmup_bars()
        } else {
            0
        };
        self.cut(&mut data, warmup);
        data.load_seconds = started.elapsed().as_secs_f64();
        Ok((data, setup))
    }
}

/// Refused signals and orders printed one by one after the counts.
const REFUSED_SHOWN: usize = 10;

/// What `backtest` did.
#[derive(Clone, Debug)]
pub struct BacktestOutcome {
    /// The run's result. Its equity curve has a point for every bar when a report or a
    /// database row was asked for; otherwise only the statistics read it, and it holds the
    /// run's first point and each UTC day's last ([`EquityDetail::DailyCloses`]).
    pub result: BacktestResult,
    pub stats: Stats,
    pub report: Option<ReportFiles>,
    pub files: Vec<LoadedFile>,
    pub load_seconds: f64,
    pub run_seconds: f64,
    /// The `backtest_runs` id and the database it was stored in (`--database-url`).
    pub stored: Option<(i64, String)>,
}

fn describe_files(files: &[LoadedFile]) -> String {
    let mut s = String::new();
    for f in files {
        let how = match &f.cache {
            CacheStatus::Hit => "from cache".to_string(),
            CacheStatus::Written(p) => format!("parsed, cached in {}", p.display()),
            CacheStatus::WriteFailed(e) => format!("parsed; cache not written: {e}"),
            CacheStatus::Disabled => "parsed".to_string(),
        };
        s.push_str(&format!("{}: {} rows, {how}\n", f.path.display(), f.rows));
        for w in &f.warnings {
            s.push_str(&format!("{}: warning: {w}\n", f.path.display()));
        }
    }
    s
}

impl BacktestOutcome {
    /// The text the command prints: files, the statistics table, speed, report location.
    pub fn render(&self) -> String {
        let r = &self.result;
        let mut s = describe_files(&self.files);
        s.push_str(&format!(
            "{} {} {} bars ({} warm-up), params {}\n\n",
            r.symbol, r.strategy, r.bars, r.warmup_bars, r.params
        ));
        s.push_str(&self.stats.table());
        for (k, v) in &r.refusals {
            s.push_str(&format!("refused signal x{v}: {k}\n"));
        }
        for (k, v) in &r.order_failures {
            s.push_str(&format!("refused order x{v}: {k}\n"));
        }
        for x in r.refused.iter().take(REFUSED_SHOWN) {
            let side = match x.side {
                Some(mtq_core::Side::Buy) => " buy",
                Some(mtq_core::Side::Sell) => " sell",
                None => "",
            };
            s.push_str(&format!(
                "  {} {}{side}: {}\n",
                x.time.format("%Y-%m-%d %H:%M"),
                x.at,
                x.reason
            ));
        }
        if r.refused.len() > REFUSED_SHOWN {
            s.push_str(&format!(
                "  ... {} refusals in all (report.json lists each)\n",
                r.refused.len()
            ));
        }
        let rate = if self.run_seconds > 0.0 {
            r.bars as f64 / self.run_seconds
        } else {
            0.0
        };
        s.push_str(&format!(
            "\nloaded in {:.3} s, backtested in {:.3} s ({:.0} bars/s)\n",
            self.load_seconds, self.run_seconds, rate
        ));
        if let Some(rep) = &self.report {
            s.push_str(&format!("report written to {}\n", rep.dir.display()));
        }
        if let Some((id, db)) = &self.stored {
            s.push_str(&format!(
                "stored as backtest run {id} in {}\n",
                mtq_persistence::redact(db)
            ));
        }
        s
    }
}

/// Runs `backtest`.
pub fn run_backtest(args: &BacktestArgs) -> Result<BacktestOutcome, BacktestError> {
    let (data, setup) = args.run.load()?;
    let timeframe = setup.timeframe;
    let started = std::time::Instant::now();
    // Without a report or a database row, only the statistics read the curve: the daily closes
    // give them exactly (and spare a point a bar).
    let detail = if args.report.is_none() && args.database_url.is_none() {
        EquityDetail::DailyCloses
    } else {
        EquityDetail::EveryBar
    };
    let result = Backtest::new(setup)?
        .with_equity_detail(detail)
        .run(&data.bars);
    let run_seconds = started.elapsed().as_secs_f64();
    let stats = Stats::of(&result);
    let report = match &args.report {
        Some(dir) => Some(write_report_with_bars(dir, &result, &stats, &data.bars)?),
        None => None,
    };
    let stored = match &args.database_url {
        Some(url) => {
            let run = backtest_run(args, timeframe, &result, &stats, report.as_ref());
            Some((store_backtest(url, &run)?, url.clone()))
        }
        None => None,
    };
    Ok(BacktestOutcome {
        result,
        stats,
        report,
        files: data.files,
        load_seconds: data.load_seconds,
        run_seconds,
        stored,
    })
}

/// The most points of a stored run's equity curve: enough to draw it, small enough to list.
const STORED_EQUITY_POINTS: usize = 500;

/// The run as `backtest_runs` keeps it.
fn backtest_run(
    args: &BacktestArgs,
    timeframe: Timeframe,
    r: &BacktestResult,
    stats: &Stats,
    report: Option<&ReportFiles>,
) -> mtq_persistence::NewBacktestRun {
    let now = Utc::now();
    // Every k-th point and the last, so the curve keeps its shape and its end.
    let step = r.equity.len().div_ceil(STORED_EQUITY_POINTS).max(1);
    let mut equity: Vec<serde_json::Value> = r
        .equity
        .iter()
        .step_by(step)
        .map(|p| serde_json::json!([p.time, p.equity]))
        .collect();
    if let Some(p) = r.equity.last()
        && !(r.equity.len() - 1).is_multiple_of(step)
    {
        equity.push(serde_json::json!([p.time, p.equity]));
    }
    let run = &args.run;
    let settings = serde_json::json!({
        "data": run.data.data.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "sizing": run.sizing.map(|s| format!("{s:?}")),
        "initial_balance": r.initial_balance,
        "leverage": run.leverage,
        "commission_per_lot": run.commission_per_lot,
        "commission_rate": run.commission_rate,
        "spread_points": run.spread_points,
        "slippage_points": run.slippage_points,
        "fill": format!("{:?}", run.fill),
        "from": run.from,
        "to": run.to,
        "config": run.config.as_ref().map(|p| p.display().to_string()),
    });
    mtq_persistence::NewBacktestRun {
        symbol: r.symbol.clone(),
        strategy: r.strategy.clone(),
        timeframe,
        parameters: r.params.to_string(),
        period_start: r.first_bar.unwrap_or(now),
        period_end: r.last_bar.unwrap_or(now),
        bars: u64::try_from(r.bars).unwrap_or(u64::MAX),
        trades: stats.trades,
        net_profit: stats.net_profit,
        return_pct: finite(stats.return_pct),
        win_rate: finite(stats.win_rate),
        profit_factor: stats.profit_factor.filter(|x| x.is_finite()),
        sharpe: stats.sharpe.filter(|x| x.is_finite()),
        max_drawdown_pct: finite(stats.max_drawdown_pct),
        stats: serde_json::to_string(stats).unwrap_or_else(|_| "{}".into()),
        settings: settings.to_string(),
        equity: serde_json::Value::Array(equity).to_string(),
        report_dir: report.map(|r| r.dir.display().to_string()),
        created_at: now,
    }
}

/// A figure a database column can hold (PostgreSQL takes NaN, SQLite reads it back as NULL).
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// Writes a backtest into `backtest_runs`; returns its id.
pub fn store_backtest(
    url: &str,
    run: &mtq_persistence::NewBacktestRun,
) -> Result<i64, BacktestError> {
    use mtq_persistence::{BacktestRunRepo, Store};
    let db = |source| BacktestError::Database {
        url: url.to_string(),
        source,
    };
    Store::open(url)
        .map_err(db)?
        .record_backtest(run)
        .map_err(db)
}

/// What `import` did.
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    pub files: Vec<LoadedFile>,
    pub kind: &'static str,
    pub rows: usize,
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl ImportOutcome {
    pub fn render(&self) -> String {
        let mut s = describe_files(&self.files);
        let span = self.span.map_or_else(String::new, |(a, b)| {
            format!(" from {} to {}", a.to_rfc3339(), b.to_rfc3339())
        });
        s.push_str(&format!("{} {}{span} (UTC)\n", self.rows, self.kind));
        s
    }
}

/// Runs `import`: parses each file (ignoring an existing cache) and writes its cache.
pub fn run_import(args: &ImportArgs) -> Result<ImportOutcome, BacktestError> {
    let opts = args.data.options();
    let mut files = Vec::new();
    let mut rows = 0;
    let mut kind = "bars";
    let mut span: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for p in &args.data.data {
        let cache = crate::data::cache_path(p);
        if !args.data.no_cache && cache.exists() {
            std::fs::remove_file(&cache).map_err(|source| BacktestError::Write {
                path: cache.clone(),
                source,
            })?;
        }
        let (data, info) = crate::data::load_file(p, &opts)?;
        if let CacheStatus::WriteFailed(e) = &info.cache {
            return Err(BacktestError::input(
                format!("--data {}", p.display()),
                e.clone(),
            ));
        }
        if matches!(data, MarketData::Ticks(_)) {
            kind = "ticks";
        }
        rows += data.len();
        if let Some((a, b)) = data.span() {
            span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
        files.push(info);
    }
    Ok(ImportOutcome {
        files,
        kind,
        rows,
        span,
    })
}

/// What `optimize` did.
#[derive(Clone, Debug)]
pub struct OptimizeOutcome {
    pub optimization: Option<Optimization>,
    pub walk_forward: Option<WalkForward>,
    pub top: usize,
    pub run_id: Option<i64>,
    pub database: Option<String>,
    pub report_dir: Option<PathBuf>,
    pub files: Vec<LoadedFile>,
    pub bars: usize,
    pub seconds: f64,
}

impl OptimizeOutcome {
    pub fn render(&self) -> String {
        let mut s = describe_files(&self.files);
        if let Some(o) = &self.optimization {
            s.push_str(&format!(
                "{} of {} combinations over {} bars in {:.1} s ({:.1} sets/s); {} refused by the strategy{}\n",
                o.evaluated,
                o.grid_size,
                self.bars,
                self.seconds,
                o.evaluated as f64 / self.seconds.max(1e-9),
                o.invalid,
                o.invalid_reason
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" (e.g. {r})"))
            ));
            s.push_str(&format!(
                "ranked by {} with at least {} trades\n\n{:>4} {:>12} {:>12} {:>7} {:>8} {:>8} {:>8}  parameters\n",
                o.objective, o.min_trades, "rank", "score", "net profit", "trades", "win %", "PF", "maxDD%"
            ));
            for (i, e) in o.results.iter().take(self.top).enumerate() {
                s.push_str(&format!(
                    "{:>4} {:>12.4} {:>12} {:>7} {:>8.2} {:>8} {:>8.2}  {}{}\n",
                    i + 1,
                    e.score,
                    e.stats.net_profit,
                    e.stats.trades,
                    e.stats.win_rate,
                    e.stats
                        .profit_factor
                        .map_or_else(|| "-".into(), |p| format!("{p:.2}")),
                    e.stats.max_drawdown_pct,
                    e.params,
                    if e.eligible { "" } else { " (too few trades)" }
                ));
            }
        }
        if let Some(w) = &self.walk_forward {
            s.push_str(&format!(
                "walk-forward: {} windows in {:.1} s\n",
                w.windows.len(),
                self.seconds
            ));
            for win in &w.windows {
                let oos = win.out_of_sample.as_ref();
                s.push_str(&format!(
                    "  {} IS {}..{} OOS ..{}  best {}  OOS net {} trades {}\n",
                    win.index,
                    win.in_sample_from.format("%Y-%m-%d"),
                    win.in_sample_to.format("%Y-%m-%d"),
                    win.out_of_sample_to.format("%Y-%m-%d"),
                    win.best
                        .as_ref()
                        .map_or_else(|| "none (too few trades)".into(), ToString::to_string),
                    oos.map_or_else(|| "-".into(), |o| o.net_profit.to_string()),
                    oos.map_or(0, |o| o.trades)
                ));
            }
            s.push_str("\nstitched out-of-sample:\n");
            s.push_str(&w.out_of_sample.table());
            if let Some(e) = w.efficiency {
                s.push_str(&format!("walk-forward efficiency {e:.2}\n"));
            }
            s.push_str("\nparameter stability:\n");
            for r in &w.stability {
                s.push_str(&format!(
                    "  {:<20} distinct {:>3}  mode {} ({:.0}%)  mean {}  cv {}\n",
                    r.name,
                    r.distinct,
                    r.mode
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                    r.mode_share * 100.0,
                    r.mean.map_or_else(|| "-".into(), |m| format!("{m:.3}")),
                    r.cv.map_or_else(|| "-".into(), |c| format!("{c:.3}"))
                ));
            }
        }
        if let (Some(id), Some(db)) = (self.run_id, &self.database) {
            s.push_str(&format!("stored as optimisation run {id} in {db}\n"));
        }
        if let Some(d) = &self.report_dir {
            s.push_str(&format!("report written to {}\n", d.display()));
        }
        s
    }
}

impl RunArgs {
    /// [`RunArgs::load`], and the setup's options with their files read, for a worker on another
    /// machine to rebuild the same setup from.
    pub fn load_portable(
        &self,
    ) -> Result<
        (
            PreparedData,
            crate::BacktestSetup,
            crate::optimize::PortableSetup,
        ),
        BacktestError,
    > {
        let (data, setup) = self.load()?;
        let portable = self
            .setup_options(data.timeframe, data.server_offset_secs)
            .portable()?;
        Ok((data, setup, portable))
    }
}

impl OptimizeArgs {
    /// The optimiser's options from the flags.
    pub fn options(&self) -> Result<OptimizeOptions, BacktestError> {
        let search = match self.samples {
            Some(0) => return Err(BacktestError::input("--samples", "must be at least 1")),
            Some(samples) => Search::Random {
                samples,
                seed: self.seed,
            },
            None => Search::Grid,
        };
        Ok(OptimizeOptions {
            ranges: self.ranges.clone(),
            search,
            objective: self.objective,
            min_trades: self.min_trades,
            jobs: self.jobs,
            progress: !self.no_progress,
        })
    }
}

/// Runs `optimize` (or the walk-forward with `--walk-forward`).
pub fn run_optimize(args: &OptimizeArgs) -> Result<OptimizeOutcome, BacktestError> {
    let (data, setup) = args.run.load()?;
    let database = (!args.no_store).then(|| {
        args.database_url
            .clone()
            .unwrap_or_else(|| setup.config.database.url.clone())
    });
    let factory = SetupFactory::new(setup);
    let opts = args.options()?;
    let started = std::time::Instant::now();
    let mut outcome = OptimizeOutcome {
        optimization: None,
        walk_forward: None,
        top: args.top,
        run_id: None,
        database: None,
        report_dir: args.report.clone(),
        files: data.files.clone(),
        bars: data.bars.len(),
        seconds: 0.0,
    };
    if args.walk_forward {
        let wf = walk_forward(
            &factory,
            &data.bars,
            &WalkForwardOptions {
                in_sample: chrono::Duration::days(i64::from(args.wf_in_sample)),
                out_of_sample: chrono::Duration::days(i64::from(args.wf_out_of_sample)),
                optimize: opts,
            },
        )?;
        outcome.seconds = started.elapsed().as_secs_f64();
        if let Some(dir) = &args.report {
            write_walk_report(dir, &factory, &wf)?;
        }
        outcome.walk_forward = Some(wf);
        return Ok(outcome);
    }
    let o = optimize(&factory, &data.bars, &opts)?;
    outcome.seconds = started.elapsed().as_secs_f64();
    if let Some(url) = &database {
        outcome.run_id = Some(store_results(url, &factory, &data.bars, &opts, &o)?);
        outcome.database = Some(url.clone());
    }
    if let Some(dir) = &args.report {
        write_optimize_report(dir, &o)?;
    }
    outcome.optimization = Some(o);
    Ok(outcome)
}

/// Writes an optimisation into `optimization_runs`, `optimization_results` and (for the best
/// eligible set) `best_parameters`; returns the run id.
pub fn store_results(
    url: &str,
    factory: &SetupFactory,
    bars: &[Bar],
    opts: &OptimizeOptions,
    o: &Optimization,
) -> Result<i64, BacktestError> {
    use mtq_persistence::{
        BestParameters, NewOptimizationResult, NewOptimizationRun, OptimizationRepo, Store,
    };
    let db = |source| BacktestError::Database {
        url: url.to_string(),
        source,
    };
    let mut store = Store::open(url).map_err(db)?;
    let setup = factory.base();
    let strategy = setup
        .config
        .currencies
        .first()
        .map(|c| c.strategy_type.clone())
        .unwrap_or_default();
    let now = Utc::now();
    let run = NewOptimizationRun {
        symbol: setup.symbol.clone(),
        strategy: strategy.clone(),
        timeframe: setup.timeframe,
        period_start: bars.first().map_or(now, |b| b.time),
        period_end: bars.last().map_or(now, |b| b.time),
        objective: o.objective.name().to_string(),
        parameter_space: parameter_space(&opts.ranges, opts.search),
        started_at: now,
    };
    let id = store.start_run(&run).map_err(db)?;
    let rows: Vec<NewOptimizationResult> = o
        .results
        .iter()
        .map(|e| NewOptimizationResult {
            parameters: e.params.to_string(),
            score: if e.score.is_finite() { e.score } else { -1e300 },
            net_profit: e.stats.net_profit,
            profit_factor: e.stats.profit_factor,
            sharpe: e.stats.sharpe,
            max_drawdown_pct: e.stats.max_drawdown_pct,
            trades: u32::try_from(e.stats.trades).unwrap_or(u32::MAX),
            win_rate: e.stats.win_rate,
        })
        .collect();
    store.record_results(id, &rows).map_err(db)?;
    if let Some(best) = o.best() {
        store
            .set_best_parameters(&BestParameters {
                symbol: setup.symbol.clone(),
                strategy,
                timeframe: setup.timeframe,
                parameters: best.params.to_string(),
                score: best.score,
                run_id: Some(id),
                updated_at: Utc::now(),
            })
            .map_err(db)?;
    }
    store.finish_run(id, "finished", Utc::now()).map_err(db)?;
    Ok(id)
}

fn write_file(path: &Path, text: &str) -> Result<(), BacktestError> {
    std::fs::write(path, text).map_err(|source| BacktestError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn create_dir(dir: &Path) -> Result<(), BacktestError> {
    std::fs::create_dir_all(dir).map_err(|source| BacktestError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_optimize_report(dir: &Path, o: &Optimization) -> Result<(), BacktestError> {
    create_dir(dir)?;
    let json = serde_json::to_string_pretty(o).map_err(|e| BacktestError::Write {
        path: dir.join("optimization.json"),
        source: std::io::Error::other(e),
    })?;
    write_file(&dir.join("optimization.json"), &json)?;
    let mut csv = String::from(
        "rank,score,eligible,net_profit,trades,win_rate,profit_factor,sharpe,max_drawdown_pct,params\n",
    );
    for (i, e) in o.results.iter().enumerate() {
        csv.push_str(&format!(
            "{},{},{},{},{},{:.4},{},{},{:.4},\"{}\"\n",
            i + 1,
            e.score,
            e.eligible,
            e.stats.net_profit,
            e.stats.trades,
            e.stats.win_rate,
            e.stats
                .profit_factor
                .map_or_else(String::new, |p| p.to_string()),
            e.stats.sharpe.map_or_else(String::new, |p| p.to_string()),
            e.stats.max_drawdown_pct,
            e.params.to_string().replace('"', "\"\"")
        ));
    }
    write_file(&dir.join("results.csv"), &csv)?;
    write_optimization_html(dir, o)?;
    Ok(())
}

/// Writes a walk-forward's report: `walk_forward.json`, the stitched out-of-sample run as an
/// ordinary report in `out_of_sample/`, and `walk_forward.html`.
pub fn write_walk_report(
    dir: &Path,
    factory: &SetupFactory,
    wf: &WalkForward,
) -> Result<(), BacktestError> {
    create_dir(dir)?;
    let json = serde_json::to_string_pretty(wf).map_err(|e| BacktestError::Write {
        path: dir.join("walk_forward.json"),
        source: std::io::Error::other(e),
    })?;
    write_file(&dir.join("walk_forward.json"), &json)?;
    // The stitched out-of-sample run as an ordinary report (equity chart, trades, HTML).
    let base = factory.base();
    let result = BacktestResult {
        symbol: base.symbol.clone(),
        strategy: format!(
            "{} walk-forward (out of sample)",
            base.config
                .currencies
                .first()
                .map_or("", |c| c.strategy_type.as_str())
        ),
        params: serde_json::Value::Array(
            wf.windows.iter().filter_map(|w| w.best.clone()).collect(),
        ),
        initial_balance: base.sim.deposit,
        final_balance: wf.out_of_sample.final_balance,
        final_equity: wf.out_of_sample.final_equity,
        trades: wf.trades.clone(),
        equity: wf.equity.clone(),
        max_drawdown_pct: wf.out_of_sample.max_drawdown_pct,
        max_drawdown_money: wf.out_of_sample.max_drawdown,
        bars: 0,
        warmup_bars: 0,
        signals: 0,
        refusals: Default::default(),
        order_failures: Default::default(),
        refused: Vec::new(),
        first_bar: wf.windows.first().map(|w| w.out_of_sample_from),
        last_bar: wf.windows.last().map(|w| w.out_of_sample_to),
    };
    write_report(&dir.join("out_of_sample"), &result, &wf.out_of_sample)?;
    write_walk_forward_html(dir, wf)?;
    Ok(())
}
