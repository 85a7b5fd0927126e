// Advances one Adam state's step counter and its bias corrections, on the GPU, so that an
// optimizer step needs neither a CPU round trip nor rebuilt dispatches. Dispatched once per
// optimizer step, before that step's adam_step dispatches, which read what it writes:
//   t <- t + 1, bias1 = 1 - beta1^t, bias2 = 1 - beta2^t.
// 1 - beta^t is computed as -expm1(t * log1p(-(1 - beta))), with log1p and expm1 written out
// as series where they matter, so it keeps full f32 precision at small t (where a plain
// 1 - pow(beta, t) cancels, and GPU pow near 1 is inaccurate) and goes smoothly to 1 for large t
// (t = 1e5 gives beta2^t = e^-100). 1 - beta itself is exact in f32 for beta in [0.5, 1]; below
// 0.5 log(beta) has no cancellation and is used directly.
// Shapes: state is one StepState (16 bytes). One invocation; dispatch one workgroup.

const WORKGROUP: u32 = 64u;

struct Params {
    beta1: f32, // decay of the first moment (0.9)
    beta2: f32, // decay of the second moment (0.999)
}

struct StepState {
    t: u32,      // optimizer steps taken, this one included once advanced
    bias1: f32,  // 1 - beta1^t
    bias2: f32,  // 1 - beta2^t
    unused: u32, // pads the state to 16 bytes
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> state: StepState;

// log(1 + x) for x in [-1/2, 1] as 2 atanh(z), z = x / (2 + x) in [-1/3, 1/3]; eight terms of
// the odd series leave a relative error below (1/3)^16 / 17 < 2e-9.
fn log1p_series(x: f32) -> f32 {
    let z = x / (2.0 + x);
    let w = z * z;
    var series = 1.0 / 15.0;
    series = series * w + 1.0 / 13.0;
    series = series * w + 1.0 / 11.0;
    series = series * w + 1.0 / 9.0;
    series = series * w + 1.0 / 7.0;
    series = series * w + 1.0 / 5.0;
    series = series * w + 1.0 / 3.0;
    series = series * w + 1.0;
    return 2.0 * z * series;
}

// 1 - e^y for y <= 0. Near 0 the Taylor series of -expm1 (terms to y^12 / 12!, error below
// 1 / 13! < 2e-10 for |y| <= 1); further out 1 - e^y >= 0.63 and exp's own error is harmless.
fn one_minus_exp(y: f32) -> f32 {
    if y < -1.0 {
        return 1.0 - exp(y);
    }
    var series = 1.0;
    for (var n = 12u; n >= 2u; n--) {
        series = 1.0 + series * y / f32(n);
    }
    return -y * series;
}

// 1 - beta^t for beta in (0, 1).
fn one_minus_power(beta: f32, t: f32) -> f32 {
    let log_beta = select(log(beta), log1p_series(-(1.0 - beta)), beta >= 0.5);
    return one_minus_exp(t * log_beta);
}

@compute @workgroup_size(WORKGROUP)
fn adam_advance(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x != 0u {
        return;
    }
    let t = state.t + 1u;
    state.t = t;
    state.bias1 = one_minus_power(params.beta1, f32(t));
    state.bias2 = one_minus_power(params.beta2, f32(t));
}
