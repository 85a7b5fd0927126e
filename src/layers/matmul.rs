//! The matrix-product core that dense and both convolutions are built on, and the bias
//! gradient (column sums) that all three share.
//!
//! `C[M, N] = op(A)[M, K] * op(B)[K, N] (+ bias[n])`, where op is identity or transpose.
//! Tensors are taken as flat row-major matrices whatever their shape, so an NHWC
//! [B, H, W, C] activation is passed as the [B*H*W, C] matrix it is; only the element counts
//! are checked.
//!
//! Three kernels compute the same product; [`MatmulKernel::select`] picks one per adapter:
//! - `shaders/matmul_subgroup.wgsl` on a CPU driver with 8-lane subgroups (lavapipe): each
//!   lane loads a share of A and the subgroup broadcasts it, since llvmpipe pays per value
//!   loaded per lane. About twice as fast there as the portable kernel, on small and large
//!   products alike;
//! - `shaders/matmul_tiled.wgsl` on a real GPU (discrete, integrated or virtual): tiles staged
//!   in workgroup memory, the usual GPU form. It can also read op(A) as a convolution's im2col
//!   matrix straight from the convolution's input (implicit GEMM, `matmul_im2col`), so the
//!   convolution layers built for it skip im2col and its buffer;
//! - `shaders/matmul.wgsl` everywhere else: no subgroups, no workgroup memory.
//!
//! Setting `SGAN_MATMUL=portable|subgroup|tiled` overrides the choice (for benchmarking); a
//! kernel the adapter cannot run is refused with an error rather than ignored.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::gpu::{Cost, Dispatch, Gpu, Tensor, MAX_WORKGROUPS_PER_AXIS};

/// Environment variable that overrides [`MatmulKernel::select`]'s choice.
pub const MATMUL_KERNEL_VAR: &str = "SGAN_MATMUL";

/// Subgroup size that `shaders/matmul_subgroup.wgsl` is written for.
const SUBGROUP_LANES: u32 = 8;

/// Rows summed by one invocation of `shaders/bias_backward.wgsl` per reduction level.
const BIAS_CHUNK_ROWS: usize = 64;

/// One of the interchangeable matrix-product kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulKernel {
    /// `shaders/matmul.wgsl`: plain loads and registers only; runs on every adapter.
    Portable,
    /// `shaders/matmul_subgroup.wgsl`: subgroup broadcasts, for CPU drivers with 8-lane
    /// subgroups.
    Subgroup,
    /// `shaders/matmul_tiled.wgsl`: workgroup-memory tiles, for real GPUs.
    Tiled,
}

impl MatmulKernel {
    /// Every variant, in the order benches and tests list them.
    pub const ALL: [MatmulKernel; 3] = [Self::Portable, Self::Subgroup, Self::Tiled];

