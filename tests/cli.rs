//! The binary on bad input: each case runs `sgan-gpu` as a user would and must exit non-zero
//! with one clear line on stderr that names the problem, and no panic or backtrace. Every
//! case fails before the first training step, so the file stays quick. Run with
//! `-- --nocapture` to see the exact line each case prints.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use flate2::{read::MultiGzDecoder, write::GzEncoder, Compression};
use sgan_gpu::data::mnist;
use sgan_gpu::report::{self, NamedTensor};
use sgan_gpu::run;
use sgan_gpu::train::{Config, TrainingState};

/// A scratch folder for one case, removed when the case ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(case: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sgan-cli-{}-{case}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary with `args`; asserts exit code 1 and one line on stderr, `error: `
/// and then every fragment of `expected`, with no panic. Returns the line.
fn refused(case: &str, args: &[&str], expected: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sgan-gpu"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = output.status.code().expect("the binary exits by itself");
    // 1 is an error; 2 would be a usage error from clap, 130 an interruption.
    assert_eq!(code, 1, "{case}: exit code {code}; stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{case}: a panic: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{case}: stderr must be one line: {stderr}");
    let line = lines[0].to_string();
    assert!(line.starts_with("error: "), "{case}: {line}");
    for fragment in expected {
        assert!(
            line.contains(fragment),
            "{case}: no `{fragment}` in: {line}"
        );
    }
    println!("{case} | exit {code} | {line}");
    line
}

/// Like [`refused`], for the cases that open the GPU first: skipped without an adapter.
macro_rules! refused_on_gpu {
    ($($arg:expr),+ $(,)?) => {{
        if common::gpu().is_none() {
            return;
        }
        refused($($arg),+)
    }};
}

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// A data folder holding the bundled files but `replaced` (one of [`FILES`]), which gets
/// `content` gzipped instead; with `None` the file is left out.
fn data_dir(scratch: &Scratch, replaced: &str, content: Option<&[u8]>) -> String {
    let dir = scratch.path("data");
    std::fs::create_dir_all(&dir).unwrap();
    for file in FILES {
        if file != replaced {
            std::fs::copy(mnist::default_dir().join(file), dir.join(file)).unwrap();
        }
    }
    if let Some(content) = content {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(content).unwrap();
        std::fs::write(dir.join(replaced), encoder.finish().unwrap()).unwrap();
    }
    dir.display().to_string()
}

