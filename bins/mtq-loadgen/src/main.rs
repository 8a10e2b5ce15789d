//! `mtq-loadgen`: measures MTQ's operator API on loopback, as `docs/benchmarks.md` reports it.
//!
//! ```text
//! mtq-loadgen seed --database-url sqlite://load.db --trades 100000 --keys 8 > keys.txt
//! mtq-trader serve --database-url sqlite://load.db ...        # in another shell
//! mtq-loadgen http --base http://127.0.0.1:8080 --keys-file keys.txt --rate 1000 --seconds 30 \
//!     --path /api/v1/accounts/default/positions --path '/api/v1/accounts/default/trades?limit=100'
//! mtq-loadgen ws --base http://127.0.0.1:8080 --keys-file keys.txt --clients 100 --seconds 60
//! ```
//!
//! `http` is open loop: requests are due at a fixed rate whatever the server does, and each
//! latency is measured from when the request was due (not when a connection was free), so a
//! stalled server shows in the figures instead of slowing the generator down (no coordinated
//! omission). `ws` measures, for every event received, the time from the envelope's `ts` (when
//! the server stamped it) to its arrival.

mod http;
mod seed;
mod serve;
mod stats;
mod ws;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "mtq-loadgen",
    version,
    about = "Load generator for MTQ's operator API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fill a database with closed trades and print fresh viewer API keys, one a line.
    Seed(seed::SeedArgs),
    /// Send GET requests at a fixed rate and report latency per path.
    Http(http::HttpArgs),
    /// Hold WebSocket clients subscribed to channels and report event latency.
    Ws(ws::WsArgs),
    /// Serve the API over a database with no trader behind it (history routes only), for
    /// measuring the database side alone and for fuzzing where `mtq-trader serve` is absent.
    Serve(serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Seed(a) => seed::run(&a),
        Command::Http(a) => runtime()?.block_on(http::run(a)),
        Command::Ws(a) => runtime()?.block_on(ws::run(a)),
        Command::Serve(a) => runtime()?.block_on(serve::run(a)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// API keys from `--key` and `--keys-file` (one a line); at least one.
pub(crate) fn keys(keys: &[String], file: Option<&std::path::Path>) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = keys.to_vec();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading API keys from {}", f.display()))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    anyhow::ensure!(!out.is_empty(), "give an API key: --key or --keys-file");
    Ok(out)
}

/// `host:port` of an `http://host:port` base URL; only plain HTTP on loopback is measured.
pub(crate) fn authority(base: &str) -> anyhow::Result<String> {
    let rest = base
        .strip_prefix("http://")
        .with_context(|| format!("--base {base:?}: expected http://HOST:PORT"))?;
    Ok(rest.trim_end_matches('/').to_string())
}
