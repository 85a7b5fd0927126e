// Minibatch gather of labels: output[b] = labels[indices[b]].
// An index past the dataset is a caller bug; its label becomes 0xffffffff so that it shows.
// Shapes: indices [B] u32; labels [count] u32 (one label per word); output [B] u32.
// One invocation owns one output label; dispatch ceil(B / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    len: u32,   // B, the number of indices
    count: u32, // number of labels in the dataset
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> indices: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> output: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn gather_labels(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if b >= params.len {
        return;
    }
    let image = indices[b];
    if image >= params.count {
        output[b] = 0xffffffffu;
        return;
    }
    output[b] = labels[image];
}
