//! im2col, col2im, every conv2d and conv_transpose2d kernel, the layer structs, 'same'
//! padding and the adjoint property, on the GPU against the reference.

use sgan_gpu::gpu::{Dispatch, Gpu, Tensor};
use sgan_gpu::layers::conv2d::{self, same_padding, Conv2d, Conv2dShape};
use sgan_gpu::layers::conv_transpose2d::{self, ConvTranspose2d, ConvTranspose2dShape};
use sgan_gpu::layers::matmul::{BiasBackward, MatmulKernel};
use sgan_gpu::reference;

use crate::common::{self, assert_close, assert_exact, random_vec, to_f32, to_f64};
use crate::gpu_or_skip;

/// See `dense.rs`: f32 sums of `k` products of values in [-1, 1].
fn atol(k: usize) -> f64 {
    1e-6 + 3e-7 * k as f64
}

fn random_tensor(gpu: &Gpu, label: &str, shape: &[usize], seed: u64) -> (Tensor, Vec<f64>) {
    let len = shape.iter().product();
    let data = to_f32(&random_vec(seed, len, 1.0));
    let tensor = Tensor::from_slice(gpu, label, shape, &data).unwrap();
    (tensor, to_f64(&data))
}

fn conv(
    batch: usize,
    size: (usize, usize),
    channels: (usize, usize),
    stride: usize,
) -> Conv2dShape {
    Conv2dShape {
        batch,
        height: size.0,
        width: size.1,
        in_channels: channels.0,
        out_channels: channels.1,
        kernel: 3,
        stride,
    }
}

/// Odd sizes: 7x7 -> 4x4, 9x9 stride 2, non-square 5x6 at stride 1 and 2.
fn odd_convs() -> Vec<Conv2dShape> {
    vec![
        conv(2, (7, 7), (3, 5), 2),
        conv(3, (9, 9), (4, 6), 2),
        conv(2, (5, 6), (3, 4), 1),
        conv(3, (5, 6), (2, 7), 2),
    ]
}

fn transposed(
    batch: usize,
    size: (usize, usize),
    channels: (usize, usize),
    stride: usize,
) -> ConvTranspose2dShape {
    ConvTranspose2dShape {
        batch,
        height: size.0,
        width: size.1,
        in_channels: channels.0,
        out_channels: channels.1,
        kernel: 3,
        stride,
    }
}

/// Odd sizes: 4x4 -> 8x8, 5x3 -> 10x6 at stride 2, 5x6 -> 5x6 at stride 1.
fn odd_transposed() -> Vec<ConvTranspose2dShape> {
    vec![
        transposed(2, (4, 4), (5, 3), 2),
        transposed(3, (5, 3), (4, 6), 2),
        transposed(2, (5, 6), (3, 4), 1),
    ]
}

fn run(gpu: &Gpu, dispatches: &[sgan_gpu::gpu::Dispatch]) {
    gpu.run(&dispatches.iter().collect::<Vec<_>>()).unwrap();
}

#[test]
fn same_padding_matches_tensorflow() {
    // (input, stride) -> (output, before, after) for K = 3.
    assert_eq!(same_padding(28, 3, 2), (14, 0, 1));
    assert_eq!(same_padding(14, 3, 2), (7, 0, 1));
    assert_eq!(same_padding(7, 3, 2), (4, 1, 1));
    assert_eq!(same_padding(14, 3, 1), (14, 1, 1));
    assert_eq!(same_padding(9, 3, 2), (5, 1, 1));
    assert_eq!(same_padding(6, 3, 2), (3, 0, 1));
    let d3 = conv(2, (7, 7), (64, 128), 2);
    assert_eq!(d3.output_shape(), [2, 4, 4, 128]);
    assert_eq!((d3.pad_rows(), d3.pad_cols()), ((1, 1), (1, 1)));
    let d2 = conv(2, (14, 14), (32, 64), 2);
    assert_eq!(d2.output_shape(), [2, 7, 7, 64]);
    assert_eq!((d2.pad_rows(), d2.pad_cols()), ((0, 1), (0, 1)));
    let d1 = conv(2, (28, 28), (1, 32), 2);
    assert_eq!(d1.output_shape(), [2, 14, 14, 32]);
    assert_eq!((d1.pad_rows(), d1.pad_cols()), ((0, 1), (0, 1)));
    let non_square = conv(1, (5, 6), (1, 1), 2);
    assert_eq!(non_square.output_shape(), [1, 3, 3, 1]);
    assert_eq!(
        (non_square.pad_rows(), non_square.pad_cols()),
        ((1, 1), (0, 1))
    );
    let g1 = transposed(2, (7, 7), (256, 128), 2);
    assert_eq!(g1.output_shape(), [2, 14, 14, 128]);
    assert_eq!(g1.weight_shape(), [3, 3, 128, 256]);
}

