use sgan_gpu::layers::conv2d::Conv2dShape;
use sgan_gpu::layers::conv_transpose2d::ConvTranspose2dShape;
use sgan_gpu::reference;

use crate::common::{gradcheck, random_vec, weighted_sum, GRADCHECK_TOL};

/// Small convolutions: 5x6 -> 3x3 at stride 2 (uneven padding) and 4x5 at stride 1.
fn convs() -> [Conv2dShape; 2] {
    let base = Conv2dShape {
        batch: 2,
        height: 5,
        width: 6,
        in_channels: 2,
        out_channels: 3,
        kernel: 3,
        stride: 2,
    };
    [
        base,
        Conv2dShape {
            height: 4,
            width: 5,
            stride: 1,
            ..base
        },
    ]
}

/// Small transposed convolutions: 3x2 -> 6x4 at stride 2 and 3x4 -> 3x4 at stride 1.
fn transposed() -> [ConvTranspose2dShape; 2] {
    let base = ConvTranspose2dShape {
        batch: 2,
        height: 3,
        width: 2,
        in_channels: 3,
        out_channels: 2,
        kernel: 3,
        stride: 2,
    };
    [
        base,
        ConvTranspose2dShape {
            width: 4,
            stride: 1,
            ..base
        },
    ]
}

/// The loss is linear in each of input, weight and bias, so central differences carry no
/// truncation error at any step; a step larger than the usual 1e-6 only cuts the rounding
/// error, which at 1e-6 reached 2.6e-6 relative on a coordinate whose gradient is small.
const EPS: f64 = 1e-3;

fn len(shape: &[usize]) -> usize {
    shape.iter().product()
}

#[test]
fn conv2d_backward_matches_finite_differences() {
    for (i, s) in convs().iter().enumerate() {
        let seed = 40 + 10 * i as u64;
        let x = random_vec(seed, len(&s.input_shape()), 1.0);
        let w = random_vec(seed + 1, len(&s.weight_shape()), 1.0);
        let b = random_vec(seed + 2, s.out_channels, 1.0);
        let r = random_vec(seed + 3, len(&s.output_shape()), 1.0);
        let forward = |x: &[f64], w: &[f64], b: &[f64]| reference::conv2d_forward(x, w, Some(b), s);

        let analytic = reference::conv2d_backward_input(&r, &w, s);
        let worst = gradcheck(
            |x| weighted_sum(&r, &forward(x, &w, &b)),
            &x,
            &analytic,
            200,
            EPS,
        );
        assert!(
            worst < GRADCHECK_TOL,
            "conv2d_backward_input {s:?}: {worst:e}"
        );

        let analytic = reference::conv2d_backward_weight(&x, &r, s);
        let worst = gradcheck(
            |w| weighted_sum(&r, &forward(&x, w, &b)),
            &w,
            &analytic,
            200,
            EPS,
        );
        assert!(
            worst < GRADCHECK_TOL,
            "conv2d_backward_weight {s:?}: {worst:e}"
        );

        let analytic = reference::conv2d_backward_bias(&r, s);
        let worst = gradcheck(
            |b| weighted_sum(&r, &forward(&x, &w, b)),
            &b,
            &analytic,
            200,
            EPS,
        );
        assert!(
            worst < GRADCHECK_TOL,
            "conv2d_backward_bias {s:?}: {worst:e}"
        );
    }
}

#[test]
fn conv_transpose2d_backward_matches_finite_differences() {
    for (i, s) in transposed().iter().enumerate() {
        let seed = 60 + 10 * i as u64;
        let x = random_vec(seed, len(&s.input_shape()), 1.0);
        let w = random_vec(seed + 1, len(&s.weight_shape()), 1.0);
        let b = random_vec(seed + 2, s.out_channels, 1.0);
        let r = random_vec(seed + 3, len(&s.output_shape()), 1.0);
        let forward =
            |x: &[f64], w: &[f64], b: &[f64]| reference::conv_transpose2d_forward(x, w, Some(b), s);

        let analytic = reference::conv_transpose2d_backward_input(&r, &w, s);
        let worst = gradcheck(
            |x| weighted_sum(&r, &forward(x, &w, &b)),
            &x,
            &analytic,
            200,
            EPS,
        );
        assert!(
            worst < GRADCHECK_TOL,
            "conv_transpose2d_backward_input {s:?}: {worst:e}"
        );

        let analytic = reference::conv_transpose2d_backward_weight(&x, &r, s);
        let worst = gradcheck(
            |w| weighted_sum(&r, &forward(&x, w, &b)),
            &w,
            &analytic,
            200,
            EPS,
        );
        assert!(
            worst < GRADCHECK_TOL,
            "conv_transpose2d_backward_weight {s:?}: {worst:e}"
        );

        let analytic = reference::conv_transpose2d_backward_bias(&r, s);
        let worst = gradcheck(
            |b| weighted_sum(&r, &forward(&x, &w, b)),
            &b,
            &analytic,
            200,
            EPS,
        );
        assert!(
            worst < GRADCHECK_TOL,
            "conv_transpose2d_backward_bias {s:?}: {worst:e}"
        );
    }
}

/// col2im is the adjoint of im2col: `<im2col(x), c> = <x, col2im(c)>`, checked as the
/// gradient of `sum(c * im2col(x))`.
#[test]
fn col2im_matches_finite_differences_of_im2col() {
    for (i, s) in convs().iter().enumerate() {
        let x = random_vec(80 + i as u64, len(&s.input_shape()), 1.0);
        let c = random_vec(90 + i as u64, len(&s.cols_shape()), 1.0);
        let analytic = reference::col2im(&c, None, s);
        let loss = |x: &[f64]| weighted_sum(&c, &reference::im2col(x, s));
        let worst = gradcheck(loss, &x, &analytic, usize::MAX, EPS);
        assert!(worst < GRADCHECK_TOL, "col2im {s:?}: {worst:e}");
    }
}
