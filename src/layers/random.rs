//! Seeded generators on the GPU: Glorot-uniform weight initialisation, standard normal noise
//! (the generator's latent vectors z) and uniform random indices (minibatch draws).
//!
//! All use the counter-based generator of `shaders/common.wgsl`: the value at element `i` is a
//! hash of (seed, stream, i), so a seed replays exactly and `crate::reference` computes the same
//! numbers on the CPU. `stream` separates the uses of one seed (one stream per tensor or per
//! purpose). Noise and indices also take a draw `counter`, folded into the seed as
//! `seed ^ rng_mix(counter)`: the trainer builds each dispatch once and draws afresh every step
//! by writing new parameters with a bumped counter through [`Dispatch::set_params`]
//! ([`NoiseParams::with_counter`], [`IndexParams::with_counter`]).

use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Tensor};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GlorotParams {
    len: u32,
    seed: u32,
    stream: u32,
    limit: f32,
}

/// `sqrt(6 / (fan_in + fan_out))`, the half-width of the Glorot-uniform interval, as f32.
pub fn glorot_limit(fan_in: usize, fan_out: usize) -> f32 {
    (6.0 / (fan_in + fan_out) as f64).sqrt() as f32
}

/// Fills `output` with values uniform in `[-limit, limit)`, `limit = glorot_limit(fan_in,
/// fan_out)`, from (`seed`, `stream`).
pub fn glorot_uniform(
    gpu: &Gpu,
    output: &Tensor,
    fan_in: usize,
    fan_out: usize,
    seed: u32,
    stream: u32,
) -> Result<Dispatch> {
    if fan_in + fan_out == 0 {
        return Err(Error::InvalidArgument {
            op: format!("glorot_uniform of {}", output.label()),
            message: "fan_in + fan_out is 0, so the Glorot limit is undefined".to_string(),
        });
    }
    let kernel = gpu.kernel("glorot_uniform")?;
    let params = GlorotParams {
        len: output.len() as u32,
        seed,
        stream,
        limit: glorot_limit(fan_in, fan_out),
    };
    let label = format!("{}.glorot_uniform", output.label());
    let groups = kernel.groups_for(output.len())?;
    gpu.dispatch(&label, &kernel, &params, &[output.binding()], groups)
}

/// Parameters of the `normal_noise` shader, kept by the trainer to redraw with a new counter.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NoiseParams {
    /// Number of elements of the output.
    pub len: u32,
    /// Generator seed.
    pub seed: u32,
    /// Generator stream, one per use.
    pub stream: u32,
    /// Draw number; each value gives an independent draw.
    pub counter: u32,
}

impl NoiseParams {
    /// Parameters filling `output` from (`seed`, `stream`), draw 0.
    pub fn new(output: &Tensor, seed: u32, stream: u32) -> Self {
        Self {
            len: output.len() as u32,
            seed,
            stream,
            counter: 0,
        }
    }

    /// The same parameters for draw `counter`.
    pub fn with_counter(self, counter: u32) -> Self {
        Self { counter, ..self }
    }
}

/// Fills `output` with standard normal values drawn as `params` says.
pub fn normal_noise(gpu: &Gpu, output: &Tensor, params: NoiseParams) -> Result<Dispatch> {
    expect_len("normal_noise", output.label(), params.len, output.len())?;
    let kernel = gpu.kernel("normal_noise")?;
    let label = format!("{}.normal_noise", output.label());
    let groups = kernel.groups_for(output.len())?;
    gpu.dispatch(&label, &kernel, &params, &[output.binding()], groups)
}

/// Parameters of the `random_indices` shader, kept by the trainer to redraw with a new counter.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct IndexParams {
    /// Number of elements of the output.
    pub len: u32,
    /// Generator seed.
    pub seed: u32,
    /// Generator stream, one per use.
    pub stream: u32,
    /// Draw number; each value gives an independent draw.
    pub counter: u32,
    /// Smallest value drawn.
    pub lo: u32,
    /// Number of values, `hi - lo`; at least 1.
    pub range: u32,
}

impl IndexParams {
    /// Parameters filling `output` with integers in `[lo, hi)` from (`seed`, `stream`), draw 0.
    pub fn new(output: &Tensor<u32>, lo: u32, hi: u32, seed: u32, stream: u32) -> Result<Self> {
        if hi <= lo {
            return Err(Error::InvalidArgument {
                op: format!("random_indices into {}", output.label()),
                message: format!("the range [{lo}, {hi}) is empty"),
            });
        }
        Ok(Self {
            len: output.len() as u32,
            seed,
            stream,
            counter: 0,
            lo,
            range: hi - lo,
        })
    }

    /// The same parameters for draw `counter`.
    pub fn with_counter(self, counter: u32) -> Self {
        Self { counter, ..self }
    }
}

/// Fills `output` with integers uniform in `[lo, lo + range)`, with replacement, as `params`
/// says.
pub fn random_indices(gpu: &Gpu, output: &Tensor<u32>, params: IndexParams) -> Result<Dispatch> {
    expect_len("random_indices", output.label(), params.len, output.len())?;
    if params.range == 0 || params.lo.checked_add(params.range - 1).is_none() {
        return Err(Error::InvalidArgument {
            op: format!("random_indices into {}", output.label()),
            message: format!(
                "lo {} and range {} do not describe a non-empty range of u32",
                params.lo, params.range
            ),
        });
    }
    let kernel = gpu.kernel("random_indices")?;
    let label = format!("{}.random_indices", output.label());
    let groups = kernel.groups_for(output.len())?;
    gpu.dispatch(&label, &kernel, &params, &[output.binding()], groups)
}

fn expect_len(op: &str, label: &str, params_len: u32, len: usize) -> Result<()> {
    if params_len as usize == len {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: format!("{op} into {label}"),
        expected: format!("{params_len} elements (from the parameters)"),
        got: format!("{len} elements"),
    })
}
