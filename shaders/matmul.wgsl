// Matrix-product core: C = op(A) * op(B), plus bias[n] on every row when HAS_BIAS, then an
// optional LeakyReLU (LEAKY_SLOPE).
// C[m, n] = sum_k op(A)[m, k] * op(B)[k, n] (+ bias[n]).
// Shapes: op(A) is [M, K], stored as A [M, K], or as [K, M] when TRANSPOSE_A;
// op(B) is [K, N], stored as B [K, N], or as [N, K] when TRANSPOSE_B; bias [N]; C [M, N].
// One invocation owns a BLOCK x BLOCK block of C (8 rows, 8 columns); a workgroup of 8 x 8
// invocations owns 64 x 64. Dispatch (ceil(N / 64), ceil(M / 64)) workgroups.
//
// The transposes and the bias are pipeline overrides, so each specialisation has one straight
// inner loop. Ragged edges: row and column indices are clamped into the matrix before the loop,
// so every load stays in bounds and the loop carries no guard; only the stores are guarded.
// No workgroup memory, so it suits CPU drivers (lavapipe).

override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;
override HAS_BIAS: bool = false;
// With LEAKY_SLOPE < 1 a LeakyReLU is applied after the bias, before the store (the
// discriminator's first convolution), saving a pass over the output; 1 means none.
override LEAKY_SLOPE: f32 = 1.0;

const BLOCK: u32 = 8u;

struct Params {
    m: u32, // rows of C and of op(A)
    n: u32, // columns of C and of op(B)
    k: u32, // inner dimension
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>; // unread unless HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(8, 8)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = params.m;
    let n = params.n;
    let k = params.k;
    let row0 = gid.y * BLOCK;
    let col0 = gid.x * BLOCK;
    if row0 >= m || col0 >= n {
        return;
    }

    // Storage strides of op(A)[row, kk] and op(B)[kk, col].
    let a_row_stride = select(k, 1u, TRANSPOSE_A);
    let a_k_stride = select(1u, m, TRANSPOSE_A);
    let b_k_stride = select(n, 1u, TRANSPOSE_B);
    let b_col_stride = select(1u, k, TRANSPOSE_B);

    // Clamped offsets: rows and columns past the edge repeat the last one, and their sums are
    // simply not stored.
    var a_offset: array<u32, BLOCK>;
    var b_offset: array<u32, BLOCK>;
    for (var i = 0u; i < BLOCK; i++) {
        a_offset[i] = min(row0 + i, m - 1u) * a_row_stride;
        b_offset[i] = min(col0 + i, n - 1u) * b_col_stride;
    }

    // acc[2 i] holds columns 0..3 of row i, acc[2 i + 1] columns 4..7.
    var acc: array<vec4<f32>, 16>;
    for (var kk = 0u; kk < k; kk++) {
        let a_k = kk * a_k_stride;
        let b_k = kk * b_k_stride;
        let b_lo = vec4<f32>(
            b[b_k + b_offset[0]],
            b[b_k + b_offset[1]],
            b[b_k + b_offset[2]],
            b[b_k + b_offset[3]],
        );
        let b_hi = vec4<f32>(
            b[b_k + b_offset[4]],
            b[b_k + b_offset[5]],
            b[b_k + b_offset[6]],
            b[b_k + b_offset[7]],
        );
        for (var i = 0u; i < BLOCK; i++) {
            let a_value = a[a_k + a_offset[i]];
            acc[2u * i] = fma(vec4<f32>(a_value), b_lo, acc[2u * i]);
            acc[2u * i + 1u] = fma(vec4<f32>(a_value), b_hi, acc[2u * i + 1u]);
        }
    }

    // Guarded stores of the block's rows and columns that lie inside C.
    let rows = min(BLOCK, m - row0);
    let cols = min(BLOCK, n - col0);
    for (var i = 0u; i < rows; i++) {
        let row_start = (row0 + i) * n + col0;
        for (var j = 0u; j < cols; j++) {
            var value = acc[2u * i + j / 4u][j % 4u];
            if HAS_BIAS {
                value += bias[col0 + j];
            }
            if LEAKY_SLOPE != 1.0 {
                value = select(LEAKY_SLOPE * value, value, value > 0.0);
            }
            c[row_start + j] = value;
        }
    }
}
