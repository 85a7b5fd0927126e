use rand::Rng;
use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::layers::gan_head::GanHead;
use sgan_gpu::layers::softmax_xent::{softmax_xent_count_correct, SoftmaxXent};
use sgan_gpu::reference;

use crate::common::{self, assert_close, assert_exact, random_vec, to_f32, to_f64};
use crate::gpu_or_skip;

const CLASSES: usize = 10;

/// Labels in 0..C from a seed; every third row gets its row's first maximum as label, so that
/// the accuracy is neither 0 nor 1.
fn labels_for(seed: u64, logits: &[f32], classes: usize) -> Vec<u32> {
    let mut rng = common::rng(seed);
    logits
        .chunks(classes)
        .enumerate()
        .map(|(b, row)| {
            if b % 3 == 0 {
                let mut best = 0;
                for k in 1..classes {
                    if row[k] > row[best] {
                        best = k;
                    }
                }
                best as u32
            } else {
                rng.random_range(0..classes as u32)
            }
        })
        .collect()
}

/// Random logits for `batch` rows; row 1 holds a tie for the maximum at classes 2 and 7 and
/// is labelled 7, which must count as wrong (ties go to the lowest index).
fn tied_logits(seed: u64, batch: usize) -> (Vec<f32>, Vec<u32>) {
    let mut logits = to_f32(&random_vec(seed, batch * CLASSES, 3.0));
    let mut labels = labels_for(seed + 1, &logits, CLASSES);
    let row = &mut logits[CLASSES..2 * CLASSES];
    row[2] = 5.0;
    row[7] = 5.0;
    labels[1] = 7;
    (logits, labels)
}

fn run_softmax_xent(gpu: &Gpu, logits: &[f32], labels: &[u32]) -> (SoftmaxXent, Vec<f32>) {
    let batch = labels.len();
    let head = SoftmaxXent::new(gpu, "xent", batch, CLASSES).unwrap();
    let logits_t = Tensor::from_slice(gpu, "logits", &[batch, CLASSES], logits).unwrap();
    let labels_t = Tensor::from_slice(gpu, "labels", &[batch], labels).unwrap();
    let d_logits = Tensor::zeros(gpu, "d_logits", &[batch, CLASSES]);
    let mut dispatches = head.forward(gpu, &logits_t, &labels_t).unwrap();
    dispatches.push(head.backward(gpu, &labels_t, &d_logits).unwrap());
    gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
    (head, d_logits.read(gpu).unwrap())
}

#[test]
fn softmax_xent_forward_matches_reference() {
    let gpu = gpu_or_skip!();
    // 37 rows: a ragged part of one 64-row workgroup; 300: five workgroups, the last ragged.
    for (seed, batch) in [(20, 37), (21, 300)] {
        let (logits, labels) = tied_logits(seed, batch);
        let (head, _) = run_softmax_xent(gpu, &logits, &labels);
        let want = reference::softmax_xent_forward(&to_f64(&logits), &labels, CLASSES);
        let (loss, accuracy) = head.read_stats(gpu).unwrap();
        assert_close(
            &format!("softmax_xent_forward.loss (B={batch})"),
            &[loss],
            &[want.loss],
            1e-6,
            1e-5,
        );
        assert_close(
            &format!("softmax_xent_forward.accuracy (B={batch})"),
            &[accuracy],
            &[want.accuracy],
            0.0,
            1e-6,
        );
        assert_close(
            &format!("softmax_xent_forward.rows (B={batch})"),
            &head.rows.read(gpu).unwrap(),
            &want.rows,
            1e-6,
            1e-5,
        );
        assert_close(
            &format!("softmax_xent_forward.probs (B={batch})"),
            &head.probs.read(gpu).unwrap(),
            &want.probs,
            1e-8,
            1e-5,
        );
        assert!(want.rows[3] == 0.0, "the tied row must count as wrong");
        assert!(want.accuracy > 0.2 && want.accuracy < 0.8);
    }
}

#[test]
fn softmax_xent_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    for (seed, batch) in [(22, 37), (23, 300)] {
        let (logits, labels) = tied_logits(seed, batch);
        let (_, d_logits) = run_softmax_xent(gpu, &logits, &labels);
        let forward = reference::softmax_xent_forward(&to_f64(&logits), &labels, CLASSES);
        let want = reference::softmax_xent_backward(&forward.probs, &labels, CLASSES);
        assert_close(
            &format!("softmax_xent_backward (B={batch})"),
            &d_logits,
            &want,
            1e-9,
            1e-5,
        );
    }
}

