//! The two heads' losses: softmax cross-entropy (supervised) and the real/fake binary
//! cross-entropy on `D = Z / (Z + 1)` (unsupervised), as in `crate::layers::softmax_xent` and
//! `crate::layers::gan_head`. Logits are [B, C] row-major.

use super::Real;

/// What `softmax_xent_forward` followed by `softmax_xent_mean_rows` produce.
#[derive(Clone, Debug)]
pub struct SoftmaxXentForward<T> {
    /// Mean over the batch of -log softmax_label(logits).
    pub loss: T,
    /// Fraction of rows whose first maximum is at the label.
    pub accuracy: T,
    /// softmax(logits) [B, C].
    pub probs: Vec<T>,
    /// Per row (loss, 1 if correct else 0) [B, 2].
    pub rows: Vec<T>,
}

/// What `gan_head_forward` followed by `softmax_xent_mean_rows` produce.
#[derive(Clone, Debug)]
pub struct GanHeadForward<T> {
    /// Mean over the batch of the binary cross-entropy of D against the target.
    pub loss: T,
    /// Mean of D over the batch.
    pub mean_d: T,
    /// softmax(logits) [B, C].
    pub probs: Vec<T>,
    /// Per row (loss, D) [B, 2].
    pub rows: Vec<T>,
    /// Per row `D - t` \[B\], the row loss's derivative in s.
    pub d_s: Vec<T>,
}

/// Index of the first maximum of `row`.
fn argmax<T: Real>(row: &[T]) -> usize {
    let mut best = 0;
    for k in 1..row.len() {
        if row[k] > row[best] {
            best = k;
        }
    }
    best
}

/// (max, softmax, log of the shifted sum) of one row: softmax_k = exp(l_k - max) / sum.
fn softmax_row<T: Real>(row: &[T]) -> (T, Vec<T>, T) {
    let peak = row[argmax(row)];
    let shifted: Vec<T> = row.iter().map(|&l| (l - peak).exp()).collect();
    let total: T = shifted.iter().copied().sum();
    let probs = shifted.into_iter().map(|e| e / total).collect();
    (peak, probs, total.ln())
}

/// Column means of a [B, 2] table: `[sum_b rows[b, 0] / B, sum_b rows[b, 1] / B]`.
pub fn softmax_xent_mean_rows<T: Real>(rows: &[T]) -> [T; 2] {
    let batch = T::from_f64((rows.len() / 2) as f64);
    let column = |j: usize| rows.iter().skip(j).step_by(2).copied().sum::<T>() / batch;
    [column(0), column(1)]
}

/// Per row: softmax, loss `log(sum_k exp(l_k - m)) - (l_y - m)` with m the row maximum, and
/// whether the first maximum is at the label y; then their batch means.
pub fn softmax_xent_forward<T: Real>(
    logits: &[T],
    labels: &[u32],
    classes: usize,
) -> SoftmaxXentForward<T> {
    let mut probs = Vec::with_capacity(logits.len());
    let mut rows = Vec::with_capacity(2 * labels.len());
    for (row, &label) in logits.chunks(classes).zip(labels) {
        let (peak, row_probs, log_total) = softmax_row(row);
        probs.extend(row_probs);
        rows.push(log_total - (row[label as usize] - peak));
        let correct = argmax(row) == label as usize;
        rows.push(if correct { T::one() } else { T::zero() });
    }
    let [loss, accuracy] = softmax_xent_mean_rows(&rows);
    SoftmaxXentForward {
        loss,
        accuracy,
        probs,
        rows,
    }
}

/// Forward: loss = (1 / B) sum_b -log softmax_{y_b}(l_b).
/// Derivative: d loss / d l[b, k] = (softmax_k(l_b) - [k == y_b]) / B.
pub fn softmax_xent_backward<T: Real>(probs: &[T], labels: &[u32], classes: usize) -> Vec<T> {
    let batch = T::from_f64(labels.len() as f64);
    let mut d_logits = Vec::with_capacity(probs.len());
    for (row, &label) in probs.chunks(classes).zip(labels) {
        for (k, &p) in row.iter().enumerate() {
            let target = if k == label as usize {
                T::one()
            } else {
                T::zero()
            };
            d_logits.push((p - target) / batch);
        }
    }
    d_logits
}

