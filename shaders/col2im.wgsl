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

override HAS_BIAS: bool = false;

const WORKGROUP: u32 = 256u;

struct Params {
    batch: u32,      // B
    height: u32,     // H of d_input
    width: u32,      // W of d_input
    channels: u32,   // C of d_input
    out_height: u32, // OH, the convolution's output height
    out_width: u32,  // OW
    kernel: u32,     // K
    stride: u32,     // S
    pad_top: u32,    // rows of zeros above the image in the convolution
    pad_left: u32,   // columns of zeros left of the image
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> d_cols: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>; // unread unless HAS_BIAS
@group(0) @binding(3) var<storage, read_write> d_input: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn col2im(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = flat_index(gid, groups, WORKGROUP);
    if index >= params.batch * params.height * params.width * params.channels {
        return;
    }
    let c = index % params.channels;
    let pixel = index / params.channels;
    let ix = i32(pixel % params.width);
    let iy = i32((pixel / params.width) % params.height);
    let b = pixel / (params.width * params.height);

    let kernel = i32(params.kernel);
    let stride = i32(params.stride);
    let patch_len = params.kernel * params.kernel * params.channels;
    var sum = 0.0;
    for (var kh = 0; kh < kernel; kh++) {
        // Output row oy whose tap kh lands on iy: oy * S = iy + pad_top - kh.
        let y = iy + i32(params.pad_top) - kh;
        if y < 0 || y % stride != 0 || y / stride >= i32(params.out_height) {
            continue;
        }
        let row_base = (b * params.out_height + u32(y / stride)) * params.out_width;
        for (var kw = 0; kw < kernel; kw++) {
            let x = ix + i32(params.pad_left) - kw;
            if x < 0 || x % stride != 0 || x / stride >= i32(params.out_width) {
                continue;
            }
            let row = row_base + u32(x / stride);
            let column = u32(kh * kernel + kw) * params.channels + c;
            sum += d_cols[row * patch_len + column];
        }
    }
    if HAS_BIAS {
        sum += bias[c];
    }
    d_input[index] = sum;
}
