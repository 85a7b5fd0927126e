//! The training iteration on the GPU: what each phase changes, finiteness, determinism, and a
//! short supervised run that must learn. These run real SGAN iterations on lavapipe (about
//! 2-3 s each there), so they keep to a handful.

mod common;

use std::sync::OnceLock;

use sgan_gpu::data::mnist::{default_dir, Mnist};
use sgan_gpu::gpu::{Gpu, Profiler, Tensor, TimingMethod};
use sgan_gpu::layers::gather::GpuDataset;
use sgan_gpu::train::{Config, Evaluator, Mode, Phase, Trainer};

fn mnist() -> &'static Mnist {
    static MNIST: OnceLock<Mnist> = OnceLock::new();
    MNIST.get_or_init(|| Mnist::load(&default_dir()).expect("the bundled MNIST loads"))
}

/// The training set in the order the trainer expects: labelled images first.
fn train_set(gpu: &Gpu, config: &Config) -> GpuDataset {
    sgan_gpu::run::upload_training_set(gpu, &mnist().train, config).unwrap()
}

fn config(mode: Mode, seed: u64) -> Config {
    Config {
        mode,
        seed,
        ..Config::default()
    }
}

fn snapshot(gpu: &Gpu, tensors: &[&Tensor]) -> Vec<Vec<f32>> {
    tensors.iter().map(|t| t.read(gpu).unwrap()).collect()
}

/// Asserts which of the four groups a phase changed: trunk parameters, trunk running
/// statistics, generator parameters, generator running statistics.
fn assert_changes(trainer: &mut Trainer, gpu: &Gpu, phase: Phase, expected: [bool; 4]) {
    let groups = |t: &Trainer| {
        let (d, g) = (&t.discriminator, &t.generator);
        [
            snapshot(gpu, &d.parameters()),
            snapshot(gpu, &d.running_statistics()),
            snapshot(gpu, &g.parameters()),
            snapshot(gpu, &g.running_statistics()),
        ]
    };
    let before = groups(trainer);
    trainer.step_phases(&[phase]).unwrap();
    let after = groups(trainer);
    let names = [
        "trunk parameters",
        "trunk running statistics",
        "G parameters",
        "G running",
    ];
    for (index, name) in names.iter().enumerate() {
        let tensors_changed: Vec<bool> = before[index]
            .iter()
            .zip(&after[index])
            .map(|(b, a)| b != a)
            .collect();
        if expected[index] {
            assert!(
                tensors_changed.iter().all(|&c| c),
                "{phase:?} should change every tensor of the {name}: {tensors_changed:?}"
            );
        } else {
            assert!(
                tensors_changed.iter().all(|&c| !c),
                "{phase:?} must leave the {name} bit-identical: {tensors_changed:?}"
            );
        }
    }
}

#[test]
fn each_phase_changes_exactly_its_parameter_groups() {
    let gpu = gpu_or_skip!();
    let config = config(Mode::Sgan, 7);
    let mut trainer = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    // Warm up the generator's running statistics and Adam states with one full iteration.
    trainer.step().unwrap();

    assert_changes(
        &mut trainer,
        gpu,
        Phase::Supervised,
        [true, true, false, false],
    );
    assert_changes(
        &mut trainer,
        gpu,
        Phase::UnsupervisedReal,
        [true, true, false, false],
    );
    // Fakes come from G in inference mode: G's running statistics stay as they are.
    assert_changes(
        &mut trainer,
        gpu,
        Phase::UnsupervisedFake,
        [true, true, false, false],
    );
    // The trunk is frozen in the generator step, running statistics included.
    assert_changes(
        &mut trainer,
        gpu,
        Phase::Generator,
        [false, false, true, true],
    );

    // One full iteration and then each phase once: the unsupervised state stepped in 2a and 2b.
    assert_eq!(trainer.adam_supervised.steps_taken(gpu).unwrap(), 2);
    assert_eq!(trainer.adam_unsupervised.steps_taken(gpu).unwrap(), 4);
    assert_eq!(trainer.adam_generator.steps_taken(gpu).unwrap(), 2);
}

