//! A storage buffer that knows its element type and shape.

use std::marker::PhantomData;

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use super::Gpu;
use crate::error::{Error, Result};

/// A GPU storage buffer of `T` with a row-major shape. Activations are NHWC throughout.
/// A tensor owns its buffer, or is a view of its part of one laid out by [`super::BlockLayout`].
pub struct Tensor<T: Pod = f32> {
    buffer: wgpu::Buffer,
    /// Where the tensor starts in `buffer`, in bytes (0 unless it is a view).
    offset: u64,
    shape: Vec<usize>,
    label: String,
    _element: PhantomData<T>,
}

pub(super) const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl<T: Pod> Tensor<T> {
    /// A tensor of `shape` filled with zeros.
    pub fn zeros(gpu: &Gpu, label: &str, shape: &[usize]) -> Self {
        let size = Self::bytes_for(shape.iter().product());
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: USAGE,
            mapped_at_creation: false,
        });
        Self::wrap(buffer, label, shape)
    }

    /// A tensor of `shape` holding `data` (row-major).
    pub fn from_slice(gpu: &Gpu, label: &str, shape: &[usize], data: &[T]) -> Result<Self> {
        let len: usize = shape.iter().product();
        if data.len() != len {
            return Err(Error::ShapeMismatch {
                op: format!("upload of {label}"),
                expected: format!("{len} elements for shape {shape:?}"),
                got: format!("{} elements", data.len()),
            });
        }
        let mut bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
        bytes.resize(bytes.len().max(4).next_multiple_of(4), 0);
        let buffer = gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &bytes,
                usage: USAGE,
            });
        Ok(Self::wrap(buffer, label, shape))
    }

    fn wrap(buffer: wgpu::Buffer, label: &str, shape: &[usize]) -> Self {
        log::debug!("tensor {label}: shape {shape:?}, {} bytes", buffer.size());
        Self::view(buffer, 0, label, shape)
    }

    /// A tensor of `shape` at byte `offset` of `buffer`, which must hold it.
    pub(super) fn view(buffer: wgpu::Buffer, offset: u64, label: &str, shape: &[usize]) -> Self {
        debug_assert!(
            offset + Self::bytes_for(shape.iter().product()) <= buffer.size(),
            "{label} lies outside its buffer"
        );
        Self {
            buffer,
            offset,
            shape: shape.to_vec(),
            label: label.to_string(),
            _element: PhantomData,
        }
    }

    /// The bytes a tensor of `len` elements binds: zero-sized bindings are invalid, so even an
    /// empty tensor takes one element, and storage sizes are multiples of 4.
    pub(super) fn bytes_for(len: usize) -> u64 {
        (len.max(1) * std::mem::size_of::<T>()).next_multiple_of(4) as u64
    }

    /// The part of the GPU buffer that holds this tensor (its buffer, offset and bytes), for
    /// binding it to a kernel or copying it.
    pub fn binding(&self) -> wgpu::BufferBinding<'_> {
        wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: self.offset,
            size: wgpu::BufferSize::new(self.bytes()),
        }
    }

    /// The bytes the tensor takes in its buffer.
    fn bytes(&self) -> u64 {
        Self::bytes_for(self.len())
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Overwrites the contents with `data`, queued before the next submission.
    pub fn write(&self, gpu: &Gpu, data: &[T]) -> Result<()> {
        if data.len() != self.len() {
            return Err(Error::ShapeMismatch {
                op: format!("write to {}", self.label),
                expected: format!("{} elements", self.len()),
                got: format!("{} elements", data.len()),
            });
        }
        let mut bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        gpu.queue.write_buffer(&self.buffer, self.offset, &bytes);
        Ok(())
    }

    /// Copies the contents back to the CPU, waiting for all submitted work to finish first.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<T>> {
        let bytes = self.bytes();
        let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("{}.readback", self.label)),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        // Copy, submit, map, wait.
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.buffer, self.offset, &staging, 0, bytes);
        gpu.queue.submit([encoder.finish()]);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            sender.send(result).ok();
        });
        gpu.wait()?;
        let readback_error = |message: String| Error::Readback {
            buffer: self.label.clone(),
            message,
        };
        pollster::block_on(receiver.receive())
            .ok_or_else(|| readback_error("the map callback never ran".to_string()))?
            .map_err(|e| readback_error(e.to_string()))?;

        let view = staging
            .get_mapped_range(..)
            .map_err(|e| readback_error(e.to_string()))?;
        let element_bytes = self.len() * std::mem::size_of::<T>();
        // `pod_collect_to_vec` copies, so a mapped range that is not aligned for T is fine.
        let data = bytemuck::pod_collect_to_vec(&view[..element_bytes]);
        drop(view);
        staging.unmap();
        Ok(data)
    }
}
