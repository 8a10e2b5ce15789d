//! `mtq-trader ml train` and `mtq-trader ml walk-forward`: arguments and the functions that run
//! them; the binary prints what they return.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use mtq_core::Timeframe;
use mtq_ml::{ForestParams, LabelSpec, Metrics, MlSettings, ModelRef, OnFailure, TrainOptions};

use crate::cli::{DataArgs, FillArg, RunArgs};
use crate::settings::parse_param;
use crate::{BacktestError, Stats};

/// `mtq-trader ml`.
#[derive(Subcommand, Clone, Debug)]
pub enum MlCommand {
    /// Train a random forest on a bar series with a strategy: a time-ordered split, the test
    /// metrics printed and written to MODEL/report.json, the model and its manifest written.
    Train(Box<TrainArgs>),
    /// Train on each in-sample window, trade each out-of-sample window with and without the
    /// model, and say whether the model helps.
    WalkForward(Box<WalkArgs>),
}

/// How a model is trained (shared by both subcommands).
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// What the model predicts: forward:BARS:THRESHOLD (the close BARS later above this one by
    /// more than THRESHOLD, a fraction: 0.0005 = 0.05 %) or meta:BARS (the strategy's entry wins
    /// within BARS bars).
    #[arg(long, value_name = "LABEL", default_value = "forward:12:0.0005", value_parser = parse_label)]
    pub label: LabelSpec,
    /// Trees in the forest.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub trees: usize,
    /// Deepest split of a tree.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub min_leaf: usize,
    /// Seed of the bootstrap samples and feature draws (the same seed trains the same model).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// The filter's probability threshold: the precision is reported at it, and walk-forward
    /// filters entries at it.
    #[arg(long, value_name = "P", default_value_t = 0.55, value_parser = parse_probability)]
    pub threshold: f64,
}

impl ModelArgs {
    fn forest(&self) -> ForestParams {
        ForestParams {
            trees: self.trees,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_leaf,
            max_features: 0,
            seed: self.seed,
        }
    }
}

fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}`: expected a probability within 0..=1, e.g. 0.55"
        )),
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!(
            "`{s}`: expected a fraction above 0 and at most 1, e.g. 0.7"
        )),
    }
}

/// `forward:BARS:THRESHOLD` or `meta:BARS`.
pub fn parse_label(s: &str) -> Result<LabelSpec, String> {
    let help =
        "expected forward:BARS:THRESHOLD (e.g. forward:12:0.0005) or meta:BARS (e.g. meta:48)";
    let parts: Vec<&str> = s.trim().split(':').collect();
    let bars = |v: &str| match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{s}`: `{v}` is not a bar count above 0; {help}")),
    };
    match parts.as_slice() {
        ["forward", h, t] => {
            let threshold = match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => {
                    return Err(format!(
                        "`{s}`: `{t}` is not a threshold of 0 or more; {help}"
                    ));
                }
            };
            Ok(LabelSpec::ForwardReturn {
                horizon: bars(h)?,
                threshold,
            })
        }
        ["meta", n] => Ok(LabelSpec::Meta { max_hold: bars(n)? }),
        _ => Err(format!("`{s}`: {help}")),
    }
}

fn describe_label(l: &LabelSpec) -> String {
    match l {
        LabelSpec::ForwardReturn { horizon, threshold } => format!(
            "the close {horizon} bars later above this close by more than {:.4} % (1) or below \
             by more (0)",
            threshold * 100.0
        ),
        LabelSpec::Meta { max_hold } => {
            format!("the strategy's entry wins within {max_hold} bars (1) or loses (0)")
        }
    }
}

/// `mtq-trader ml train`.
#[derive(Args, Clone, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The symbol, e.g. EURUSD.
    #[arg(long, value_name = "S")]
    pub symbol: String,
    /// A symbols file holding the symbol's specification (built-in ones are used without it).
    #[arg(long, value_name = "FILE.yaml")]
    pub symbol_spec: Option<PathBuf>,
    /// The base strategy whose signals the model reads and filters.
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// A strategy setting, repeatable: --param fast_period=10.
    #[arg(long = "param", value_name = "key=value", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// A trader configuration whose entry for the symbol gives the strategy and its settings.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The timeframe; by default the data's (finer bars are resampled).
    #[arg(long, value_name = "TF")]
    pub timeframe: Option<Timeframe>,
    /// First day (YYYY-MM-DD) trained on.
    #[arg(long, value_name = "DATE", value_parser = crate::cli::parse_from_arg)]
    pub from: Option<DateTime<Utc>>,
    /// Last day (inclusive) trained on.
    #[arg(long, value_name = "DATE", value_parser = crate::cli::parse_to_arg)]
    pub to: Option<DateTime<Utc>>,
    /// The model's directory (created): manifest.json, forest.json and report.json.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The model's name in its manifest (the directory's name by default).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The model's version in its manifest.
    #[arg(long = "model-version", value_name = "V", default_value = "1")]
    pub version: String,
    /// Share of the labelled bars (the earliest) trained on; the rest, after a gap as long as
    /// the label's horizon, is the test set.
    #[arg(long, value_name = "F", default_value_t = 0.7, value_parser = parse_fraction)]
    pub train_fraction: f64,
    #[command(flatten)]
    pub train: ModelArgs,
}

