//! A training run as a user starts it: load and check the data, open the adapter, train with
//! a progress bar and the spec's interval lines, evaluate, and leave the run's files behind:
//!
//! - `config.json`: the configuration and the adapter;
//! - `metrics.csv`: one row per report (iteration, losses, accuracy, seconds);
//! - `samples/iteration_NNNNNN.png`: generated digits at each report (SGAN only);
//! - `losses.png`: the loss curves;
//! - `summary.json`: test accuracy, time per step, adapter;
//! - `checkpoint.safetensors`: every parameter and running statistic under Keras-style names;
//! - `state.safetensors`: the whole training state, to resume from (see [`state`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::mnist::{Mnist, Split};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuOptions, Profiler, Tensor, TimingMethod};
use crate::layers::gather::GpuDataset;
use crate::layers::random::{normal_noise, NoiseParams};
use crate::model::{self, Discriminator, Generator, NamedTensor, Z_DIM};
use crate::report::{self, MetricsRow, ProfileAccumulator};
use crate::train::{labeled_first, Config, Evaluator, Mode, Trainer};

pub mod bench;
pub mod state;
pub use bench::{bench, BenchOptions, BenchReport, TimeStats};
pub use state::{load_state, parse_state, save_state, SavedState, STATE_FILE};

/// Identifies sgan-gpu checkpoints in their metadata, with the version of their layout.
pub(crate) const CHECKPOINT_FORMAT: &str = "sgan-gpu";
pub(crate) const CHECKPOINT_VERSION: &str = "1";

/// The adapter a run used, as its files record it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterRecord {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl AdapterRecord {
    fn of(gpu: &Gpu) -> Self {
        let info = &gpu.info;
        Self {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
        }
    }
}

/// What a finished run measured; also written as `summary.json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub mode: Mode,
    pub seed: u64,
    pub steps: usize,
    pub test_accuracy: f64,
    pub test_images: usize,
    pub ms_per_step: f64,
    pub adapter: AdapterRecord,
    pub final_metrics: Option<MetricsRow>,
}

/// The mode as the command line and the files spell it.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Sgan => "sgan",
        Mode::Supervised => "supervised",
    }
}

/// The training split on the GPU in the order the trainer expects: the labelled set of
/// `config` first, then every other image (see [`labeled_first`]).
pub fn upload_training_set(gpu: &Gpu, split: &Split, config: &Config) -> Result<GpuDataset> {
    let order = labeled_first(&split.labels, config.num_labeled, config.balanced)?;
    upload(gpu, "train", split, Some(&order))
}

/// Uploads a split as given, or in `order`.
pub fn upload(
    gpu: &Gpu,
    label: &str,
    split: &Split,
    order: Option<&[usize]>,
) -> Result<GpuDataset> {
    let pixels = split.rows * split.cols;
    match order {
        None => GpuDataset::upload(gpu, label, &split.images, &split.labels, pixels),
        Some(order) => {
            let mut images = Vec::with_capacity(split.images.len());
            let mut labels = Vec::with_capacity(order.len());
            for &i in order {
                images.extend_from_slice(&split.images[i * pixels..(i + 1) * pixels]);
                labels.push(split.labels[i]);
            }
            GpuDataset::upload(gpu, label, &images, &labels, pixels)
        }
    }
}

/// Refuses to mix a new run into a folder that already holds files, and makes the folder and
/// its `samples/`. A path that cannot be a writable folder is refused with the reason.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    let unusable = |reason: String| Error::OutDir {
        dir: dir.to_path_buf(),
        reason,
    };
    let io = |source: std::io::Error| {
        unusable(match source.kind() {
            std::io::ErrorKind::NotADirectory => {
                "a part of the path is a file, not a folder".to_string()
            }
            _ => source.to_string(),
        })
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err(unusable("it is a file, not a folder".to_string()));
        }
        if std::fs::read_dir(dir).map_err(io)?.next().is_some() {
            return Err(Error::InvalidConfig {
                message: format!(
                    "the output folder {} already holds files; pass another --out or remove it",
                    dir.display()
                ),
            });
        }
    }
    std::fs::create_dir_all(dir.join("samples")).map_err(io)
}

