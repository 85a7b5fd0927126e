//! Each layer's forward and backward dispatches at the model's real shapes (batch 32), then
//! whole training iterations, on the default adapter, through criterion (mean with a
//! confidence interval, outliers, and the change since the last run).
//!
//! Run with `cargo bench --bench kernels`; pick a group with a filter, e.g.
//! `cargo bench --bench kernels -- iteration`. `SGAN_BENCH_SECONDS` (default 2) sets the
//! measuring time per benchmark. Every sample submits the dispatches and waits for them.
//! Throughput: for matrix products criterion's "elements" are floating-point operations, so
//! its Gelem/s reads as GFLOP/s; for the rest it is the bytes the dispatches bind.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use sgan_gpu::data::mnist::{default_dir, Mnist};
use sgan_gpu::gpu::{Dispatch, Gpu, GpuOptions, Tensor};
use sgan_gpu::layers::activation::{
    leaky_relu_backward, leaky_relu_forward, tanh_backward, tanh_forward,
};
use sgan_gpu::layers::adam::{Adam, AdamHyper};
use sgan_gpu::layers::batch_norm::BatchNorm;
use sgan_gpu::layers::conv2d::Conv2d;
use sgan_gpu::layers::conv_transpose2d::ConvTranspose2d;
use sgan_gpu::layers::dense::Dense;
use sgan_gpu::model::{Discriminator, Generator};
use sgan_gpu::spec::{Conv2dShape, ConvTranspose2dShape, DenseShape};
use sgan_gpu::train::{Config, Mode, Trainer};

const BATCH: usize = 32;

