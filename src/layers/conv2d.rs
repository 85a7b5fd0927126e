//! 2-D convolution with TensorFlow 'same' padding, as im2col followed by the matrix-product
//! core: `output[B*OH*OW, C_out] = cols[B*OH*OW, K*K*C_in] * weight[K*K*C_in, C_out] + bias`.
//!
//! Backward reads the `cols` matrix saved by the forward pass (for `d_weight`); it does not
//! read the forward input itself. `d_input` goes through its own `d_cols` scratch and
//! `col2im`, so the backward kernels may run in any order after the forward pass.

use super::expect_shape;
use super::matmul::{grid_for, matmul, BiasBackward, MatmulShape};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};
pub use crate::spec::{same_padding, Conv2dShape};

/// The `Params` of `im2col.wgsl` and `col2im.wgsl`: the batch; the rest of the geometry is
/// compiled in (see [`geometry`]).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
    batch: u32,
}

/// The forward product `cols * weight` of a convolution.
fn forward_product(shape: &Conv2dShape) -> MatmulShape {
    MatmulShape::new(shape.rows(), shape.out_channels, shape.patch())
}

/// The pipeline overrides of `im2col.wgsl` and `col2im.wgsl` for `shape`.
fn geometry(shape: &Conv2dShape) -> [(&'static str, f64); 9] {
    [
        ("HEIGHT", shape.height as f64),
        ("WIDTH", shape.width as f64),
        ("CHANNELS", shape.in_channels as f64),
        ("OUT_HEIGHT", shape.out_height() as f64),
        ("OUT_WIDTH", shape.out_width() as f64),
        ("KERNEL", shape.kernel as f64),
        ("STRIDE", shape.stride as f64),
        ("PAD_TOP", shape.pad_rows().0 as f64),
        ("PAD_LEFT", shape.pad_cols().0 as f64),
    ]
}

fn conv_params(shape: &Conv2dShape) -> ConvParams {
    ConvParams {
        batch: shape.batch as u32,
    }
}

/// `cols = im2col(input)`: input [B, H, W, C_in] to cols [B*OH*OW, K*K*C_in], (kh, kw, c)
/// order, zeros in the padding.
pub fn im2col(gpu: &Gpu, shape: &Conv2dShape, input: &Tensor, cols: &Tensor) -> Result<Dispatch> {
    shape.check("im2col")?;
    expect_shape("im2col", "input", input.shape(), &shape.input_shape())?;
    expect_shape("im2col", "cols", cols.shape(), &shape.cols_shape())?;
    let kernel = gpu.kernel_for_shape("im2col", &[], &geometry(shape))?;
    let groups = grid_for("im2col", cols.len(), kernel.workgroup_size[0])?;
    let label = format!("{}.im2col", cols.label());
    let buffers = [input.buffer(), cols.buffer()];
    gpu.dispatch(&label, &kernel, &conv_params(shape), &buffers, groups)
}

/// `d_input = col2im(d_cols) (+ bias[c])`: the adjoint of [`im2col`]; each input pixel sums
/// every (output pixel, tap) entry of `d_cols` that read it.
pub fn col2im(
    gpu: &Gpu,
    shape: &Conv2dShape,
    d_cols: &Tensor,
    bias: Option<&Tensor>,
    d_input: &Tensor,
) -> Result<Dispatch> {
    shape.check("col2im")?;
    expect_shape("col2im", "d_cols", d_cols.shape(), &shape.cols_shape())?;
    expect_shape("col2im", "d_input", d_input.shape(), &shape.input_shape())?;
    if let Some(bias) = bias {
        expect_shape("col2im", "bias", bias.shape(), &[shape.in_channels])?;
    }
    let has_bias = if bias.is_some() { 1.0 } else { 0.0 };
    let kernel = gpu.kernel_for_shape("col2im", &[("HAS_BIAS", has_bias)], &geometry(shape))?;
    let groups = grid_for("col2im", d_input.len(), kernel.workgroup_size[0])?;
    let label = format!("{}.col2im", d_input.label());
    // Without a bias binding 2 is never read; `d_cols` is bound read-only already.
    let bias_buffer = bias.unwrap_or(d_cols).buffer();
    let buffers = [d_cols.buffer(), bias_buffer, d_input.buffer()];
    gpu.dispatch(&label, &kernel, &conv_params(shape), &buffers, groups)
}

/// `output = conv2d(input, weight) + bias`: im2col into `cols`, then `cols * weight + bias`.
/// input [B, H, W, C_in], weight [K, K, C_in, C_out], bias [C_out], cols [B*OH*OW, K*K*C_in]
/// (scratch, kept for [`conv2d_backward_weight`]), output [B, OH, OW, C_out].
pub fn conv2d_forward(
    gpu: &Gpu,
    shape: &Conv2dShape,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    cols: &Tensor,
    output: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "conv2d_forward";
    expect_shape(op, "weight", weight.shape(), &shape.weight_shape())?;
    expect_shape(op, "output", output.shape(), &shape.output_shape())?;
    if let Some(bias) = bias {
        expect_shape(op, "bias", bias.shape(), &[shape.out_channels])?;
    }
    Ok(vec![
        im2col(gpu, shape, input, cols)?,
        matmul(gpu, cols, weight, bias, output, forward_product(shape))?,
    ])
}

/// `d_input = col2im(d_output * weight^T)`. Forward: `output = cols(input) * weight`, so
/// `d_cols = d_output * weight^T` and `d_input` is the adjoint of im2col applied to `d_cols`.
/// d_output [B, OH, OW, C_out], weight [K, K, C_in, C_out], d_cols scratch
/// [B*OH*OW, K*K*C_in], d_input [B, H, W, C_in].
pub fn conv2d_backward_input(
    gpu: &Gpu,
    shape: &Conv2dShape,
    d_output: &Tensor,
    weight: &Tensor,
    d_cols: &Tensor,
    d_input: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "conv2d_backward_input";
    expect_shape(op, "d_output", d_output.shape(), &shape.output_shape())?;
    expect_shape(op, "weight", weight.shape(), &shape.weight_shape())?;
    expect_shape(op, "d_cols", d_cols.shape(), &shape.cols_shape())?;
    // d_cols[M, KKC] = d_output[M, C_out] * weight^T, weight stored [KKC, C_out] = [N, K].
    let product = MatmulShape::new(shape.rows(), shape.patch(), shape.out_channels).transpose_b();
    Ok(vec![
        matmul(gpu, d_output, weight, None, d_cols, product)?,
        col2im(gpu, shape, d_cols, None, d_input)?,
    ])
}

/// `d_weight = cols^T * d_output`. Forward: `output = cols * weight`, so the weight gradient
/// is `cols^T d_output`. cols [B*OH*OW, K*K*C_in] (saved by the forward pass), d_output
/// [B, OH, OW, C_out], d_weight [K, K, C_in, C_out].
pub fn conv2d_backward_weight(
    gpu: &Gpu,
    shape: &Conv2dShape,
    cols: &Tensor,
    d_output: &Tensor,
    d_weight: &Tensor,
) -> Result<Dispatch> {
    let op = "conv2d_backward_weight";
    expect_shape(op, "cols", cols.shape(), &shape.cols_shape())?;
    expect_shape(op, "d_output", d_output.shape(), &shape.output_shape())?;
    expect_shape(op, "d_weight", d_weight.shape(), &shape.weight_shape())?;
    // d_weight[KKC, C_out] = cols^T d_output; cols stored [M, KKC] is A^T with A [KKC, M].
    let product = MatmulShape::new(shape.patch(), shape.out_channels, shape.rows()).transpose_a();
    matmul(gpu, cols, d_output, None, d_weight, product)
}

/// `d_bias[c] = sum over (b, oy, ox) of d_output[b, oy, ox, c]`. `sums` must be a
/// [`BiasBackward`] for B*OH*OW rows and C_out columns.
pub fn conv2d_backward_bias(
    gpu: &Gpu,
    shape: &Conv2dShape,
    d_output: &Tensor,
    sums: &BiasBackward,
    d_bias: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "conv2d_backward_bias";
    expect_shape(op, "d_output", d_output.shape(), &shape.output_shape())?;
    expect_shape(op, "d_bias", d_bias.shape(), &[shape.out_channels])?;
    sums.dispatches(gpu, d_output, d_bias)
}

/// A convolution layer: its parameters, their gradients and its scratch.
pub struct Conv2d {
    pub label: String,
    pub shape: Conv2dShape,
    /// [K, K, C_in, C_out], zero until an initialiser or `.write` fills it.
    pub weight: Tensor,
    /// [C_out], zero.
    pub bias: Tensor,
    pub d_weight: Tensor,
    pub d_bias: Tensor,
    /// im2col of the last forward input, read by the backward pass.
    pub cols: Tensor,
    /// Scratch for `d_output * weight^T` on the way to `d_input`.
    pub d_cols: Tensor,
    bias_sums: BiasBackward,
}

impl Conv2d {
    /// Allocates every buffer of the layer, all zero.
    pub fn new(gpu: &Gpu, label: &str, shape: Conv2dShape) -> Result<Self> {
        shape.check(label)?;
        let tensor =
            |name: &str, dims: &[usize]| Tensor::zeros(gpu, &format!("{label}.{name}"), dims);
        Ok(Self {
            label: label.to_string(),
            shape,
            weight: tensor("weight", &shape.weight_shape()),
            bias: tensor("bias", &[shape.out_channels]),
            d_weight: tensor("d_weight", &shape.weight_shape()),
            d_bias: tensor("d_bias", &[shape.out_channels]),
            cols: tensor("cols", &shape.cols_shape()),
            d_cols: tensor("d_cols", &shape.cols_shape()),
            bias_sums: BiasBackward::new(
                gpu,
                &format!("{label}.d_bias"),
                shape.rows(),
                shape.out_channels,
            ),
        })
    }

    /// K*K*C_in, for Glorot initialisation.
    pub fn fan_in(&self) -> usize {
        self.shape.kernel * self.shape.kernel * self.shape.in_channels
    }

    /// K*K*C_out, for Glorot initialisation.
    pub fn fan_out(&self) -> usize {
        self.shape.kernel * self.shape.kernel * self.shape.out_channels
    }

    /// Dispatches computing `output = conv2d(input) + bias` and saving `cols`.
    pub fn forward(&self, gpu: &Gpu, input: &Tensor, output: &Tensor) -> Result<Vec<Dispatch>> {
        conv2d_forward(
            gpu,
            &self.shape,
            input,
            &self.weight,
            Some(&self.bias),
            &self.cols,
            output,
        )
    }

    /// Dispatches computing only `d_input` from `d_output`, for a backward pass whose
    /// parameter gradients nobody reads.
    pub fn backward_input(
        &self,
        gpu: &Gpu,
        d_output: &Tensor,
        d_input: &Tensor,
    ) -> Result<Vec<Dispatch>> {
        conv2d_backward_input(
            gpu,
            &self.shape,
            d_output,
            &self.weight,
            &self.d_cols,
            d_input,
        )
    }

    /// Dispatches computing `d_weight`, `d_bias` and, when asked, `d_input` from `d_output`;
    /// they read the `cols` of the forward pass recorded before them.
    pub fn backward(
        &self,
        gpu: &Gpu,
        d_output: &Tensor,
        d_input: Option<&Tensor>,
    ) -> Result<Vec<Dispatch>> {
        let shape = &self.shape;
        let mut dispatches = vec![conv2d_backward_weight(
            gpu,
            shape,
            &self.cols,
            d_output,
            &self.d_weight,
        )?];
        dispatches.extend(conv2d_backward_bias(
            gpu,
            shape,
            d_output,
            &self.bias_sums,
            &self.d_bias,
        )?);
        if let Some(d_input) = d_input {
            dispatches.extend(conv2d_backward_input(
                gpu,
                shape,
                d_output,
                &self.weight,
                &self.d_cols,
                d_input,
            )?);
        }
        Ok(dispatches)
    }
}
