//! The training set on the GPU and minibatch gathers from it.
//!
//! Images stay resident as packed bytes, four pixels to a u32 (little endian: pixel `j` of an
//! image sits at bits `8 (j % 4)` of word `j / 4`), because 60,000 MNIST images as f32 would
//! be 188 MB, beyond lavapipe's 128 MiB binding limit; packed they are 47 MB. An image whose
//! byte count is not a multiple of 4 is padded to whole words, so any image size works.
//! Labels are kept one per u32 (240 KB for MNIST), so gathering them needs no unpacking.
//!
//! A gather turns a u32 index tensor `[B]` (for example from `layers::random::random_indices`)
//! into a float batch `[B, ...]` scaled by `(p - 127.5) / 127.5`, and into u32 labels `[B]`.

use crate::error::{Error, Result};
use crate::gpu::{Cost, Dispatch, Gpu, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ImageParams {
    len: u32,
    pixels: u32,
    words_per_image: u32,
    count: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LabelParams {
    len: u32,
    count: u32,
}

/// A labelled image set resident on the GPU: packed pixels and one label per image.
pub struct GpuDataset {
    /// `[count, words_per_image]` u32, four pixels per word.
    pub images: Tensor<u32>,
    /// `[count]` u32.
    pub labels: Tensor<u32>,
    count: usize,
    pixels_per_image: usize,
    words_per_image: usize,
}

impl GpuDataset {
    /// Uploads `images` (`pixels_per_image` bytes per image, back to back) and `labels` (one
    /// byte per image).
    pub fn upload(
        gpu: &Gpu,
        label: &str,
        images: &[u8],
        labels: &[u8],
        pixels_per_image: usize,
    ) -> Result<Self> {
        let op = format!("GpuDataset::upload of {label}");
        if pixels_per_image == 0 || !images.len().is_multiple_of(pixels_per_image) {
            return Err(Error::ShapeMismatch {
                op,
                expected: format!("a whole number of images of {pixels_per_image} bytes"),
                got: format!("{} bytes", images.len()),
            });
        }
        let count = images.len() / pixels_per_image;
        if labels.len() != count {
            return Err(Error::ShapeMismatch {
                op,
                expected: format!("{count} labels, one per image"),
                got: format!("{} labels", labels.len()),
            });
        }

        // Pack each image on its own whole words, padding with zero bytes.
        let words_per_image = pixels_per_image.div_ceil(4);
        let mut packed = vec![0u32; count * words_per_image];
        for (n, image) in images.chunks_exact(pixels_per_image).enumerate() {
            let words = &mut packed[n * words_per_image..(n + 1) * words_per_image];
            for (j, &p) in image.iter().enumerate() {
                words[j / 4] |= (p as u32) << (8 * (j % 4));
            }
        }
        let labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        Ok(Self {
            images: Tensor::from_slice(
                gpu,
                &format!("{label}.images"),
                &[count, words_per_image],
                &packed,
            )?,
            labels: Tensor::from_slice(gpu, &format!("{label}.labels"), &[count], &labels)?,
            count,
            pixels_per_image,
            words_per_image,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the dataset holds no image.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes (pixels) per image.
    pub fn pixels_per_image(&self) -> usize {
        self.pixels_per_image
    }

    /// `output[b] = scaled image indices[b]`; `output` is `[B, ...]` with `pixels_per_image`
    /// values per batch entry (for MNIST `[B, 28, 28, 1]`).
    pub fn gather_images(
        &self,
        gpu: &Gpu,
        indices: &Tensor<u32>,
        output: &Tensor,
    ) -> Result<Dispatch> {
        let batch = self.batch_of(indices)?;
        let per_entry: usize = output.shape().iter().skip(1).product();
        if output.shape().first() != Some(&batch) || per_entry != self.pixels_per_image {
            return Err(Error::ShapeMismatch {
                op: format!("gather_images into {}", output.label()),
                expected: format!("[{batch}, ...] with {} values each", self.pixels_per_image),
                got: format!("{:?}", output.shape()),
            });
        }
        let kernel = gpu.kernel("gather_images")?;
        let params = ImageParams {
            len: output.len() as u32,
            pixels: self.pixels_per_image as u32,
            words_per_image: self.words_per_image as u32,
            count: self.count as u32,
        };
        let label = format!("{}.gather_images", output.label());
        let buffers = [indices.binding(), self.images.binding(), output.binding()];
        let groups = kernel.groups_for(output.len())?;
        // One byte read and one f32 written per pixel, not the whole bound dataset.
        let cost = Cost {
            flops: 0.0,
            bytes: (4 * batch + 5 * output.len()) as f64,
        };
        Ok(gpu
            .dispatch(&label, &kernel, &params, &buffers, groups)?
            .with_cost(cost))
    }

    /// `output[b] = label of image indices[b]`; `output` is `[B]` u32.
    pub fn gather_labels(
        &self,
        gpu: &Gpu,
        indices: &Tensor<u32>,
        output: &Tensor<u32>,
    ) -> Result<Dispatch> {
        let batch = self.batch_of(indices)?;
        super::expect_shape("gather_labels", "output", output.shape(), &[batch])?;
        let kernel = gpu.kernel("gather_labels")?;
        let params = LabelParams {
            len: batch as u32,
            count: self.count as u32,
        };
        let label = format!("{}.gather_labels", output.label());
        let buffers = [indices.binding(), self.labels.binding(), output.binding()];
        let cost = Cost {
            flops: 0.0,
            bytes: (12 * batch) as f64,
        };
        Ok(gpu
            .dispatch(
                &label,
                &kernel,
                &params,
                &buffers,
                kernel.groups_for(batch)?,
            )?
            .with_cost(cost))
    }

    fn batch_of(&self, indices: &Tensor<u32>) -> Result<usize> {
        match indices.shape() {
            [batch] => Ok(*batch),
            shape => Err(Error::ShapeMismatch {
                op: format!("gather from {}", indices.label()),
                expected: "a 1-D index tensor [B]".to_string(),
                got: format!("{shape:?}"),
            }),
        }
    }
}
