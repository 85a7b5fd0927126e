use rand::Rng;
use sgan_gpu::reference;

use crate::common::{self, gradcheck, random_vec, GRADCHECK_TOL};

const CLASSES: usize = 10;
const BATCH: usize = 7;

fn labels(seed: u64) -> Vec<u32> {
    let mut rng = common::rng(seed);
    (0..BATCH)
        .map(|_| rng.random_range(0..CLASSES as u32))
        .collect()
}

#[test]
fn softmax_xent_backward_matches_finite_differences() {
    // Moderate logits keep every probability, and so every gradient entry, well above the
    // rounding noise of the differences (about 1e-10 absolute at eps 1e-6).
    let logits = random_vec(40, BATCH * CLASSES, 1.5);
    let labels = labels(41);
    // The head's output is the scalar loss itself, so the loss checked is that scalar.
    let loss = |x: &[f64]| reference::softmax_xent_forward(x, &labels, CLASSES).loss;
    let forward = reference::softmax_xent_forward(&logits, &labels, CLASSES);
    let analytic = reference::softmax_xent_backward(&forward.probs, &labels, CLASSES);
    let worst = gradcheck(loss, &logits, &analytic, usize::MAX, 1e-6);
    assert!(
        worst < GRADCHECK_TOL,
        "softmax_xent_backward: worst relative error {worst:e}"
    );
}

#[test]
fn gan_head_backward_matches_finite_differences() {
    // Moderate logits: s stays within a few units of 0, where both targets have sizeable
    // gradients.
    let logits = random_vec(42, BATCH * CLASSES, 2.0);
    for target in [1.0, 0.0] {
        let loss = |x: &[f64]| reference::gan_head_forward(x, CLASSES, target).loss;
        let forward = reference::gan_head_forward(&logits, CLASSES, target);
        let analytic = reference::gan_head_backward(&forward.probs, &forward.d_s, CLASSES);
        let worst = gradcheck(loss, &logits, &analytic, usize::MAX, 1e-6);
        assert!(
            worst < GRADCHECK_TOL,
            "gan_head_backward (t={target}): worst relative error {worst:e}"
        );
    }
}

/// Negative control: the GAN head's gradient for the other target must be caught.
#[test]
fn gradcheck_catches_a_wrong_gan_head_target() {
    let logits = random_vec(43, BATCH * CLASSES, 2.0);
    let loss = |x: &[f64]| reference::gan_head_forward(x, CLASSES, 1.0).loss;
    // Wrong on purpose: the saved d_s of a forward pass against t = 0.
    let wrong_forward = reference::gan_head_forward(&logits, CLASSES, 0.0);
    let wrong = reference::gan_head_backward(&wrong_forward.probs, &wrong_forward.d_s, CLASSES);
    let worst = gradcheck(loss, &logits, &wrong, usize::MAX, 1e-6);
    assert!(
        worst > 0.5,
        "the checker accepted a wrong derivative (worst error {worst:e})"
    );
}
