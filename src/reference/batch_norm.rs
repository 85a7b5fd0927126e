//! Batch normalisation per channel of a `[rows, C]` matrix (an NHWC tensor with
//! `rows = B H W`), as the `batch_norm_*` shaders compute it. The shaders reduce in row chunks;
//! these loops reduce plainly, which is the same sum in exact arithmetic.

use super::Real;

/// Batch statistics of one training forward.
#[derive(Clone, Debug)]
pub struct BatchNormStats<T> {
    /// Per channel mean.
    pub mean: Vec<T>,
    /// Per channel BIASED variance (divided by rows).
    pub variance: Vec<T>,
    /// `1 / sqrt(variance + epsilon)`.
    pub inv_std: Vec<T>,
}

/// Mean, biased variance (by two passes) and inverse std of each of `channels` columns.
pub fn batch_norm_stats<T: Real>(input: &[T], channels: usize, epsilon: T) -> BatchNormStats<T> {
    let rows = input.len() / channels;
    let count = T::from_f64(rows as f64);
    let mut mean = vec![T::zero(); channels];
    for row in input.chunks_exact(channels) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x;
        }
    }
    for m in &mut mean {
        *m = *m / count;
    }
    let mut variance = vec![T::zero(); channels];
    for row in input.chunks_exact(channels) {
        for c in 0..channels {
            let deviation = row[c] - mean[c];
            variance[c] += deviation * deviation;
        }
    }
    for v in &mut variance {
        *v = *v / count;
    }
    let inv_std = variance
        .iter()
        .map(|&v| T::one() / (v + epsilon).sqrt())
        .collect();
    BatchNormStats {
        mean,
        variance,
        inv_std,
    }
}

/// `running = momentum running + (1 - momentum) batch` for the mean and the (biased) variance.
pub fn batch_norm_update_running<T: Real>(
    running_mean: &mut [T],
    running_var: &mut [T],
    stats: &BatchNormStats<T>,
    momentum: T,
) {
    let fresh = T::one() - momentum;
    for c in 0..running_mean.len() {
        running_mean[c] = momentum * running_mean[c] + fresh * stats.mean[c];
        running_var[c] = momentum * running_var[c] + fresh * stats.variance[c];
    }
}

/// `y = gamma (x - mean) inv_std + beta` per channel.
pub fn batch_norm_forward<T: Real>(
    input: &[T],
    mean: &[T],
    inv_std: &[T],
    gamma: &[T],
    beta: &[T],
) -> Vec<T> {
    let channels = mean.len();
    input
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let c = i % channels;
            gamma[c] * ((x - mean[c]) * inv_std[c]) + beta[c]
        })
        .collect()
}

/// Training forward: normalises by the batch statistics, which it also returns.
pub fn batch_norm_forward_train<T: Real>(
    input: &[T],
    gamma: &[T],
    beta: &[T],
    epsilon: T,
) -> (Vec<T>, BatchNormStats<T>) {
    let stats = batch_norm_stats(input, gamma.len(), epsilon);
    let output = batch_norm_forward(input, &stats.mean, &stats.inv_std, gamma, beta);
    (output, stats)
}

/// Inference forward: normalises by the running statistics.
pub fn batch_norm_forward_inference<T: Real>(
    input: &[T],
    running_mean: &[T],
    running_var: &[T],
    gamma: &[T],
    beta: &[T],
    epsilon: T,
) -> Vec<T> {
    let inv_std: Vec<T> = running_var
        .iter()
        .map(|&v| T::one() / (v + epsilon).sqrt())
        .collect();
    batch_norm_forward(input, running_mean, &inv_std, gamma, beta)
}

/// Forward `y = gamma xhat + beta`, so `d_gamma = sum(dy xhat)` and `d_beta = sum(dy)` over
/// rows, with `xhat = (x - mean) inv_std`. Returns `(d_gamma, d_beta)`.
pub fn batch_norm_backward_params<T: Real>(
    input: &[T],
    d_output: &[T],
    mean: &[T],
    inv_std: &[T],
) -> (Vec<T>, Vec<T>) {
    let channels = mean.len();
    let mut d_gamma = vec![T::zero(); channels];
    let mut d_beta = vec![T::zero(); channels];
    for (i, (&x, &dy)) in input.iter().zip(d_output).enumerate() {
        let c = i % channels;
        d_gamma[c] += dy * ((x - mean[c]) * inv_std[c]);
        d_beta[c] += dy;
    }
    (d_gamma, d_beta)
}

/// Forward with batch statistics: `xhat = (x - mean(x)) / sqrt(var(x) + eps)`,
/// `y = gamma xhat + beta`. Differentiating through the mean and the variance too gives
/// `d_input = gamma inv_std / R (R dy - d_beta - xhat d_gamma)`, R = rows.
pub fn batch_norm_backward_input<T: Real>(
    input: &[T],
    d_output: &[T],
    mean: &[T],
    inv_std: &[T],
    gamma: &[T],
    d_gamma: &[T],
    d_beta: &[T],
) -> Vec<T> {
    let channels = mean.len();
    let rows = T::from_f64((input.len() / channels) as f64);
    input
        .iter()
        .zip(d_output)
        .enumerate()
        .map(|(i, (&x, &dy))| {
            let c = i % channels;
            let xhat = (x - mean[c]) * inv_std[c];
            gamma[c] * inv_std[c] / rows * (rows * dy - d_beta[c] - xhat * d_gamma[c])
        })
        .collect()
}
