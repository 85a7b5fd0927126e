use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::layers::adam::{Adam, AdamHyper};
use sgan_gpu::{reference, Error};

use crate::common::{self, assert_close, random_vec, to_f32, to_f64};
use crate::gpu_or_skip;

/// CPU twin of one parameter tensor and its moments under one Adam state.
struct Mirror {
    param: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Mirror {
    fn new(param: &[f32]) -> Self {
        Self {
            param: to_f64(param),
            m: vec![0.0; param.len()],
            v: vec![0.0; param.len()],
        }
    }
}

fn check_state(gpu: &Gpu, name: &str, adam: &Adam, index: usize, param: &Tensor, want: &Mirror) {
    // Parameters move by about lr = 1e-3 per step from values of order 1: the tolerance asks
    // for the steps to be right to about 1e-4 of their size.
    assert_close(
        &format!("{name}.param"),
        &param.read(gpu).unwrap(),
        &want.param,
        1e-7,
        1e-6,
    );
    // m sums gradients of order 1 with mixed signs, so a small m carries the rounding of
    // its larger terms: atol 1e-7, about one f32 ulp of those terms.
    assert_close(
        &format!("{name}.m"),
        &adam.m[index].read(gpu).unwrap(),
        &want.m,
        1e-7,
        1e-5,
    );
    assert_close(
        &format!("{name}.v"),
        &adam.v[index].read(gpu).unwrap(),
        &want.v,
        1e-12,
        1e-5,
    );
}

#[test]
fn adam_matches_reference_over_five_steps() {
    adam_over_five_steps(false);
}

/// Parameters and gradients packed into one buffer each: one `adam_step` for all tensors,
/// which must compute what one per tensor does.
#[test]
fn adam_over_packed_tensors_matches_reference_in_one_dispatch() {
    adam_over_five_steps(true);
}

fn adam_over_five_steps(packed: bool) {
    let gpu = gpu_or_skip!();
    let hyper = AdamHyper::default();
    // 1000 elements: four workgroups of 256, the last ragged; 7: one mostly idle workgroup;
    // 3 after 7, so that packed tensors start after gaps.
    let lens = [1000, 7, 3];
    let initial: Vec<Vec<f32>> = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| to_f32(&random_vec(50 + i as u64, len, 1.0)))
        .collect();
    let mut params: Vec<Tensor> = initial
        .iter()
        .map(|p| Tensor::from_slice(gpu, "param", &[p.len()], p).unwrap())
        .collect();
    let mut grads: Vec<Tensor> = lens
        .iter()
        .map(|&len| Tensor::zeros(gpu, "grad", &[len]))
        .collect();
    let adam = Adam::new(gpu, "adam", &params.iter().collect::<Vec<_>>(), hyper).unwrap();
    if packed {
        let layout = adam.layout.clone();
        layout
            .pack(gpu, "params", &mut params.iter_mut().collect::<Vec<_>>())
            .unwrap();
        layout
            .pack(gpu, "grads", &mut grads.iter_mut().collect::<Vec<_>>())
            .unwrap();
    }
    let param_refs: Vec<&Tensor> = params.iter().collect();
    let grad_refs: Vec<&Tensor> = grads.iter().collect();
    let step = adam.step(gpu, &param_refs, &grad_refs).unwrap();
    let per_tensor = if packed { 1 } else { lens.len() };
    assert_eq!(
        step.len(),
        1 + per_tensor,
        "adam_advance, then the adam_step dispatches"
    );
    let mut mirrors: Vec<Mirror> = initial.iter().map(|p| Mirror::new(p)).collect();

    for t in 1..=5u32 {
        // Fresh gradients every step, with mixed signs and magnitudes across tensors.
        for (i, (grad, mirror)) in grads.iter().zip(&mut mirrors).enumerate() {
            let scale = if i == 0 { 0.5 } else { 3.0 };
            let g = to_f32(&random_vec(60 + 10 * t as u64 + i as u64, lens[i], scale));
            grad.write(gpu, &g).unwrap();
            let g = to_f64(&g);
            reference::adam_step(
                &mut mirror.param,
                &g,
                &mut mirror.m,
                &mut mirror.v,
                t,
                &hyper,
            );
        }
        gpu.run(&step.iter().collect::<Vec<_>>()).unwrap();
    }
    assert_eq!(adam.steps_taken(gpu).unwrap(), 5);
    for (i, mirror) in mirrors.iter().enumerate() {
        check_state(
            gpu,
            &format!("adam[{i}] after 5 steps"),
            &adam,
            i,
            &params[i],
            mirror,
        );
    }
}

