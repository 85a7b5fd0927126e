// Batch norm backward, stage 1 of the parameter gradients: per chunk of rows and channel, the
// partial sums of d_output and of d_output * xhat, xhat = (input - mean) inv_std recomputed
// from the forward input and the saved statistics. Chunks as in batch_norm_partial_stats;
// batch_norm_backward_params adds them up.
// Shapes: input, d_output [rows, C]; mean, inv_std [C]; partials [chunks, C, 2] holding
// (sum d_output, sum d_output xhat).
// One invocation owns one (chunk, channel) pair, channels fastest; dispatch
// ceil(chunks C / WORKGROUP) workgroups along x.
//
// With LEAKY_SLOPE < 1 the forward pass also applied a LeakyReLU (see batch_norm_forward),
// so d_output is the gradient of max(y, slope y): it is first multiplied by the LeakyReLU's
// derivative at y = gamma xhat + beta, recomputed here exactly as the forward pass formed it.

const WORKGROUP: u32 = 64u;

override LEAKY_SLOPE: f32 = 1.0; // slope of the fused LeakyReLU; 1 means none

struct Params {
    rows: u32,       // B H W
    channels: u32,   // C
    chunk_rows: u32, // rows per chunk
    chunks: u32,     // ceil(rows / chunk_rows)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> d_output: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> inv_std: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>; // read only with the LeakyReLU
@group(0) @binding(6) var<storage, read> beta: array<f32>;  // read only with the LeakyReLU
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn batch_norm_backward_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.chunks * params.channels {
        return;
    }
    let chunk = i / params.channels;
    let c = i % params.channels;
    let first = chunk * params.chunk_rows;
    let end = min(first + params.chunk_rows, params.rows);
    let m = mean[c];
    let s = inv_std[c];

    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var r = first; r < end; r++) {
        let at = r * params.channels + c;
        let xhat = (input[at] - m) * s;
        var dy = d_output[at];
        if LEAKY_SLOPE != 1.0 {
            let y = gamma[c] * xhat + beta[c];
            dy *= select(LEAKY_SLOPE, 1.0, y > 0.0);
        }
        sum_dy += dy;
        sum_dy_xhat += dy * xhat;
    }
    partials[2u * i] = sum_dy;
    partials[2u * i + 1u] = sum_dy_xhat;
}
