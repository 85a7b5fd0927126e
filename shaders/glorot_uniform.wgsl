// Glorot-uniform initialisation: output[i] = limit * (2 u - 1), u = rng_uniform(seed, stream, i),
// with limit = sqrt(6 / (fan_in + fan_out)) computed by the launcher. 2 u - 1 lies in [-1, 1),
// so every value lies in [-limit, limit).
// Shapes: `len` elements of any shape (a weight tensor).
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,    // number of elements
    seed: u32,   // generator seed
    stream: u32, // generator stream, one per tensor
    limit: f32,  // sqrt(6 / (fan_in + fan_out))
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn glorot_uniform(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    // u is a multiple of 2^-24, so 2 u - 1 is exact and the product rounds once, as on the CPU.
    let u = rng_uniform(params.seed, params.stream, i);
    output[i] = params.limit * (2.0 * u - 1.0);
}
