// Inverted dropout forward, training mode. Element i is kept when
// u = rng_uniform(seed ^ rng_mix(counter), stream, i) >= rate, which happens with probability
// 1 - rate; kept elements are scaled by scale = 1 / (1 - rate), dropped ones become 0:
// mask[i] = u >= rate ? scale : 0, output[i] = input[i] * mask[i].
// The mask is saved for the backward pass. The counter is folded into the seed (rng_mix is a
// bijection and rng_mix(0) = 0), so each counter value is a fresh mask.
// Shapes: input, output and mask hold `len` elements of any shape.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,     // number of elements
    seed: u32,    // generator seed
    stream: u32,  // generator stream, one per dropout layer
    counter: u32, // mask number, advanced by the trainer each step
    rate: f32,    // probability of dropping an element, in [0, 1)
    scale: f32,   // 1 / (1 - rate), rounded to f32 by the launcher
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let u = rng_uniform(params.seed ^ rng_mix(params.counter), params.stream, i);
    let keep = select(0.0, params.scale, u >= params.rate);
    mask[i] = keep;
    output[i] = input[i] * keep;
}
