//! Elementwise activations: LeakyReLU and tanh. LeakyReLU's backward reads the forward input;
//! tanh's backward reads the forward output.

use super::expect_shape;
use crate::error::Result;
use crate::gpu::{four_wide_where_possible, Dispatch, Gpu, Tensor};

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
    let (name, width) = four_wide_where_possible("leaky_relu_forward", input.len());
    let kernel = gpu.kernel(&name)?;
    let params = SlopeParams {
        len: (input.len() / width) as u32,
        slope,
    };
    let label = format!("{}.leaky_relu_forward", output.label());
    let groups = kernel.groups_for(input.len() / width)?;
    gpu.dispatch(
        &label,
        &kernel,
        &params,
        &[input.binding(), output.binding()],
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
    let (name, width) = four_wide_where_possible("leaky_relu_backward", input.len());
    let kernel = gpu.kernel(&name)?;
    let params = SlopeParams {
        len: (input.len() / width) as u32,
        slope,
    };
    let label = format!("{}.leaky_relu_backward", d_input.label());
    let buffers = [input.binding(), d_output.binding(), d_input.binding()];
    gpu.dispatch(
        &label,
        &kernel,
        &params,
        &buffers,
        kernel.groups_for(input.len() / width)?,
    )
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LenParams {
    len: u32,
}

/// `output = tanh(input)`.
pub fn tanh_forward(gpu: &Gpu, input: &Tensor, output: &Tensor) -> Result<Dispatch> {
    expect_shape("tanh_forward", "output", output.shape(), input.shape())?;
    let kernel = gpu.kernel("tanh_forward")?;
    let params = LenParams {
        len: input.len() as u32,
    };
    let label = format!("{}.tanh_forward", output.label());
    let groups = kernel.groups_for(input.len())?;
    gpu.dispatch(
        &label,
        &kernel,
        &params,
        &[input.binding(), output.binding()],
        groups,
    )
}

/// `d_input = d_output * (1 - output^2)`, where `output` is what [`tanh_forward`] wrote.
pub fn tanh_backward(
    gpu: &Gpu,
    output: &Tensor,
    d_output: &Tensor,
    d_input: &Tensor,
) -> Result<Dispatch> {
    expect_shape(
        "tanh_backward",
        "d_output",
        d_output.shape(),
        output.shape(),
    )?;
    expect_shape("tanh_backward", "d_input", d_input.shape(), output.shape())?;
    let kernel = gpu.kernel("tanh_backward")?;
    let params = LenParams {
        len: output.len() as u32,
    };
    let label = format!("{}.tanh_backward", d_input.label());
    let buffers = [output.binding(), d_output.binding(), d_input.binding()];
    gpu.dispatch(
        &label,
        &kernel,
        &params,
        &buffers,
        kernel.groups_for(output.len())?,
    )
}
