//! The MNIST loader on the bundled files, on the same data written raw and under the dotted
//! names, and on broken files, each of which must give a clear error and never a panic.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::{read::MultiGzDecoder, write::GzEncoder, Compression};
use sgan_gpu::data::mnist::{self, Mnist};
use sgan_gpu::Error;

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The bundled data, loaded once per test binary.
fn bundled() -> &'static Mnist {
    static MNIST: OnceLock<Mnist> = OnceLock::new();
    MNIST.get_or_init(|| Mnist::load(&mnist::default_dir()).expect("bundled MNIST"))
}

/// A fresh folder under the system temp directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sgan-gpu-mnist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn bundled_raw(stem: &str) -> Vec<u8> {
    gunzip(&std::fs::read(mnist::default_dir().join(format!("{stem}.gz"))).unwrap())
}

/// An IDX image file: `count` images of rows x cols, pixel i holding i mod 251.
fn image_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [mnist::IMAGE_MAGIC, count, rows, cols] {
        bytes.extend(word.to_be_bytes());
    }
    let size = (count * rows * cols) as usize;
    bytes.extend((0..size).map(|i| (i % 251) as u8));
    bytes
}

fn label_file(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [mnist::LABEL_MAGIC, labels.len() as u32] {
        bytes.extend(word.to_be_bytes());
    }
    bytes.extend(labels);
    bytes
}

/// A folder with a complete small MNIST: 3 training and 2 test images of 28x28.
fn small_set(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.write(FILES[0], &image_file(3, 28, 28));
    dir.write(FILES[1], &label_file(&[5, 0, 4]));
    dir.write(FILES[2], &image_file(2, 28, 28));
    dir.write(FILES[3], &label_file(&[7, 2]));
    dir
}

/// The error's full message, checked to be an `MnistCorrupt` (with the path) that contains
/// every one of `parts`.
fn expect_corrupt(result: Result<impl std::fmt::Debug, Error>, path: &Path, parts: &[&str]) {
    let error = result.expect_err("a broken file was accepted");
    let message = error.to_string();
    assert!(
        matches!(&error, Error::MnistCorrupt { path: p, .. } if p == path),
        "wrong error kind or path: {message}"
    );
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    println!("ok: {message}");
}

