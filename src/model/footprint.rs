//! What a batch size asks of the adapter, worked out from the layers' geometry alone, so that
//! a batch too large for the adapter is refused, naming the limit it breaks and the largest
//! batch that fits, before anything is allocated.
//!
//! Every buffer that grows with the batch holds a fixed number of values per image: a layer's
//! input or output, or a convolution's im2col scratch (`cols`), which is the largest. The
//! element-wise kernels (activations, batch norm, dropout) run one invocation per value along
//! one dispatch axis, so the widest activation sets their workgroup count. The matrix
//! products and the im2col family spread their workgroups over two axes and meet no limit
//! before the buffers do.

use super::{Discriminator, Generator};
use crate::error::{Error, Result};
use crate::gpu::{shader_workgroup_size, Gpu, MAX_WORKGROUPS_PER_AXIS};

/// The kernels that walk a whole activation along one dispatch axis.
const ELEMENTWISE_KERNELS: [&str; 6] = [
    "leaky_relu_forward",
    "leaky_relu_backward",
    "batch_norm_forward",
    "batch_norm_backward_input",
    "tanh_forward",
    "dropout_forward",
];

/// A buffer that grows with the batch: what it is, and its f32 values per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerImage {
    pub name: String,
    pub values: u64,
}

fn product(dims: &[usize]) -> u64 {
    dims.iter().map(|&d| d as u64).product()
}

/// The activations (inputs and outputs of the convolutions) and the im2col scratch of both
/// models, per image. The trainer's own batch buffers (images, noise, logits) are smaller.
pub fn per_image_buffers() -> Vec<PerImage> {
    let mut buffers = Vec::new();
    let mut push = |name: String, dims: &[usize]| {
        buffers.push(PerImage {
            name,
            values: product(dims),
        })
    };
    for (index, shape) in Generator::layer_shapes(1).iter().enumerate() {
        let layer = format!("generator.conv_transpose_{}", index + 1);
        push(format!("{layer} input"), &shape.input_shape());
        push(format!("{layer} output"), &shape.output_shape());
        push(format!("{layer}.cols"), &shape.cols_shape());
    }
    for (index, shape) in Discriminator::layer_shapes(1).iter().enumerate() {
        let layer = format!("discriminator.conv_{}", index + 1);
        push(format!("{layer} input"), &shape.input_shape());
        push(format!("{layer} output"), &shape.output_shape());
        push(format!("{layer}.cols"), &shape.cols_shape());
    }
    buffers
}

/// The buffer with the most values per image.
pub fn largest_buffer() -> PerImage {
    per_image_buffers()
        .into_iter()
        .max_by_key(|b| b.values)
        .expect("the models have buffers")
}

/// The activation with the most values per image (scratch excluded), which the element-wise
/// kernels walk along one axis.
pub fn widest_activation() -> PerImage {
    per_image_buffers()
        .into_iter()
        .filter(|b| !b.name.ends_with(".cols"))
        .max_by_key(|b| b.values)
        .expect("the models have activations")
}

/// The smallest workgroup of the element-wise kernels, as their shaders declare it.
pub fn elementwise_workgroup() -> Result<u32> {
    let mut smallest = u32::MAX;
    for name in ELEMENTWISE_KERNELS {
        smallest = smallest.min(shader_workgroup_size(name)?[0]);
    }
    Ok(smallest)
}

/// The largest batch `limits` allow, with the limit that sets it: its name, its value, and
/// what a batch asks of it per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchLimit {
    pub largest: usize,
    pub limit: &'static str,
    pub value: u64,
    buffer: Option<PerImage>,
    activation: PerImage,
    workgroup: u32,
}

/// The largest batch that `limits` allow, given the element-wise kernels' workgroup size.
pub fn largest_batch(limits: &wgpu::Limits, elementwise_workgroup: u32) -> BatchLimit {
    let buffer = largest_buffer();
    let (limit, value) = if limits.max_storage_buffer_binding_size <= limits.max_buffer_size {
        (
            "max_storage_buffer_binding_size",
            limits.max_storage_buffer_binding_size,
        )
    } else {
        ("max_buffer_size", limits.max_buffer_size)
    };
    let by_buffer = value / (4 * buffer.values);

    // The kernels count workgroups against the WebGPU minimum even where an adapter allows
    // more (see `MAX_WORKGROUPS_PER_AXIS`), so the smaller of the two applies.
    let groups = (limits.max_compute_workgroups_per_dimension).min(MAX_WORKGROUPS_PER_AXIS);
    let activation = widest_activation();
    let by_dispatch = groups as u64 * elementwise_workgroup as u64 / activation.values;

    let saturate = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if by_buffer <= by_dispatch {
        BatchLimit {
            largest: saturate(by_buffer),
            limit,
            value,
            buffer: Some(buffer),
            activation,
            workgroup: elementwise_workgroup,
        }
    } else {
        BatchLimit {
            largest: saturate(by_dispatch),
            limit: "max_compute_workgroups_per_dimension",
            value: groups as u64,
            buffer: None,
            activation,
            workgroup: elementwise_workgroup,
        }
    }
}

impl BatchLimit {
    /// What `batch` images would ask of the limit, in words.
    fn demand(&self, batch: usize) -> String {
        let batch = batch as u64;
        match &self.buffer {
            Some(buffer) => format!(
                "the buffer `{}` would take {} bytes",
                buffer.name,
                batch.saturating_mul(4 * buffer.values)
            ),
            None => format!(
                "the element-wise passes over `{}` would need {} workgroups along one axis",
                self.activation.name,
                batch
                    .saturating_mul(self.activation.values)
                    .div_ceil(self.workgroup as u64)
            ),
        }
    }
}

/// Refuses a batch of `batch` images (set by the flag `flag`) that `limits` cannot hold.
pub fn check_batch_against(
    limits: &wgpu::Limits,
    elementwise_workgroup: u32,
    adapter: &str,
    batch: usize,
    flag: &'static str,
) -> Result<()> {
    let limit = largest_batch(limits, elementwise_workgroup);
    if batch <= limit.largest {
        return Ok(());
    }
    Err(Error::BatchTooLarge {
        flag,
        batch,
        adapter: adapter.to_string(),
        demand: limit.demand(batch),
        limit: limit.limit,
        value: limit.value,
        largest: limit.largest,
    })
}

/// Refuses a batch that `gpu`'s adapter cannot hold, before anything is allocated for it.
pub fn check_batch(gpu: &Gpu, batch: usize, flag: &'static str) -> Result<()> {
    let workgroup = elementwise_workgroup()?;
    check_batch_against(&gpu.limits, workgroup, &gpu.info.name, batch, flag)
}