impl TrainArgs {
    fn run_args(&self) -> RunArgs {
        RunArgs {
            data: self.data.clone(),
            symbol: self.symbol.clone(),
            symbol_spec: self.symbol_spec.clone(),
            strategy: self.strategy.clone(),
            params: self.params.clone(),
            config: self.config.clone(),
            from: self.from,
            to: self.to,
            timeframe: self.timeframe,
            initial_balance: None,
            leverage: None,
            commission_per_lot: None,
            commission_rate: None,
            spread_points: None,
            slippage_points: None,
            sizing: None,
            fill: FillArg::NextOpen,
        }
    }
}

/// What `ml train` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainOutcome {
    pub model_dir: PathBuf,
    pub model: String,
    pub symbol: String,
    pub timeframe: String,
    pub strategy: String,
    pub bars: usize,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub label: LabelSpec,
    pub forest: ForestParams,
    pub train_fraction: f64,
    pub train_rows: usize,
    pub test: Option<Metrics>,
}

fn metrics_lines(m: &Metrics) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  accuracy   {:.4}  (share of positive labels {:.4})",
        m.accuracy, m.base_rate
    );
    let _ = writeln!(s, "  AUC        {:.4}  (0.5 is chance)", m.auc);
    let _ = writeln!(
        s,
        "  log loss   {:.4}  ({:.4} for always saying the share of positives)",
        m.log_loss,
        constant_log_loss(m.base_rate)
    );
    match m.precision_at_threshold {
        Some(p) => {
            let _ = writeln!(
                s,
                "  precision  {p:.4}  at p >= {} ({} of {} rows)",
                m.threshold, m.selected, m.rows
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  precision  -       no row reached p >= {}",
                m.threshold
            );
        }
    }
    s
}

fn constant_log_loss(rate: f64) -> f64 {
    let q = rate.clamp(1e-15, 1.0 - 1e-15);
    -(rate * q.ln() + (1.0 - rate) * (1.0 - q).ln())
}

impl TrainOutcome {
    /// The text the command prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let span = match (self.from, self.to) {
            (Some(a), Some(b)) => format!(
                " from {} to {}",
                a.format("%Y-%m-%d %H:%M"),
                b.format("%Y-%m-%d %H:%M")
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "{} {} {}: {} bars{span}",
            self.symbol, self.timeframe, self.strategy, self.bars
        );
        let _ = writeln!(s, "label: {}", describe_label(&self.label));
        let _ = writeln!(
            s,
            "forest: {} trees, depth {}, {} rows a leaf, seed {}",
            self.forest.trees,
            self.forest.max_depth,
            self.forest.min_samples_leaf,
            self.forest.seed
        );
        let _ = writeln!(
            s,
            "trained on {} rows (the earliest {:.0} % of the labelled bars)",
            self.train_rows,
            self.train_fraction * 100.0
        );
        match &self.test {
            Some(m) => {
                let _ = writeln!(
                    s,
                    "test set: {} rows after the training rows (time order, a gap of the \
                     label's horizon between them)",
                    m.rows
                );
                s.push_str(&metrics_lines(m));
                if m.auc <= 0.52 {
                    s.push_str(
                        "  the model ranks the test rows no better than chance (AUC <= 0.52)\n",
                    );
                }
            }
            None => s.push_str("no test set (--train-fraction 1): no metrics\n"),
        }
        let _ = writeln!(
            s,
            "model {} written to {} (manifest.json, forest.json, report.json)",
            self.model,
            self.model_dir.display()
        );
        s
    }
}

/// Runs `ml train`.
pub fn run_train(args: &TrainArgs) -> Result<TrainOutcome, BacktestError> {
    let run = args.run_args();
    let (data, setup) = run.load()?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .model
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                BacktestError::input(
                    format!("--model {}", args.model.display()),
                    "give a directory with a name (models/NAME), or --name",
                )
            })?
            .to_string(),
    };
    let opts = TrainOptions {
        name,
        version: args.version.clone(),
        label: args.train.label,
        forest: args.train.forest(),
        train_fraction: args.train_fraction,
        threshold: args.train.threshold,
    };
    let trained = super::train_on(&setup, &data.bars, &opts)?;
    trained.model.save(&args.model)?;
    let c = setup.config.currencies.first();
    let outcome = TrainOutcome {
        model_dir: args.model.clone(),
        model: trained.model.manifest.id(),
        symbol: setup.symbol.to_string(),
        timeframe: setup.timeframe.to_string(),
        strategy: c.map(|c| c.strategy_type.clone()).unwrap_or_default(),
        bars: data.bars.len(),
        from: data.bars.first().map(|b| b.time),
        to: data.bars.last().map(|b| b.time),
        label: opts.label,
        forest: opts.forest,
        train_fraction: opts.train_fraction,
        train_rows: trained.train_rows,
        test: trained.test,
    };
    write_json(&args.model.join("report.json"), &outcome)?;
    Ok(outcome)
}

