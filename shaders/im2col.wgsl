// Unfolds convolution patches into rows of a matrix, so a convolution becomes one product.
// cols[r, (kh * K + kw) * C + c] = input[b, oy * S + kh - pad_top, ox * S + kw - pad_left, c]
// with r = (b * OH + oy) * OW + ox, and 0 where the tap falls in the padding.
// Shapes: input [B, H, W, C] (NHWC); cols [B*OH*OW, K*K*C], columns ordered (kh, kw, c) to
// match a [K, K, C, C_out] weight viewed as a [K*K*C, C_out] matrix.
// One invocation owns one element of cols; dispatch ceil(B*OH*OW*K*K*C / WORKGROUP)
// workgroups, spread over x and y when they exceed one axis (see `flat_index`).
//
// The geometry is fixed per pipeline by overrides, not passed as parameters: the index
// arithmetic is all divisions, and divisions by constants compile to multiplications, while
// divisions by runtime values run lane by lane on CPU drivers (several times slower here).
//
// build.rs also makes im2col_vec4 from this file, with Value = vec4<f32>: there every element
// is four consecutive channels and CHANNELS counts such groups (for C divisible by 4). It
// does a quarter of the loads and stores, about 3x faster on lavapipe.

alias Value = f32;

const WORKGROUP: u32 = 256u;

override HEIGHT: u32;     // H of the input
override WIDTH: u32;      // W of the input
override CHANNELS: u32;   // C of the input
override OUT_HEIGHT: u32; // OH
override OUT_WIDTH: u32;  // OW
override KERNEL: u32;     // K
override STRIDE: u32;     // S
override PAD_TOP: u32;    // rows of zeros above the input
override PAD_LEFT: u32;   // columns of zeros left of the input

struct Params {
    batch: u32, // B
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Value>;
@group(0) @binding(2) var<storage, read_write> cols: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn im2col(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = flat_index(gid, groups, WORKGROUP);
    let patch_len = KERNEL * KERNEL * CHANNELS;
    if index >= params.batch * OUT_HEIGHT * OUT_WIDTH * patch_len {
        return;
    }

    // Column -> (kh, kw, c); row -> (b, oy, ox).
    let column = index % patch_len;
    let row = index / patch_len;
    let c = column % CHANNELS;
    let tap = column / CHANNELS;
    let kw = tap % KERNEL;
    let kh = tap / KERNEL;
    let ox = row % OUT_WIDTH;
    let oy = (row / OUT_WIDTH) % OUT_HEIGHT;
    let b = row / (OUT_WIDTH * OUT_HEIGHT);

    // Input coordinates, signed because the padding reaches above and left of the input.
    let iy = i32(oy * STRIDE + kh) - i32(PAD_TOP);
    let ix = i32(ox * STRIDE + kw) - i32(PAD_LEFT);
    let inside = iy >= 0 && iy < i32(HEIGHT) && ix >= 0 && ix < i32(WIDTH);
    var value = Value();
    if inside {
        let pixel = (b * HEIGHT + u32(iy)) * WIDTH + u32(ix);
        value = input[pixel * CHANNELS + c];
    }
    cols[index] = value;
}
