// Matrix-product core for real GPUs, staged through workgroup memory:
// C = op(A) * op(B), plus bias[n] on every row when HAS_BIAS, then an optional LeakyReLU.
// C[m, n] = sum_k op(A)[m, k] * op(B)[k, n] (+ bias[n]).
// Shapes: op(A) is [M, K], stored as A [M, K], or as [K, M] when TRANSPOSE_A;
// op(B) is [K, N], stored as B [K, N], or as [N, K] when TRANSPOSE_B; bias [N]; C [M, N].
// Same interface as matmul.wgsl; src/layers/matmul.rs picks between them.
//
// Ownership: a workgroup of 16 x 16 invocations owns a 64 x 64 block of C. Invocation (x, y)
// owns the 4 x 4 outputs at rows y + 16 i and columns x + 16 j (i, j = 0..3), so neighbouring
// invocations store neighbouring columns. Dispatch (ceil(N / 64), ceil(M / 64)) workgroups.
//
// K is walked in tiles of 16. For each, the 256 invocations copy the 64 x 16 slice of op(A)
// and the 16 x 64 slice of op(B) into workgroup memory (4 values each per operand, read along
// the operand's storage order so that neighbours read neighbouring addresses), meet at a
// barrier, do 16 steps of 16 multiply-adds from workgroup memory, and meet again before the
// next copy overwrites the tiles.
//
// Ragged edges: rows and columns past the edge are clamped to the last one when copied (their
// sums are never stored); k past the edge is copied as zero, so it adds nothing. No invocation
// returns early, since all of them take part in the copies and barriers; only the stores are
// guarded. Barriers and workgroup memory make this slow on CPU drivers; see
// matmul_subgroup.wgsl and matmul.wgsl for those.
//
// Implicit GEMM (IMPLICIT_A): op(A) is the im2col matrix of a convolution, cols[r, p] with
// r = (b, oy, ox) and p = (kh, kw, c) as in im2col.wgsl, or its transpose when TRANSPOSE_A;
// binding 1 then holds the convolution's NHWC input, and each value is read from it as it is
// copied into the tile, zero in the padding. The matrix itself is never written: the tiles
// are the only copy. The geometry overrides below describe that convolution and are unused
// otherwise.

override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;
override HAS_BIAS: bool = false;
override IMPLICIT_A: bool = false;
override LEAKY_SLOPE: f32 = 1.0; // LeakyReLU after the bias when < 1, as in matmul.wgsl

override HEIGHT: u32 = 1u;     // H of the convolution's input
override WIDTH: u32 = 1u;      // W of the input
override CHANNELS: u32 = 1u;   // C of the input
override OUT_HEIGHT: u32 = 1u; // OH
override OUT_WIDTH: u32 = 1u;  // OW
override KERNEL: u32 = 1u;     // K
override STRIDE: u32 = 1u;     // S
override PAD_TOP: u32 = 0u;    // rows of zeros above the input
override PAD_LEFT: u32 = 0u;   // columns of zeros left of the input

const TILE: u32 = 64u; // rows and columns of C per workgroup
const TILE_K: u32 = 16u; // values of k staged per barrier pair
const SIDE: u32 = 16u; // invocations along each axis of the workgroup
const INVOCATIONS: u32 = 256u; // SIDE * SIDE
// Row length in workgroup memory: one more than TILE, so that copies of op(A) or op(B) stored
// along k (the untransposed A, the transposed B) hit different memory banks.
const PITCH: u32 = 65u;

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

// a_tile[kk * PITCH + r] = op(A)[row0 + r, k0 + kk]; b_tile[kk * PITCH + q] = op(B)[k0 + kk,
// col0 + q].
var<workgroup> a_tile: array<f32, TILE_K * PITCH>;
var<workgroup> b_tile: array<f32, TILE_K * PITCH>;

// op(A)[row, kk] for a row and kk inside the matrix: a[row * k + kk], or a[kk * m + row]
// when TRANSPOSE_A; with IMPLICIT_A, the im2col value it stands for.
fn op_a(row: u32, kk: u32) -> f32 {
    if IMPLICIT_A {
        // op(A) = cols, or cols^T: then its rows are patch positions and k runs over pixels.
        return im2col_value(select(row, kk, TRANSPOSE_A), select(kk, row, TRANSPOSE_A));
    }
    return a[select(row * params.k + kk, kk * params.m + row, TRANSPOSE_A)];
}

