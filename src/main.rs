//! The `sgan-gpu` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Parser, Subcommand};
use sgan_gpu::data::mnist;
use sgan_gpu::gpu::{self, GpuOptions};
use sgan_gpu::run;
use sgan_gpu::train::{Config, Mode, Schedule};

#[derive(Parser)]
#[command(
    version,
    about = "Semi-supervised GAN on MNIST, every layer a WGSL compute shader"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Backend and adapter choice, shared by every command that opens a GPU.
#[derive(Args, Clone)]
struct DeviceArgs {
    /// Backend: vulkan, metal, dx12 or gl (default: WGPU_BACKEND, else every backend)
    #[arg(long)]
    backend: Option<String>,
    /// Adapter: part of its name or its index in `sgan-gpu info` (default: WGPU_ADAPTER_NAME)
    #[arg(long)]
    adapter: Option<String>,
}

impl DeviceArgs {
    fn options(&self) -> GpuOptions {
        GpuOptions {
            backend: self.backend.clone(),
            adapter: self.adapter.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// List every GPU adapter with its backend, driver, features and limits
    Info {
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Train the SGAN (or the supervised-only baseline) on MNIST
    Train(TrainArgs),
    /// Train the SGAN and the supervised-only baseline with one seed; print both accuracies
    Compare {
        #[command(flatten)]
        train: TrainArgs,
        /// Train the baseline for this many epochs over the labelled set (the reference's 30)
        /// instead of the SGAN's iteration count
        #[arg(long)]
        baseline_epochs: Option<usize>,
    },
    /// Time whole training iterations and every kernel in them; print and write the tables
    Bench(BenchArgs),
    /// Recompute the test accuracy of a checkpoint's discriminator
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        /// Folder with the MNIST files (default: the bundled copy)
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Write a grid of new digits from a checkpoint's generator
    Sample {
        #[arg(long)]
        checkpoint: PathBuf,
        /// The PNG to write
        #[arg(long, default_value = "samples.png")]
        out: PathBuf,
        #[arg(long, default_value_t = 64)]
        count: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        device: DeviceArgs,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// sgan: the semi-supervised GAN; supervised: the same classifier on the labels alone
    #[arg(long, value_enum, default_value_t = ModeArg::Sgan)]
    mode: ModeArg,
    /// Training iterations (the baseline: supervised steps)
    #[arg(long, default_value_t = 8000)]
    iterations: usize,
    /// Baseline only: train this many epochs over the labelled set instead of --iterations
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Size of the labelled set: the first N training images
    #[arg(long, default_value_t = 100)]
    num_labeled: usize,
    /// Take N/10 labelled images of each class instead of the first N
    #[arg(long)]
    balanced: bool,
    /// Print the interval line (and write metrics and samples) every this many iterations
    #[arg(long, default_value_t = 800)]
    report_every: usize,
    /// Write the training state (state.safetensors) every this many iterations (default: the
    /// report interval)
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Continue the interrupted run in DIR from its state.safetensors, with its configuration
    /// (the other training flags are ignored)
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with the four MNIST IDX files, gzip or raw (default: the bundled copy)
    #[arg(long)]
    data: Option<PathBuf>,
    /// Run folder for metrics, samples and the checkpoint (default: runs/MODE-seedSEED)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Time every dispatch with GPU timestamps; print a per-kernel table at the end and write
    /// it to the run folder (profile.csv, profile_dispatches.csv, profile.json). Slows the run
    #[arg(long)]
    profile: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Args)]
struct BenchArgs {
    #[arg(long, value_enum, default_value_t = ModeArg::Sgan)]
    mode: ModeArg,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Untimed iterations first (pipelines and caches warm up)
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Whole iterations timed, submission to completion
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Iterations then timed dispatch by dispatch for the per-kernel table
    #[arg(long, default_value_t = 5)]
    profile_iterations: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with the four MNIST IDX files, gzip or raw (default: the bundled copy)
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder for bench.json and the profile files (default: runs/bench-MODE)
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArgs,
}

impl BenchArgs {
    fn options(&self) -> run::BenchOptions {
        let mode = self.mode.into();
        let out_dir = self
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("runs/bench-{}", run::mode_name(mode))));
        run::BenchOptions {
            config: Config {
                mode,
                batch: self.batch,
                seed: self.seed,
                data_dir: self.data.clone().unwrap_or_else(mnist::default_dir),
                out_dir,
                ..Config::default()
            },
            warmup: self.warmup,
            iterations: self.iterations,
            profile_iterations: self.profile_iterations,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Sgan,
    Supervised,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Sgan => Mode::Sgan,
            ModeArg::Supervised => Mode::Supervised,
        }
    }
}

impl TrainArgs {
    fn config(&self) -> Config {
        let mode = self.mode.into();
        let name = run::mode_name(mode);
        Config {
            mode,
            iterations: self.iterations,
            batch: self.batch,
            num_labeled: self.num_labeled,
            balanced: self.balanced,
            report_every: self.report_every,
            checkpoint_every: self.checkpoint_every,
            seed: self.seed,
            schedule: self.epochs.map_or(Schedule::Iterations, Schedule::Epochs),
            data_dir: self.data.clone().unwrap_or_else(mnist::default_dir),
            out_dir: self
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("runs/{name}-seed{}", self.seed))),
        }
    }
}

