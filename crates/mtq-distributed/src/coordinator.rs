//! The submitting side: publish a run, collect its results into the database exactly once,
//! and `--status`, `--cancel`, `--resume`.
//!
//! The database is the run's ledger: `optimization_runs` (one row per job, tagged with the run's
//! key), `optimization_chunks` (each chunk `pending` until its result is stored) and
//! `optimization_results` (one row per set, unique by run and set). A result message is acked
//! only after its chunk's transaction committed, so a collector that dies loses nothing: the
//! result stays in JetStream for `--resume`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::PublishMessage;
use chrono::Utc;
use futures_util::StreamExt;
use mtq_backtest::cli::{OptimizeOutcome, write_walk_report};
use mtq_backtest::optimize::{
    OptimizeOptions, PortableSearch, PortableSetup, SetEvaluator, SetupFactory, WalkForward,
    WindowBest, parameter_sets, parameter_space, params_json, plan_windows, stitch,
};
use mtq_core::Bar;
use mtq_persistence::{
    BestParameters, ChunkPlan, ChunkResults, NewOptimizationResult, NewOptimizationRun,
    OptimizationChunkRepo, OptimizationRepo, OptimizationRunRecord, Store,
};

use crate::DistributedError;
use crate::nats::{
    Queue, cancel_subject, collector_name, data_object, refused_subject, run_object, work_subject,
};
use crate::wire::{
    ChunkResult, JobSpec, MAX_CHUNK_SETS, MTQ_VERSION, Refusal, RunSpec, WalkSpec, WindowSpec,
    WorkItem, decode_bars, encode_bars, sha256_hex,
};

/// One symbol and strategy of a run (or one walk-forward window of them), loaded.
#[derive(Debug)]
pub struct SubmitJob {
    pub setup: PortableSetup,
    pub factory: SetupFactory,
    /// The data published for the job (shared by a walk's windows: published once).
    pub bars: Arc<Vec<Bar>>,
    /// Walk-forward: the window this job optimises (its bars are `from..to` of `bars`).
    pub window: Option<WindowSpec>,
    /// The job's grid or sample and ranking (each strategy of a run has its own ranges).
    pub optimize: OptimizeOptions,
}

impl SubmitJob {
    /// The bars this job's parameter sets are evaluated on.
    fn evaluated_bars(&self) -> &[Bar] {
        match self.window {
            Some(w) => &self.bars[w.from..w.to],
            None => &self.bars,
        }
    }
}

/// How a run is cut and where it is stored.
#[derive(Clone, Debug)]
pub struct SubmitOptions {
    /// Sets per work item; by default from the measured cost per set and `chunk_seconds`.
    pub chunk_sets: Option<u32>,
    /// What one work item should cost a worker, in seconds.
    pub chunk_seconds: f64,
    pub database_url: String,
    pub progress: bool,
    /// A walk-forward run: its jobs are windows.
    pub walk_forward: Option<WalkSpec>,
    /// Where a walk-forward's report goes (as `optimize --walk-forward --report DIR` writes it).
    pub report: Option<PathBuf>,
}

/// One job's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct JobOutcome {
    pub run: OptimizationRunRecord,
    pub sets: u64,
    pub stored: u64,
    pub invalid: u64,
    pub min_trades: u64,
    /// The best results, best first.
    pub top: Vec<(u64, NewOptimizationResult)>,
}

/// A collected run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    pub key: String,
    pub jobs: Vec<JobOutcome>,
    pub seconds: f64,
    pub sets: u64,
    pub chunks: u64,
    /// Work items still queued when every chunk was stored: copies of items whose worker
    /// stored the result and stopped before acking, purged.
    pub copies_purged: u64,
    /// A walk-forward run's results, one per symbol and strategy.
    pub walks: Vec<WalkOutcome>,
}

/// One symbol and strategy's walk-forward, stitched from its windows' stored results.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkOutcome {
    pub symbol: String,
    pub strategy: String,
    pub walk: WalkForward,
    pub bars: usize,
    /// Where its report was written.
    pub report: Option<PathBuf>,
}