/// All-ones 4x4 input and all-ones 3x3 kernel: each output counts the taps inside the input,
/// which shows where the padding went. Exact on both sides.
#[test]
fn conv2d_padding_places_zeros_like_tensorflow() {
    let gpu = gpu_or_skip!();
    // Stride 2: 4 -> 2, padding 0 before and 1 after, so only the far edges lose taps.
    // Stride 1: 4 -> 4, padding 1 and 1: corners 4, edges 6, interior 9.
    let cases = [
        (2, vec![9.0, 6.0, 6.0, 4.0]),
        (
            1,
            vec![
                4.0, 6.0, 6.0, 4.0, 6.0, 9.0, 9.0, 6.0, 6.0, 9.0, 9.0, 6.0, 4.0, 6.0, 6.0, 4.0,
            ],
        ),
    ];
    for (stride, expected) in cases {
        let shape = conv(1, (4, 4), (1, 1), stride);
        let ones = vec![1.0f32; 16];
        let weight = vec![1.0f32; 9];
        let want = reference::conv2d_forward(&to_f64(&ones), &to_f64(&weight), None, &shape);
        assert_eq!(want, expected, "reference at stride {stride}");
        let input = Tensor::from_slice(gpu, "x", &shape.input_shape(), &ones).unwrap();
        let w = Tensor::from_slice(gpu, "w", &shape.weight_shape(), &weight).unwrap();
        let cols = Tensor::zeros(gpu, "cols", &shape.cols_shape());
        let output = Tensor::zeros(gpu, "y", &shape.output_shape());
        run(
            gpu,
            &conv2d::conv2d_forward(gpu, &shape, &input, &w, None, &cols, &output).unwrap(),
        );
        let expected: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
        assert_exact(
            &format!("ones conv stride {stride}"),
            &output.read(gpu).unwrap(),
            &expected,
        );
    }
}

#[test]
fn im2col_and_col2im_match_reference() {
    let gpu = gpu_or_skip!();
    for (i, shape) in odd_convs().into_iter().enumerate() {
        let (input, x) = random_tensor(gpu, "x", &shape.input_shape(), 20 + i as u64);
        let cols = Tensor::zeros(gpu, "cols", &shape.cols_shape());
        run(gpu, &[conv2d::im2col(gpu, &shape, &input, &cols).unwrap()]);
        // A copy with zeros: exact.
        let want = to_f32(&reference::im2col(&x, &shape));
        assert_exact(
            &format!("im2col {shape:?}"),
            &cols.read(gpu).unwrap(),
            &want,
        );

        let (d_cols, dc) = random_tensor(gpu, "d_cols", &shape.cols_shape(), 30 + i as u64);
        let (bias, b) = random_tensor(gpu, "bias", &[shape.in_channels], 40 + i as u64);
        let d_input = Tensor::zeros(gpu, "dx", &shape.input_shape());
        for with_bias in [false, true] {
            let bias_tensor = with_bias.then_some(&bias);
            let dispatch = conv2d::col2im(gpu, &shape, &d_cols, bias_tensor, &d_input).unwrap();
            run(gpu, &[dispatch]);
            let want = reference::col2im(&dc, with_bias.then_some(&b[..]), &shape);
            let name = format!("col2im (bias {with_bias}) {shape:?}");
            assert_close(&name, &d_input.read(gpu).unwrap(), &want, atol(10), 1e-5);
        }
    }
}

