use sgan_gpu::reference;

use crate::common::{gradcheck, random_vec, weighted_sum, GRADCHECK_TOL};

#[test]
fn dropout_backward_matches_finite_differences() {
    // The mask is fixed (seed, stream and counter held), so the forward is linear in x.
    let x = random_vec(30, 200, 2.0);
    let r = random_vec(31, 200, 1.0);
    let loss = |x: &[f64]| weighted_sum(&r, &reference::dropout_forward(x, 0.5, 4, 5, 6).0);
    let mask = reference::dropout_mask::<f64>(x.len(), 0.5, 4, 5, 6);
    assert!(mask.contains(&0.0) && mask.contains(&2.0));
    let analytic = reference::dropout_backward(&mask, &r);
    let worst = gradcheck(loss, &x, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "dropout_backward: worst relative error {worst:e}"
    );
}
