//! 2-D convolution with TensorFlow 'same' padding, as im2col followed by the matrix-product
//! core: `output[B*OH*OW, C_out] = cols[B*OH*OW, K*K*C_in] * weight[K*K*C_in, C_out] + bias`.
//!
//! The free functions write `cols` out with im2col, and backward reads that saved `cols` (for
//! `d_weight`), not the forward input. The [`Conv2d`] layer does the same with a kernel that
//! reads op(A) from memory at every step (the CPU kernels); with one that can read im2col
//! implicitly (the tiled GPU kernel, see [`MatmulKernel::reads_im2col`]) it stores no `cols`
//! and both products read the forward input directly, which must then keep its values until
//! the backward pass has run. `d_input` goes through its own `d_cols` scratch and `col2im`, so
//! the backward kernels may run in any order after the forward pass.

use super::matmul::{
    grid_for, matmul, matmul_fused, matmul_im2col, matmul_with, BiasBackward, Epilogue, Im2col,
    MatmulKernel, MatmulShape,
};
use super::{check_leaky_slope, expect_shape};
use crate::error::Result;
use crate::gpu::{four_wide_where_possible, Dispatch, Gpu, Kernel, Tensor};
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

/// The weight-gradient product `cols^T * d_output` (cols stored [M, KKC] is A^T).
fn weight_product(shape: &Conv2dShape) -> MatmulShape {
    MatmulShape::new(shape.patch(), shape.out_channels, shape.rows()).transpose_a()
}

/// The product `d_output * weight^T` on the way to `d_input` (weight [KKC, C_out] is B^T).
fn input_product(shape: &Conv2dShape) -> MatmulShape {
    MatmulShape::new(shape.rows(), shape.patch(), shape.out_channels).transpose_b()
}

/// The im2col matrix of a convolution's input, as a matrix product reads it.
#[derive(Clone, Copy)]
pub(crate) enum Patches<'a> {
    /// Written out by [`im2col`] into this [B*OH*OW, K*K*C_in] tensor.
    Stored(&'a Tensor),
    /// Never written: the kernel computes each value from `input` [B, H, W, C_in].
    Implicit {
        input: &'a Tensor,
        shape: &'a Conv2dShape,
    },
}

/// `c = op(patches) * op(b)` and its `epilogue` with `kernel`, which for
/// [`Patches::Implicit`] must be one that [reads im2col](MatmulKernel::reads_im2col).
pub(crate) fn patches_product(
    gpu: &Gpu,
    kernel: MatmulKernel,
    patches: Patches,
    b: &Tensor,
    epilogue: Epilogue,
    c: &Tensor,
    product: MatmulShape,
) -> Result<Dispatch> {
    match patches {
        Patches::Stored(cols) => matmul_fused(gpu, kernel, cols, b, epilogue, c, product),
        Patches::Implicit { input, shape } => {
            shape.check("implicit im2col")?;
            let op = "implicit im2col";
            expect_shape(op, "input", input.shape(), &shape.input_shape())?;
            // The product must walk the matrix the geometry describes, or its transpose.
            let walked = match product.transpose_a {
                false => [product.m, product.k],
                true => [product.k, product.m],
            };
            expect_shape(op, "cols walked", &walked, &shape.cols_shape())?;
            let geometry = geometry(shape);
            let cols = Im2col {
                input,
                geometry: &geometry,
            };
            matmul_im2col(gpu, kernel, cols, b, epilogue, c, product)
        }
    }
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

/// The kernel `name` (im2col or col2im) for `shape`, and how many values each invocation
/// moves: the four-wide variant `NAME_vec4` where the input channels come in fours (its
/// CHANNELS then counts groups of four), else the scalar one.
fn channel_kernel(
    gpu: &Gpu,
    name: &str,
    flags: &[(&str, f64)],
    shape: &Conv2dShape,
) -> Result<(Kernel, usize)> {
    let (name, width) = four_wide_where_possible(name, shape.in_channels);
    let mut geometry = geometry(shape);
    for (key, value) in &mut geometry {
        if *key == "CHANNELS" {
            *value /= width as f64;
        }
    }
    Ok((gpu.kernel_for_shape(&name, flags, &geometry)?, width))
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
    let (kernel, width) = channel_kernel(gpu, "im2col", &[], shape)?;
    let groups = grid_for("im2col", cols.len() / width, kernel.workgroup_size[0])?;
    let label = format!("{}.im2col", cols.label());
    let buffers = [input.binding(), cols.binding()];
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
    let (kernel, width) = channel_kernel(gpu, "col2im", &[("HAS_BIAS", has_bias)], shape)?;
    let groups = grid_for("col2im", d_input.len() / width, kernel.workgroup_size[0])?;
    let label = format!("{}.col2im", d_input.label());
    // Without a bias binding 2 is never read; `d_cols` is bound read-only already.
    let bias_buffer = bias.unwrap_or(d_cols).binding();
    let buffers = [d_cols.binding(), bias_buffer, d_input.binding()];
    gpu.dispatch(&label, &kernel, &conv_params(shape), &buffers, groups)
}

/// `output = conv2d(input, weight) + bias`: im2col into `cols`, then `cols * weight + bias`.
/// input [B, H, W, C_in], weight [K, K, C_in, C_out], bias \[C_out\], cols [B*OH*OW, K*K*C_in]
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
    backward_input_with(
        gpu,
        MatmulKernel::select(gpu)?,
        shape,
        d_output,
        weight,
        d_cols,
        d_input,
    )
}