fn progress_bar(steps: usize) -> ProgressBar {
    // On a terminal: a bar with rate and ETA on stderr; elsewhere indicatif draws nothing.
    let bar = ProgressBar::new(steps as u64);
    let template = "{bar:40} {pos}/{len} steps | {per_sec} | elapsed {elapsed_precise} | ETA {eta}";
    bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
    bar
}

/// Writes every parameter and running statistic of both models to a safetensors checkpoint,
/// under Keras-style names, with `metadata` beside sgan-gpu's format marker.
pub fn save_models(
    gpu: &Gpu,
    path: &Path,
    generator: &Generator,
    trunk: &Discriminator,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut named = generator.named_tensors();
    named.extend(trunk.named_tensors());
    let tensors = named
        .iter()
        .map(|entry| {
            let (name, shape) = (entry.name.clone(), entry.tensor.shape().to_vec());
            Ok(report::NamedTensor {
                name,
                shape,
                data: entry.tensor.read(gpu)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut metadata = metadata.clone();
    metadata.insert("format".to_string(), CHECKPOINT_FORMAT.to_string());
    metadata.insert("version".to_string(), CHECKPOINT_VERSION.to_string());
    report::save_checkpoint(path, &tensors, &metadata)
}

/// Where a run starts.
#[derive(Clone, Debug)]
pub enum Start {
    /// A new run with this configuration, into a new or empty folder.
    Fresh(Config),
    /// The run whose `state.safetensors` lies in this folder, continued in the same folder
    /// with the configuration recorded in the state.
    Resume(PathBuf),
}

/// The steps after the last iteration, in order; a Ctrl-C is looked for before each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalStage {
    Evaluation,
    Summary,
    LossPlot,
    Checkpoint,
}

impl FinalStage {
    /// The stage as the interruption message names it.
    pub fn describe(self) -> &'static str {
        match self {
            FinalStage::Evaluation => "the final evaluation",
            FinalStage::Summary => "the writing of summary.json",
            FinalStage::LossPlot => "the writing of losses.png",
            FinalStage::Checkpoint => "the writing of checkpoint.safetensors",
        }
    }
}

/// What steers a run besides its configuration: what can end it early, and whether it is
/// profiled. The default stops nothing and profiles nothing.
#[derive(Default)]
pub struct Controls<'a> {
    /// Time every dispatch of every iteration (but the run's first, which warms the
    /// pipelines up) and write `profile.csv`, `profile_dispatches.csv` and `profile.json`.
    /// Profiled iterations wait for the GPU one by one, so the run itself gets slower.
    pub profile: bool,
    /// Once set (by a Ctrl-C handler, say), the run finishes the iteration in flight, writes
    /// its state and returns [`Error::Interrupted`]; set after the last iteration, it stops
    /// the run before the next [`FinalStage`] with [`Error::InterruptedFinishing`].
    pub interrupt: Option<&'a AtomicBool>,
    /// Called after every iteration with the trainer, before the flag is looked at: lets a
    /// test set the flag, tamper with a tensor or destroy the device at a chosen iteration.
    pub after_step: Option<&'a mut dyn FnMut(&Trainer)>,
    /// Called before each final stage, before the flag is looked at: lets a test interrupt
    /// the run at a chosen stage.
    pub before_final: Option<&'a mut dyn FnMut(FinalStage)>,
}

impl Controls<'_> {
    fn interrupted(&self) -> bool {
        self.interrupt
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

/// Trains with `config` on the adapter `gpu_options` selects, and writes the run's files.
pub fn train(config: &Config, gpu_options: &GpuOptions) -> Result<Summary> {
    let gpu = Gpu::new(gpu_options)?;
    train_with(&gpu, Start::Fresh(config.clone()), Controls::default())
}

/// How far a run has got, for the message when its device is lost.
struct Progress {
    /// Iterations done so far.
    iteration: usize,
    /// The iteration of the last training state written, by this run or the one it resumes.
    last_state: Option<usize>,
}

/// Trains on `gpu` from `start`, writing the run's files and, every
/// `config.checkpoint_interval()` iterations, at the end and when interrupted, its training
/// state. A diverged run (a loss or a tensor not finite) stops with [`Error::Diverged`] and
/// leaves the last good state in place; an interrupted one stops with [`Error::Interrupted`]
/// (or [`Error::InterruptedFinishing`] after the last iteration); one whose device is lost
/// stops with [`Error::RunDeviceLost`], naming the last state written.
pub fn train_with(gpu: &Gpu, start: Start, controls: Controls<'_>) -> Result<Summary> {
    let (config, resumed) = match start {
        Start::Fresh(config) => (config, None),
        Start::Resume(dir) => {
            let saved = load_state(&dir.join(STATE_FILE))?;
            let config = Config {
                out_dir: dir,
                ..saved.config.clone()
            };
            (config, Some(saved))
        }
    };
    let config = &config;
    let mnist = Mnist::load(&config.data_dir)?;
    config.validate(mnist.train.len())?;
    model::footprint::check_batch(gpu, config.batch, "--batch")?;
    if resumed.is_none() {
        prepare_out_dir(&config.out_dir)?;
        report::write_json(
            config.out_dir.join("config.json"),
            &serde_json::json!({
                "config": config, "adapter": AdapterRecord::of(gpu),
            }),
        )?;
    }

    let first_step = resumed.as_ref().map_or(0, |saved| saved.state.steps_done);
    let mut progress = Progress {
        iteration: first_step,
        last_state: resumed.as_ref().map(|_| first_step),
    };
    let result = train_and_finish(gpu, config, &mnist, resumed, controls, &mut progress);
    // A lost device fails whatever command comes next, in whatever way; name the cause.
    result.map_err(|error| match gpu.lost() {
        Some(reason) => Error::RunDeviceLost {
            iteration: progress.iteration,
            reason,
            last_state: progress.last_state,
            state_file: config.out_dir.join(STATE_FILE),
            dir: config.out_dir.clone(),
        },
        None => error,
    })
}

/// The part of [`train_with`] on the GPU: upload, train, evaluate and write the final files,
/// keeping `progress` up to date.
fn train_and_finish(
    gpu: &Gpu,
    config: &Config,
    mnist: &Mnist,
    resumed: Option<SavedState>,
    mut controls: Controls<'_>,
    progress: &mut Progress,
) -> Result<Summary> {
    let adapter = AdapterRecord::of(gpu);
    let out = |name: &str| config.out_dir.join(name);
    let train_set = upload_training_set(gpu, &mnist.train, config)?;
    let test_set = upload(gpu, "test", &mnist.test, None)?;
    let mut trainer = Trainer::new(gpu, config, train_set)?;
    let mut rows = Vec::new();
    if let Some(saved) = &resumed {
        trainer.restore_state(&saved.state).map_err(|e| {
            // The trainer's messages name the tensor; its own function name says nothing here.
            let detail = match e {
                Error::InvalidArgument { message, .. } => message,
                Error::ShapeMismatch { expected, got, .. } => {
                    format!("the model has {expected}, the state {got}")
                }
                other => other.to_string(),
            };
            Error::Checkpoint {
                path: out(STATE_FILE),
                reason: format!("does not fit this model: {detail}"),
            }
        })?;
        rows = saved.rows.clone();
    }
    let steps = config.steps();
    let first_step = trainer.steps_done();
    println!(
        "sgan-gpu: {}, {} steps of batch {}, {} labels, seed {}, on {} ({}), {} {}",
        mode_name(config.mode),
        steps,
        config.batch,
        config.num_labeled,
        config.seed,
        adapter.name,
        adapter.backend,
        if resumed.is_some() {
            format!("resuming after iteration {first_step} in")
        } else {
            "writing to".to_string()
        },
        config.out_dir.display()
    );

    // Train, reporting every `report_every` steps and at the end, and writing the state every
    // `checkpoint_interval()` steps, at the end and when interrupted.
    let bar = progress_bar(steps);
    bar.set_position(first_step as u64);
    let (checkpoint_every, seconds_before) = (
        config.checkpoint_interval(),
        rows.last().map_or(0.0, |r: &MetricsRow| r.seconds),
    );
    let mut profiling = match controls.profile {
        true => {
            let method = TimingMethod::best_for(gpu);
            let profiler = Profiler::new(gpu, trainer.dispatches_per_step(), method)?;
            Some((profiler, ProfileAccumulator::default()))
        }
        false => None,
    };
    let started = Instant::now();
    while trainer.steps_done() < steps {
        match profiling.as_mut() {
            Some((profiler, profile)) => {
                let timings = trainer.step_profiled(profiler)?;
                if trainer.steps_done() > first_step + 1 || steps == first_step + 1 {
                    profile.add(&timings)?;
                }
            }
            None => trainer.step()?,
        }
        progress.iteration = trainer.steps_done();
        bar.inc(1);
        if let Some(hook) = controls.after_step.as_mut() {
            hook(&trainer);
        }
        // Nothing is read back after a loss: the state on disk stays the last good one.
        if gpu.lost().is_some() {
            bar.abandon();
            gpu.check()?;
        }
        let done = trainer.steps_done();
        let interrupted = controls.interrupted();
        if done % config.report_every == 0 || done == steps {
            let m = trainer.metrics()?;
            let row = MetricsRow {
                iteration: done,
                supervised_loss: m.supervised_loss,
                supervised_accuracy: m.supervised_accuracy,
                unsupervised_loss: m.unsupervised_loss,
                generator_loss: m.generator_loss,
                seconds: seconds_before + started.elapsed().as_secs_f64(),
            };
            let line = report::format_interval_line(&row, steps);
            // A hidden bar (no terminal) swallows println, so print plainly there.
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
            rows.push(row);
            report::write_metrics_csv(out("metrics.csv"), &rows)?;
            if config.mode == Mode::Sgan {
                let images = trainer.sample_images()?;
                let path = out(&format!("samples/iteration_{done:06}.png"));
                report::save_digit_grid(path, &images, config.batch, 28, 28, 8)?;
            }
        }
        if done % checkpoint_every == 0 || done == steps || interrupted {
            // The losses are checked first, so a diverged state never replaces a good one.
            trainer.metrics()?;
            save_state(&out(STATE_FILE), config, &rows, &trainer.save_state()?)?;
            progress.last_state = Some(done);
        }
        if interrupted && done < steps {
            bar.abandon();
            if let Some((profiler, profile)) = &profiling {
                write_profile(profiler, profile, &adapter, &config.out_dir)?;
            }
            return Err(Error::Interrupted {
                iteration: done,
                dir: config.out_dir.clone(),
            });
        }
    }
    gpu.wait()?;
    bar.finish_and_clear();
    let steps_run = steps - first_step;
    let ms_per_step = if steps_run > 0 {
        started.elapsed().as_secs_f64() * 1e3 / steps_run as f64
    } else {
        // Resumed after the last iteration: only the earlier runs trained.
        seconds_before * 1e3 / steps.max(1) as f64
    };
    if let Some((profiler, profile)) = &profiling {
        write_profile(profiler, profile, &adapter, &config.out_dir)?;
    }

    // Evaluate, then write what the run leaves behind. Each stage first looks for a Ctrl-C
    // that came after the last iteration: the state of that iteration is already written,
    // and `--resume` redoes the stages from the evaluation on.
    let mut stage = |stage: FinalStage| -> Result<()> {
        if let Some(hook) = controls.before_final.as_mut() {
            hook(stage);
        }
        if controls.interrupted() {
            return Err(Error::InterruptedFinishing {
                stage: stage.describe(),
                steps,
                dir: config.out_dir.clone(),
            });
        }
        Ok(())
    };
    stage(FinalStage::Evaluation)?;
    let evaluator = Evaluator::new(gpu, &trainer.discriminator, &test_set, trainer.images())?;
    let test_accuracy = evaluator.accuracy(gpu)?;
    let summary = Summary {
        mode: config.mode,
        seed: config.seed,
        steps,
        test_accuracy,
        test_images: test_set.len(),
        ms_per_step,
        adapter,
        final_metrics: rows.last().copied(),
    };
    stage(FinalStage::Summary)?;
    report::write_json(out("summary.json"), &summary)?;
    stage(FinalStage::LossPlot)?;
    report::save_loss_plot(
        out("losses.png"),
        &rows,
        &format!("{}, seed {}", mode_name(config.mode), config.seed),
    )?;
    let metadata = BTreeMap::from([
        ("mode".to_string(), mode_name(config.mode).to_string()),
        ("seed".to_string(), config.seed.to_string()),
        ("steps".to_string(), steps.to_string()),
        ("adapter".to_string(), summary.adapter.name.clone()),
    ]);
    stage(FinalStage::Checkpoint)?;
    save_models(
        gpu,
        &out("checkpoint.safetensors"),
        &trainer.generator,
        &trainer.discriminator,
        &metadata,
    )?;
    println!(
        "test accuracy {:.2}% on {} images | {:.1} ms/step | {} ({})",
        100.0 * test_accuracy,
        test_set.len(),
        ms_per_step,
        summary.adapter.name,
        summary.adapter.backend
    );
    Ok(summary)
}

/// Prints the profile table of a profiled run and writes its files into the run folder.
fn write_profile(
    profiler: &Profiler,
    profile: &ProfileAccumulator,
    adapter: &AdapterRecord,
    dir: &Path,
) -> Result<()> {
    if profile.iterations() == 0 {
        return Ok(());
    }
    let profile = profile.finish(profiler.method().note(), &adapter.name);
    println!("{}", profile.table(25));
    profile.write(dir)?;
    println!(
        "wrote profile.csv, profile_dispatches.csv and profile.json to {}",
        dir.display()
    );
    Ok(())
}

/// Opens a checkpoint written by [`save_models`] and fills `named` (a model's
/// `named_tensors()`) from it; a foreign file, a missing tensor or a wrong shape is an error.
pub fn load_into(gpu: &Gpu, path: &Path, named: &[NamedTensor<'_>]) -> Result<report::Checkpoint> {
    let checkpoint = report::load_checkpoint(path)?;
    let meta = |key: &str| checkpoint.metadata.get(key).map(String::as_str);
    if meta("format") != Some(CHECKPOINT_FORMAT) {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            reason: "it is a safetensors file, but not one sgan-gpu wrote".to_string(),
        });
    }
    if meta("version") != Some(CHECKPOINT_VERSION) {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            reason: format!(
                "its layout version is {}, this sgan-gpu reads version {CHECKPOINT_VERSION}. \
                 Read it with the sgan-gpu that wrote it",
                meta("version").unwrap_or("missing")
            ),
        });
    }
    model::load_named(gpu, named, |name, shape| {
        Ok(checkpoint.get(name, shape)?.to_vec())
    })?;
    Ok(checkpoint)
}