fn measuring_time() -> Duration {
    let seconds = std::env::var("SGAN_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(seconds)
}

/// A tensor of cheap deterministic values in [-1, 1]; the timings do not depend on them.
fn filled(gpu: &Gpu, label: &str, shape: &[usize]) -> Tensor {
    let len: usize = shape.iter().product();
    let data: Vec<f32> = (0..len)
        .map(|i| ((i * 7919 % 2001) as f32 / 1000.0) - 1.0)
        .collect();
    Tensor::from_slice(gpu, label, shape, &data).expect("upload")
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Ten samples (a sample of the big layers takes tens of milliseconds on lavapipe).
fn configure(group: &mut Group<'_>) {
    group
        .sample_size(10)
        .measurement_time(measuring_time())
        .warm_up_time(Duration::from_secs(1));
}

/// Benchmarks submitting `dispatches` and waiting for them, as `name`.
fn bench_dispatches(group: &mut Group<'_>, gpu: &Gpu, name: &str, dispatches: &[Dispatch]) {
    let refs: Vec<&Dispatch> = dispatches.iter().collect();
    let flops: f64 = dispatches.iter().map(|d| d.cost.flops).sum();
    if flops > 0.0 {
        group.throughput(Throughput::Elements(flops as u64));
    } else {
        let bytes: f64 = dispatches.iter().map(|d| d.cost.bytes).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
    }
    group.bench_function(name, |b| {
        b.iter(|| {
            gpu.run(&refs).expect("run");
            gpu.wait().expect("wait");
        })
    });
}

fn conv2d_pair(gpu: &Gpu, c: &mut Criterion, name: &str, shape: Conv2dShape) {
    let layer = Conv2d::new(gpu, name, shape).unwrap();
    layer
        .weight
        .write(
            gpu,
            &filled(gpu, "w", &shape.weight_shape()).read(gpu).unwrap(),
        )
        .unwrap();
    let input = filled(gpu, "input", &shape.input_shape());
    let output = Tensor::zeros(gpu, "output", &shape.output_shape());
    let d_output = filled(gpu, "d_output", &shape.output_shape());
    let d_input = Tensor::zeros(gpu, "d_input", &shape.input_shape());
    let mut group = c.benchmark_group(format!("layer/{name}"));
    configure(&mut group);
    bench_dispatches(
        &mut group,
        gpu,
        "forward",
        &layer.forward(gpu, &input, &output).unwrap(),
    );
    let with_input = layer
        .backward(gpu, &input, &d_output, Some(&d_input))
        .unwrap();
    bench_dispatches(&mut group, gpu, "backward", &with_input);
    group.finish();
}

fn conv_transpose2d_pair(gpu: &Gpu, c: &mut Criterion, name: &str, shape: ConvTranspose2dShape) {
    let layer = ConvTranspose2d::new(gpu, name, shape).unwrap();
    let input = filled(gpu, "input", &shape.input_shape());
    let output = Tensor::zeros(gpu, "output", &shape.output_shape());
    let d_output = filled(gpu, "d_output", &shape.output_shape());
    let d_input = Tensor::zeros(gpu, "d_input", &shape.input_shape());
    let mut group = c.benchmark_group(format!("layer/{name}"));
    configure(&mut group);
    bench_dispatches(
        &mut group,
        gpu,
        "forward",
        &layer.forward(gpu, &input, &output).unwrap(),
    );
    let backward = layer
        .backward(gpu, &input, &d_output, Some(&d_input))
        .unwrap();
    bench_dispatches(&mut group, gpu, "backward", &backward);
    group.finish();
}

fn dense_pair(gpu: &Gpu, c: &mut Criterion, name: &str, shape: DenseShape) {
    let layer = Dense::new(gpu, name, shape).unwrap();
    let input = filled(gpu, "input", &[shape.batch, shape.inputs]);
    let output = Tensor::zeros(gpu, "output", &[shape.batch, shape.outputs]);
    let d_output = filled(gpu, "d_output", &[shape.batch, shape.outputs]);
    let d_input = Tensor::zeros(gpu, "d_input", &[shape.batch, shape.inputs]);
    let mut group = c.benchmark_group(format!("layer/{name}"));
    configure(&mut group);
    bench_dispatches(
        &mut group,
        gpu,
        "forward",
        &layer.forward(gpu, &input, &output).unwrap(),
    );
    let backward = layer
        .backward(gpu, &input, &d_output, Some(&d_input))
        .unwrap();
    bench_dispatches(&mut group, gpu, "backward", &backward);
    group.finish();
}

/// Batch norm and the LeakyReLU after it, at one activation shape.
fn norm_and_activation_pairs(gpu: &Gpu, c: &mut Criterion, name: &str, shape: &[usize]) {
    let norm = BatchNorm::new(gpu, name, shape).unwrap();
    let input = filled(gpu, "input", shape);
    let output = Tensor::zeros(gpu, "output", shape);
    let d_output = filled(gpu, "d_output", shape);
    let d_input = Tensor::zeros(gpu, "d_input", shape);
    let mut group = c.benchmark_group(format!("layer/{name}"));
    configure(&mut group);
    let forward = norm.forward_train(gpu, &input, &output, true).unwrap();
    bench_dispatches(&mut group, gpu, "batch_norm forward", &forward);
    let backward = norm.backward(gpu, &input, &d_output, &d_input).unwrap();
    bench_dispatches(&mut group, gpu, "batch_norm backward", &backward);
    let relu = [leaky_relu_forward(gpu, &input, &output, 0.01).unwrap()];
    bench_dispatches(&mut group, gpu, "leaky_relu forward", &relu);
    let relu_back = [leaky_relu_backward(gpu, &input, &d_output, &d_input, 0.01).unwrap()];
    bench_dispatches(&mut group, gpu, "leaky_relu backward", &relu_back);
    group.finish();
}

fn layers(c: &mut Criterion) {
    let gpu = Gpu::new(&GpuOptions::default()).expect("no GPU adapter");
    let gpu = &gpu;
    println!("adapter: {} ({:?})", gpu.info.name, gpu.info.backend);
    // The models' own geometry, so the benchmarks follow any change to it.
    let [conv1, conv2, conv3] = Discriminator::layer_shapes(BATCH);
    conv2d_pair(gpu, c, "d.conv1 28x28x1->14x14x32", conv1);
    conv2d_pair(gpu, c, "d.conv2 14x14x32->7x7x64", conv2);
    conv2d_pair(gpu, c, "d.conv3 7x7x64->4x4x128", conv3);
    let dense = |inputs, outputs| DenseShape {
        batch: BATCH,
        inputs,
        outputs,
    };
    dense_pair(gpu, c, "d.dense 2048->10", dense(2048, 10));
    dense_pair(gpu, c, "g.dense 100->12544", dense(100, 12544));
    let [deconv1, deconv2, deconv3] = Generator::layer_shapes(BATCH);
    conv_transpose2d_pair(gpu, c, "g.deconv1 7x7x256->14x14x128", deconv1);
    conv_transpose2d_pair(gpu, c, "g.deconv2 14x14x128->14x14x64", deconv2);
    conv_transpose2d_pair(gpu, c, "g.deconv3 14x14x64->28x28x1", deconv3);
    norm_and_activation_pairs(gpu, c, "g.norm1 14x14x128", &[BATCH, 14, 14, 128]);
    norm_and_activation_pairs(gpu, c, "d.norm2 7x7x64", &[BATCH, 7, 7, 64]);

    let image = [BATCH, 28, 28, 1];
    let (x, y) = (filled(gpu, "x", &image), Tensor::zeros(gpu, "y", &image));
    let (dy, dx) = (filled(gpu, "dy", &image), Tensor::zeros(gpu, "dx", &image));
    let mut group = c.benchmark_group("layer/g.tanh 28x28x1");
    configure(&mut group);
    bench_dispatches(
        &mut group,
        gpu,
        "forward",
        &[tanh_forward(gpu, &x, &y).unwrap()],
    );
    let backward = [tanh_backward(gpu, &y, &dy, &dx).unwrap()];
    bench_dispatches(&mut group, gpu, "backward", &backward);
    group.finish();

    // One Adam step over each model's parameters: packed into one buffer, as the trainer
    // runs it (one dispatch), and tensor by tensor (one dispatch each), side by side.
    let mut group = c.benchmark_group("layer/adam");
    configure(&mut group);
    for packed in [true, false] {
        let mut trunk = Discriminator::new(gpu, BATCH, 0).unwrap();
        let mut generator = Generator::new(gpu, BATCH).unwrap();
        if packed {
            trunk.pack_parameters(gpu).unwrap();
            generator.pack_parameters(gpu).unwrap();
        }
        for (model, params, grads) in [
            ("discriminator", trunk.parameters(), trunk.gradients()),
            ("generator", generator.parameters(), generator.gradients()),
        ] {
            let adam = Adam::new(gpu, model, &params, AdamHyper::default()).unwrap();
            let step = adam.step(gpu, &params, &grads).unwrap();
            let layout = if packed { "packed" } else { "per tensor" };
            bench_dispatches(&mut group, gpu, &format!("{model} {layout}"), &step);
        }
    }
    group.finish();
}

/// Whole training iterations on the bundled MNIST: the SGAN's three phases, and the
/// supervised-only baseline's step.
fn iterations(c: &mut Criterion) {
    let gpu = Gpu::new(&GpuOptions::default()).expect("no GPU adapter");
    let mnist = Mnist::load(&default_dir()).expect("the bundled MNIST loads");
    let mut group = c.benchmark_group("iteration");
    group
        .sample_size(10)
        .measurement_time(4 * measuring_time())
        .warm_up_time(Duration::from_secs(1));
    for mode in [Mode::Sgan, Mode::Supervised] {
        let config = Config {
            mode,
            ..Config::default()
        };
        let train_set = sgan_gpu::run::upload_training_set(&gpu, &mnist.train, &config).unwrap();
        let mut trainer = Trainer::new(&gpu, &config, train_set).unwrap();
        let name = sgan_gpu::run::mode_name(mode);
        group.bench_function(name, |b| {
            b.iter(|| {
                trainer.step().expect("step");
                gpu.wait().expect("wait");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, layers, iterations);
criterion_main!(benches);
