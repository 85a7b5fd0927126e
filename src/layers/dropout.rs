//! Inverted dropout. While training each element is kept with probability `1 - rate` and
//! scaled by `1 / (1 - rate)` (by 2 at the SGAN's rate 0.5), else zeroed; at inference dropout
//! is the identity, and the trainer simply leaves the layer out, feeding its input straight to
//! the next layer. No kernel runs then.
//!
//! The mask comes from the counter-based generator of `shaders/common.wgsl`. Element `i` of
//! mask number `counter` is drawn from `rng_uniform(seed ^ rng_mix(counter), stream, i)`:
//! `stream` is the layer's own id, and the trainer draws a fresh mask each step by bumping the
//! counter with [`Dropout::set_counter`], which rewrites the built dispatch's parameters.
//! Every (seed, counter) pair gives a distinct generator seed, with no limit on the count.
//!
//! The forward pass saves the mask (0 or the scale, per element) in [`Dropout::mask`]; the
//! backward pass reads it: `d_input = d_output * mask`.

use super::expect_shape;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Tensor};

/// Parameters of the `dropout_forward` shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DropoutParams {
    /// Number of elements.
    pub len: u32,
    /// Generator seed.
    pub seed: u32,
    /// Generator stream: one per dropout layer.
    pub stream: u32,
    /// Mask number; each value gives a fresh mask.
    pub counter: u32,
    /// Probability of dropping an element, in `[0, 1)`.
    pub rate: f32,
    /// `1 / (1 - rate)` as f32.
    pub scale: f32,
}

impl DropoutParams {
    /// Parameters for `len` elements, mask number 0. Fails unless `0 <= rate < 1`.
    pub fn new(len: usize, rate: f32, seed: u32, stream: u32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::InvalidArgument {
                op: "dropout".to_string(),
                message: format!("rate {rate} lies outside [0, 1)"),
            });
        }
        Ok(Self {
            len: len as u32,
            seed,
            stream,
            counter: 0,
            rate,
            scale: 1.0 / (1.0 - rate),
        })
    }

    /// The same parameters for mask number `counter`.
    pub fn with_counter(self, counter: u32) -> Self {
        Self { counter, ..self }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LenParams {
    len: u32,
}

/// A dropout layer of one shape: its parameters and the mask saved for the backward pass.
pub struct Dropout {
    /// Rate, seed and stream; `counter` 0 as built.
    pub params: DropoutParams,
    /// Per element 0 (dropped) or `1 / (1 - rate)` (kept), written by the forward pass.
    pub mask: Tensor,
    label: String,
}

impl Dropout {
    /// A layer for activations of `shape` dropping with probability `rate`, drawing from
    /// (`seed`, `stream`).
    pub fn new(
        gpu: &Gpu,
        label: &str,
        shape: &[usize],
        rate: f32,
        seed: u32,
        stream: u32,
    ) -> Result<Self> {
        let params = DropoutParams::new(shape.iter().product(), rate, seed, stream)?;
        Ok(Self {
            params,
            mask: Tensor::zeros(gpu, &format!("{label}.mask"), shape),
            label: label.to_string(),
        })
    }

    /// Training forward with mask number 0: `output = input * mask`, saving the mask.
    pub fn forward(&self, gpu: &Gpu, input: &Tensor, output: &Tensor) -> Result<Dispatch> {
        dropout_forward(gpu, input, output, &self.mask, self.params)
    }

    /// Makes `forward` (a dispatch built by [`Dropout::forward`]) draw mask number `counter`
    /// from the next submission on.
    pub fn set_counter(&self, gpu: &Gpu, forward: &Dispatch, counter: u32) {
        forward.set_params(gpu, &self.params.with_counter(counter));
    }

    /// `d_input = d_output * mask`, with the mask of the latest forward pass.
    pub fn backward(&self, gpu: &Gpu, d_output: &Tensor, d_input: &Tensor) -> Result<Dispatch> {
        dropout_backward(gpu, &self.mask, d_output, d_input)
    }

    /// The label its tensors and dispatches carry.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// `output = input * mask` with the mask drawn as `params` says, and saved to `mask`.
pub fn dropout_forward(
    gpu: &Gpu,
    input: &Tensor,
    output: &Tensor,
    mask: &Tensor,
    params: DropoutParams,
) -> Result<Dispatch> {
    expect_shape("dropout_forward", "output", output.shape(), input.shape())?;
    expect_shape("dropout_forward", "mask", mask.shape(), input.shape())?;
    if params.len as usize != input.len() {
        return Err(Error::ShapeMismatch {
            op: "dropout_forward (params.len)".to_string(),
            expected: format!("{} elements", input.len()),
            got: format!("{}", params.len),
        });
    }
    let kernel = gpu.kernel("dropout_forward")?;
    let label = format!("{}.dropout_forward", output.label());
    let buffers = [input.binding(), output.binding(), mask.binding()];
    let groups = kernel.groups_for(input.len())?;
    gpu.dispatch(&label, &kernel, &params, &buffers, groups)
}

/// `d_input = d_output * mask`.
pub fn dropout_backward(
    gpu: &Gpu,
    mask: &Tensor,
    d_output: &Tensor,
    d_input: &Tensor,
) -> Result<Dispatch> {
    expect_shape(
        "dropout_backward",
        "d_output",
        d_output.shape(),
        mask.shape(),
    )?;
    expect_shape("dropout_backward", "d_input", d_input.shape(), mask.shape())?;
    let kernel = gpu.kernel("dropout_backward")?;
    let params = LenParams {
        len: mask.len() as u32,
    };
    let label = format!("{}.dropout_backward", d_input.label());
    let buffers = [mask.binding(), d_output.binding(), d_input.binding()];
    let groups = kernel.groups_for(mask.len())?;
    gpu.dispatch(&label, &kernel, &params, &buffers, groups)
}
