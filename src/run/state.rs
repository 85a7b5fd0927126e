//! The training-state checkpoint `state.safetensors`: what `train --resume` continues from.
//!
//! Beside the model tensors under the same names as `checkpoint.safetensors` (so `eval` and
//! `sample` read it too), it holds every Adam moment, and its metadata holds the format marker,
//! the model layout version, the state version, the three Adam step counts, the iterations
//! done, the configuration and the metrics rows so far (both as JSON), and a CRC-32 of every
//! tensor's name and bytes. It is written atomically, so a crash mid-write leaves the previous
//! state in place.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CHECKPOINT_FORMAT, CHECKPOINT_VERSION};
use crate::error::{Error, Result};
use crate::report::{self, MetricsRow};
use crate::train::{Config, StateTensor, TrainingState};

/// The file name of the training state inside a run folder.
pub const STATE_FILE: &str = "state.safetensors";

/// Version of the state's layout (Adam names, metadata keys); bumped when either changes.
const STATE_VERSION: &str = "1";

/// A training state as read back from its file.
#[derive(Clone, Debug)]
pub struct SavedState {
    /// The configuration of the run that wrote it.
    pub config: Config,
    /// The metrics rows written so far.
    pub rows: Vec<MetricsRow>,
    pub state: TrainingState,
}

/// CRC-32 over every tensor in name order: its name, then its values as little-endian bytes.
fn checksum(tensors: &[StateTensor]) -> String {
    let mut order: Vec<&StateTensor> = tensors.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = crc32fast::Hasher::new();
    for tensor in order {
        hasher.update(tensor.name.as_bytes());
        for value in &tensor.data {
            hasher.update(&value.to_le_bytes());
        }
    }
    format!("{:08x}", hasher.finalize())
}

/// Writes `state` with `config` and `rows` to `path`, atomically. A state holding a
/// non-finite value is refused as diverged, so a good state on disk is never replaced by a
/// broken one.
pub fn save_state(
    path: &Path,
    config: &Config,
    rows: &[MetricsRow],
    state: &TrainingState,
) -> Result<()> {
    if let Some(tensor) = state
        .tensors
        .iter()
        .find(|t| t.data.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::Diverged {
            iteration: state.steps_done,
            what: format!("tensor `{}` holds a value that is not finite", tensor.name),
        });
    }
    let json = |what: &str, value: serde_json::Result<String>| {
        value.map_err(|e| Error::Json {
            path: path.to_path_buf(),
            reason: format!("{what}: {e}"),
        })
    };
    let [supervised, unsupervised, generator] = state.adam_steps;
    let metadata = BTreeMap::from([
        ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
        ("version".to_string(), CHECKPOINT_VERSION.to_string()),
        ("state_version".to_string(), STATE_VERSION.to_string()),
        ("adam_steps_supervised".to_string(), supervised.to_string()),
        (
            "adam_steps_unsupervised".to_string(),
            unsupervised.to_string(),
        ),
        ("adam_steps_generator".to_string(), generator.to_string()),
        ("steps_done".to_string(), state.steps_done.to_string()),
        (
            "config".to_string(),
            json("config", serde_json::to_string(config))?,
        ),
        (
            "metrics".to_string(),
            json("metrics", serde_json::to_string(rows))?,
        ),
        ("checksum_crc32".to_string(), checksum(&state.tensors)),
    ]);
    report::save_checkpoint(path, &state.tensors, &metadata)
}

/// Reads a state written by [`save_state`], checking the format marker, both versions and the
/// checksum; each failure says whether the file is foreign, from another version, or damaged.
pub fn load_state(path: &Path) -> Result<SavedState> {
    check_state(report::load_checkpoint(path)?)
}

/// Parses the bytes of a state file as [`load_state`] reads it; `path` names it in errors.
pub fn parse_state(bytes: &[u8], path: &Path) -> Result<SavedState> {
    check_state(report::parse_checkpoint(bytes, path)?)
}

fn check_state(checkpoint: report::Checkpoint) -> Result<SavedState> {
    let path = checkpoint.path.clone();
    let path = path.as_path();
    let error = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let meta = |key: &str| checkpoint.metadata.get(key).map(String::as_str);
    if meta("format") != Some(CHECKPOINT_FORMAT) {
        return Err(error(
            "it is a safetensors file, but not one sgan-gpu wrote".to_string(),
        ));
    }
    let Some(version) = meta("state_version") else {
        return Err(error(
            "it holds final weights only, no training state; resume from the run folder's \
             state.safetensors"
                .to_string(),
        ));
    };
    if version != STATE_VERSION || meta("version") != Some(CHECKPOINT_VERSION) {
        return Err(error(format!(
            "its state version is {version} (model layout {}); this sgan-gpu resumes state \
             version {STATE_VERSION} (layout {CHECKPOINT_VERSION}). Resume it with the \
             sgan-gpu that wrote it",
            meta("version").unwrap_or("missing")
        )));
    }
    let stored = meta("checksum_crc32").unwrap_or("none");
    let computed = checksum(&checkpoint.tensors);
    if stored != computed {
        return Err(error(format!(
            "it is damaged: its tensors' checksum is {computed}, the file records {stored}. \
             Resume from a backup copy, or start the run again"
        )));
    }
    let number = |key: &str| -> Result<u64> {
        meta(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| error(format!("its metadata lacks a number `{key}`")))
    };
    let adam = |key: &str| -> Result<u32> {
        u32::try_from(number(key)?).map_err(|_| error(format!("`{key}` is out of range")))
    };
    let parse = |key: &str| -> Result<&str> {
        meta(key).ok_or_else(|| error(format!("its metadata lacks `{key}`")))
    };
    let config: Config = serde_json::from_str(parse("config")?)
        .map_err(|e| error(format!("its configuration does not parse: {e}")))?;
    let rows: Vec<MetricsRow> = serde_json::from_str(parse("metrics")?)
        .map_err(|e| error(format!("its metrics rows do not parse: {e}")))?;
    let steps_done = usize::try_from(number("steps_done")?)
        .map_err(|_| error("`steps_done` is out of range".to_string()))?;
    // A resumed run counts its remaining steps from here, so a count past the end is refused.
    if steps_done > config.steps() {
        return Err(error(format!(
            "it records {steps_done} iterations done, but its run has only {} steps",
            config.steps()
        )));
    }
    let state = TrainingState {
        adam_steps: [
            adam("adam_steps_supervised")?,
            adam("adam_steps_unsupervised")?,
            adam("adam_steps_generator")?,
        ],
        steps_done,
        tensors: checkpoint.tensors,
    };
    Ok(SavedState {
        config,
        rows,
        state,
    })
}
