//! Adam with bias correction, as `crate::layers::adam` runs it.

use super::Real;
use crate::spec::AdamHyper;

/// `beta^t` by repeated squaring.
fn power<T: Real>(beta: T, t: u32) -> T {
    let (mut result, mut base, mut exponent) = (T::one(), beta, t);
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = result * base;
        }
        base = base * base;
        exponent >>= 1;
    }
    result
}

/// `adam_advance`: from `t` steps taken to `t + 1`, returning `(t + 1, 1 - beta1^(t+1),
/// 1 - beta2^(t+1))`, the step state that the per-tensor updates read.
pub fn adam_advance<T: Real>(t: u32, hyper: &AdamHyper) -> (u32, T, T) {
    let t = t + 1;
    let beta1 = T::from_f64(hyper.beta1 as f64);
    let beta2 = T::from_f64(hyper.beta2 as f64);
    (t, T::one() - power(beta1, t), T::one() - power(beta2, t))
}

/// Optimizer step number `t` (1 for the first step; t = 0 divides by zero) on one tensor:
/// `m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`,
/// `param -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)`.
/// The hyperparameters are taken at their f32 values, exactly what the GPU gets.
pub fn adam_step<T: Real>(
    param: &mut [T],
    grad: &[T],
    m: &mut [T],
    v: &mut [T],
    t: u32,
    hyper: &AdamHyper,
) {
    let beta1 = T::from_f64(hyper.beta1 as f64);
    let beta2 = T::from_f64(hyper.beta2 as f64);
    let (bias1, bias2) = (T::one() - power(beta1, t), T::one() - power(beta2, t));
    let lr = T::from_f64(hyper.lr as f64);
    let epsilon = T::from_f64(hyper.epsilon as f64);
    for i in 0..param.len() {
        let g = grad[i];
        m[i] = beta1 * m[i] + (T::one() - beta1) * g;
        v[i] = beta2 * v[i] + (T::one() - beta2) * g * g;
        let m_hat = m[i] / bias1;
        let v_hat = v[i] / bias2;
        param[i] = param[i] - lr * m_hat / (v_hat.sqrt() + epsilon);
    }
}
