//! Training-state checkpoints, resume, interruption and divergence. A run interrupted and
//! resumed must end bit for bit where the same run done in one go ends; a damaged, truncated,
//! foreign or mismatched state must be refused with a message saying which. The runs use a
//! small MNIST (300 training, 64 test images cut from the bundled files) so that evaluation is
//! cheap; the SGAN runs take 8 iterations in all (2-3 s each on lavapipe).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use sgan_gpu::data::mnist::{default_dir, Mnist, Split};
use sgan_gpu::gpu::{Gpu, GpuOptions};
use sgan_gpu::report::{self, MetricsRow, NamedTensor};
use sgan_gpu::run::{self, Controls, FinalStage, Start, STATE_FILE};
use sgan_gpu::train::{Config, Mode, Schedule, Trainer, TrainingState};
use sgan_gpu::Error;

/// A fresh, empty scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sgan-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_split(dir: &Path, prefix: &str, split: &Split, count: usize) {
    let pixels = split.rows * split.cols;
    let mut images = [0x803u32, count as u32, 28, 28]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>();
    images.extend_from_slice(&split.images[..count * pixels]);
    let mut labels = [0x801u32, count as u32]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>();
    labels.extend_from_slice(&split.labels[..count]);
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
}

/// The first 300 training and 64 test images of the bundled MNIST, as raw IDX files.
fn small_mnist() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let full = Mnist::load(&default_dir()).expect("the bundled MNIST loads");
        let dir = scratch("mnist");
        write_split(&dir, "train", &full.train, 300);
        write_split(&dir, "t10k", &full.test, 64);
        dir
    })
}

fn config(mode: Mode, iterations: usize, out_dir: PathBuf) -> Config {
    Config {
        mode,
        iterations,
        report_every: 1,
        checkpoint_every: Some(3),
        seed: 5,
        data_dir: small_mnist().to_path_buf(),
        out_dir,
        ..Config::default()
    }
}

/// Runs `start`, raising the interrupt flag after iteration `stop_after` (if given).
fn run(start: Start, stop_after: Option<usize>) -> sgan_gpu::Result<run::Summary> {
    let gpu = common::gpu().unwrap();
    let flag = AtomicBool::new(false);
    let mut hook = |trainer: &Trainer| {
        if Some(trainer.steps_done()) == stop_after {
            flag.store(true, Ordering::SeqCst);
        }
    };
    let controls = Controls {
        interrupt: Some(&flag),
        after_step: Some(&mut hook),
        ..Controls::default()
    };
    run::train_with(gpu, start, controls)
}

/// Every field of a metrics row but the wall-clock seconds, as bits.
type RowBits = (usize, u32, u32, Option<u32>, Option<u32>);

fn row_bits(rows: &[MetricsRow]) -> Vec<RowBits> {
    rows.iter()
        .map(|r| {
            (
                r.iteration,
                r.supervised_loss.to_bits(),
                r.supervised_accuracy.to_bits(),
                r.unsupervised_loss.map(f32::to_bits),
                r.generator_loss.map(f32::to_bits),
            )
        })
        .collect()
}

fn tensor_bits(tensors: &[NamedTensor]) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    let mut all: Vec<_> = tensors
        .iter()
        .map(|t| {
            let bits = t.data.iter().map(|v| v.to_bits()).collect();
            (t.name.clone(), t.shape.clone(), bits)
        })
        .collect();
    all.sort();
    all
}

