//! Kernels (compute pipelines built once per shader and override set) and dispatches (a kernel
//! bound once to its parameters and buffers).
//!
//! Every shader's entry point is named like its file. Binding convention, the same in every
//! shader: binding 0 is a `Params` uniform, then the
//! read-only inputs, then the read-write outputs, numbered in that order from 1.

use std::sync::Arc;

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use super::{Gpu, MAX_WORKGROUPS_PER_AXIS};
use crate::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/shader_table.rs"));

/// Shared helpers (index arithmetic, the random generator) that every shader may call.
const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// Names of every shader compiled into the binary (file stems of `shaders/*.wgsl`), without
/// `common`, which is not a kernel.
pub fn shader_names() -> impl Iterator<Item = &'static str> {
    SHADER_TABLE
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "common")
}

/// The full source of shader `name`: `shaders/common.wgsl` followed by `shaders/<name>.wgsl`.
/// WGSL has no include, so this is the one place where the shared helpers are joined on.
pub fn shader_source(name: &str) -> Result<String> {
    let (_, body) = SHADER_TABLE
        .iter()
        .find(|(stem, _)| *stem == name)
        .ok_or_else(|| Error::UnknownShader {
            shader: name.to_string(),
        })?;
    Ok(format!("{COMMON}\n{body}"))
}

/// The variant of shader `name` for elements counted by `count` (a length or a channel
/// count), and how many values each of its elements holds: the four-wide `NAME_vec4` that
/// build.rs makes of a shader written over `alias Value = f32;`, where `count` is divisible
/// by 4, else `name` itself. The caller then counts lengths and channels in groups of four.
pub fn four_wide_where_possible(name: &str, count: usize) -> (String, usize) {
    if count.is_multiple_of(4) {
        (format!("{name}_vec4"), 4)
    } else {
        (name.to_string(), 1)
    }
}

/// A compute pipeline for one shader, built once per (shader, override values) and shared.
#[derive(Clone)]
pub struct Kernel {
    pub name: String,
    /// The shader name with its overrides that are not zero, as profiles show it:
    /// `matmul[TRANSPOSE_B+HAS_BIAS]` (no commas, so it can stand in a CSV field).
    pub variant: String,
    pipeline: Arc<wgpu::ComputePipeline>,
    /// `@workgroup_size` of the entry point, read from the shader itself.
    pub workgroup_size: [u32; 3],
}

impl Kernel {
    /// Workgroups needed for `n` invocations along x, one element each.
    pub fn groups_for(&self, n: usize) -> Result<[u32; 3]> {
        let groups = n.div_ceil(self.workgroup_size[0] as usize) as u64;
        if groups > MAX_WORKGROUPS_PER_AXIS as u64 {
            return Err(Error::DispatchTooLarge {
                op: self.name.clone(),
                what: format!("{n} invocations"),
                needed: groups,
                max: MAX_WORKGROUPS_PER_AXIS as u64,
            });
        }
        Ok([groups.max(1) as u32, 1, 1])
    }
}

/// The `@workgroup_size` of shader `name`, read from its source without building a pipeline
/// (which a shader with overrides that have no default could not do without their values).
pub fn shader_workgroup_size(name: &str) -> Result<[u32; 3]> {
    workgroup_size(name, &shader_source(name)?)
}

fn workgroup_size(name: &str, source: &str) -> Result<[u32; 3]> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::ShaderCompile {
        shader: name.to_string(),
        message: e.emit_to_string(source),
    })?;
    let entry = module
        .entry_points
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| Error::ShaderCompile {
            shader: name.to_string(),
            message: format!("no entry point named `{name}` (it must match the file name)"),
        })?;
    Ok(entry.workgroup_size)
}

impl Gpu {
    /// The kernel for shader `name` with no pipeline overrides.
    pub fn kernel(&self, name: &str) -> Result<Kernel> {
        self.kernel_with(name, &[])
    }

    /// The kernel for shader `name` specialised by `override` constants, built on first use.
    pub fn kernel_with(&self, name: &str, overrides: &[(&str, f64)]) -> Result<Kernel> {
        self.kernel_for_shape(name, overrides, &[])
    }

