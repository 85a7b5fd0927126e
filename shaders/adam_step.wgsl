// One Adam update of one parameter tensor, using the step state that adam_advance wrote:
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
//   m_hat = m / (1 - beta1^t),    v_hat = v / (1 - beta2^t),
//   param -= lr * m_hat / (sqrt(v_hat) + epsilon).
// m and v start at 0 and belong to one Adam state; param and grad may be shared with others.
// Shapes: grad, param, m, v hold `len` elements; state is adam_advance's StepState.
// One invocation owns one element; dispatch ceil(len / WORKGROUP) workgroups along x.
// build.rs also makes adam_step_vec4, whose elements are four consecutive values (`len`
// counts them; for tensors whose length is divisible by 4).

alias Value = f32;

const WORKGROUP: u32 = 256u;

struct Params {
    len: u32,     // number of elements (Values)
    lr: f32,      // learning rate (1e-3)
    beta1: f32,   // decay of the first moment (0.9)
    beta2: f32,   // decay of the second moment (0.999)
    epsilon: f32, // added to sqrt(v_hat) (1e-7)
}

struct StepState {
    t: u32,      // optimizer steps taken, this one included
    bias1: f32,  // 1 - beta1^t
    bias2: f32,  // 1 - beta2^t
    unused: u32, // pads the state to 16 bytes
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<Value>;
@group(0) @binding(2) var<storage, read> state: StepState;
@group(0) @binding(3) var<storage, read_write> param: array<Value>;
@group(0) @binding(4) var<storage, read_write> m: array<Value>;
@group(0) @binding(5) var<storage, read_write> v: array<Value>;

@compute @workgroup_size(WORKGROUP)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.len {
        return;
    }
    let g = grad[i];
    let m_new = params.beta1 * m[i] + (1.0 - params.beta1) * g;
    let v_new = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
    m[i] = m_new;
    v[i] = v_new;
    let m_hat = m_new / state.bias1;
    let v_hat = v_new / state.bias2;
    param[i] -= params.lr * m_hat / (sqrt(v_hat) + params.epsilon);
}
