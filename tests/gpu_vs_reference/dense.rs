//! The matrix-product core, the bias gradient and the dense layer against the reference.

use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::layers::dense::{self, Dense, DenseShape};
use sgan_gpu::layers::matmul::{
    bias_backward, matmul, matmul_fused, matmul_with, Epilogue, MatmulKernel, MatmulShape,
};
use sgan_gpu::reference;

use crate::common::{self, assert_close, random_vec, to_f32, to_f64};
use crate::gpu_or_skip;

/// Absolute tolerance for f32 sums of `k` products of values in [-1, 1]: rounding grows about
/// like sqrt(k), and 3e-7 * k leaves a wide margin over that without hiding a wrong term
/// (one wrong product of two such values is about 0.1 or more).
fn atol(k: usize) -> f64 {
    1e-6 + 3e-7 * k as f64
}

/// Uploads `len` random values in [-1, 1] and returns the tensor with the exact f32 values.
fn random_tensor(gpu: &Gpu, label: &str, shape: &[usize], seed: u64) -> (Tensor, Vec<f64>) {
    let len = shape.iter().product();
    let data = to_f32(&random_vec(seed, len, 1.0));
    let tensor = Tensor::from_slice(gpu, label, shape, &data).unwrap();
    (tensor, to_f64(&data))
}

/// One product in all four transpose combinations against the f64 reference, through
/// `kernel`, or through the kernel `matmul` selects when `kernel` is `None`.
fn check_matmul_on(
    gpu: &Gpu,
    kernel: Option<MatmulKernel>,
    name: &str,
    (m, n, k): (usize, usize, usize),
    with_bias: bool,
) {
    check_fused_matmul_on(gpu, kernel, name, (m, n, k), with_bias, None);
}

/// [`check_matmul_on`] with a LeakyReLU of `leaky_slope` fused into the stores.
fn check_fused_matmul_on(
    gpu: &Gpu,
    kernel: Option<MatmulKernel>,
    name: &str,
    (m, n, k): (usize, usize, usize),
    with_bias: bool,
    leaky_slope: Option<f32>,
) {
    for (transpose_a, transpose_b) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut shape = MatmulShape::new(m, n, k);
        shape.transpose_a = transpose_a;
        shape.transpose_b = transpose_b;
        let (a, a_data) = random_tensor(gpu, "a", &[m * k], 1);
        let (b, b_data) = random_tensor(gpu, "b", &[k * n], 2);
        let (bias, bias_data) = random_tensor(gpu, "bias", &[n], 3);
        let c = Tensor::zeros(gpu, "c", &[m, n]);
        let bias_tensor = with_bias.then_some(&bias);
        let epilogue = Epilogue {
            bias: bias_tensor,
            leaky_slope,
        };
        let dispatch = match (kernel, leaky_slope) {
            (Some(kernel), None) => matmul_with(gpu, kernel, &a, &b, bias_tensor, &c, shape),
            (Some(kernel), Some(_)) => matmul_fused(gpu, kernel, &a, &b, epilogue, &c, shape),
            (None, None) => matmul(gpu, &a, &b, bias_tensor, &c, shape),
            (None, Some(_)) => panic!("the fused product is checked per kernel"),
        }
        .unwrap();
        gpu.run(&[&dispatch]).unwrap();
        let bias_ref = with_bias.then_some(&bias_data[..]);
        let want = reference::matmul(
            &a_data,
            &b_data,
            bias_ref,
            m,
            n,
            k,
            transpose_a,
            transpose_b,
        );
        let want = match leaky_slope {
            Some(slope) => reference::leaky_relu_forward(&want, slope as f64),
            None => want,
        };
        let label = format!("{name} (A^T {transpose_a}, B^T {transpose_b})");
        assert_close(&label, &c.read(gpu).unwrap(), &want, atol(k), 1e-5);
    }
}

fn check_matmul(name: &str, m: usize, n: usize, k: usize, with_bias: bool) {
    let gpu = gpu_or_skip!();
    check_matmul_on(gpu, None, name, (m, n, k), with_bias);
}

