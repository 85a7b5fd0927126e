//! The `sgan-gpu` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sgan_gpu::data::mnist;
use sgan_gpu::gpu::{self, GpuOptions};
use sgan_gpu::layers::gather::GpuDataset;

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
    /// Train the SGAN (not built yet: checks the data and the adapter, then says so)
    Train {
        /// Folder with the four MNIST IDX files, gzip or raw (default: the bundled copy)
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        device: DeviceArgs,
    },
}

/// Loads the data and opens the adapter a run would use, then stops: the models and the
/// training loop are not part of this version.
fn train(data: Option<&Path>, device: &DeviceArgs) -> sgan_gpu::Result<()> {
    let dir = data
        .map(Path::to_path_buf)
        .unwrap_or_else(mnist::default_dir);
    let mnist = mnist::Mnist::load(&dir)?;
    println!(
        "data:    {} ({} training and {} test images of {}x{})",
        dir.display(),
        mnist.train.len(),
        mnist.test.len(),
        mnist.train.rows,
        mnist.train.cols
    );
    let gpu = gpu::Gpu::new(&device.options())?;
    let dataset = GpuDataset::upload(
        &gpu,
        "train",
        &mnist.train.images,
        &mnist.train.labels,
        mnist.train.rows * mnist.train.cols,
    )?;
    gpu.wait()?;
    println!(
        "adapter: {} ({:?}), training set uploaded",
        gpu.info.name, gpu.info.backend
    );
    drop(dataset);
    Err(sgan_gpu::Error::NotBuiltYet {
        what: "training (the SGAN models and the three-phase loop)".to_string(),
    })
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
    let result = match &cli.command {
        Command::Info { device } => info(device),
        Command::Train { data, device } => train(data.as_deref(), device),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