/// Runs `config` in one go and again interrupted after `stop_after` and resumed, and asserts
/// that both end bit for bit alike: metrics rows, final weights, Adam moments and counts.
/// With `negative_control`, also that a resume with the Adam counts lost ends elsewhere.
fn assert_resume_is_exact(
    name: &str,
    mode: Mode,
    schedule: Schedule,
    stop_after: usize,
    negative_control: bool,
) {
    let base = scratch(name);
    let whole = Config {
        schedule,
        ..config(mode, 4, base.join("whole"))
    };
    let split = Config {
        out_dir: base.join("split"),
        ..whole.clone()
    };
    let steps = whole.steps();
    run(Start::Fresh(whole.clone()), None).expect("the uninterrupted run finishes");

    match run(Start::Fresh(split.clone()), Some(stop_after)) {
        Err(Error::Interrupted { iteration, dir }) => {
            assert_eq!(
                (iteration, dir.as_path()),
                (stop_after, split.out_dir.as_path())
            );
        }
        other => panic!("an interrupted run must end with Error::Interrupted, got {other:?}"),
    }
    let saved = run::load_state(&split.out_dir.join(STATE_FILE)).unwrap();
    assert_eq!(saved.state.steps_done, stop_after);
    assert_eq!(
        saved.rows.len(),
        stop_after,
        "one metrics row per iteration so far"
    );
    assert!(
        !split.out_dir.join("checkpoint.safetensors").exists(),
        "an interrupted run writes no final checkpoint"
    );

    let summary = run(Start::Resume(split.out_dir.clone()), None).expect("the resumed run ends");
    assert_eq!(summary.steps, steps);

    let csv = |c: &Config| report::read_metrics_csv(c.out_dir.join("metrics.csv")).unwrap();
    let (csv_whole, csv_split) = (csv(&whole), csv(&split));
    assert_eq!(csv_whole.len(), steps);
    assert_eq!(
        row_bits(&csv_whole),
        row_bits(&csv_split),
        "metrics.csv rows"
    );

    let state = |c: &Config| run::load_state(&c.out_dir.join(STATE_FILE)).unwrap();
    let (state_whole, state_split) = (state(&whole), state(&split));
    assert_eq!(row_bits(&state_whole.rows), row_bits(&state_split.rows));
    assert_eq!(state_whole.state.steps_done, steps);
    assert_eq!(state_whole.state.adam_steps, state_split.state.adam_steps);
    let (bits_whole, bits_split) = (
        tensor_bits(&state_whole.state.tensors),
        tensor_bits(&state_split.state.tensors),
    );
    assert!(bits_whole.iter().any(|(n, _, _)| n.starts_with("adam.")));
    for (w, s) in bits_whole.iter().zip(&bits_split) {
        assert!(w == s, "state tensor `{}` differs after the resume", w.0);
    }
    assert_eq!(bits_whole.len(), bits_split.len());

    let weights = |c: &Config| {
        let checkpoint = report::load_checkpoint(c.out_dir.join("checkpoint.safetensors"));
        tensor_bits(&checkpoint.unwrap().tensors)
    };
    assert!(
        weights(&whole) == weights(&split),
        "final checkpoints differ"
    );
    println!(
        "{name}: {} state tensors and {} metrics rows identical after resuming at {stop_after}",
        bits_whole.len(),
        csv_whole.len()
    );
    if !negative_control {
        return;
    }

    // Negative control: the same interrupted state with its Adam step counts zeroed (as a
    // resume that forgot them would leave them) must end elsewhere.
    let tampered = Config {
        out_dir: base.join("tampered"),
        ..whole.clone()
    };
    std::fs::create_dir_all(&tampered.out_dir).unwrap();
    let forgetful = TrainingState {
        adam_steps: [0; 3],
        ..saved.state.clone()
    };
    let path = tampered.out_dir.join(STATE_FILE);
    run::save_state(&path, &saved.config, &saved.rows, &forgetful).unwrap();
    run(Start::Resume(tampered.out_dir.clone()), None).unwrap();
    assert!(
        weights(&whole) != weights(&tampered),
        "a resume without the Adam step counts must not match"
    );
}

#[test]
fn sgan_interrupted_and_resumed_matches_one_uninterrupted_run_bit_for_bit() {
    gpu_or_skip!();
    assert_resume_is_exact("sgan", Mode::Sgan, Schedule::Iterations, 2, false);
    let _ = std::fs::remove_dir_all(scratch("sgan"));
}

/// 100 labels at batch 32 are 4 steps per epoch: stopping after 5 resumes inside the second
/// epoch, whose shuffle the resumed run must rebuild.
#[test]
fn supervised_epoch_schedule_resumed_mid_epoch_matches_one_run_bit_for_bit() {
    gpu_or_skip!();
    assert_resume_is_exact("epochs", Mode::Supervised, Schedule::Epochs(2), 5, true);
    let _ = std::fs::remove_dir_all(scratch("epochs"));
}