/// Every conv2d kernel through its launcher, against the direct-loop reference.
fn check_conv2d_kernels(shape: &Conv2dShape, seed: u64) {
    let gpu = gpu_or_skip!();
    let (input, x) = random_tensor(gpu, "x", &shape.input_shape(), seed);
    let (weight, w) = random_tensor(gpu, "w", &shape.weight_shape(), seed + 1);
    let (bias, b) = random_tensor(gpu, "b", &[shape.out_channels], seed + 2);
    let (d_output, dy) = random_tensor(gpu, "dy", &shape.output_shape(), seed + 3);
    let cols = Tensor::zeros(gpu, "cols", &shape.cols_shape());
    let d_cols = Tensor::zeros(gpu, "d_cols", &shape.cols_shape());
    let output = Tensor::zeros(gpu, "y", &shape.output_shape());
    let d_input = Tensor::zeros(gpu, "dx", &shape.input_shape());
    let d_weight = Tensor::zeros(gpu, "dw", &shape.weight_shape());
    let d_bias = Tensor::zeros(gpu, "db", &[shape.out_channels]);
    let sums = BiasBackward::new(gpu, "db", shape.rows(), shape.out_channels);

    let mut dispatches =
        conv2d::conv2d_forward(gpu, shape, &input, &weight, Some(&bias), &cols, &output).unwrap();
    dispatches
        .push(conv2d::conv2d_backward_weight(gpu, shape, &cols, &d_output, &d_weight).unwrap());
    dispatches.extend(
        conv2d::conv2d_backward_input(gpu, shape, &d_output, &weight, &d_cols, &d_input).unwrap(),
    );
    dispatches.extend(conv2d::conv2d_backward_bias(gpu, shape, &d_output, &sums, &d_bias).unwrap());
    run(gpu, &dispatches);

    let name = |what: &str| {
        format!(
            "{what} {}x{}x{}->{:?} s{}",
            shape.height,
            shape.width,
            shape.in_channels,
            shape.output_shape(),
            shape.stride
        )
    };
    let want = reference::conv2d_forward(&x, &w, Some(&b), shape);
    let got = output.read(gpu).unwrap();
    assert_close(
        &name("conv2d_forward"),
        &got,
        &want,
        atol(shape.patch()),
        1e-5,
    );
    let want = reference::conv2d_backward_input(&dy, &w, shape);
    let got = d_input.read(gpu).unwrap();
    let taps = shape.kernel * shape.kernel * shape.out_channels;
    assert_close(
        &name("conv2d_backward_input"),
        &got,
        &want,
        atol(taps),
        1e-5,
    );
    let want = reference::conv2d_backward_weight(&x, &dy, shape);
    let got = d_weight.read(gpu).unwrap();
    assert_close(
        &name("conv2d_backward_weight"),
        &got,
        &want,
        atol(shape.rows()),
        1e-5,
    );
    let want = reference::conv2d_backward_bias(&dy, shape);
    let got = d_bias.read(gpu).unwrap();
    assert_close(
        &name("conv2d_backward_bias"),
        &got,
        &want,
        atol(shape.rows()),
        1e-5,
    );
}

#[test]
fn conv2d_kernels_match_reference_on_odd_sizes() {
    for (i, shape) in odd_convs().iter().enumerate() {
        check_conv2d_kernels(shape, 100 + 10 * i as u64);
    }
}

