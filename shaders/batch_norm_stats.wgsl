// Batch norm statistics, stage 2 of 2: per channel, merge the chunk (mean, M2) pairs of
// batch_norm_partial_stats into the batch mean and BIASED variance var = M2 / rows, and save
// mean and inv_std = 1 / sqrt(var + epsilon) for the forward and backward passes.
// Merging chunk b (n_b rows) into the running total a (n_a rows), n = n_a + n_b:
//   delta = mean_b - mean_a, mean = mean_a + delta n_b / n, M2 = M2_a + M2_b + delta^2 n_a n_b / n.
// With update_running set, also running = momentum running + (1 - momentum) batch for the
// mean and the variance; the variance blended in is the biased batch variance, as the spec
// states (Keras 3 does the same; TF's fused kernel would blend the unbiased one).
// Shapes: partials [chunks, C, 2]; mean, inv_std, running_mean, running_var [C].
// One invocation owns one channel; dispatch ceil(C / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    rows: u32,           // B H W
    channels: u32,       // C
    chunk_rows: u32,     // rows per chunk of stage 1
    chunks: u32,         // ceil(rows / chunk_rows)
    epsilon: f32,        // added to the variance (1e-3)
    momentum: f32,       // weight of the old running statistics (0.99)
    update_running: u32, // 1: blend the batch statistics into the running ones; 0: leave them
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> inv_std: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn batch_norm_stats(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if c >= params.channels {
        return;
    }
    var count = 0.0;
    var total_mean = 0.0;
    var total_m2 = 0.0;
    for (var k = 0u; k < params.chunks; k++) {
        let n_b = f32(min(params.chunk_rows, params.rows - k * params.chunk_rows));
        let at = 2u * (k * params.channels + c);
        let n = count + n_b;
        let delta = partials[at] - total_mean;
        total_mean += delta * (n_b / n);
        total_m2 += partials[at + 1u] + delta * delta * (count * n_b / n);
        count = n;
    }
    let variance = total_m2 / f32(params.rows);
    mean[c] = total_mean;
    inv_std[c] = 1.0 / sqrt(variance + params.epsilon);
    if params.update_running != 0u {
        let keep = params.momentum;
        running_mean[c] = keep * running_mean[c] + (1.0 - keep) * total_mean;
        running_var[c] = keep * running_var[c] + (1.0 - keep) * variance;
    }
}
