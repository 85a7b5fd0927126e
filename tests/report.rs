//! The run's output files: atomic writes, checkpoints, the digit grid, metrics, JSON and the loss
//! plot. CPU only, no GPU.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rand::{rngs::StdRng, Rng, SeedableRng};
use sgan_gpu::report::{
    self, images, plot, Checkpoint, DispatchTiming, MetricsRow, NamedTensor, ProfileAccumulator,
};
use sgan_gpu::Error;

/// A fresh, empty folder for one test under cargo's scratch folder for integration tests.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report")
        .join(test);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file name in `dir`, sorted: shows leftover temporary files.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// --- atomic_write ---------------------------------------------------------------------------

#[test]
fn atomic_write_creates_and_overwrites() {
    let dir = scratch("atomic_write_creates_and_overwrites");
    let path = dir.join("out.txt");
    report::atomic_write(&path, b"first version").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"first version");
    report::atomic_write(&path, b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(
        listing(&dir),
        ["out.txt"],
        "a temporary file was left behind"
    );
}

#[test]
fn atomic_write_into_missing_folder_names_it_and_creates_nothing() {
    let dir = scratch("atomic_write_into_missing_folder");
    let missing = dir.join("no_such_folder");
    let err = report::atomic_write(missing.join("out.txt"), b"x").unwrap_err();
    assert!(matches!(err, Error::WriteDirMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(!missing.exists());
    assert!(listing(&dir).is_empty());
}

#[test]
fn atomic_write_over_a_folder_fails_and_leaves_it() {
    let dir = scratch("atomic_write_over_a_folder");
    let target = dir.join("taken");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("inside.txt"), b"keep me").unwrap();
    let err = report::atomic_write(&target, b"new").unwrap_err();
    assert!(matches!(err, Error::Write { .. }), "{err:?}");
    assert!(err.to_string().contains("taken"), "{err}");
    assert_eq!(fs::read(target.join("inside.txt")).unwrap(), b"keep me");
    assert_eq!(listing(&dir), ["taken"], "a temporary file was left behind");
}

#[test]
fn atomic_write_failing_midway_keeps_the_old_file() {
    let dir = scratch("atomic_write_failing_midway");
    let path = dir.join("metrics.csv");
    report::atomic_write(&path, b"old complete content").unwrap();

    let err = report::atomic_write_with(&path, |out| {
        out.write_all(b"new partial")?;
        Err(std::io::Error::other("disk full (simulated)"))
    })
    .unwrap_err();
    assert!(matches!(err, Error::Write { .. }), "{err:?}");
    assert!(err.to_string().contains("disk full (simulated)"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"old complete content");
    assert_eq!(
        listing(&dir),
        ["metrics.csv"],
        "a temporary file was left behind"
    );
}

#[test]
fn atomic_write_with_streams_large_content() {
    let dir = scratch("atomic_write_with_streams");
    let path = dir.join("big.bin");
    let expected: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    report::atomic_write_with(&path, |out| {
        for chunk in expected.chunks(1000) {
            out.write_all(chunk)?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(fs::read(&path).unwrap(), expected);
}

// --- checkpoints ----------------------------------------------------------------------------

fn random_tensors(seed: u64) -> Vec<NamedTensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    let shapes: [(&str, Vec<usize>); 4] = [
        ("d.conv1.weight", vec![3, 3, 1, 32]),
        ("d.conv1.bias", vec![32]),
        ("g.dense.weight", vec![100, 7]),
        ("scalar", vec![]),
    ];
    shapes
        .into_iter()
        .map(|(name, shape)| {
            let n = shape.iter().product();
            // Raw bit patterns cover subnormals, huge and tiny values; NaN is excluded so
            // equality can be checked with `==` as well as bitwise.
            let data = (0..n)
                .map(|_| loop {
                    let v = f32::from_bits(rng.random::<u32>());
                    if !v.is_nan() {
                        break v;
                    }
                })
                .collect();
            NamedTensor {
                name: name.to_string(),
                shape,
                data,
            }
        })
        .collect()
}

fn sample_metadata() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("iteration".to_string(), "800".to_string()),
        (
            "config".to_string(),
            r#"{"batch":32,"note":"quotes \" and ünïcode"}"#.to_string(),
        ),
    ])
}

fn save_sample(path: &Path) -> Vec<NamedTensor> {
    let tensors = random_tensors(7);
    report::save_checkpoint(path, &tensors, &sample_metadata()).unwrap();
    tensors
}

fn load_err(path: &Path) -> String {
    match report::load_checkpoint(path) {
        Ok(_) => panic!("{} loaded but should not have", path.display()),
        Err(e) => {
            assert!(matches!(e, Error::Checkpoint { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn checkpoint_round_trip_is_bit_identical() {
    let dir = scratch("checkpoint_round_trip");
    let path = dir.join("model.safetensors");
    let tensors = save_sample(&path);
    let loaded: Checkpoint = report::load_checkpoint(&path).unwrap();

    assert_eq!(loaded.metadata, sample_metadata());
    assert_eq!(loaded.tensors.len(), tensors.len());
    for tensor in &tensors {
        let data = loaded.get(&tensor.name, &tensor.shape).unwrap();
        let bits = |d: &[f32]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(data), bits(&tensor.data), "tensor {}", tensor.name);
    }
    assert_eq!(listing(&dir), ["model.safetensors"]);
}

#[test]
fn checkpoint_is_plain_safetensors_f32_little_endian() {
    let dir = scratch("checkpoint_format");
    let path = dir.join("one.safetensors");
    let tensor = NamedTensor {
        name: "w".into(),
        shape: vec![2],
        data: vec![1.0, -2.5],
    };
    report::save_checkpoint(&path, &[tensor], &BTreeMap::new()).unwrap();
    let bytes = fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["w"]["dtype"], "F32");
    assert_eq!(header["w"]["shape"], serde_json::json!([2]));
    let mut expected = 1.0f32.to_le_bytes().to_vec();
    expected.extend((-2.5f32).to_le_bytes());
    assert_eq!(&bytes[8 + n..], expected.as_slice());
}

#[test]
fn checkpoint_get_reports_shape_mismatch_and_missing_tensor() {
    let dir = scratch("checkpoint_get_errors");
    let path = dir.join("model.safetensors");
    save_sample(&path);
    let loaded = report::load_checkpoint(&path).unwrap();

    let message = loaded.get("d.conv1.bias", &[64]).unwrap_err().to_string();
    for part in ["d.conv1.bias", "[32]", "[64]"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    let message = loaded.get("d.conv9.bias", &[32]).unwrap_err().to_string();
    assert!(
        message.contains("d.conv9.bias") && message.contains("d.conv1.bias"),
        "{message}"
    );
}

#[test]
fn save_checkpoint_rejects_bad_tensors_and_writes_nothing() {
    let dir = scratch("save_checkpoint_rejects");
    let path = dir.join("bad.safetensors");
    let short = NamedTensor {
        name: "w".into(),
        shape: vec![2, 3],
        data: vec![0.0; 5],
    };
    let err = report::save_checkpoint(&path, &[short], &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("[2, 3]"), "{err}");
    let twin = NamedTensor {
        name: "w".into(),
        shape: vec![1],
        data: vec![0.0],
    };
    let err = report::save_checkpoint(&path, &[twin.clone(), twin], &BTreeMap::new()).unwrap_err();
    assert!(err.to_string().contains("two tensors"), "{err}");
    assert!(listing(&dir).is_empty());
}

#[test]
fn load_checkpoint_missing_file() {
    let dir = scratch("load_checkpoint_missing");
    let message = load_err(&dir.join("nothing.safetensors"));
    assert!(message.contains("nothing.safetensors") && message.contains("does not exist"));
}

#[test]
fn load_checkpoint_truncated_file() {
    let dir = scratch("load_checkpoint_truncated");
    let path = dir.join("model.safetensors");
    save_sample(&path);
    let bytes = fs::read(&path).unwrap();
    for keep in [bytes.len() - 1, bytes.len() / 2, 20, 7, 0] {
        fs::write(&path, &bytes[..keep]).unwrap();
        let message = load_err(&path);
        assert!(
            message.contains("truncated"),
            "keeping {keep} bytes: {message}"
        );
    }
}

#[test]
fn load_checkpoint_rejects_files_that_are_not_safetensors() {
    let dir = scratch("load_checkpoint_not_safetensors");
    let path = dir.join("notes.safetensors");
    fs::write(&path, "this is a text file, not a checkpoint\n").unwrap();
    assert!(load_err(&path).contains("not a complete safetensors file"));

    // A valid-looking size with a header that is not JSON.
    let mut bytes = 8u64.to_le_bytes().to_vec();
    bytes.extend(b"not json");
    fs::write(&path, &bytes).unwrap();
    load_err(&path);
}

/// Writes an 8-byte header size, the header padded to a multiple of 8, then `data`.
fn forge(path: &Path, claimed_size: Option<u64>, header: &str, data: &[u8]) {
    let mut header = header.as_bytes().to_vec();
    header.resize(header.len().next_multiple_of(8), b' ');
    let size = claimed_size.unwrap_or(header.len() as u64);
    let mut bytes = size.to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    fs::write(path, bytes).unwrap();
}

#[test]
fn load_checkpoint_survives_forged_headers() {
    let dir = scratch("load_checkpoint_forged");
    let path = dir.join("forged.safetensors");
    let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;

    // A header size near u64::MAX, and one under safetensors' cap but past the end of file:
    // neither may be trusted for an allocation.
    forge(&path, Some(u64::MAX - 3), header, &[0; 8]);
    load_err(&path);
    forge(&path, Some(90_000_000), header, &[0; 8]);
    load_err(&path);

    // A tensor claiming 2^40 elements whose offsets run far past the file.
    let huge = r#"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#;
    forge(&path, None, huge, &[0; 8]);
    load_err(&path);

    // Shape and offsets that disagree, with the file's length matching the offsets.
    let lying = r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
    forge(&path, None, lying, &[0; 8]);
    load_err(&path);

    // The honest version of the same file loads, so the cases above fail for their reason.
    forge(&path, None, header, &[0; 8]);
    let loaded = report::load_checkpoint(&path).unwrap();
    assert_eq!(loaded.get("w", &[2]).unwrap(), [0.0, 0.0]);
}

#[test]
fn load_checkpoint_rejects_other_dtypes() {
    let dir = scratch("load_checkpoint_dtype");
    let path = dir.join("ints.safetensors");
    forge(
        &path,
        None,
        r#"{"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#,
        &[0; 8],
    );
    let message = load_err(&path);
    assert!(
        message.contains("`w`") && message.contains("F32"),
        "{message}"
    );
}

// --- digit grid -----------------------------------------------------------------------------

#[test]
fn grey_level_maps_tanh_range_to_bytes() {
    assert_eq!(images::grey_level(-1.0), Some(0));
    assert_eq!(images::grey_level(0.0), Some(128));
    assert_eq!(images::grey_level(1.0), Some(255));
    assert_eq!(images::grey_level(-7.0), Some(0));
    assert_eq!(images::grey_level(f32::INFINITY), Some(255));
    assert_eq!(images::grey_level(f32::NAN), None);
}

#[test]
fn digit_grid_layout_and_pixel_values() {
    let dir = scratch("digit_grid_layout");
    let path = dir.join("samples.png");
    let (count, height, width, columns) = (3, 4, 5, 2);
    let mut pixels = vec![-1.0f32; count * height * width];
    // Image 0: its pixel (row 1, col 2) is 1.0; image 1: pixel (0, 0) is 0.0; image 2: pixel
    // (3, 4) is NaN and pixel (0, 1) clamps from 3.0.
    pixels[width + 2] = 1.0;
    pixels[height * width] = 0.0;
    pixels[2 * height * width + 3 * width + 4] = f32::NAN;
    pixels[2 * height * width + 1] = 3.0;
    report::save_digit_grid(&path, &pixels, count, height, width, columns).unwrap();

    let grid = image::open(&path).unwrap().to_rgb8();
    let cell_w = width * 2 + 2;
    let cell_h = height * 2 + 2;
    assert_eq!(
        grid.dimensions(),
        ((columns * cell_w + 2) as u32, (2 * cell_h + 2) as u32)
    );

    // The value at image pixel (y, x) of cell `index`, checked on all four output pixels.
    let at = |index: usize, y: usize, x: usize| {
        let left = 2 + (index % columns) * cell_w + x * 2;
        let top = 2 + (index / columns) * cell_h + y * 2;
        let value = grid.get_pixel(left as u32, top as u32).0;
        for (dx, dy) in [(1, 0), (0, 1), (1, 1)] {
            let other = grid.get_pixel((left + dx) as u32, (top + dy) as u32).0;
            assert_eq!(
                other, value,
                "2x upscale is not nearest at cell {index} ({y}, {x})"
            );
        }
        value
    };
    assert_eq!(at(0, 0, 0), [0, 0, 0]);
    assert_eq!(at(0, 1, 2), [255, 255, 255]);
    assert_eq!(at(1, 0, 0), [128, 128, 128]);
    assert_eq!(at(2, 3, 4), images::GRID_NAN_RGB);
    assert_eq!(at(2, 0, 1), [255, 255, 255]);

    let border = images::GRID_BORDER_RGB;
    assert_eq!(grid.get_pixel(0, 0).0, border);
    assert_eq!(grid.get_pixel(1, 1).0, border);
    // Between cells 0 and 1, and the unused fourth cell.
    assert_eq!(grid.get_pixel((2 + width * 2) as u32, 5).0, border);
    assert_eq!(
        grid.get_pixel((cell_w + 4) as u32, (cell_h + 4) as u32).0,
        border
    );
}

#[test]
fn digit_grid_rejects_bad_arguments() {
    let dir = scratch("digit_grid_rejects");
    let path = dir.join("bad.png");
    let err = report::save_digit_grid(&path, &[0.0; 10], 2, 2, 2, 2).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    let err = report::save_digit_grid(&path, &[0.0; 8], 2, 2, 2, 0).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = report::save_digit_grid(&path, &[], 0, 28, 28, 4).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = report::save_digit_grid(&path, &[0.0; 1], 1, usize::MAX, 1, 1).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    assert!(listing(&dir).is_empty());
}

// --- metrics --------------------------------------------------------------------------------

fn sgan_rows() -> Vec<MetricsRow> {
    (1..=5)
        .map(|i| MetricsRow {
            iteration: i * 800,
            supervised_loss: 1.0 / (i as f32 * 3.0),
            supervised_accuracy: i as f32 / 5.0,
            unsupervised_loss: Some(0.7 - 0.01 * i as f32),
            generator_loss: Some(1.1 + 0.1 * i as f32),
            seconds: 1.25 * i as f64 + 1e-9,
        })
        .collect()
}

fn baseline_rows() -> Vec<MetricsRow> {
    sgan_rows()
        .into_iter()
        .map(|r| MetricsRow {
            unsupervised_loss: None,
            generator_loss: None,
            ..r
        })
        .collect()
}

#[test]
fn metrics_csv_round_trip_with_all_columns() {
    let dir = scratch("metrics_csv_all");
    let path = dir.join("metrics.csv");
    let rows = sgan_rows();
    report::write_metrics_csv(&path, &rows).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        report::metrics::METRICS_CSV_HEADER
    );
    assert_eq!(text.lines().count(), rows.len() + 1);
    assert_eq!(report::read_metrics_csv(&path).unwrap(), rows);
}

#[test]
fn metrics_csv_round_trip_without_optional_columns() {
    let dir = scratch("metrics_csv_baseline");
    let path = dir.join("metrics.csv");
    let rows = baseline_rows();
    report::write_metrics_csv(&path, &rows).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let second = text.lines().nth(1).unwrap();
    assert!(
        second.contains(",,"),
        "missing losses should be empty fields: {second}"
    );
    assert_eq!(report::read_metrics_csv(&path).unwrap(), rows);

    report::write_metrics_csv(&path, &[]).unwrap();
    assert!(report::read_metrics_csv(&path).unwrap().is_empty());
}

#[test]
fn metrics_csv_read_errors_name_the_line() {
    let dir = scratch("metrics_csv_errors");
    let path = dir.join("metrics.csv");
    let header = report::metrics::METRICS_CSV_HEADER;
    fs::write(
        &path,
        format!("{header}\n800,0.1,1,0.6,1.2,3.5\n1600,0.1,x,,,4\n"),
    )
    .unwrap();
    let message = report::read_metrics_csv(&path).unwrap_err().to_string();
    assert!(
        message.contains("line 3") && message.contains("supervised_accuracy"),
        "{message}"
    );

    fs::write(&path, "iteration,loss\n1,2\n").unwrap();
    let message = report::read_metrics_csv(&path).unwrap_err().to_string();
    assert!(message.contains("line 1"), "{message}");

    fs::write(&path, format!("{header}\n800,0.1,1\n")).unwrap();
    let message = report::read_metrics_csv(&path).unwrap_err().to_string();
    assert!(
        message.contains("line 2") && message.contains("6"),
        "{message}"
    );
}

#[test]
fn interval_line_matches_the_documented_format() {
    let row = MetricsRow {
        iteration: 800,
        supervised_loss: 0.0123,
        supervised_accuracy: 1.0,
        unsupervised_loss: Some(0.6543),
        generator_loss: Some(1.2345),
        seconds: 12.0,
    };
    let sgan = report::format_interval_line(&row, 8000);
    assert_eq!(
        sgan,
        "iteration  800/8000 | d_sup loss 0.0123 acc 100.00% | d_unsup loss 0.6543 | g loss 1.2345"
    );
    let baseline = MetricsRow {
        iteration: 8000,
        supervised_accuracy: 0.75,
        unsupervised_loss: None,
        generator_loss: None,
        ..row
    };
    let line = report::format_interval_line(&baseline, 8000);
    assert_eq!(
        line,
        "iteration 8000/8000 | d_sup loss 0.0123 acc  75.00% | d_unsup loss      - | g loss      -"
    );
    assert_eq!(line.len(), sgan.len(), "successive lines should line up");
}

// --- JSON -----------------------------------------------------------------------------------

#[test]
fn write_json_writes_any_serialize_value() {
    #[derive(serde::Serialize)]
    struct Summary {
        test_accuracy: f64,
        labels: usize,
        note: Option<String>,
        diverged_loss: f32,
        last: MetricsRow,
    }
    let dir = scratch("write_json");
    let path = dir.join("summary.json");
    let summary = Summary {
        test_accuracy: 0.894,
        labels: 100,
        note: None,
        diverged_loss: f32::NAN,
        last: baseline_rows()[0],
    };
    report::write_json(&path, &summary).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("}\n"), "{text}");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["test_accuracy"], 0.894);
    assert_eq!(value["labels"], 100);
    assert!(value["note"].is_null());
    assert!(
        value["diverged_loss"].is_null(),
        "NaN should be written as null"
    );
    assert!(value["last"]["unsupervised_loss"].is_null());
    assert_eq!(value["last"]["iteration"], 800);

    // Unsized values and plain maps work too.
    report::write_json(&path, &["a", "b"][..]).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "[\n  \"a\",\n  \"b\"\n]\n"
    );
}

#[test]
fn write_json_reports_values_without_json_form() {
    let dir = scratch("write_json_error");
    let path = dir.join("bad.json");
    let map = BTreeMap::from([((1u8, 2u8), 3u8)]);
    let err = report::write_json(&path, &map).unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err:?}");
    assert!(listing(&dir).is_empty());
}

// --- loss plot ------------------------------------------------------------------------------

fn plot_image(test: &str, rows: &[MetricsRow]) -> image::RgbImage {
    plot_image_titled(test, rows, "SGAN losses")
}

fn plot_image_titled(test: &str, rows: &[MetricsRow], title: &str) -> image::RgbImage {
    let dir = scratch(test);
    let path = dir.join("losses.png");
    report::save_loss_plot(&path, rows, title).unwrap();
    let png = image::open(&path).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (plot::PLOT_WIDTH, plot::PLOT_HEIGHT));
    png
}

