//! Per-kernel timing tables: what `train --profile` and `sgan-gpu bench` print and write as
//! `profile.csv`, `profile_dispatches.csv` and `profile.json`.
//!
//! The input is plain data, one [`DispatchTiming`] per dispatch of a timed iteration; this
//! module averages iterations and groups the dispatches by phase and kernel.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{atomic_write, write_json};
use crate::{Error, Result};

/// One dispatch of one timed iteration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DispatchTiming {
    /// The phase of the iteration it belongs to, as the table names it.
    pub phase: String,
    /// The dispatch's own label, such as `d.conv2.d_cols.matmul`.
    pub label: String,
    /// The kernel with its specialisation, such as `matmul[TRANSPOSE_B]`.
    pub kernel: String,
    pub flops: f64,
    pub bytes: f64,
    pub seconds: f64,
}

/// Timings of every dispatch of an iteration, averaged over the iterations added so far.
#[derive(Clone, Debug, Default)]
pub struct ProfileAccumulator {
    iterations: usize,
    /// Per dispatch position: its first timing, with `seconds` summed over iterations.
    dispatches: Vec<DispatchTiming>,
    /// Per dispatch position: the fastest time seen.
    fastest: Vec<f64>,
}

impl ProfileAccumulator {
    /// Adds one iteration. Every iteration must run the same dispatches in the same order.
    pub fn add(&mut self, iteration: &[DispatchTiming]) -> Result<()> {
        if self.iterations == 0 {
            self.dispatches = iteration.to_vec();
            self.fastest = iteration.iter().map(|d| d.seconds).collect();
            self.iterations = 1;
            return Ok(());
        }
        let same = iteration.len() == self.dispatches.len()
            && iteration
                .iter()
                .zip(&self.dispatches)
                .all(|(new, old)| new.label == old.label);
        if !same {
            return Err(Error::InvalidArgument {
                op: "profile".to_string(),
                message: format!(
                    "an iteration of {} dispatches does not match the earlier ones ({})",
                    iteration.len(),
                    self.dispatches.len()
                ),
            });
        }
        for ((sum, fastest), new) in self
            .dispatches
            .iter_mut()
            .zip(&mut self.fastest)
            .zip(iteration)
        {
            sum.seconds += new.seconds;
            *fastest = fastest.min(new.seconds);
        }
        self.iterations += 1;
        Ok(())
    }

    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// The averaged profile; `method` says how the times were taken (see the GPU runtime's
    /// timing methods) and `adapter` names the adapter.
    pub fn finish(&self, method: &str, adapter: &str) -> Profile {
        let n = self.iterations.max(1) as f64;
        let dispatches: Vec<DispatchRow> = self
            .dispatches
            .iter()
            .zip(&self.fastest)
            .enumerate()
            .map(|(index, (d, &fastest))| DispatchRow {
                index,
                phase: d.phase.clone(),
                label: d.label.clone(),
                kernel: d.kernel.clone(),
                mean_ms: 1e3 * d.seconds / n,
                min_ms: 1e3 * fastest,
                gflops: rate(d.flops, d.seconds / n),
                gbytes: rate(d.bytes, d.seconds / n),
            })
            .collect();
        let total_ms: f64 = dispatches.iter().map(|d| d.mean_ms).sum();

        // Group by (phase, kernel), keeping phases in the order they ran.
        let phase_order: Vec<String> = dedup_in_order(dispatches.iter().map(|d| &d.phase));
        let mut groups: BTreeMap<(usize, String), KernelRow> = BTreeMap::new();
        for (d, timing) in dispatches.iter().zip(&self.dispatches) {
            let phase_index = phase_order.iter().position(|p| *p == d.phase).unwrap_or(0);
            let row = groups
                .entry((phase_index, d.kernel.clone()))
                .or_insert_with(|| KernelRow {
                    phase: d.phase.clone(),
                    kernel: d.kernel.clone(),
                    ..KernelRow::default()
                });
            row.calls += 1;
            row.total_ms += d.mean_ms;
            row.flops += timing.flops;
            row.bytes += timing.bytes;
        }
        let mut kernels: Vec<KernelRow> = groups
            .into_values()
            .map(|mut row| {
                row.mean_ms = row.total_ms / row.calls as f64;
                row.share = share(row.total_ms, total_ms);
                row.gflops = rate(row.flops, row.total_ms * 1e-3);
                row.gbytes = rate(row.bytes, row.total_ms * 1e-3);
                row
            })
            .collect();
        kernels.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));

        let phases = phase_order
            .iter()
            .map(|phase| {
                let of_phase = dispatches.iter().filter(|d| d.phase == *phase);
                let ms: f64 = of_phase.clone().map(|d| d.mean_ms).sum();
                PhaseRow {
                    phase: phase.clone(),
                    dispatches: of_phase.count(),
                    total_ms: ms,
                    share: share(ms, total_ms),
                }
            })
            .collect();
        let flops: f64 = self.dispatches.iter().map(|d| d.flops).sum();
        Profile {
            adapter: adapter.to_string(),
            method: method.to_string(),
            iterations: self.iterations,
            dispatches_per_iteration: dispatches.len(),
            total_ms,
            gflop_per_iteration: flops * 1e-9,
            gflops: rate(flops, total_ms * 1e-3),
            phases,
            kernels,
            dispatches,
        }
    }
}