impl RunOutcome {
    pub fn render(&self, top: usize) -> String {
        let mut s = format!(
            "distributed run {}: {} sets in {} chunks in {:.1} s ({:.1} sets/s)\n",
            self.key,
            self.sets,
            self.chunks,
            self.seconds,
            self.sets as f64 / self.seconds.max(1e-9)
        );
        if self.copies_purged > 0 {
            s.push_str(&format!(
                "{} queued copies of stored items purged (their workers stopped before acking)\n",
                self.copies_purged
            ));
        }
        if !self.walks.is_empty() {
            return self.render_walks(s);
        }
        for j in &self.jobs {
            s.push_str(&format!(
                "\n{} {} {} (optimisation run {}): {} results stored, {} refused by the strategy\n",
                j.run.run.symbol,
                j.run.run.strategy,
                j.run.run.timeframe,
                j.run.id,
                j.stored,
                j.invalid
            ));
            s.push_str(&format!(
                "{:>4} {:>12} {:>12} {:>7} {:>8} {:>8}  parameters\n",
                "rank", "score", "net profit", "trades", "win %", "maxDD%"
            ));
            for (i, (_, r)) in j.top.iter().take(top).enumerate() {
                s.push_str(&format!(
                    "{:>4} {:>12.4} {:>12} {:>7} {:>8.2} {:>8.2}  {}{}\n",
                    i + 1,
                    r.score,
                    r.net_profit,
                    r.trades,
                    r.win_rate,
                    r.max_drawdown_pct,
                    r.parameters,
                    if u64::from(r.trades) >= j.min_trades {
                        ""
                    } else {
                        " (too few trades)"
                    }
                ));
            }
        }
        s
    }
}

impl RunOutcome {
    /// A walk-forward run: each window's stored grid in a line, then each walk as a local
    /// `optimize --walk-forward` prints it.
    fn render_walks(&self, mut s: String) -> String {
        for j in &self.jobs {
            s.push_str(&format!(
                "{} {} {} {}..{} (optimisation run {}): {} results stored, {} refused by the strategy\n",
                j.run.run.symbol,
                j.run.run.strategy,
                j.run.run.timeframe,
                j.run.run.period_start.format("%Y-%m-%d"),
                j.run.run.period_end.format("%Y-%m-%d"),
                j.run.id,
                j.stored,
                j.invalid
            ));
        }
        for w in &self.walks {
            s.push_str(&format!("\n{} {}\n", w.symbol, w.strategy));
            let local = OptimizeOutcome {
                optimization: None,
                walk_forward: Some(w.walk.clone()),
                top: 0,
                run_id: None,
                database: None,
                report_dir: w.report.clone(),
                files: Vec::new(),
                bars: w.bars,
                seconds: self.seconds,
            };
            s.push_str(&local.render());
        }
        s
    }
}

fn db_err(url: &str) -> impl Fn(mtq_persistence::PersistenceError) -> DistributedError + '_ {
    move |source| DistributedError::Database {
        url: mtq_persistence::redact(url),
        source,
    }
}

/// A fresh run key: letters and digits only, so it is one NATS subject token.
fn new_key() -> String {
    format!("r{}p{}", Utc::now().timestamp_millis(), std::process::id())
}

/// Fewest items a job is cut into when its grid allows: with fewer, the last items keep one
/// worker busy while the others idle (a local run's threads share the work set by set).
const MIN_ITEMS_PER_JOB: usize = 64;

/// Sets per item: enough for `chunk_seconds` of a worker's time at the measured cost per set,
/// but small enough for [`MIN_ITEMS_PER_JOB`] items.
fn chunk_size(evaluator: &SetEvaluator, chunk_seconds: f64) -> u32 {
    let for_balance = evaluator.len().div_ceil(MIN_ITEMS_PER_JOB).max(1);
    let for_cost = cost_chunk(evaluator, chunk_seconds);
    u32::try_from(for_balance).map_or(for_cost, |b| for_cost.min(b))
}

/// Sets worth `chunk_seconds` at the cost of the first few sets, at most [`MAX_CHUNK_SETS`].
fn cost_chunk(evaluator: &SetEvaluator, chunk_seconds: f64) -> u32 {
    let probe = evaluator.len().min(3);
    if probe == 0 {
        return 1;
    }
    let started = Instant::now();
    let _ = evaluator.evaluate(0..probe, &|| false);
    let per_set = started.elapsed().as_secs_f64() / probe as f64;
    let n = chunk_seconds / per_set.max(1e-6);
    // Bounded: at most MAX_CHUNK_SETS (the result's size), at least one.
    (1..=MAX_CHUNK_SETS)
        .rev()
        .find(|k| f64::from(*k) <= n)
        .unwrap_or(1)
}