    /// The name `SGAN_MATMUL` accepts and reports print.
    pub fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Subgroup => "subgroup",
            Self::Tiled => "tiled",
        }
    }

    fn shader(self) -> &'static str {
        match self {
            Self::Portable => "matmul",
            Self::Subgroup => "matmul_subgroup",
            Self::Tiled => "matmul_tiled",
        }
    }

    /// Rows and columns of C owned by one workgroup, as the shader's header states.
    fn tile(self) -> [usize; 2] {
        match self {
            // 8 x 8 invocations, each 8 x 8 outputs.
            Self::Portable => [64, 64],
            // 8 subgroups side by side, each 32 rows x 16 columns.
            Self::Subgroup => [32, 128],
            // 16 x 16 invocations, each 4 x 4 outputs.
            Self::Tiled => [64, 64],
        }
    }

    /// The kernel for an adapter, from what it is and what it offers:
    /// - a CPU driver with subgroups of exactly 8 lanes gets the subgroup kernel. On lavapipe
    ///   it was measured about twice as fast as the portable one over the SGAN's products,
    ///   small ones included (N = 9, 10, 32: subgroups whose columns lie past N leave at once),
    ///   so no shape goes elsewhere;
    /// - a real GPU (discrete, integrated or virtual) gets the tiled kernel, the usual form
    ///   where workgroup memory and barriers are cheap. It has not been timed on one here;
    /// - anything else (a CPU driver without such subgroups, an unknown type) gets the
    ///   portable kernel.
    pub fn for_adapter(info: &wgpu::AdapterInfo, features: wgpu::Features) -> Self {
        match info.device_type {
            wgpu::DeviceType::Cpu if Self::Subgroup.unusable(info, features).is_none() => {
                Self::Subgroup
            }
            wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu => Self::Tiled,
            _ => Self::Portable,
        }
    }

    /// The kernel [`matmul`] uses on `gpu`: the one `SGAN_MATMUL` names when it is set and not
    /// empty, else [`MatmulKernel::for_adapter`]'s. Fails on an unknown name, or on a kernel
    /// `gpu` cannot run.
    pub fn select(gpu: &Gpu) -> Result<Self> {
        match std::env::var(MATMUL_KERNEL_VAR) {
            Ok(name) if !name.trim().is_empty() => {
                let kernel: Self = name.parse()?;
                kernel.check(gpu)?;
                Ok(kernel)
            }
            _ => Ok(Self::for_adapter(&gpu.info, gpu.features)),
        }
    }

    /// `None` when this kernel can run on the adapter, else the reason it cannot.
    fn unusable(self, info: &wgpu::AdapterInfo, features: wgpu::Features) -> Option<String> {
        if self != Self::Subgroup {
            // The others need only what REQUIRED_LIMITS already guarantees.
            return None;
        }
        if !features.contains(wgpu::Features::SUBGROUP) {
            return Some("the adapter has no subgroup support".to_string());
        }
        let (min, max) = (info.subgroup_min_size, info.subgroup_max_size);
        if (min, max) != (SUBGROUP_LANES, SUBGROUP_LANES) {
            return Some(format!(
                "it is written for subgroups of exactly {SUBGROUP_LANES} lanes, the adapter's \
                 are {min} to {max}"
            ));
        }
        None
    }

    /// Fails when `gpu` cannot run this kernel, saying why.
    pub fn check(self, gpu: &Gpu) -> Result<()> {
        match self.unusable(&gpu.info, gpu.features) {
            None => Ok(()),
            Some(reason) => Err(Error::InvalidConfig {
                message: format!(
                    "the {self} matrix-product kernel cannot run on {}: {reason}. Use portable \
                     or tiled instead ({MATMUL_KERNEL_VAR} picks the kernel)",
                    gpu.info.name
                ),
            }),
        }
    }

    /// True when the kernel can read op(A) as the im2col matrix of a convolution's input
    /// without that matrix being stored (implicit GEMM, see `matmul_im2col`). Only the
    /// tiled kernel can: it copies op(A) into workgroup memory once per tile, so the index
    /// arithmetic is paid once per value and the GPU skips writing and rereading the matrix.
    /// The CPU kernels load op(A) straight from memory at every step, where that arithmetic
    /// would cost about what im2col does, so they keep the explicit im2col.
    pub fn reads_im2col(self) -> bool {
        self == Self::Tiled
    }

    /// True when `gpu` can run this kernel.
    pub fn is_usable(self, gpu: &Gpu) -> bool {
        self.unusable(&gpu.info, gpu.features).is_none()
    }
}

impl fmt::Display for MatmulKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MatmulKernel {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        let wanted = name.trim().to_lowercase();
        Self::ALL
            .into_iter()
            .find(|kernel| kernel.name() == wanted)
            .ok_or_else(|| Error::InvalidConfig {
                message: format!(
                    "{MATMUL_KERNEL_VAR}=`{name}` names no matrix-product kernel: use portable, \
                     subgroup or tiled, or unset it"
                ),
            })
    }
}

