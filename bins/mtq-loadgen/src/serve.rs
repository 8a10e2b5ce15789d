//! `serve`: the API over a database, without a trader (what `serve --no-trade` offers).

use std::net::SocketAddr;

use anyhow::Context;
use mtq_api::{ApiOptions, ApiState, RateLimits};
use mtq_persistence::{AccountRepo, Store};

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Requests per second allowed per key.
    #[arg(long, default_value_t = 200)]
    per_key_per_second: u32,
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.bind.ip().is_loopback(),
        "--bind {}: this test server only listens on loopback",
        args.bind
    );
    let mut store = Store::open(&args.database_url).context("opening --database-url")?;
    let account = store.accounts()?.first().map(|a| a.id);
    // A fresh random signing key per run: tokens never outlive the test server.
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    let mut opts = ApiOptions::new(secret);
    opts.db_account = account;
    // No trader, so no configuration: an empty object, as the `/config` schema documents.
    // (`ApiOptions::new` leaves it `null`, which breaks that schema: see the fuzz report.)
    opts.redacted_config = serde_json::json!({});
    opts.limits = RateLimits {
        per_key_per_second: std::num::NonZeroU32::new(args.per_key_per_second)
            .unwrap_or(std::num::NonZeroU32::MIN),
        ..RateLimits::default()
    };
    let state = ApiState::new(Store::open(&args.database_url)?, None, opts)?;
    let (app, _) = mtq_api::router(state);
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    eprintln!("serving the API (no trader) on http://{}", args.bind);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving")
}
