//! Per-dispatch GPU timing for `train --profile` and `sgan-gpu bench`.
//!
//! Three methods, the best the adapter offers: timestamps written between the dispatches of one
//! compute pass (`TIMESTAMP_QUERY_INSIDE_PASSES`); timestamps at the start and end of one pass
//! per dispatch (`TIMESTAMP_QUERY`), which adds a pass boundary per dispatch; or, with neither,
//! the wall-clock time of submitting each dispatch alone and waiting for it, which also counts
//! the submission and the wait. A [`Profiler`] exists only when a run asks for one, so a run
//! that does not profile records exactly what it would without this module.

use std::time::Instant;

use super::{Dispatch, Gpu};
use crate::error::{Error, Result};

/// How a [`Profiler`] times dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimingMethod {
    /// GPU timestamps between consecutive dispatches inside one compute pass.
    InsidePasses,
    /// GPU timestamps at the start and end of one compute pass per dispatch.
    PerPass,
    /// CPU wall clock around a submission of each dispatch alone, waiting for each.
    WallClock,
}

impl TimingMethod {
    /// The best method `gpu` supports.
    pub fn best_for(gpu: &Gpu) -> Self {
        if gpu.features.contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
        ) {
            Self::InsidePasses
        } else if gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            Self::PerPass
        } else {
            Self::WallClock
        }
    }

    /// One line for the report saying what the times include.
    pub fn note(self) -> &'static str {
        match self {
            Self::InsidePasses => "GPU timestamps between dispatches inside one compute pass",
            Self::PerPass => {
                "GPU timestamps around one compute pass per dispatch (this adapter cannot \
                 write timestamps inside a pass); pass boundaries add a little time"
            }
            Self::WallClock => {
                "no GPU timestamps on this adapter: CPU wall clock around each dispatch \
                 submitted alone, so every time includes a submission and a wait"
            }
        }
    }
}

/// Query set and buffers for timing up to `capacity` dispatches per submission.
pub struct Profiler {
    method: TimingMethod,
    capacity: usize,
    queries: Option<Queries>,
}

struct Queries {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
}

impl Profiler {
    /// A profiler for submissions of at most `capacity` dispatches, using `method` (see
    /// [`TimingMethod::best_for`]).
    pub fn new(gpu: &Gpu, capacity: usize, method: TimingMethod) -> Result<Self> {
        let needed = match method {
            TimingMethod::InsidePasses => TimingMethod::best_for(gpu) == method,
            TimingMethod::PerPass => gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY),
            TimingMethod::WallClock => true,
        };
        if !needed {
            return Err(Error::Unsupported {
                what: format!("timing method {method:?}"),
                adapter: gpu.info.name.clone(),
            });
        }
        let count = match method {
            TimingMethod::InsidePasses => capacity + 1,
            TimingMethod::PerPass => 2 * capacity,
            TimingMethod::WallClock => 0,
        };
        if count > wgpu::QUERY_SET_MAX_QUERIES as usize {
            return Err(Error::Unsupported {
                what: format!(
                    "timing {capacity} dispatches in one submission ({count} timestamps; at \
                     most {} fit in one query set)",
                    wgpu::QUERY_SET_MAX_QUERIES
                ),
                adapter: gpu.info.name.clone(),
            });
        }
        let queries = (count > 0).then(|| {
            let bytes = 8 * count as u64;
            let buffer = |label: &str, usage| {
                gpu.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: bytes,
                    usage,
                    mapped_at_creation: false,
                })
            };
            Queries {
                set: gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("profiler.timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: count as u32,
                }),
                resolve: buffer(
                    "profiler.resolve",
                    wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                ),
                readback: buffer(
                    "profiler.readback",
                    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                ),
                period_ns: gpu.queue.get_timestamp_period() as f64,
            }
        });
        Ok(Self {
            method,
            capacity,
            queries,
        })
    }

    pub fn method(&self) -> TimingMethod {
        self.method
    }

    /// Runs `dispatches` in order, as [`Gpu::run`] would, waits for them and returns the
    /// seconds each took.
    pub fn run(&mut self, gpu: &Gpu, dispatches: &[&Dispatch]) -> Result<Vec<f64>> {
        if dispatches.len() > self.capacity {
            return Err(Error::Unsupported {
                what: format!(
                    "timing {} dispatches with a profiler built for {}",
                    dispatches.len(),
                    self.capacity
                ),
                adapter: gpu.info.name.clone(),
            });
        }
        let Some(queries) = &self.queries else {
            return wall_clock(gpu, dispatches);
        };
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let count = match self.method {
            TimingMethod::InsidePasses => {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("sgan-gpu.profiled"),
                    timestamp_writes: None,
                });
                pass.write_timestamp(&queries.set, 0);
                for (index, dispatch) in dispatches.iter().enumerate() {
                    dispatch.record(&mut pass);
                    pass.write_timestamp(&queries.set, index as u32 + 1);
                }
                dispatches.len() + 1
            }
            _ => {
                for (index, dispatch) in dispatches.iter().enumerate() {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(&dispatch.label),
                        timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                            query_set: &queries.set,
                            beginning_of_pass_write_index: Some(2 * index as u32),
                            end_of_pass_write_index: Some(2 * index as u32 + 1),
                        }),
                    });
                    dispatch.record(&mut pass);
                }
                2 * dispatches.len()
            }
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let bytes = 8 * count as u64;
        encoder.resolve_query_set(&queries.set, 0..count as u32, &queries.resolve, 0);
        encoder.copy_buffer_to_buffer(&queries.resolve, 0, &queries.readback, 0, bytes);
        gpu.queue.submit([encoder.finish()]);
        gpu.check()?;

        let ticks = read_ticks(gpu, &queries.readback, count)?;
        let seconds =
            |from: u64, to: u64| to.saturating_sub(from) as f64 * queries.period_ns * 1e-9;
        Ok(match self.method {
            TimingMethod::InsidePasses => ticks.windows(2).map(|w| seconds(w[0], w[1])).collect(),
            _ => ticks.chunks(2).map(|c| seconds(c[0], c[1])).collect(),
        })
    }
}

/// Submits each dispatch alone and times it to completion on the CPU.
fn wall_clock(gpu: &Gpu, dispatches: &[&Dispatch]) -> Result<Vec<f64>> {
    gpu.wait()?;
    dispatches
        .iter()
        .map(|dispatch| {
            let started = Instant::now();
            gpu.run(&[dispatch])?;
            gpu.wait()?;
            Ok(started.elapsed().as_secs_f64())
        })
        .collect()
}

/// Maps the readback buffer and returns its first `count` timestamps.
fn read_ticks(gpu: &Gpu, readback: &wgpu::Buffer, count: usize) -> Result<Vec<u64>> {
    let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
    let slice = readback.slice(..8 * count as u64);
    slice.map_async(wgpu::MapMode::Read, move |result| {
        sender.send(result).ok();
    });
    gpu.wait()?;
    let readback_error = |message: String| Error::Readback {
        buffer: "profiler.readback".to_string(),
        message,
    };
    pollster::block_on(receiver.receive())
        .ok_or_else(|| readback_error("the map callback never ran".to_string()))?
        .map_err(|e| readback_error(e.to_string()))?;
    let view = slice
        .get_mapped_range()
        .map_err(|e| readback_error(e.to_string()))?;
    let ticks = bytemuck::pod_collect_to_vec(&view[..]);
    drop(view);
    readback.unmap();
    Ok(ticks)
}
