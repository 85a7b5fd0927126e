// Matrix-product core for CPU drivers with 8-lane subgroups (lavapipe/llvmpipe):
// C = op(A) * op(B), plus bias[n] on every row when HAS_BIAS, then an optional LeakyReLU.
// C[m, n] = sum_k op(A)[m, k] * op(B)[k, n] (+ bias[n]).
// Shapes: op(A) is [M, K], stored as A [M, K], or as [K, M] when TRANSPOSE_A;
// op(B) is [K, N], stored as B [K, N], or as [N, K] when TRANSPOSE_B; bias [N]; C [M, N].
// Same interface as matmul.wgsl; src/layers/matmul.rs picks between them.
//
// Ownership: a workgroup is 8 subgroups of 8 lanes and owns a 32 x 128 block of C: rows
// 32 * workgroup_id.y onwards, shared by all its subgroups; subgroup s takes the 16-column strip
// s of the workgroup's 128 columns. Lane l of a subgroup owns 32 rows x 2 columns: columns
// strip + l and strip + 8 + l. Dispatch (ceil(N / 128), ceil(M / 32)) workgroups. It needs the
// SUBGROUP feature and subgroups of exactly 8 lanes; the host checks both.
//
// Per step of k each lane loads its 2 values of op(B) and 4 values of op(A): the values of rows
// row0 + lane, row0 + 8 + lane, ... Broadcasting each of those from every lane in turn gives
// all lanes the 32 rows of op(A), so 6 loads feed 64 multiply-adds.
//
// WHY IT IS WRITTEN OUT LONG-HAND (measured on llvmpipe; please do not fold it into loops):
// 1. llvmpipe runs the 8 lanes as one 256-bit vector, and every storage-buffer load is issued
//    per lane (a scalar load and a bounds check each), even when the address is the same for
//    all lanes. Loads are what cost; multiply-adds are nearly free. So each lane loads one
//    value and the subgroup shares it by broadcast, instead of every lane loading every row.
// 2. Function-local arrays indexed in a loop are not turned into registers: the same kernel
//    with `var acc: array<...>` and loops over rows ran 15 times slower. Accumulators must be
//    named variables (vec4s with constant component indices are fine) and the row steps must
//    be straight-line code. Small helper functions are inlined and cost nothing.
//
// Ragged edges: row and column indices are clamped into the matrix before the loop, so every
// load stays in bounds and the loop carries no guard; only the stores are guarded. A subgroup
// whose strip lies wholly past the last column returns at once (the whole subgroup leaves, so
// the broadcasts of the others still see all 8 lanes).

override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;
override HAS_BIAS: bool = false;
override LEAKY_SLOPE: f32 = 1.0; // LeakyReLU after the bias when < 1, as in matmul.wgsl

const LANES: u32 = 8u; // subgroup size this kernel is written for
const ROWS: u32 = 32u; // rows of C per workgroup (and per subgroup)
const STRIP: u32 = 16u; // columns of C per subgroup: 2 per lane
const SUBGROUPS: u32 = 8u; // subgroups per workgroup, side by side along the columns

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

// The values `v` of lanes 0..3 (or 4..7) as one vector: four consecutive rows of op(A).
// The lane index of subgroupBroadcast must be a constant, hence two spelled-out helpers.
fn lanes_0_to_3(v: f32) -> vec4<f32> {
    return vec4<f32>(
        subgroupBroadcast(v, 0u),
        subgroupBroadcast(v, 1u),
        subgroupBroadcast(v, 2u),
        subgroupBroadcast(v, 3u),
    );
}

fn lanes_4_to_7(v: f32) -> vec4<f32> {
    return vec4<f32>(
        subgroupBroadcast(v, 4u),
        subgroupBroadcast(v, 5u),
        subgroupBroadcast(v, 6u),
        subgroupBroadcast(v, 7u),
    );
}

// Stores rows `row` .. `row + 3` of column `col`, skipping those outside C.
fn store_rows(row: u32, col: u32, sums: vec4<f32>) {
    let m = params.m;
    let n = params.n;
    if col >= n {
        return;
    }
    var value = sums;
    if HAS_BIAS {
        value += vec4<f32>(bias[col]);
    }
    if LEAKY_SLOPE != 1.0 {
        value = select(LEAKY_SLOPE * value, value, value > vec4<f32>());
    }
    if row < m {
        c[row * n + col] = value.x;
    }
    if row + 1u < m {
        c[(row + 1u) * n + col] = value.y;
    }
    if row + 2u < m {
        c[(row + 2u) * n + col] = value.z;
    }
    if row + 3u < m {
        c[(row + 3u) * n + col] = value.w;
    }
}

