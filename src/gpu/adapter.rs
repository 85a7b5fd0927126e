//! Choosing an adapter, checking that it is big enough, and describing it for `sgan-gpu info`.

use crate::error::{Error, Result};

/// Which backend and adapter to open. `None` defers to wgpu's environment variables
/// (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`) and then to wgpu's default choice.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// `vulkan`, `metal`, `dx12` or `gl` (a comma-separated list is accepted).
    pub backend: Option<String>,
    /// A case-insensitive part of the adapter name, or its index in `sgan-gpu info`.
    pub adapter: Option<String>,
}

/// Features used when the adapter has them; none is required.
pub(crate) const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::SHADER_F16);

/// The limits sgan-gpu depends on, with the smallest value that works. The training set is
/// kept on the GPU as packed u8 (60,000 x 784 bytes = 47 MB), which sets the buffer sizes.
pub const REQUIRED_LIMITS: &[(&str, u64)] = &[
    ("max_storage_buffer_binding_size", 48 << 20),
    ("max_buffer_size", 48 << 20),
    ("max_storage_buffers_per_shader_stage", 8),
    ("max_compute_invocations_per_workgroup", 256),
    ("max_compute_workgroup_size_x", 256),
    ("max_compute_workgroup_storage_size", 16 << 10),
    ("max_compute_workgroups_per_dimension", 65_535),
];

fn limit_value(limits: &wgpu::Limits, name: &str) -> u64 {
    match name {
        "max_storage_buffer_binding_size" => limits.max_storage_buffer_binding_size,
        "max_buffer_size" => limits.max_buffer_size,
        "max_storage_buffers_per_shader_stage" => {
            limits.max_storage_buffers_per_shader_stage as u64
        }
        "max_compute_invocations_per_workgroup" => {
            limits.max_compute_invocations_per_workgroup as u64
        }
        "max_compute_workgroup_size_x" => limits.max_compute_workgroup_size_x as u64,
        "max_compute_workgroup_storage_size" => limits.max_compute_workgroup_storage_size as u64,
        "max_compute_workgroups_per_dimension" => {
            limits.max_compute_workgroups_per_dimension as u64
        }
        other => unreachable!("REQUIRED_LIMITS names an unknown limit {other}"),
    }
}

/// Fails with a message naming the first limit the adapter falls short of.
pub(crate) fn check_limits(
    info: &wgpu::AdapterInfo,
    limits: &wgpu::Limits,
    downlevel: &wgpu::DownlevelCapabilities,
) -> Result<()> {
    if !downlevel
        .flags
        .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
    {
        return Err(Error::AdapterLimit {
            adapter: info.name.clone(),
            limit: "compute shader support",
            got: 0,
            needed: 1,
        });
    }
    for &(limit, needed) in REQUIRED_LIMITS {
        let got = limit_value(limits, limit);
        if got < needed {
            return Err(Error::AdapterLimit {
                adapter: info.name.clone(),
                limit,
                got,
                needed,
            });
        }
    }
    Ok(())
}

fn instance(options: &GpuOptions) -> Result<wgpu::Instance> {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if let Some(name) = &options.backend {
        let backends = parse_backends(name)?;
        descriptor.backends = backends;
    }
    Ok(wgpu::Instance::new(descriptor))
}

fn parse_backends(list: &str) -> Result<wgpu::Backends> {
    let mut backends = wgpu::Backends::empty();
    for name in list.split(',') {
        backends |= match name.trim().to_lowercase().as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "metal" | "mtl" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            _ => {
                return Err(Error::UnknownBackend {
                    name: name.trim().to_string(),
                })
            }
        };
    }
    Ok(backends)
}

fn describe(adapters: &[wgpu::Adapter]) -> String {
    let names: Vec<String> = adapters
        .iter()
        .enumerate()
        .map(|(index, a)| {
            format!(
                "{index}: {} ({:?})",
                a.get_info().name,
                a.get_info().backend
            )
        })
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Picks the adapter: by `--adapter` (name part or index), else `WGPU_ADAPTER_NAME`, else wgpu's
/// preferred adapter for `WGPU_POWER_PREF` (high performance when unset).
pub(crate) fn select(options: &GpuOptions) -> Result<wgpu::Adapter> {
    let instance = instance(options)?;
    let wanted = options
        .adapter
        .clone()
        .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok());
    if let Some(wanted) = wanted {
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let by_index = wanted.parse::<usize>().ok().filter(|&i| i < adapters.len());
        let position = by_index.or_else(|| {
            let needle = wanted.to_lowercase();
            adapters
                .iter()
                .position(|a| a.get_info().name.to_lowercase().contains(&needle))
        });
        return match position {
            Some(index) => Ok(adapters.into_iter().nth(index).unwrap()),
            None => Err(Error::UnknownAdapter {
                available: describe(&adapters),
                wanted,
            }),
        };
    }
    let power_preference =
        wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance);
    let request = wgpu::RequestAdapterOptions {
        power_preference,
        ..Default::default()
    };
    pollster::block_on(instance.request_adapter(&request)).map_err(|e| Error::NoAdapter {
        detail: format!(" ({e})"),
    })
}

/// What `sgan-gpu info` prints about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterReport {
    pub info: wgpu::AdapterInfo,
    pub features: wgpu::Features,
    pub limits: wgpu::Limits,
    /// `None` when sgan-gpu can run on it, else the reason it cannot.
    pub unusable: Option<String>,
}

impl std::fmt::Display for AdapterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = &self.info;
        writeln!(
            f,
            "{} ({:?}, {:?})",
            info.name, info.backend, info.device_type
        )?;
        writeln!(f, "  driver:   {} {}", info.driver, info.driver_info)?;
        let has = |feature| {
            if self.features.contains(feature) {
                "yes"
            } else {
                "no"
            }
        };
        writeln!(
            f,
            "  features: timestamp queries {}, inside passes {}, subgroups {}, f16 {}",
            has(wgpu::Features::TIMESTAMP_QUERY),
            has(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
            has(wgpu::Features::SUBGROUP),
            has(wgpu::Features::SHADER_F16),
        )?;
        writeln!(f, "  limits:")?;
        for &(limit, needed) in REQUIRED_LIMITS {
            let got = limit_value(&self.limits, limit);
            writeln!(f, "    {limit:<40} {got:>12} (needs {needed})")?;
        }
        match &self.unusable {
            None => write!(f, "  usable:   yes"),
            Some(reason) => write!(f, "  usable:   no: {reason}"),
        }
    }
}

/// Every adapter wgpu can see for the selected backends, usable or not.
pub fn list_adapters(options: &GpuOptions) -> Result<Vec<AdapterReport>> {
    let instance = instance(options)?;
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    Ok(adapters
        .iter()
        .map(|adapter| {
            let info = adapter.get_info();
            let limits = adapter.limits();
            let downlevel = adapter.get_downlevel_capabilities();
            let unusable = check_limits(&info, &limits, &downlevel)
                .err()
                .map(|e| e.to_string());
            AdapterReport {
                info,
                features: adapter.features(),
                limits,
                unusable,
            }
        })
        .collect())
}
