//! The unsupervised (real/fake) head of the SGAN discriminator: `D = Z / (Z + 1)` with
//! `Z = sum_k exp(l_k)` over the class logits [B, C], and the binary cross-entropy of D against
//! a target t that is the same for the whole batch (1 for real images, 0 for generated ones;
//! the trainer builds one set of dispatches per target).
//!
//! Stability: with `s = logsumexp(l)` (max-shifted), `-log D = softplus(-s)` and
//! `-log(1 - D) = softplus(s)`, so the loss is finite for any finite logits. Keras evaluates
//! this loss on D clipped to [1e-7, 1 - 1e-7]; this implementation does not clip and computes
//! the exact loss. The two differ only where D lies within 1e-7 of 0 or 1 (|s| above about
//! 16.1): there Keras's loss saturates near -ln(1e-7) = 16.1 and its gradient vanishes, while
//! here the loss keeps growing linearly in |s| and the gradient `(D - t) softmax(l) / B` keeps
//! pushing a confidently wrong discriminator back. Elsewhere the two agree.
//!
//! The forward pass writes softmax(l) [B, C] and `d_s = D - t` per row \[B\] (evaluated without
//! the cancellation of `D - 1` when D is near 1), which the backward pass reads, and a per-row
//! table [B, 2] of (loss, D) with its means [mean loss, mean D] in a two-value buffer read back
//! only when reported.

use super::expect_shape;
use super::softmax_xent::mean_rows;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BackwardParams {
    batch: u32,
    classes: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ForwardParams {
    batch: u32,
    classes: u32,
    target_d: f32,
}

/// The real/fake head over a fixed batch shape, owning what its forward pass saves.
pub struct GanHead {
    label: String,
    batch: usize,
    classes: usize,
    /// softmax(logits) [B, C], written by forward and read by backward.
    pub probs: Tensor,
    /// Per-row (loss, D) [B, 2], written by forward.
    pub rows: Tensor,
    /// Per-row `D - t` \[B\], the loss's derivative in s before the 1 / B, written by forward
    /// and read by backward.
    pub d_s: Tensor,
    /// [mean loss, mean D] of the last forward pass.
    pub stats: Tensor,
}

impl GanHead {
    /// Allocates the saved tensors for `batch` rows of `classes` logits.
    pub fn new(gpu: &Gpu, label: &str, batch: usize, classes: usize) -> Result<Self> {
        if batch == 0 || classes == 0 {
            return Err(Error::ShapeMismatch {
                op: format!("{label}: GAN head"),
                expected: "at least one row and one class".to_string(),
                got: format!("[{batch}, {classes}]"),
            });
        }
        Ok(Self {
            label: label.to_string(),
            batch,
            classes,
            probs: Tensor::zeros(gpu, &format!("{label}.probs"), &[batch, classes]),
            rows: Tensor::zeros(gpu, &format!("{label}.rows"), &[batch, 2]),
            d_s: Tensor::zeros(gpu, &format!("{label}.d_s"), &[batch]),
            stats: Tensor::zeros(gpu, &format!("{label}.stats"), &[2]),
        })
    }

    /// Dispatches for the forward pass against `target` (1 real, 0 fake): `gan_head_forward`,
    /// then `softmax_xent_mean_rows` into [`Self::stats`].
    pub fn forward(&self, gpu: &Gpu, logits: &Tensor, target: f32) -> Result<Vec<Dispatch>> {
        let op = format!("{}.gan_head_forward", self.label);
        expect_shape(&op, "logits", logits.shape(), &[self.batch, self.classes])?;
        let kernel = gpu.kernel("gan_head_forward")?;
        let params = ForwardParams {
            batch: self.batch as u32,
            classes: self.classes as u32,
            target_d: target,
        };
        let buffers = [
            logits.binding(),
            self.probs.binding(),
            self.rows.binding(),
            self.d_s.binding(),
        ];
        let rows = gpu.dispatch(
            &op,
            &kernel,
            &params,
            &buffers,
            kernel.groups_for(self.batch)?,
        )?;
        let mean = mean_rows(gpu, &self.label, &self.rows, &self.stats)?;
        Ok(vec![rows, mean])
    }

    /// `d_logits = (D - t) * softmax(l) / B`, reading what the last forward pass saved,
    /// target t included. Overwrites `d_logits`.
    pub fn backward(&self, gpu: &Gpu, d_logits: &Tensor) -> Result<Dispatch> {
        let op = format!("{}.gan_head_backward", self.label);
        expect_shape(
            &op,
            "d_logits",
            d_logits.shape(),
            &[self.batch, self.classes],
        )?;
        let kernel = gpu.kernel("gan_head_backward")?;
        let params = BackwardParams {
            batch: self.batch as u32,
            classes: self.classes as u32,
        };
        let buffers = [self.probs.binding(), self.d_s.binding(), d_logits.binding()];
        gpu.dispatch(
            &op,
            &kernel,
            &params,
            &buffers,
            kernel.groups_for(self.batch * self.classes)?,
        )
    }

    /// Reads [`Self::stats`] back: (mean loss, mean D) of the last forward pass.
    pub fn read_stats(&self, gpu: &Gpu) -> Result<(f32, f32)> {
        let stats = self.stats.read(gpu)?;
        Ok((stats[0], stats[1]))
    }
}
