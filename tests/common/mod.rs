//! Helpers shared by the integration tests: the GPU fixture, tolerant comparison that reports
//! the first mismatches by index, seeded random inputs and central finite differences.
#![allow(dead_code)]

use std::sync::OnceLock;

use rand::{rngs::StdRng, Rng, SeedableRng};
use sgan_gpu::gpu::{Gpu, GpuOptions};

/// The test device, opened once per test binary. Where `CI` is set a missing adapter fails the
/// test loudly; elsewhere the test is skipped with the reason printed.
pub fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();
    match GPU.get_or_init(|| Gpu::new(&GpuOptions::default()).map_err(|e| e.to_string())) {
        Ok(gpu) => Some(gpu),
        Err(reason) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but no GPU adapter could be opened: {reason}")
        }
        Err(reason) => {
            eprintln!("skipping GPU test: {reason}");
            None
        }
    }
}

/// Opens the test device or returns from the calling test (after printing why).
#[macro_export]
macro_rules! gpu_or_skip {
    () => {
        match common::gpu() {
            Some(gpu) => gpu,
            None => return,
        }
    };
}

/// Asserts `|got - want| <= atol + rtol * |want|` elementwise. On failure prints the buffer
/// name, index and both values of the first ten mismatches. Returns the worst relative error
/// `|got - want| / max(|want|, atol)`, and prints it together with the normwise error
/// `max |got - want| / max |want|` (which values near zero cannot inflate), so that a test run
/// documents its accuracy.
pub fn assert_close(name: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) -> f64 {
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: GPU gave {} values, reference {}",
        got.len(),
        want.len()
    );
    let mut mismatches = Vec::new();
    let mut worst = 0.0f64;
    let (mut max_error, mut max_want) = (0.0f64, 0.0f64);
    for (index, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g as f64;
        let error = (g - w).abs();
        // Written so that a NaN on either side counts as a mismatch.
        let within = error <= atol + rtol * w.abs();
        if !within {
            mismatches.push(format!("  {name}[{index}]: gpu {g:.7e}, reference {w:.7e}"));
        }
        worst = worst.max(error / w.abs().max(atol));
        max_error = max_error.max(error);
        max_want = max_want.max(w.abs());
    }
    if !mismatches.is_empty() {
        let count = mismatches.len();
        mismatches.truncate(10);
        panic!(
            "{name}: {count} of {} values differ beyond atol {atol:e} + rtol {rtol:e}:\n{}",
            got.len(),
            mismatches.join("\n")
        );
    }
    let normwise = if max_want > 0.0 {
        max_error / max_want
    } else {
        max_error
    };
    println!(
        "{name}: worst relative error {worst:.3e}, normwise {normwise:.3e}, over {} values",
        got.len()
    );
    worst
}

/// Asserts exact equality, reporting the first ten differing indices.
pub fn assert_exact<T: PartialEq + std::fmt::Debug>(name: &str, got: &[T], want: &[T]) {
    assert_eq!(got.len(), want.len(), "{name}: length differs");
    let bad: Vec<String> = (0..got.len())
        .filter(|&i| got[i] != want[i])
        .take(10)
        .map(|i| format!("  {name}[{i}]: gpu {:?}, reference {:?}", got[i], want[i]))
        .collect();
    assert!(bad.is_empty(), "{name}: values differ:\n{}", bad.join("\n"));
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `len` values uniform in [-scale, scale], from a fixed seed.
pub fn random_vec(seed: u64, len: usize, scale: f64) -> Vec<f64> {
    let mut rng = rng(seed);
    (0..len).map(|_| rng.random_range(-scale..=scale)).collect()
}

/// The same numbers as f32 for the GPU; the reference then runs on exactly these values.
pub fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// Back to f64, for running the reference on exactly what the GPU got.
pub fn to_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| v as f64).collect()
}

/// Central finite differences of `loss` at `x`, at `count` coordinates picked with a fixed seed
/// (all of them when `count >= x.len()`), compared to `analytic`. Returns the worst relative
/// error `|fd - analytic| / max(|fd| + |analytic|, 1e-8)` over the coordinates checked.
pub fn gradcheck(
    loss: impl Fn(&[f64]) -> f64,
    x: &[f64],
    analytic: &[f64],
    count: usize,
    eps: f64,
) -> f64 {
    assert_eq!(
        x.len(),
        analytic.len(),
        "gradient length differs from input length"
    );
    let mut rng = rng(0x5eed);
    let coords: Vec<usize> = if count >= x.len() {
        (0..x.len()).collect()
    } else {
        (0..count).map(|_| rng.random_range(0..x.len())).collect()
    };
    let mut point = x.to_vec();
    let mut worst = 0.0f64;
    for i in coords {
        let original = point[i];
        point[i] = original + eps;
        let up = loss(&point);
        point[i] = original - eps;
        let down = loss(&point);
        point[i] = original;
        let numeric = (up - down) / (2.0 * eps);
        let error = (numeric - analytic[i]).abs() / (numeric.abs() + analytic[i].abs()).max(1e-8);
        worst = worst.max(error);
    }
    worst
}

/// Tolerance for [`gradcheck`] in f64 with eps 1e-6 on smooth functions.
pub const GRADCHECK_TOL: f64 = 1e-6;

/// `sum(r * y)`: the scalar loss whose gradient with respect to `y` is `r`.
pub fn weighted_sum(r: &[f64], y: &[f64]) -> f64 {
    r.iter().zip(y).map(|(a, b)| a * b).sum()
}
