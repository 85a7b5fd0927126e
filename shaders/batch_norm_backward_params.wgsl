// Batch norm backward, parameter gradients. Forward: y = gamma xhat + beta, so
// d_gamma[c] = sum over rows of d_output xhat and d_beta[c] = sum over rows of d_output;
// here the chunk partial sums of batch_norm_backward_partial are added up.
// Shapes: partials [chunks, C, 2]; d_gamma, d_beta [C].
// One invocation owns one channel; dispatch ceil(C / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    channels: u32, // C
    chunks: u32,   // number of row chunks
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> d_gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_beta: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn batch_norm_backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if c >= params.channels {
        return;
    }
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var k = 0u; k < params.chunks; k++) {
        let at = 2u * (k * params.channels + c);
        sum_dy += partials[at];
        sum_dy_xhat += partials[at + 1u];
    }
    d_beta[c] = sum_dy;
    d_gamma[c] = sum_dy_xhat;
}
