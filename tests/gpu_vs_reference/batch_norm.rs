use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::layers::batch_norm::{BatchNorm, BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM};
use sgan_gpu::reference;

use crate::common::{self, assert_close, assert_exact, random_vec, to_f32, to_f64};
use crate::gpu_or_skip;

// Ragged shapes: 105 rows x 19 channels (two row chunks, the last partial); the SGAN's
// [2, 14, 14, 64], [32, 7, 7, 64] and its largest, [32, 14, 14, 128] (6272 rows); and
// 4100 rows (65 chunks, the last of 4 rows) x 5 channels; 77 rows x 12 channels (the
// four-wide kernels, used wherever C is divisible by 4, with three groups of four).
const SHAPES: [&[usize]; 6] = [
    &[3, 5, 7, 19],
    &[2, 14, 14, 64],
    &[32, 7, 7, 64],
    &[32, 14, 14, 128],
    &[4100, 5],
    &[7, 11, 12],
];

const EPS: f64 = BATCH_NORM_EPSILON as f64;
const MOMENTUM: f64 = BATCH_NORM_MOMENTUM as f64;

/// A layer with random gamma, beta and running statistics, so that no default value hides a
/// mistake, and an input whose channels sit on different offsets far from 0.
struct Case {
    layer: BatchNorm,
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
    input: Tensor,
    output: Tensor,
}

fn case(gpu: &Gpu, shape: &[usize], seed: u64) -> Case {
    let channels = *shape.last().unwrap();
    let len: usize = shape.iter().product();
    let offsets = random_vec(seed, channels, 6.0);
    let spread = random_vec(seed + 1, channels, 1.5);
    let x: Vec<f32> = random_vec(seed + 2, len, 1.0)
        .iter()
        .enumerate()
        .map(|(i, v)| (offsets[i % channels] + v * (2.0 + spread[i % channels])) as f32)
        .collect();
    let gamma = to_f32(&random_vec(seed + 3, channels, 1.5));
    let beta = to_f32(&random_vec(seed + 4, channels, 1.0));
    let running_mean = to_f32(&random_vec(seed + 5, channels, 1.0));
    let running_var: Vec<f32> = random_vec(seed + 6, channels, 1.0)
        .iter()
        .map(|v| (1.5 + v) as f32)
        .collect();

    let layer = BatchNorm::new(gpu, "bn", shape).unwrap();
    layer.gamma.write(gpu, &gamma).unwrap();
    layer.beta.write(gpu, &beta).unwrap();
    layer.running_mean.write(gpu, &running_mean).unwrap();
    layer.running_var.write(gpu, &running_var).unwrap();
    Case {
        layer,
        input: Tensor::from_slice(gpu, "x", shape, &x).unwrap(),
        output: Tensor::zeros(gpu, "y", shape),
        x,
        gamma,
        beta,
        running_mean,
        running_var,
    }
}

fn run(gpu: &Gpu, dispatches: &[sgan_gpu::gpu::Dispatch]) {
    gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
}

#[test]
fn batch_norm_forward_train_matches_reference() {
    let gpu = gpu_or_skip!();
    for (n, shape) in SHAPES.iter().enumerate() {
        let c = case(gpu, shape, 100 + 10 * n as u64);
        let dispatches = c
            .layer
            .forward_train(gpu, &c.input, &c.output, true)
            .unwrap();
        run(gpu, &dispatches);

        let gamma = to_f64(&c.gamma);
        let (want, stats) =
            reference::batch_norm_forward_train(&to_f64(&c.x), &gamma, &to_f64(&c.beta), EPS);
        let mut running_mean = to_f64(&c.running_mean);
        let mut running_var = to_f64(&c.running_var);
        reference::batch_norm_update_running(&mut running_mean, &mut running_var, &stats, MOMENTUM);

        let tag = |what: &str| format!("{what} {shape:?}");
        // The statistics of f32 inputs near 6 carry f32 rounding of about 1e-7 relative.
        let mean = c.layer.mean.read(gpu).unwrap();
        assert_close(
            &tag("batch_norm_stats mean"),
            &mean,
            &stats.mean,
            1e-6,
            1e-5,
        );
        let inv_std = c.layer.inv_std.read(gpu).unwrap();
        assert_close(
            &tag("batch_norm_stats inv_std"),
            &inv_std,
            &stats.inv_std,
            1e-6,
            1e-5,
        );
        let got = c.layer.running_mean.read(gpu).unwrap();
        assert_close(
            &tag("batch_norm_stats running_mean"),
            &got,
            &running_mean,
            1e-6,
            1e-5,
        );
        let got = c.layer.running_var.read(gpu).unwrap();
        assert_close(
            &tag("batch_norm_stats running_var"),
            &got,
            &running_var,
            1e-6,
            1e-5,
        );
        // xhat = (x - mean) inv_std loses the rounding of x - mean: about 1e-6 absolute.
        let got = c.output.read(gpu).unwrap();
        assert_close(&tag("batch_norm_forward train"), &got, &want, 1e-5, 1e-5);
    }
}

