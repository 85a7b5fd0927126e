//! The MNIST loader: the four IDX files of the training and test sets, gzip-compressed or raw.
//!
//! IDX is a big-endian format: a 4-byte magic number (two zero bytes, a type byte, 0x08 for
//! u8, and the number of dimensions), one u32 per dimension, then the data row-major. Images
//! are `0x00000803` (count, rows, cols), labels `0x00000801` (count).
//!
//! Files are found under either common name (`train-images-idx3-ubyte` or
//! `train-images.idx3-ubyte`, with or without `.gz`); whether a file is gzip is decided by its
//! first two bytes, never by its name. Every header is checked against the data actually
//! present before anything is allocated for it, so a lying header costs an error, not memory.
//! Nothing here touches the GPU.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// Magic number of an IDX file of u8 with 3 dimensions: images.
pub const IMAGE_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of u8 with 1 dimension: labels.
pub const LABEL_MAGIC: u32 = 0x0000_0801;
/// Side of an MNIST image in pixels.
pub const SIDE: usize = 28;
/// Number of MNIST classes; labels lie in `0..CLASSES`.
pub const CLASSES: usize = 10;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bundled copy: `data/mnist` in the source tree. The path is fixed at compile time, so
/// an installed binary run away from its source tree has to be given `--data DIR` instead.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("mnist")
}

/// One IDX image file: `count` images of `rows` x `cols` u8 pixels, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of each image in pixels.
    pub rows: usize,
    /// Width of each image in pixels.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
}

/// One MNIST split: images with their labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// `len() * rows * cols` pixels in 0..=255, image after image, each row-major.
    pub images: Vec<u8>,
    /// One label in `0..CLASSES` per image.
    pub labels: Vec<u8>,
    /// Height of each image in pixels (28).
    pub rows: usize,
    /// Width of each image in pixels (28).
    pub cols: usize,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `index`, row-major.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.images[index * size..(index + 1) * size]
    }
}

/// The MNIST training and test sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mnist {
    /// The 60,000 training images.
    pub train: Split,
    /// The 10,000 test images.
    pub test: Split,
}

impl Mnist {
    /// Loads the four files from `dir`, checking that the images are 28x28, that every label
    /// lies in 0..9 and that each split has as many labels as images.
    pub fn load(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::MnistDirMissing {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self {
            train: load_split(dir, "train")?,
            test: load_split(dir, "t10k")?,
        })
    }
}

/// The file for `prefix` (`train`, `t10k`) and `kind` (`images-idx3`, `labels-idx1`) under any
/// of its usual names, or `MnistMissing` naming the canonical one.
fn find_file(dir: &Path, prefix: &str, kind: &str) -> Result<PathBuf> {
    let dotted = kind.replacen('-', ".", 1);
    let stems = [
        format!("{prefix}-{kind}-ubyte"),
        format!("{prefix}-{dotted}-ubyte"),
    ];
    for stem in &stems {
        for name in [format!("{stem}.gz"), stem.clone()] {
            let path = dir.join(name);
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(Error::MnistMissing {
        path: dir.join(format!("{}.gz", stems[0])),
    })
}

fn load_split(dir: &Path, prefix: &str) -> Result<Split> {
    let images_path = find_file(dir, prefix, "images-idx3")?;
    let labels_path = find_file(dir, prefix, "labels-idx1")?;
    let images = read_idx_images(&images_path)?;
    if images.rows != SIDE || images.cols != SIDE {
        return Err(corrupt(
            &images_path,
            format!(
                "its images are {}x{} pixels, MNIST's are {SIDE}x{SIDE}",
                images.rows, images.cols
            ),
        ));
    }
    let labels = read_idx_labels(&labels_path)?;
    if labels.len() != images.count {
        return Err(corrupt(
            &labels_path,
            format!(
                "it holds {} labels but {} holds {} images",
                labels.len(),
                images_path.display(),
                images.count
            ),
        ));
    }
    if let Some(index) = labels.iter().position(|&label| label as usize >= CLASSES) {
        return Err(corrupt(
            &labels_path,
            format!(
                "the label at index {index} is {}, MNIST labels are 0 to {}",
                labels[index],
                CLASSES - 1
            ),
        ));
    }
    Ok(Split {
        images: images.pixels,
        labels,
        rows: images.rows,
        cols: images.cols,
    })
}

/// Reads an IDX image file (gzip or raw) of any dimensions.
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    parse_idx_images(&read_file(path)?, path)
}

/// Reads an IDX label file (gzip or raw); any u8 values are accepted.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    parse_idx_labels(&read_file(path)?, path)
}

