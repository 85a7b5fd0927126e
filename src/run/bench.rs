//! `sgan-gpu bench`: the speed of whole training iterations on the real data and model, then
//! a per-kernel profile of a few more.
//!
//! Unprofiled iterations are timed on the CPU from submission to completion, one at a time, so
//! their mean is what a training run pays per iteration (a run does not wait between
//! iterations, so it can be a little faster). The host's share of each is timed too: recording
//! and submitting an iteration's dispatches while the device is idle, which bounds the
//! iterations per second of any device this CPU drives. The profiled ones follow, with their
//! table.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::{mode_name, upload_training_set, AdapterRecord};
use crate::data::mnist::Mnist;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Profiler, TimingMethod};
use crate::report::{self, Profile, ProfileAccumulator};
use crate::train::{Config, Trainer};

/// How many times `bench` records an iteration without submitting it, to time the host's
/// part with warm caches.
const HOST_RECORDINGS: usize = 50;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Mode, batch, seed and data folder of the iterations; `out_dir` receives the report.
    pub config: Config,
    /// Iterations run first and not counted: pipelines warm up on first use.
    pub warmup: usize,
    /// Iterations timed whole.
    pub iterations: usize,
    /// Iterations timed per dispatch after those.
    pub profile_iterations: usize,
}

/// Summary statistics of a set of times, in milliseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TimeStats {
    pub runs: usize,
    pub mean_ms: f64,
    /// Sample standard deviation (0 for one run).
    pub std_ms: f64,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
}

impl TimeStats {
    /// Statistics of `ms`, which must not be empty.
    pub fn of(ms: &[f64]) -> Self {
        let runs = ms.len();
        let mean = ms.iter().sum::<f64>() / runs as f64;
        let var = if runs > 1 {
            ms.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (runs - 1) as f64
        } else {
            0.0
        };
        let mut sorted = ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if runs % 2 == 1 {
            sorted[runs / 2]
        } else {
            0.5 * (sorted[runs / 2 - 1] + sorted[runs / 2])
        };
        Self {
            runs,
            mean_ms: mean,
            std_ms: var.sqrt(),
            min_ms: sorted[0],
            median_ms: median,
            max_ms: sorted[runs - 1],
        }
    }
}

/// What `bench` measured; also written as `bench.json`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub mode: String,
    pub batch: usize,
    pub adapter: AdapterRecord,
    pub warmup: usize,
    /// Whole iterations, submission to completion.
    pub iteration: TimeStats,
    pub iterations_per_second: f64,
    /// The CPU's part of each of those iterations: writing the draw counters, recording the
    /// dispatches into a compute pass and submitting it, timed while the device is idle.
    pub host_record_submit: TimeStats,
    /// The most iterations per second the host could feed a device of unlimited speed, since
    /// every iteration is recorded anew (bind groups and pipelines are built once).
    pub host_bound_iterations_per_second: f64,
    /// The recording alone (without the submission), repeated back to back with nothing
    /// submitted, so with the CPU's caches warm; on a CPU driver such as lavapipe the kernels
    /// of each timed iteration evict what recording uses, and this is the fairer estimate of
    /// the host's part next to a fast device.
    pub host_record_warm: TimeStats,
    /// Floating-point operations of one iteration counted by the kernels that state theirs
    /// (the matrix products; elementwise work is not counted).
    pub gflop_per_iteration: f64,
    /// That count over the mean iteration time.
    pub gflops: f64,
    /// Per-dispatch timing of the profiled iterations.
    pub profile: Profile,
    /// The profiled GPU time of an iteration over the unprofiled wall time: what part of an
    /// iteration the kernels themselves account for.
    pub profiled_over_wall: f64,
}