/// Number of rows of `logits` whose first maximum lies at `labels[label_offset + b]`.
pub fn softmax_xent_count_correct<T: Real>(
    logits: &[T],
    labels: &[u32],
    label_offset: usize,
    classes: usize,
) -> u32 {
    logits
        .chunks(classes)
        .enumerate()
        .filter(|&(b, row)| argmax(row) == labels[label_offset + b] as usize)
        .count() as u32
}

/// log(1 + x) for x >= 0, accurate also for tiny x: where 1 + x rounds to u, log(u) is exact
/// for u and the factor x / (u - 1) corrects for the rounding.
fn log1p<T: Real>(x: T) -> T {
    let u = T::one() + x;
    if u == T::one() {
        x
    } else {
        u.ln() * x / (u - T::one())
    }
}

/// log(1 + e^s), without overflow for large s or loss of digits for very negative s.
fn softplus<T: Real>(s: T) -> T {
    let magnitude = if s > T::zero() { s } else { -s };
    s.max(T::zero()) + log1p((-magnitude).exp())
}

/// 1 / (1 + e^-s), without overflow for either sign of s.
fn sigmoid<T: Real>(s: T) -> T {
    if s >= T::zero() {
        T::one() / (T::one() + (-s).exp())
    } else {
        let e = s.exp();
        e / (T::one() + e)
    }
}

/// Per row: s = logsumexp(l) (max-shifted), D = Z / (Z + 1) = sigmoid(s), and the binary
/// cross-entropy `-t log D - (1 - t) log(1 - D) = t softplus(-s) + (1 - t) softplus(s)`; then
/// the batch means; also `d_s = D - t = (1 - t) sigmoid(s) - t sigmoid(-s)` per row, for the
/// backward pass. Exact for any finite logits: D is not clipped as Keras clips it.
pub fn gan_head_forward<T: Real>(logits: &[T], classes: usize, target: T) -> GanHeadForward<T> {
    let mut probs = Vec::with_capacity(logits.len());
    let mut rows = Vec::with_capacity(2 * logits.len() / classes);
    let mut d_s = Vec::with_capacity(logits.len() / classes);
    for row in logits.chunks(classes) {
        let (peak, row_probs, log_total) = softmax_row(row);
        probs.extend(row_probs);
        let s = peak + log_total;
        rows.push(target * softplus(-s) + (T::one() - target) * softplus(s));
        rows.push(sigmoid(s));
        d_s.push((T::one() - target) * sigmoid(s) - target * sigmoid(-s));
    }
    let [loss, mean_d] = softmax_xent_mean_rows(&rows);
    GanHeadForward {
        loss,
        mean_d,
        probs,
        rows,
        d_s,
    }
}

/// Forward: loss = (1 / B) sum_b softplus(s_b) - t s_b, with s_b = logsumexp(l_b).
/// Derivative: d loss / d s_b = (sigmoid(s_b) - t) / B = (D_b - t) / B, and
/// d s_b / d l[b, k] = softmax_k(l_b), so d l[b, k] = (D_b - t) softmax_k(l_b) / B.
/// Reads the forward's probs [B, C] and d_s = D - t \[B\].
pub fn gan_head_backward<T: Real>(probs: &[T], d_s: &[T], classes: usize) -> Vec<T> {
    let batch = T::from_f64(d_s.len() as f64);
    let mut d_logits = Vec::with_capacity(probs.len());
    for (row, &d) in probs.chunks(classes).zip(d_s) {
        d_logits.extend(row.iter().map(|&p| d * p / batch));
    }
    d_logits
}