/// Publishes a run (data, description, items) and collects it.
pub async fn submit(
    q: &Queue,
    jobs: Vec<SubmitJob>,
    opts: &SubmitOptions,
) -> Result<RunOutcome, DistributedError> {
    let key = new_key();
    let db = db_err(&opts.database_url);
    let mut store = Store::open(&opts.database_url).map_err(&db)?;
    let mut specs = Vec::with_capacity(jobs.len());
    let mut items = Vec::new();
    // A walk's windows share their data: hashed and published once (every job is alive for the
    // whole loop, so an address names one data set).
    let mut hashes: HashMap<*const Vec<Bar>, String> = HashMap::new();
    for (j, job) in jobs.iter().enumerate() {
        let j = u32::try_from(j).map_err(|_| DistributedError::input("--symbols", "too many"))?;
        let hash = match hashes.get(&Arc::as_ptr(&job.bars)) {
            Some(h) => h.clone(),
            None => {
                let bytes = encode_bars(&job.bars);
                let hash = sha256_hex(&bytes);
                if !q.has_object(&data_object(&hash)).await {
                    q.put_object(&data_object(&hash), &bytes).await?;
                }
                hashes.insert(Arc::as_ptr(&job.bars), hash.clone());
                hash
            }
        };
        let local = OptimizeOptions {
            jobs: Some(1),
            ..job.optimize.clone()
        };
        let bars = job.evaluated_bars();
        let evaluator = SetEvaluator::new(job.factory.clone(), bars.to_vec(), &local)?;
        let sets = evaluator.len() as u64;
        let per_chunk = match opts.chunk_sets {
            Some(n) => n.clamp(1, MAX_CHUNK_SETS),
            None => chunk_size(&evaluator, opts.chunk_seconds),
        };
        let base = job.factory.base();
        let strategy = base
            .config
            .currencies
            .first()
            .map(|c| c.strategy_type.clone())
            .unwrap_or_default();
        let now = Utc::now();
        let run_id = store
            .start_run(&NewOptimizationRun {
                symbol: base.symbol.clone(),
                strategy,
                timeframe: base.timeframe,
                period_start: bars.first().map_or(now, |b| b.time),
                period_end: bars.last().map_or(now, |b| b.time),
                objective: job.optimize.objective.name().to_string(),
                parameter_space: parameter_space(&job.optimize.ranges, job.optimize.search),
                started_at: now,
            })
            .map_err(&db)?;
        store.set_distributed_run(run_id, &key).map_err(&db)?;
        let mut plan = Vec::new();
        let mut first = 0u64;
        while first < sets {
            let n = (sets - first).min(u64::from(per_chunk));
            let chunk = u32::try_from(plan.len())
                .map_err(|_| DistributedError::input("--chunk-sets", "too many chunks"))?;
            plan.push(ChunkPlan {
                chunk,
                first_set: first,
                sets: u32::try_from(n).unwrap_or(per_chunk),
            });
            first += n;
        }
        store.plan_chunks(run_id, &plan).map_err(&db)?;
        for p in &plan {
            items.push(WorkItem {
                version: MTQ_VERSION.to_string(),
                run: key.clone(),
                job: j,
                chunk: p.chunk,
                first_set: p.first_set,
                sets: p.sets,
                data_hash: hash.clone(),
            });
        }
        specs.push(JobSpec {
            job: j,
            db_run: run_id,
            setup: job.setup.clone(),
            search: PortableSearch::of(&job.optimize),
            data_hash: hash,
            bars: job.bars.len(),
            sets,
            window: job.window,
        });
    }
    let spec = RunSpec {
        key: key.clone(),
        version: MTQ_VERSION.to_string(),
        jobs: specs,
        walk_forward: opts.walk_forward,
    };
    let body = serde_json::to_vec(&spec).map_err(|e| DistributedError::Data(e.to_string()))?;
    q.put_object(&run_object(&key), &body).await?;
    publish_items(q, &items, "").await?;
    eprintln!(
        "submitted distributed run {key}: {} work items; follow it with `optimize --status {key}`, \
         resume with `--resume {key}`",
        items.len()
    );
    collect(
        q,
        &key,
        &opts.database_url,
        opts.progress,
        opts.report.as_deref(),
    )
    .await
}

async fn publish_items(
    q: &Queue,
    items: &[WorkItem],
    attempt: &str,
) -> Result<(), DistributedError> {
    let mut acks = Vec::with_capacity(items.len());
    for item in items {
        let body = serde_json::to_vec(item).map_err(|e| DistributedError::Data(e.to_string()))?;
        let ack =
            q.js.send_publish(
                work_subject(&item.run, item.job, item.chunk),
                PublishMessage::build()
                    .payload(body.into())
                    .message_id(format!("{}.{}.{}{attempt}", item.run, item.job, item.chunk)),
            )
            .await
            .map_err(|e| DistributedError::JetStream(format!("publishing a work item: {e}")))?;
        acks.push(ack);
    }
    for ack in acks {
        ack.await
            .map_err(|e| DistributedError::JetStream(format!("storing a work item: {e}")))?;
    }
    Ok(())
}

