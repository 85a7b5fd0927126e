// Softmax cross-entropy forward, one row per invocation.
// For row b with logits l (C classes) and label y: m = max_k l_k, s = sum_k exp(l_k - m),
// probs[b, k] = exp(l_k - m) / s, and the row loss -log softmax_y(l) = log(s) - (l_y - m),
// which never takes the logarithm of an underflowed probability.
// rows[b] = (row loss, 1 if argmax_k l_k == y else 0), ties going to the lowest index.
// softmax_xent_mean_rows then averages `rows` into [loss, accuracy].
// Shapes: logits [B, C], labels [B] (u32), probs [B, C], rows [B, 2].
// One invocation owns one row; dispatch ceil(B / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    batch: u32,   // B, rows
    classes: u32, // C, logits per row
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> rows: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn softmax_xent_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if b >= params.batch {
        return;
    }
    let start = b * params.classes;

    // The maximum and its first index: the shift for stability and the prediction.
    var best = logits[start];
    var best_k = 0u;
    for (var k = 1u; k < params.classes; k++) {
        let value = logits[start + k];
        if value > best {
            best = value;
            best_k = k;
        }
    }

    var total = 0.0;
    for (var k = 0u; k < params.classes; k++) {
        let e = exp(logits[start + k] - best);
        probs[start + k] = e;
        total += e;
    }
    let inv_total = 1.0 / total;
    for (var k = 0u; k < params.classes; k++) {
        probs[start + k] *= inv_total;
    }

    let label = labels[b];
    rows[2u * b] = log(total) - (logits[start + label] - best);
    rows[2u * b + 1u] = select(0.0, 1.0, best_k == label);
}