fn backward_input_with(
    gpu: &Gpu,
    kernel: MatmulKernel,
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
    // d_cols[M, KKC] = d_output[M, C_out] * weight^T.
    let product = input_product(shape);
    Ok(vec![
        matmul_with(gpu, kernel, d_output, weight, None, d_cols, product)?,
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
    matmul(gpu, cols, d_output, None, d_weight, weight_product(shape))
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
    /// \[C_out\], zero.
    pub bias: Tensor,
    pub d_weight: Tensor,
    pub d_bias: Tensor,
    /// im2col of the last forward input, read by the backward pass; `None` when the kernel
    /// reads im2col implicitly from the input instead.
    pub cols: Option<Tensor>,
    /// Scratch for `d_output * weight^T` on the way to `d_input`.
    pub d_cols: Tensor,
    bias_sums: BiasBackward,
    /// The matrix-product kernel of every product of the layer.
    kernel: MatmulKernel,
    /// Slope of the LeakyReLU the forward product applies, if any (see
    /// [`Conv2d::with_leaky_relu`]).
    leaky_slope: Option<f32>,
}

impl Conv2d {
    /// Allocates every buffer of the layer, all zero, for the kernel [`matmul`] picks.
    pub fn new(gpu: &Gpu, label: &str, shape: Conv2dShape) -> Result<Self> {
        Self::with_kernel(gpu, label, shape, MatmulKernel::select(gpu)?)
    }

    /// Like [`Conv2d::new`], with the matrix-product kernel named by the caller.
    pub fn with_kernel(
        gpu: &Gpu,
        label: &str,
        shape: Conv2dShape,
        kernel: MatmulKernel,
    ) -> Result<Self> {
        shape.check(label)?;
        kernel.check(gpu)?;
        let tensor =
            |name: &str, dims: &[usize]| Tensor::zeros(gpu, &format!("{label}.{name}"), dims);
        let cols = (!kernel.reads_im2col()).then(|| tensor("cols", &shape.cols_shape()));
        Ok(Self {
            label: label.to_string(),
            shape,
            weight: tensor("weight", &shape.weight_shape()),
            bias: tensor("bias", &[shape.out_channels]),
            d_weight: tensor("d_weight", &shape.weight_shape()),
            d_bias: tensor("d_bias", &[shape.out_channels]),
            cols,
            d_cols: tensor("d_cols", &shape.cols_shape()),
            bias_sums: BiasBackward::new(
                gpu,
                &format!("{label}.d_bias"),
                shape.rows(),
                shape.out_channels,
            ),
            kernel,
            leaky_slope: None,
        })
    }

    /// The same layer with a LeakyReLU of `slope` (in (0, 1)) fused into its forward product:
    /// the output is `leaky_relu(conv2d(input) + bias)`, with no pass of its own. The backward
    /// pass still takes the gradient of `conv2d(input) + bias`: apply the LeakyReLU's backward
    /// first, with the output in place of its input (their signs agree).
    pub fn with_leaky_relu(self, slope: f32) -> Result<Self> {
        check_leaky_slope(&format!("{} conv2d", self.label), slope)?;
        Ok(Self {
            leaky_slope: Some(slope),
            ..self
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

    /// The im2col matrix of `input` as this layer's products read it.
    fn patches<'a>(&'a self, input: &'a Tensor) -> Patches<'a> {
        match &self.cols {
            Some(cols) => Patches::Stored(cols),
            None => Patches::Implicit {
                input,
                shape: &self.shape,
            },
        }
    }

    /// Dispatches computing `output = conv2d(input) + bias`, through the fused LeakyReLU if
    /// the layer has one (and saving `cols`, where the layer stores it).
    pub fn forward(&self, gpu: &Gpu, input: &Tensor, output: &Tensor) -> Result<Vec<Dispatch>> {
        let shape = &self.shape;
        expect_shape(
            "Conv2d::forward",
            "output",
            output.shape(),
            &shape.output_shape(),
        )?;
        let mut dispatches = Vec::new();
        if let Some(cols) = &self.cols {
            dispatches.push(im2col(gpu, shape, input, cols)?);
        }
        dispatches.push(patches_product(
            gpu,
            self.kernel,
            self.patches(input),
            &self.weight,
            Epilogue {
                bias: Some(&self.bias),
                leaky_slope: self.leaky_slope,
            },
            output,
            forward_product(shape),
        )?);
        Ok(dispatches)
    }

    /// Dispatches computing only `d_input` from `d_output`, for a backward pass whose
    /// parameter gradients nobody reads.
    pub fn backward_input(
        &self,
        gpu: &Gpu,
        d_output: &Tensor,
        d_input: &Tensor,
    ) -> Result<Vec<Dispatch>> {
        backward_input_with(
            gpu,
            self.kernel,
            &self.shape,
            d_output,
            &self.weight,
            &self.d_cols,
            d_input,
        )
    }

    /// Dispatches computing `d_weight`, `d_bias` and, when asked, `d_input` from `d_output`.
    /// `input` is the forward input: where the layer stores no `cols`, `d_weight` reads it,
    /// so it must still hold its values when these run.
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        d_output: &Tensor,
        d_input: Option<&Tensor>,
    ) -> Result<Vec<Dispatch>> {
        let shape = &self.shape;
        let op = "Conv2d::backward";
        expect_shape(op, "d_output", d_output.shape(), &shape.output_shape())?;
        let mut dispatches = vec![patches_product(
            gpu,
            self.kernel,
            self.patches(input),
            d_output,
            Epilogue::default(),
            &self.d_weight,
            weight_product(shape),
        )?];
        dispatches.extend(conv2d_backward_bias(
            gpu,
            shape,
            d_output,
            &self.bias_sums,
            &self.d_bias,
        )?);
        if let Some(d_input) = d_input {
            dispatches.extend(self.backward_input(gpu, d_output, d_input)?);
        }
        Ok(dispatches)
    }
}