/// Runs the benchmark on `gpu` and writes `bench.json` and the profile files into
/// `options.config.out_dir`.
pub fn bench(gpu: &Gpu, options: &BenchOptions) -> Result<BenchReport> {
    let config = &options.config;
    if options.iterations == 0 || options.profile_iterations == 0 {
        return Err(Error::InvalidConfig {
            message: "bench needs --iterations and --profile-iterations of at least 1".into(),
        });
    }
    let mnist = Mnist::load(&config.data_dir)?;
    config.validate(mnist.train.len())?;
    let train_set = upload_training_set(gpu, &mnist.train, config)?;
    let mut trainer = Trainer::new(gpu, config, train_set)?;
    let adapter = AdapterRecord::of(gpu);
    println!(
        "sgan-gpu bench: {} at batch {} on {} ({}): {} warm-up, {} timed, {} profiled \
         iterations",
        mode_name(config.mode),
        config.batch,
        adapter.name,
        adapter.backend,
        options.warmup,
        options.iterations,
        options.profile_iterations
    );

    for _ in 0..options.warmup {
        trainer.step()?;
    }
    gpu.wait()?;
    let mut wall_ms = Vec::with_capacity(options.iterations);
    let mut host_ms = Vec::with_capacity(options.iterations);
    for _ in 0..options.iterations {
        let started = Instant::now();
        trainer.step()?;
        host_ms.push(started.elapsed().as_secs_f64() * 1e3);
        gpu.wait()?;
        wall_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let iteration = TimeStats::of(&wall_ms);
    let host_record_submit = TimeStats::of(&host_ms);
    // The same recording back to back, with nothing submitted: the host's part with its
    // caches warm, as when it records one iteration while a fast device runs the last.
    let mut warm_ms = Vec::with_capacity(HOST_RECORDINGS);
    for _ in 0..HOST_RECORDINGS {
        let started = Instant::now();
        drop(trainer.encode_step()?);
        warm_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let host_record_warm = TimeStats::of(&warm_ms);

    let method = TimingMethod::best_for(gpu);
    let mut profiler = Profiler::new(gpu, trainer.dispatches_per_step(), method)?;
    let mut profile = ProfileAccumulator::default();
    for _ in 0..options.profile_iterations {
        profile.add(&trainer.step_profiled(&mut profiler)?)?;
    }
    let profile = profile.finish(method.note(), &adapter.name);
    let report = BenchReport {
        mode: mode_name(config.mode).to_string(),
        batch: config.batch,
        warmup: options.warmup,
        iterations_per_second: 1e3 / iteration.mean_ms,
        host_bound_iterations_per_second: 1e3 / host_record_submit.mean_ms,
        host_record_submit,
        host_record_warm,
        gflop_per_iteration: profile.gflop_per_iteration,
        gflops: profile.gflop_per_iteration / (iteration.mean_ms * 1e-3),
        profiled_over_wall: profile.total_ms / iteration.mean_ms,
        iteration,
        adapter,
        profile,
    };

    println!("{}", report.profile.table(25));
    println!(
        "whole iteration ({} runs): mean {:.2} ms, std {:.2}, min {:.2}, median {:.2}, max \
         {:.2} | {:.1} iterations/s | {:.2} GFLOP/s ({:.2} GFLOP counted) | kernels {:.0}% of \
         the wall time",
        iteration.runs,
        iteration.mean_ms,
        iteration.std_ms,
        iteration.min_ms,
        iteration.median_ms,
        iteration.max_ms,
        report.iterations_per_second,
        report.gflops,
        report.gflop_per_iteration,
        100.0 * report.profiled_over_wall
    );
    println!(
        "host part (record and submit, device idle): mean {:.3} ms, std {:.3}, min {:.3} | at \
         most {:.0} iterations/s from this CPU, however fast the device",
        host_record_submit.mean_ms,
        host_record_submit.std_ms,
        host_record_submit.min_ms,
        report.host_bound_iterations_per_second
    );
    println!(
        "recording alone, {} times back to back (caches warm): mean {:.3} ms, min {:.3}",
        host_record_warm.runs, host_record_warm.mean_ms, host_record_warm.min_ms
    );
    write_report(&config.out_dir, &report)?;
    println!(
        "wrote bench.json and profile files to {}",
        config.out_dir.display()
    );
    Ok(report)
}

fn write_report(dir: &PathBuf, report: &BenchReport) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    report.profile.write(dir)?;
    report::write_json(dir.join("bench.json"), report)
}
