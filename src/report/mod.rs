//! What a training run leaves behind: checkpoints, sample grids, metrics, a summary and a loss
//! plot. Everything here takes plain CPU data and knows nothing of the GPU, the models or the
//! training loop.
//!
//! Every file is written through [`atomic_write`], so a crash or a full disk mid-write leaves
//! the previous version of the file in place instead of half a file.

pub mod checkpoint;
pub mod images;
pub mod metrics;
pub mod plot;
pub mod profile;
pub mod summary;

pub use checkpoint::{load_checkpoint, parse_checkpoint, save_checkpoint, Checkpoint, NamedTensor};
pub use images::save_digit_grid;
pub use metrics::{format_interval_line, read_metrics_csv, write_metrics_csv, MetricsRow};
pub use plot::save_loss_plot;
pub use profile::{DispatchTiming, Profile, ProfileAccumulator};
pub use summary::write_json;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically: the bytes go to a temporary file in the same folder,
/// which is flushed, synced to disk and then renamed over `path`. On any failure the previous
/// file at `path`, if there was one, is left untouched and the temporary file is removed.
pub fn atomic_write(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |out| out.write_all(bytes))
}

/// Like [`atomic_write`], but the content comes from `write`, which streams into the temporary
/// file. If `write` fails, nothing is renamed and the previous file stays as it was; the error
/// is reported as [`Error::Write`] naming `path`.
pub fn atomic_write_with<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let path = path.as_ref();
    let write_error = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let Some(file_name) = path.file_name() else {
        return Err(write_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path does not end in a file name",
        )));
    };
    // `Path::parent` of a bare file name is "", which means the current folder.
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::WriteDirMissing {
            path: path.to_path_buf(),
            dir,
        });
    }

    // create
    let temp = dir.join(temp_name(file_name));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(write_error)?;

    // write, flush, sync, rename; any failure removes the temporary file
    let written = write_then_sync(file, write).and_then(|()| fs::rename(&temp, path));
    if let Err(source) = written {
        // Best effort: the error that matters is the one already in hand.
        let _ = fs::remove_file(&temp);
        return Err(write_error(source));
    }

    // Make the rename itself durable. Only Unix can open and sync a folder; failing to do so
    // loses nothing already written, so it is not an error.
    #[cfg(unix)]
    if let Ok(dir_handle) = File::open(&dir) {
        let _ = dir_handle.sync_all();
    }
    Ok(())
}

fn write_then_sync<F>(file: File, write: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let mut out = BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// A hidden name next to the target that no other writer in this or another process picks:
/// the process id and a per-process counter tell concurrent writers apart.
fn temp_name(file_name: &std::ffi::OsStr) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        n
    )
}
