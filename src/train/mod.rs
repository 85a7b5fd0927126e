//! Training: the configuration, the GPU training iteration, evaluation, and the labelled-set
//! choice. Drives the models; knows nothing of files or the terminal (see `crate::run`).

pub mod config;
mod eval;
mod trainer;

pub use config::{Config, Mode, Schedule};
pub use eval::Evaluator;
pub use trainer::{Phase, StateTensor, StepMetrics, Trainer, TrainingState};

use crate::error::{Error, Result};

/// The order in which training images go to the GPU: the labelled set first, then every
/// other image in file order. The labelled set is the first `num_labeled` images, or with
/// `balanced` the first `num_labeled / 10` images of each class (in file order). Minibatches
/// then draw labelled images from `[0, num_labeled)` and unlabelled ones from the rest.
pub fn labeled_first(labels: &[u8], num_labeled: usize, balanced: bool) -> Result<Vec<usize>> {
    let labeled: Vec<usize> = if balanced {
        let per_class = num_labeled / 10;
        let mut taken = [0usize; 10];
        let chosen: Vec<usize> = (0..labels.len())
            .filter(|&i| {
                let class = labels[i] as usize;
                let keep = class < 10 && taken[class] < per_class;
                if keep {
                    taken[class] += 1;
                }
                keep
            })
            .collect();
        if let Some(class) = (0..10).find(|&c| taken[c] < per_class) {
            return Err(Error::InvalidConfig {
                message: format!(
                    "--balanced needs {per_class} images of class {class}, the training set \
                     has {}",
                    taken[class]
                ),
            });
        }
        chosen
    } else {
        (0..num_labeled.min(labels.len())).collect()
    };
    let mut is_labeled = vec![false; labels.len()];
    for &i in &labeled {
        is_labeled[i] = true;
    }
    let rest = (0..labels.len()).filter(|&i| !is_labeled[i]);
    Ok(labeled.iter().copied().chain(rest).collect())
}