/// Ragged products (M x N x K) for every kernel variant. The tiles are 64 x 64 (portable,
/// tiled) and 32 x 128 (subgroup, in strips of 16 columns), the tiled kernel's K tile is 16:
/// every shape here is ragged against all of them, and together they span several workgroups
/// along both axes, K shorter than one K tile, and single rows, columns and values.
const VARIANT_SHAPES: [(usize, usize, usize); 6] = [
    (67, 45, 93),
    (301, 203, 77),
    (1, 1, 5),
    (33, 70, 1),
    (97, 291, 40),
    (130, 9, 21),
];

/// Every shape of `VARIANT_SHAPES`, with and without bias, in all four transpose combinations,
/// through `kernel`; skipped with a note where the adapter cannot run it.
fn check_variant(kernel: MatmulKernel) {
    let gpu = gpu_or_skip!();
    if let Err(reason) = kernel.check(gpu) {
        println!("skipping the {kernel} matmul kernel: {reason}");
        return;
    }
    for (m, n, k) in VARIANT_SHAPES {
        for with_bias in [false, true] {
            let bias = if with_bias { " + bias" } else { "" };
            let name = format!("matmul[{kernel}] {m}x{n}x{k}{bias}");
            check_matmul_on(gpu, Some(kernel), &name, (m, n, k), with_bias);
        }
        // The fused LeakyReLU, after the bias as the discriminator's first conv uses it.
        let name = format!("matmul[{kernel}] {m}x{n}x{k} + bias, LeakyReLU 0.2");
        check_fused_matmul_on(gpu, Some(kernel), &name, (m, n, k), true, Some(0.2));
    }
}

#[test]
fn matmul_portable_matches_reference() {
    check_variant(MatmulKernel::Portable);
}

#[test]
fn matmul_subgroup_matches_reference() {
    check_variant(MatmulKernel::Subgroup);
}

#[test]
fn matmul_tiled_matches_reference() {
    check_variant(MatmulKernel::Tiled);
}

/// The selection rule on made-up adapters: no device is opened.
#[test]
fn matmul_kernel_rule_follows_adapter() {
    let adapter = |device_type, lanes: (u32, u32)| {
        let mut info = wgpu::AdapterInfo::new(device_type, wgpu::Backend::Vulkan);
        (info.subgroup_min_size, info.subgroup_max_size) = lanes;
        info
    };
    let subgroups = wgpu::Features::SUBGROUP;
    let none = wgpu::Features::empty();
    let cpu = wgpu::DeviceType::Cpu;
    let rule = MatmulKernel::for_adapter;
    assert_eq!(
        rule(&adapter(cpu, (8, 8)), subgroups),
        MatmulKernel::Subgroup
    );
    assert_eq!(rule(&adapter(cpu, (8, 8)), none), MatmulKernel::Portable);
    assert_eq!(
        rule(&adapter(cpu, (4, 128)), subgroups),
        MatmulKernel::Portable
    );
    assert_eq!(
        rule(&adapter(cpu, (16, 16)), subgroups),
        MatmulKernel::Portable
    );
    for gpu in [
        wgpu::DeviceType::DiscreteGpu,
        wgpu::DeviceType::IntegratedGpu,
        wgpu::DeviceType::VirtualGpu,
    ] {
        assert_eq!(
            rule(&adapter(gpu, (32, 32)), subgroups),
            MatmulKernel::Tiled
        );
        assert_eq!(rule(&adapter(gpu, (8, 8)), subgroups), MatmulKernel::Tiled);
    }
    let other = wgpu::DeviceType::Other;
    assert_eq!(
        rule(&adapter(other, (8, 8)), subgroups),
        MatmulKernel::Portable
    );
}

#[test]
fn matmul_kernel_names_round_trip() {
    for kernel in MatmulKernel::ALL {
        assert_eq!(kernel.name().parse::<MatmulKernel>().unwrap(), kernel);
    }
    assert!("fastest".parse::<MatmulKernel>().is_err());
}

#[test]
fn matmul_ragged_matches_reference() {
    check_matmul("matmul 67x45x93", 67, 45, 93, false);
}

#[test]
fn matmul_ragged_with_bias_matches_reference() {
    check_matmul("matmul 67x45x93 + bias", 67, 45, 93, true);
}

#[test]
fn matmul_inner_dimension_one_matches_reference() {
    check_matmul("matmul 33x70x1 + bias", 33, 70, 1, true);
}