/// The jobs stored for the run `key`; an error naming `what` (the option or "run") when the
/// database holds none.
fn runs_of(
    store: &mut Store,
    key: &str,
    url: &str,
    what: &str,
) -> Result<Vec<OptimizationRunRecord>, DistributedError> {
    let runs = store.distributed_runs(key).map_err(db_err(url))?;
    if runs.is_empty() {
        return Err(DistributedError::input(
            format!("{what} {key}"),
            format!(
                "no optimisation run in {} has this key",
                mtq_persistence::redact(url)
            ),
        ));
    }
    Ok(runs)
}

/// The run's spec and jobs from NATS and the database.
async fn open_run(
    q: &Queue,
    key: &str,
    store: &mut Store,
    url: &str,
) -> Result<(RunSpec, Vec<OptimizationRunRecord>), DistributedError> {
    let runs = runs_of(store, key, url, "run")?;
    let bytes = q.get_object(&run_object(key)).await?.ok_or_else(|| {
        DistributedError::input(
            format!("run {key}"),
            "its description is no longer in NATS (finished or cancelled)",
        )
    })?;
    let spec: RunSpec = serde_json::from_slice(&bytes).map_err(|e| DistributedError::Message {
        subject: run_object(key),
        reason: e.to_string(),
    })?;
    if spec.version != MTQ_VERSION {
        return Err(DistributedError::input(
            format!("run {key}"),
            format!(
                "submitted by MTQ {}; this is MTQ {MTQ_VERSION}",
                spec.version
            ),
        ));
    }
    Ok((spec, runs))
}

/// Republishes the chunks of a run that are neither stored nor waiting in a stream, then
/// collects it (after the submitting process died).
pub async fn resume(
    q: &Queue,
    key: &str,
    url: &str,
    progress: bool,
    report: Option<&Path>,
) -> Result<RunOutcome, DistributedError> {
    let mut store = Store::open(url).map_err(db_err(url))?;
    let (spec, runs) = open_run(q, key, &mut store, url).await?;
    if let Some(r) = runs.iter().find(|r| r.status != "running") {
        return Err(DistributedError::input(
            format!("--resume {key}"),
            format!("optimisation run {} is {}", r.id, r.status),
        ));
    }
    let waiting_work = Queue::subjects(&q.work, &format!("mtq.opt.work.{key}.>")).await?;
    let waiting_results = Queue::subjects(&q.results, &format!("mtq.opt.result.{key}.>")).await?;
    let mut missing = Vec::new();
    for job in &spec.jobs {
        for c in store.chunks(job.db_run).map_err(db_err(url))? {
            if c.status == "done" {
                continue;
            }
            let tail = format!("{key}.{}.{}", job.job, c.plan.chunk);
            if waiting_work.contains_key(&format!("mtq.opt.work.{tail}"))
                || waiting_results.contains_key(&format!("mtq.opt.result.{tail}"))
            {
                continue;
            }
            missing.push(WorkItem {
                version: MTQ_VERSION.to_string(),
                run: key.to_string(),
                job: job.job,
                chunk: c.plan.chunk,
                first_set: c.plan.first_set,
                sets: c.plan.sets,
                data_hash: job.data_hash.clone(),
            });
        }
    }
    eprintln!(
        "resuming run {key}: {} work items republished, {} waiting for workers, {} results waiting",
        missing.len(),
        waiting_work.values().sum::<usize>(),
        waiting_results.values().sum::<usize>()
    );
    let attempt = format!(".{}", Utc::now().timestamp_millis());
    publish_items(q, &missing, &attempt).await?;
    collect(q, key, url, progress, report).await
}

