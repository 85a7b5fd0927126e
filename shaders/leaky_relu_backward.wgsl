// LeakyReLU backward. Forward: y = x if x > 0 else slope * x.
// Derivative: dy/dx = 1 if x > 0 else slope, so d_input[i] = d_output[i] * (1 or slope).
// Reads the forward input x. Shapes: `len` elements each.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.
// build.rs also makes a _vec4 variant, whose elements are four values (`len` counts them).

alias Value = f32;

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,   // number of elements (Values)
    slope: f32, // negative slope
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Value>;
@group(0) @binding(2) var<storage, read> d_output: array<Value>;
@group(0) @binding(3) var<storage, read_write> d_input: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn leaky_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    d_input[i] = d_output[i] * select(Value(params.slope), Value(1.0), input[i] > Value());
}