#[test]
fn softmax_xent_count_correct_accumulates_over_batches() {
    let gpu = gpu_or_skip!();
    // 4000 rows in four batches of 1000 (16 workgroups of 64, the last ragged), against one
    // labels buffer through the offset. Small integer logits make ties frequent, which the
    // GPU must break exactly like the reference (first maximum).
    let (rows, per_batch) = (4000, 1000);
    let mut rng = common::rng(24);
    let logits: Vec<f32> = (0..rows * CLASSES)
        .map(|_| rng.random_range(0..4) as f32)
        .collect();
    let labels = labels_for(25, &logits, CLASSES);
    let labels_t = Tensor::from_slice(gpu, "labels", &[rows], &labels).unwrap();
    let count = Tensor::<u32>::from_slice(gpu, "correct", &[1], &[0]).unwrap();
    let batches: Vec<Tensor> = logits
        .chunks(per_batch * CLASSES)
        .map(|chunk| Tensor::from_slice(gpu, "logits", &[per_batch, CLASSES], chunk).unwrap())
        .collect();
    let dispatches: Vec<_> = batches
        .iter()
        .enumerate()
        .map(|(i, batch)| {
            softmax_xent_count_correct(gpu, batch, &labels_t, i * per_batch, &count).unwrap()
        })
        .collect();
    // Zero, then count every batch; twice, to show the write resets the count.
    for _ in 0..2 {
        count.write(gpu, &[0]).unwrap();
        gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
        let want = reference::softmax_xent_count_correct(&to_f64(&logits), &labels, 0, CLASSES);
        assert_exact(
            "softmax_xent_count_correct",
            &count.read(gpu).unwrap(),
            &[want],
        );
        assert!(
            want > 1000 && want < 3000,
            "degenerate test data: {want} correct"
        );
    }
    println!("softmax_xent_count_correct: exact over {rows} rows");
}

fn run_gan_head(gpu: &Gpu, logits: &[f32], target: f32) -> (GanHead, Vec<f32>) {
    let batch = logits.len() / CLASSES;
    let head = GanHead::new(gpu, "gan_head", batch, CLASSES).unwrap();
    let logits_t = Tensor::from_slice(gpu, "logits", &[batch, CLASSES], logits).unwrap();
    let d_logits = Tensor::zeros(gpu, "d_logits", &[batch, CLASSES]);
    let mut dispatches = head.forward(gpu, &logits_t, target).unwrap();
    dispatches.push(head.backward(gpu, &d_logits).unwrap());
    gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
    (head, d_logits.read(gpu).unwrap())
}

/// Runs the head on the GPU and the reference in f64 and compares everything; returns the
/// reference forward and backward for further checks.
fn check_gan_head(
    gpu: &Gpu,
    name: &str,
    logits: &[f32],
    target: f32,
) -> (reference::GanHeadForward<f64>, Vec<f64>) {
    let (head, d_logits) = run_gan_head(gpu, logits, target);
    let t = target as f64;
    let want = reference::gan_head_forward(&to_f64(logits), CLASSES, t);
    let want_d = reference::gan_head_backward(&want.probs, &want.d_s, CLASSES);
    let (loss, mean_d) = head.read_stats(gpu).unwrap();
    let rows = head.rows.read(gpu).unwrap();
    assert!(
        rows.iter().chain(&d_logits).all(|v| v.is_finite()),
        "{name}: GPU gave a non-finite value"
    );
    assert_close(&format!("{name}.loss"), &[loss], &[want.loss], 1e-6, 1e-5);
    assert_close(
        &format!("{name}.mean_d"),
        &[mean_d],
        &[want.mean_d],
        1e-7,
        1e-5,
    );
    assert_close(&format!("{name}.rows"), &rows, &want.rows, 1e-6, 1e-5);
    let d_s = head.d_s.read(gpu).unwrap();
    assert_close(&format!("{name}.d_s"), &d_s, &want.d_s, 1e-30, 1e-5);
    let probs = head.probs.read(gpu).unwrap();
    assert_close(&format!("{name}.probs"), &probs, &want.probs, 1e-8, 1e-5);
    assert_close(&format!("{name}.d_logits"), &d_logits, &want_d, 1e-9, 1e-5);
    (want, want_d)
}