#[test]
fn sgan_iterations_keep_every_loss_finite_and_one_seed_replays_exactly() {
    let gpu = gpu_or_skip!();
    let run = |seed| {
        let config = config(Mode::Sgan, seed);
        let mut trainer = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
        let mut metrics = Vec::new();
        for _ in 0..3 {
            trainer.step().unwrap();
            metrics.push(trainer.metrics().expect("every loss stays finite"));
        }
        let logits = trainer.discriminator.logits.read(gpu).unwrap();
        (
            metrics,
            logits,
            trainer.generator.dense.weight.read(gpu).unwrap(),
        )
    };
    let first = run(3);
    for m in &first.0 {
        assert!(
            m.unsupervised_loss.is_some() && m.generator_loss.is_some(),
            "{m:?}"
        );
    }
    let again = run(3);
    assert_eq!(
        first, again,
        "two runs with seed 3 on one adapter must agree bit for bit"
    );
    let other = run(4);
    assert_ne!(first.0, other.0, "another seed must give other metrics");
}

/// A profiled iteration times every dispatch, tags each with its phase in running order, and
/// computes bit for bit what an unprofiled one does.
#[test]
fn profiled_iterations_time_every_dispatch_and_change_nothing() {
    let gpu = gpu_or_skip!();
    let config = config(Mode::Sgan, 5);
    let mut plain = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    let mut profiled = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    let method = TimingMethod::best_for(gpu);
    let mut profiler = Profiler::new(gpu, profiled.dispatches_per_step(), method).unwrap();
    for _ in 0..2 {
        plain.step().unwrap();
        let timings = profiled.step_profiled(&mut profiler).unwrap();
        assert_eq!(timings.len(), profiled.dispatches_per_step());
        assert!(timings
            .iter()
            .all(|t| t.seconds.is_finite() && t.seconds >= 0.0));
        let mut phases: Vec<&str> = timings.iter().map(|t| t.phase.as_str()).collect();
        phases.dedup();
        let expected: Vec<&str> = [
            Phase::Supervised,
            Phase::UnsupervisedReal,
            Phase::UnsupervisedFake,
            Phase::Generator,
        ]
        .iter()
        .map(|p| p.name())
        .collect();
        assert_eq!(phases, expected, "each phase once, in running order");
        let adam_steps = timings.iter().filter(|t| t.kernel.starts_with("adam_step"));
        assert_eq!(
            adam_steps.count(),
            4,
            "one adam_step per optimizer step: each model's parameters are packed"
        );
        let products = timings.iter().filter(|t| t.kernel.starts_with("matmul"));
        assert!(products.clone().count() > 20);
        assert!(
            products.clone().all(|t| t.flops > 0.0),
            "matrix products state their work"
        );
    }
    assert_eq!(plain.steps_done(), profiled.steps_done());
    assert_eq!(plain.metrics().unwrap(), profiled.metrics().unwrap());
    assert_eq!(
        outcome(gpu, &plain),
        outcome(gpu, &profiled),
        "profiling changed what was computed"
    );
}

/// What an iteration leaves that every phase feeds: D's last logits and G's first weights.
fn outcome(gpu: &Gpu, trainer: &Trainer) -> (Vec<f32>, Vec<f32>) {
    (
        trainer.discriminator.logits.read(gpu).unwrap(),
        trainer.generator.dense.weight.read(gpu).unwrap(),
    )
}