#[test]
fn adam_bias_correction_is_accurate_from_step_1_to_100000() {
    let gpu = gpu_or_skip!();
    let hyper = AdamHyper::default();
    let len = 300;
    let g = to_f32(&random_vec(70, len, 1.0));
    let grad = Tensor::from_slice(gpu, "grad", &[len], &g).unwrap();
    let mut worst_bias = 0.0f64;
    for t in [1u32, 2, 3, 10, 100, 1000, 10_000, 16_000, 100_000] {
        // Zero parameters and moments, the counter set to t - 1: the first update is then the
        // step at t on its own, and the parameter holds exactly minus that update.
        let param = Tensor::zeros(gpu, "param", &[len]);
        let adam = Adam::new(gpu, "adam", &[&param], hyper).unwrap();
        adam.set_steps_taken(gpu, t - 1).unwrap();
        let step = adam.step(gpu, &[&param], &[&grad]).unwrap();
        gpu.run(&step.iter().collect::<Vec<_>>()).unwrap();

        let state = adam.state.read(gpu).unwrap();
        let (want_t, want_bias1, want_bias2) = reference::adam_advance::<f64>(t - 1, &hyper);
        assert_eq!(state[0], want_t);
        let bias = [f32::from_bits(state[1]), f32::from_bits(state[2])];
        let name = format!("adam_advance bias corrections (t={t})");
        worst_bias = worst_bias.max(assert_close(
            &name,
            &bias,
            &[want_bias1, want_bias2],
            0.0,
            1e-6,
        ));

        let mut want = Mirror::new(&vec![0.0; len]);
        reference::adam_step(
            &mut want.param,
            &to_f64(&g),
            &mut want.m,
            &mut want.v,
            t,
            &hyper,
        );
        let name = format!("adam_step from zero (t={t})");
        assert_close(&name, &param.read(gpu).unwrap(), &want.param, 1e-12, 1e-5);
    }
    println!("adam_advance: worst relative error of 1 - beta^t {worst_bias:.3e}");
}

#[test]
fn two_adam_states_on_one_tensor_step_independently() {
    let gpu = gpu_or_skip!();
    let hyper = AdamHyper::default();
    let len = 517;
    let initial = to_f32(&random_vec(80, len, 1.0));
    let param = Tensor::from_slice(gpu, "shared", &[len], &initial).unwrap();
    let grad_a = Tensor::zeros(gpu, "grad_a", &[len]);
    let grad_b = Tensor::zeros(gpu, "grad_b", &[len]);
    let adam_a = Adam::new(gpu, "adam_a", &[&param], hyper).unwrap();
    let adam_b = Adam::new(gpu, "adam_b", &[&param], hyper).unwrap();
    let step_a = adam_a.step(gpu, &[&param], &[&grad_a]).unwrap();
    let step_b = adam_b.step(gpu, &[&param], &[&grad_b]).unwrap();

    // One shared parameter vector, two sets of moments and step counts.
    let mut shared = to_f64(&initial);
    let mut moments = [
        (vec![0.0; len], vec![0.0; len], 0u32),
        (vec![0.0; len], vec![0.0; len], 0u32),
    ];
    for (round, which) in [0usize, 1, 0, 0, 1].into_iter().enumerate() {
        let g = to_f32(&random_vec(90 + round as u64, len, 1.0 + which as f64));
        let (grad, step) = if which == 0 {
            (&grad_a, &step_a)
        } else {
            (&grad_b, &step_b)
        };
        grad.write(gpu, &g).unwrap();
        gpu.run(&step.iter().collect::<Vec<_>>()).unwrap();
        let (m, v, t) = &mut moments[which];
        *t += 1;
        reference::adam_step(&mut shared, &to_f64(&g), m, v, *t, &hyper);
    }
    assert_eq!(adam_a.steps_taken(gpu).unwrap(), 3);
    assert_eq!(adam_b.steps_taken(gpu).unwrap(), 2);
    for (name, adam, (m, v, _)) in [
        ("adam_a", &adam_a, &moments[0]),
        ("adam_b", &adam_b, &moments[1]),
    ] {
        let want = Mirror {
            param: shared.clone(),
            m: m.clone(),
            v: v.clone(),
        };
        check_state(
            gpu,
            &format!("{name} (shared tensor)"),
            adam,
            0,
            &param,
            &want,
        );
    }
}

#[test]
fn adam_rejects_mismatched_tensors() {
    let gpu = gpu_or_skip!();
    let param = Tensor::zeros(gpu, "param", &[10]);
    let grad = Tensor::zeros(gpu, "grad", &[11]);
    let adam = Adam::new(gpu, "adam", &[&param], AdamHyper::default()).unwrap();
    let wrong_shape = adam.step(gpu, &[&param], &[&grad]);
    assert!(matches!(wrong_shape, Err(Error::ShapeMismatch { .. })));
    let wrong_count = adam.step(gpu, &[&param, &param], &[&grad, &grad]);
    assert!(matches!(wrong_count, Err(Error::ShapeMismatch { .. })));
}
