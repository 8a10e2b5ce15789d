//! The Prometheus recorder: built with every histogram's buckets, installed once per process,
//! every metric described.

use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::names::{self, Kind};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether [`install`] has put the Prometheus recorder in place. Without it the trader is not
/// instrumented at all ([`crate::instrument_broker`], [`crate::record_cycle`] do nothing), so
/// a process that serves no metrics pays nothing for them.
pub fn enabled() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("the Prometheus recorder could not be built: {0}")]
    Build(String),
    #[error("a metrics recorder is already installed in this process")]
    AlreadyInstalled,
}

/// A recorder with MTQ's buckets, not installed: for tests (`metrics::with_local_recorder`) and
/// for [`install`].
pub fn build() -> Result<PrometheusRecorder, MetricsError> {
    let mut builder = PrometheusBuilder::new();
    for m in names::ALL.iter().filter(|m| m.kind == Kind::Histogram) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(m.name.into()), m.buckets)
            .map_err(|e| MetricsError::Build(e.to_string()))?;
    }
    Ok(builder.build_recorder())
}

/// Installs the recorder as the process's global one, describes every metric and sets
/// `mtq_build_info`. The handle renders the text format (`PrometheusHandle::render`); call
/// [`PrometheusHandle::run_upkeep`] now and then (every few seconds) to keep histograms compact.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let recorder = build()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::AlreadyInstalled)?;
    INSTALLED.store(true, Ordering::Release);
    describe_all();
    metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// Describes every metric of [`names::ALL`] to the current recorder (HELP and TYPE lines).
pub fn describe_all() {
    for m in names::ALL
        .iter()
        .filter(|m| !names::MONEY.contains(&m.name))
    {
        match m.kind {
            Kind::Counter => describe_counter!(m.name, m.help),
            Kind::Gauge => describe_gauge!(m.name, m.help),
            Kind::Histogram => describe_histogram!(m.name, m.help),
        }
    }
}