/// Every conv_transpose2d kernel through its launcher.
fn check_conv_transpose2d_kernels(shape: &ConvTranspose2dShape, seed: u64) {
    let gpu = gpu_or_skip!();
    let (input, x) = random_tensor(gpu, "x", &shape.input_shape(), seed);
    let (weight, w) = random_tensor(gpu, "w", &shape.weight_shape(), seed + 1);
    let (bias, b) = random_tensor(gpu, "b", &[shape.out_channels], seed + 2);
    let (d_output, dy) = random_tensor(gpu, "dy", &shape.output_shape(), seed + 3);
    let cols = Tensor::zeros(gpu, "cols", &shape.cols_shape());
    let output = Tensor::zeros(gpu, "y", &shape.output_shape());
    let d_input = Tensor::zeros(gpu, "dx", &shape.input_shape());
    let d_weight = Tensor::zeros(gpu, "dw", &shape.weight_shape());
    let d_bias = Tensor::zeros(gpu, "db", &[shape.out_channels]);
    let out = shape.output_shape();
    let pixels = out[0] * out[1] * out[2];
    let sums = BiasBackward::new(gpu, "db", pixels, shape.out_channels);

    // Forward first (cols as a temporary), then backward: input gradient (fills cols with
    // im2col(d_output)), weight gradient reading those cols, bias gradient.
    let bias = Some(&bias);
    let mut dispatches = conv_transpose2d::conv_transpose2d_forward(
        gpu, shape, &input, &weight, bias, &cols, &output,
    )
    .unwrap();
    dispatches.extend(
        conv_transpose2d::conv_transpose2d_backward_input(
            gpu, shape, &d_output, &weight, &cols, &d_input,
        )
        .unwrap(),
    );
    dispatches.push(
        conv_transpose2d::conv_transpose2d_backward_weight(gpu, shape, &cols, &input, &d_weight)
            .unwrap(),
    );
    dispatches.extend(
        conv_transpose2d::conv_transpose2d_backward_bias(gpu, shape, &d_output, &sums, &d_bias)
            .unwrap(),
    );
    run(gpu, &dispatches);

    let name = |what: &str| {
        format!(
            "{what} {:?}->{:?} s{}",
            shape.input_shape(),
            shape.output_shape(),
            shape.stride
        )
    };
    let k2 = shape.kernel * shape.kernel;
    let want = reference::conv_transpose2d_forward(&x, &w, Some(&b), shape);
    let got = output.read(gpu).unwrap();
    assert_close(
        &name("conv_transpose2d_forward"),
        &got,
        &want,
        atol(k2 * shape.in_channels),
        1e-5,
    );
    let want = reference::conv_transpose2d_backward_input(&dy, &w, shape);
    let got = d_input.read(gpu).unwrap();
    let inner = k2 * shape.out_channels;
    assert_close(
        &name("conv_transpose2d_backward_input"),
        &got,
        &want,
        atol(inner),
        1e-5,
    );
    let want = reference::conv_transpose2d_backward_weight(&x, &dy, shape);
    let got = d_weight.read(gpu).unwrap();
    let rows = shape.batch * shape.height * shape.width;
    assert_close(
        &name("conv_transpose2d_backward_weight"),
        &got,
        &want,
        atol(rows),
        1e-5,
    );
    let want = reference::conv_transpose2d_backward_bias(&dy, shape);
    let got = d_bias.read(gpu).unwrap();
    assert_close(
        &name("conv_transpose2d_backward_bias"),
        &got,
        &want,
        atol(pixels),
        1e-5,
    );
}

#[test]
fn conv_transpose2d_kernels_match_reference_on_odd_sizes() {
    for (i, shape) in odd_transposed().iter().enumerate() {
        check_conv_transpose2d_kernels(shape, 200 + 10 * i as u64);
    }
}

/// The matrix-product kernels the test adapter can run, each of which a layer may be built
/// for; the tiled one reads im2col implicitly, the others store it.
fn layer_kernels(gpu: &Gpu) -> Vec<MatmulKernel> {
    let kernels: Vec<_> = MatmulKernel::ALL
        .into_iter()
        .filter(|kernel| kernel.is_usable(gpu))
        .collect();
    assert!(
        kernels.contains(&MatmulKernel::Tiled),
        "tiled runs everywhere"
    );
    kernels
}

