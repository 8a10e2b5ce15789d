//! The equity and drawdown chart, as PNG or SVG. Text is drawn with the DejaVu Sans font
//! embedded in the binary, so rendering needs no system fonts (servers and containers have none).

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use rust_decimal::prelude::ToPrimitive;

use crate::EquityPoint;
use crate::equity::drawdown_series;

/// The family name the embedded font is registered under.
const FONT: &str = "sans-serif";

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the equity curve is empty: nothing to chart")]
    EmptyCurve,
    #[error("the embedded font could not be loaded")]
    Font,
    #[error("drawing the chart to {target} failed: {message}")]
    Draw { target: String, message: String },
}

/// Size and title of a chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartOptions {
    pub width: u32,
    pub height: u32,
    pub title: String,
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            width: 1200,
            height: 700,
            title: "Equity and drawdown".into(),
        }
    }
}

fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

/// Writes the chart of `curve` as a PNG file.
pub fn write_png(
    curve: &[EquityPoint],
    path: &Path,
    opts: &ChartOptions,
) -> Result<(), ChartError> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (opts.width, opts.height)).into_drawing_area();
    draw(&root, curve, opts, &path.display().to_string())
}

/// Writes the chart of `curve` as an SVG file.
pub fn write_svg(
    curve: &[EquityPoint],
    path: &Path,
    opts: &ChartOptions,
) -> Result<(), ChartError> {
    ensure_font()?;
    let root = SVGBackend::new(path, (opts.width, opts.height)).into_drawing_area();
    draw(&root, curve, opts, &path.display().to_string())
}

/// The chart of `curve` as an SVG document, e.g. for the API to serve.
pub fn svg_string(curve: &[EquityPoint], opts: &ChartOptions) -> Result<String, ChartError> {
    ensure_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (opts.width, opts.height)).into_drawing_area();
        draw(&root, curve, opts, "an SVG string")?;
    }
    Ok(out)
}

/// Seconds as an f64 axis coordinate; exact for any span under 285 million years.
#[allow(clippy::cast_precision_loss)]
fn secs_f64(d: Duration) -> f64 {
    d.num_seconds() as f64
}

#[allow(clippy::cast_possible_truncation)]
fn label_time(t0: DateTime<Utc>, x: f64, span_secs: f64) -> String {
    // Axis positions are whole seconds within the curve's span.
    let t = t0 + Duration::seconds(x.round() as i64);
    if span_secs > 3.0 * 86_400.0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let pad = ((hi - lo) * 0.05).max(hi.abs().max(1.0) * 1e-6);
    (lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curve: &[EquityPoint],
    opts: &ChartOptions,
    target: &str,
) -> Result<(), ChartError> {
    let first = curve.first().ok_or(ChartError::EmptyCurve)?;
    let err = |e: &dyn std::fmt::Display| ChartError::Draw {
        target: target.to_string(),
        message: e.to_string(),
    };
    let t0 = first.time;
    let xs: Vec<f64> = curve.iter().map(|p| secs_f64(p.time - t0)).collect();
    let eq: Vec<f64> = curve
        .iter()
        .map(|p| p.equity.to_f64().unwrap_or(0.0))
        .collect();
    let dd = drawdown_series(curve);
    let span = xs.last().copied().unwrap_or(0.0).max(1.0);
    let (ylo, yhi) = eq
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let (ylo, yhi) = padded(ylo, yhi);
    let ddlo = dd.iter().copied().fold(0.0_f64, f64::min);
    let (ddlo, _) = padded(ddlo, 0.0);
    let fmt_x = |x: &f64| label_time(t0, *x, span);

    root.fill(&WHITE).map_err(|e| err(&e))?;
    let split = opts.height.saturating_mul(2) / 3;
    let (upper, lower) = root.split_vertically(split);

    let mut top = ChartBuilder::on(&upper)
        .caption(&opts.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..span, ylo..yhi)
        .map_err(|e| err(&e))?;
    top.configure_mesh()
        .x_labels(6)
        .x_label_formatter(&fmt_x)
        .y_desc("Equity")
        .label_style((FONT, 13))
        .draw()
        .map_err(|e| err(&e))?;
    top.draw_series(LineSeries::new(
        xs.iter().copied().zip(eq.iter().copied()),
        BLUE.stroke_width(2),
    ))
    .map_err(|e| err(&e))?;

    let mut bottom = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..span, ddlo..0.0)
        .map_err(|e| err(&e))?;
    bottom
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&fmt_x)
        .y_desc("Drawdown %")
        .label_style((FONT, 13))
        .draw()
        .map_err(|e| err(&e))?;
    bottom
        .draw_series(
            AreaSeries::new(
                xs.iter().copied().zip(dd.iter().copied()),
                0.0,
                RED.mix(0.25),
            )
            .border_style(RED),
        )
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
