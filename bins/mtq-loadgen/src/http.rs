//! `http`: GET requests at a fixed rate over keep-alive connections, latency per path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

use crate::stats::{ms, percentiles};

#[derive(clap::Args, Debug)]
pub(crate) struct HttpArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// A path (and query) to GET; repeat for several, sent in turn.
    #[arg(long = "path", required = true)]
    paths: Vec<String>,
    /// An API key; repeat, or use --keys-file. Requests use them in turn.
    #[arg(long = "key")]
    keys: Vec<String>,
    #[arg(long)]
    keys_file: Option<std::path::PathBuf>,
    /// Requests per second, all paths together.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Keep-alive connections sending the requests.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds at the start whose figures are dropped (connections opening, caches warming).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// A request due at `due`: which path and which key.
struct Job {
    due: Instant,
    path: usize,
    key: usize,
}

struct Sample {
    path: usize,
    due: Instant,
    latency: Duration,
    status: u16,
}

pub(crate) async fn run(args: HttpArgs) -> anyhow::Result<()> {
    let keys = Arc::new(crate::keys(&args.keys, args.keys_file.as_deref())?);
    let authority = crate::authority(&args.base)?;
    let paths = Arc::new(args.paths.clone());
    anyhow::ensure!(args.rate > 0, "--rate must be above 0");
    let (tx, rx) = mpsc::channel::<Job>(100_000);
    let rx = Arc::new(Mutex::new(rx));
    let (sample_tx, mut sample_rx) = mpsc::unbounded_channel::<Sample>();
    let mut workers = Vec::new();
    for _ in 0..args.connections.max(1) {
        let (rx, sample_tx, keys, paths, authority) = (
            rx.clone(),
            sample_tx.clone(),
            keys.clone(),
            paths.clone(),
            authority.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut conn: Option<BufReader<TcpStream>> = None;
            loop {
                let job = { rx.lock().await.recv().await };
                let Some(job) = job else { break };
                let status =
                    match get(&mut conn, &authority, &paths[job.path], &keys[job.key]).await {
                        Ok(s) => s,
                        Err(_) => {
                            conn = None;
                            0
                        }
                    };
                let _ = sample_tx.send(Sample {
                    path: job.path,
                    due: job.due,
                    latency: job.due.elapsed(),
                    status,
                });
            }
        }));
    }
    drop(sample_tx);
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let total = u64::from(args.rate) * args.seconds;
    eprintln!(
        "{} GET/s for {} s over {} connections to {}",
        args.rate, args.seconds, args.connections, args.base
    );
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let job = Job {
            due,
            path: usize::try_from(n).unwrap_or(0) % paths.len(),
            key: usize::try_from(n).unwrap_or(0) % keys.len(),
        };
        if tx.send(job).await.is_err() {
            bail!("every connection worker stopped");
        }
    }
    drop(tx);
    for w in workers {
        w.await.context("a connection worker failed")?;
    }
    let elapsed = start.elapsed();
    let warm = start + Duration::from_secs(args.warmup);
    let mut per_path: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    let mut n = 0u64;
    while let Some(s) = sample_rx.recv().await {
        n += 1;
        *statuses.entry(s.status).or_default() += 1;
        if s.due >= warm && s.status == 200 {
            per_path[s.path].push(s.latency);
        }
    }
    println!(
        "sent {n} requests in {:.1} s ({:.0}/s); statuses {statuses:?} (0 = connection error)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    println!("after {} s warm-up, 200 responses only:", args.warmup);
    for (path, samples) in paths.iter().zip(per_path.iter_mut()) {
        let count = samples.len();
        match percentiles(samples) {
            Some([p50, p90, p99, max]) => println!(
                "  {path}: n={count} p50={} p90={} p99={} max={}",
                ms(p50),
                ms(p90),
                ms(p99),
                ms(max)
            ),
            None => println!("  {path}: no successful responses"),
        }
    }
    Ok(())
}

/// One GET on the kept-alive connection (opened on first use); reads the whole body and
/// returns the status.
async fn get(
    conn: &mut Option<BufReader<TcpStream>>,
    authority: &str,
    path: &str,
    key: &str,
) -> anyhow::Result<u16> {
    if conn.is_none() {
        let s = TcpStream::connect(authority).await?;
        s.set_nodelay(true)?;
        *conn = Some(BufReader::new(s));
    }
    let Some(c) = conn.as_mut() else {
        bail!("no connection")
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\nAccept: */*\r\n\r\n"
    );
    c.get_mut().write_all(req.as_bytes()).await?;
    let r = read_response(c).await?;
    if r.close {
        *conn = None;
    }
    Ok(r.status)
}

/// A response read whole.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The server closes the connection after it.
    pub(crate) close: bool,
}

/// Reads a response's status line, headers and body (`Content-Length` or chunked).
pub(crate) async fn read_response(c: &mut BufReader<TcpStream>) -> anyhow::Result<Response> {
    let mut line = String::new();
    c.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP status line: {line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if c.read_line(&mut line).await? == 0 {
            bail!("connection closed in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            c.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim(), 16)
                .with_context(|| format!("bad chunk size {line:?}"))?;
            let mut buf = vec![0; size + 2];
            c.read_exact(&mut buf).await?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&buf[..size]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        c.read_exact(&mut body).await?;
    }
    Ok(Response {
        status,
        body,
        close,
    })
}