#[test]
fn batch_norm_forward_train_can_leave_running_stats_untouched() {
    let gpu = gpu_or_skip!();
    let c = case(gpu, SHAPES[1], 200);
    let dispatches = c
        .layer
        .forward_train(gpu, &c.input, &c.output, false)
        .unwrap();
    run(gpu, &dispatches);
    assert_exact(
        "running_mean",
        &c.layer.running_mean.read(gpu).unwrap(),
        &c.running_mean,
    );
    assert_exact(
        "running_var",
        &c.layer.running_var.read(gpu).unwrap(),
        &c.running_var,
    );
    // It still normalised by the batch statistics and saved them.
    let (want, stats) = reference::batch_norm_forward_train(
        &to_f64(&c.x),
        &to_f64(&c.gamma),
        &to_f64(&c.beta),
        EPS,
    );
    let inv_std = c.layer.inv_std.read(gpu).unwrap();
    assert_close(
        "inv_std (frozen running)",
        &inv_std,
        &stats.inv_std,
        1e-6,
        1e-5,
    );
    let got = c.output.read(gpu).unwrap();
    assert_close(
        "batch_norm_forward train (frozen running)",
        &got,
        &want,
        1e-5,
        1e-5,
    );
}

#[test]
fn batch_norm_running_stats_start_at_keras_defaults() {
    let gpu = gpu_or_skip!();
    let layer = BatchNorm::new(gpu, "bn", &[2, 3, 3, 5]).unwrap();
    assert_exact("gamma", &layer.gamma.read(gpu).unwrap(), &[1.0; 5]);
    assert_exact("beta", &layer.beta.read(gpu).unwrap(), &[0.0; 5]);
    assert_exact(
        "running_mean",
        &layer.running_mean.read(gpu).unwrap(),
        &[0.0; 5],
    );
    assert_exact(
        "running_var",
        &layer.running_var.read(gpu).unwrap(),
        &[1.0; 5],
    );
    assert!(BatchNorm::new(gpu, "bn", &[]).is_err());
    assert!(BatchNorm::new(gpu, "bn", &[0, 4]).is_err());
    let wrong = Tensor::zeros(gpu, "x", &[2, 3, 3, 4]);
    assert!(layer.forward_train(gpu, &wrong, &wrong, true).is_err());
}

#[test]
fn batch_norm_forward_inference_matches_reference() {
    let gpu = gpu_or_skip!();
    for (n, shape) in SHAPES.iter().enumerate() {
        let c = case(gpu, shape, 300 + 10 * n as u64);
        let dispatches = c.layer.forward_inference(gpu, &c.input, &c.output).unwrap();
        run(gpu, &dispatches);
        let want = reference::batch_norm_forward_inference(
            &to_f64(&c.x),
            &to_f64(&c.running_mean),
            &to_f64(&c.running_var),
            &to_f64(&c.gamma),
            &to_f64(&c.beta),
            EPS,
        );
        let got = c.output.read(gpu).unwrap();
        // Inputs near 6 scaled by up to 1.5 / sqrt(0.5): outputs up to about 20, f32 rounding.
        assert_close(
            &format!("batch_norm_forward inference {shape:?}"),
            &got,
            &want,
            1e-5,
            1e-5,
        );
        // Inference reads the running statistics and never writes them.
        assert_exact(
            "running_var",
            &c.layer.running_var.read(gpu).unwrap(),
            &c.running_var,
        );
    }
}

#[test]
fn batch_norm_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    for (n, shape) in SHAPES.iter().enumerate() {
        let c = case(gpu, shape, 400 + 10 * n as u64);
        let dy = to_f32(&random_vec(401 + 10 * n as u64, c.x.len(), 1.0));
        let d_output = Tensor::from_slice(gpu, "dy", shape, &dy).unwrap();
        let d_input = Tensor::zeros(gpu, "dx", shape);
        let forward = c
            .layer
            .forward_train(gpu, &c.input, &c.output, true)
            .unwrap();
        let backward = c
            .layer
            .backward(gpu, &c.input, &d_output, &d_input)
            .unwrap();
        run(gpu, &forward);
        run(gpu, &backward);

        let x = to_f64(&c.x);
        let dy = to_f64(&dy);
        let gamma = to_f64(&c.gamma);
        let stats = reference::batch_norm_stats(&x, gamma.len(), EPS);
        let (d_gamma, d_beta) =
            reference::batch_norm_backward_params(&x, &dy, &stats.mean, &stats.inv_std);
        let want = reference::batch_norm_backward_input(
            &x,
            &dy,
            &stats.mean,
            &stats.inv_std,
            &gamma,
            &d_gamma,
            &d_beta,
        );

        // Sums of up to 6272 terms of size 1 whose total is about sqrt(rows): f32 rounding
        // of the partial sums gives errors near 1e-5 absolute.
        let rows = (x.len() / gamma.len()) as f64;
        let atol = 1e-6 * rows.sqrt();
        let tag = |what: &str| format!("{what} {shape:?}");
        let got = c.layer.d_gamma.read(gpu).unwrap();
        assert_close(
            &tag("batch_norm_backward_params d_gamma"),
            &got,
            &d_gamma,
            atol,
            1e-4,
        );
        let got = c.layer.d_beta.read(gpu).unwrap();
        assert_close(
            &tag("batch_norm_backward_params d_beta"),
            &got,
            &d_beta,
            atol,
            1e-4,
        );
        // dy - mean(dy) - xhat mean(dy xhat) cancels; its error is absolute, scaled by
        // gamma inv_std (up to about 1).
        let got = d_input.read(gpu).unwrap();
        assert_close(&tag("batch_norm_backward_input"), &got, &want, 1e-5, 1e-4);
    }
}