/// How many pixels are close to `colour` (anti-aliasing blends edges, so allow some slack).
fn count_near(png: &image::RgbImage, colour: [u8; 3]) -> usize {
    png.pixels()
        .filter(|p| p.0.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 24))
        .count()
}

const SUPERVISED_RGB: [u8; 3] = [31, 90, 180];
const UNSUPERVISED_RGB: [u8; 3] = [214, 96, 20];
const GENERATOR_RGB: [u8; 3] = [30, 150, 70];

#[test]
fn loss_plot_draws_three_series_and_text() {
    let png = plot_image("loss_plot_three", &sgan_rows());
    let total = (plot::PLOT_WIDTH * plot::PLOT_HEIGHT) as usize;
    let background = count_near(&png, [255, 255, 255]);
    assert!(
        background < total && background > total / 2,
        "{background} of {total} white"
    );
    for colour in [SUPERVISED_RGB, UNSUPERVISED_RGB, GENERATOR_RGB] {
        assert!(
            count_near(&png, colour) > 100,
            "series colour {colour:?} barely drawn"
        );
    }
    // Text is drawn with the embedded font: a title adds dark pixels to the same plot.
    let untitled = plot_image_titled("loss_plot_untitled", &sgan_rows(), "");
    let dark = |png: &image::RgbImage| {
        png.pixels()
            .filter(|p| p.0.iter().all(|&c| c < 100))
            .count()
    };
    let (with, without) = (dark(&png), dark(&untitled));
    assert!(
        with > without + 300,
        "title adds {with} - {without} dark pixels: no text?"
    );
}