    /// Like [`Gpu::kernel_with`], with further `override` constants that fix the sizes the
    /// shader works on. Compiled in, they turn the shader's index divisions into
    /// multiplications, which CPU drivers cannot vectorise otherwise. Profiles name the kernel
    /// by its `overrides` only, so one kernel at several shapes stays one row.
    pub fn kernel_for_shape(
        &self,
        name: &str,
        overrides: &[(&str, f64)],
        shape: &[(&str, f64)],
    ) -> Result<Kernel> {
        let key = format!("{name}{overrides:?}{shape:?}");
        if let Some(kernel) = self.kernels.lock().unwrap().get(&key) {
            return Ok(kernel.clone());
        }
        let constants: Vec<(&str, f64)> = overrides.iter().chain(shape).copied().collect();

        let source = shader_source(name)?;
        log::trace!("shader {name}:\n{source}");
        let workgroup_size = workgroup_size(name, &source)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some(name),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                cache: None,
            });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::ShaderCompile {
                shader: name.to_string(),
                message: error.to_string(),
            });
        }

        log::debug!("built pipeline {key} with workgroup size {workgroup_size:?}");
        let set: Vec<String> = overrides
            .iter()
            .filter(|(_, value)| *value != 0.0)
            .map(|(key, value)| match value {
                1.0 => key.to_string(),
                // As f32, the type overrides are declared with: 0.01, not 0.009999999776482582.
                _ => format!("{key}={}", *value as f32),
            })
            .collect();
        let variant = match set.is_empty() {
            true => name.to_string(),
            false => format!("{name}[{}]", set.join("+")),
        };
        let kernel = Kernel {
            name: name.to_string(),
            variant,
            pipeline: Arc::new(pipeline),
            workgroup_size,
        };
        self.kernels.lock().unwrap().insert(key, kernel.clone());
        Ok(kernel)
    }

    /// Binds `kernel` to `params` (binding 0) and `buffers` (bindings 1, 2, ...) once.
    pub fn dispatch<P: Pod>(
        &self,
        label: &str,
        kernel: &Kernel,
        params: &P,
        buffers: &[wgpu::BufferBinding],
        workgroups: [u32; 3],
    ) -> Result<Dispatch> {
        let params_buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&format!("{label}.params")),
                contents: &padded(params),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params_buffer.as_entire_binding(),
        }];
        for (index, buffer) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: index as u32 + 1,
                resource: wgpu::BindingResource::Buffer(buffer.clone()),
            });
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &kernel.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::GpuValidation {
                message: format!("{label}: {error}"),
            });
        }
        let bound_bytes = buffers
            .iter()
            .map(|b| b.size.map_or(b.buffer.size() - b.offset, |size| size.get()) as f64)
            .sum();
        Ok(Dispatch {
            label: label.to_string(),
            kernel: kernel.variant.clone(),
            cost: Cost {
                flops: 0.0,
                bytes: bound_bytes,
            },
            pipeline: kernel.pipeline.clone(),
            bind_group,
            params: params_buffer,
            workgroups,
        })
    }
}

/// Uniform buffers are sized in multiples of 16 bytes; pad the parameter bytes to match.
fn padded<P: Pod>(params: &P) -> Vec<u8> {
    let mut bytes = bytemuck::bytes_of(params).to_vec();
    bytes.resize(bytes.len().div_ceil(16).max(1) * 16, 0);
    bytes
}

/// The work one dispatch does, for the GFLOP/s and GB/s columns of a profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Cost {
    /// Floating-point operations (a multiply-add counts two); 0 for data movement.
    pub flops: f64,
    /// Bytes read and written. Unless the launcher says otherwise, the sizes of every buffer
    /// the dispatch binds, which overstates kernels that touch only part of a buffer.
    pub bytes: f64,
}

/// A kernel bound to its buffers: recording it appends one dispatch to a compute pass.
pub struct Dispatch {
    pub label: String,
    /// The kernel's [`Kernel::variant`].
    pub kernel: String,
    pub cost: Cost,
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    params: wgpu::Buffer,
    pub workgroups: [u32; 3],
}

impl Dispatch {
    /// The same dispatch with its work stated by the launcher.
    pub fn with_cost(self, cost: Cost) -> Self {
        Self { cost, ..self }
    }

    /// Appends this dispatch to `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }

    /// Replaces the parameters; takes effect for submissions made after this call.
    pub fn set_params<P: Pod>(&self, gpu: &Gpu, params: &P) {
        gpu.queue.write_buffer(&self.params, 0, &padded(params));
    }
}