/// Test accuracy of the discriminator in `checkpoint` on the test set in `data_dir`.
pub fn evaluate(checkpoint: &Path, data_dir: &Path, gpu_options: &GpuOptions) -> Result<f64> {
    let mnist = Mnist::load(data_dir)?;
    let gpu = Gpu::new(gpu_options)?;
    // Inference mixes no rows, so any batch size gives the same logits; 100 divides 10,000.
    let trunk = Discriminator::new(&gpu, 100, 0)?;
    load_into(&gpu, checkpoint, &trunk.named_tensors())?;
    let test_set = upload(&gpu, "test", &mnist.test, None)?;
    let images = Tensor::zeros(&gpu, "eval.images", &[100, 28, 28, 1]);
    Evaluator::new(&gpu, &trunk, &test_set, &images)?.accuracy(&gpu)
}

/// Writes a grid of `count` new digits from the generator in `checkpoint` to `png`.
pub fn sample(
    checkpoint: &Path,
    png: &Path,
    count: usize,
    seed: u64,
    gpu_options: &GpuOptions,
) -> Result<PathBuf> {
    if count == 0 {
        return Err(Error::InvalidConfig {
            message: "--count must be at least 1".to_string(),
        });
    }
    let gpu = Gpu::new(gpu_options)?;
    model::footprint::check_batch(&gpu, count, "--count")?;
    let generator = Generator::new(&gpu, count)?;
    load_into(&gpu, checkpoint, &generator.named_tensors())?;
    let z = Tensor::zeros(&gpu, "sample.z", &[count, Z_DIM]);
    let images = Tensor::zeros(&gpu, "sample.images", &[count, 28, 28, 1]);
    let mut dispatches = vec![normal_noise(
        &gpu,
        &z,
        NoiseParams::new(&z, seed as u32, 0),
    )?];
    dispatches.extend(generator.forward(&gpu, &z, &images, false)?);
    gpu.run(&dispatches.iter().collect::<Vec<_>>())?;
    let columns = (count as f64).sqrt().ceil() as usize;
    report::save_digit_grid(png, &images.read(&gpu)?, count, 28, 28, columns)?;
    Ok(png.to_path_buf())
}