/// Checks that the recorded dispatches take the im2col path `kernel` implies: an explicit
/// im2col before the products, or none and products that read it implicitly.
fn assert_im2col_path(what: &str, kernel: MatmulKernel, dispatches: &[Dispatch]) {
    let explicit = dispatches.iter().any(|d| d.kernel.starts_with("im2col"));
    let implicit = dispatches.iter().any(|d| d.kernel.contains("IMPLICIT_A"));
    assert_eq!(
        (explicit, implicit),
        (!kernel.reads_im2col(), kernel.reads_im2col()),
        "{what} with {kernel}: {:?}",
        dispatches.iter().map(|d| &d.kernel).collect::<Vec<_>>()
    );
}

/// A layer's random weights and bias (written to it), input and output gradient, as f64 for
/// the reference and as tensors, with zeroed output buffers.
struct LayerCase {
    w: Vec<f64>,
    b: Vec<f64>,
    x: Vec<f64>,
    dy: Vec<f64>,
    input: Tensor,
    d_output: Tensor,
    output: Tensor,
    d_input: Tensor,
}

fn layer_case(
    gpu: &Gpu,
    [weight, bias]: [&Tensor; 2],
    [in_shape, out_shape]: [&[usize]; 2],
    seed: u64,
) -> LayerCase {
    let w = to_f64(&to_f32(&random_vec(seed, weight.len(), 0.2)));
    let b = to_f64(&to_f32(&random_vec(seed + 1, bias.len(), 0.2)));
    weight.write(gpu, &to_f32(&w)).unwrap();
    bias.write(gpu, &to_f32(&b)).unwrap();
    let (input, x) = random_tensor(gpu, "x", in_shape, seed + 2);
    let (d_output, dy) = random_tensor(gpu, "dy", out_shape, seed + 3);
    LayerCase {
        w,
        b,
        x,
        dy,
        input,
        d_output,
        output: Tensor::zeros(gpu, "y", out_shape),
        d_input: Tensor::zeros(gpu, "dx", in_shape),
    }
}

/// One `Conv2d` layer built for `kernel`: forward and backward against the reference.
fn check_conv2d_layer(gpu: &Gpu, shape: Conv2dShape, kernel: MatmulKernel, seed: u64) {
    let layer = Conv2d::with_kernel(gpu, "conv", shape, kernel).unwrap();
    let (in_shape, out_shape) = (&shape.input_shape()[..], &shape.output_shape()[..]);
    assert_eq!(layer.cols.is_none(), kernel.reads_im2col());
    let case = layer_case(
        gpu,
        [&layer.weight, &layer.bias],
        [in_shape, out_shape],
        seed,
    );
    let mut dispatches = layer.forward(gpu, &case.input, &case.output).unwrap();
    assert_im2col_path("Conv2d::forward", kernel, &dispatches);
    let backward = layer
        .backward(gpu, &case.input, &case.d_output, Some(&case.d_input))
        .unwrap();
    if kernel.reads_im2col() {
        assert_im2col_path("Conv2d::backward", kernel, &backward);
    }
    dispatches.extend(backward);
    run(gpu, &dispatches);

    let name = |what: &str| {
        format!(
            "Conv2d ({kernel}) {:?}->{:?} {what}",
            shape.input_shape(),
            shape.output_shape()
        )
    };
    let want = reference::conv2d_forward(&case.x, &case.w, Some(&case.b), &shape);
    let got = case.output.read(gpu).unwrap();
    assert_close(&name("forward"), &got, &want, atol(shape.patch()), 1e-5);
    let want = reference::conv2d_backward_input(&case.dy, &case.w, &shape);
    let got = case.d_input.read(gpu).unwrap();
    assert_close(
        &name("d_input"),
        &got,
        &want,
        atol(9 * shape.out_channels),
        1e-5,
    );
    let want = reference::conv2d_backward_weight(&case.x, &case.dy, &shape);
    let got = layer.d_weight.read(gpu).unwrap();
    assert_close(&name("d_weight"), &got, &want, atol(shape.rows()), 1e-5);
    let want = reference::conv2d_backward_bias(&case.dy, &shape);
    let got = layer.d_bias.read(gpu).unwrap();
    assert_close(&name("d_bias"), &got, &want, atol(shape.rows()), 1e-5);
    assert_eq!(layer.fan_in(), 9 * shape.in_channels);
    assert_eq!(layer.fan_out(), 9 * shape.out_channels);
}