fn dedup_in_order<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        if !seen.contains(item) {
            seen.push(item.clone());
        }
    }
    seen
}

/// Work per second in units of 1e9, or `None` where there is no work or no time.
fn rate(work: f64, seconds: f64) -> Option<f64> {
    (work > 0.0 && seconds > 0.0).then(|| work / seconds * 1e-9)
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// The averaged timing of one iteration, grouped three ways.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    pub adapter: String,
    /// How the times were taken, in words.
    pub method: String,
    /// Iterations averaged.
    pub iterations: usize,
    pub dispatches_per_iteration: usize,
    /// Sum of the mean dispatch times: the GPU time of one iteration.
    pub total_ms: f64,
    pub gflop_per_iteration: f64,
    /// Floating-point rate over the whole iteration.
    pub gflops: Option<f64>,
    pub phases: Vec<PhaseRow>,
    /// One row per (phase, kernel), slowest first.
    pub kernels: Vec<KernelRow>,
    /// One row per dispatch, in the order they run.
    pub dispatches: Vec<DispatchRow>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct KernelRow {
    pub phase: String,
    pub kernel: String,
    /// Dispatches of this kernel in this phase per iteration.
    pub calls: usize,
    pub mean_ms: f64,
    /// Time per iteration, all calls together.
    pub total_ms: f64,
    /// Fraction of the iteration's GPU time.
    pub share: f64,
    pub gflops: Option<f64>,
    pub gbytes: Option<f64>,
    #[serde(skip)]
    flops: f64,
    #[serde(skip)]
    bytes: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PhaseRow {
    pub phase: String,
    pub dispatches: usize,
    pub total_ms: f64,
    pub share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DispatchRow {
    pub index: usize,
    pub phase: String,
    pub label: String,
    pub kernel: String,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub gflops: Option<f64>,
    pub gbytes: Option<f64>,
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

impl Profile {
    /// The table for the terminal: phases, then kernels slowest first, at most `max_rows` of
    /// them (the files hold all).
    pub fn table(&self, max_rows: usize) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "per-kernel profile: {} iteration(s) averaged on {}; {} dispatches, {:.2} ms GPU \
             time per iteration, {:.2} GFLOP, {} GFLOP/s\ntimes: {}",
            self.iterations,
            self.adapter,
            self.dispatches_per_iteration,
            self.total_ms,
            self.gflop_per_iteration,
            optional(self.gflops, 2),
            self.method
        );
        let _ = writeln!(
            t,
            "{:<20} {:>10} {:>10} {:>7}",
            "phase", "dispatches", "ms", "share"
        );
        for p in &self.phases {
            let _ = writeln!(
                t,
                "{:<20} {:>10} {:>10.3} {:>6.1}%",
                p.phase,
                p.dispatches,
                p.total_ms,
                100.0 * p.share
            );
        }
        let _ = writeln!(
            t,
            "\n{:<38} {:<18} {:>5} {:>9} {:>9} {:>6} {:>8} {:>7}",
            "kernel", "phase", "calls", "mean ms", "total ms", "share", "GFLOP/s", "GB/s"
        );
        for k in self.kernels.iter().take(max_rows) {
            let _ = writeln!(
                t,
                "{:<38} {:<18} {:>5} {:>9.3} {:>9.3} {:>5.1}% {:>8} {:>7}",
                k.kernel,
                k.phase,
                k.calls,
                k.mean_ms,
                k.total_ms,
                100.0 * k.share,
                optional(k.gflops, 2),
                optional(k.gbytes, 2)
            );
        }
        if self.kernels.len() > max_rows {
            let rest: f64 = self.kernels[max_rows..].iter().map(|k| k.total_ms).sum();
            let _ = writeln!(
                t,
                "... {} more rows, {:.3} ms together (all rows are in profile.csv)",
                self.kernels.len() - max_rows,
                rest
            );
        }
        t
    }

    /// Writes `profile.csv` (per phase and kernel), `profile_dispatches.csv` (per dispatch)
    /// and `profile.json` (everything) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let mut kernels = String::from("kernel,phase,calls,mean_ms,total_ms,share,gflops,gbytes\n");
        for k in &self.kernels {
            let _ = writeln!(
                kernels,
                "{},{},{},{},{},{},{},{}",
                k.kernel,
                k.phase,
                k.calls,
                k.mean_ms,
                k.total_ms,
                k.share,
                csv_optional(k.gflops),
                csv_optional(k.gbytes)
            );
        }
        let mut dispatches =
            String::from("index,phase,label,kernel,mean_ms,min_ms,gflops,gbytes\n");
        for d in &self.dispatches {
            let _ = writeln!(
                dispatches,
                "{},{},{},{},{},{},{},{}",
                d.index,
                d.phase,
                d.label,
                d.kernel,
                d.mean_ms,
                d.min_ms,
                csv_optional(d.gflops),
                csv_optional(d.gbytes)
            );
        }
        atomic_write(dir.join("profile.csv"), kernels.as_bytes())?;
        atomic_write(dir.join("profile_dispatches.csv"), dispatches.as_bytes())?;
        write_json(dir.join("profile.json"), self)
    }
}

/// An empty field where there is no rate.
fn csv_optional(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}