/// `bench` times the host's part by recording iterations it never submits: that must neither
/// count an iteration nor change what the next submitted one computes.
#[test]
fn recording_an_iteration_without_submitting_it_changes_nothing() {
    let gpu = gpu_or_skip!();
    let config = config(Mode::Sgan, 6);
    let mut plain = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    let mut recorded = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    for _ in 0..2 {
        plain.step().unwrap();
        for _ in 0..3 {
            drop(recorded.encode_step().unwrap());
        }
        recorded.step().unwrap();
    }
    assert_eq!(recorded.steps_done(), 2);
    assert_eq!(plain.metrics().unwrap(), recorded.metrics().unwrap());
    assert_eq!(outcome(gpu, &plain), outcome(gpu, &recorded));
}

/// The baseline on the 100 labels must learn: 120 supervised steps (the reference's 30 epochs
/// of 100 images at batch 32 are about as many) reach three times chance on 2,000 held-out
/// test images. Measured with seed 0: 39.35 % here; the Keras reference after the same 120
/// steps (`keras_sgan.py --mode supervised --iterations 120 --seed 0`) scores 38.25 % on all
/// 10,000. Both sit far below the 66.75 % that 400 steps reach here (seed 0).
#[test]
fn supervised_training_on_100_labels_learns() {
    let gpu = gpu_or_skip!();
    let config = Config {
        iterations: 120,
        ..config(Mode::Supervised, 0)
    };
    let mut trainer = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    for _ in 0..config.iterations {
        trainer.step().unwrap();
    }
    let test = &mnist().test;
    let held_out = 2000;
    let pixels = test.rows * test.cols;
    let test_set = GpuDataset::upload(
        gpu,
        "test",
        &test.images[..held_out * pixels],
        &test.labels[..held_out],
        pixels,
    )
    .unwrap();
    let evaluator = Evaluator::new(gpu, &trainer.discriminator, &test_set, trainer.images());
    let accuracy = evaluator.unwrap().accuracy(gpu).unwrap();
    println!(
        "supervised, 120 steps, seed 0: {:.2}% on {held_out} test images",
        100.0 * accuracy
    );
    assert!(
        accuracy > 0.30,
        "accuracy {accuracy} after 120 supervised steps"
    );
}

/// Logits of `trunk` in inference mode on the first B test images.
fn inference_logits(gpu: &Gpu, trunk: &sgan_gpu::model::Discriminator) -> Vec<f32> {
    use sgan_gpu::model::TrunkMode;
    let test = &mnist().test;
    let (batch, pixels) = (trunk.batch, test.rows * test.cols);
    let images: Vec<f32> = test.images[..batch * pixels]
        .iter()
        .map(|&p| (p as f32 - 127.5) / 127.5)
        .collect();
    let input = Tensor::from_slice(gpu, "images", &[batch, 28, 28, 1], &images).unwrap();
    let forward = trunk.forward(gpu, &input, TrunkMode::Inference).unwrap();
    gpu.run(&forward.dispatches.iter().collect::<Vec<_>>())
        .unwrap();
    trunk.logits.read(gpu).unwrap()
}

