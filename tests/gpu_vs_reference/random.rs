use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::layers::random::{self, IndexParams, NoiseParams};
use sgan_gpu::reference;

use crate::common::{self, assert_close, assert_exact};
use crate::gpu_or_skip;

// Large enough for the statistical checks, and not a multiple of the workgroup size.
const LEN: usize = 100_003;

fn glorot(gpu: &Gpu, len: usize, fan_in: usize, fan_out: usize, seed: u32) -> Vec<f32> {
    let output = Tensor::zeros(gpu, "w", &[len]);
    let dispatch = random::glorot_uniform(gpu, &output, fan_in, fan_out, seed, 7).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    output.read(gpu).unwrap()
}

fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance)
}

#[test]
fn glorot_uniform_matches_reference_bits() {
    let gpu = gpu_or_skip!();
    // A dense 2048 -> 10 kernel plus a ragged tail.
    let (fan_in, fan_out) = (2048, 10);
    let got = glorot(gpu, LEN, fan_in, fan_out, 42);
    let want = reference::glorot_uniform(LEN, fan_in, fan_out, 42, 7);
    assert_exact("glorot_uniform", &got, &want);

    // Same seed twice: identical; another seed: different almost everywhere.
    assert_exact(
        "glorot_uniform rerun",
        &glorot(gpu, LEN, fan_in, fan_out, 42),
        &got,
    );
    let other = glorot(gpu, LEN, fan_in, fan_out, 43);
    let same = got.iter().zip(&other).filter(|(a, b)| a == b).count();
    assert!(
        same < LEN / 1000,
        "seeds 42 and 43 agree at {same} of {LEN} values"
    );
}

#[test]
fn glorot_uniform_has_the_right_range_and_variance() {
    let gpu = gpu_or_skip!();
    // A 3x3 conv 64 -> 128: fan_in 576, fan_out 1152.
    let (fan_in, fan_out) = (9 * 64, 9 * 128);
    let limit = reference::glorot_limit(fan_in, fan_out);
    let values: Vec<f64> = glorot(gpu, LEN, fan_in, fan_out, 5)
        .into_iter()
        .map(f64::from)
        .collect();
    assert!(
        values.iter().all(|v| v.abs() <= limit as f64),
        "a value lies outside [-{limit}, {limit}]"
    );
    let (mean, variance) = mean_and_variance(&values);
    let want = (limit as f64).powi(2) / 3.0;
    // Standard errors over 1e5 samples: mean limit / sqrt(3 n), variance 0.9 want / sqrt(n),
    // both under 0.3 % of their scale; allow five of them.
    assert!(
        mean.abs() < 5.0 * limit as f64 / (3.0 * LEN as f64).sqrt(),
        "glorot mean {mean:e} (limit {limit})"
    );
    let relative = (variance / want - 1.0).abs();
    assert!(
        relative < 0.015,
        "glorot variance {variance:e}, want {want:e}"
    );
    println!("glorot_uniform: mean {mean:.2e}, variance / (limit^2 / 3) - 1 = {relative:.2e}");
}

fn noise(gpu: &Gpu, params: NoiseParams) -> Vec<f32> {
    let output = Tensor::zeros(gpu, "z", &[params.len as usize]);
    let dispatch = random::normal_noise(gpu, &output, params).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    output.read(gpu).unwrap()
}

#[test]
fn normal_noise_matches_reference() {
    let gpu = gpu_or_skip!();
    let output = Tensor::zeros(gpu, "z", &[LEN]);
    let params = NoiseParams::new(&output, 9, 3).with_counter(11);
    let got = noise(gpu, params);
    // The GPU's log and cos are approximations: Vulkan allows cos an absolute error of 2^-11,
    // and the radius sqrt(-2 ln u) reaches 5.8, so allow 4e-3 absolute.
    assert_close(
        "normal_noise",
        &got,
        &reference::normal_noise(LEN, 9, 3, 11),
        4e-3,
        1e-4,
    );
    assert_exact("normal_noise rerun", &noise(gpu, params), &got);
}

