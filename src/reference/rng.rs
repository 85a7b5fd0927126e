//! The counter-based random generator of `shaders/common.wgsl`, bit for bit on the CPU.

/// One round of the 32-bit multiply-xorshift hash.
pub fn rng_mix(value: u32) -> u32 {
    let mut x = value;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Uniformly distributed u32 for (seed, stream, index).
pub fn rng_u32(seed: u32, stream: u32, index: u32) -> u32 {
    let key = rng_mix(seed ^ rng_mix(stream.wrapping_add(0x9e37_79b9)));
    rng_mix(key.wrapping_add(rng_mix(index)))
}

/// Uniform in [0, 1) with 24 random bits, exactly as the shader computes it.
pub fn rng_uniform(seed: u32, stream: u32, index: u32) -> f32 {
    (rng_u32(seed, stream, index) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Standard normal by Box-Muller from the uniforms at `2 * index` and `2 * index + 1`.
/// The shader's `log` and `cos` are not correctly rounded, so compare with a tolerance.
pub fn rng_normal(seed: u32, stream: u32, index: u32) -> f64 {
    let u1 = ((rng_u32(seed, stream, 2 * index) >> 8) + 1) as f64 / 16_777_216.0;
    let u2 = rng_uniform(seed, stream, 2 * index + 1) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