#[test]
fn checkpoint_round_trip_gives_bit_identical_logits_and_images() {
    use sgan_gpu::model::{Discriminator, Generator};
    use sgan_gpu::run::{load_into, save_models};
    let gpu = gpu_or_skip!();
    let config = config(Mode::Sgan, 11);
    let mut trainer = Trainer::new(gpu, &config, train_set(gpu, &config)).unwrap();
    trainer.step().unwrap();

    let dir = std::env::temp_dir().join(format!("sgan-gpu-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.safetensors");
    let metadata = Default::default();
    save_models(
        gpu,
        &path,
        &trainer.generator,
        &trainer.discriminator,
        &metadata,
    )
    .unwrap();

    let trunk = Discriminator::new(gpu, config.batch, 0).unwrap();
    let generator = Generator::new(gpu, config.batch).unwrap();
    load_into(gpu, &path, &trunk.named_tensors()).unwrap();
    load_into(gpu, &path, &generator.named_tensors()).unwrap();
    assert_eq!(
        inference_logits(gpu, &trunk),
        inference_logits(gpu, &trainer.discriminator)
    );
    for (loaded, trained) in generator
        .named_tensors()
        .iter()
        .zip(trainer.generator.named_tensors())
    {
        assert_eq!(loaded.name, trained.name);
        assert_eq!(
            loaded.tensor.read(gpu).unwrap(),
            trained.tensor.read(gpu).unwrap()
        );
    }

    // A safetensors file sgan-gpu did not write is refused, and so is one lacking a tensor.
    let foreign = dir.join("foreign.safetensors");
    let tensor = sgan_gpu::report::NamedTensor {
        name: "discriminator.dense.bias".into(),
        shape: vec![10],
        data: vec![0.0; 10],
    };
    sgan_gpu::report::save_checkpoint(&foreign, std::slice::from_ref(&tensor), &metadata).unwrap();
    let error = load_into(gpu, &foreign, &trunk.named_tensors()).unwrap_err();
    assert!(
        error.to_string().contains("not one sgan-gpu wrote"),
        "{error}"
    );
    let mut marked = std::collections::BTreeMap::new();
    marked.insert("format".to_string(), "sgan-gpu".to_string());
    marked.insert("version".to_string(), "1".to_string());
    sgan_gpu::report::save_checkpoint(&foreign, &[tensor], &marked).unwrap();
    let error = load_into(gpu, &foreign, &trunk.named_tensors()).unwrap_err();
    assert!(
        error.to_string().contains("discriminator.conv_1.kernel"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The generator step's trunk backward pass gives the same image gradient as the full one and
/// leaves every trunk parameter gradient as it found it.
#[test]
fn trunk_input_only_backward_matches_the_full_one_and_skips_parameter_gradients() {
    use sgan_gpu::model::{Discriminator, TrunkMode};
    let gpu = gpu_or_skip!();
    let trunk = Discriminator::new(gpu, 8, 0).unwrap();
    gpu.run(&trunk.initialize(gpu, 3).unwrap().iter().collect::<Vec<_>>())
        .unwrap();
    let images: Vec<f32> = (0..8 * 784)
        .map(|i| ((i * 37 % 255) as f32 - 127.5) / 127.5)
        .collect();
    let input = Tensor::from_slice(gpu, "images", &[8, 28, 28, 1], &images).unwrap();
    let d_logits: Vec<f32> = (0..80)
        .map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let d_image = Tensor::<f32>::zeros(gpu, "d_image", &[8, 28, 28, 1]);
    let mode = TrunkMode::Train {
        update_running: false,
    };
    let forward = trunk.forward(gpu, &input, mode).unwrap();
    let run = |dispatches: &[sgan_gpu::gpu::Dispatch]| {
        trunk.d_logits.write(gpu, &d_logits).unwrap();
        forward.set_dropout_counter(gpu, &trunk, 0);
        let all: Vec<_> = forward.dispatches.iter().chain(dispatches).collect();
        gpu.run(&all).unwrap();
        d_image.read(gpu).unwrap()
    };
    let full = run(&trunk.backward(gpu, &input, Some(&d_image)).unwrap());
    // Mark every parameter gradient but batch norm's, which the input gradient is built from.
    let marked: Vec<&Tensor> = trunk
        .gradients()
        .into_iter()
        .filter(|g| !g.label().contains("norm"))
        .collect();
    assert!(marked.len() >= 6, "conv and dense weights and biases");
    for gradient in &marked {
        gradient.write(gpu, &vec![7.0; gradient.len()]).unwrap();
    }
    let input_only = run(&trunk.backward_input_only(gpu, &d_image).unwrap());
    assert_eq!(full, input_only, "the image gradients differ");
    assert!(full.iter().any(|g| *g != 0.0));
    for gradient in marked {
        let values = gradient.read(gpu).unwrap();
        assert!(
            values.iter().all(|v| *v == 7.0),
            "{} was written",
            gradient.label()
        );
    }
}