#[test]
fn normal_noise_has_zero_mean_and_unit_variance() {
    let gpu = gpu_or_skip!();
    let output = Tensor::zeros(gpu, "z", &[LEN]);
    let params = NoiseParams::new(&output, 1, 2);
    let values: Vec<f64> = noise(gpu, params).into_iter().map(f64::from).collect();
    let (mean, variance) = mean_and_variance(&values);
    // Standard errors: mean 1 / sqrt(n) = 3.2e-3, variance sqrt(2 / n) = 4.5e-3; five of each.
    assert!(mean.abs() < 0.016, "normal mean {mean:e}");
    assert!(
        (variance - 1.0).abs() < 0.023,
        "normal variance {variance:e}"
    );
    println!(
        "normal_noise: mean {mean:.2e}, variance - 1 = {:.2e}",
        variance - 1.0
    );

    // Another counter or seed is another draw.
    for other in [params.with_counter(1), NoiseParams { seed: 2, ..params }] {
        let redraw = noise(gpu, other);
        let same = values
            .iter()
            .zip(&redraw)
            .filter(|(a, b)| **a == f64::from(**b))
            .count();
        assert!(
            same < 10,
            "{other:?} repeats {same} values of draw {params:?}"
        );
    }
}

fn indices(gpu: &Gpu, params: IndexParams) -> Vec<u32> {
    let output = Tensor::<u32>::zeros(gpu, "idx", &[params.len as usize]);
    let dispatch = random::random_indices(gpu, &output, params).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    output.read(gpu).unwrap()
}

#[test]
fn random_indices_match_reference_bits() {
    let gpu = gpu_or_skip!();
    let output = Tensor::<u32>::zeros(gpu, "idx", &[LEN]);
    // The unlabelled MNIST range, and a range near 2^32 that stresses the 16-bit carries.
    for (lo, hi) in [(100, 60_000), (0, u32::MAX), (7, 8)] {
        let params = IndexParams::new(&output, lo, hi, 21, 4)
            .unwrap()
            .with_counter(3);
        let got = indices(gpu, params);
        let want = reference::random_indices(LEN, lo, hi, 21, 4, 3);
        assert_exact(&format!("random_indices [{lo}, {hi})"), &got, &want);
        assert!(
            got.iter().all(|&v| (lo..hi).contains(&v)),
            "[{lo}, {hi}): out of range"
        );
    }
}

#[test]
fn random_indices_are_roughly_uniform() {
    let gpu = gpu_or_skip!();
    let output = Tensor::<u32>::zeros(gpu, "idx", &[LEN]);
    let params = IndexParams::new(&output, 10, 20, 5, 6).unwrap();
    let got = indices(gpu, params);
    let mut counts = [0usize; 10];
    for &v in &got {
        counts[(v - 10) as usize] += 1;
    }
    let expected = LEN as f64 / 10.0;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    // Chi-square with 9 degrees of freedom exceeds 27.9 with probability 0.1 %.
    assert!(chi2 < 27.9, "counts {counts:?}: chi-square {chi2:.1}");
    println!("random_indices: counts {counts:?}, chi-square {chi2:.1} (9 dof)");

    let redraw = indices(gpu, params.with_counter(1));
    let same = got.iter().zip(&redraw).filter(|(a, b)| a == b).count();
    // Independent draws over 10 values agree about a tenth of the time.
    assert!(
        (same as f64 - expected).abs() < 5.0 * expected.sqrt(),
        "counter 1 agrees with counter 0 at {same} of {LEN} indices"
    );
}

#[test]
fn random_indices_reject_an_empty_range() {
    let gpu = gpu_or_skip!();
    let output = Tensor::<u32>::zeros(gpu, "idx", &[4]);
    assert!(IndexParams::new(&output, 5, 5, 0, 0).is_err());
}
