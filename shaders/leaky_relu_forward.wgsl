// LeakyReLU forward: output[i] = input[i] if input[i] > 0, else slope * input[i].
// Shapes: input and output hold `len` elements of any shape.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.
// build.rs also makes a _vec4 variant, whose elements are four values (`len` counts them).

alias Value = f32;

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,   // number of elements (Values)
    slope: f32, // negative slope (0.01 in the SGAN)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Value>;
@group(0) @binding(2) var<storage, read_write> output: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn leaky_relu_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let x = input[i];
    output[i] = select(params.slope * x, x, x > Value());
}
