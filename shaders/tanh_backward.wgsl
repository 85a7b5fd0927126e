// tanh backward. Forward: y = tanh(x). Derivative: dy/dx = 1 - y^2, written with the forward
// OUTPUT so the input need not be kept: d_input[i] = d_output[i] * (1 - output[i]^2).
// Shapes: `len` elements each.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32, // number of elements
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> output: array<f32>;
@group(0) @binding(2) var<storage, read> d_output: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_input: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let y = output[i];
    d_input[i] = d_output[i] * (1.0 - y * y);
}
