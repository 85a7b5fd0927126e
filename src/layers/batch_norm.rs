//! Batch normalisation per channel over (B, H, W) of an NHWC activation, seen as a
//! `[rows, C]` matrix with `rows = B H W`.
//!
//! Training: `y = gamma (x - mean) inv_std + beta` with the batch mean and the BIASED batch
//! variance (`inv_std = 1 / sqrt(var + epsilon)`), optionally blending them into the running
//! statistics as `running = 0.99 running + 0.01 batch`. The spec asks for exactly that, so the
//! biased variance is also what enters the running variance (Keras 3 agrees; TF's fused kernel
//! would blend the unbiased one instead). The running statistics can be left untouched while
//! still normalising by batch statistics, as the SGAN's generator step needs.
//! Inference: the same formula with the running mean and variance.
//!
//! The batch statistics are reduced in two stages (row chunks, then per channel) so that many
//! invocations share the work without workgroup memory; the variance is accurate (two passes
//! per chunk, chunks merged by the parallel mean / M2 formula), not `E[x^2] - E[x]^2`.
//!
//! Backward reads the forward input, the saved `mean` and `inv_std` of the latest training
//! forward, and `gamma`. It writes `d_gamma = sum(dy xhat)`, `d_beta = sum(dy)` and
//! `d_input = gamma inv_std / R (R dy - d_beta - xhat d_gamma)`.
//!
//! A layer made with [`BatchNorm::with_leaky_relu`] also applies the LeakyReLU that follows
//! it in both models, in the same kernels: its output is `max(y, slope y)` and its backward
//! takes the gradient of that, so the activation never makes its own pass over memory.

use super::{check_leaky_slope, expect_shape};
use crate::error::{Error, Result};
use crate::gpu::{four_wide_where_possible, Dispatch, Gpu, Tensor};