#[test]
fn loss_plot_with_one_row_and_baseline_rows() {
    let one = plot_image("loss_plot_one_row", &sgan_rows()[..1]);
    assert!(
        count_near(&one, SUPERVISED_RGB) > 10,
        "a single point should still show"
    );

    let baseline = plot_image("loss_plot_baseline", &baseline_rows());
    assert!(count_near(&baseline, SUPERVISED_RGB) > 100);
    assert!(
        count_near(&baseline, GENERATOR_RGB) < 50,
        "no generator loss to draw"
    );

    plot_image("loss_plot_empty", &[]);
    let mut odd = sgan_rows();
    odd[1].supervised_loss = f32::NAN;
    odd[2].generator_loss = Some(f32::INFINITY);
    plot_image("loss_plot_non_finite", &odd);
    let flat: Vec<MetricsRow> = sgan_rows()
        .into_iter()
        .map(|r| MetricsRow {
            supervised_loss: 0.5,
            unsupervised_loss: Some(0.5),
            generator_loss: Some(0.5),
            ..r
        })
        .collect();
    plot_image("loss_plot_flat", &flat);
}

// ---- per-kernel profiles ----

fn timing(phase: &str, label: &str, kernel: &str, flops: f64, seconds: f64) -> DispatchTiming {
    DispatchTiming {
        phase: phase.to_string(),
        label: label.to_string(),
        kernel: kernel.to_string(),
        flops,
        bytes: 1e6,
        seconds,
    }
}

