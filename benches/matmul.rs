//! Times the matrix-product core on the default adapter: 512 x 512 x 512 in all four transpose
//! combinations, then the SGAN's real products at batch 32. Prints mean, min and standard
//! deviation of wall time per dispatch (submit to completion) and the GFLOP/s they imply.
//!
//! Run with `cargo bench --bench matmul`; `MATMUL_BENCH_SECONDS` (default 0.5) sets the time
//! spent per shape.

use std::time::{Duration, Instant};

use sgan_gpu::gpu::{Gpu, GpuOptions, Tensor};
use sgan_gpu::layers::matmul::{matmul, MatmulShape};

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

fn main() {
    let gpu = Gpu::new(&GpuOptions::default()).expect("no GPU adapter");
    let budget: f64 = std::env::var("MATMUL_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.5);
    println!("adapter: {} ({:?})", gpu.info.name, gpu.info.backend);
    println!(
        "{:<20} {:>6} {:>6} {:>6} {:>5} {:>9} {:>9} {:>8} {:>9} {:>9}",
        "shape", "M", "N", "K", "runs", "mean ms", "min ms", "std ms", "GFLOP/s", "best"
    );
    for (name, shape) in shapes() {
        // Create and bind once, as the trainer does.
        let a = filled(&gpu, "a", shape.m * shape.k);
        let b = filled(&gpu, "b", shape.k * shape.n);
        let c = Tensor::zeros(&gpu, "c", &[shape.m * shape.n]);
        let dispatch = matmul(&gpu, &a, &b, None, &c, shape).expect("matmul dispatch");

        // Warm up (first submission compiles the pipeline in some drivers), then time.
        gpu.run(&[&dispatch]).unwrap();
        gpu.wait().unwrap();
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < 3
            || (start.elapsed() < Duration::from_secs_f64(budget) && times.len() < 200)
        {
            let t = Instant::now();
            gpu.run(&[&dispatch]).unwrap();
            gpu.wait().unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let runs = times.len() as f64;
        let mean = times.iter().sum::<f64>() / runs;
        let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
        let std = (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / runs).sqrt();
        let gflops = |ms: f64| shape.flops() / (ms * 1e-3) / 1e9;
        println!(
            "{name:<20} {:>6} {:>6} {:>6} {:>5} {mean:>9.3} {min:>9.3} {std:>8.3} {:>9.2} {:>9.2}",
            shape.m,
            shape.n,
            shape.k,
            times.len(),
            gflops(mean),
            gflops(min),
        );
    }
}
