// Batch norm backward, input gradient, through the training forward with batch statistics
// (the mean and variance depend on the input). Forward: xhat = (x - mean) inv_std,
// y = gamma xhat + beta. With R = rows, d_beta = sum dy and d_gamma = sum dy xhat:
//   d_input = gamma inv_std / R (R dy - d_beta - xhat d_gamma)
//           = gamma inv_std (dy - d_beta / R - xhat d_gamma / R).
// Reads the forward input, the saved mean and inv_std, and batch_norm_backward_params' output.
// Shapes: input, d_output, d_input [rows, C]; mean, inv_std, gamma, d_gamma, d_beta [C].
// One invocation owns one element; dispatch ceil(rows C / WORKGROUP) workgroups along x.
//
// With LEAKY_SLOPE < 1 the forward pass also applied a LeakyReLU (see batch_norm_forward),
// so d_output is the gradient of max(y, slope y): it is first multiplied by the LeakyReLU's
// derivative at y = gamma xhat + beta, recomputed here exactly as the forward pass formed it.
// CHANNELS is compiled in, so the channel of an element costs no division at run time.
// build.rs also makes a _vec4 variant of this file, whose elements are groups of four
// channels (CHANNELS and len count the groups; for C divisible by 4).

alias Value = f32;

const WORKGROUP: u32 = 256u;

override CHANNELS: u32;           // C
override LEAKY_SLOPE: f32 = 1.0; // slope of the fused LeakyReLU; 1 means none

struct Params {
    len: u32,  // rows C (in Values)
    rows: u32, // R = B H W
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Value>;
@group(0) @binding(2) var<storage, read> d_output: array<Value>;
@group(0) @binding(3) var<storage, read> mean: array<Value>;
@group(0) @binding(4) var<storage, read> inv_std: array<Value>;
@group(0) @binding(5) var<storage, read> gamma: array<Value>;
@group(0) @binding(6) var<storage, read> d_gamma: array<Value>;
@group(0) @binding(7) var<storage, read> d_beta: array<Value>;
@group(0) @binding(8) var<storage, read> beta: array<Value>; // read only with the LeakyReLU
@group(0) @binding(9) var<storage, read_write> d_input: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn batch_norm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let c = i % CHANNELS;
    let s = inv_std[c];
    let xhat = (input[i] - mean[c]) * s;
    var dy = d_output[i];
    if LEAKY_SLOPE != 1.0 {
        let y = gamma[c] * xhat + beta[c];
        dy *= select(Value(LEAKY_SLOPE), Value(1.0), y > Value());
    }
    let per_row = 1.0 / f32(params.rows);
    let centred = dy - d_beta[c] * per_row - xhat * (d_gamma[c] * per_row);
    d_input[i] = gamma[c] * s * centred;
}
