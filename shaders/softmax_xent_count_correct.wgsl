// Counts correct predictions: count += #{ b < B : argmax_k logits[b, k] == labels[offset + b] },
// ties going to the lowest index. The count is atomic and only ever added to, so it
// accumulates over any number of batches (of test images, say) until it is zeroed by a write.
// `label_offset` lets one labels buffer (the whole test set) serve every batch.
// Shapes: logits [B, C], labels [at least label_offset + B] (u32), count [1] (u32).
// One invocation owns one row; dispatch ceil(B / WORKGROUP) workgroups along x.

const WORKGROUP: u32 = 64u;

struct Params {
    batch: u32,        // B, rows to count
    classes: u32,      // C, logits per row
    label_offset: u32, // index of row 0's label in `labels`
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> count: atomic<u32>;

@compute @workgroup_size(WORKGROUP)
fn softmax_xent_count_correct(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if b >= params.batch {
        return;
    }
    let start = b * params.classes;
    var best = logits[start];
    var best_k = 0u;
    for (var k = 1u; k < params.classes; k++) {
        let value = logits[start + k];
        if value > best {
            best = value;
            best_k = k;
        }
    }
    if best_k == labels[params.label_offset + b] {
        atomicAdd(&count, 1u);
    }
}