/// The `Conv2d` struct on the discriminator's three convolutions at batch 2, built for every
/// matrix-product kernel.
#[test]
fn conv2d_layer_matches_reference_on_sgan_shapes() {
    let gpu = gpu_or_skip!();
    let shapes = [
        conv(2, (28, 28), (1, 32), 2),
        conv(2, (14, 14), (32, 64), 2),
        conv(2, (7, 7), (64, 128), 2),
    ];
    for kernel in layer_kernels(gpu) {
        for (i, shape) in shapes.into_iter().enumerate() {
            check_conv2d_layer(gpu, shape, kernel, 300 + 10 * i as u64);
        }
    }
}

/// Implicit im2col (the tiled kernel) on odd sizes: padding on one side only, stride 1 and 2,
/// non-square inputs, products smaller than one tile.
#[test]
fn conv2d_layer_with_implicit_im2col_matches_reference_on_odd_sizes() {
    let gpu = gpu_or_skip!();
    for (i, shape) in odd_convs().into_iter().enumerate() {
        check_conv2d_layer(gpu, shape, MatmulKernel::Tiled, 500 + 10 * i as u64);
    }
}

/// The discriminator's first convolution with its LeakyReLU fused into the product, for
/// every kernel: the output is the LeakyReLU of the reference convolution, and no dispatch
/// of its own applies it. Slopes outside (0, 1) are refused.
#[test]
fn conv2d_layer_with_fused_leaky_relu_matches_reference() {
    let gpu = gpu_or_skip!();
    let shape = conv(3, (28, 28), (1, 32), 2);
    for kernel in layer_kernels(gpu) {
        let layer = Conv2d::with_kernel(gpu, "conv", shape, kernel)
            .unwrap()
            .with_leaky_relu(0.01)
            .unwrap();
        let (in_shape, out_shape) = (&shape.input_shape()[..], &shape.output_shape()[..]);
        let case = layer_case(
            gpu,
            [&layer.weight, &layer.bias],
            [in_shape, out_shape],
            700,
        );
        let dispatches = layer.forward(gpu, &case.input, &case.output).unwrap();
        assert_eq!(dispatches.len(), 1 + usize::from(!kernel.reads_im2col()));
        run(gpu, &dispatches);
        let conv_out = reference::conv2d_forward(&case.x, &case.w, Some(&case.b), &shape);
        let want = reference::leaky_relu_forward(&conv_out, 0.01f32 as f64);
        let got = case.output.read(gpu).unwrap();
        let name = format!("Conv2d ({kernel}) + LeakyReLU forward");
        assert_close(&name, &got, &want, atol(shape.patch()), 1e-5);
    }
    for slope in [0.0, 1.0, 2.0] {
        let layer = Conv2d::new(gpu, "conv", shape).unwrap();
        assert!(layer.with_leaky_relu(slope).is_err(), "slope {slope}");
    }
}

