//! Times the matrix-product core on the default adapter, every kernel variant the adapter can
//! run side by side: 512 x 512 x 512 in all four transpose combinations, then the SGAN's real
//! products at batch 32. Prints, per shape and variant, mean, min and standard deviation of wall
//! time per dispatch (submit to completion), the GFLOP/s they imply, and the speed-up of the
//! mean over the portable kernel; then the sum over the SGAN's products.
//!
//! The variants take turns run by run, so a change in machine load hits all of them alike.
//! `*` marks the variant `matmul` selects here (see `MatmulKernel::select`; `SGAN_MATMUL`
//! overrides it).
//!
//! Run with `cargo bench --bench matmul`; `MATMUL_BENCH_SECONDS` (default 0.5) sets the time
//! spent per shape and variant.

use std::time::{Duration, Instant};

use sgan_gpu::gpu::{Gpu, GpuOptions, Tensor};
use sgan_gpu::layers::matmul::{matmul_with, MatmulKernel, MatmulShape};

fn shapes() -> Vec<(&'static str, MatmulShape)> {
    let s = MatmulShape::new;
    vec![
        ("512^3 A B", s(512, 512, 512)),
        ("512^3 A^T B", s(512, 512, 512).transpose_a()),
        ("512^3 A B^T", s(512, 512, 512).transpose_b()),
        (
            "512^3 A^T B^T",
            s(512, 512, 512).transpose_a().transpose_b(),
        ),
        ("D conv1 forward", s(6272, 32, 9)),
        ("D conv2 forward", s(1568, 64, 288)),
        ("D conv2 d_cols", s(1568, 288, 64).transpose_b()),
        ("D conv2 d_weight", s(288, 64, 1568).transpose_a()),
        ("D conv3 forward", s(512, 128, 576)),
        ("D conv3 d_cols", s(512, 576, 128).transpose_b()),
        ("D conv3 d_weight", s(576, 128, 512).transpose_a()),
        ("D dense forward", s(32, 10, 2048)),
        ("G dense forward", s(32, 12544, 100)),
        ("G dense d_weight", s(100, 12544, 32).transpose_a()),
        ("G convT1 forward", s(1568, 1152, 256).transpose_b()),
        ("G convT1 d_input", s(1568, 256, 1152)),
        ("G convT1 d_weight", s(1152, 256, 1568).transpose_a()),
        ("G convT2 forward", s(6272, 576, 128).transpose_b()),
        ("G convT2 d_input", s(6272, 128, 576)),
        ("G convT2 d_weight", s(576, 128, 6272).transpose_a()),
        ("G convT3 forward", s(6272, 9, 64).transpose_b()),
        ("G convT3 d_weight", s(9, 64, 6272).transpose_a()),
    ]
}

fn filled(gpu: &Gpu, label: &str, len: usize) -> Tensor {
    // Cheap deterministic values in [-1, 1]; the timing does not depend on them.
    let data: Vec<f32> = (0..len)
        .map(|i| ((i * 7919 % 2001) as f32 / 1000.0) - 1.0)
        .collect();
    Tensor::from_slice(gpu, label, &[len], &data).expect("upload")
}

/// Wall times of one variant on one shape, in milliseconds.
struct Timings {
    kernel: MatmulKernel,
    times: Vec<f64>,
}

impl Timings {
    fn mean(&self) -> f64 {
        self.times.iter().sum::<f64>() / self.times.len() as f64
    }

    fn min(&self) -> f64 {
        self.times.iter().cloned().fold(f64::INFINITY, f64::min)
    }

    fn std(&self) -> f64 {
        let mean = self.mean();
        let square = |t: &f64| (t - mean).powi(2);
        (self.times.iter().map(square).sum::<f64>() / self.times.len() as f64).sqrt()
    }
}

