//! The GPU runtime: device creation, buffers with shapes, compiled kernels and their dispatches.
//!
//! This module knows nothing of layers, models or training. It offers four things:
//! - [`Gpu`]: one headless wgpu device and queue, chosen by flag or by wgpu's environment
//!   variables (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`);
//! - [`Tensor`]: a storage buffer that knows its shape, with one-call upload and readback;
//!   [`BlockLayout`] lays several out in one buffer, for kernels that update them together;
//! - [`Kernel`]: a compute pipeline built once from a shader embedded in the binary;
//! - [`Dispatch`]: a kernel bound to its parameters and buffers once, recorded as often as needed.

mod adapter;
mod block;
mod kernel;
mod profile;
mod tensor;

pub use adapter::{list_adapters, AdapterReport, GpuOptions, REQUIRED_LIMITS};
pub use block::BlockLayout;
pub use kernel::{
    four_wide_where_possible, shader_names, shader_source, shader_workgroup_size, Cost, Dispatch,
    Kernel,
};
pub use profile::{Profiler, TimingMethod};
pub use tensor::Tensor;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Largest workgroup count along one dispatch axis that every WebGPU adapter accepts.
pub const MAX_WORKGROUPS_PER_AXIS: u32 = 65_535;

/// One wgpu device and queue, with the kernels built on it so far.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    kernels: Mutex<HashMap<String, Kernel>>,
    /// First uncaptured validation error, taken by [`Gpu::check`].
    validation_error: Arc<Mutex<Option<String>>>,
    /// Why the device was lost, once it is; it stays lost (see [`Gpu::lost`]).
    lost: Arc<Mutex<Option<String>>>,
}

impl Gpu {
    /// Opens the adapter that `options` (or, where it is silent, the environment) selects.
    pub fn new(options: &GpuOptions) -> Result<Self> {
        let adapter = adapter::select(options)?;
        let info = adapter.get_info();
        adapter::check_limits(
            &info,
            &adapter.limits(),
            &adapter.get_downlevel_capabilities(),
        )?;

        // Ask for the adapter's own limits: buffer-size limits decide whether the dataset fits.
        let features = adapter.features() & adapter::OPTIONAL_FEATURES;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("sgan-gpu"),
            required_features: features,
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| {
                Error::RequestDevice {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                }
            })?;

        let validation_error = Arc::new(Mutex::new(None));
        let sink = validation_error.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            log::error!("wgpu: {error}");
            sink.lock()
                .unwrap()
                .get_or_insert_with(|| error.to_string());
        }));
        // Every loss is recorded, a destroyed device's too (that is how tests simulate one);
        // only the others are logged, since dropping a device at exit also destroys it.
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if reason != wgpu::DeviceLostReason::Destroyed {
                log::error!("the GPU device was lost ({reason:?}): {message}");
            }
            let why = match (reason, message.is_empty()) {
                (wgpu::DeviceLostReason::Destroyed, true) => "the device was destroyed".into(),
                (_, true) => format!("{reason:?}"),
                (_, false) => format!("{reason:?}: {message}"),
            };
            lost_sink.lock().unwrap().get_or_insert(why);
        });

        log::info!(
            "using {} ({:?}, {})",
            info.name,
            info.backend,
            info.driver_info
        );
        Ok(Self {
            device,
            queue,
            limits: adapter.limits(),
            features,
            info,
            kernels: Mutex::new(HashMap::new()),
            validation_error,
            lost,
        })
    }

    /// Why the device was lost, or `None` while it works. Polls the device once without
    /// waiting first, since wgpu reports a loss only from inside a poll.
    pub fn lost(&self) -> Option<String> {
        let _ = self.device.poll(wgpu::PollType::Poll);
        self.lost.lock().unwrap().clone()
    }

    fn lost_error(&self) -> Option<Error> {
        let reason = self.lost.lock().unwrap().clone()?;
        Some(Error::DeviceLost {
            adapter: self.info.name.clone(),
            reason,
        })
    }

    /// True on a CPU driver such as lavapipe, where kernels avoid workgroup memory and barriers.
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Number of distinct pipelines built so far; each (shader, overrides) pair is built once.
    pub fn cached_kernels(&self) -> usize {
        self.kernels.lock().unwrap().len()
    }

    /// Returns the first validation error wgpu reported since the last check, as an `Err`; a
    /// lost device (which fails every command after it) is reported as such instead.
    pub fn check(&self) -> Result<()> {
        if let Some(error) = self.lost_error() {
            return Err(error);
        }
        match self.validation_error.lock().unwrap().take() {
            Some(message) => Err(Error::GpuValidation { message }),
            None => Ok(()),
        }
    }

    /// Records `dispatches` in order into one compute pass and submits it.
    pub fn run(&self, dispatches: &[&Dispatch]) -> Result<()> {
        self.submit(self.encode(dispatches))
    }

    /// Submits commands recorded by [`Gpu::encode`].
    pub fn submit(&self, commands: wgpu::CommandBuffer) -> Result<()> {
        self.queue.submit([commands]);
        self.check()
    }

    /// Records `dispatches` in order into one compute pass, ready to submit: the host's whole
    /// part of [`Gpu::run`] but the submission itself.
    pub fn encode(&self, dispatches: &[&Dispatch]) -> wgpu::CommandBuffer {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("sgan-gpu.run"),
                timestamp_writes: None,
            });
            for dispatch in dispatches {
                dispatch.record(&mut pass);
            }
        }
        encoder.finish()
    }

    /// Blocks until every submitted command has finished.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                self.lost_error().unwrap_or(Error::GpuValidation {
                    message: e.to_string(),
                })
            })?;
        self.check()
    }
}
