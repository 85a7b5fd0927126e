// Column means of a per-row table: out[j] = (1 / B) * sum_b rows[b, j] for j < 2.
// Turns the per-row (loss, correct) of softmax_xent_forward into [mean loss, accuracy], and the
// per-row (loss, D) of gan_head_forward into [mean loss, mean D].
// Shapes: rows [B, 2], out [2].
// One invocation owns one column and sums it serially: B is a training batch (32), so a tree
// reduction through workgroup memory would cost more than it saves, above all on CPU adapters.
// Dispatch one workgroup.

const WORKGROUP: u32 = 64u;

struct Params {
    batch: u32, // B, rows of the table
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn softmax_xent_mean_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= 2u {
        return;
    }
    var total = 0.0;
    for (var b = 0u; b < params.batch; b++) {
        total += rows[2u * b + j];
    }
    out[j] = total / f32(params.batch);
}
