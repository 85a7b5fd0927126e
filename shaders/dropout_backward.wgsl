// Inverted dropout backward. Forward: y = x * mask with mask = 0 or 1 / (1 - rate).
// Derivative: dy/dx = mask, so d_input[i] = d_output[i] * mask[i], using the saved mask.
// Shapes: `len` elements each.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32, // number of elements
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read> d_output: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_input: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    d_input[i] = d_output[i] * mask[i];
}
