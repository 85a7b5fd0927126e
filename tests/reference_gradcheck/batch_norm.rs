use sgan_gpu::reference;

use crate::common::{gradcheck, random_vec, weighted_sum, GRADCHECK_TOL};

const EPS: f64 = 1e-3;
// [2, 3, 3, 4]: 18 rows, 4 channels.
const ROWS: usize = 18;
const CHANNELS: usize = 4;

struct Setup {
    x: Vec<f64>,
    gamma: Vec<f64>,
    beta: Vec<f64>,
    r: Vec<f64>,
}

fn setup() -> Setup {
    let offsets = random_vec(50, CHANNELS, 3.0);
    Setup {
        x: random_vec(51, ROWS * CHANNELS, 2.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v + offsets[i % CHANNELS])
            .collect(),
        gamma: random_vec(52, CHANNELS, 1.5),
        beta: random_vec(53, CHANNELS, 1.0),
        r: random_vec(54, ROWS * CHANNELS, 1.0),
    }
}

/// Analytic gradients of `sum(r * y)`: (d_input, d_gamma, d_beta).
fn analytic(s: &Setup) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let stats = reference::batch_norm_stats(&s.x, CHANNELS, EPS);
    let (d_gamma, d_beta) =
        reference::batch_norm_backward_params(&s.x, &s.r, &stats.mean, &stats.inv_std);
    let d_input = reference::batch_norm_backward_input(
        &s.x,
        &s.r,
        &stats.mean,
        &stats.inv_std,
        &s.gamma,
        &d_gamma,
        &d_beta,
    );
    (d_input, d_gamma, d_beta)
}

#[test]
fn batch_norm_backward_input_matches_finite_differences() {
    let s = setup();
    // Through the batch statistics: moving one x moves the mean and variance of its channel.
    let loss = |x: &[f64]| {
        let (y, _) = reference::batch_norm_forward_train(x, &s.gamma, &s.beta, EPS);
        weighted_sum(&s.r, &y)
    };
    let worst = gradcheck(loss, &s.x, &analytic(&s).0, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "batch_norm_backward_input: worst {worst:e}"
    );
}

#[test]
fn batch_norm_backward_params_match_finite_differences() {
    let s = setup();
    let (_, d_gamma, d_beta) = analytic(&s);
    let loss_gamma = |g: &[f64]| {
        let (y, _) = reference::batch_norm_forward_train(&s.x, g, &s.beta, EPS);
        weighted_sum(&s.r, &y)
    };
    let worst = gradcheck(loss_gamma, &s.gamma, &d_gamma, usize::MAX, 1e-6);
    assert!(worst < GRADCHECK_TOL, "batch_norm d_gamma: worst {worst:e}");
    let loss_beta = |b: &[f64]| {
        let (y, _) = reference::batch_norm_forward_train(&s.x, &s.gamma, b, EPS);
        weighted_sum(&s.r, &y)
    };
    let worst = gradcheck(loss_beta, &s.beta, &d_beta, usize::MAX, 1e-6);
    assert!(worst < GRADCHECK_TOL, "batch_norm d_beta: worst {worst:e}");
}

/// Negative control: the gradient that treats the batch statistics as constants
/// (`gamma inv_std dy`) is wrong for the training forward, and the checker must say so.
#[test]
fn batch_norm_gradcheck_catches_frozen_statistics() {
    let s = setup();
    let stats = reference::batch_norm_stats(&s.x, CHANNELS, EPS);
    let wrong: Vec<f64> =
        s.r.iter()
            .enumerate()
            .map(|(i, dy)| s.gamma[i % CHANNELS] * stats.inv_std[i % CHANNELS] * dy)
            .collect();
    let loss = |x: &[f64]| {
        let (y, _) = reference::batch_norm_forward_train(x, &s.gamma, &s.beta, EPS);
        weighted_sum(&s.r, &y)
    };
    let worst = gradcheck(loss, &s.x, &wrong, usize::MAX, 1e-6);
    assert!(
        worst > 0.05,
        "the checker accepted frozen statistics (worst {worst:e})"
    );
}