#[test]
fn matmul_many_workgroups_matches_reference() {
    // 5 x 4 workgroups of 64 x 64, ragged on both edges, and a ragged inner dimension.
    check_matmul("matmul 301x203x77", 301, 203, 77, false);
}

#[test]
fn matmul_tiny_matches_reference() {
    check_matmul("matmul 1x1x5 + bias", 1, 1, 5, true);
}

#[test]
fn matmul_rejects_wrong_sizes() {
    let gpu = gpu_or_skip!();
    let a = Tensor::zeros(gpu, "a", &[6]);
    let b = Tensor::zeros(gpu, "b", &[6]);
    let c = Tensor::zeros(gpu, "c", &[5]);
    assert!(matmul(gpu, &a, &b, None, &c, MatmulShape::new(2, 2, 3)).is_err());
}

fn check_bias_backward(rows: usize, cols: usize) {
    let gpu = gpu_or_skip!();
    let (d_output, data) = random_tensor(gpu, "dy", &[rows, cols], 4);
    let d_bias = Tensor::zeros(gpu, "d_bias", &[cols]);
    let (_scratch, dispatches) = bias_backward(gpu, &d_output, rows, cols, &d_bias).unwrap();
    gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
    let want = reference::bias_backward(&data, rows, cols);
    let name = format!("bias_backward {rows}x{cols}");
    // Sums of `rows` values in [-1, 1] through two or three levels of short partial sums.
    assert_close(
        &name,
        &d_bias.read(gpu).unwrap(),
        &want,
        1e-6 * (rows as f64).sqrt(),
        1e-5,
    );
}

#[test]
fn bias_backward_matches_reference() {
    check_bias_backward(1000, 37);
    check_bias_backward(3, 5);
}

#[test]
fn bias_backward_many_rows_one_column_matches_reference() {
    // The last transposed conv of G at batch 32: [32*28*28, 1], three reduction levels.
    check_bias_backward(25088, 1);
}

const SHAPE: DenseShape = DenseShape {
    batch: 5,
    inputs: 131,
    outputs: 70,
};

#[test]
fn dense_forward_matches_reference() {
    let gpu = gpu_or_skip!();
    let s = SHAPE;
    let (x, x_data) = random_tensor(gpu, "x", &[s.batch, s.inputs], 5);
    let (w, w_data) = random_tensor(gpu, "w", &[s.inputs, s.outputs], 6);
    let (b, b_data) = random_tensor(gpu, "b", &[s.outputs], 7);
    let y = Tensor::zeros(gpu, "y", &[s.batch, s.outputs]);
    let dispatch = dense::dense_forward(gpu, &s, &x, &w, Some(&b), &y).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    let want = reference::dense_forward(&x_data, &w_data, Some(&b_data), &s);
    assert_close(
        "dense_forward",
        &y.read(gpu).unwrap(),
        &want,
        atol(s.inputs),
        1e-5,
    );
}

#[test]
fn dense_backward_input_matches_reference() {
    let gpu = gpu_or_skip!();
    let s = SHAPE;
    let (dy, dy_data) = random_tensor(gpu, "dy", &[s.batch, s.outputs], 8);
    let (w, w_data) = random_tensor(gpu, "w", &[s.inputs, s.outputs], 9);
    let dx = Tensor::zeros(gpu, "dx", &[s.batch, s.inputs]);
    let dispatch = dense::dense_backward_input(gpu, &s, &dy, &w, &dx).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    let want = reference::dense_backward_input(&dy_data, &w_data, &s);
    let got = dx.read(gpu).unwrap();
    assert_close("dense_backward_input", &got, &want, atol(s.outputs), 1e-5);
}

#[test]
fn dense_backward_weight_matches_reference() {
    let gpu = gpu_or_skip!();
    let s = SHAPE;
    let (x, x_data) = random_tensor(gpu, "x", &[s.batch, s.inputs], 10);
    let (dy, dy_data) = random_tensor(gpu, "dy", &[s.batch, s.outputs], 11);
    let dw = Tensor::zeros(gpu, "dw", &[s.inputs, s.outputs]);
    let dispatch = dense::dense_backward_weight(gpu, &s, &x, &dy, &dw).unwrap();
    gpu.run(&[&dispatch]).unwrap();
    let want = reference::dense_backward_weight(&x_data, &dy_data, &s);
    let got = dw.read(gpu).unwrap();
    assert_close("dense_backward_weight", &got, &want, atol(s.batch), 1e-5);
}