#[test]
fn bundled_mnist_has_the_known_sizes_labels_and_counts() {
    let mnist = bundled();
    assert_eq!(mnist.train.len(), 60_000);
    assert_eq!(mnist.test.len(), 10_000);
    for split in [&mnist.train, &mnist.test] {
        assert_eq!((split.rows, split.cols), (28, 28));
        assert_eq!(split.images.len(), split.len() * 28 * 28);
    }
    assert_eq!(mnist.train.labels[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(mnist.test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let counts = |labels: &[u8]| {
        let mut counts = [0usize; 10];
        for &label in labels {
            counts[label as usize] += 1;
        }
        counts
    };
    assert_eq!(
        counts(&mnist.train.labels),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        counts(&mnist.test.labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The images are digits, not blanks: mostly background with some ink in each.
    for index in [0, 59_999] {
        let image = mnist.train.image(index);
        let ink = image.iter().filter(|&&p| p > 128).count();
        assert!(
            ink > 20 && ink < 400,
            "image {index} has {ink} inked pixels"
        );
    }
}

#[test]
fn raw_files_and_dotted_names_load_the_same() {
    let want = bundled();

    // Raw files under the canonical names.
    let raw = TempDir::new("raw");
    for stem in FILES {
        raw.write(stem, &bundled_raw(stem));
    }
    assert!(Mnist::load(&raw.0).unwrap() == *want, "raw files differ");

    // The dotted names, mixing gzip and raw; one raw file even carries a `.gz` name, since
    // the format is told by the magic bytes, not by the name.
    let dotted = TempDir::new("dotted");
    for (i, stem) in FILES.iter().enumerate() {
        let name = stem.replacen("-idx", ".idx", 1);
        match i {
            0 => {
                let gz = std::fs::read(mnist::default_dir().join(format!("{stem}.gz")));
                dotted.write(&format!("{name}.gz"), &gz.unwrap())
            }
            1 => dotted.write(&format!("{name}.gz"), &bundled_raw(stem)),
            2 => dotted.write(&name, &bundled_raw(stem)),
            _ => dotted.write(&format!("{name}.gz"), &gzip(&bundled_raw(stem))),
        };
    }
    assert!(
        Mnist::load(&dotted.0).unwrap() == *want,
        "dotted files differ"
    );
}

#[test]
fn generic_parser_accepts_any_dimensions_and_load_insists_on_28x28() {
    let path = Path::new("small");
    let images = mnist::parse_idx_images(&image_file(4, 5, 3), path).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (4, 5, 3));
    assert_eq!(images.pixels, image_file(4, 5, 3)[16..]);
    let gz = mnist::parse_idx_images(&gzip(&image_file(4, 5, 3)), path).unwrap();
    assert_eq!(gz, images);
    let labels = mnist::parse_idx_labels(&label_file(&[1, 200, 3]), path).unwrap();
    assert_eq!(labels, [1, 200, 3]);

    let dir = small_set("dims");
    assert_eq!(Mnist::load(&dir.0).unwrap().train.labels, [5, 0, 4]);
    let bad = dir.write(FILES[2], &image_file(2, 27, 28));
    expect_corrupt(Mnist::load(&dir.0), &bad, &["27x28", "28x28"]);
}

#[test]
fn wrong_magic_names_both_numbers() {
    let path = Path::new("labels-as-images");
    let result = mnist::parse_idx_images(&label_file(&[0; 20]), path);
    expect_corrupt(result, path, &["0x00000801", "0x00000803", "1 dimension"]);
    let result = mnist::parse_idx_labels(&image_file(1, 2, 2), path);
    expect_corrupt(result, path, &["0x00000803", "0x00000801"]);
    let result = mnist::parse_idx_labels(b"PNG garbage, not IDX", path);
    expect_corrupt(result, path, &["not an IDX file"]);
}

#[test]
fn truncated_header_and_body_are_reported_with_sizes() {
    let path = Path::new("short");
    let full = image_file(3, 28, 28);
    expect_corrupt(
        mnist::parse_idx_images(&full[..10], path),
        path,
        &[
            "header is truncated",
            "10 bytes",
            "image file's header has 16",
        ],
    );
    expect_corrupt(
        mnist::parse_idx_images(&full[..16 + 2000], path),
        path,
        &["truncated", "3 images of 28x28", "2352 bytes", "only 2000"],
    );
    expect_corrupt(
        mnist::parse_idx_images(&gzip(&full[..16 + 2000]), path),
        path,
        &["truncated", "2352 bytes", "only 2000", "gzip"],
    );
    let labels = label_file(&[1, 2, 3, 4]);
    expect_corrupt(
        mnist::parse_idx_labels(&labels[..10], path),
        path,
        &["4 labels", "only 2"],
    );
    let mut long = full.clone();
    long.push(0);
    expect_corrupt(mnist::parse_idx_images(&long, path), path, &["2353 bytes"]);
}

#[test]
fn a_header_claiming_2_pow_31_images_allocates_nothing() {
    let path = Path::new("liar");
    let mut bytes = image_file(2, 28, 28);
    bytes[4..8].copy_from_slice(&(1u32 << 31).to_be_bytes());
    // 2^31 * 784 bytes would be 1.7 TB: an error must come back at once, raw or gzip.
    let declared = ((1u64 << 31) * 784).to_string();
    expect_corrupt(
        mnist::parse_idx_images(&bytes, path),
        path,
        &["2147483648 images", &declared, "only 1568"],
    );
    expect_corrupt(
        mnist::parse_idx_images(&gzip(&bytes), path),
        path,
        &[&declared, "only 1568"],
    );
    // Dimensions whose product overflows u64 are refused as well.
    let mut huge = image_file(0, 0, 0);
    for word in 1..4 {
        huge[4 * word..4 * word + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    }
    expect_corrupt(mnist::parse_idx_images(&huge, path), path, &["declares"]);
}

#[test]
fn label_count_mismatch_and_label_10_are_refused() {
    let dir = small_set("mismatch");
    let labels = dir.write(FILES[1], &label_file(&[5, 0]));
    expect_corrupt(
        Mnist::load(&dir.0),
        &labels,
        &["2 labels", "3 images", FILES[0]],
    );
    let labels = dir.write(FILES[1], &label_file(&[5, 10, 4]));
    expect_corrupt(
        Mnist::load(&dir.0),
        &labels,
        &["label at index 1 is 10", "0 to 9"],
    );
}

#[test]
fn missing_file_or_folder_names_the_path_and_the_fix() {
    let dir = small_set("missing");
    std::fs::remove_file(dir.0.join(FILES[3])).unwrap();
    let error = Mnist::load(&dir.0).unwrap_err();
    let message = error.to_string();
    let want = dir.0.join(format!("{}.gz", FILES[3]));
    assert!(matches!(&error, Error::MnistMissing { path } if *path == want));
    assert!(message.contains(&want.display().to_string()) && message.contains("--data"));
    println!("ok: {message}");

    let nowhere = dir.0.join("no-such-folder");
    let message = Mnist::load(&nowhere).unwrap_err().to_string();
    assert!(message.contains("no-such-folder") && message.contains("--data"));
    let message = mnist::read_idx_labels(&nowhere).unwrap_err().to_string();
    assert!(message.contains("no-such-folder"), "{message}");
}

#[test]
fn garbage_gzip_is_a_clear_error() {
    let path = Path::new("garbage.gz");
    let mut garbage = vec![0x1f, 0x8b];
    garbage.extend((0..200u32).map(|i| (i * 37 % 256) as u8));
    expect_corrupt(mnist::parse_idx_images(&garbage, path), path, &["gzip"]);

    // A valid gzip stream cut short, and one with a flipped byte (caught by the CRC at the
    // latest).
    let good = gzip(&label_file(&[3; 1000]));
    let cut = &good[..good.len() / 2];
    expect_corrupt(mnist::parse_idx_labels(cut, path), path, &["gzip"]);
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let result = mnist::parse_idx_labels(&flipped, path);
    assert!(
        matches!(result, Err(Error::MnistCorrupt { .. })),
        "{result:?}"
    );

    // Through the file API, with the file's path in the message.
    let dir = TempDir::new("garbage");
    let file = dir.write("t10k-labels-idx1-ubyte.gz", &garbage);
    expect_corrupt(
        mnist::read_idx_labels(&file),
        &file,
        &["gzip", "t10k-labels"],
    );
}
