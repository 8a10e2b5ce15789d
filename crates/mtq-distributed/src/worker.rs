//! `mtq-trader worker`: pulls work items, evaluates their parameter sets with the optimiser's own
//! code ([`SetEvaluator`]), publishes the chunk's result, and acks the item only once JetStream
//! has stored that result. A worker that dies holding an item leaves it unacked: JetStream hands
//! it to another worker after the ack wait. While a chunk runs the worker reports progress, so a
//! long chunk is not redelivered while its worker is alive.
//!
//! A worker refuses (and says so on `mtq.opt.refused.RUN`) an item of another MTQ version, or
//! whose data hash is not its run's, or whose data does not hash to its name: results computed
//! by different code or on different bars never enter one run.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::PublishMessage;
use futures_util::StreamExt;
use mtq_backtest::optimize::{SetEvaluator, SetupFactory};
use tracing::{info, warn};

use crate::DistributedError;
use crate::nats::{NatsOptions, Queue, data_object, refused_subject, result_subject, run_object};
use crate::wire::{
    ChunkResult, MTQ_VERSION, Refusal, RunSpec, SetResult, WorkItem, decode_bars, sha256_hex,
};

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Shown in results, refusals and the chunks table (host and process id by default).
    pub name: String,
    /// Threads per chunk (one by default: run one worker per core).
    pub jobs: Option<usize>,
    /// Where fetched data is kept between runs (by content hash).
    pub cache_dir: Option<PathBuf>,
    /// Stop after this long without an item (run for ever without it).
    pub idle_exit: Option<Duration>,
}

/// What a worker did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub chunks: u64,
    pub sets: u64,
    pub refused: u64,
}

/// A job ready to evaluate: the run's description and the evaluator over the job's bars.
struct JobContext {
    spec: RunSpec,
    evaluator: SetEvaluator,
}

/// Most jobs whose bars a worker keeps in memory.
const JOBS_KEPT: usize = 8;

/// What to do with an item.
enum Verdict {
    /// Published its result; ack it.
    Done,
    /// Another worker may take it (another version); put it back after a delay.
    Refuse(String),
    /// No worker can do it (its run is gone, or it is malformed); drop it.
    Drop(String),
}

pub async fn run_worker(
    nats: &NatsOptions,
    opts: &WorkerOptions,
) -> Result<WorkerReport, DistributedError> {
    let q = Queue::open(nats, &opts.name).await?;
    let consumer = q.worker_consumer().await?;
    let cancelled: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut cancels =
        q.client.subscribe("mtq.opt.cancel.>").await.map_err(|e| {
            DistributedError::JetStream(format!("subscribing to cancellations: {e}"))
        })?;
    {
        let cancelled = cancelled.clone();
        tokio::spawn(async move {
            while let Some(m) = cancels.next().await {
                if let Some(run) = m.subject.as_str().rsplit('.').next() {
                    info!(run, "run cancelled");
                    if let Ok(mut c) = cancelled.lock() {
                        c.insert(run.to_string());
                    }
                }
            }
        });
    }
    info!(
        worker = %opts.name,
        version = MTQ_VERSION,
        nats = %crate::nats::redact(&nats.url),
        "worker waiting for items"
    );
    let mut jobs: HashMap<(String, u32), Arc<JobContext>> = HashMap::new();
    let mut data: DataKept = HashMap::new();
    let mut report = WorkerReport::default();
    let mut idle_since = Instant::now();
    loop {
        if let Some(limit) = opts.idle_exit
            && idle_since.elapsed() >= limit
        {
            info!(
                chunks = report.chunks,
                sets = report.sets,
                "idle: worker stops"
            );
            return Ok(report);
        }
        let batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "cannot fetch work items; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(msg) = batch.next().await {
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    warn!(error = %e, "fetching a work item failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            };
            let verdict = handle(
                &q,
                &msg,
                opts,
                &cancelled,
                (&mut jobs, &mut data),
                &mut report,
            )
            .await;
            idle_since = Instant::now();
            let ack = match verdict {
                Verdict::Done => msg.double_ack().await,
                Verdict::Refuse(reason) => {
                    report.refused += 1;
                    warn!(subject = %msg.subject, reason, "item refused");
                    msg.ack_with(AckKind::Nak(Some(q.ack_wait))).await
                }
                Verdict::Drop(reason) => {
                    warn!(subject = %msg.subject, reason, "item dropped");
                    msg.ack_with(AckKind::Term).await
                }
            };
            if let Err(e) = ack {
                // The item comes back after the ack wait; its result, if published, is
                // dropped as a duplicate.
                warn!(error = %e, subject = %msg.subject, "could not ack an item");
            }
        }
    }
}

