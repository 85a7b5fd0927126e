//! Transposed 2-D convolution (Keras Conv2DTranspose, 'same'): the exact adjoint of the
//! convolution with the same kernel, stride and padding that maps this layer's output size
//! back to its input size (its "adjoint conv"). Output size is input * stride.
//!
//! The Keras kernel [K, K, C_out, C_in] is exactly the [K, K, C_in', C_out'] weight of that
//! adjoint conv (C_in' = C_out, C_out' = C_in), so everything reuses the convolution's shaders:
//! - forward: the adjoint conv's input gradient, `col2im(input * weight^T) + bias`;
//! - backward_input: the adjoint conv's forward, `im2col(d_output) * weight`, no bias;
//! - backward_weight: `im2col(d_output)^T * input`;
//! - backward_bias: column sums of d_output.
//!
//! Backward reads the forward input (for `d_weight`). Forward uses `cols` only as a
//! temporary; backward overwrites it with `im2col(d_output)`, shared by `d_input` and
//! `d_weight`, unless the layer's kernel reads im2col implicitly (the tiled GPU kernel): then
//! both products read `d_output` directly and the im2col is skipped.

use super::conv2d::{col2im, im2col, patches_product, Patches};
use super::expect_shape;
use super::matmul::{matmul, matmul_with, BiasBackward, Epilogue, MatmulKernel, MatmulShape};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};
pub use crate::spec::ConvTranspose2dShape;

/// `output = col2im(input * weight^T) + bias`. Forward of the adjoint conv is
/// `y = cols(u) * weight`; its input gradient, applied to `input`, is this layer's output.
/// input [B, H, W, C_in], weight [K, K, C_out, C_in], bias \[C_out\], cols scratch
/// [B*H*W, K*K*C_out], output [B, H*S, W*S, C_out].
pub fn conv_transpose2d_forward(
    gpu: &Gpu,
    shape: &ConvTranspose2dShape,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cols: &Tensor,
    output: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "conv_transpose2d_forward";
    let conv = shape.adjoint();
    conv.check(op)?;
    expect_shape(op, "input", input.shape(), &shape.input_shape())?;
    expect_shape(op, "weight", weight.shape(), &shape.weight_shape())?;
    expect_shape(op, "cols", cols.shape(), &shape.cols_shape())?;
    Ok(vec![
        matmul(gpu, input, weight, None, cols, forward_product(shape))?,
        col2im(gpu, &conv, cols, bias, output)?,
    ])
}

/// The product `input * weight^T` before col2im (weight stored [KKC_out, C_in] = [N, K]).
fn forward_product(shape: &ConvTranspose2dShape) -> MatmulShape {
    let conv = shape.adjoint();
    MatmulShape::new(conv.rows(), conv.patch(), shape.in_channels).transpose_b()
}

/// The product `im2col(d_output) * weight` that gives `d_input`.
fn input_product(shape: &ConvTranspose2dShape) -> MatmulShape {
    let conv = shape.adjoint();
    MatmulShape::new(conv.rows(), shape.in_channels, conv.patch())
}

/// The product `im2col(d_output)^T * input` that gives `d_weight` (cols stored [M, KKC_out]
/// is A^T).
fn weight_product(shape: &ConvTranspose2dShape) -> MatmulShape {
    let conv = shape.adjoint();
    MatmulShape::new(conv.patch(), shape.in_channels, conv.rows()).transpose_a()
}

/// `d_input = im2col(d_output) * weight`. Forward: `output = A^T input` with A the adjoint
/// conv, so `d_input = A d_output`, the adjoint conv's forward (without bias). Writes
/// `cols = im2col(d_output)`, which [`conv_transpose2d_backward_weight`] then reads.
/// d_output [B, H*S, W*S, C_out], weight [K, K, C_out, C_in], d_input [B, H, W, C_in].
pub fn conv_transpose2d_backward_input(
    gpu: &Gpu,
    shape: &ConvTranspose2dShape,
    d_output: &Tensor,
    weight: &Tensor,
    cols: &Tensor,
    d_input: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "conv_transpose2d_backward_input";
    let conv = shape.adjoint();
    expect_shape(op, "weight", weight.shape(), &shape.weight_shape())?;
    expect_shape(op, "d_input", d_input.shape(), &shape.input_shape())?;
    Ok(vec![
        im2col(gpu, &conv, d_output, cols)?,
        matmul(gpu, cols, weight, None, d_input, input_product(shape))?,
    ])
}

/// `d_weight = im2col(d_output)^T * input`. Forward: `output = col2im(input * weight^T)`, and
/// im2col is the adjoint of col2im, so the gradient of `input * weight^T` is
/// `im2col(d_output)` and `d_weight^T = input^T im2col(d_output)`.
/// cols [B*H*W, K*K*C_out] holding im2col(d_output) (see
/// [`conv_transpose2d_backward_input`], or [`im2col`] with the adjoint shape), input
/// [B, H, W, C_in] (saved from the forward pass), d_weight [K, K, C_out, C_in].
pub fn conv_transpose2d_backward_weight(
    gpu: &Gpu,
    shape: &ConvTranspose2dShape,
    cols: &Tensor,
    input: &Tensor,
    d_weight: &Tensor,
) -> Result<Dispatch> {
    let op = "conv_transpose2d_backward_weight";
    expect_shape(op, "cols", cols.shape(), &shape.cols_shape())?;
    expect_shape(op, "input", input.shape(), &shape.input_shape())?;
    expect_shape(op, "d_weight", d_weight.shape(), &shape.weight_shape())?;
    matmul(gpu, cols, input, None, d_weight, weight_product(shape))
}

