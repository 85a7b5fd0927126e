// Unsupervised (real/fake) head of the SGAN discriminator, forward, one row per invocation.
// For logits l (C classes): Z = sum_k exp(l_k), D = Z / (Z + 1), and the binary cross-entropy
// against the target t (1 real, 0 fake) is -t log D - (1 - t) log(1 - D).
// With s = log Z = m + log(sum_k exp(l_k - m)), m = max_k l_k:
//   log D = s - softplus(s) = -softplus(-s) and log(1 - D) = -softplus(s), so the row loss is
//   t softplus(-s) + (1 - t) softplus(s) (equal to softplus(s) - t s, but without its
//   cancellation when t = 1 and s is large), and D = sigmoid(s). Both are finite for every
//   finite logit: nothing is clipped, unlike Keras.
// Writes probs[b, k] = softmax_k(l), rows[b] = (row loss, D) and d_s[b] = d(row loss) / ds =
// D - t, evaluated as (1 - t) sigmoid(s) - t sigmoid(-s) so that it keeps full precision when D
// is near 1; the backward pass reads probs and d_s. softmax_xent_mean_rows then averages `rows`
// into [mean loss, mean D].
// Shapes: logits [B, C], probs [B, C], rows [B, 2], d_s [B].
// One invocation owns one row; dispatch ceil(B / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    batch: u32,    // B, rows
    classes: u32,  // C, logits per row
    target_d: f32, // t, the same for the whole batch: 1 for real images, 0 for generated ones
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> rows: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_s: array<f32>;

// log(1 + x) for x in [0, 1], without calling log near 1 (where GPU log may only be accurate
// to an absolute 2^-21). With z = x / (2 + x) in [0, 1/3]:
// log(1 + x) = 2 atanh(z) = 2 (z + z^3/3 + z^5/5 + ...); eight terms leave a relative error
// below z^16 / 17 < 2e-9, under half an f32 ulp.
fn log1p_unit(x: f32) -> f32 {
    let z = x / (2.0 + x);
    let w = z * z;
    var series = 1.0 / 15.0;
    series = series * w + 1.0 / 13.0;
    series = series * w + 1.0 / 11.0;
    series = series * w + 1.0 / 9.0;
    series = series * w + 1.0 / 7.0;
    series = series * w + 1.0 / 5.0;
    series = series * w + 1.0 / 3.0;
    series = series * w + 1.0;
    return 2.0 * z * series;
}

@compute @workgroup_size(WORKGROUP)
fn gan_head_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if b >= params.batch {
        return;
    }
    let start = b * params.classes;

    var peak = logits[start];
    for (var k = 1u; k < params.classes; k++) {
        peak = max(peak, logits[start + k]);
    }
    var total = 0.0;
    for (var k = 0u; k < params.classes; k++) {
        let e = exp(logits[start + k] - peak);
        probs[start + k] = e;
        total += e;
    }
    let inv_total = 1.0 / total;
    for (var k = 0u; k < params.classes; k++) {
        probs[start + k] *= inv_total;
    }

    // total lies in [1, C], so its logarithm neither overflows nor underflows.
    let s = peak + log(total);
    // softplus(+-s) = log(1 + e^(+-s)) = max(+-s, 0) + log(1 + e^-|s|), which never overflows.
    let e = exp(-abs(s));
    let tail = log1p_unit(e);
    let minus_log_d = max(-s, 0.0) + tail;
    let minus_log_not_d = max(s, 0.0) + tail;
    let t = params.target_d;
    rows[2u * b] = t * minus_log_d + (1.0 - t) * minus_log_not_d;
    // sigmoid(+-s), each with an exponential that cannot overflow.
    let sigmoid_pos = select(e / (1.0 + e), 1.0 / (1.0 + e), s >= 0.0);
    let sigmoid_neg = select(1.0 / (1.0 + e), e / (1.0 + e), s >= 0.0);
    rows[2u * b + 1u] = sigmoid_pos;
    d_s[b] = (1.0 - t) * sigmoid_pos - t * sigmoid_neg;
}