/// The raw bytes of a bundled file.
fn bundled(file: &str) -> Vec<u8> {
    let gz = std::fs::read(mnist::default_dir().join(file)).unwrap();
    let mut raw = Vec::new();
    MultiGzDecoder::new(gz.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

fn be_words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

// --- the data -----------------------------------------------------------------------------

#[test]
fn missing_data_folder() {
    let scratch = Scratch::new("no-data");
    let missing = scratch.arg("nowhere");
    refused_on_gpu!(
        "missing data folder",
        &["train", "--data", &missing, "--out", &scratch.arg("run")],
        &["MNIST folder", "nowhere", "does not exist", "--data"],
    );
}

#[test]
fn missing_data_file() {
    let scratch = Scratch::new("no-file");
    let data = data_dir(&scratch, FILES[3], None);
    refused_on_gpu!(
        "missing data file",
        &["train", "--data", &data, "--out", &scratch.arg("run")],
        &["t10k-labels-idx1-ubyte.gz is missing", "--data"],
    );
}

#[test]
fn wrong_magic_number() {
    let scratch = Scratch::new("magic");
    let mut labels = bundled(FILES[1]);
    labels[..4].copy_from_slice(&mnist::IMAGE_MAGIC.to_be_bytes());
    let data = data_dir(&scratch, FILES[1], Some(&labels));
    refused_on_gpu!(
        "wrong magic number",
        &["train", "--data", &data, "--out", &scratch.arg("run")],
        &[
            "train-labels-idx1-ubyte.gz is broken",
            "magic number is 0x00000803"
        ],
    );
}

#[test]
fn wrong_image_dimensions() {
    let scratch = Scratch::new("dims");
    let mut images = be_words(&[mnist::IMAGE_MAGIC, 100, 27, 27]);
    images.extend(vec![0u8; 100 * 27 * 27]);
    let data = data_dir(&scratch, FILES[0], Some(&images));
    refused_on_gpu!(
        "wrong image dimensions",
        &["train", "--data", &data, "--out", &scratch.arg("run")],
        &["train-images-idx3-ubyte.gz is broken", "27x27", "28x28"],
    );
}

#[test]
fn truncated_body() {
    let scratch = Scratch::new("truncated");
    let images = bundled(FILES[0]);
    let data = data_dir(&scratch, FILES[0], Some(&images[..images.len() - 784]));
    refused_on_gpu!(
        "truncated body",
        &["train", "--data", &data, "--out", &scratch.arg("run")],
        &[
            "train-images-idx3-ubyte.gz is broken",
            "truncated",
            "60000 images"
        ],
    );
}

#[test]
fn label_count_disagrees_with_image_count() {
    let scratch = Scratch::new("count");
    let mut labels = be_words(&[mnist::LABEL_MAGIC, 59_999]);
    labels.extend_from_slice(&bundled(FILES[1])[8..8 + 59_999]);
    let data = data_dir(&scratch, FILES[1], Some(&labels));
    refused_on_gpu!(
        "label count disagrees with image count",
        &["train", "--data", &data, "--out", &scratch.arg("run")],
        &["holds 59999 labels but", "60000 images"],
    );
}

#[test]
fn label_outside_0_to_9() {
    let scratch = Scratch::new("label");
    let mut labels = bundled(FILES[3]);
    labels[8 + 1234] = 10;
    let data = data_dir(&scratch, FILES[3], Some(&labels));
    refused_on_gpu!(
        "label outside 0..9",
        &["train", "--data", &data, "--out", &scratch.arg("run")],
        &[
            "t10k-labels-idx1-ubyte.gz is broken",
            "index 1234 is 10",
            "0 to 9"
        ],
    );
}

// --- the configuration --------------------------------------------------------------------

fn train_flags(case: &str, flags: &[&str], expected: &[&str]) {
    let scratch = Scratch::new(case);
    let out = scratch.arg("run");
    let mut args = vec!["train", "--out", &out];
    args.extend_from_slice(flags);
    refused_on_gpu!(case, &args, expected);
    assert!(
        !scratch.path("run").exists(),
        "{case}: the run folder was made"
    );
}

#[test]
fn num_labeled_zero() {
    train_flags(
        "num_labeled 0",
        &["--num-labeled", "0"],
        &["--num-labeled must lie between 1 and 59999", "got 0"],
    );
}

#[test]
fn num_labeled_past_the_training_set() {
    train_flags(
        "num_labeled > training set",
        &["--num-labeled", "60001"],
        &["--num-labeled must lie between 1 and 59999", "got 60001"],
    );
}

#[test]
fn num_labeled_not_a_multiple_of_10_with_balanced() {
    train_flags(
        "num_labeled 105 with --balanced",
        &["--num-labeled", "105", "--balanced"],
        &["--balanced", "multiple of 10, got 105"],
    );
}

#[test]
fn batch_zero() {
    train_flags(
        "batch 0",
        &["--batch", "0"],
        &["--batch must be at least 1"],
    );
}

#[test]
fn batch_too_large_for_the_adapter() {
    train_flags(
        "batch 10000000",
        &["--batch", "10000000"],
        &[
            "--batch 10000000 is too large",
            "The largest --batch that fits is",
        ],
    );
}

#[test]
fn zero_iterations() {
    train_flags(
        "iterations 0",
        &["--iterations", "0"],
        &["the run has no steps", "--iterations"],
    );
}

#[test]
fn unknown_backend() {
    train_flags(
        "unknown backend",
        &["--backend", "vulcan"],
        &["unknown backend `vulcan`", "vulkan, metal, dx12, gl"],
    );
}

#[test]
fn unknown_adapter() {
    train_flags(
        "unknown adapter",
        &["--adapter", "no such adapter 4711"],
        &["no adapter matches `no such adapter 4711`", "sgan-gpu info"],
    );
}

// --- the output folder --------------------------------------------------------------------

#[test]
fn output_folder_under_a_regular_file() {
    let scratch = Scratch::new("out-file");
    std::fs::write(scratch.path("file"), b"not a folder").unwrap();
    let out = scratch.arg("file/run");
    refused_on_gpu!(
        "output folder under a regular file",
        &["train", "--out", &out],
        &["cannot use", "file/run", "a file, not a folder", "--out"],
    );
}

/// A folder without write permission stops an ordinary user, not root: as root the case is
/// skipped (the case above fails for root too).
#[cfg(unix)]
#[test]
fn output_folder_in_a_read_only_folder() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("out-read-only");
    let locked = scratch.path("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = locked.join("probe");
    if std::fs::write(&probe, b"").is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("skipping: permission bits do not stop this user (root) from writing");
        return;
    }
    let out = scratch.arg("locked/run");
    refused_on_gpu!(
        "output folder in a read-only folder",
        &["train", "--out", &out],
        &["cannot use", "locked/run", "ermission denied", "--out"],
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_output_folder_that_holds_files() {
    let scratch = Scratch::new("out-used");
    std::fs::create_dir(scratch.path("run")).unwrap();
    std::fs::write(scratch.path("run/config.json"), b"{}").unwrap();
    let out = scratch.arg("run");
    refused_on_gpu!(
        "existing run folder",
        &["train", "--out", &out],
        &["already holds files", "another --out"],
    );
}

// --- checkpoints and states from elsewhere ------------------------------------------------

fn sgan_metadata(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::from([
        ("format".to_string(), "sgan-gpu".to_string()),
        ("version".to_string(), "1".to_string()),
    ]);
    for (key, value) in pairs {
        metadata.insert(key.to_string(), value.to_string());
    }
    metadata
}

/// The trunk's first kernel with 16 filters instead of 32: another architecture.
fn other_architecture() -> Vec<NamedTensor> {
    vec![NamedTensor {
        name: "discriminator.conv_1.kernel".to_string(),
        shape: vec![3, 3, 1, 16],
        data: vec![0.0; 3 * 3 * 16],
    }]
}

#[test]
fn eval_of_a_checkpoint_from_another_architecture() {
    let scratch = Scratch::new("eval-arch");
    let path = scratch.path("other.safetensors");
    report::save_checkpoint(&path, &other_architecture(), &sgan_metadata(&[])).unwrap();
    refused_on_gpu!(
        "eval: checkpoint of another architecture",
        &["eval", "--checkpoint", &scratch.arg("other.safetensors")],
        &[
            "discriminator.conv_1.kernel",
            "[3, 3, 1, 16]",
            "[3, 3, 1, 32]"
        ],
    );
}

#[test]
fn eval_of_a_checkpoint_of_another_version() {
    let scratch = Scratch::new("eval-version");
    let path = scratch.path("newer.safetensors");
    let metadata = sgan_metadata(&[("version", "2")]);
    report::save_checkpoint(&path, &other_architecture(), &metadata).unwrap();
    refused_on_gpu!(
        "eval: checkpoint of another version",
        &["eval", "--checkpoint", &scratch.arg("newer.safetensors")],
        &["layout version is 2", "reads version 1"],
    );
}

#[test]
fn resume_from_a_state_of_another_version() {
    let scratch = Scratch::new("resume-version");
    std::fs::create_dir(scratch.path("run")).unwrap();
    let path = scratch.path("run").join(run::STATE_FILE);
    let metadata = sgan_metadata(&[("state_version", "2")]);
    report::save_checkpoint(&path, &other_architecture(), &metadata).unwrap();
    refused_on_gpu!(
        "resume: state of another version",
        &["train", "--resume", &scratch.arg("run")],
        &[
            "state.safetensors",
            "state version is 2",
            "resumes state version 1"
        ],
    );
}

#[test]
fn resume_from_a_state_of_another_architecture() {
    let scratch = Scratch::new("resume-arch");
    std::fs::create_dir(scratch.path("run")).unwrap();
    let state = TrainingState {
        tensors: other_architecture(),
        adam_steps: [1, 1, 1],
        steps_done: 1,
    };
    let config = Config {
        iterations: 2,
        ..Config::default()
    };
    let path = scratch.path("run").join(run::STATE_FILE);
    run::save_state(&path, &config, &[], &state).unwrap();
    refused_on_gpu!(
        "resume: state of another architecture",
        &["train", "--resume", &scratch.arg("run")],
        &[
            "state.safetensors",
            "does not fit this model",
            "written by another model"
        ],
    );
}

#[test]
fn resume_from_a_folder_without_a_state() {
    let scratch = Scratch::new("resume-none");
    refused_on_gpu!(
        "resume: folder without a state",
        &["train", "--resume", &scratch.arg("")],
        &["state.safetensors", "does not exist"],
    );
}

#[test]
fn eval_of_a_missing_checkpoint() {
    let scratch = Scratch::new("eval-missing");
    refused_on_gpu!(
        "eval: missing checkpoint",
        &["eval", "--checkpoint", &scratch.arg("none.safetensors")],
        &["none.safetensors", "does not exist"],
    );
}
