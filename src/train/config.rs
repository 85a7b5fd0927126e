//! What a training run does: the spec's defaults and the options around them.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Which classifier is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The semi-supervised GAN: the three phases of every iteration.
    Sgan,
    /// The baseline: the same trunk and supervised head on the labelled set alone.
    Supervised,
}

/// How the supervised-only baseline schedules its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// One supervised step per iteration on a batch drawn with replacement, as the SGAN's
    /// first phase does.
    Iterations,
    /// The reference book's way: this many epochs over the labelled set in shuffled batches.
    Epochs(usize),
}

/// Everything that decides a run. `Config::default()` is the spec's run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub mode: Mode,
    /// Training iterations (SGAN) or supervised steps (baseline with `Schedule::Iterations`).
    pub iterations: usize,
    pub batch: usize,
    /// Size of the labelled set.
    pub num_labeled: usize,
    /// Take `num_labeled / 10` images of each class instead of the first `num_labeled`.
    pub balanced: bool,
    /// Report (interval line, metrics row, sample grid) every this many iterations.
    pub report_every: usize,
    /// Write the training state (`state.safetensors`) every this many iterations; `None`
    /// means at every report.
    #[serde(default)]
    pub checkpoint_every: Option<usize>,
    /// Seeds initialisation, minibatch draws, noise and dropout. Only its low 32 bits reach
    /// the GPU generator.
    pub seed: u64,
    pub schedule: Schedule,
    pub data_dir: PathBuf,
    pub out_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Sgan,
            iterations: 8000,
            batch: 32,
            num_labeled: 100,
            balanced: false,
            report_every: 800,
            checkpoint_every: None,
            seed: 0,
            schedule: Schedule::Iterations,
            data_dir: crate::data::mnist::default_dir(),
            out_dir: PathBuf::from("runs/sgan-seed0"),
        }
    }
}

impl Config {
    /// Steps the run takes: iterations, or for the epoch schedule epochs x batches per epoch.
    pub fn steps(&self) -> usize {
        match (self.mode, self.schedule) {
            // `validate` refuses batch 0; `max(1)` and saturation keep this total for a
            // configuration read from a damaged state before it is validated.
            (Mode::Supervised, Schedule::Epochs(epochs)) => {
                epochs.saturating_mul(self.num_labeled.div_ceil(self.batch.max(1)))
            }
            _ => self.iterations,
        }
    }

    /// Iterations between two writes of the training state.
    pub fn checkpoint_interval(&self) -> usize {
        self.checkpoint_every.unwrap_or(self.report_every)
    }

    /// Rejects settings no run can use, saying which flag to change.
    pub fn validate(&self, training_images: usize) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        if self.batch == 0 {
            return invalid("--batch must be at least 1".to_string());
        }
        if self.steps() == 0 {
            return invalid("the run has no steps: --iterations (or --epochs) is 0".to_string());
        }
        if self.report_every == 0 {
            return invalid("--report-every must be at least 1".to_string());
        }
        if self.checkpoint_every == Some(0) {
            return invalid("--checkpoint-every must be at least 1".to_string());
        }
        if self.num_labeled == 0 || self.num_labeled >= training_images {
            return invalid(format!(
                "--num-labeled must lie between 1 and {} (the training set has \
                 {training_images} images and the unlabelled set must not be empty), got {}",
                training_images.saturating_sub(1),
                self.num_labeled
            ));
        }
        if self.balanced && !self.num_labeled.is_multiple_of(10) {
            return invalid(format!(
                "--balanced takes num_labeled / 10 images per class, so --num-labeled must be a \
                 multiple of 10, got {}",
                self.num_labeled
            ));
        }
        Ok(())
    }
}