async fn handle(
    q: &Queue,
    msg: &async_nats::jetstream::Message,
    opts: &WorkerOptions,
    cancelled: &Arc<Mutex<HashSet<String>>>,
    (jobs, data): (&mut HashMap<(String, u32), Arc<JobContext>>, &mut DataKept),
    report: &mut WorkerReport,
) -> Verdict {
    let item: WorkItem = match serde_json::from_slice(&msg.payload) {
        Ok(i) => i,
        Err(e) => return Verdict::Drop(format!("not a work item: {e}")),
    };
    if let Ok(info) = msg.info()
        && info.delivered > 1
    {
        info!(
            run = %item.run,
            job = item.job,
            chunk = item.chunk,
            delivery = info.delivered,
            "item redelivered (its previous worker died, refused it or did not ack in time)"
        );
    }
    let refuse = |reason: String| async {
        let r = Refusal {
            run: item.run.clone(),
            job: item.job,
            chunk: item.chunk,
            worker: opts.name.clone(),
            reason: reason.clone(),
        };
        if let Ok(body) = serde_json::to_vec(&r) {
            let _ = q
                .client
                .publish(refused_subject(&item.run), body.into())
                .await;
        }
        reason
    };
    if item.version != MTQ_VERSION {
        return Verdict::Refuse(
            refuse(format!(
                "item of MTQ {} but this worker is MTQ {MTQ_VERSION}",
                item.version
            ))
            .await,
        );
    }
    let is_cancelled = || {
        cancelled
            .lock()
            .map(|c| c.contains(&item.run))
            .unwrap_or(false)
    };
    if is_cancelled() {
        return Verdict::Drop(format!("run {} was cancelled", item.run));
    }
    let key = (item.run.clone(), item.job);
    let ctx = match jobs.get(&key) {
        Some(c) => c.clone(),
        None => match load_job(q, &item, opts, data).await {
            Ok(c) => {
                if jobs.len() >= JOBS_KEPT {
                    jobs.clear();
                }
                let c = Arc::new(c);
                jobs.insert(key, c.clone());
                c
            }
            Err(JobError::Refuse(r)) => return Verdict::Refuse(refuse(r).await),
            Err(JobError::Drop(r)) => return Verdict::Drop(refuse(r).await),
        },
    };
    let Some(job) = ctx.spec.jobs.iter().find(|j| j.job == item.job) else {
        return Verdict::Drop(format!("run {} has no job {}", item.run, item.job));
    };
    if job.data_hash != item.data_hash {
        return Verdict::Drop(
            refuse(format!(
                "item names data {} but its run's job {} is on data {}",
                item.data_hash, item.job, job.data_hash
            ))
            .await,
        );
    }
    let (Ok(first), Ok(n)) = (usize::try_from(item.first_set), usize::try_from(item.sets)) else {
        return Verdict::Drop("set range out of range".into());
    };
    let started = Instant::now();
    let eval_ctx = ctx.clone();
    let stop_flag = cancelled.clone();
    let run = item.run.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        let stop = move || stop_flag.lock().map(|c| c.contains(&run)).unwrap_or(false);
        eval_ctx.evaluator.evaluate(first..first + n, &stop)
    });
    // Hold the item while it runs: a progress ack restarts its ack wait.
    let mut tick = tokio::time::interval((q.ack_wait / 3).max(Duration::from_millis(200)));
    tick.tick().await;
    let outcome = loop {
        tokio::select! {
            r = &mut task => break r,
            _ = tick.tick() => {
                let _ = msg.ack_with(AckKind::Progress).await;
            }
        }
    };
    let evaluated = match outcome {
        Ok(Some(v)) => v,
        Ok(None) => return Verdict::Drop(format!("run {} was cancelled", item.run)),
        Err(e) => return Verdict::Refuse(format!("evaluation failed: {e}")),
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut result = ChunkResult {
        version: MTQ_VERSION.to_string(),
        run: item.run.clone(),
        job: item.job,
        chunk: item.chunk,
        worker: opts.name.clone(),
        seconds,
        invalid: 0,
        invalid_reason: None,
        results: Vec::with_capacity(evaluated.len()),
    };
    for (i, r) in &evaluated {
        match r {
            Ok(e) => result.results.push(SetResult::of(*i as u64, e)),
            Err(reason) => {
                result.invalid += 1;
                result.invalid_reason.get_or_insert_with(|| reason.clone());
            }
        }
    }
    let body = match serde_json::to_vec(&result) {
        Ok(b) => b,
        Err(e) => return Verdict::Refuse(format!("encoding the result: {e}")),
    };
    if is_cancelled() {
        return Verdict::Drop(format!("run {} was cancelled", item.run));
    }
    let publish =
        q.js.send_publish(
            result_subject(&item.run, item.job, item.chunk),
            PublishMessage::build()
                .payload(body.into())
                .message_id(format!("{}.{}.{}", item.run, item.job, item.chunk)),
        )
        .await;
    let stored = match publish {
        Ok(ack) => ack.await.map(drop).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = stored {
        // Not acked: the item comes back after the ack wait.
        warn!(error = %e, "the result was not stored; the item will be redelivered");
        return Verdict::Refuse(format!("result not stored: {e}"));
    }
    report.chunks += 1;
    report.sets += evaluated.len() as u64;
    info!(
        run = %item.run,
        job = item.job,
        chunk = item.chunk,
        sets = evaluated.len(),
        seconds,
        sets_per_second = evaluated.len() as f64 / seconds.max(1e-9),
        "chunk done"
    );
    Verdict::Done
}

enum JobError {
    Refuse(String),
    Drop(String),
}

/// Decoded data by hash: a walk-forward's windows (jobs of their own) share one data set.
type DataKept = HashMap<String, Arc<Vec<mtq_core::Bar>>>;

async fn load_job(
    q: &Queue,
    item: &WorkItem,
    opts: &WorkerOptions,
    data: &mut DataKept,
) -> Result<JobContext, JobError> {
    let spec_bytes = q
        .get_object(&run_object(&item.run))
        .await
        .map_err(|e| JobError::Refuse(e.to_string()))?
        .ok_or_else(|| {
            JobError::Drop(format!(
                "run {} is no longer published (finished or cancelled)",
                item.run
            ))
        })?;
    let spec: RunSpec = serde_json::from_slice(&spec_bytes)
        .map_err(|e| JobError::Drop(format!("run {}: not a run description: {e}", item.run)))?;
    if spec.version != MTQ_VERSION {
        return Err(JobError::Refuse(format!(
            "run {} is MTQ {} but this worker is MTQ {MTQ_VERSION}",
            item.run, spec.version
        )));
    }
    let job = spec
        .jobs
        .iter()
        .find(|j| j.job == item.job)
        .ok_or_else(|| JobError::Drop(format!("run {} has no job {}", item.run, item.job)))?;
    let all = match data.get(&job.data_hash) {
        Some(b) => b.clone(),
        None => {
            let bytes = fetch_data(q, &job.data_hash, opts).await?;
            let bars = Arc::new(decode_bars(&bytes).map_err(|e| JobError::Drop(e.to_string()))?);
            if data.len() >= JOBS_KEPT {
                data.clear();
            }
            data.insert(job.data_hash.clone(), bars.clone());
            bars
        }
    };
    let mut bars = (*all).clone();
    if let Some(w) = job.window {
        // A walk-forward window optimises its in-sample bars alone, as a local walk-forward does.
        if w.from > w.to || w.to > bars.len() {
            return Err(JobError::Drop(format!(
                "job {}: window bars {}..{} outside the data's {} bars",
                job.job,
                w.from,
                w.to,
                bars.len()
            )));
        }
        bars.truncate(w.to);
        bars.drain(..w.from);
    }
    let setup = job
        .setup
        .build()
        .map_err(|e| JobError::Drop(format!("job {}: {e}", job.job)))?;
    let search = job
        .search
        .options(opts.jobs)
        .map_err(|e| JobError::Drop(format!("job {}: {e}", job.job)))?;
    let evaluator = SetEvaluator::new(SetupFactory::new(setup), bars, &search)
        .map_err(|e| JobError::Drop(format!("job {}: {e}", job.job)))?;
    Ok(JobContext { spec, evaluator })
}

/// The data named `hash`: from the local cache when it is there and hashes right, else from the
/// object store (then cached).
async fn fetch_data(q: &Queue, hash: &str, opts: &WorkerOptions) -> Result<Vec<u8>, JobError> {
    let cached = opts.cache_dir.as_ref().map(|d| d.join(data_object(hash)));
    if let Some(p) = &cached
        && let Ok(bytes) = std::fs::read(p)
        && sha256_hex(&bytes) == hash
    {
        return Ok(bytes);
    }
    let bytes = q
        .get_object(&data_object(hash))
        .await
        .map_err(|e| JobError::Refuse(e.to_string()))?
        .ok_or_else(|| JobError::Drop(format!("data {hash} is not in the object store")))?;
    let got = sha256_hex(&bytes);
    if got != hash {
        return Err(JobError::Refuse(format!(
            "data {hash} fetched but it hashes to {got}"
        )));
    }
    if let Some(p) = &cached {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(p, &bytes) {
            warn!(path = %p.display(), error = %e, "cannot cache data");
        }
    }
    Ok(bytes)
}