/// Parses the bytes of an IDX image file, gzip or raw; `source` names it in errors.
pub fn parse_idx_images(bytes: &[u8], source: &Path) -> Result<IdxImages> {
    let mut reader = Body::new(bytes);
    let header = reader.header(source, "image", 16, IMAGE_MAGIC)?;
    let [count, rows, cols] = [header[1], header[2], header[3]].map(|d| d as usize);
    let what = format!("{count} images of {rows}x{cols} pixels");
    let size = (count as u64)
        .checked_mul(rows as u64)
        .and_then(|n| n.checked_mul(cols as u64));
    let pixels = reader.data(source, size, &what)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Parses the bytes of an IDX label file, gzip or raw; `source` names it in errors.
pub fn parse_idx_labels(bytes: &[u8], source: &Path) -> Result<Vec<u8>> {
    let mut reader = Body::new(bytes);
    let header = reader.header(source, "label", 8, LABEL_MAGIC)?;
    let count = header[1] as u64;
    reader.data(source, Some(count), &format!("{count} labels"))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::MnistMissing {
            path: path.to_path_buf(),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

fn corrupt(path: &Path, reason: String) -> Error {
    Error::MnistCorrupt {
        path: path.to_path_buf(),
        reason,
    }
}

/// What a magic number says about a file, for error messages.
fn describe_magic(magic: u32) -> String {
    let [zero1, zero2, kind, dims] = magic.to_be_bytes();
    if zero1 != 0 || zero2 != 0 {
        return "not an IDX file".to_string();
    }
    let kind = match kind {
        0x08 => "u8",
        0x09 => "i8",
        0x0b => "i16",
        0x0c => "i32",
        0x0d => "f32",
        0x0e => "f64",
        _ => "an unknown type",
    };
    format!("an IDX file of {kind} with {dims} dimension(s)")
}

/// The decompressed content of a file, read in order.
enum Body<'a> {
    /// Uncompressed bytes: their total length is known before anything is read.
    Raw(&'a [u8]),
    /// A gzip stream: its length is known only by decompressing it.
    Gzip(MultiGzDecoder<&'a [u8]>),
}

impl<'a> Body<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        if bytes.starts_with(&GZIP_MAGIC) {
            Body::Gzip(MultiGzDecoder::new(bytes))
        } else {
            Body::Raw(bytes)
        }
    }

    fn compression(&self) -> &'static str {
        match self {
            Body::Raw(_) => "",
            Body::Gzip(_) => " (after gzip decompression)",
        }
    }

    /// Reads up to `limit` bytes; fewer only at the end of the data.
    fn read_up_to(&mut self, source: &Path, limit: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let result = match self {
            Body::Raw(bytes) => bytes.take(limit).read_to_end(&mut out),
            Body::Gzip(decoder) => decoder.take(limit).read_to_end(&mut out),
        };
        result.map_err(|e| corrupt(source, format!("its gzip data is corrupt ({e})")))?;
        Ok(out)
    }

    /// Reads the `len`-byte header of an IDX `kind` file and checks its magic number; returns
    /// its big-endian u32s.
    fn header(&mut self, source: &Path, kind: &str, len: usize, magic: u32) -> Result<Vec<u32>> {
        let bytes = self.read_up_to(source, len as u64)?;
        if bytes.len() >= 4 {
            let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if found != magic {
                return Err(corrupt(
                    source,
                    format!(
                        "its magic number is {found:#010x} ({}), expected {magic:#010x} ({})",
                        describe_magic(found),
                        describe_magic(magic)
                    ),
                ));
            }
        }
        if bytes.len() < len {
            return Err(corrupt(
                source,
                format!(
                    "its header is truncated: {} bytes{}, an IDX {kind} file's header has {len}",
                    bytes.len(),
                    self.compression()
                ),
            ));
        }
        Ok(bytes
            .chunks(4)
            .map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
            .collect())
    }

    /// Reads exactly `size` bytes of data, which must be all that is left. `size` is `None`
    /// where the header's dimensions overflow u64. For raw bytes the length is checked before
    /// reading; a gzip stream is read at most one byte past `size`, into a vector that grows
    /// only as data actually arrives, so a header that overstates the data allocates nothing
    /// beyond the data that is really there.
    fn data(&mut self, source: &Path, size: Option<u64>, what: &str) -> Result<Vec<u8>> {
        let Some(size) = size else {
            return Err(corrupt(
                source,
                format!("its header declares {what}, more bytes than any file can hold"),
            ));
        };
        if let Body::Raw(bytes) = self {
            let found = bytes.len() as u64;
            if found != size {
                return Err(size_error(source, size, found, what, ""));
            }
        }
        let data = self.read_up_to(source, size.saturating_add(1))?;
        let found = data.len() as u64;
        if found != size {
            return Err(size_error(source, size, found, what, self.compression()));
        }
        Ok(data)
    }
}

fn size_error(source: &Path, size: u64, found: u64, what: &str, compression: &str) -> Error {
    let declared = format!("its header declares {what}, {size} bytes after the header");
    let reason = if found < size {
        format!("it is truncated: {declared}, but only {found} bytes follow{compression}")
    } else if compression.is_empty() {
        format!("{declared}, but {found} bytes follow")
    } else {
        format!("{declared}, but more follow{compression}")
    };
    corrupt(source, reason)
}