/// One `ConvTranspose2d` layer built for `kernel`: forward and backward against the
/// reference.
fn check_conv_transpose2d_layer(
    gpu: &Gpu,
    shape: ConvTranspose2dShape,
    kernel: MatmulKernel,
    seed: u64,
) {
    let layer = ConvTranspose2d::with_kernel(gpu, "convt", shape, kernel).unwrap();
    let (in_shape, out_shape) = (&shape.input_shape()[..], &shape.output_shape()[..]);
    let case = layer_case(
        gpu,
        [&layer.weight, &layer.bias],
        [in_shape, out_shape],
        seed,
    );
    let mut dispatches = layer.forward(gpu, &case.input, &case.output).unwrap();
    let backward = layer
        .backward(gpu, &case.input, &case.d_output, Some(&case.d_input))
        .unwrap();
    assert_im2col_path("ConvTranspose2d::backward", kernel, &backward);
    dispatches.extend(backward);
    run(gpu, &dispatches);

    let name = |what: &str| {
        format!(
            "ConvTranspose2d ({kernel}) {:?}->{:?} {what}",
            shape.input_shape(),
            shape.output_shape()
        )
    };
    let rows = shape.batch * shape.height * shape.width;
    let out = shape.output_shape();
    let pixels = out[0] * out[1] * out[2];
    let want = reference::conv_transpose2d_forward(&case.x, &case.w, Some(&case.b), &shape);
    let got = case.output.read(gpu).unwrap();
    assert_close(
        &name("forward"),
        &got,
        &want,
        atol(9 * shape.in_channels),
        1e-5,
    );
    let want = reference::conv_transpose2d_backward_input(&case.dy, &case.w, &shape);
    let got = case.d_input.read(gpu).unwrap();
    assert_close(
        &name("d_input"),
        &got,
        &want,
        atol(9 * shape.out_channels),
        1e-5,
    );
    let want = reference::conv_transpose2d_backward_weight(&case.x, &case.dy, &shape);
    let got = layer.d_weight.read(gpu).unwrap();
    assert_close(&name("d_weight"), &got, &want, atol(rows), 1e-5);
    let want = reference::conv_transpose2d_backward_bias(&case.dy, &shape);
    let got = layer.d_bias.read(gpu).unwrap();
    assert_close(&name("d_bias"), &got, &want, atol(pixels), 1e-5);
}

/// The `ConvTranspose2d` struct on the generator's three transposed convolutions at batch 2,
/// built for every matrix-product kernel.
#[test]
fn conv_transpose2d_layer_matches_reference_on_sgan_shapes() {
    let gpu = gpu_or_skip!();
    let shapes = [
        transposed(2, (7, 7), (256, 128), 2),
        transposed(2, (14, 14), (128, 64), 1),
        transposed(2, (14, 14), (64, 1), 2),
    ];
    for kernel in layer_kernels(gpu) {
        for (i, shape) in shapes.into_iter().enumerate() {
            check_conv_transpose2d_layer(gpu, shape, kernel, 400 + 10 * i as u64);
        }
    }
}