/// A NaN written into a trunk weight after iteration 3 makes iteration 4's supervised loss NaN:
/// the run stops naming the phase and the iteration, and the state of iteration 2 (written at
/// `checkpoint_every` = 2) stays as it was.
#[test]
fn a_diverged_run_names_phase_and_iteration_and_keeps_the_last_good_state() {
    let gpu = gpu_or_skip!();
    let config = Config {
        checkpoint_every: Some(2),
        ..config(Mode::Supervised, 6, scratch("diverged"))
    };
    let mut poison = |trainer: &Trainer| {
        if trainer.steps_done() == 3 {
            let weight = &trainer.discriminator.conv1.weight;
            weight
                .write(trainer.gpu(), &vec![f32::NAN; weight.len()])
                .unwrap();
        }
    };
    let controls = Controls {
        after_step: Some(&mut poison),
        ..Controls::default()
    };
    let error = run::train_with(gpu, Start::Fresh(config.clone()), controls).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::Diverged { iteration: 4, .. }),
        "{message}"
    );
    assert!(message.contains("supervised phase"), "{message}");
    let saved = run::load_state(&config.out_dir.join(STATE_FILE)).unwrap();
    assert_eq!(saved.state.steps_done, 2, "the last good state is kept");
    assert!(saved
        .state
        .tensors
        .iter()
        .all(|t| t.data.iter().all(|v| v.is_finite())));
    let _ = std::fs::remove_dir_all(&config.out_dir);
}

/// A Ctrl-C after the last iteration, during the final evaluation or while a final file is
/// written, still stops the run as interrupted, naming the stage, with the last iteration's
/// state on disk and no final checkpoint; `--resume` then evaluates and writes the final
/// files, with the same test accuracy as a run never interrupted.
#[test]
fn an_interrupt_during_the_final_stages_keeps_the_state_and_resume_finishes_the_run() {
    gpu_or_skip!();
    let whole = config(Mode::Supervised, 2, scratch("final-whole"));
    let expected = run(Start::Fresh(whole.clone()), None).unwrap();
    let stages = [
        FinalStage::Evaluation,
        FinalStage::Summary,
        FinalStage::LossPlot,
        FinalStage::Checkpoint,
    ];
    for stage in stages {
        let config = Config {
            out_dir: scratch(&format!("final-{stage:?}")),
            ..whole.clone()
        };
        let flag = AtomicBool::new(false);
        let mut press_ctrl_c = |now: FinalStage| {
            if now == stage {
                flag.store(true, Ordering::SeqCst);
            }
        };
        let controls = Controls {
            interrupt: Some(&flag),
            before_final: Some(&mut press_ctrl_c),
            ..Controls::default()
        };
        match run::train_with(
            common::gpu().unwrap(),
            Start::Fresh(config.clone()),
            controls,
        ) {
            Err(error @ Error::InterruptedFinishing { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains(stage.describe())
                        && message.contains("after iteration 2 of 2")
                        && message.contains(&format!("--resume {}", config.out_dir.display())),
                    "{message}"
                );
            }
            other => panic!("{stage:?}: expected InterruptedFinishing, got {other:?}"),
        }
        let saved = run::load_state(&config.out_dir.join(STATE_FILE)).unwrap();
        assert_eq!(saved.state.steps_done, 2, "{stage:?}");
        assert!(!config.out_dir.join("checkpoint.safetensors").exists());

        let resumed = run(Start::Resume(config.out_dir.clone()), None).unwrap();
        assert_eq!(
            resumed.test_accuracy.to_bits(),
            expected.test_accuracy.to_bits(),
            "{stage:?}"
        );
        for file in ["summary.json", "losses.png", "checkpoint.safetensors"] {
            assert!(config.out_dir.join(file).exists(), "{stage:?}: no {file}");
        }
        let _ = std::fs::remove_dir_all(&config.out_dir);
    }
    let _ = std::fs::remove_dir_all(&whole.out_dir);
}

