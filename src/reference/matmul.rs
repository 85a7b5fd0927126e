//! The matrix-product core and the bias gradient (column sums).

use super::Real;

/// `c[m, n] = sum_k op(a)[m, k] * op(b)[k, n] (+ bias[n])`, with op(a) [M, K] stored as `a`
/// [M, K] or, when `transpose_a`, [K, M]; op(b) [K, N] stored as `b` [K, N] or, when
/// `transpose_b`, [N, K]. Returns c [M, N].
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Real>(
    a: &[T],
    b: &[T],
    bias: Option<&[T]>,
    m: usize,
    n: usize,
    k: usize,
    transpose_a: bool,
    transpose_b: bool,
) -> Vec<T> {
    assert_eq!(a.len(), m * k, "matmul: a must hold M*K values");
    assert_eq!(b.len(), k * n, "matmul: b must hold K*N values");
    let a_at = |row: usize, inner: usize| {
        if transpose_a {
            a[inner * m + row]
        } else {
            a[row * k + inner]
        }
    };
    let b_at = |inner: usize, col: usize| {
        if transpose_b {
            b[col * k + inner]
        } else {
            b[inner * n + col]
        }
    };
    let mut c = Vec::with_capacity(m * n);
    for row in 0..m {
        for col in 0..n {
            let mut sum = bias.map_or(T::zero(), |bias| bias[col]);
            for inner in 0..k {
                sum += a_at(row, inner) * b_at(inner, col);
            }
            c.push(sum);
        }
    }
    c
}

/// Column sums of `d_output` [rows, cols]: the gradient of a bias added to every row,
/// `d_bias[n] = sum_m d_output[m, n]`.
pub fn bias_backward<T: Real>(d_output: &[T], rows: usize, cols: usize) -> Vec<T> {
    assert_eq!(
        d_output.len(),
        rows * cols,
        "bias_backward: d_output must hold rows*cols"
    );
    let mut sums = vec![T::zero(); cols];
    for row in d_output.chunks(cols.max(1)).take(rows) {
        for (sum, &value) in sums.iter_mut().zip(row) {
            *sum += value;
        }
    }
    sums
}
