// Unsupervised (real/fake) head backward. Forward: loss = (1 / B) sum_b softplus(s_b) - t s_b
// with s_b = logsumexp(l_b). Derivative: d loss / d s_b = (sigmoid(s_b) - t) / B = (D_b - t) / B
// and d s_b / d l[b, k] = softmax_k(l_b), so d_logits[b, k] = (D_b - t) * softmax_k(l_b) / B.
// Reads probs and d_s = D - t saved by gan_head_forward; overwrites d_logits.
// Shapes: probs [B, C], d_s [B], d_logits [B, C].
// One invocation owns one element; dispatch ceil(B * C / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 256u;

struct Params {
    batch: u32,   // B, rows
    classes: u32, // C, logits per row
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read> d_s: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_logits: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn gan_head_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.batch * params.classes {
        return;
    }
    let b = i / params.classes;
    d_logits[i] = d_s[b] * probs[i] / f32(params.batch);
}