@compute @workgroup_size(64)
fn matmul_subgroup(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(subgroup_id) subgroup: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let m = params.m;
    let n = params.n;
    let k = params.k;
    let row0 = group.y * ROWS;
    let strip = (group.x * SUBGROUPS + subgroup) * STRIP;
    if row0 >= m || strip >= n {
        return;
    }
    let col0 = strip + lane;
    let col1 = strip + LANES + lane;

    // Storage strides of op(A)[row, kk] and op(B)[kk, col].
    let a_row_stride = select(k, 1u, TRANSPOSE_A);
    let a_k_stride = select(1u, m, TRANSPOSE_A);
    let b_k_stride = select(n, 1u, TRANSPOSE_B);
    let b_col_stride = select(1u, k, TRANSPOSE_B);

    // Clamped offsets: rows and columns past the edge repeat the last one, and their sums are
    // simply not stored. This lane loads rows row0 + lane + 8 q (q = 0..3).
    let a_offset0 = min(row0 + lane, m - 1u) * a_row_stride;
    let a_offset1 = min(row0 + LANES + lane, m - 1u) * a_row_stride;
    let a_offset2 = min(row0 + 2u * LANES + lane, m - 1u) * a_row_stride;
    let a_offset3 = min(row0 + 3u * LANES + lane, m - 1u) * a_row_stride;
    let b_offset0 = min(col0, n - 1u) * b_col_stride;
    let b_offset1 = min(col1, n - 1u) * b_col_stride;

    // accR_J: rows row0 + 4 R .. row0 + 4 R + 3 of column colJ.
    var acc0_0 = vec4<f32>();
    var acc0_1 = vec4<f32>();
    var acc1_0 = vec4<f32>();
    var acc1_1 = vec4<f32>();
    var acc2_0 = vec4<f32>();
    var acc2_1 = vec4<f32>();
    var acc3_0 = vec4<f32>();
    var acc3_1 = vec4<f32>();
    var acc4_0 = vec4<f32>();
    var acc4_1 = vec4<f32>();
    var acc5_0 = vec4<f32>();
    var acc5_1 = vec4<f32>();
    var acc6_0 = vec4<f32>();
    var acc6_1 = vec4<f32>();
    var acc7_0 = vec4<f32>();
    var acc7_1 = vec4<f32>();

    for (var kk = 0u; kk < k; kk++) {
        let a_k = kk * a_k_stride;
        let b_k = kk * b_k_stride;
        let b0 = vec4<f32>(b[b_k + b_offset0]);
        let b1 = vec4<f32>(b[b_k + b_offset1]);
        let a0 = a[a_k + a_offset0];
        let a1 = a[a_k + a_offset1];
        let a2 = a[a_k + a_offset2];
        let a3 = a[a_k + a_offset3];

        let rows0 = lanes_0_to_3(a0);
        acc0_0 = fma(rows0, b0, acc0_0);
        acc0_1 = fma(rows0, b1, acc0_1);
        let rows1 = lanes_4_to_7(a0);
        acc1_0 = fma(rows1, b0, acc1_0);
        acc1_1 = fma(rows1, b1, acc1_1);
        let rows2 = lanes_0_to_3(a1);
        acc2_0 = fma(rows2, b0, acc2_0);
        acc2_1 = fma(rows2, b1, acc2_1);
        let rows3 = lanes_4_to_7(a1);
        acc3_0 = fma(rows3, b0, acc3_0);
        acc3_1 = fma(rows3, b1, acc3_1);
        let rows4 = lanes_0_to_3(a2);
        acc4_0 = fma(rows4, b0, acc4_0);
        acc4_1 = fma(rows4, b1, acc4_1);
        let rows5 = lanes_4_to_7(a2);
        acc5_0 = fma(rows5, b0, acc5_0);
        acc5_1 = fma(rows5, b1, acc5_1);
        let rows6 = lanes_0_to_3(a3);
        acc6_0 = fma(rows6, b0, acc6_0);
        acc6_1 = fma(rows6, b1, acc6_1);
        let rows7 = lanes_4_to_7(a3);
        acc7_0 = fma(rows7, b0, acc7_0);
        acc7_1 = fma(rows7, b1, acc7_1);
    }

    store_rows(row0, col0, acc0_0);
    store_rows(row0, col1, acc0_1);
    store_rows(row0 + 4u, col0, acc1_0);
    store_rows(row0 + 4u, col1, acc1_1);
    store_rows(row0 + 8u, col0, acc2_0);
    store_rows(row0 + 8u, col1, acc2_1);
    store_rows(row0 + 12u, col0, acc3_0);
    store_rows(row0 + 12u, col1, acc3_1);
    store_rows(row0 + 16u, col0, acc4_0);
    store_rows(row0 + 16u, col1, acc4_1);
    store_rows(row0 + 20u, col0, acc5_0);
    store_rows(row0 + 20u, col1, acc5_1);
    store_rows(row0 + 24u, col0, acc6_0);
    store_rows(row0 + 24u, col1, acc6_1);
    store_rows(row0 + 28u, col0, acc7_0);
    store_rows(row0 + 28u, col1, acc7_1);
}