/// The dimensions of one matrix product and which operands are stored transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    /// Rows of C and of op(A).
    pub m: usize,
    /// Columns of C and of op(B).
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// A is stored [K, M] (so op(A) = A^T) instead of [M, K].
    pub transpose_a: bool,
    /// B is stored [N, K] (so op(B) = B^T) instead of [K, N].
    pub transpose_b: bool,
}

impl MatmulShape {
    /// `C[M, N] = A[M, K] * B[K, N]`, no transposes.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Self {
            m,
            n,
            k,
            transpose_a: false,
            transpose_b: false,
        }
    }

    /// The same product with A stored transposed ([K, M]).
    pub fn transpose_a(self) -> Self {
        Self {
            transpose_a: true,
            ..self
        }
    }

    /// The same product with B stored transposed ([N, K]).
    pub fn transpose_b(self) -> Self {
        Self {
            transpose_b: true,
            ..self
        }
    }

    /// Multiply-adds of the product, times two.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

fn expect_len(op: &str, what: &str, tensor: &Tensor, expected: usize, dims: &str) -> Result<()> {
    if tensor.len() == expected {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: format!("{op} ({what})"),
        expected: format!("{expected} elements ({dims})"),
        got: format!("{} elements, shape {:?}", tensor.len(), tensor.shape()),
    })
}

/// Workgroups for `n` invocations of one element each along x, spread over x and y when one
/// axis is not enough; shaders recover the flat index with `flat_index` from common.wgsl.
pub(crate) fn grid_for(op: &str, n: usize, workgroup: u32) -> Result<[u32; 3]> {
    let groups = n.div_ceil(workgroup as usize).max(1);
    let max = MAX_WORKGROUPS_PER_AXIS as usize;
    if groups <= max {
        return Ok([groups as u32, 1, 1]);
    }
    let rows = groups.div_ceil(max);
    if rows > max {
        return Err(Error::DispatchTooLarge {
            op: op.to_string(),
            what: format!("{n} invocations"),
            needed: rows as u64,
            max: max as u64,
        });
    }
    Ok([max as u32, rows as u32, 1])
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
}

/// `c = op(a) * op(b)`, plus `bias[n]` on every row when `bias` is given, with the kernel
/// [`MatmulKernel::select`] picks for `gpu`.
///
/// `a` holds M*K elements, `b` K*N, `bias` N and `c` M*N; `shape` says which of `a`, `b` are
/// stored transposed. `c` is overwritten.
pub fn matmul(
    gpu: &Gpu,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    c: &Tensor,
    shape: MatmulShape,
) -> Result<Dispatch> {
    matmul_with(gpu, MatmulKernel::select(gpu)?, a, b, bias, c, shape)
}

/// [`matmul`] with the kernel named by the caller; fails if `gpu` cannot run it.
pub fn matmul_with(
    gpu: &Gpu,
    kernel: MatmulKernel,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    c: &Tensor,
    shape: MatmulShape,
) -> Result<Dispatch> {
    let epilogue = Epilogue {
        bias,
        leaky_slope: None,
    };
    matmul_fused(gpu, kernel, a, b, epilogue, c, shape)
}

/// What a product does to each sum before storing it: add `bias[n]`, then apply a LeakyReLU
/// of slope `leaky_slope` (in (0, 1)). Fused into the product's stores, they cost no pass of
/// their own over the output.
#[derive(Clone, Copy, Default)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a Tensor>,
    pub leaky_slope: Option<f32>,
}

/// [`matmul_with`] with a LeakyReLU after the bias where `epilogue` asks for one:
/// `c = leaky_relu(op(a) * op(b) + bias)`.
pub fn matmul_fused(
    gpu: &Gpu,
    kernel: MatmulKernel,
    a: &Tensor,
    b: &Tensor,
    epilogue: Epilogue,
    c: &Tensor,
    shape: MatmulShape,
) -> Result<Dispatch> {
    let a_dims = if shape.transpose_a {
        "[K, M]"
    } else {
        "[M, K]"
    };
    expect_len(
        "matmul",
        "a",
        a,
        shape.m * shape.k,
        &format!("{a_dims} with {shape:?}"),
    )?;
    record(gpu, kernel, OperandA::Matrix(a), b, epilogue, c, shape)
}

