// Softmax cross-entropy backward. Forward: loss = (1 / B) * sum_b -log softmax_{y_b}(l_b).
// Derivative: d loss / d l[b, k] = (softmax_k(l_b) - [k == y_b]) / B.
// Reads the probabilities saved by softmax_xent_forward; overwrites d_logits.
// Shapes: probs [B, C], labels [B] (u32), d_logits [B, C].
// One invocation owns one element; dispatch ceil(B * C / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    batch: u32,   // B, rows
    classes: u32, // C, logits per row
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> d_logits: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn softmax_xent_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.batch * params.classes {
        return;
    }
    let b = i / params.classes;
    let k = i % params.classes;
    let target_k = select(0.0, 1.0, labels[b] == k);
    d_logits[i] = (probs[i] - target_k) / f32(params.batch);
}