fn write_json<T: serde::Serialize>(path: &std::path::Path, v: &T) -> Result<(), BacktestError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| BacktestError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| BacktestError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| BacktestError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `mtq-trader ml walk-forward`.
#[derive(Args, Clone, Debug)]
pub struct WalkArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub train: ModelArgs,
    /// In-sample (training) window length in days.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub wf_in_sample: u32,
    /// Out-of-sample (trading) window length in days, also the step.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub wf_out_of_sample: u32,
    /// The position manager: close a losing position when the model's probability for its
    /// side falls below this.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub exit_below: Option<f64>,
    /// Scale each entry's size by the model's probability (never above the risk rules' size).
    #[arg(long)]
    pub size_by_confidence: bool,
    /// Directory for walk_forward.json.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// What `ml walk-forward` did.
#[derive(Clone, Debug)]
pub struct WalkOutcome {
    pub result: super::MlWalkForward,
    pub report: Option<PathBuf>,
}

fn row(s: &Stats) -> String {
    format!(
        "{:>5} {:>12} {:>7}",
        s.trades,
        s.net_profit.round_dp(2),
        s.profit_factor
            .map_or_else(|| "-".to_string(), |p| format!("{p:.2}"))
    )
}

impl WalkOutcome {
    /// The text the command prints: a row per window, the totals and the verdict.
    pub fn render(&self) -> String {
        let r = &self.result;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<23} {:>6} {:>6} | {:>5} {:>12} {:>7} | {:>5} {:>12} {:>7} | {:>10}",
            "out of sample",
            "rows",
            "AUC",
            "trades",
            "net",
            "PF",
            "trades",
            "net",
            "PF",
            "difference"
        );
        let _ = writeln!(
            s,
            "{:<37} | {:^27} | {:^27} |",
            "", "without the model", "with the model"
        );
        for w in &r.windows {
            let auc = w
                .model_out_of_sample
                .map_or_else(|| "-".to_string(), |m| format!("{:.3}", m.auc));
            let _ = writeln!(
                s,
                "{} to {} {:>6} {:>6} | {} | {} | {:>10}",
                w.out_of_sample_from.format("%Y-%m-%d"),
                w.out_of_sample_to.format("%Y-%m-%d"),
                w.train_rows,
                auc,
                row(&w.without_model),
                row(&w.with_model),
                w.difference.round_dp(2)
            );
        }
        let _ = writeln!(
            s,
            "\ntotal: {} trades, net {} without the model; {} trades, net {} with it",
            r.trades_without,
            r.net_profit_without.round_dp(2),
            r.trades_with,
            r.net_profit_with.round_dp(2)
        );
        let _ = writeln!(s, "{}", r.verdict);
        if let Some(p) = &self.report {
            let _ = writeln!(s, "report written to {}", p.display());
        }
        s
    }
}

/// Runs `ml walk-forward`.
pub fn run_walk_forward(args: &WalkArgs) -> Result<WalkOutcome, BacktestError> {
    let (data, setup) = args.run.load()?;
    let settings = MlSettings {
        models: vec![ModelRef {
            path: PathBuf::from("walk-forward"),
            weight: 1.0,
        }],
        threshold: args.train.threshold,
        exit_below: args.exit_below,
        size_by_confidence: args.size_by_confidence,
        on_failure: OnFailure::Fallback,
    };
    settings.validate()?;
    let opts = super::MlWalkOptions {
        in_sample: chrono::Duration::days(i64::from(args.wf_in_sample)),
        out_of_sample: chrono::Duration::days(i64::from(args.wf_out_of_sample)),
        train: TrainOptions {
            name: "walk-forward".into(),
            version: "1".into(),
            label: args.train.label,
            forest: args.train.forest(),
            train_fraction: 1.0,
            threshold: args.train.threshold,
        },
        settings,
    };
    let result = super::walk_forward(&setup, &data.bars, &opts)?;
    let report = match &args.report {
        Some(dir) => {
            let path = dir.join("walk_forward.json");
            write_json(&path, &result)?;
            Some(path)
        }
        None => None,
    };
    Ok(WalkOutcome { result, report })
}
