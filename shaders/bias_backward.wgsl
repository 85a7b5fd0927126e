// Bias gradient as column sums, one level of a two-level (or deeper) reduction.
// Forward: y[r, n] = ... + bias[n] on every row r, so d_bias[n] = sum_r d_output[r, n].
// This pass sums `chunk_rows` consecutive rows at a time:
// partial[p, n] = sum_{r = p * chunk_rows}^{min((p + 1) * chunk_rows, rows) - 1} input[r, n].
// The launcher runs it again on `partial` until one row is left, which is d_bias; short
// chunks keep the rounding error small and give rows / chunk_rows times more parallel work.
// Shapes: input [rows, cols] (an NHWC [B, H, W, C] activation is [B*H*W, C]);
// partial [ceil(rows / chunk_rows), cols].
// One invocation owns one (chunk p, column n) sum; consecutive invocations take consecutive
// columns, so their loads are adjacent. Dispatch ceil(chunks * cols / WORKGROUP) invocations'
// workgroups, spread over x and y when they exceed one axis (see `flat_index`).

const WORKGROUP: u32 = 256u;

struct Params {
    rows: u32,       // rows of input
    cols: u32,       // columns of input and of partial
    chunk_rows: u32, // rows summed by one invocation
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn bias_backward(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = flat_index(gid, groups, WORKGROUP);
    // At least one chunk, so that zero rows still write zeros.
    let chunks = max((params.rows + params.chunk_rows - 1u) / params.chunk_rows, 1u);
    if index >= chunks * params.cols {
        return;
    }
    let col = index % params.cols;
    let chunk = index / params.cols;
    let first = chunk * params.chunk_rows;
    let last = min(first + params.chunk_rows, params.rows);
    var sum = 0.0;
    for (var row = first; row < last; row++) {
        sum += input[row * params.cols + col];
    }
    partial[index] = sum;
}