/// Runs `config` on a device of its own, destroying the device after iteration `lose_after`
/// as a driver reset would lose it; the shared test device lives on.
fn run_losing_the_device(config: &Config, lose_after: usize) -> Error {
    let gpu = Gpu::new(&GpuOptions::default()).unwrap();
    let mut destroy = |trainer: &Trainer| {
        if trainer.steps_done() == lose_after {
            trainer.gpu().device.destroy();
        }
    };
    let controls = Controls {
        after_step: Some(&mut destroy),
        ..Controls::default()
    };
    run::train_with(&gpu, Start::Fresh(config.clone()), controls).unwrap_err()
}

/// A lost device is reported as such, with the iteration, the last state written (here the
/// one of iteration 3, `checkpoint_every` being 3) and the command that resumes from it; the
/// state loads and the resumed run, on a working device, finishes. Lost before any state was
/// written, the message says the run cannot be resumed.
#[test]
fn a_lost_device_names_the_last_state_written_and_the_run_resumes_from_it() {
    gpu_or_skip!();
    let lost = config(Mode::Supervised, 6, scratch("lost"));
    let error = run_losing_the_device(&lost, 4);
    let message = error.to_string();
    let Error::RunDeviceLost {
        iteration: 4,
        last_state: Some(3),
        state_file,
        ..
    } = &error
    else {
        panic!("expected RunDeviceLost at 4 with the state of 3, got {error:?}");
    };
    assert_eq!(state_file, &lost.out_dir.join(STATE_FILE));
    assert!(
        message.contains("lost at iteration 4")
            && message.contains(&format!("{} (iteration 3)", state_file.display()))
            && message.contains(&format!("--resume {}", lost.out_dir.display())),
        "{message}"
    );
    println!("{message}");
    assert_eq!(run::load_state(state_file).unwrap().state.steps_done, 3);
    let summary = run(Start::Resume(lost.out_dir.clone()), None).expect("the resume ends");
    assert_eq!(summary.steps, 6);

    let early = config(Mode::Supervised, 6, scratch("lost-early"));
    let error = run_losing_the_device(&early, 1);
    let message = error.to_string();
    assert!(
        matches!(
            error,
            Error::RunDeviceLost {
                iteration: 1,
                last_state: None,
                ..
            }
        ) && message.contains("No training state was written yet"),
        "{message}"
    );
    println!("{message}");
    assert!(!early.out_dir.join(STATE_FILE).exists());
    let _ = std::fs::remove_dir_all(&lost.out_dir);
    let _ = std::fs::remove_dir_all(&early.out_dir);
}

/// A small state that needs no GPU: two tensors, the default configuration, one metrics row.
fn tiny_state() -> (Config, Vec<MetricsRow>, TrainingState) {
    let tensor = |name: &str, data: Vec<f32>| NamedTensor {
        name: name.to_string(),
        shape: vec![data.len()],
        data,
    };
    let state = TrainingState {
        // In name order, as a loaded state holds them.
        tensors: vec![
            tensor("adam.supervised.m.discriminator.dense.bias", vec![1e-3; 3]),
            tensor("discriminator.dense.bias", vec![0.5, -1.25, 3.0]),
        ],
        adam_steps: [7, 14, 7],
        steps_done: 7,
    };
    let row = MetricsRow {
        iteration: 7,
        supervised_loss: 1.5,
        supervised_accuracy: 0.25,
        unsupervised_loss: Some(0.75),
        generator_loss: Some(2.0),
        seconds: 3.0,
    };
    (Config::default(), vec![row], state)
}

fn refusal(path: &Path) -> String {
    match run::load_state(path) {
        Err(error @ Error::Checkpoint { .. }) => error.to_string(),
        other => panic!("{} must be refused, got {other:?}", path.display()),
    }
}

