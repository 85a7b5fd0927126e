// Helpers shared by every kernel; src/gpu/kernel.rs `shader_source` puts this file in front of
// each shader, since WGSL has no include.
//
// The random generator is counter-based: the number for (seed, stream, index) is a hash of the
// three, so any invocation can draw its own numbers in any order and a seed replays exactly.
// `src/reference/rng.rs` computes the same bits on the CPU.

// One round of a 32-bit integer hash with good avalanche (multiply-xorshift, "lowbias32").
fn rng_mix(value: u32) -> u32 {
    var x = value;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

// Uniformly distributed u32 for (seed, stream, index).
fn rng_u32(seed: u32, stream: u32, index: u32) -> u32 {
    let key = rng_mix(seed ^ rng_mix(stream + 0x9e3779b9u));
    return rng_mix(key + rng_mix(index));
}

// Uniform f32 in [0, 1) with 24 random bits.
fn rng_uniform(seed: u32, stream: u32, index: u32) -> f32 {
    return f32(rng_u32(seed, stream, index) >> 8u) * (1.0 / 16777216.0);
}

// Standard normal f32 by Box-Muller from the uniforms at 2 * index and 2 * index + 1.
fn rng_normal(seed: u32, stream: u32, index: u32) -> f32 {
    // (bits + 1) / 2^24 lies in (0, 1], so the logarithm is finite.
    let u1 = f32((rng_u32(seed, stream, 2u * index) >> 8u) + 1u) * (1.0 / 16777216.0);
    let u2 = rng_uniform(seed, stream, 2u * index + 1u);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// Flat invocation index for 1-D work spread over a 2-D grid of workgroups of `size` each.
fn flat_index(gid: vec3<u32>, groups: vec3<u32>, size: u32) -> u32 {
    return gid.x + gid.y * groups.x * size;
}