/// Two iterations of four dispatches: two matmuls in phase "a", a matmul and a tanh in "b".
fn two_iterations() -> ProfileAccumulator {
    let mut profile = ProfileAccumulator::default();
    for scale in [1.0, 3.0] {
        let iteration = [
            timing("a", "x.matmul", "matmul", 2e9, 0.010 * scale),
            timing("a", "y.matmul", "matmul", 2e9, 0.030 * scale),
            timing("b", "z.matmul", "matmul", 1e9, 0.020 * scale),
            timing("b", "z.tanh", "tanh_forward", 0.0, 0.040 * scale),
        ];
        profile.add(&iteration).unwrap();
    }
    profile
}

#[test]
fn profile_averages_iterations_and_groups_by_phase_and_kernel() {
    let profile = two_iterations().finish("test clock", "test adapter");
    assert_eq!(profile.iterations, 2);
    assert_eq!(profile.dispatches_per_iteration, 4);
    // Means over the two iterations: 20, 60, 40, 80 ms.
    let means: Vec<f64> = profile.dispatches.iter().map(|d| d.mean_ms).collect();
    for (got, want) in means.iter().zip([20.0, 60.0, 40.0, 80.0]) {
        assert!((got - want).abs() < 1e-9, "means {means:?}");
    }
    assert!((profile.dispatches[1].min_ms - 30.0).abs() < 1e-9);
    assert!((profile.total_ms - 200.0).abs() < 1e-9);

    // Rows by (phase, kernel), slowest first: b/tanh 80, a/matmul 80 (2 calls), b/matmul 40.
    let rows: Vec<(&str, &str, usize)> = profile
        .kernels
        .iter()
        .map(|k| (k.phase.as_str(), k.kernel.as_str(), k.calls))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&("a", "matmul", 2)));
    assert_eq!(rows[2], ("b", "matmul", 1));
    let a_matmul = profile.kernels.iter().find(|k| k.phase == "a").unwrap();
    assert!((a_matmul.mean_ms - 40.0).abs() < 1e-9);
    assert!((a_matmul.share - 0.4).abs() < 1e-9);
    // 4e9 flops in 80 ms: 50 GFLOP/s; the tanh states no flops, so it has no rate.
    assert!((a_matmul.gflops.unwrap() - 50.0).abs() < 1e-9);
    let tanh = profile
        .kernels
        .iter()
        .find(|k| k.kernel == "tanh_forward")
        .unwrap();
    assert_eq!(tanh.gflops, None);
    assert!((tanh.gbytes.unwrap() - 1e6 / 0.080 * 1e-9).abs() < 1e-12);
    let shares: f64 = profile.kernels.iter().map(|k| k.share).sum();
    assert!((shares - 1.0).abs() < 1e-12);

    // Phases in the order they ran, with their dispatch counts.
    let phases: Vec<(&str, usize)> = profile
        .phases
        .iter()
        .map(|p| (p.phase.as_str(), p.dispatches))
        .collect();
    assert_eq!(phases, [("a", 2), ("b", 2)]);
    assert!((profile.gflop_per_iteration - 5.0).abs() < 1e-12);
}