/// The `Dense` struct end to end, on the SGAN's two dense shapes at batch 2 (the trunk's
/// 2048 -> 10 head reads a [B, 4, 4, 128] activation as [B, 2048]) and a ragged one.
#[test]
fn dense_layer_matches_reference() {
    let gpu = gpu_or_skip!();
    let shapes = [
        (
            DenseShape {
                batch: 2,
                inputs: 2048,
                outputs: 10,
            },
            vec![2, 4, 4, 128],
        ),
        (
            DenseShape {
                batch: 2,
                inputs: 100,
                outputs: 12544,
            },
            vec![2, 100],
        ),
        (SHAPE, vec![SHAPE.batch, SHAPE.inputs]),
    ];
    for (s, input_shape) in shapes {
        let layer = Dense::new(gpu, "dense", s).unwrap();
        let w_data = to_f64(&to_f32(&random_vec(12, s.inputs * s.outputs, 1.0)));
        let b_data = to_f64(&to_f32(&random_vec(13, s.outputs, 1.0)));
        layer.weight.write(gpu, &to_f32(&w_data)).unwrap();
        layer.bias.write(gpu, &to_f32(&b_data)).unwrap();
        let (x, x_data) = random_tensor(gpu, "x", &input_shape, 14);
        let (dy, dy_data) = random_tensor(gpu, "dy", &[s.batch, s.outputs], 15);
        let y = Tensor::zeros(gpu, "y", &[s.batch, s.outputs]);
        let dx = Tensor::zeros(gpu, "dx", &input_shape);
        let mut dispatches = layer.forward(gpu, &x, &y).unwrap();
        dispatches.extend(layer.backward(gpu, &x, &dy, Some(&dx)).unwrap());
        gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();

        let name = |what: &str| format!("Dense {}->{} {what}", s.inputs, s.outputs);
        let want_y = reference::dense_forward(&x_data, &w_data, Some(&b_data), &s);
        let y_got = y.read(gpu).unwrap();
        assert_close(&name("forward"), &y_got, &want_y, atol(s.inputs), 1e-5);
        let want_dx = reference::dense_backward_input(&dy_data, &w_data, &s);
        let dx_got = dx.read(gpu).unwrap();
        assert_close(&name("d_input"), &dx_got, &want_dx, atol(s.outputs), 1e-5);
        let want_dw = reference::dense_backward_weight(&x_data, &dy_data, &s);
        let dw_got = layer.d_weight.read(gpu).unwrap();
        assert_close(&name("d_weight"), &dw_got, &want_dw, atol(s.batch), 1e-5);
        let want_db = reference::dense_backward_bias(&dy_data, &s);
        let db_got = layer.d_bias.read(gpu).unwrap();
        assert_close(&name("d_bias"), &db_got, &want_db, atol(s.batch), 1e-5);
        assert_eq!((layer.fan_in(), layer.fan_out()), (s.inputs, s.outputs));
    }
}

/// A fused LeakyReLU needs a slope in (0, 1); anything else is refused before recording.
#[test]
fn matmul_refuses_a_leaky_slope_outside_0_1() {
    let gpu = gpu_or_skip!();
    let shape = MatmulShape::new(2, 3, 4);
    let a = Tensor::zeros(gpu, "a", &[8]);
    let b = Tensor::zeros(gpu, "b", &[12]);
    let c = Tensor::zeros(gpu, "c", &[6]);
    for slope in [0.0, 1.0, 1.5, -0.1, f32::NAN] {
        let epilogue = Epilogue {
            bias: None,
            leaky_slope: Some(slope),
        };
        let kernel = MatmulKernel::select(gpu).unwrap();
        let err = matmul_fused(gpu, kernel, &a, &b, epilogue, &c, shape)
            .err()
            .unwrap_or_else(|| panic!("slope {slope} was accepted"));
        assert!(err.to_string().contains("slope"), "{err}");
    }
}
