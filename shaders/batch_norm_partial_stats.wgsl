// Batch norm statistics, stage 1 of 2: per chunk of rows and channel, the mean and the sum of
// squared deviations M2 of that chunk, by two passes over it (accurate, unlike E[x^2] - E[x]^2).
// Chunk k covers rows [k chunk_rows, min((k + 1) chunk_rows, rows)) of the input seen as a
// [rows, C] matrix (an NHWC tensor with rows = B H W). Stage 2 (batch_norm_stats) merges them.
// Splitting the rows keeps many invocations busy without workgroup memory or barriers.
// Shapes: input [rows, C]; partials [chunks, C, 2] holding (mean, M2).
// One invocation owns one (chunk, channel) pair, channels fastest so neighbours read adjacent
// words; dispatch ceil(chunks C / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    rows: u32,       // B H W
    channels: u32,   // C
    chunk_rows: u32, // rows per chunk
    chunks: u32,     // ceil(rows / chunk_rows)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn batch_norm_partial_stats(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.chunks * params.channels {
        return;
    }
    let chunk = i / params.channels;
    let c = i % params.channels;
    let first = chunk * params.chunk_rows;
    let end = min(first + params.chunk_rows, params.rows);

    var sum = 0.0;
    for (var r = first; r < end; r++) {
        sum += input[r * params.channels + c];
    }
    let mean = sum / f32(end - first);
    var m2 = 0.0;
    for (var r = first; r < end; r++) {
        let deviation = input[r * params.channels + c] - mean;
        m2 += deviation * deviation;
    }
    partials[2u * i] = mean;
    partials[2u * i + 1u] = m2;
}
