// tanh forward: output[i] = tanh(input[i]).
// Shapes: input and output hold `len` elements of any shape.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

// Beyond |x| = 15 tanh is 1 to f32 precision. Clamping first keeps drivers that build tanh
// from exponentials from overflowing to inf / inf = NaN on large inputs.
const SATURATION: f32 = 15.0;

struct Params {
    len: u32, // number of elements
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    output[i] = tanh(clamp(input[i], -SATURATION, SATURATION));
}
