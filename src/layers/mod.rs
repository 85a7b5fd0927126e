//! Layers: each module pairs a layer's forward and backward kernels and records their
//! dispatches through the GPU runtime. Layers know shapes and buffers; they know nothing of
//! models or training.
//!
//! Conventions used in every doc comment of this module tree and in every shader:
//! - B: batch size; H, W: height and width of an activation; C: channels;
//!   K: kernel size (3 here); S: stride; M, N: rows and columns of a matrix product, with the
//!   inner dimension also written K where no kernel is in play.
//! - Layout: activations are NHWC (batch, height, width, channel), row-major, channels
//!   fastest. A [B, H, W, C] activation is therefore also a [B*H*W, C] matrix, which is how
//!   convolutions hand it to the matrix-product core. Weights use Keras's layouts: conv
//!   [K, K, C_in, C_out], transposed conv [K, K, C_out, C_in], dense [in, out].
//! - Gradients carry a `d_` prefix (`d_weight`, `d_input`). Every backward kernel overwrites
//!   its outputs; nothing accumulates, so no gradient buffer ever needs zeroing. In the SGAN
//!   each tensor has a single consumer and every optimizer step follows its own backward pass,
//!   so overwriting is all the model needs.
//! - Each module says which buffers saved by the forward pass its backward pass reads.

pub mod activation;
pub mod adam;
pub mod batch_norm;
pub mod conv2d;
pub mod conv_transpose2d;
pub mod dense;
pub mod dropout;
pub mod gan_head;
pub mod gather;
pub mod matmul;
pub mod random;
pub mod softmax_xent;

use crate::error::{Error, Result};

/// Fails with a [`Error::ShapeMismatch`] naming `op` and `what` unless `got == expected`.
pub(crate) fn expect_shape(op: &str, what: &str, got: &[usize], expected: &[usize]) -> Result<()> {
    if got == expected {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: format!("{op} ({what})"),
        expected: format!("{expected:?}"),
        got: format!("{got:?}"),
    })
}

/// Fails with an [`Error::InvalidArgument`] naming `op` unless `slope`, the negative slope of
/// a fused LeakyReLU, lies in (0, 1): the kernels that fuse it take 1 to mean "none".
pub(crate) fn check_leaky_slope(op: &str, slope: f32) -> Result<()> {
    if slope > 0.0 && slope < 1.0 {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        op: op.to_string(),
        message: format!("LeakyReLU slope {slope} lies outside (0, 1)"),
    })
}
