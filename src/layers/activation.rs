//! Elementwise activations: LeakyReLU and tanh. LeakyReLU's backward reads the forward input;
//! tanh's backward reads the forward output.

use super::expect_shape;
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SlopeParams {
    len: u32,
    slope: f32,
}

/// `output = leaky_relu(input)` with negative slope `slope`.
pub fn leaky_relu_forward(
    gpu: &Gpu,
    input: &Tensor,
    output: &Tensor,
    slope: f32,
) -> Result<Dispatch> {
    expect_shape(
        "leaky_relu_forward",
        "output",
        output.shape(),
        input.shape(),
    )?;
    let kernel = gpu.kernel("leaky_relu_forward")?;
    let params = SlopeParams {
        len: input.len() as u32,
        slope,
    };
    let label = format!("{}.leaky_relu_forward", output.label());
    let groups = kernel.groups_for(input.len())?;
    gpu.dispatch(
        &label,
        &kernel,
        &params,
        &[input.buffer(), output.buffer()],
        groups,
    )
}

/// `d_input = d_output * leaky_relu'(input)`.
pub fn leaky_relu_backward(
    gpu: &Gpu,
    input: &Tensor,
    d_output: &Tensor,
    d_input: &Tensor,
    slope: f32,
) -> Result<Dispatch> {
    expect_shape(
        "leaky_relu_backward",
        "d_output",
        d_output.shape(),
        input.shape(),
    )?;
    expect_shape(
        "leaky_relu_backward",
        "d_input",
        d_input.shape(),
        input.shape(),
    )?;
    let kernel = gpu.kernel("leaky_relu_backward")?;
    let params = SlopeParams {
        len: input.len() as u32,
        slope,
    };
    let label = format!("{}.leaky_relu_backward", d_input.label());
    let buffers = [input.buffer(), d_output.buffer(), d_input.buffer()];
    gpu.dispatch(
        &label,
        &kernel,
        &params,
        &buffers,
        kernel.groups_for(input.len())?,
    )
}
