// Unfolds convolution patches into rows of a matrix, so a convolution becomes one product.
// cols[r, (kh * K + kw) * C + c] = input[b, oy * S + kh - pad_top, ox * S + kw - pad_left, c]
// with r = (b * OH + oy) * OW + ox, and 0 where the tap falls in the padding.
// Shapes: input [B, H, W, C] (NHWC); cols [B*OH*OW, K*K*C], columns ordered (kh, kw, c) to
// match a [K, K, C, C_out] weight viewed as a [K*K*C, C_out] matrix.
// One invocation owns one element of cols; dispatch ceil(B*OH*OW*K*K*C / WORKGROUP)
// workgroups, spread over x and y when they exceed one axis (see `flat_index`).

const WORKGROUP: u32 = 256u;

struct Params {
    batch: u32,      // B
    height: u32,     // H of the input
    width: u32,      // W of the input
    channels: u32,   // C of the input
    out_height: u32, // OH
    out_width: u32,  // OW
    kernel: u32,     // K
    stride: u32,     // S
    pad_top: u32,    // rows of zeros above the input
    pad_left: u32,   // columns of zeros left of the input
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn im2col(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = flat_index(gid, groups, WORKGROUP);
    let patch_len = params.kernel * params.kernel * params.channels;
    let rows = params.batch * params.out_height * params.out_width;
    if index >= rows * patch_len {
        return;
    }

    // Column -> (kh, kw, c); row -> (b, oy, ox).
    let column = index % patch_len;
    let row = index / patch_len;
    let c = column % params.channels;
    let tap = column / params.channels;
    let kw = tap % params.kernel;
    let kh = tap / params.kernel;
    let ox = row % params.out_width;
    let oy = (row / params.out_width) % params.out_height;
    let b = row / (params.out_width * params.out_height);

    // Input coordinates, signed because the padding reaches above and left of the input.
    let iy = i32(oy * params.stride + kh) - i32(params.pad_top);
    let ix = i32(ox * params.stride + kw) - i32(params.pad_left);
    let inside = iy >= 0 && iy < i32(params.height) && ix >= 0 && ix < i32(params.width);
    var value = 0.0;
    if inside {
        let pixel = (b * params.height + u32(iy)) * params.width + u32(ix);
        value = input[pixel * params.channels + c];
    }
    cols[index] = value;
}
