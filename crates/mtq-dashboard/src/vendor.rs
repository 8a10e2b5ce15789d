//! TradingView's lightweight-charts 4.2.3, the unmodified standalone production build, with its
//! licence and notice (Apache-2.0: they travel with every copy, including the one a backtest
//! report inlines).

/// The library: a classic script that sets `window.LightweightCharts`.
pub const LIGHTWEIGHT_CHARTS_JS: &str =
    include_str!("../assets/vendor/lightweight-charts-4.2.3.js");
/// The library's version, as its file name carries it.
pub const LIGHTWEIGHT_CHARTS_VERSION: &str = "4.2.3";
/// Its attribution notice (who wrote it, what it bundles).
pub const LIGHTWEIGHT_CHARTS_NOTICE: &str =
    include_str!("../assets/vendor/NOTICE-lightweight-charts.txt");
/// Its licence, the Apache License 2.0.
pub const LIGHTWEIGHT_CHARTS_LICENSE: &str =
    include_str!("../assets/vendor/LICENSE-lightweight-charts.txt");