/// Stores results as they come until every chunk of the run is done, then ranks each job,
/// writes its best parameters and marks it finished; a walk-forward's windows are then
/// stitched (and its report written to `report`).
pub async fn collect(
    q: &Queue,
    key: &str,
    url: &str,
    progress: bool,
    report: Option<&Path>,
) -> Result<RunOutcome, DistributedError> {
    let db = db_err(url);
    let started = Instant::now();
    let mut store = Store::open(url).map_err(&db)?;
    let (spec, _) = open_run(q, key, &mut store, url).await?;
    let by_job: HashMap<u32, &JobSpec> = spec.jobs.iter().map(|j| (j.job, j)).collect();
    let (mut total, mut done, mut chunks) = (0u64, 0u64, 0u64);
    let mut chunks_done = 0u64;
    // Chunks each job still waits for: the bar counts the jobs (windows) finished too.
    let mut left: HashMap<u32, u32> = HashMap::new();
    for j in &spec.jobs {
        let p = store.chunk_progress(j.db_run).map_err(&db)?;
        total += p.sets;
        done += p.sets_done;
        chunks += u64::from(p.chunks);
        chunks_done += u64::from(p.chunks_done);
        left.insert(j.job, p.chunks.saturating_sub(p.chunks_done));
    }
    let noun = if spec.walk_forward.is_some() {
        "windows"
    } else {
        "jobs"
    };
    let jobs_message = |left: &HashMap<u32, u32>| {
        let finished = left.values().filter(|n| **n == 0).count();
        format!("{finished}/{} {noun} done", left.len())
    };
    let bar = progress_bar(progress, total);
    bar.set_message(jobs_message(&left));
    bar.set_position(done);
    let consumer = q.collector(key).await?;
    let mut refusals = q
        .client
        .subscribe(refused_subject(key))
        .await
        .map_err(|e| DistributedError::JetStream(format!("subscribing to refusals: {e}")))?;
    let mut last_status_check = Instant::now();
    while chunks_done < chunks {
        while let Some(Some(m)) = futures_util::FutureExt::now_or_never(refusals.next()) {
            if let Ok(r) = serde_json::from_slice::<Refusal>(&m.payload) {
                bar.println(format!(
                    "worker {} refused job {} chunk {}: {}",
                    r.worker, r.job, r.chunk, r.reason
                ));
            }
        }
        if last_status_check.elapsed() > Duration::from_secs(2) {
            last_status_check = Instant::now();
            for j in &spec.jobs {
                if let Some(r) = store.run(j.db_run).map_err(&db)?
                    && r.status == "cancelled"
                {
                    bar.abandon();
                    return Err(DistributedError::input(
                        format!("run {key}"),
                        "cancelled (optimize --cancel)",
                    ));
                }
            }
        }
        let batch = consumer
            .fetch()
            .max_messages(64)
            .expires(Duration::from_secs(1))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                bar.println(format!("cannot fetch results ({e}); retrying"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(msg) = batch.next().await {
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    bar.println(format!("fetching results failed ({e}); retrying"));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            };
            let result: ChunkResult = match serde_json::from_slice(&msg.payload) {
                Ok(r) => r,
                Err(e) => {
                    bar.println(format!("dropping a result on {}: {e}", msg.subject));
                    let _ = msg.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            let Some(job) = by_job
                .get(&result.job)
                .filter(|_| result.run == key && result.version == MTQ_VERSION)
            else {
                bar.println(format!(
                    "dropping a result of run {} job {} from MTQ {}",
                    result.run, result.job, result.version
                ));
                let _ = msg.ack_with(AckKind::Term).await;
                continue;
            };
            let rows = ChunkResults {
                chunk: result.chunk,
                results: result.results.iter().map(|r| (r.index, r.row())).collect(),
                invalid: result.invalid,
                worker: result.worker.clone(),
                seconds: result.seconds,
                finished_at: Utc::now(),
            };
            let fresh = store.record_chunk(job.db_run, &rows).map_err(&db)?;
            if fresh {
                let sets = u64::from(result.invalid) + result.results.len() as u64;
                bar.inc(sets);
                chunks_done += 1;
                if let Some(n) = left.get_mut(&result.job) {
                    *n = n.saturating_sub(1);
                }
                bar.set_message(jobs_message(&left));
            }
            // Stored (or stored before): the result may go.
            if let Err(e) = msg.double_ack().await {
                bar.println(format!(
                    "could not ack a stored result ({e}); it will be skipped when redelivered"
                ));
            }
        }
    }
    bar.finish_and_clear();
    let mut outcome = RunOutcome {
        key: key.to_string(),
        jobs: Vec::new(),
        seconds: started.elapsed().as_secs_f64(),
        sets: total,
        chunks,
        copies_purged: 0,
        walks: Vec::new(),
    };
    for j in &spec.jobs {
        outcome.jobs.push(finish_job(&mut store, url, j)?);
    }
    outcome.walks = finish_walks(q, &spec, &outcome.jobs, report).await?;
    let _ = q.results.delete_consumer(&collector_name(key)).await;
    let _ = q.store.delete(run_object(key)).await;
    // Every chunk is stored: an item still queued is a copy (its worker published the result
    // and died before acking), and would only be dropped by the worker that gets it.
    outcome.copies_purged = purge(q, key).await?.0;
    Ok(outcome)
}

/// Ranks a job's stored results as the local optimiser ranks them (eligible first, then by
/// score, ties in set order), writes its best parameters and marks it finished.
fn finish_job(store: &mut Store, url: &str, j: &JobSpec) -> Result<JobOutcome, DistributedError> {
    let db = db_err(url);
    let mut rows = store.results_by_set(j.db_run).map_err(&db)?;
    let min_trades = j.search.min_trades;
    let eligible = |r: &NewOptimizationResult| u64::from(r.trades) >= min_trades;
    rows.sort_by(|a, b| {
        eligible(&b.1)
            .cmp(&eligible(&a.1))
            .then(b.1.score.total_cmp(&a.1.score))
            .then(a.0.cmp(&b.0))
    });
    let run = store
        .run(j.db_run)
        .map_err(&db)?
        .ok_or_else(|| DistributedError::input(format!("optimisation run {}", j.db_run), "gone"))?;
    // A walk-forward window's best set is that window's, not the symbol's: only the stitched
    // walk speaks for the strategy, as a local walk-forward (which stores no best) has it.
    if let Some((_, best)) = rows
        .first()
        .filter(|(_, r)| eligible(r) && j.window.is_none())
    {
        store
            .set_best_parameters(&BestParameters {
                symbol: run.run.symbol.clone(),
                strategy: run.run.strategy.clone(),
                timeframe: run.run.timeframe,
                parameters: best.parameters.clone(),
                score: best.score,
                run_id: Some(j.db_run),
                updated_at: Utc::now(),
            })
            .map_err(&db)?;
    }
    store
        .finish_run(j.db_run, "finished", Utc::now())
        .map_err(&db)?;
    let invalid = store
        .chunks(j.db_run)
        .map_err(&db)?
        .iter()
        .map(|c| u64::from(c.invalid))
        .sum();
    let stored = rows.len() as u64;
    rows.truncate(50);
    Ok(JobOutcome {
        run: store.run(j.db_run).map_err(&db)?.unwrap_or(run),
        sets: j.sets,
        stored,
        invalid,
        min_trades,
        top: rows,
    })
}

/// The score a stored row stands for: the database keeps a score that is not finite as
/// -1e300, and the only such score an objective gives is -infinity (an undefined ratio).
fn stored_score(score: f64) -> f64 {
    if score.to_bits() == (-1e300_f64).to_bits() {
        f64::NEG_INFINITY
    } else {
        score
    }
}

/// Stitches each walk of a walk-forward run from its windows' best stored sets, with the local
/// walk-forward's own code ([`stitch`]) on the data and setup the workers used, and writes its
/// report. Nothing for a plain run.
async fn finish_walks(
    q: &Queue,
    spec: &RunSpec,
    jobs: &[JobOutcome],
    report: Option<&Path>,
) -> Result<Vec<WalkOutcome>, DistributedError> {
    let Some(w) = spec.walk_forward else {
        return Ok(Vec::new());
    };
    let mut walks: BTreeMap<u32, Vec<(&JobSpec, &JobOutcome)>> = BTreeMap::new();
    for (j, o) in spec.jobs.iter().zip(jobs) {
        let win = j.window.ok_or_else(|| {
            DistributedError::Data(format!("walk-forward job {} has no window", j.job))
        })?;
        walks.entry(win.walk).or_default().push((j, o));
    }
    let several = walks.len() > 1;
    let mut out = Vec::with_capacity(walks.len());
    for (_, mut windows) in walks {
        windows.sort_by_key(|(j, _)| j.window.map(|w| w.index));
        let (first, first_outcome) = windows[0];
        let setup = first.setup.build()?;
        let factory = SetupFactory::new(setup);
        let bytes = q
            .get_object(&data_object(&first.data_hash))
            .await?
            .ok_or_else(|| {
                DistributedError::Data(format!(
                    "data {} is no longer in the object store",
                    first.data_hash
                ))
            })?;
        if sha256_hex(&bytes) != first.data_hash {
            return Err(DistributedError::Data(format!(
                "data {} does not hash to its name",
                first.data_hash
            )));
        }
        let bars = decode_bars(&bytes)?;
        let (in_sample, out_of_sample) = (
            chrono::Duration::seconds(w.in_sample_secs),
            chrono::Duration::seconds(w.out_of_sample_secs),
        );
        let plans = plan_windows(&bars, in_sample, out_of_sample)?;
        let search = first.search.options(None)?;
        let sets = parameter_sets(&search.ranges, search.search);
        let mut bests = Vec::with_capacity(windows.len());
        for ((j, o), p) in windows.iter().zip(&plans) {
            let win = j.window.unwrap_or(WindowSpec {
                walk: 0,
                index: u32::MAX,
                from: 0,
                to: 0,
            });
            if (win.from..win.to) != p.in_sample || win.index as usize != p.index {
                return Err(DistributedError::Data(format!(
                    "window {} of job {} is not the walk's window {} (bars {:?})",
                    win.index, j.job, p.index, p.in_sample
                )));
            }
            let best = o
                .top
                .first()
                .filter(|(_, r)| u64::from(r.trades) >= o.min_trades);
            bests.push(match best {
                Some((index, r)) => {
                    let set = usize::try_from(*index)
                        .ok()
                        .and_then(|i| sets.get(i))
                        .ok_or_else(|| {
                            DistributedError::Data(format!(
                                "job {} stored set {index}, outside its search",
                                j.job
                            ))
                        })?;
                    Some(WindowBest {
                        params: params_json(set),
                        score: stored_score(r.score),
                        net_profit: r.net_profit,
                    })
                }
                None => None,
            });
        }
        if bests.len() != plans.len() {
            return Err(DistributedError::Data(format!(
                "{} {}: {} windows stored but the data has {}",
                first_outcome.run.run.symbol,
                first_outcome.run.run.strategy,
                bests.len(),
                plans.len()
            )));
        }
        let walk = stitch(&factory, &bars, in_sample, out_of_sample, &plans, &bests)?;
        let (symbol, strategy) = (
            first_outcome.run.run.symbol.to_string(),
            first_outcome.run.run.strategy.clone(),
        );
        let dir = report.map(|d| {
            if several {
                d.join(format!("{symbol}_{strategy}"))
            } else {
                d.to_path_buf()
            }
        });
        if let Some(d) = &dir {
            write_walk_report(d, &factory, &walk)?;
        }
        out.push(WalkOutcome {
            symbol,
            strategy,
            walk,
            bars: bars.len(),
            report: dir,
        });
    }
    Ok(out)
}

fn progress_bar(show: bool, len: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} sets across workers ({per_sec}, {eta} left), {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A run's state for `--status`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStatus {
    pub key: String,
    pub jobs: Vec<(
        OptimizationRunRecord,
        mtq_persistence::ChunkProgress,
        Option<f64>,
    )>,
    /// Sets stored per second over the whole run so far.
    pub rate: Option<f64>,
    /// Work items waiting or in a worker's hands, and results not yet stored (when NATS was
    /// reachable).
    pub queued: Option<(usize, usize)>,
}

/// A symbol and a strategy.
type SymbolStrategy = (String, String);

/// A symbol and strategy's jobs (a walk-forward's windows) for `--status`.
struct Tally {
    jobs: u32,
    finished: u32,
    sets: u64,
    done: u64,
}

impl RunStatus {
    pub fn render(&self) -> String {
        let mut s = format!("distributed run {}\n", self.key);
        let (mut sets, mut done) = (0u64, 0u64);
        // Jobs of one symbol and strategy are a walk-forward's windows: numbered, with their
        // in-sample period, and summed per symbol and strategy below.
        let mut groups: Vec<(SymbolStrategy, Tally)> = Vec::new();
        for (r, p, _) in &self.jobs {
            let k = (r.run.symbol.to_string(), r.run.strategy.clone());
            let finished = u32::from(p.chunks_done == p.chunks);
            match groups.iter_mut().find(|g| g.0 == k) {
                Some((_, g)) => {
                    g.jobs += 1;
                    g.finished += finished;
                    g.sets += p.sets;
                    g.done += p.sets_done;
                }
                None => groups.push((
                    k,
                    Tally {
                        jobs: 1,
                        finished,
                        sets: p.sets,
                        done: p.sets_done,
                    },
                )),
            }
        }
        let mut seen: HashMap<(String, String), u32> = HashMap::new();
        for (r, p, per_sec) in &self.jobs {
            sets += p.sets;
            done += p.sets_done;
            let k = (r.run.symbol.to_string(), r.run.strategy.clone());
            let windows = groups.iter().find(|g| g.0 == k).map_or(1, |g| g.1.jobs);
            let n = seen.entry(k).or_default();
            let window = if windows > 1 {
                format!(
                    " window {} ({}..{})",
                    *n,
                    r.run.period_start.format("%Y-%m-%d"),
                    r.run.period_end.format("%Y-%m-%d")
                )
            } else {
                String::new()
            };
            *n += 1;
            s.push_str(&format!(
                "  optimisation run {} {} {} {}{window}: {}, {}/{} chunks, {}/{} sets{}\n",
                r.id,
                r.run.symbol,
                r.run.strategy,
                r.run.timeframe,
                r.status,
                p.chunks_done,
                p.chunks,
                p.sets_done,
                p.sets,
                per_sec.map_or_else(String::new, |v| format!(", {v:.1} sets/s"))
            ));
        }
        if groups.len() > 1 || groups.iter().any(|g| g.1.jobs > 1) {
            for ((symbol, strategy), t) in &groups {
                let of = if t.jobs > 1 {
                    format!("{}/{} windows, ", t.finished, t.jobs)
                } else {
                    String::new()
                };
                s.push_str(&format!(
                    "  {symbol} {strategy}: {of}{}/{} sets done\n",
                    t.done, t.sets
                ));
            }
        }
        let left = sets.saturating_sub(done);
        s.push_str(&format!("  {done}/{sets} sets done"));
        if let Some(rate) = self.rate.filter(|r| *r > 0.0)
            && left > 0
        {
            s.push_str(&format!(
                ", about {:.0} s left at {rate:.1} sets/s",
                left as f64 / rate
            ));
        }
        s.push('\n');
        if let Some((work, results)) = self.queued {
            s.push_str(&format!(
                "  NATS: {work} work items queued or in progress, {results} results not yet stored\n"
            ));
        }
        s
    }
}

pub async fn status(
    q: Option<&Queue>,
    key: &str,
    url: &str,
) -> Result<RunStatus, DistributedError> {
    let db = db_err(url);
    let mut store = Store::open(url).map_err(&db)?;
    let runs = runs_of(&mut store, key, url, "run")?;
    let mut jobs = Vec::new();
    // The run's pace: every set stored over the time from its first job's start to the last
    // stored chunk (its jobs run at once, so their own paces do not add up).
    let (mut first, mut latest, mut all_done) = (None, None, 0u64);
    for r in runs {
        let p = store.chunk_progress(r.id).map_err(&db)?;
        let last = store
            .chunks(r.id)
            .map_err(&db)?
            .iter()
            .filter_map(|c| c.finished_at)
            .max();
        first = Some(first.map_or(r.run.started_at, |f: chrono::DateTime<Utc>| {
            f.min(r.run.started_at)
        }));
        latest = latest.max(last);
        all_done += p.sets_done;
        let rate = last.map(|t| {
            let secs = (t - r.run.started_at).num_milliseconds() as f64 / 1000.0;
            p.sets_done as f64 / secs.max(1e-3)
        });
        jobs.push((r, p, rate));
    }
    let queued = match q {
        Some(q) => Some((
            Queue::subjects(&q.work, &format!("mtq.opt.work.{key}.>"))
                .await?
                .values()
                .sum(),
            Queue::subjects(&q.results, &format!("mtq.opt.result.{key}.>"))
                .await?
                .values()
                .sum(),
        )),
        None => None,
    };
    let rate = match (first, latest) {
        (Some(a), Some(b)) => {
            let secs = (b - a).num_milliseconds() as f64 / 1000.0;
            Some(all_done as f64 / secs.max(1e-3))
        }
        _ => None,
    };
    Ok(RunStatus {
        rate,
        key: key.to_string(),
        jobs,
        queued,
    })
}

/// How long workers get to drop a cancelled run's chunk in hand before the streams are purged
/// a second time (a worker checks between sets).
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// Cancels a run: marks its jobs cancelled, tells workers, and purges its items and results
/// from the streams and its description from the object store. Returns the messages purged.
pub async fn cancel(q: &Queue, key: &str, url: &str) -> Result<u64, DistributedError> {
    let db = db_err(url);
    let mut store = Store::open(url).map_err(&db)?;
    let runs = runs_of(&mut store, key, url, "--cancel")?;
    for r in &runs {
        if r.status == "running" {
            store
                .finish_run(r.id, "cancelled", Utc::now())
                .map_err(&db)?;
        }
    }
    q.client
        .publish(cancel_subject(key), "cancel".into())
        .await
        .map_err(|e| DistributedError::JetStream(format!("publishing the cancellation: {e}")))?;
    let _ = q.store.delete(run_object(key)).await;
    let (work, results) = purge(q, key).await?;
    tokio::time::sleep(CANCEL_GRACE).await;
    let (work2, results2) = purge(q, key).await?;
    let purged = work + results + work2 + results2;
    let _ = q.results.delete_consumer(&collector_name(key)).await;
    Ok(purged)
}

/// Purges the run's work items and results; returns how many of each.
async fn purge(q: &Queue, key: &str) -> Result<(u64, u64), DistributedError> {
    let err = |e: async_nats::jetstream::stream::PurgeError| {
        DistributedError::JetStream(format!("purging run {key}: {e}"))
    };
    let a = q
        .work
        .purge()
        .filter(format!("mtq.opt.work.{key}.>"))
        .await
        .map_err(err)?;
    let b = q
        .results
        .purge()
        .filter(format!("mtq.opt.result.{key}.>"))
        .await
        .map_err(err)?;
    Ok((a.purged, b.purged))
}