#[test]
fn state_files_round_trip_and_damaged_truncated_foreign_or_other_versions_are_refused() {
    let dir = scratch("files");
    let (config, rows, state) = tiny_state();
    let good = dir.join("good.safetensors");
    run::save_state(&good, &config, &rows, &state).unwrap();
    let loaded = run::load_state(&good).unwrap();
    assert_eq!(loaded.state, state);
    assert_eq!(loaded.rows, rows);
    assert_eq!(loaded.config.iterations, config.iterations);

    // One flipped bit in the last tensor byte: still valid safetensors, caught by the checksum.
    let mut bytes = std::fs::read(&good).unwrap();
    *bytes.last_mut().unwrap() ^= 0x01;
    let damaged = dir.join("damaged.safetensors");
    std::fs::write(&damaged, &bytes).unwrap();
    assert!(
        refusal(&damaged).contains("damaged"),
        "{}",
        refusal(&damaged)
    );

    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    assert!(refusal(&truncated).contains("truncated"));

    let with_meta = |name: &str, pairs: &[(&str, &str)]| {
        let path = dir.join(name);
        let meta: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        report::save_checkpoint(&path, &state.tensors, &meta).unwrap();
        path
    };
    let foreign = with_meta("foreign.safetensors", &[("framework", "other")]);
    assert!(refusal(&foreign).contains("not one sgan-gpu wrote"));
    let weights = with_meta(
        "weights.safetensors",
        &[("format", "sgan-gpu"), ("version", "1")],
    );
    assert!(refusal(&weights).contains("final weights only"));
    let newer = with_meta(
        "newer.safetensors",
        &[
            ("format", "sgan-gpu"),
            ("version", "1"),
            ("state_version", "9"),
        ],
    );
    assert!(refusal(&newer).contains("state version is 9"));

    // A diverged state is never written: the good file stays as it was.
    let before = std::fs::read(&good).unwrap();
    let mut broken = state.clone();
    broken.tensors[1].data[1] = f32::INFINITY;
    let error = run::save_state(&good, &config, &rows, &broken).unwrap_err();
    assert!(
        matches!(&error, Error::Diverged { iteration: 7, what } if what.contains("dense.bias")),
        "{error}"
    );
    assert_eq!(std::fs::read(&good).unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trainer on the small MNIST, outside any run.
fn trainer<'g>(gpu: &'g Gpu, config: &Config) -> Trainer<'g> {
    let mnist = Mnist::load(&config.data_dir).unwrap();
    let set = sgan_gpu::run::upload_training_set(gpu, &mnist.train, config).unwrap();
    Trainer::new(gpu, config, set).unwrap()
}

/// A NaN in the generator's weights need not reach any loss (a kernel's `max` may drop it:
/// here all four losses stay finite), so the state write checks every tensor itself and
/// refuses, naming the tensor, before anything reaches the disk.
#[test]
fn a_nan_no_loss_shows_is_caught_before_the_state_is_written() {
    let gpu = gpu_or_skip!();
    let config = config(Mode::Sgan, 1, scratch("masked-nan"));
    let mut trainer = trainer(gpu, &config);
    let weight = &trainer.generator.dense.weight;
    weight.write(gpu, &vec![f32::NAN; weight.len()]).unwrap();
    trainer.step().unwrap();
    let path = config.out_dir.join(STATE_FILE);
    let error = run::save_state(&path, &config, &[], &trainer.save_state().unwrap()).unwrap_err();
    assert!(
        matches!(&error, Error::Diverged { iteration: 1, what } if what.contains("`generator.")),
        "{error}"
    );
    assert!(!path.exists(), "nothing may be written");
}

/// A state from another model (a tensor missing, or shaped for another architecture) is
/// refused by name before anything reaches the GPU.
#[test]
fn restoring_a_state_from_another_model_names_the_tensor() {
    let gpu = gpu_or_skip!();
    let config = config(Mode::Supervised, 1, scratch("mismatch"));
    let mut trainer = trainer(gpu, &config);
    let state = trainer.save_state().unwrap();
    assert!(state
        .tensors
        .iter()
        .any(|t| t.name == "adam.generator.v.generator.dense.kernel"));

    let mut missing = state.clone();
    missing
        .tensors
        .retain(|t| t.name != "adam.unsupervised.m.discriminator.conv_2.bias");
    let message = trainer.restore_state(&missing).unwrap_err().to_string();
    assert!(
        message.contains("adam.unsupervised.m.discriminator.conv_2.bias"),
        "{message}"
    );

    let mut reshaped = state.clone();
    let dense = reshaped
        .tensors
        .iter_mut()
        .find(|t| t.name == "discriminator.dense.kernel")
        .unwrap();
    dense.shape = vec![1024, 20];
    let message = trainer.restore_state(&reshaped).unwrap_err().to_string();
    assert!(message.contains("discriminator.dense.kernel"), "{message}");
    trainer.restore_state(&state).expect("its own state fits");
}