/// `d_bias[c] = sum over (b, y, x) of d_output[b, y, x, c]`. `sums` must be a
/// [`BiasBackward`] for B*H*S*W*S rows and C_out columns.
pub fn conv_transpose2d_backward_bias(
    gpu: &Gpu,
    shape: &ConvTranspose2dShape,
    d_output: &Tensor,
    sums: &BiasBackward,
    d_bias: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "conv_transpose2d_backward_bias";
    expect_shape(op, "d_output", d_output.shape(), &shape.output_shape())?;
    expect_shape(op, "d_bias", d_bias.shape(), &[shape.out_channels])?;
    sums.dispatches(gpu, d_output, d_bias)
}

/// A transposed-convolution layer: its parameters, their gradients and its scratch.
pub struct ConvTranspose2d {
    pub label: String,
    pub shape: ConvTranspose2dShape,
    /// [K, K, C_out, C_in], zero until an initialiser or `.write` fills it.
    pub weight: Tensor,
    /// \[C_out\], zero.
    pub bias: Tensor,
    pub d_weight: Tensor,
    pub d_bias: Tensor,
    /// [B*H*W, K*K*C_out]: a temporary in forward, im2col(d_output) in backward (where the
    /// kernel does not read im2col implicitly).
    pub cols: Tensor,
    bias_sums: BiasBackward,
    /// The matrix-product kernel of every product of the layer.
    kernel: MatmulKernel,
}

impl ConvTranspose2d {
    /// Allocates every buffer of the layer, all zero, for the kernel [`matmul`] picks.
    pub fn new(gpu: &Gpu, label: &str, shape: ConvTranspose2dShape) -> Result<Self> {
        Self::with_kernel(gpu, label, shape, MatmulKernel::select(gpu)?)
    }

    /// Like [`ConvTranspose2d::new`], with the matrix-product kernel named by the caller.
    pub fn with_kernel(
        gpu: &Gpu,
        label: &str,
        shape: ConvTranspose2dShape,
        kernel: MatmulKernel,
    ) -> Result<Self> {
        shape.adjoint().check(label)?;
        kernel.check(gpu)?;
        let tensor =
            |name: &str, dims: &[usize]| Tensor::zeros(gpu, &format!("{label}.{name}"), dims);
        let out = shape.output_shape();
        Ok(Self {
            label: label.to_string(),
            shape,
            weight: tensor("weight", &shape.weight_shape()),
            bias: tensor("bias", &[shape.out_channels]),
            d_weight: tensor("d_weight", &shape.weight_shape()),
            d_bias: tensor("d_bias", &[shape.out_channels]),
            cols: tensor("cols", &shape.cols_shape()),
            bias_sums: BiasBackward::new(
                gpu,
                &format!("{label}.d_bias"),
                out[0] * out[1] * out[2],
                shape.out_channels,
            ),
            kernel,
        })
    }

    /// K*K*C_in, for Glorot initialisation as the spec defines it. (Keras reads the fans of a
    /// [K, K, C_out, C_in] kernel the other way round; Glorot uses only their sum.)
    pub fn fan_in(&self) -> usize {
        self.shape.kernel * self.shape.kernel * self.shape.in_channels
    }

    /// K*K*C_out, for Glorot initialisation.
    pub fn fan_out(&self) -> usize {
        self.shape.kernel * self.shape.kernel * self.shape.out_channels
    }

    /// Dispatches computing `output = conv_transpose2d(input) + bias`.
    pub fn forward(&self, gpu: &Gpu, input: &Tensor, output: &Tensor) -> Result<Vec<Dispatch>> {
        let (shape, conv) = (&self.shape, self.shape.adjoint());
        let op = "ConvTranspose2d::forward";
        expect_shape(op, "input", input.shape(), &shape.input_shape())?;
        let product = forward_product(shape);
        Ok(vec![
            matmul_with(
                gpu,
                self.kernel,
                input,
                &self.weight,
                None,
                &self.cols,
                product,
            )?,
            col2im(gpu, &conv, &self.cols, Some(&self.bias), output)?,
        ])
    }

    /// Dispatches computing `d_weight`, `d_bias` and, when asked, `d_input`. `input` is the
    /// forward input, which must still hold its values when these run.
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        d_output: &Tensor,
        d_input: Option<&Tensor>,
    ) -> Result<Vec<Dispatch>> {
        let (shape, conv) = (&self.shape, self.shape.adjoint());
        let op = "ConvTranspose2d::backward";
        expect_shape(op, "input", input.shape(), &shape.input_shape())?;
        let mut dispatches = Vec::new();
        // im2col(d_output), read by both products: written into `cols` once, or read
        // implicitly from `d_output` by each.
        let patches = if self.kernel.reads_im2col() {
            Patches::Implicit {
                input: d_output,
                shape: &conv,
            }
        } else {
            dispatches.push(im2col(gpu, &conv, d_output, &self.cols)?);
            Patches::Stored(&self.cols)
        };
        dispatches.push(patches_product(
            gpu,
            self.kernel,
            patches,
            input,
            Epilogue::default(),
            &self.d_weight,
            weight_product(shape),
        )?);
        dispatches.extend(conv_transpose2d_backward_bias(
            gpu,
            shape,
            d_output,
            &self.bias_sums,
            &self.d_bias,
        )?);
        if let Some(d_input) = d_input {
            expect_shape(op, "d_input", d_input.shape(), &shape.input_shape())?;
            dispatches.push(patches_product(
                gpu,
                self.kernel,
                patches,
                &self.weight,
                Epilogue::default(),
                d_input,
                input_product(shape),
            )?);
        }
        Ok(dispatches)
    }
}