#[test]
fn gan_head_matches_reference_on_random_logits() {
    let gpu = gpu_or_skip!();
    for (seed, batch) in [(30, 37), (31, 300)] {
        let logits = to_f32(&random_vec(seed, batch * CLASSES, 4.0));
        for target in [1.0, 0.0] {
            let name = format!("gan_head (B={batch}, t={target})");
            let (want, _) = check_gan_head(gpu, &name, &logits, target);
            assert!(want.mean_d > 0.5 && want.mean_d < 1.0);
        }
    }
}

#[test]
fn gan_head_is_stable_on_extreme_logits() {
    let gpu = gpu_or_skip!();
    let ln10 = 10f64.ln();
    // Each case: a row of logits and the exact s = logsumexp of that row.
    let mixed: Vec<f32> = (0..CLASSES)
        .map(|k| if k % 2 == 0 { 100.0 } else { -100.0 })
        .collect();
    let mut one_high = vec![-100.0f32; CLASSES];
    one_high[3] = 100.0;
    // log(5 e^100 + 5 e^-100) = 100 + ln 5 + log1p(e^-200), and e^-200 is below f64's ulp.
    let cases: Vec<(&str, Vec<f32>, f64)> = vec![
        ("all +100", vec![100.0; CLASSES], 100.0 + ln10),
        ("all -100", vec![-100.0; CLASSES], -100.0 + ln10),
        ("all 0", vec![0.0; CLASSES], ln10),
        ("mixed +-100", mixed, 100.0 + 5f64.ln()),
        ("one +100, rest -100", one_high, 100.0),
    ];
    let logits: Vec<f32> = cases.iter().flat_map(|(_, row, _)| row.clone()).collect();
    let batch = cases.len() as f64;
    for target in [1.0f32, 0.0] {
        let name = format!("gan_head extreme (t={target})");
        let (want, want_d) = check_gan_head(gpu, &name, &logits, target);
        assert!(want.rows.iter().chain(&want_d).all(|v| v.is_finite()));

        // The reference against closed forms: D = sigmoid(s); the loss is -log D = log(1 +
        // e^-s) for t = 1 and -log(1 - D) = log(1 + e^s) for t = 0, where log(1 + e^x) is
        // x + e^-x for x >= 36 and e^x for x <= -36 to f64 precision.
        let log1p_exp = |x: f64| {
            if x >= 36.0 {
                x + (-x).exp()
            } else if x <= -36.0 {
                x.exp()
            } else {
                x.exp().ln_1p()
            }
        };
        for (b, (case, _, s)) in cases.iter().enumerate() {
            let loss = if target == 1.0 {
                log1p_exp(-s)
            } else {
                log1p_exp(*s)
            };
            let d = 1.0 / (1.0 + (-s).exp());
            let close = |a: f64, e: f64| (a - e).abs() <= 1e-12 * e.abs() + 1e-300;
            let (got_loss, got_d) = (want.rows[2 * b], want.rows[2 * b + 1]);
            assert!(
                close(got_loss, loss),
                "{case}: loss {got_loss:e}, exact {loss:e}"
            );
            assert!(close(got_d, d), "{case}: D {got_d:e}, exact {d:e}");
            // d l_k = (D - t) softmax_k / B, summed over k: (D - t) / B, where D - 1 is
            // -1 / (1 + e^s) without rounding D first.
            let d_minus_t = if target == 1.0 {
                -1.0 / (1.0 + s.exp())
            } else {
                d
            };
            let d_sum: f64 = want_d[b * CLASSES..(b + 1) * CLASSES].iter().sum();
            let exact = d_minus_t / batch;
            assert!(
                close(d_sum, exact),
                "{case}: gradient sum {d_sum:e}, exact {exact:e}"
            );
        }
    }
    // The case the task names: all -100, so D = 10 e^-100 and the loss against 1 is
    // 100 - ln 10 (GPU included, through check_gan_head above at 1e-5 relative).
    let want = reference::gan_head_forward(&[-100.0; CLASSES], CLASSES, 1.0);
    assert!((want.rows[0] - (100.0 - ln10)).abs() < 1e-12);
    assert!((want.rows[1] / (10.0 * (-100f64).exp()) - 1.0).abs() < 1e-12);
}
