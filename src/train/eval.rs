//! Test accuracy: the trunk in inference mode over a whole image set, argmax of the logits.

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};
use crate::layers::gather::GpuDataset;
use crate::layers::softmax_xent::softmax_xent_count_correct;
use crate::model::{Discriminator, TrunkMode};

/// Evaluation dispatches, built once for one trunk and one image set.
pub struct Evaluator<'d> {
    set: &'d GpuDataset,
    indices: Tensor<u32>,
    count: Tensor<u32>,
    dispatches: Vec<Dispatch>,
    batch: usize,
}

impl<'d> Evaluator<'d> {
    /// Gathers each batch of `set` into `images` (the trunk's input batch), runs the trunk in
    /// inference mode and counts argmax hits against the set's labels.
    pub fn new(
        gpu: &Gpu,
        trunk: &Discriminator,
        set: &'d GpuDataset,
        images: &Tensor,
    ) -> Result<Self> {
        let batch = trunk.batch;
        let indices = Tensor::zeros(gpu, "eval.indices", &[batch]);
        let labels = Tensor::zeros(gpu, "eval.labels", &[batch]);
        let count = Tensor::zeros(gpu, "eval.correct", &[1]);
        let mut dispatches = vec![
            set.gather_images(gpu, &indices, images)?,
            set.gather_labels(gpu, &indices, &labels)?,
        ];
        dispatches.extend(trunk.forward(gpu, images, TrunkMode::Inference)?.dispatches);
        dispatches.push(softmax_xent_count_correct(
            gpu,
            &trunk.logits,
            &labels,
            0,
            &count,
        )?);
        Ok(Self {
            set,
            indices,
            count,
            dispatches,
            batch,
        })
    }

    /// Fraction of the set classified correctly. Rows are independent in inference mode, so
    /// the ragged last batch is padded with an index past the end of the set: its images
    /// gather as NaN and its label as u32::MAX, which no argmax equals, so padding never
    /// counts.
    pub fn accuracy(&self, gpu: &Gpu) -> Result<f64> {
        let total = self.set.len();
        self.count.write(gpu, &[0])?;
        for start in (0..total).step_by(self.batch) {
            let batch: Vec<u32> = (start..start + self.batch)
                .map(|i| if i < total { i as u32 } else { total as u32 })
                .collect();
            self.indices.write(gpu, &batch)?;
            gpu.run(&self.dispatches.iter().collect::<Vec<_>>())?;
        }
        let correct = self.count.read(gpu)?[0];
        Ok(correct as f64 / total as f64)
    }
}