const SLOPE: f32 = 0.01;

/// `case` with the LeakyReLU fused into the layer.
fn fused_case(gpu: &Gpu, shape: &[usize], seed: u64) -> Case {
    let plain = case(gpu, shape, seed);
    Case {
        layer: plain.layer.with_leaky_relu(SLOPE).unwrap(),
        ..plain
    }
}

#[test]
fn batch_norm_with_leaky_relu_forward_matches_the_two_references() {
    let gpu = gpu_or_skip!();
    for (n, shape) in SHAPES.iter().enumerate() {
        let c = fused_case(gpu, shape, 500 + 10 * n as u64);
        let (x, gamma, beta) = (to_f64(&c.x), to_f64(&c.gamma), to_f64(&c.beta));
        let slope = SLOPE as f64;
        let tag = |what: &str| format!("{what} {shape:?}");

        run(
            gpu,
            &c.layer
                .forward_train(gpu, &c.input, &c.output, true)
                .unwrap(),
        );
        let (normalised, _) = reference::batch_norm_forward_train(&x, &gamma, &beta, EPS);
        let want = reference::leaky_relu_forward(&normalised, slope);
        let got = c.output.read(gpu).unwrap();
        assert!(got.iter().any(|v| *v < 0.0) && got.iter().any(|v| *v > 0.0));
        assert_close(&tag("fused forward train"), &got, &want, 1e-5, 1e-5);

        // Inference reads the running statistics, which the train pass above updated.
        let running_mean = to_f64(&c.layer.running_mean.read(gpu).unwrap());
        let running_var = to_f64(&c.layer.running_var.read(gpu).unwrap());
        run(
            gpu,
            &c.layer.forward_inference(gpu, &c.input, &c.output).unwrap(),
        );
        let normalised = reference::batch_norm_forward_inference(
            &x,
            &running_mean,
            &running_var,
            &gamma,
            &beta,
            EPS,
        );
        let want = reference::leaky_relu_forward(&normalised, slope);
        let got = c.output.read(gpu).unwrap();
        assert_close(&tag("fused forward inference"), &got, &want, 1e-5, 1e-5);
    }
    // A slope outside (0, 1) is refused.
    let c = case(gpu, SHAPES[0], 9);
    assert!(c.layer.with_leaky_relu(1.0).is_err());
}

#[test]
fn batch_norm_with_leaky_relu_backward_matches_the_two_references() {
    let gpu = gpu_or_skip!();
    for (n, shape) in SHAPES.iter().enumerate() {
        let c = fused_case(gpu, shape, 600 + 10 * n as u64);
        let dy = to_f32(&random_vec(601 + 10 * n as u64, c.x.len(), 1.0));
        let d_output = Tensor::from_slice(gpu, "dy", shape, &dy).unwrap();
        let d_input = Tensor::zeros(gpu, "dx", shape);
        run(
            gpu,
            &c.layer
                .forward_train(gpu, &c.input, &c.output, true)
                .unwrap(),
        );
        run(
            gpu,
            &c.layer
                .backward(gpu, &c.input, &d_output, &d_input)
                .unwrap(),
        );

        // The composition: LeakyReLU backward at the batch norm's output, then batch norm's.
        let (x, gamma, beta) = (to_f64(&c.x), to_f64(&c.gamma), to_f64(&c.beta));
        let (normalised, stats) = reference::batch_norm_forward_train(&x, &gamma, &beta, EPS);
        let d_normalised = reference::leaky_relu_backward(&normalised, &to_f64(&dy), SLOPE as f64);
        let (d_gamma, d_beta) =
            reference::batch_norm_backward_params(&x, &d_normalised, &stats.mean, &stats.inv_std);
        let want = reference::batch_norm_backward_input(
            &x,
            &d_normalised,
            &stats.mean,
            &stats.inv_std,
            &gamma,
            &d_gamma,
            &d_beta,
        );
        let rows = (x.len() / gamma.len()) as f64;
        let atol = 1e-6 * rows.sqrt();
        let tag = |what: &str| format!("{what} {shape:?}");
        let got = c.layer.d_gamma.read(gpu).unwrap();
        assert_close(&tag("fused d_gamma"), &got, &d_gamma, atol, 1e-4);
        let got = c.layer.d_beta.read(gpu).unwrap();
        assert_close(&tag("fused d_beta"), &got, &d_beta, atol, 1e-4);
        let got = d_input.read(gpu).unwrap();
        assert_close(&tag("fused d_input"), &got, &want, 1e-5, 1e-4);
    }
}
