//! Several tensors laid out one after another in a single buffer, so that a kernel which
//! treats every value alike (an optimizer step) can update them all in one dispatch instead
//! of one dispatch per tensor. Each tensor stays usable on its own, as a view of its part.

use super::tensor::USAGE;
use super::{Gpu, Tensor};
use crate::error::{Error, Result};

/// Where each of a list of tensors starts in a shared buffer, and the buffer's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockLayout {
    offsets: Vec<u64>,
    shapes: Vec<Vec<usize>>,
    bytes: u64,
}

impl BlockLayout {
    /// Tensors of `shapes` one after another, each starting where the adapter can bind a
    /// storage buffer (`min_storage_buffer_offset_alignment`, at least 16 bytes, so the
    /// padding keeps four-wide kernels aligned). The gaps stay zero.
    pub fn new(gpu: &Gpu, shapes: &[&[usize]]) -> Self {
        let align = u64::from(gpu.limits.min_storage_buffer_offset_alignment).max(16);
        let mut offsets = Vec::with_capacity(shapes.len());
        let mut end = 0u64;
        for shape in shapes {
            let start = end.next_multiple_of(align);
            offsets.push(start);
            end = start + Tensor::<f32>::bytes_for(shape.iter().product());
        }
        Self {
            offsets,
            shapes: shapes.iter().map(|s| s.to_vec()).collect(),
            bytes: end.next_multiple_of(16).max(16),
        }
    }

    /// The members' shapes, in order.
    pub fn shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// f32 values the whole buffer holds, gaps included: a multiple of 4.
    pub fn values(&self) -> usize {
        (self.bytes / 4) as usize
    }

    /// A new zero-filled buffer laid out like this, as one view per member, each labelled
    /// `{label}[index]({name})` after the member's name in `names` (one name per member).
    pub fn zeros(&self, gpu: &Gpu, label: &str, names: &[&str]) -> Vec<Tensor> {
        assert_eq!(names.len(), self.offsets.len(), "one name per member");
        let buffer = self.buffer(gpu, label);
        self.views(&buffer, |index| {
            format!("{label}[{index}]({})", names[index])
        })
    }

    /// Moves `tensors` into one new buffer laid out like this (their shapes must be the
    /// layout's, in order), values included: afterwards each is a view of its part, under
    /// its own label. Dispatches recorded before bind the old buffers, so pack first.
    pub fn pack(&self, gpu: &Gpu, label: &str, tensors: &mut [&mut Tensor]) -> Result<()> {
        let shapes: Vec<Vec<usize>> = tensors.iter().map(|t| t.shape().to_vec()).collect();
        if shapes != self.shapes {
            return Err(Error::ShapeMismatch {
                op: format!("pack {label}"),
                expected: format!("{:?}", self.shapes),
                got: format!("{shapes:?}"),
            });
        }
        let buffer = self.buffer(gpu, label);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        for (tensor, &offset) in tensors.iter().zip(&self.offsets) {
            let from = tensor.binding();
            let size = from.size.map(|size| size.get());
            encoder.copy_buffer_to_buffer(from.buffer, from.offset, &buffer, offset, size);
        }
        gpu.queue.submit([encoder.finish()]);
        let views = self.views(&buffer, |index| tensors[index].label().to_string());
        for (tensor, view) in tensors.iter_mut().zip(views) {
            **tensor = view;
        }
        gpu.check()
    }

    /// The whole shared buffer, if `tensors` are exactly the members of one buffer laid out
    /// like this, in order; `None` for tensors that live anywhere else.
    pub fn whole<'a>(&self, tensors: &[&'a Tensor]) -> Option<wgpu::BufferBinding<'a>> {
        let buffer = tensors.first()?.binding().buffer;
        let laid_out = tensors.len() == self.offsets.len()
            && buffer.size() == self.bytes
            && tensors.iter().zip(&self.offsets).all(|(tensor, &offset)| {
                let member = tensor.binding();
                member.buffer == buffer && member.offset == offset
            });
        laid_out.then(|| wgpu::BufferBinding {
            buffer,
            offset: 0,
            size: wgpu::BufferSize::new(self.bytes),
        })
    }

    fn buffer(&self, gpu: &Gpu, label: &str) -> wgpu::Buffer {
        // New buffers are zero-filled, gaps included.
        gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: self.bytes,
            usage: USAGE,
            mapped_at_creation: false,
        })
    }

    fn views(&self, buffer: &wgpu::Buffer, label: impl Fn(usize) -> String) -> Vec<Tensor> {
        self.offsets
            .iter()
            .zip(&self.shapes)
            .enumerate()
            .map(|(index, (&offset, shape))| {
                Tensor::view(buffer.clone(), offset, &label(index), shape)
            })
            .collect()
    }
}