/// Implicit im2col of `d_output` (the tiled kernel) on odd sizes.
#[test]
fn conv_transpose2d_layer_with_implicit_im2col_matches_reference_on_odd_sizes() {
    let gpu = gpu_or_skip!();
    for (i, shape) in odd_transposed().into_iter().enumerate() {
        check_conv_transpose2d_layer(gpu, shape, MatmulKernel::Tiled, 600 + 10 * i as u64);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `<conv2d(x), y> = <x, conv2d_backward_input(y)>` on the GPU in f32, for a conv given
/// directly; conv_transpose2d_forward is exactly this backward_input of its adjoint conv.
fn gpu_adjoint_gap(gpu: &Gpu, shape: &Conv2dShape, seed: u64) -> f64 {
    let (input, _) = random_tensor(gpu, "x", &shape.input_shape(), seed);
    let (weight, _) = random_tensor(gpu, "w", &shape.weight_shape(), seed + 1);
    let (y, _) = random_tensor(gpu, "y", &shape.output_shape(), seed + 2);
    let cols = Tensor::zeros(gpu, "cols", &shape.cols_shape());
    let conv_x = Tensor::zeros(gpu, "conv_x", &shape.output_shape());
    let adjoint_y = Tensor::zeros(gpu, "adjoint_y", &shape.input_shape());
    let mut dispatches =
        conv2d::conv2d_forward(gpu, shape, &input, &weight, None, &cols, &conv_x).unwrap();
    let d_cols = Tensor::zeros(gpu, "d_cols", &shape.cols_shape());
    dispatches.extend(
        conv2d::conv2d_backward_input(gpu, shape, &y, &weight, &d_cols, &adjoint_y).unwrap(),
    );
    run(gpu, &dispatches);
    let left = dot(
        &to_f64(&conv_x.read(gpu).unwrap()),
        &to_f64(&y.read(gpu).unwrap()),
    );
    let right = dot(
        &to_f64(&input.read(gpu).unwrap()),
        &to_f64(&adjoint_y.read(gpu).unwrap()),
    );
    (left - right).abs() / left.abs().max(right.abs())
}

#[test]
fn conv_transpose2d_is_the_adjoint_of_conv2d_on_the_gpu() {
    let gpu = gpu_or_skip!();
    // Through the ConvTranspose2d launchers: <conv(x), y> against <x, convT(y)>.
    for (i, shape) in odd_transposed().iter().enumerate() {
        let conv = shape.adjoint();
        let seed = 500 + 10 * i as u64;
        let (x, _) = random_tensor(gpu, "x", &conv.input_shape(), seed);
        let (w, _) = random_tensor(gpu, "w", &conv.weight_shape(), seed + 1);
        let (y, _) = random_tensor(gpu, "y", &conv.output_shape(), seed + 2);
        let cols = Tensor::zeros(gpu, "cols", &conv.cols_shape());
        let conv_x = Tensor::zeros(gpu, "conv_x", &conv.output_shape());
        let convt_y = Tensor::zeros(gpu, "convt_y", &conv.input_shape());
        let mut dispatches =
            conv2d::conv2d_forward(gpu, &conv, &x, &w, None, &cols, &conv_x).unwrap();
        let t_cols = Tensor::zeros(gpu, "t_cols", &shape.cols_shape());
        dispatches.extend(
            conv_transpose2d::conv_transpose2d_forward(gpu, shape, &y, &w, None, &t_cols, &convt_y)
                .unwrap(),
        );
        run(gpu, &dispatches);
        let left = dot(
            &to_f64(&conv_x.read(gpu).unwrap()),
            &to_f64(&y.read(gpu).unwrap()),
        );
        let right = dot(
            &to_f64(&x.read(gpu).unwrap()),
            &to_f64(&convt_y.read(gpu).unwrap()),
        );
        let gap = (left - right).abs() / left.abs().max(right.abs());
        println!("adjoint (GPU, f32) {shape:?}: relative gap {gap:.3e}");
        assert!(gap < 1e-5, "<conv x, y> = {left}, <x, convT y> = {right}");
    }
    // The 7 -> 4 conv, whose adjoint maps 4 -> 7 (not a Keras 'same' size, so it goes through
    // conv2d_backward_input, the kernel pair conv_transpose2d_forward is built from).
    let shape = conv(2, (7, 7), (3, 5), 2);
    let gap = gpu_adjoint_gap(gpu, &shape, 600);
    println!("adjoint (GPU, f32) {shape:?}: relative gap {gap:.3e}");
    assert!(gap < 1e-5, "adjoint gap {gap:e}");
}

#[test]
fn conv_transpose2d_is_the_adjoint_of_conv2d_on_the_reference() {
    let mut cases: Vec<(Conv2dShape, Option<ConvTranspose2dShape>)> = odd_transposed()
        .into_iter()
        .map(|t| (t.adjoint(), Some(t)))
        .collect();
    cases.push((conv(2, (7, 7), (3, 5), 2), None));
    for (i, (shape, transposed)) in cases.into_iter().enumerate() {
        let seed = 700 + 10 * i as u64;
        let x = random_vec(seed, shape.input_shape().iter().product(), 1.0);
        let w = random_vec(seed + 1, shape.weight_shape().iter().product(), 1.0);
        let y = random_vec(seed + 2, shape.output_shape().iter().product(), 1.0);
        let left = dot(&reference::conv2d_forward(&x, &w, None, &shape), &y);
        let adjoint_y = match transposed {
            Some(t) => reference::conv_transpose2d_forward(&y, &w, None, &t),
            None => reference::conv2d_backward_input(&y, &w, &shape),
        };
        let right = dot(&x, &adjoint_y);
        let gap = (left - right).abs() / left.abs().max(right.abs());
        println!("adjoint (reference, f64) {shape:?}: relative gap {gap:.3e}");
        assert!(gap < 1e-12, "<conv x, y> = {left}, <x, convT y> = {right}");
    }
}
