//! The seeded generators of `shaders/glorot_uniform.wgsl`, `normal_noise.wgsl` and
//! `random_indices.wgsl`, on the CPU. They return the GPU's numbers: bit for bit for the uniform
//! and integer outputs, within the accuracy of the GPU's `log` and `cos` for the normal.

use super::rng::{rng_mix, rng_normal, rng_u32, rng_uniform};

/// The seed a shader with a draw counter hands to the generator: `seed ^ rng_mix(counter)`.
/// `rng_mix` is a bijection with `rng_mix(0) = 0`, so each counter value gives a distinct seed
/// and counter 0 is the plain seed.
pub fn counter_seed(seed: u32, counter: u32) -> u32 {
    seed ^ rng_mix(counter)
}

/// `sqrt(6 / (fan_in + fan_out))`, rounded to f32 as the launcher passes it to the shader.
pub fn glorot_limit(fan_in: usize, fan_out: usize) -> f32 {
    (6.0 / (fan_in + fan_out) as f64).sqrt() as f32
}

/// `len` Glorot-uniform values `limit * (2 u - 1)` in f32, exactly as the shader rounds them.
pub fn glorot_uniform(
    len: usize,
    fan_in: usize,
    fan_out: usize,
    seed: u32,
    stream: u32,
) -> Vec<f32> {
    let limit = glorot_limit(fan_in, fan_out);
    (0..len as u32)
        .map(|i| limit * (2.0 * rng_uniform(seed, stream, i) - 1.0))
        .collect()
}

/// `len` standard normal values for draw `counter`, in f64 (the GPU's are f32 approximations).
pub fn normal_noise(len: usize, seed: u32, stream: u32, counter: u32) -> Vec<f64> {
    let seed = counter_seed(seed, counter);
    (0..len as u32)
        .map(|i| rng_normal(seed, stream, i))
        .collect()
}

/// `floor(bits * range / 2^32)`: the high word of the 64-bit product, an integer in
/// `[0, range)`. The shader builds the same product from 16-bit halves.
pub fn scale_to_range(bits: u32, range: u32) -> u32 {
    ((bits as u64 * range as u64) >> 32) as u32
}

/// `len` integers uniform in `[lo, hi)` (with replacement) for draw `counter`.
/// `hi` must exceed `lo`.
pub fn random_indices(
    len: usize,
    lo: u32,
    hi: u32,
    seed: u32,
    stream: u32,
    counter: u32,
) -> Vec<u32> {
    let seed = counter_seed(seed, counter);
    (0..len as u32)
        .map(|i| lo + scale_to_range(rng_u32(seed, stream, i), hi - lo))
        .collect()
}
