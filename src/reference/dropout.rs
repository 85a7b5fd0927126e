//! Inverted dropout, drawing the very mask of `shaders/dropout_forward.wgsl`.

use super::random::counter_seed;
use super::rng::rng_uniform;
use super::Real;

/// `1 / (1 - rate)` rounded to f32, the factor the launcher hands the shader.
pub fn dropout_scale(rate: f32) -> f32 {
    1.0 / (1.0 - rate)
}

/// The saved mask of draw `counter`: `dropout_scale(rate)` where
/// `rng_uniform(counter_seed(seed, counter), stream, i) >= rate`, else 0.
pub fn dropout_mask<T: Real>(
    len: usize,
    rate: f32,
    seed: u32,
    stream: u32,
    counter: u32,
) -> Vec<T> {
    let seed = counter_seed(seed, counter);
    let scale = T::from_f64(dropout_scale(rate) as f64);
    (0..len as u32)
        .map(|i| {
            if rng_uniform(seed, stream, i) >= rate {
                scale
            } else {
                T::zero()
            }
        })
        .collect()
}

/// Training-mode forward: returns `(output, mask)` with `output = input * mask`.
pub fn dropout_forward<T: Real>(
    input: &[T],
    rate: f32,
    seed: u32,
    stream: u32,
    counter: u32,
) -> (Vec<T>, Vec<T>) {
    let mask = dropout_mask(input.len(), rate, seed, stream, counter);
    let output = input.iter().zip(&mask).map(|(&x, &m)| x * m).collect();
    (output, mask)
}

/// Forward `y = x * mask`; derivative `mask`, so `d_input = d_output * mask`.
pub fn dropout_backward<T: Real>(mask: &[T], d_output: &[T]) -> Vec<T> {
    mask.iter().zip(d_output).map(|(&m, &dy)| dy * m).collect()
}