// cols[r, p] = a[b, oy * S + kh - PAD_TOP, ox * S + kw - PAD_LEFT, c], zero in the padding,
// with r = (b * OH + oy) * OW + ox and p = (kh * K + kw) * C + c.
fn im2col_value(r: u32, p: u32) -> f32 {
    let c = p % CHANNELS;
    let tap = p / CHANNELS;
    let kw = tap % KERNEL;
    let kh = tap / KERNEL;
    let ox = r % OUT_WIDTH;
    let oy = (r / OUT_WIDTH) % OUT_HEIGHT;
    let b = r / (OUT_WIDTH * OUT_HEIGHT);
    let iy = i32(oy * STRIDE + kh) - i32(PAD_TOP);
    let ix = i32(ox * STRIDE + kw) - i32(PAD_LEFT);
    if iy < 0 || iy >= i32(HEIGHT) || ix < 0 || ix >= i32(WIDTH) {
        return 0.0;
    }
    return a[((b * HEIGHT + u32(iy)) * WIDTH + u32(ix)) * CHANNELS + c];
}

// Copies slot `e` (0 .. TILE * TILE_K) of the K tile starting at `k0` into both tiles. Slots
// run along the storage order of each operand: along k where it is stored with k innermost.
fn copy_slot(e: u32, row0: u32, col0: u32, k0: u32) {
    let m = params.m;
    let n = params.n;
    let k = params.k;

    let a_r = select(e / TILE_K, e % TILE, TRANSPOSE_A);
    let a_kk = select(e % TILE_K, e / TILE, TRANSPOSE_A);
    let a_row = min(row0 + a_r, m - 1u);
    let a_k = min(k0 + a_kk, k - 1u);
    a_tile[a_kk * PITCH + a_r] = select(0.0, op_a(a_row, a_k), k0 + a_kk < k);

    // op(B)[kk, col] is b[kk * n + col], or b[col * k + kk] when TRANSPOSE_B.
    let b_q = select(e % TILE, e / TILE_K, TRANSPOSE_B);
    let b_kk = select(e / TILE, e % TILE_K, TRANSPOSE_B);
    let b_col = min(col0 + b_q, n - 1u);
    let b_k = min(k0 + b_kk, k - 1u);
    let b_index = select(b_k * n + b_col, b_col * k + b_k, TRANSPOSE_B);
    b_tile[b_kk * PITCH + b_q] = select(0.0, b[b_index], k0 + b_kk < k);
}

// Stores columns col .. col + 48 (step 16) of row `row`, skipping those outside C.
fn store_row(row: u32, col: u32, sums: vec4<f32>) {
    let m = params.m;
    let n = params.n;
    if row >= m {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let column = col + j * SIDE;
        if column < n {
            var value = sums[j];
            if HAS_BIAS {
                value += bias[column];
            }
            if LEAKY_SLOPE != 1.0 {
                value = select(LEAKY_SLOPE * value, value, value > 0.0);
            }
            c[row * n + column] = value;
        }
    }
}

@compute @workgroup_size(16, 16)
fn matmul_tiled(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) index: u32,
) {
    let row0 = group.y * TILE;
    let col0 = group.x * TILE;
    let x = local.x;
    let y = local.y;

    // accI: columns x, x + 16, x + 32, x + 48 of row y + 16 I.
    var acc0 = vec4<f32>();
    var acc1 = vec4<f32>();
    var acc2 = vec4<f32>();
    var acc3 = vec4<f32>();

    let tiles = (params.k + TILE_K - 1u) / TILE_K;
    for (var t = 0u; t < tiles; t++) {
        let k0 = t * TILE_K;
        copy_slot(index, row0, col0, k0);
        copy_slot(index + INVOCATIONS, row0, col0, k0);
        copy_slot(index + 2u * INVOCATIONS, row0, col0, k0);
        copy_slot(index + 3u * INVOCATIONS, row0, col0, k0);
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            let base = kk * PITCH;
            let a_col = vec4<f32>(
                a_tile[base + y],
                a_tile[base + y + SIDE],
                a_tile[base + y + 2u * SIDE],
                a_tile[base + y + 3u * SIDE],
            );
            let b_row = vec4<f32>(
                b_tile[base + x],
                b_tile[base + x + SIDE],
                b_tile[base + x + 2u * SIDE],
                b_tile[base + x + 3u * SIDE],
            );
            acc0 = fma(vec4<f32>(a_col.x), b_row, acc0);
            acc1 = fma(vec4<f32>(a_col.y), b_row, acc1);
            acc2 = fma(vec4<f32>(a_col.z), b_row, acc2);
            acc3 = fma(vec4<f32>(a_col.w), b_row, acc3);
        }
        workgroupBarrier();
    }

    store_row(row0 + y, col0 + x, acc0);
    store_row(row0 + y + SIDE, col0 + x, acc1);
    store_row(row0 + y + 2u * SIDE, col0 + x, acc2);
    store_row(row0 + y + 3u * SIDE, col0 + x, acc3);
}
