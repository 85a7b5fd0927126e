use sgan_gpu::layers::dense::DenseShape;
use sgan_gpu::reference;

use crate::common::{gradcheck, random_vec, weighted_sum, GRADCHECK_TOL};

const SHAPE: DenseShape = DenseShape {
    batch: 3,
    inputs: 7,
    outputs: 5,
};

fn inputs() -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let s = SHAPE;
    let x = random_vec(20, s.batch * s.inputs, 1.0);
    let w = random_vec(21, s.inputs * s.outputs, 1.0);
    let b = random_vec(22, s.outputs, 1.0);
    let r = random_vec(23, s.batch * s.outputs, 1.0);
    (x, w, b, r)
}

#[test]
fn dense_backward_input_matches_finite_differences() {
    let (x, w, b, r) = inputs();
    let loss = |x: &[f64]| weighted_sum(&r, &reference::dense_forward(x, &w, Some(&b), &SHAPE));
    let analytic = reference::dense_backward_input(&r, &w, &SHAPE);
    let worst = gradcheck(loss, &x, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "dense_backward_input: worst {worst:e}"
    );
}

#[test]
fn dense_backward_weight_matches_finite_differences() {
    let (x, w, b, r) = inputs();
    let loss = |w: &[f64]| weighted_sum(&r, &reference::dense_forward(&x, w, Some(&b), &SHAPE));
    let analytic = reference::dense_backward_weight(&x, &r, &SHAPE);
    let worst = gradcheck(loss, &w, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "dense_backward_weight: worst {worst:e}"
    );
}

#[test]
fn dense_backward_bias_matches_finite_differences() {
    let (x, w, b, r) = inputs();
    let loss = |b: &[f64]| weighted_sum(&r, &reference::dense_forward(&x, &w, Some(b), &SHAPE));
    let analytic = reference::dense_backward_bias(&r, &SHAPE);
    let worst = gradcheck(loss, &b, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "dense_backward_bias: worst {worst:e}"
    );
}