/// Added to the variance before the square root (Keras's default).
pub const BATCH_NORM_EPSILON: f32 = 1e-3;
/// Weight of the old running statistics in each update (Keras's default).
pub const BATCH_NORM_MOMENTUM: f32 = 0.99;
/// Rows each invocation of the chunked reductions covers.
const CHUNK_ROWS: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ChunkParams {
    rows: u32,
    channels: u32,
    chunk_rows: u32,
    chunks: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StatsParams {
    chunk: ChunkParams,
    epsilon: f32,
    momentum: f32,
    update_running: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ForwardParams {
    len: u32,
    epsilon: f32,
    stats_are_running: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SumParams {
    channels: u32,
    chunks: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct InputGradParams {
    len: u32,
    rows: u32,
}

/// A batch-norm layer for activations of one NHWC shape: parameters, running statistics, the
/// statistics saved for backward, gradients, and the scratch of the chunked reductions.
pub struct BatchNorm {
    /// `[C]`, starts at 1.
    pub gamma: Tensor,
    /// `[C]`, starts at 0.
    pub beta: Tensor,
    /// `[C]`, starts at 0.
    pub running_mean: Tensor,
    /// `[C]`, starts at 1.
    pub running_var: Tensor,
    /// `[C]` batch mean saved by the latest training forward.
    pub mean: Tensor,
    /// `[C]` `1 / sqrt(batch variance + epsilon)` saved by the latest training forward.
    pub inv_std: Tensor,
    /// `[C]`, written by backward.
    pub d_gamma: Tensor,
    /// `[C]`, written by backward.
    pub d_beta: Tensor,
    /// `[chunks, C, 2]` partial sums; the forward and backward reductions take turns with it.
    partials: Tensor,
    shape: Vec<usize>,
    rows: usize,
    channels: usize,
    chunks: usize,
    label: String,
    /// Slope of the fused LeakyReLU, 1 for none.
    leaky_slope: f32,
}

impl BatchNorm {
    /// A layer for activations of `shape` (`[B, H, W, C]`, or any shape whose last axis is the
    /// channel), with Keras's initial values.
    pub fn new(gpu: &Gpu, label: &str, shape: &[usize]) -> Result<Self> {
        let (&channels, outer) = shape.split_last().ok_or_else(|| Error::ShapeMismatch {
            op: format!("{label} batch norm"),
            expected: "a shape ending in the channel axis".to_string(),
            got: "[]".to_string(),
        })?;
        let rows: usize = outer.iter().product();
        if rows == 0 || channels == 0 {
            return Err(Error::ShapeMismatch {
                op: format!("{label} batch norm"),
                expected: "at least one row and one channel".to_string(),
                got: format!("{shape:?}"),
            });
        }
        let chunks = rows.div_ceil(CHUNK_ROWS);
        let filled = |name: &str, value: f32| {
            Tensor::from_slice(
                gpu,
                &format!("{label}.{name}"),
                &[channels],
                &vec![value; channels],
            )
        };
        let zeros = |name: &str| Tensor::zeros(gpu, &format!("{label}.{name}"), &[channels]);
        Ok(Self {
            gamma: filled("gamma", 1.0)?,
            beta: zeros("beta"),
            running_mean: zeros("running_mean"),
            running_var: filled("running_var", 1.0)?,
            mean: zeros("mean"),
            inv_std: filled("inv_std", 1.0)?,
            d_gamma: zeros("d_gamma"),
            d_beta: zeros("d_beta"),
            partials: Tensor::zeros(gpu, &format!("{label}.partials"), &[chunks, channels, 2]),
            shape: shape.to_vec(),
            rows,
            channels,
            chunks,
            label: label.to_string(),
            leaky_slope: 1.0,
        })
    }

    /// The same layer followed by a LeakyReLU of negative slope `slope` (in (0, 1)), fused
    /// into its kernels: forward writes `max(y, slope y)` and backward takes its gradient.
    pub fn with_leaky_relu(self, slope: f32) -> Result<Self> {
        check_leaky_slope(&format!("{} batch norm", self.label), slope)?;
        Ok(Self {
            leaky_slope: slope,
            ..self
        })
    }

    /// The elementwise kernel `name` specialised for this layer's channels and fused
    /// activation, and how many values each of its invocations takes: its four-wide variant
    /// `NAME_vec4` (CHANNELS counting groups of four) where the channels come in fours.
    fn kernel(&self, gpu: &Gpu, name: &str) -> Result<(crate::gpu::Kernel, usize)> {
        let (name, width) = four_wide_where_possible(name, self.channels);
        let channels = [("CHANNELS", (self.channels / width) as f64)];
        Ok((
            gpu.kernel_for_shape(&name, &self.flags(), &channels)?,
            width,
        ))
    }

    /// The overrides that name the fused activation, none without one.
    fn flags(&self) -> Vec<(&'static str, f64)> {
        match self.leaky_slope {
            1.0 => Vec::new(),
            slope => vec![("LEAKY_SLOPE", slope as f64)],
        }
    }

    /// The activation shape it normalises.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The label its tensors and dispatches carry.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn chunk_params(&self) -> ChunkParams {
        ChunkParams {
            rows: self.rows as u32,
            channels: self.channels as u32,
            chunk_rows: CHUNK_ROWS as u32,
            chunks: self.chunks as u32,
        }
    }

    fn check(&self, op: &str, what: &str, tensor: &Tensor) -> Result<()> {
        expect_shape(
            &format!("{}.{op}", self.label),
            what,
            tensor.shape(),
            &self.shape,
        )
    }

    /// Training forward with batch statistics, saving them in `mean` and `inv_std`; with
    /// `update_running` the running statistics are blended towards them, else left
    /// bit-identical. Three dispatches, to record in order.
    pub fn forward_train(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        output: &Tensor,
        update_running: bool,
    ) -> Result<Vec<Dispatch>> {
        self.check("forward_train", "input", input)?;
        self.check("forward_train", "output", output)?;

        let partial = gpu.kernel("batch_norm_partial_stats")?;
        let partial = gpu.dispatch(
            &format!("{}.batch_norm_partial_stats", self.label),
            &partial,
            &self.chunk_params(),
            &[input.binding(), self.partials.binding()],
            partial.groups_for(self.chunks * self.channels)?,
        )?;

        let stats = gpu.kernel("batch_norm_stats")?;
        let params = StatsParams {
            chunk: self.chunk_params(),
            epsilon: BATCH_NORM_EPSILON,
            momentum: BATCH_NORM_MOMENTUM,
            update_running: update_running as u32,
        };
        let buffers = [
            self.partials.binding(),
            self.mean.binding(),
            self.inv_std.binding(),
            self.running_mean.binding(),
            self.running_var.binding(),
        ];
        let stats = gpu.dispatch(
            &format!("{}.batch_norm_stats", self.label),
            &stats,
            &params,
            &buffers,
            stats.groups_for(self.channels)?,
        )?;

        let normalise = self.normalise(gpu, input, output, &self.inv_std, false)?;
        Ok(vec![partial, stats, normalise])
    }

    /// Inference forward with the running statistics. One dispatch.
    pub fn forward_inference(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        output: &Tensor,
    ) -> Result<Vec<Dispatch>> {
        self.check("forward_inference", "input", input)?;
        self.check("forward_inference", "output", output)?;
        Ok(vec![self.normalise(
            gpu,
            input,
            output,
            &self.running_var,
            true,
        )?])
    }

    fn normalise(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        output: &Tensor,
        spread: &Tensor,
        running: bool,
    ) -> Result<Dispatch> {
        let (kernel, width) = self.kernel(gpu, "batch_norm_forward")?;
        let params = ForwardParams {
            len: (input.len() / width) as u32,
            epsilon: BATCH_NORM_EPSILON,
            stats_are_running: running as u32,
        };
        let mean = if running {
            &self.running_mean
        } else {
            &self.mean
        };
        let buffers = [
            input.binding(),
            mean.binding(),
            spread.binding(),
            self.gamma.binding(),
            self.beta.binding(),
            output.binding(),
        ];
        gpu.dispatch(
            &format!("{}.batch_norm_forward", output.label()),
            &kernel,
            &params,
            &buffers,
            kernel.groups_for(input.len() / width)?,
        )
    }

    /// Backward through the training forward: writes `d_gamma`, `d_beta` and `d_input` from
    /// the forward `input`, `d_output` and the statistics saved by the latest
    /// [`BatchNorm::forward_train`]. Three dispatches, to record in order.
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        d_output: &Tensor,
        d_input: &Tensor,
    ) -> Result<Vec<Dispatch>> {
        self.check("backward", "input", input)?;
        self.check("backward", "d_output", d_output)?;
        self.check("backward", "d_input", d_input)?;

        let partial = gpu.kernel_with("batch_norm_backward_partial", &self.flags())?;
        let buffers = [
            input.binding(),
            d_output.binding(),
            self.mean.binding(),
            self.inv_std.binding(),
            self.gamma.binding(),
            self.beta.binding(),
            self.partials.binding(),
        ];
        let partial = gpu.dispatch(
            &format!("{}.batch_norm_backward_partial", self.label),
            &partial,
            &self.chunk_params(),
            &buffers,
            partial.groups_for(self.chunks * self.channels)?,
        )?;

        let sums = gpu.kernel("batch_norm_backward_params")?;
        let params = SumParams {
            channels: self.channels as u32,
            chunks: self.chunks as u32,
        };
        let buffers = [
            self.partials.binding(),
            self.d_gamma.binding(),
            self.d_beta.binding(),
        ];
        let sums = gpu.dispatch(
            &format!("{}.batch_norm_backward_params", self.label),
            &sums,
            &params,
            &buffers,
            sums.groups_for(self.channels)?,
        )?;

        let (kernel, width) = self.kernel(gpu, "batch_norm_backward_input")?;
        let params = InputGradParams {
            len: (input.len() / width) as u32,
            rows: self.rows as u32,
        };
        let buffers = [
            input.binding(),
            d_output.binding(),
            self.mean.binding(),
            self.inv_std.binding(),
            self.gamma.binding(),
            self.d_gamma.binding(),
            self.d_beta.binding(),
            self.beta.binding(),
            d_input.binding(),
        ];
        let input_grad = gpu.dispatch(
            &format!("{}.batch_norm_backward_input", d_input.label()),
            &kernel,
            &params,
            &buffers,
            kernel.groups_for(input.len() / width)?,
        )?;
        Ok(vec![partial, sums, input_grad])
    }
}