/// The im2col matrix of a convolution's `input`, computed value by value as a kernel reads
/// it; `geometry` states the convolution in the overrides `im2col.wgsl` takes.
pub(crate) struct Im2col<'a> {
    pub input: &'a Tensor,
    pub geometry: &'a [(&'static str, f64)],
}

/// Where a product reads op(A) from.
enum OperandA<'a> {
    /// A stored matrix.
    Matrix(&'a Tensor),
    /// An im2col matrix that is never stored.
    Im2col(Im2col<'a>),
}

/// Implicit GEMM: `c = op(cols) * op(b) (+ bias)` where `cols = im2col(input)` is never
/// stored; the kernel reads each of its values from `input` when it needs it. op(cols) is
/// cols [M, K] (the convolution's forward product), or cols^T when `shape.transpose_a` (its
/// weight gradient). The caller checks that `input` fits the geometry. Only kernels with
/// [`MatmulKernel::reads_im2col`] can do this.
pub(crate) fn matmul_im2col(
    gpu: &Gpu,
    kernel: MatmulKernel,
    cols: Im2col,
    b: &Tensor,
    epilogue: Epilogue,
    c: &Tensor,
    shape: MatmulShape,
) -> Result<Dispatch> {
    if !kernel.reads_im2col() {
        return Err(Error::InvalidConfig {
            message: format!(
                "the {kernel} matrix-product kernel cannot read an im2col matrix implicitly; \
                 only tiled can"
            ),
        });
    }
    record(gpu, kernel, OperandA::Im2col(cols), b, epilogue, c, shape)
}

/// Checks the other operands and records the product.
fn record(
    gpu: &Gpu,
    kernel: MatmulKernel,
    a: OperandA,
    b: &Tensor,
    epilogue: Epilogue,
    c: &Tensor,
    shape: MatmulShape,
) -> Result<Dispatch> {
    let MatmulShape { m, n, k, .. } = shape;
    let bias = epilogue.bias;
    let op = "matmul";
    let b_dims = if shape.transpose_b {
        "[N, K]"
    } else {
        "[K, N]"
    };
    expect_len(op, "b", b, k * n, &format!("{b_dims} with {shape:?}"))?;
    expect_len(op, "c", c, m * n, &format!("[M, N] with {shape:?}"))?;
    if let Some(bias) = bias {
        expect_len(op, "bias", bias, n, &format!("[N] with {shape:?}"))?;
    }

    kernel.check(gpu)?;

    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let mut flags = vec![
        ("TRANSPOSE_A", flag(shape.transpose_a)),
        ("TRANSPOSE_B", flag(shape.transpose_b)),
        ("HAS_BIAS", flag(bias.is_some())),
    ];
    if let Some(slope) = epilogue.leaky_slope {
        super::check_leaky_slope(op, slope)?;
        flags.push(("LEAKY_SLOPE", slope as f64));
    }
    let (a, geometry, a_values) = match a {
        OperandA::Matrix(a) => (a, &[][..], m * k),
        OperandA::Im2col(Im2col { input, geometry }) => {
            flags.push(("IMPLICIT_A", 1.0));
            (input, geometry, input.len())
        }
    };
    let pipeline = gpu.kernel_for_shape(kernel.shader(), &flags, geometry)?;
    let [tile_rows, tile_cols] = kernel.tile();
    let groups = [n.div_ceil(tile_cols).max(1), m.div_ceil(tile_rows).max(1)];
    for (axis, &count) in ["columns", "rows"].iter().zip(&groups) {
        if count > MAX_WORKGROUPS_PER_AXIS as usize {
            return Err(Error::DispatchTooLarge {
                op: op.to_string(),
                what: format!("{axis} of a {m} x {n} product"),
                needed: count as u64,
                max: MAX_WORKGROUPS_PER_AXIS as u64,
            });
        }
    }
    let params = MatmulParams {
        m: m as u32,
        n: n as u32,
        k: k as u32,
    };
    // Without a bias the shader never reads binding 3, but it must be bound: `a` is already
    // bound read-only, so it can stand in without a usage conflict.
    let bias_buffer = bias.unwrap_or(a).binding();
    let label = format!("{}.matmul", c.label());
    let cost = Cost {
        flops: shape.flops(),
        bytes: 4.0 * (a_values + k * n + m * n + bias.map_or(0, |_| n)) as f64,
    };
    Ok(gpu
        .dispatch(
            &label,
            &pipeline,
            &params,
            &[a.binding(), b.binding(), bias_buffer, c.binding()],
            [groups[0] as u32, groups[1] as u32, 1],
        )?
        .with_cost(cost))
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BiasParams {
    rows: u32,
    cols: u32,
    chunk_rows: u32,
}

/// The bias gradient `d_bias[n] = sum_m d_output[m, n]` over a [rows, cols] matrix, with the
/// scratch buffers of its reduction levels. Built once per shape; `dispatches` binds it.
pub struct BiasBackward {
    rows: usize,
    cols: usize,
    /// Partial sums of each level but the last, which writes `d_bias` itself.
    partials: Vec<Tensor>,
}

impl BiasBackward {
    /// Allocates the partial-sum buffers for a [rows, cols] `d_output`.
    pub fn new(gpu: &Gpu, label: &str, rows: usize, cols: usize) -> Self {
        let mut partials = Vec::new();
        let mut remaining = rows.div_ceil(BIAS_CHUNK_ROWS);
        while remaining > 1 {
            let name = format!("{label}.partial{}", partials.len());
            partials.push(Tensor::zeros(gpu, &name, &[remaining, cols]));
            remaining = remaining.div_ceil(BIAS_CHUNK_ROWS);
        }
        Self {
            rows,
            cols,
            partials,
        }
    }

    /// The dispatches, in order, that overwrite `d_bias` \[cols\] with the column sums of
    /// `d_output` (rows * cols elements).
    pub fn dispatches(
        &self,
        gpu: &Gpu,
        d_output: &Tensor,
        d_bias: &Tensor,
    ) -> Result<Vec<Dispatch>> {
        let op = "bias_backward";
        let dims = format!("[{}, {}]", self.rows, self.cols);
        expect_len(op, "d_output", d_output, self.rows * self.cols, &dims)?;
        expect_len(op, "d_bias", d_bias, self.cols, &format!("[{}]", self.cols))?;

        let kernel = gpu.kernel("bias_backward")?;
        let mut dispatches = Vec::new();
        let mut input = d_output;
        let mut rows = self.rows;
        for level in 0..=self.partials.len() {
            let output = self.partials.get(level).unwrap_or(d_bias);
            let chunks = rows.div_ceil(BIAS_CHUNK_ROWS).max(1);
            let params = BiasParams {
                rows: rows as u32,
                cols: self.cols as u32,
                chunk_rows: BIAS_CHUNK_ROWS as u32,
            };
            let label = format!("{}.bias_backward{level}", d_bias.label());
            let groups = grid_for(op, chunks * self.cols, kernel.workgroup_size[0])?;
            let buffers = [input.binding(), output.binding()];
            dispatches.push(gpu.dispatch(&label, &kernel, &params, &buffers, groups)?);
            input = output;
            rows = chunks;
        }
        Ok(dispatches)
    }
}

/// One-call form of [`BiasBackward`] for tests and benches: builds the scratch, returns it with
/// the dispatches (the scratch must outlive them).
pub fn bias_backward(
    gpu: &Gpu,
    d_output: &Tensor,
    rows: usize,
    cols: usize,
    d_bias: &Tensor,
) -> Result<(BiasBackward, Vec<Dispatch>)> {
    let scratch = BiasBackward::new(gpu, d_bias.label(), rows, cols);
    let dispatches = scratch.dispatches(gpu, d_output, d_bias)?;
    Ok((scratch, dispatches))
}