#[test]
fn profile_refuses_an_iteration_with_other_dispatches() {
    let mut profile = two_iterations();
    let other = [timing("a", "x.matmul", "matmul", 2e9, 0.01)];
    assert!(profile.add(&other).is_err());
    assert_eq!(profile.iterations(), 2);
}

#[test]
fn profile_table_and_files_hold_every_row() {
    let dir = scratch("profile_files");
    let profile = two_iterations().finish("test clock", "test adapter");
    let table = profile.table(2);
    assert!(
        table.contains("test clock") && table.contains("test adapter"),
        "{table}"
    );
    assert!(table.contains("1 more rows"), "{table}");
    profile.write(&dir).unwrap();

    let csv = fs::read_to_string(dir.join("profile.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "kernel,phase,calls,mean_ms,total_ms,share,gflops,gbytes"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines.iter().all(|l| l.split(',').count() == 8), "{csv}");
    let dispatches = fs::read_to_string(dir.join("profile_dispatches.csv")).unwrap();
    assert_eq!(dispatches.lines().count(), 5, "{dispatches}");
    assert!(
        dispatches.contains("3,b,z.tanh,tanh_forward,80"),
        "{dispatches}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("profile.json")).unwrap()).unwrap();
    assert_eq!(json["iterations"], 2);
    assert_eq!(json["kernels"].as_array().unwrap().len(), 3);
    assert_eq!(json["dispatches"].as_array().unwrap().len(), 4);
    fs::remove_dir_all(&dir).ok();
}
