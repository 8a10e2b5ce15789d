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

/// Where a chart is drawn, which decides how wide its line can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Pixels. Plotters draws a path wider than one pixel as one filled polygon around the
    /// whole line; a curve that doubles back within a pixel (thousands of points across a
    /// 1,200-pixel chart) folds that polygon over itself, and the fill leaves holes: the
    /// "broken segments". A one-pixel path is drawn segment by segment and stays continuous.
    Bitmap,
    /// Vectors: the viewer strokes the path, at any width.
    Svg,
}

impl Target {
    fn line_width(self) -> u32 {
        match self {
            Self::Bitmap => 1,
            Self::Svg => 2,
        }
    }
}

/// What is handed to plotters: the equity curve as one line series and the drawdown as one
/// area series, x in seconds from the first point.
#[derive(Clone, Debug, PartialEq)]
struct Plot {
    equity: Vec<(f64, f64)>,
    drawdown: Vec<(f64, f64)>,
    line_width: u32,
}

impl Plot {
    fn new(curve: &[EquityPoint], target: Target) -> Result<Self, ChartError> {
        let t0 = curve.first().ok_or(ChartError::EmptyCurve)?.time;
        let xs = curve.iter().map(|p| secs_f64(p.time - t0));
        let equity = xs
            .clone()
            .zip(curve.iter().map(|p| p.equity.to_f64().unwrap_or(0.0)))
            .collect();
        let drawdown = xs.zip(drawdown_series(curve)).collect();
        Ok(Self {
            equity,
            drawdown,
            line_width: target.line_width(),
        })
    }
}

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
    draw(
        &root,
        curve,
        Target::Bitmap,
        opts,
        &path.display().to_string(),
    )
}

/// Writes the chart of `curve` as an SVG file.
pub fn write_svg(
    curve: &[EquityPoint],
    path: &Path,
    opts: &ChartOptions,
) -> Result<(), ChartError> {
    ensure_font()?;
    let root = SVGBackend::new(path, (opts.width, opts.height)).into_drawing_area();
    draw(&root, curve, Target::Svg, opts, &path.display().to_string())
}

/// The chart of `curve` as an SVG document, e.g. for the API to serve.
pub fn svg_string(curve: &[EquityPoint], opts: &ChartOptions) -> Result<String, ChartError> {
    ensure_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (opts.width, opts.height)).into_drawing_area();
        draw(&root, curve, Target::Svg, opts, "an SVG string")?;
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
    kind: Target,
    opts: &ChartOptions,
    target: &str,
) -> Result<(), ChartError> {
    let plot = Plot::new(curve, kind)?;
    let t0 = curve.first().ok_or(ChartError::EmptyCurve)?.time;
    let err = |e: &dyn std::fmt::Display| ChartError::Draw {
        target: target.to_string(),
        message: e.to_string(),
    };
    let span = plot.equity.last().map_or(0.0, |p| p.0).max(1.0);
    let (ylo, yhi) = plot
        .equity
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let (ylo, yhi) = padded(ylo, yhi);
    let ddlo = plot.drawdown.iter().map(|p| p.1).fold(0.0_f64, f64::min);
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
        plot.equity.iter().copied(),
        BLUE.stroke_width(plot.line_width),
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
            AreaSeries::new(plot.drawdown.iter().copied(), 0.0, RED.mix(0.25)).border_style(RED),
        )
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    use super::*;

    /// A backtest's curve: 20,000 M5 points of a noisy walk, 17 per pixel of a 1,200-pixel chart.
    fn noisy_curve() -> Vec<EquityPoint> {
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let mut rng = mtq_core::SplitMix64::new(3);
        let mut equity = 1_000_000_i64;
        (0..20_000)
            .map(|i| {
                equity += i64::try_from(rng.next_u64() % 2_001).unwrap() - 1_000;
                EquityPoint {
                    time: t0 + Duration::minutes(5 * i),
                    equity: Decimal::new(equity, 2),
                }
            })
            .collect()
    }

    #[test]
    // Whole seconds as f64 are exact: compared exactly.
    #[allow(clippy::float_cmp)]
    fn the_png_equity_curve_is_one_continuous_hairline_series() {
        let curve = noisy_curve();
        let plot = Plot::new(&curve, Target::Bitmap).unwrap();
        // Wider than one pixel, plotters fills a polygon that this curve folds into holes.
        assert_eq!(plot.line_width, 1);
        // One series with every point, in time order, none missing or NaN: nothing to break it.
        assert_eq!(plot.equity.len(), curve.len());
        assert!(
            plot.equity
                .iter()
                .all(|(x, y)| x.is_finite() && y.is_finite())
        );
        assert!(plot.equity.windows(2).all(|w| w[1].0 > w[0].0));
        assert_eq!(plot.equity[0].0, 0.0);
        assert_eq!(plot.equity[19_999].0, 19_999.0 * 300.0);
        assert_eq!(plot.drawdown.len(), curve.len());
        // Vectors keep the bolder line: the viewer strokes it.
        assert_eq!(Plot::new(&curve, Target::Svg).unwrap().line_width, 2);
    }

    #[test]
    fn the_svg_draws_the_equity_curve_as_one_path() {
        let svg = svg_string(&noisy_curve(), &ChartOptions::default()).unwrap();
        // The equity is the one blue element, a single polyline through every point.
        let blue: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains("stroke=\"#0000FF\""))
            .collect();
        assert_eq!(blue.len(), 1);
        assert!(blue[0].starts_with("<polyline"), "{}", &blue[0][..80]);
        assert_eq!(blue[0].matches(',').count(), 20_000);
    }
}
