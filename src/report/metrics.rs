//! The numbers a run reports every `sample_interval` iterations: one terminal line each, and all
//! of them as a CSV file for plots.

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::atomic_write;
use crate::{Error, Result};

/// The CSV header, in column order.
pub const METRICS_CSV_HEADER: &str =
    "iteration,supervised_loss,supervised_accuracy,unsupervised_loss,generator_loss,seconds";

/// One reported iteration. The supervised-only baseline has no unsupervised or generator loss:
/// those are `None`, written as empty CSV fields and as JSON `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Iterations completed, counting from 1.
    pub iteration: usize,
    /// Softmax cross-entropy on the labelled batch.
    pub supervised_loss: f32,
    /// Fraction of the labelled batch classified correctly, in [0, 1].
    pub supervised_accuracy: f32,
    /// Mean of the real and the fake binary cross-entropy; `None` for the baseline.
    pub unsupervised_loss: Option<f32>,
    /// The generator's binary cross-entropy; `None` for the baseline.
    pub generator_loss: Option<f32>,
    /// Wall-clock seconds since training started.
    pub seconds: f64,
}

/// Writes `rows` as CSV with a header line, atomically. Floats are written in Rust's shortest
/// form that parses back to the same value, so [`read_metrics_csv`] returns identical rows.
pub fn write_metrics_csv(path: impl AsRef<Path>, rows: &[MetricsRow]) -> Result<()> {
    let mut text = String::with_capacity(64 * (rows.len() + 1));
    text.push_str(METRICS_CSV_HEADER);
    text.push('\n');
    let optional = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
    for row in rows {
        // Writing into a String cannot fail.
        let _ = writeln!(
            text,
            "{},{},{},{},{},{}",
            row.iteration,
            row.supervised_loss,
            row.supervised_accuracy,
            optional(row.unsupervised_loss),
            optional(row.generator_loss),
            row.seconds
        );
    }
    atomic_write(path, text.as_bytes())
}

/// Reads a file written by [`write_metrics_csv`]. Errors name the line and the field.
pub fn read_metrics_csv(path: impl AsRef<Path>) -> Result<Vec<MetricsRow>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let error = |line: usize, reason: String| Error::MetricsCsv {
        path: path.to_path_buf(),
        line,
        reason,
    };

    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, header)) if header.trim_end() == METRICS_CSV_HEADER => {}
        _ => {
            return Err(error(
                1,
                format!("the first line must be the header `{METRICS_CSV_HEADER}`"),
            ))
        }
    }

    let mut rows = Vec::new();
    for (number, line) in lines {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 6 {
            return Err(error(
                number,
                format!("expected 6 comma-separated fields, found {}", fields.len()),
            ));
        }
        let at = |r: String| error(number, r);
        let optional = |i: usize, name: &str| -> Result<Option<f32>> {
            match fields[i].trim() {
                "" => Ok(None),
                text => parse_field(text, name).map(Some).map_err(at),
            }
        };
        rows.push(MetricsRow {
            iteration: parse_field(fields[0].trim(), "iteration").map_err(at)?,
            supervised_loss: parse_field(fields[1].trim(), "supervised_loss").map_err(at)?,
            supervised_accuracy: parse_field(fields[2].trim(), "supervised_accuracy")
                .map_err(at)?,
            unsupervised_loss: optional(3, "unsupervised_loss")?,
            generator_loss: optional(4, "generator_loss")?,
            seconds: parse_field(fields[5].trim(), "seconds").map_err(at)?,
        });
    }
    Ok(rows)
}

fn parse_field<T: FromStr>(text: &str, name: &str) -> std::result::Result<T, String> {
    text.parse()
        .map_err(|_| format!("field `{name}` is `{text}`, which is not a valid number"))
}

/// The fixed-width progress line printed every `sample_interval` iterations, e.g.
///
/// `iteration  800/8000 | d_sup loss 0.0123 acc 100.00% | d_unsup loss 0.6543 | g loss 1.2345`
///
/// The iteration is right-aligned to the width of `total_iterations`; losses have four
/// decimals in at least six columns, accuracy is a percentage with two decimals in seven, so
/// successive lines line up. The baseline's missing losses read `-`, right-aligned.
pub fn format_interval_line(row: &MetricsRow, total_iterations: usize) -> String {
    let width = total_iterations.to_string().len();
    let loss = |v: Option<f32>| match v {
        Some(v) => format!("{v:6.4}"),
        None => format!("{:>6}", "-"),
    };
    format!(
        "iteration {:>width$}/{} | d_sup loss {} acc {:6.2}% | d_unsup loss {} | g loss {}",
        row.iteration,
        total_iterations,
        loss(Some(row.supervised_loss)),
        row.supervised_accuracy * 100.0,
        loss(row.unsupervised_loss),
        loss(row.generator_loss),
    )
}
