//! Checkpoints as safetensors files: every tensor F32 little-endian, string metadata in the
//! header's `__metadata__` map. Any tool that reads safetensors (Python's `safetensors`,
//! candle, ...) can open them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};

use super::atomic_write;
use crate::{Error, Result};

/// One named tensor of a checkpoint, in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Unique name inside the checkpoint, e.g. `"d.conv1.weight"`.
    pub name: String,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

/// A checkpoint read back from disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Where it was read from, for error messages.
    pub path: PathBuf,
    /// Every tensor, sorted by name (safetensors stores them that way).
    pub tensors: Vec<NamedTensor>,
    /// The string metadata saved with it.
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// The data of tensor `name`, checked against the shape the caller expects.
    pub fn get(&self, name: &str, expected_shape: &[usize]) -> Result<&[f32]> {
        let Some(tensor) = self.tensors.iter().find(|t| t.name == name) else {
            let names: Vec<&str> = self.tensors.iter().map(|t| t.name.as_str()).collect();
            return Err(self.error(format!(
                "has no tensor `{name}` (it holds: {}). It was written by a different model",
                names.join(", ")
            )));
        };
        if tensor.shape != expected_shape {
            return Err(self.error(format!(
                "tensor `{name}` has shape {:?}, the model expects {expected_shape:?}. It was \
                 written by a differently configured model",
                tensor.shape
            )));
        }
        Ok(&tensor.data)
    }

    fn error(&self, reason: String) -> Error {
        Error::Checkpoint {
            path: self.path.clone(),
            reason,
        }
    }
}

/// Borrowed view handed to the safetensors writer; holds the little-endian bytes.
struct F32View<'a> {
    shape: &'a [usize],
    bytes: Vec<u8>,
}

impl View for &F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Saves `tensors` and `metadata` to `path` as a safetensors file, atomically.
///
/// Fails without writing anything if two tensors share a name or a tensor's data length does
/// not match its shape.
pub fn save_checkpoint(
    path: impl AsRef<Path>,
    tensors: &[NamedTensor],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let error = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason: format!("cannot be saved: {reason}"),
    };

    let mut seen = std::collections::BTreeSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        if !seen.insert(tensor.name.as_str()) {
            return Err(error(format!("two tensors are named `{}`", tensor.name)));
        }
        let numel = checked_numel(&tensor.shape);
        if numel != Some(tensor.data.len()) {
            return Err(error(format!(
                "tensor `{}` has shape {:?} but {} values",
                tensor.name,
                tensor.shape,
                tensor.data.len()
            )));
        }
        let bytes = tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        views.push((
            tensor.name.as_str(),
            F32View {
                shape: &tensor.shape,
                bytes,
            },
        ));
    }

    let info = if metadata.is_empty() {
        None
    } else {
        // `collect` builds whichever map type this safetensors build expects.
        Some(
            metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    };
    let bytes = safetensors::serialize(views.iter().map(|(name, view)| (*name, view)), info)
        .map_err(|e| error(e.to_string()))?;
    atomic_write(path, &bytes)
}

/// Reads a checkpoint written by [`save_checkpoint`] (or any safetensors file of F32 tensors);
/// see [`parse_checkpoint`] for what is checked.
pub fn load_checkpoint(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let path = path.as_ref();
    let error = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    // A device or a pipe has no end to read to; only a regular file can be a checkpoint.
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(error(
                "the file does not exist. Check the path, or train first to write one".into(),
            ))
        }
        Ok(meta) if !meta.is_file() => {
            return Err(error(
                "is not a regular file. Pass a .safetensors file".into(),
            ))
        }
        _ => {}
    }
    let bytes = std::fs::read(path).map_err(|e| error(format!("cannot be read: {e}")))?;
    parse_checkpoint(&bytes, path)
}

/// Parses the bytes of a safetensors checkpoint; `path` names it in errors and in the result.
///
/// The header is validated by the safetensors crate before anything is allocated for it: a
/// header size larger than the file, offsets past its end or overlapping tensors are errors.
/// Then every tensor must be F32 with exactly `product(shape)` values. Nothing is allocated
/// beyond a small multiple of `bytes.len()`, whatever the header claims.
pub fn parse_checkpoint(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
    let error = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let parsed = SafeTensors::deserialize(bytes).map_err(|e| {
        error(format!(
            "is not a complete safetensors file ({e}). It may be truncated by an \
             interrupted copy or not a checkpoint at all; use another checkpoint"
        ))
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| error(e.to_string()))?;

    let mut tensors = Vec::with_capacity(parsed.len());
    for (name, view) in parsed.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(error(format!(
                "tensor `{name}` is {:?}, sgan-gpu only reads F32 tensors",
                view.dtype()
            )));
        }
        let shape = view.shape().to_vec();
        let raw = view.data();
        let numel = checked_numel(&shape);
        if numel.and_then(|n| n.checked_mul(4)) != Some(raw.len()) {
            return Err(error(format!(
                "tensor `{name}` has shape {shape:?} but {} bytes of data",
                raw.len()
            )));
        }
        let data = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.push(NamedTensor {
            name: name.to_string(),
            shape,
            data,
        });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));

    let metadata = header
        .metadata()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Checkpoint {
        path: path.to_path_buf(),
        tensors,
        metadata,
    })
}

fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}
