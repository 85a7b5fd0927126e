//! Every training phase gives the same gradients whichever matrix-product kernel the models
//! are built for: the adapter's own choice (explicit im2col on lavapipe) against the tiled
//! kernel, which reads im2col implicitly and so makes the models' convolutions read their
//! forward inputs in the backward pass. A layer test cannot see a model that overwrites such
//! an input too early; this can.
//!
//! The kernel is picked through `SGAN_MATMUL`, which is process-wide, so this is its own test
//! binary with a single test: no other test runs beside it while the variable changes.

mod common;

use sgan_gpu::data::mnist::{default_dir, Mnist};
use sgan_gpu::gpu::Gpu;
use sgan_gpu::layers::matmul::{MatmulKernel, MATMUL_KERNEL_VAR};
use sgan_gpu::train::{Config, Mode, Phase, Trainer};

/// The gradients one phase leaves, on a fresh trainer built with `kernel` (or the adapter's
/// choice for `None`): the trunk's for the discriminator phases, G's for the generator phase.
fn phase_gradients(
    gpu: &Gpu,
    mnist: &Mnist,
    kernel: Option<MatmulKernel>,
    phase: Phase,
) -> Vec<(String, Vec<f32>)> {
    match kernel {
        Some(kernel) => std::env::set_var(MATMUL_KERNEL_VAR, kernel.name()),
        None => std::env::remove_var(MATMUL_KERNEL_VAR),
    }
    let config = Config {
        mode: Mode::Sgan,
        seed: 11,
        batch: 8,
        ..Config::default()
    };
    let data = sgan_gpu::run::upload_training_set(gpu, &mnist.train, &config).unwrap();
    let mut trainer = Trainer::new(gpu, &config, data).unwrap();
    // The variable took effect: only a kernel that reads im2col implicitly stores no cols.
    let d = &trainer.discriminator;
    let stored = [&d.conv1, &d.conv2, &d.conv3].map(|conv| conv.cols.is_some());
    let implicit = kernel
        .unwrap_or(MatmulKernel::select(gpu).unwrap())
        .reads_im2col();
    assert_eq!(stored, [!implicit; 3], "{kernel:?}");
    trainer.step_phases(&[phase]).unwrap();
    let gradients = match phase {
        Phase::Generator => trainer.generator.gradients(),
        _ => trainer.discriminator.gradients(),
    };
    gradients
        .iter()
        .map(|g| (g.label().to_string(), g.read(gpu).unwrap()))
        .collect()
}

#[test]
fn every_phase_gives_the_same_gradients_with_implicit_im2col() {
    let gpu = gpu_or_skip!();
    let mnist = Mnist::load(&default_dir()).expect("the bundled MNIST loads");
    let chosen = MatmulKernel::select(gpu).unwrap();
    assert!(!chosen.reads_im2col() || chosen == MatmulKernel::Tiled);
    let phases = [
        Phase::Supervised,
        Phase::UnsupervisedReal,
        Phase::UnsupervisedFake,
        Phase::Generator,
    ];
    for phase in phases {
        let want = phase_gradients(gpu, &mnist, None, phase);
        let got = phase_gradients(gpu, &mnist, Some(MatmulKernel::Tiled), phase);
        assert_eq!(got.len(), want.len());
        for ((name, got), (_, want)) in got.iter().zip(&want) {
            // Normwise, relative to the gradient's largest entry: the kernels may round
            // differently. (On lavapipe every kernel sums k in order with fused multiply-adds,
            // so they agree to the bit.)
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{phase:?}: {name} is all zero");
            let worst = got
                .iter()
                .zip(want)
                .map(|(g, w)| (g - w).abs())
                .fold(0f32, f32::max);
            println!(
                "{phase:?} {name}: max |tiled - {chosen}| / max |g| = {:.1e}",
                worst / scale
            );
            assert!(
                worst <= 1e-4 * scale,
                "{phase:?}: {name} differs between {chosen} and tiled by {worst:e} \
                 (largest entry {scale:e})"
            );
        }
    }
    std::env::remove_var(MATMUL_KERNEL_VAR);
}
