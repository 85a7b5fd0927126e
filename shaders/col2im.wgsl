// Folds patch_len rows back onto the image: the adjoint of im2col, plus bias[c] when HAS_BIAS.
// d_input[b, iy, ix, c] = sum over taps (kh, kw) and output pixels (oy, ox) with
// oy * S + kh - pad_top = iy and ox * S + kw - pad_left = ix of
// d_cols[(b * OH + oy) * OW + ox, (kh * K + kw) * C + c]   (+ bias[c]).
// It is a gather: each invocation sums the (at most K*K) contributions to its own pixel, so no
// two invocations write the same element and no atomics are needed.
// Shapes: d_cols [B*OH*OW, K*K*C]; bias [C]; d_input [B, H, W, C] (NHWC).
// Used for conv2d_backward_input (no bias) and conv_transpose2d_forward (with bias).
// One invocation owns one element of d_input; dispatch ceil(B*H*W*C / WORKGROUP) workgroups,
// spread over x and y when they exceed one axis (see `flat_index`).
//
// As in im2col.wgsl, the geometry is fixed per pipeline by overrides so that its divisions
// compile to multiplications and the tap loops unroll; and as there, build.rs also makes
// col2im_vec4, whose elements are groups of four channels (CHANNELS counts the groups).

alias Value = f32;

override HAS_BIAS: bool = false;

const WORKGROUP: u32 = 256u;

override HEIGHT: u32;     // H of d_input
override WIDTH: u32;      // W of d_input
override CHANNELS: u32;   // C of d_input
override OUT_HEIGHT: u32; // OH, the convolution's output height
override OUT_WIDTH: u32;  // OW
override KERNEL: u32;     // K
override STRIDE: u32;     // S
override PAD_TOP: u32;    // rows of zeros above the image in the convolution
override PAD_LEFT: u32;   // columns of zeros left of the image

struct Params {
    batch: u32, // B
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> d_cols: array<Value>;
@group(0) @binding(2) var<storage, read> bias: array<Value>; // unread unless HAS_BIAS
@group(0) @binding(3) var<storage, read_write> d_input: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn col2im(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = flat_index(gid, groups, WORKGROUP);
    if index >= params.batch * HEIGHT * WIDTH * CHANNELS {
        return;
    }
    let c = index % CHANNELS;
    let pixel = index / CHANNELS;
    let ix = pixel % WIDTH;
    let iy = (pixel / WIDTH) % HEIGHT;
    let b = pixel / (WIDTH * HEIGHT);

    // Output row oy reads input row iy through tap kh when oy * S = iy + pad_top - kh. The
    // shifted coordinates stay unsigned: the smallest, iy + pad_top - (K - 1), is offset by
    // K - 1 so that no value goes below zero.
    let patch_len = KERNEL * KERNEL * CHANNELS;
    var sum = Value();
    for (var kh = 0u; kh < KERNEL; kh++) {
        let y = iy + PAD_TOP + (KERNEL - 1u) - kh; // = (oy * S) + K - 1
        if y < KERNEL - 1u || (y - (KERNEL - 1u)) % STRIDE != 0u {
            continue;
        }
        let oy = (y - (KERNEL - 1u)) / STRIDE;
        if oy >= OUT_HEIGHT {
            continue;
        }
        let row_base = (b * OUT_HEIGHT + oy) * OUT_WIDTH;
        for (var kw = 0u; kw < KERNEL; kw++) {
            let x = ix + PAD_LEFT + (KERNEL - 1u) - kw;
            if x < KERNEL - 1u || (x - (KERNEL - 1u)) % STRIDE != 0u {
                continue;
            }
            let ox = (x - (KERNEL - 1u)) / STRIDE;
            if ox >= OUT_WIDTH {
                continue;
            }
            let column = (kh * KERNEL + kw) * CHANNELS + c;
            sum += d_cols[(row_base + ox) * patch_len + column];
        }
    }
    if HAS_BIAS {
        sum += bias[c];
    }
    d_input[index] = sum;
}