/// Set by Ctrl-C or SIGTERM: the run stops after the iteration in flight.
static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// Exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Exit code when the GPU device was lost, which a script may retry or resume from (2 is
/// clap's for a usage error).
const EXIT_DEVICE_LOST: u8 = 3;

/// Routes Ctrl-C and SIGTERM to [`INTERRUPT`]; a second one ends the process at once.
fn catch_interrupts() {
    let installed = ctrlc::set_handler(|| {
        if INTERRUPT.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED.into());
        }
        eprintln!("\nstopping after this iteration to write the state (again to quit at once)");
    });
    if let Err(error) = installed {
        log::warn!("Ctrl-C will not save the run: {error}");
    }
}

fn controls(profile: bool) -> run::Controls<'static> {
    run::Controls {
        profile,
        interrupt: Some(&INTERRUPT),
        ..run::Controls::default()
    }
}

fn train(args: &TrainArgs) -> sgan_gpu::Result<()> {
    let gpu = gpu::Gpu::new(&args.device.options())?;
    let start = match &args.resume {
        Some(dir) => run::Start::Resume(dir.clone()),
        None => run::Start::Fresh(args.config()),
    };
    run::train_with(&gpu, start, controls(args.profile)).map(|_| ())
}

/// Both modes with one seed, side by side as the published table has them.
fn compare(args: &TrainArgs, baseline_epochs: Option<usize>) -> sgan_gpu::Result<()> {
    let base = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/compare-seed{}", args.seed)));
    let sgan = Config {
        mode: Mode::Sgan,
        out_dir: base.join("sgan"),
        ..args.config()
    };
    let baseline = Config {
        mode: Mode::Supervised,
        schedule: baseline_epochs.map_or(Schedule::Iterations, Schedule::Epochs),
        out_dir: base.join("supervised"),
        ..args.config()
    };
    let gpu = gpu::Gpu::new(&args.device.options())?;
    let sgan = run::train_with(&gpu, run::Start::Fresh(sgan), controls(args.profile))?;
    let baseline = run::train_with(&gpu, run::Start::Fresh(baseline), controls(args.profile))?;
    println!(
        "\n{:<28} {:>13} {:>7} {:>12}",
        "classifier", "test accuracy", "steps", "ms per step"
    );
    for (name, s) in [("SGAN", &sgan), ("supervised only (baseline)", &baseline)] {
        println!(
            "{name:<28} {:>12.2}% {:>7} {:>12.1}",
            100.0 * s.test_accuracy,
            s.steps,
            s.ms_per_step
        );
    }
    println!(
        "seed {}, {} labels, adapter {}",
        args.seed, args.num_labeled, sgan.adapter.name
    );
    Ok(())
}

fn info(device: &DeviceArgs) -> sgan_gpu::Result<()> {
    let reports = gpu::list_adapters(&device.options())?;
    if reports.is_empty() {
        return Err(sgan_gpu::Error::NoAdapter {
            detail: " (wgpu found none)".to_string(),
        });
    }
    for (index, report) in reports.iter().enumerate() {
        println!("[{index}] {report}\n");
    }
    let chosen = gpu::Gpu::new(&device.options())?;
    println!(
        "default choice: {} ({:?})",
        chosen.info.name, chosen.info.backend
    );
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Train(_) | Command::Compare { .. }) {
        catch_interrupts();
    }
    let result = match &cli.command {
        Command::Info { device } => info(device),
        Command::Train(args) => train(args),
        Command::Bench(args) => gpu::Gpu::new(&args.device.options())
            .and_then(|gpu| run::bench(&gpu, &args.options()))
            .map(|_| ()),
        Command::Compare {
            train,
            baseline_epochs,
        } => compare(train, *baseline_epochs),
        Command::Eval {
            checkpoint,
            data,
            device,
        } => {
            let data = data.clone().unwrap_or_else(mnist::default_dir);
            run::evaluate(checkpoint, &data, &device.options()).map(|accuracy| {
                println!(
                    "test accuracy {:.2}% ({})",
                    100.0 * accuracy,
                    checkpoint.display()
                )
            })
        }
        Command::Sample {
            checkpoint,
            out,
            count,
            seed,
            device,
        } => run::sample(checkpoint, out, *count, *seed, &device.options())
            .map(|path| println!("wrote {count} digits to {}", path.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(
            error @ (sgan_gpu::Error::Interrupted { .. }
            | sgan_gpu::Error::InterruptedFinishing { .. }),
        ) => {
            eprintln!("{error}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(
            error @ (sgan_gpu::Error::DeviceLost { .. } | sgan_gpu::Error::RunDeviceLost { .. }),
        ) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_DEVICE_LOST)
        }
        Err(error) => {
            let message = error.to_string();
            eprintln!("error: {message}");
            // Most messages quote their cause already; repeat only what they do not say.
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !message.contains(&cause_text) {
                    eprintln!("  caused by: {cause_text}");
                }
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
