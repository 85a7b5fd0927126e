//! JSON files (the run's configuration, its final summary): the trainer defines the structs,
//! this only writes them.

use std::path::Path;

use serde::Serialize;

use super::atomic_write;
use crate::{Error, Result};

/// Writes `value` to `path` as pretty-printed JSON with a trailing newline, atomically.
///
/// serde_json writes non-finite floats (NaN, infinity) as `null`, so a diverged loss does not
/// make the summary unwritable. A value that has no JSON form (a map with non-string keys, a
/// `Serialize` impl that fails) is an [`Error::Json`] and nothing is written.
pub fn write_json<T: Serialize + ?Sized>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    let path = path.as_ref();
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    atomic_write(path, &bytes)
}