fn main() {
    let gpu = Gpu::new(&GpuOptions::default()).expect("no GPU adapter");
    let budget: f64 = std::env::var("MATMUL_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.5);
    let selected = MatmulKernel::select(&gpu).expect("SGAN_MATMUL");
    println!(
        "adapter: {} ({:?}, {:?}), subgroups of {} to {} lanes; matmul selects {selected}",
        gpu.info.name,
        gpu.info.backend,
        gpu.info.device_type,
        gpu.info.subgroup_min_size,
        gpu.info.subgroup_max_size,
    );
    let mut kernels = Vec::new();
    for kernel in MatmulKernel::ALL {
        match kernel.check(&gpu) {
            Ok(()) => kernels.push(kernel),
            Err(reason) => println!("not timed: {reason}"),
        }
    }
    println!(
        "{:<20} {:>6} {:>6} {:>6} {:<9} {:>5} {:>9} {:>9} {:>8} {:>9} {:>9} {:>10}",
        "shape",
        "M",
        "N",
        "K",
        "kernel",
        "runs",
        "mean ms",
        "min ms",
        "std ms",
        "GFLOP/s",
        "best",
        "x portable"
    );
    // Sum of mean times over the SGAN's products (not the 512^3 ones), per variant.
    let mut model_total = vec![0.0; kernels.len()];
    for (name, shape) in shapes() {
        // Create and bind once, as the trainer does.
        let a = filled(&gpu, "a", shape.m * shape.k);
        let b = filled(&gpu, "b", shape.k * shape.n);
        let c = Tensor::zeros(&gpu, "c", &[shape.m * shape.n]);
        let dispatches: Vec<_> = kernels
            .iter()
            .map(|&kernel| {
                let dispatch = matmul_with(&gpu, kernel, &a, &b, None, &c, shape);
                dispatch.expect("matmul dispatch")
            })
            .collect();
        let mut timings: Vec<Timings> = kernels
            .iter()
            .map(|&kernel| Timings {
                kernel,
                times: Vec::new(),
            })
            .collect();

        // Warm up (first submission compiles the pipeline in some drivers), then time the
        // variants in turn until each has had its share of the budget.
        for dispatch in &dispatches {
            gpu.run(&[dispatch]).unwrap();
            gpu.wait().unwrap();
        }
        let start = Instant::now();
        let shape_budget = Duration::from_secs_f64(budget * kernels.len() as f64);
        loop {
            for (dispatch, timing) in dispatches.iter().zip(&mut timings) {
                let t = Instant::now();
                gpu.run(&[dispatch]).unwrap();
                gpu.wait().unwrap();
                timing.times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let runs = timings[0].times.len();
            if runs >= 3 && (start.elapsed() >= shape_budget || runs >= 200) {
                break;
            }
        }

        let gflops = |ms: f64| shape.flops() / (ms * 1e-3) / 1e9;
        let portable = timings
            .iter()
            .find(|t| t.kernel == MatmulKernel::Portable)
            .map(Timings::mean);
        for (index, timing) in timings.iter().enumerate() {
            let (mean, min) = (timing.mean(), timing.min());
            if !name.starts_with("512^3") {
                model_total[index] += mean;
            }
            let label = if index == 0 { name } else { "" };
            let mark = if timing.kernel == selected { "*" } else { "" };
            let kernel = format!("{}{mark}", timing.kernel);
            let ratio = portable.map_or("-".to_string(), |p| format!("{:.2}", p / mean));
            println!(
                "{label:<20} {:>6} {:>6} {:>6} {kernel:<9} {:>5} {mean:>9.3} {min:>9.3} \
                 {:>8.3} {:>9.2} {:>9.2} {ratio:>10}",
                shape.m,
                shape.n,
                shape.k,
                timing.times.len(),
                timing.std(),
                gflops(mean),
                gflops(min),
            );
        }
    }
    println!("sum of mean times over the SGAN's products:");
    let portable = kernels
        .iter()
        .position(|&k| k == MatmulKernel::Portable)
        .map(|i| model_total[i]);
    for (kernel, total) in kernels.iter().zip(&model_total) {
        let ratio = portable.map_or("-".to_string(), |p| format!("{:.2}", p / total));
        println!("  {:<9} {total:>9.1} ms  x portable {ratio}", kernel.name());
    }
}
