use sgan_gpu::gpu::Tensor;
use sgan_gpu::layers::dropout::{self, Dropout, DropoutParams};
use sgan_gpu::reference;

use crate::common::{self, assert_exact, random_vec, to_f32};
use crate::gpu_or_skip;

// [7, 333]: ten workgroups of 256 with a ragged last one.
const SHAPE: [usize; 2] = [7, 333];
const LEN: usize = 7 * 333;

#[test]
fn dropout_forward_matches_reference_exactly() {
    let gpu = gpu_or_skip!();
    let x = to_f32(&random_vec(20, LEN, 3.0));
    let input = Tensor::from_slice(gpu, "x", &SHAPE, &x).unwrap();
    let output = Tensor::zeros(gpu, "y", &SHAPE);
    let mask = Tensor::zeros(gpu, "mask", &SHAPE);
    // 0.5 is the SGAN's rate (scale exactly 2); 0.3 has a scale that rounds.
    for rate in [0.5f32, 0.3] {
        let params = DropoutParams::new(LEN, rate, 77, 2)
            .unwrap()
            .with_counter(5);
        let dispatch = dropout::dropout_forward(gpu, &input, &output, &mask, params).unwrap();
        gpu.run(&[&dispatch]).unwrap();
        // The f32 reference rounds the product once, like the GPU, so both agree exactly.
        let (want_y, want_mask) = reference::dropout_forward(&x, rate, 77, 2, 5);
        let got_mask = mask.read(gpu).unwrap();
        assert_exact(
            &format!("dropout mask (rate {rate})"),
            &got_mask,
            &want_mask,
        );
        assert_exact(
            &format!("dropout_forward (rate {rate})"),
            &output.read(gpu).unwrap(),
            &want_y,
        );
        let scale = 1.0 / (1.0 - rate);
        assert!(
            got_mask.iter().all(|&m| m == 0.0 || m == scale),
            "a mask value is neither 0 nor {scale}"
        );
    }
}

#[test]
fn dropout_keeps_about_one_minus_rate() {
    let gpu = gpu_or_skip!();
    let len = 100_003;
    let input = Tensor::from_slice(gpu, "x", &[len], &vec![1.0f32; len]).unwrap();
    let output = Tensor::zeros(gpu, "y", &[len]);
    for rate in [0.5f32, 0.3, 0.0] {
        let layer = Dropout::new(gpu, "drop", &[len], rate, 3, 9).unwrap();
        let dispatch = layer.forward(gpu, &input, &output).unwrap();
        gpu.run(&[&dispatch]).unwrap();
        let y = output.read(gpu).unwrap();
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / len as f64;
        let want = 1.0 - rate as f64;
        let sigma = (want * (1.0 - want) / len as f64).sqrt();
        assert!(
            (kept - want).abs() <= 5.0 * sigma + 1e-12,
            "rate {rate}: kept {kept}, want {want} +- {sigma:e}"
        );
        // Inverted dropout keeps the expected sum.
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / len as f64;
        let mean_sigma = (rate as f64 / want / len as f64).sqrt();
        assert!(
            (mean - 1.0).abs() <= 5.0 * mean_sigma + 1e-6,
            "rate {rate}: mean output {mean}, want 1 +- {mean_sigma:e}"
        );
        println!("dropout rate {rate}: kept fraction {kept:.4}, mean output {mean:.4}");
    }
}

#[test]
fn dropout_counter_draws_a_fresh_mask() {
    let gpu = gpu_or_skip!();
    let x = to_f32(&random_vec(21, LEN, 1.0));
    let input = Tensor::from_slice(gpu, "x", &SHAPE, &x).unwrap();
    let output = Tensor::zeros(gpu, "y", &SHAPE);
    let layer = Dropout::new(gpu, "drop", &SHAPE, 0.5, 11, 1).unwrap();
    let dispatch = layer.forward(gpu, &input, &output).unwrap();

    gpu.run(&[&dispatch]).unwrap();
    let first = layer.mask.read(gpu).unwrap();
    assert_exact(
        "mask 0",
        &first,
        &reference::dropout_mask(LEN, 0.5, 11, 1, 0),
    );

    // The same dispatch, replayed after new parameters.
    layer.set_counter(gpu, &dispatch, 1);
    gpu.run(&[&dispatch]).unwrap();
    let second = layer.mask.read(gpu).unwrap();
    assert_exact(
        "mask 1",
        &second,
        &reference::dropout_mask(LEN, 0.5, 11, 1, 1),
    );
    let same = first.iter().zip(&second).filter(|(a, b)| a == b).count() as f64;
    // Independent masks at rate 0.5 agree on half the elements.
    let half = LEN as f64 / 2.0;
    assert!(
        (same - half).abs() < 5.0 * (LEN as f64 / 4.0).sqrt(),
        "masks 0 and 1 agree at {same} of {LEN} elements"
    );
}

#[test]
fn dropout_backward_matches_reference_exactly() {
    let gpu = gpu_or_skip!();
    let dy = to_f32(&random_vec(22, LEN, 1.0));
    let x = to_f32(&random_vec(23, LEN, 1.0));
    let input = Tensor::from_slice(gpu, "x", &SHAPE, &x).unwrap();
    let output = Tensor::zeros(gpu, "y", &SHAPE);
    let d_output = Tensor::from_slice(gpu, "dy", &SHAPE, &dy).unwrap();
    let d_input = Tensor::zeros(gpu, "dx", &SHAPE);
    let layer = Dropout::new(gpu, "drop", &SHAPE, 0.5, 12, 3).unwrap();
    let forward = layer.forward(gpu, &input, &output).unwrap();
    let backward = layer.backward(gpu, &d_output, &d_input).unwrap();
    gpu.run(&[&forward, &backward]).unwrap();
    let mask = reference::dropout_mask::<f32>(LEN, 0.5, 12, 3, 0);
    assert_exact(
        "dropout_backward",
        &d_input.read(gpu).unwrap(),
        &reference::dropout_backward(&mask, &dy),
    );
}

#[test]
fn dropout_rejects_a_rate_of_one() {
    assert!(DropoutParams::new(10, 1.0, 0, 0).is_err());
    assert!(DropoutParams::new(10, -0.1, 0, 0).is_err());
}
