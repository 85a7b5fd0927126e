// Standard normal noise: output[i] = rng_normal(seed ^ rng_mix(counter), stream, i).
// Folding the draw counter into the seed gives a fresh, independent draw per counter value
// (rng_mix is a bijection, and rng_mix(0) = 0, so counter 0 is the plain seed).
// Shapes: `len` elements of any shape (a batch of latent vectors z).
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,     // number of elements
    seed: u32,    // generator seed
    stream: u32,  // generator stream, one per use
    counter: u32, // draw number, advanced by the trainer each step
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn normal_noise(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    output[i] = rng_normal(params.seed ^ rng_mix(params.counter), params.stream, i);
}
