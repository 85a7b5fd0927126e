// Minibatch gather of images: output[b, j] = (p - 127.5) / 127.5, where p is byte j of image
// indices[b] in the packed dataset. The dataset packs each image's bytes four to a u32, little
// endian (byte j at bits 8 (j % 4) of word j / 4), each image padded to `words_per_image`.
// The scaling is computed as (p - 127.5) * (1 / 127.5): the subtraction is exact and the one
// rounded product is the same on every device, so the CPU reference matches bit for bit.
// An index past the dataset is a caller bug; its pixels become NaN so that it shows.
// Shapes: indices [B] u32; images [count, words_per_image] u32; output [B, pixels] f32.
// One invocation owns one output pixel; dispatch ceil(B * pixels / WORKGROUP) workgroups on x.

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,             // B * pixels, the number of output values
    pixels: u32,          // pixels per image
    words_per_image: u32, // ceil(pixels / 4)
    count: u32,           // number of images in the dataset
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> images: array<u32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn gather_images(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let b = i / params.pixels;
    let j = i % params.pixels;
    let image = indices[b];
    if image >= params.count {
        output[i] = bitcast<f32>(0x7fc00000u);
        return;
    }
    let word = images[image * params.words_per_image + j / 4u];
    let p = f32((word >> (8u * (j % 4u))) & 0xffu);
    output[i] = (p - 127.5) * (1.0 / 127.5);
}
