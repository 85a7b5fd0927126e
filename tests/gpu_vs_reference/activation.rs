use sgan_gpu::gpu::Tensor;
use sgan_gpu::{layers, reference};

use crate::common::{self, assert_close, random_vec, to_f32, to_f64};
use crate::gpu_or_skip;

// 1000 elements: four workgroups of 256 with a ragged last one.
const LEN: usize = 1000;

// LeakyReLU runs four values per invocation where the length is divisible by 4 (1000), one
// otherwise (999): both are checked.
const LEAKY_LENS: [usize; 2] = [LEN, LEN - 1];

#[test]
fn leaky_relu_forward_matches_reference() {
    let gpu = gpu_or_skip!();
    for len in LEAKY_LENS {
        let x = to_f32(&random_vec(1, len, 2.0));
        let input = Tensor::from_slice(gpu, "x", &[len], &x).unwrap();
        let output = Tensor::zeros(gpu, "y", &[len]);
        let dispatch = layers::activation::leaky_relu_forward(gpu, &input, &output, 0.01).unwrap();
        gpu.run(&[&dispatch]).unwrap();
        let want = reference::leaky_relu_forward(&to_f64(&x), 0.01f32 as f64);
        assert_close(
            &format!("leaky_relu_forward, {len} values"),
            &output.read(gpu).unwrap(),
            &want,
            1e-7,
            1e-6,
        );
    }
}

#[test]
fn leaky_relu_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    for len in LEAKY_LENS {
        let x = to_f32(&random_vec(2, len, 2.0));
        let dy = to_f32(&random_vec(3, len, 1.0));
        let input = Tensor::from_slice(gpu, "x", &[len], &x).unwrap();
        let d_output = Tensor::from_slice(gpu, "dy", &[len], &dy).unwrap();
        let d_input = Tensor::zeros(gpu, "dx", &[len]);
        let dispatch =
            layers::activation::leaky_relu_backward(gpu, &input, &d_output, &d_input, 0.01)
                .unwrap();
        gpu.run(&[&dispatch]).unwrap();
        let want = reference::leaky_relu_backward(&to_f64(&x), &to_f64(&dy), 0.01f32 as f64);
        assert_close(
            &format!("leaky_relu_backward, {len} values"),
            &d_input.read(gpu).unwrap(),
            &want,
            1e-7,
            1e-6,
        );
    }
}

#[test]
fn tanh_forward_matches_reference() {
    let gpu = gpu_or_skip!();
    let mut x = to_f32(&random_vec(4, LEN, 4.0));
    // Saturated inputs, where a tanh built from exponentials would overflow.
    x[0] = 100.0;
    x[1] = -100.0;
    x[LEN - 1] = 20.0;
    let input = Tensor::from_slice(gpu, "x", &[LEN], &x).unwrap();
    let output = Tensor::zeros(gpu, "y", &[LEN]);
    let dispatch = layers::activation::tanh_forward(gpu, &input, &output).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    let want = reference::tanh_forward(&to_f64(&x));
    // tanh on the GPU is not correctly rounded; near 0 its error is absolute, not relative.
    assert_close(
        "tanh_forward",
        &output.read(gpu).unwrap(),
        &want,
        1e-6,
        1e-5,
    );
}

#[test]
fn tanh_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    let y = to_f32(&random_vec(5, LEN, 1.0));
    let dy = to_f32(&random_vec(6, LEN, 1.0));
    let output = Tensor::from_slice(gpu, "y", &[LEN], &y).unwrap();
    let d_output = Tensor::from_slice(gpu, "dy", &[LEN], &dy).unwrap();
    let d_input = Tensor::zeros(gpu, "dx", &[LEN]);
    let dispatch = layers::activation::tanh_backward(gpu, &output, &d_output, &d_input).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    let want = reference::tanh_backward(&to_f64(&y), &to_f64(&dy));
    // 1 - y^2 cancels near |y| = 1, so the f32 error is absolute.
    assert_close(
        "tanh_backward",
        &d_input.read(gpu).unwrap(),
        &want,
        1e-6,
        1e-5,
    );
}
