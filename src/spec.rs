//! What each parametrised layer and the optimiser are, as plain data: layer geometry (sizes,
//! TensorFlow 'same' padding, fans for initialisation) and Adam's hyperparameters. Shared by
//! the GPU layers (`crate::layers`) and the CPU reference (`crate::reference`); no GPU code.

use crate::error::{Error, Result};

/// Output size and padding of TensorFlow 'same' padding along one axis:
/// `out = ceil(input / stride)`, total padding `max((out - 1) * stride + kernel - input, 0)`,
/// of which `floor(total / 2)` goes before and the rest after. Returns (out, before, after).
/// A stride of 0 is treated as 1 here; [`Conv2dShape::check`] rejects it.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let stride = stride.max(1);
    let out = input.div_ceil(stride);
    let total = ((out.saturating_sub(1)) * stride + kernel).saturating_sub(input);
    (out, total / 2, total - total / 2)
}

/// The geometry of one 'same'-padded convolution with a square K x K kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    /// B.
    pub batch: usize,
    /// H of the input.
    pub height: usize,
    /// W of the input.
    pub width: usize,
    /// C_in.
    pub in_channels: usize,
    /// C_out.
    pub out_channels: usize,
    /// K.
    pub kernel: usize,
    /// S, the same along both axes.
    pub stride: usize,
}

impl Conv2dShape {
    /// Fails unless the kernel and stride are at least 1.
    pub fn check(&self, op: &str) -> Result<()> {
        if self.kernel >= 1 && self.stride >= 1 {
            return Ok(());
        }
        Err(Error::ShapeMismatch {
            op: op.to_string(),
            expected: "kernel >= 1 and stride >= 1".to_string(),
            got: format!("kernel {}, stride {}", self.kernel, self.stride),
        })
    }

    /// OH = ceil(H / S).
    pub fn out_height(&self) -> usize {
        same_padding(self.height, self.kernel, self.stride).0
    }

    /// OW = ceil(W / S).
    pub fn out_width(&self) -> usize {
        same_padding(self.width, self.kernel, self.stride).0
    }

    /// Zero rows (above, below) the input.
    pub fn pad_rows(&self) -> (usize, usize) {
        let (_, before, after) = same_padding(self.height, self.kernel, self.stride);
        (before, after)
    }

    /// Zero columns (left, right) of the input.
    pub fn pad_cols(&self) -> (usize, usize) {
        let (_, before, after) = same_padding(self.width, self.kernel, self.stride);
        (before, after)
    }

    /// [B, H, W, C_in].
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.height, self.width, self.in_channels]
    }

    /// [B, OH, OW, C_out].
    pub fn output_shape(&self) -> [usize; 4] {
        [
            self.batch,
            self.out_height(),
            self.out_width(),
            self.out_channels,
        ]
    }

    /// [K, K, C_in, C_out] (Keras layout).
    pub fn weight_shape(&self) -> [usize; 4] {
        [
            self.kernel,
            self.kernel,
            self.in_channels,
            self.out_channels,
        ]
    }

    /// B*OH*OW: output pixels, the rows of the product.
    pub fn rows(&self) -> usize {
        self.batch * self.out_height() * self.out_width()
    }

    /// K*K*C_in: one patch, the inner dimension of the product.
    pub fn patch(&self) -> usize {
        self.kernel * self.kernel * self.in_channels
    }

    /// [B*OH*OW, K*K*C_in], the shape of `cols` and `d_cols`.
    pub fn cols_shape(&self) -> [usize; 2] {
        [self.rows(), self.patch()]
    }
}

/// The geometry of one 'same' transposed convolution, given by its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dShape {
    /// B.
    pub batch: usize,
    /// H of the input; the output is H * S high.
    pub height: usize,
    /// W of the input; the output is W * S wide.
    pub width: usize,
    /// C_in.
    pub in_channels: usize,
    /// C_out.
    pub out_channels: usize,
    /// K.
    pub kernel: usize,
    /// S.
    pub stride: usize,
}

impl ConvTranspose2dShape {
    /// The convolution this layer is the adjoint of: from [B, H*S, W*S, C_out] to
    /// [B, H, W, C_in] with the same kernel and stride.
    pub fn adjoint(&self) -> Conv2dShape {
        Conv2dShape {
            batch: self.batch,
            height: self.height * self.stride,
            width: self.width * self.stride,
            in_channels: self.out_channels,
            out_channels: self.in_channels,
            kernel: self.kernel,
            stride: self.stride,
        }
    }

    /// [B, H, W, C_in].
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.height, self.width, self.in_channels]
    }

    /// [B, H*S, W*S, C_out].
    pub fn output_shape(&self) -> [usize; 4] {
        self.adjoint().input_shape()
    }

    /// [K, K, C_out, C_in] (Keras layout).
    pub fn weight_shape(&self) -> [usize; 4] {
        self.adjoint().weight_shape()
    }

    /// [B*H*W, K*K*C_out], the shape of the `cols` scratch.
    pub fn cols_shape(&self) -> [usize; 2] {
        self.adjoint().cols_shape()
    }
}

/// The sizes of one dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseShape {
    /// B.
    pub batch: usize,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
}

/// Adam's hyperparameters. The default is the reference's (Keras's): lr 1e-3, beta1 0.9,
/// beta2 0.999, epsilon 1e-7. Both betas must lie in (0, 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to sqrt(v_hat) in the denominator.
    pub epsilon: f32,
}

impl Default for AdamHyper {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }
}
