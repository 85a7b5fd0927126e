// Uniform random integers in [lo, lo + range), with replacement (minibatch indices):
// output[i] = lo + floor(r * range / 2^32), r = rng_u32(seed ^ rng_mix(counter), stream, i).
// The counter is folded into the seed as in normal_noise.wgsl. Each value in the range is hit
// by floor or ceil of 2^32 / range of the 2^32 possible r, so the bias is below range / 2^32
// (1.4e-5 relative for 60,000 images).
// Shapes: `len` u32 elements.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,     // number of elements
    seed: u32,    // generator seed
    stream: u32,  // generator stream, one per use
    counter: u32, // draw number, advanced by the trainer each step
    lo: u32,      // smallest value
    range: u32,   // number of values (hi - lo), at least 1
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;

// High 32 bits of the 64-bit product a * b. WGSL has no u64, so split both into 16-bit
// halves: a * b = hh 2^32 + (hl + lh) 2^16 + ll, and carry the middle terms by hand.
fn mul_high(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let hl = a_hi * b_lo;
    let lh = a_lo * b_hi;
    let hh = a_hi * b_hi;
    // Bits 16..31 of the three middle terms and their carry: below 3 * 2^16, no overflow.
    let middle = (ll >> 16u) + (hl & 0xffffu) + (lh & 0xffffu);
    return hh + (hl >> 16u) + (lh >> 16u) + (middle >> 16u);
}

@compute @workgroup_size(WORKGROUP)
fn random_indices(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let r = rng_u32(params.seed ^ rng_mix(params.counter), params.stream, i);
    output[i] = params.lo + mul_high(r, params.range);
}
