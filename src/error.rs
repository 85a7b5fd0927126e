//! The crate's one error type. Every message says what went wrong and, where there is one, what
//! the user can do about it.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in sgan-gpu.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no usable GPU adapter{detail}. On headless Linux install the Vulkan CPU driver \
         lavapipe (`apt-get install mesa-vulkan-drivers`); elsewhere install or update the GPU \
         driver. `sgan-gpu info` lists what wgpu can see"
    )]
    NoAdapter { detail: String },

    #[error(
        "adapter `{adapter}` is too small for sgan-gpu: {limit} is {got}, at least {needed} is \
         needed. Pick another adapter with --adapter (see `sgan-gpu info`)"
    )]
    AdapterLimit {
        adapter: String,
        limit: &'static str,
        got: u64,
        needed: u64,
    },

    #[error(
        "{flag} {batch} is too large for adapter `{adapter}`: {demand}, over its {limit} of \
         {value}. The largest {flag} that fits is {largest}"
    )]
    BatchTooLarge {
        flag: &'static str,
        batch: usize,
        adapter: String,
        /// What the batch would ask of the limit, in words with its unit.
        demand: String,
        limit: &'static str,
        value: u64,
        largest: usize,
    },

    #[error("unknown backend `{name}`: use one of vulkan, metal, dx12, gl")]
    UnknownBackend { name: String },

    #[error("no adapter matches `{wanted}`; available: {available}. See `sgan-gpu info`")]
    UnknownAdapter { wanted: String, available: String },

    #[error("cannot open a device on `{adapter}`: {message}")]
    RequestDevice { adapter: String, message: String },

    #[error(
        "the GPU device `{adapter}` was lost ({reason}): its driver reset or it went away. Run \
         the command again; if it recurs, update the driver or pick another --adapter"
    )]
    DeviceLost { adapter: String, reason: String },

    #[error(
        "the GPU device was lost at iteration {iteration} ({reason}). {}",
        resume_hint(*.last_state, .state_file, .dir)
    )]
    RunDeviceLost {
        iteration: usize,
        reason: String,
        /// The iteration of the last training state written, if any was.
        last_state: Option<usize>,
        state_file: PathBuf,
        dir: PathBuf,
    },

    #[error("shader `{shader}` failed to compile: {message}")]
    ShaderCompile { shader: String, message: String },

    #[error("no shader named `{shader}` is compiled into this binary")]
    UnknownShader { shader: String },

    #[error("GPU validation error: {message}")]
    GpuValidation { message: String },

    #[error("reading back `{buffer}` from the GPU failed: {message}")]
    Readback { buffer: String, message: String },

    #[error("{op}: shape mismatch, expected {expected}, got {got}")]
    ShapeMismatch {
        op: String,
        expected: String,
        got: String,
    },

    #[error("{op}: {what} needs {needed} workgroups along one axis, the adapter allows {max}")]
    DispatchTooLarge {
        op: String,
        what: String,
        needed: u64,
        max: u64,
    },

    #[error("{op}: {message}")]
    InvalidArgument { op: String, message: String },

    #[error("adapter `{adapter}` does not support {what}")]
    Unsupported { what: String, adapter: String },

    #[error(
        "MNIST file {path} is missing. Put the four IDX files (gzip or raw) in that folder or \
         pass --data DIR; the repository bundles them under data/mnist/"
    )]
    MnistMissing { path: PathBuf },

    #[error(
        "the MNIST folder {dir} does not exist or is not a folder. Pass --data DIR with the \
         four IDX files (gzip or raw); the repository bundles them under data/mnist/"
    )]
    MnistDirMissing { dir: PathBuf },

    #[error("MNIST file {path} is broken: {reason}. Replace it with a fresh copy of the file")]
    MnistCorrupt { path: PathBuf, reason: String },

    #[error(
        "training diverged at iteration {iteration}: {what}. The last state checkpoint \
         written before it is kept; try another --seed, and report it if it recurs"
    )]
    Diverged { iteration: usize, what: String },

    #[error("interrupted at iteration {iteration}; resume with: sgan-gpu train --resume {dir}")]
    Interrupted { iteration: usize, dir: PathBuf },

    #[error(
        "interrupted during {stage}, after iteration {steps} of {steps}, whose state is \
         written; finish with: sgan-gpu train --resume {dir}"
    )]
    InterruptedFinishing {
        stage: &'static str,
        steps: usize,
        dir: PathBuf,
    },

    #[error("invalid configuration: {message}")]
    InvalidConfig { message: String },

    #[error(
        "cannot write {path}: {source}. Check that the folder is writable, that the disk has \
         room, and that no folder has that name"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot use {dir} as the output folder: {reason}. Pass an --out you can write to")]
    OutDir { dir: PathBuf, reason: String },

    #[error("cannot write {path}: the folder {dir} does not exist. Create it or pick another")]
    WriteDirMissing { path: PathBuf, dir: PathBuf },

    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    #[error("metrics file {path}, line {line}: {reason}")]
    MetricsCsv {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("cannot turn the data for {path} into JSON: {reason}")]
    Json { path: PathBuf, reason: String },

    #[error("drawing the plot {path} failed: {reason}")]
    Plot { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a run whose device was lost can do next: resume from its last state, or start over.
fn resume_hint(last_state: Option<usize>, state_file: &Path, dir: &Path) -> String {
    match last_state {
        Some(iteration) => format!(
            "The last training state written is {} (iteration {iteration}); once the GPU works \
             again (or with another --adapter), resume with: sgan-gpu train --resume {}",
            state_file.display(),
            dir.display()
        ),
        None => format!(
            "No training state was written yet, so the run cannot be resumed; start it again \
             with another --out (or remove {} first)",
            dir.display()
        ),
    }
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
