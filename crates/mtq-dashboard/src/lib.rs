//! # mtq-dashboard: the web dashboard, embedded
//!
//! Owns the operator's browser app: plain ES modules, CSS, icons, the web app manifest and the
//! vendored TradingView lightweight-charts standalone build (Apache-2.0; its licence and notice
//! travel with it under `assets/vendor/`). Every file is compiled into the binary with
//! `include_bytes!`, so `mtq-trader serve` and a browser are all a user needs, offline, with no
//! Node at run time and no CDN.
//!
//! It does **not** talk to the trader or the database: the app in the browser calls the
//! operator API (`mtq-api`) like any other client, with the user's access token. This crate
//! only serves files: the right `Content-Type`, a strict `Content-Security-Policy` (no inline
//! script or style, connections to this origin only), an `ETag` for cheap revalidation, long
//! caching for the versioned vendor file, and gzip when the browser accepts it (compressed once,
//! on first use).
//!
//! Without its default `server` feature it is only the vendored chart library
//! ([`vendor::LIGHTWEIGHT_CHARTS_JS`]), which the backtest's self-contained `report.html` inlines:
//! the same charts in the dashboard and in the reports, from one copy.
//!
//! ```
//! // `serve` merges this router beside the API's (it has no fallback of its own).
//! let app: axum::Router = mtq_dashboard::router();
//! # let _ = app;
//! assert!(mtq_dashboard::asset("/assets/js/app.js").is_some());
//! assert!(mtq_dashboard::asset("/assets/../Cargo.toml").is_none());
//! ```

pub mod vendor;

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::*;
