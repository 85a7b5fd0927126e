//! The loss curves of a run as a PNG.
//!
//! Drawn with plotters into an in-memory RGB buffer and encoded with `image`. Text uses the
//! DejaVu Sans Mono font embedded from `assets/fonts/` (license beside it), so no system font
//! is needed at run time or in CI.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::images::save_rgb_png;
use super::metrics::MetricsRow;
use crate::{Error, Result};

/// Width of the loss plot in pixels.
pub const PLOT_WIDTH: u32 = 800;
/// Height of the loss plot in pixels.
pub const PLOT_HEIGHT: u32 = 500;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

/// Makes the embedded font the one behind every family name plotters asks for. Registration
/// is process-wide in plotters, so it is done once; the result is remembered.
fn register_embedded_font() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        ["sans-serif", "serif", "monospace"]
            .iter()
            .all(|family| register_font(family, FontStyle::Normal, FONT).is_ok())
    })
}

/// Saves the supervised, unsupervised and generator losses of `rows` against the iteration as
/// a [`PLOT_WIDTH`] x [`PLOT_HEIGHT`] PNG with `title` above it, atomically.
///
/// Each series is a line with a dot on every row, so a single row still shows. A series whose
/// values are all `None` (the baseline's unsupervised and generator losses) is left out of the
/// plot and its legend entry says "(none)". Non-finite values are skipped. Zero rows is fine
/// too: the axes are drawn with nothing on them.
pub fn save_loss_plot(path: impl AsRef<Path>, rows: &[MetricsRow], title: &str) -> Result<()> {
    let path = path.as_ref();
    let plot_error = |reason: String| Error::Plot {
        path: path.to_path_buf(),
        reason,
    };
    if !register_embedded_font() {
        return Err(plot_error(
            "the embedded font could not be loaded; this build of sgan-gpu is broken".into(),
        ));
    }

    let series: [Series; 3] = [
        (
            "supervised",
            RGBColor(31, 90, 180),
            points(rows, |r| Some(r.supervised_loss)),
        ),
        (
            "unsupervised",
            RGBColor(214, 96, 20),
            points(rows, |r| r.unsupervised_loss),
        ),
        (
            "generator",
            RGBColor(30, 150, 70),
            points(rows, |r| r.generator_loss),
        ),
    ];
    let (x_range, y_range) = ranges(rows, &series);

    let mut rgb = vec![0u8; PLOT_WIDTH as usize * PLOT_HEIGHT as usize * 3];
    draw(&mut rgb, title, x_range, y_range, &series).map_err(plot_error)?;
    save_rgb_png(path, PLOT_WIDTH, PLOT_HEIGHT, &rgb)
}

type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn points(rows: &[MetricsRow], value: impl Fn(&MetricsRow) -> Option<f32>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| value(r).map(|v| (r.iteration as f64, f64::from(v))))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// Axis ranges that hold every point with a little room, and never an empty range (one row,
/// or all losses equal, would otherwise give plotters a zero-width axis). The loss axis starts
/// at 0 unless a value is negative.
fn ranges(rows: &[MetricsRow], series: &[Series]) -> (Range<f64>, Range<f64>) {
    let iterations = rows.iter().map(|r| r.iteration as f64);
    let x_lo = iterations.clone().fold(f64::INFINITY, f64::min);
    let x_hi = iterations.fold(f64::NEG_INFINITY, f64::max);
    // Iterations are integers: an axis at least 10 wide keeps ticks on whole numbers.
    let x = if x_lo.is_finite() {
        let span = (x_hi - x_lo).max(10.0);
        let pad = (span - (x_hi - x_lo)) / 2.0 + span * 0.03;
        (x_lo - pad)..(x_hi + pad)
    } else {
        0.0..10.0
    };

    let values = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, v)| v));
    let y_lo = values.clone().fold(0.0, f64::min);
    let y_hi = values.fold(f64::NEG_INFINITY, f64::max).max(y_lo);
    let span = if y_hi - y_lo > 1e-12 {
        y_hi - y_lo
    } else {
        1.0
    };
    let below = if y_lo < 0.0 { span * 0.05 } else { 0.0 };
    (x, (y_lo - below)..(y_lo + span * 1.08))
}

/// Tick labels with just enough decimals for ticks about a tenth of `span` apart; values that
/// are zero up to rounding print as 0 rather than -0.
fn tick_label(value: f64, span: f64) -> String {
    let decimals = (-(span / 10.0).log10()).ceil().clamp(0.0, 6.0) as usize;
    let value = if value.abs() < span * 1e-9 {
        0.0
    } else {
        value
    };
    format!("{value:.decimals$}")
}

fn draw(
    rgb: &mut [u8],
    title: &str,
    x_range: Range<f64>,
    y_range: Range<f64>,
    series: &[Series],
) -> std::result::Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::with_buffer(rgb, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| text(&e))?;

    let x_span = x_range.end - x_range.start;
    let y_span = y_range.end - y_range.start;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| text(&e))?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .x_label_formatter(&|v| tick_label(*v, x_span))
        .y_label_formatter(&|v| tick_label(*v, y_span))
        .y_desc("loss")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| text(&e))?;

    for (name, colour, data) in series {
        let style = colour.stroke_width(2);
        // A series with no values gets a grey legend swatch, so the colour means "drawn".
        let (label, swatch) = if data.is_empty() {
            (
                format!("{name} loss (none)"),
                RGBColor(200, 200, 200).stroke_width(2),
            )
        } else {
            (format!("{name} loss"), style)
        };
        chart
            .draw_series(LineSeries::new(data.iter().copied(), style).point_size(3))
            .map_err(|e| text(&e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], swatch));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| text(&e))?;
    root.present().map_err(|e| text(&e))
}
