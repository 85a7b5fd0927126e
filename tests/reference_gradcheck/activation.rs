use sgan_gpu::reference;

use crate::common::{gradcheck, random_vec, weighted_sum, GRADCHECK_TOL};

#[test]
fn leaky_relu_backward_matches_finite_differences() {
    // Keep inputs away from the kink at 0, where the derivative is undefined.
    let x: Vec<f64> = random_vec(10, 50, 2.0)
        .into_iter()
        .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
        .collect();
    let r = random_vec(11, 50, 1.0);
    let loss = |x: &[f64]| weighted_sum(&r, &reference::leaky_relu_forward(x, 0.01));
    let analytic = reference::leaky_relu_backward(&x, &r, 0.01);
    let worst = gradcheck(loss, &x, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "leaky_relu_backward: worst relative error {worst:e}"
    );
}

/// Negative control: a derivative that forgets the slope must be caught.
#[test]
fn gradcheck_catches_a_wrong_derivative() {
    let x: Vec<f64> = random_vec(12, 50, 2.0);
    let r = random_vec(13, 50, 1.0);
    let loss = |x: &[f64]| weighted_sum(&r, &reference::leaky_relu_forward(x, 0.01));
    // Wrong on purpose: the derivative of LeakyReLU is not 1 for negative inputs.
    let wrong = reference::leaky_relu_backward(&x, &r, 1.0);
    let worst = gradcheck(loss, &x, &wrong, usize::MAX, 1e-6);
    assert!(
        worst > 0.5,
        "the checker accepted a wrong derivative (worst error {worst:e})"
    );
}

#[test]
fn tanh_backward_matches_finite_differences() {
    let x = random_vec(14, 50, 3.0);
    let r = random_vec(15, 50, 1.0);
    let loss = |x: &[f64]| weighted_sum(&r, &reference::tanh_forward(x));
    let analytic = reference::tanh_backward(&reference::tanh_forward(&x), &r);
    let worst = gradcheck(loss, &x, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "tanh_backward: worst relative error {worst:e}"
    );
}
