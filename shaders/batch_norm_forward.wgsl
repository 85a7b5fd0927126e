// Batch norm forward, elementwise: output = gamma[c] (input - mean[c]) inv_std[c] + beta[c],
// c = channel of the element (the fastest index of NHWC).
// Training passes the saved batch mean and inv_std (stats_are_running = 0). Inference passes
// the running mean and running variance (stats_are_running = 1), and then
// inv_std = 1 / sqrt(running_var + epsilon) is formed here.
// Shapes: input, output [rows, C]; mean, spread (inv_std or running variance), gamma, beta [C].
// One invocation owns one element; dispatch ceil(rows C / WORKGROUP) workgroups along x.
//
// With LEAKY_SLOPE < 1 the LeakyReLU that follows the batch norm in both models is applied
// here too (output = max(y, slope y)), saving a pass over the activation and back.
// CHANNELS is compiled in, so the channel of an element costs no division at run time.
// build.rs also makes a _vec4 variant of this file, whose elements are groups of four
// channels (CHANNELS and len count the groups; for C divisible by 4).

alias Value = f32;

const WORKGROUP: u32 = 256u;

override CHANNELS: u32;           // C
override LEAKY_SLOPE: f32 = 1.0; // slope of the fused LeakyReLU; 1 means none

struct Params {
    len: u32,               // rows C (in Values)
    epsilon: f32,           // added to the running variance (1e-3)
    stats_are_running: u32, // 0: spread holds inv_std; 1: spread holds the running variance
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Value>;
@group(0) @binding(2) var<storage, read> mean: array<Value>;
@group(0) @binding(3) var<storage, read> spread: array<Value>;
@group(0) @binding(4) var<storage, read> gamma: array<Value>;
@group(0) @binding(5) var<storage, read> beta: array<Value>;
@group(0) @binding(6) var<storage, read_write> output: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn batch_norm_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let c = i % CHANNELS;
    var scale = spread[c];
    if params.stats_are_running != 0u {
        scale = 1.0 / sqrt(scale + params.epsilon);
    }
    let y = gamma[c] * ((input[i] - mean[c]) * scale) + beta[c];
    output[i] = select(LEAKY_SLOPE * y, y, y > Value());
}
