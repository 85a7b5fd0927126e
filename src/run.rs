//! A training run as a user starts it: load and check the data, open the adapter, train with
//! a progress bar and the spec's interval lines, evaluate, and leave the run's files behind.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::mnist::{Mnist, Split};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuOptions};
use crate::layers::gather::GpuDataset;
use crate::train::{labeled_first, Config, Evaluator, Mode, Trainer};

/// What a finished run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub mode: Mode,
    pub seed: u64,
    pub steps: usize,
    pub test_accuracy: f64,
    pub ms_per_step: f64,
    pub adapter: String,
    pub backend: String,
}

/// Uploads a split as given, or in `order`.
fn upload(gpu: &Gpu, label: &str, split: &Split, order: Option<&[usize]>) -> Result<GpuDataset> {
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

/// Refuses to mix a new run into a folder that already holds files.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(Error::InvalidConfig {
            message: format!(
                "the output folder {} already holds files; pass another --out or remove it",
                dir.display()
            ),
        });
    }
    std::fs::create_dir_all(dir).map_err(io)
}

/// Trains with `config` on the adapter `gpu_options` selects.
pub fn train(config: &Config, gpu_options: &GpuOptions) -> Result<Summary> {
    let mnist = Mnist::load(&config.data_dir)?;
    config.validate(mnist.train.len())?;
    prepare_out_dir(&config.out_dir)?;
    let gpu = Gpu::new(gpu_options)?;
    let order = labeled_first(&mnist.train.labels, config.num_labeled, config.balanced)?;
    let train_set = upload(&gpu, "train", &mnist.train, Some(&order))?;
    let test_set = upload(&gpu, "test", &mnist.test, None)?;
    println!(
        "sgan-gpu: {:?} on {} ({:?}), {} steps of batch {}, {} labels, seed {}",
        config.mode,
        gpu.info.name,
        gpu.info.backend,
        config.steps(),
        config.batch,
        config.num_labeled,
        config.seed
    );

    let mut trainer = Trainer::new(&gpu, config, train_set)?;
    let steps = config.steps();
    // On a terminal: a bar with rate and ETA on stderr; elsewhere indicatif draws nothing.
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps | {per_sec} | elapsed {elapsed_precise} | ETA {eta}",
        )
        .expect("the progress template is valid"),
    );
    let started = Instant::now();
    while trainer.steps_done() < steps {
        trainer.step()?;
        bar.inc(1);
        let done = trainer.steps_done();
        if done % config.report_every == 0 || done == steps {
            let m = trainer.metrics()?;
            bar.println(format!(
                "{done:>6}/{steps} | d_sup loss {:.4} acc {:6.2}% | d_unsup loss {} | g loss {} \
                 | {:.1} ms/step",
                m.supervised_loss,
                100.0 * m.supervised_accuracy,
                m.unsupervised_loss
                    .map_or("-".to_string(), |v| format!("{v:.4}")),
                m.generator_loss
                    .map_or("-".to_string(), |v| format!("{v:.4}")),
                started.elapsed().as_secs_f64() * 1e3 / done as f64
            ));
        }
    }
    gpu.wait()?;
    bar.finish_and_clear();
    let ms_per_step = started.elapsed().as_secs_f64() * 1e3 / steps as f64;

    let evaluator = Evaluator::new(&gpu, &trainer.discriminator, &test_set, trainer.images())?;
    let test_accuracy = evaluator.accuracy(&gpu)?;
    println!(
        "test accuracy {:.2}% on {} images",
        100.0 * test_accuracy,
        test_set.len()
    );
    Ok(Summary {
        mode: config.mode,
        seed: config.seed,
        steps,
        test_accuracy,
        ms_per_step,
        adapter: gpu.info.name.clone(),
        backend: format!("{:?}", gpu.info.backend),
    })
}
