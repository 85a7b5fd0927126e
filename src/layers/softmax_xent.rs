//! The supervised head: softmax cross-entropy of logits [B, C] against u32 labels \[B\], with the
//! batch accuracy, plus a correct-prediction counter for evaluating many batches.
//!
//! The forward pass writes the softmax probabilities [B, C], which the backward pass reads, a
//! per-row table [B, 2] of (loss, correct), and their means [loss, accuracy] into a two-value
//! GPU buffer that is read back only when a report needs it. Labels must lie in 0..C; the
//! kernels do not check them (an out-of-range label reads another row's logit).

use super::expect_shape;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RowsParams {
    batch: u32,
    classes: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MeanParams {
    batch: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CountParams {
    batch: u32,
    classes: u32,
    label_offset: u32,
}

/// Softmax cross-entropy over a fixed batch shape, owning what its forward pass saves.
pub struct SoftmaxXent {
    label: String,
    batch: usize,
    classes: usize,
    /// softmax(logits) [B, C], written by forward and read by backward.
    pub probs: Tensor,
    /// Per-row (loss, 1 if correct else 0) [B, 2].
    pub rows: Tensor,
    /// [mean loss, accuracy] of the last forward pass.
    pub stats: Tensor,
}

impl SoftmaxXent {
    /// Allocates the saved tensors for `batch` rows of `classes` logits.
    pub fn new(gpu: &Gpu, label: &str, batch: usize, classes: usize) -> Result<Self> {
        if batch == 0 || classes == 0 {
            return Err(Error::ShapeMismatch {
                op: format!("{label}: softmax cross-entropy"),
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
            stats: Tensor::zeros(gpu, &format!("{label}.stats"), &[2]),
        })
    }

    /// Dispatches for the forward pass: `softmax_xent_forward` (probabilities and per-row
    /// loss and correctness), then `softmax_xent_mean_rows` into [`Self::stats`].
    pub fn forward(
        &self,
        gpu: &Gpu,
        logits: &Tensor,
        labels: &Tensor<u32>,
    ) -> Result<Vec<Dispatch>> {
        let op = format!("{}.softmax_xent_forward", self.label);
        expect_shape(&op, "logits", logits.shape(), &[self.batch, self.classes])?;
        expect_shape(&op, "labels", labels.shape(), &[self.batch])?;
        let kernel = gpu.kernel("softmax_xent_forward")?;
        let params = RowsParams {
            batch: self.batch as u32,
            classes: self.classes as u32,
        };
        let buffers = [
            logits.binding(),
            labels.binding(),
            self.probs.binding(),
            self.rows.binding(),
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

    /// `d_logits = (probs - onehot(labels)) / B`, reading the probabilities of the last
    /// forward pass. Overwrites `d_logits`.
    pub fn backward(&self, gpu: &Gpu, labels: &Tensor<u32>, d_logits: &Tensor) -> Result<Dispatch> {
        let op = format!("{}.softmax_xent_backward", self.label);
        expect_shape(&op, "labels", labels.shape(), &[self.batch])?;
        expect_shape(
            &op,
            "d_logits",
            d_logits.shape(),
            &[self.batch, self.classes],
        )?;
        let kernel = gpu.kernel("softmax_xent_backward")?;
        let params = RowsParams {
            batch: self.batch as u32,
            classes: self.classes as u32,
        };
        let buffers = [self.probs.binding(), labels.binding(), d_logits.binding()];
        gpu.dispatch(
            &op,
            &kernel,
            &params,
            &buffers,
            kernel.groups_for(self.batch * self.classes)?,
        )
    }

    /// Reads [`Self::stats`] back: (mean loss, accuracy) of the last forward pass.
    pub fn read_stats(&self, gpu: &Gpu) -> Result<(f32, f32)> {
        let stats = self.stats.read(gpu)?;
        Ok((stats[0], stats[1]))
    }
}

/// `softmax_xent_mean_rows`: column means of a [B, 2] per-row table into `out` [2]. Shared by
/// both heads ([`SoftmaxXent`] and the GAN head).
pub(crate) fn mean_rows(gpu: &Gpu, label: &str, rows: &Tensor, out: &Tensor) -> Result<Dispatch> {
    let op = format!("{label}.softmax_xent_mean_rows");
    let batch = rows.shape().first().copied().unwrap_or(0);
    expect_shape(&op, "rows", rows.shape(), &[batch, 2])?;
    expect_shape(&op, "out", out.shape(), &[2])?;
    let kernel = gpu.kernel("softmax_xent_mean_rows")?;
    let params = MeanParams {
        batch: batch as u32,
    };
    gpu.dispatch(
        &op,
        &kernel,
        &params,
        &[rows.binding(), out.binding()],
        [1, 1, 1],
    )
}

/// `softmax_xent_count_correct`: adds to `count` \[1\] the number of rows of `logits` [B, C]
/// whose first maximum lies at `labels[label_offset + b]`. The count only grows, so one
/// dispatch per batch of test images accumulates the total; zero it with
/// `count.write(gpu, &[0])` before the first batch.
pub fn softmax_xent_count_correct(
    gpu: &Gpu,
    logits: &Tensor,
    labels: &Tensor<u32>,
    label_offset: usize,
    count: &Tensor<u32>,
) -> Result<Dispatch> {
    let op = format!("{}.softmax_xent_count_correct", count.label());
    let (batch, classes) = match logits.shape() {
        &[batch, classes] if batch > 0 && classes > 0 => (batch, classes),
        other => {
            return Err(Error::ShapeMismatch {
                op: format!("{op} (logits)"),
                expected: "[B, C] with B, C > 0".to_string(),
                got: format!("{other:?}"),
            })
        }
    };
    if labels.len() < label_offset + batch {
        return Err(Error::ShapeMismatch {
            op: format!("{op} (labels)"),
            expected: format!(
                "at least {} labels (offset {label_offset} + B)",
                label_offset + batch
            ),
            got: format!("{:?}", labels.shape()),
        });
    }
    expect_shape(&op, "count", count.shape(), &[1])?;
    let kernel = gpu.kernel("softmax_xent_count_correct")?;
    let params = CountParams {
        batch: batch as u32,
        classes: classes as u32,
        label_offset: label_offset as u32,
    };
    let buffers = [logits.binding(), labels.binding(), count.binding()];
    gpu.dispatch(&op, &kernel, &params, &buffers, kernel.groups_for(batch)?)
}
