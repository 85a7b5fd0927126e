//! Adam with bias correction over a list of parameter tensors, entirely on the GPU.
//!
//! Each [`Adam`] is one optimizer state: first and second moments m, v per parameter tensor
//! (starting at 0) and a step state (t, 1 - beta1^t, 1 - beta2^t) in a 16-byte GPU buffer.
//! An optimizer step is one `adam_advance` dispatch, which increments t and recomputes the bias
//! corrections on the GPU, followed by `adam_step` dispatches, which read them: one for all
//! the tensors where the parameters and the gradients each lie packed in one buffer laid out
//! like the moments (see [`BlockLayout`]), else one per tensor. So the dispatches are built
//! once and replayed, and t never travels through the CPU. Several
//! states may update the same parameter tensors independently (the SGAN's trunk has one for
//! the supervised loss and one for the unsupervised loss); each keeps its own m, v and t.

use super::expect_shape;
use crate::error::{Error, Result};
use crate::gpu::{four_wide_where_possible, BlockLayout, Dispatch, Gpu, Tensor};
pub use crate::spec::AdamHyper;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdvanceParams {
    beta1: f32,
    beta2: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StepParams {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
}

/// One Adam optimizer state over a fixed list of parameter tensors.
pub struct Adam {
    label: String,
    hyper: AdamHyper,
    /// The parameters' shapes and how the moments lie in their buffers; parameters and
    /// gradients packed the same way take one `adam_step` dispatch for all tensors.
    pub layout: BlockLayout,
    /// First moments, one per parameter tensor, in the order given to [`Adam::new`]; views of
    /// one buffer laid out by `layout`.
    pub m: Vec<Tensor>,
    /// Second moments, likewise.
    pub v: Vec<Tensor>,
    /// `[t, bits of 1 - beta1^t, bits of 1 - beta2^t, 0]`, as `adam_advance` writes it.
    pub state: Tensor<u32>,
}

impl Adam {
    /// A fresh state (m = v = 0, t = 0) for `params`, whose shapes it remembers.
    pub fn new(gpu: &Gpu, label: &str, params: &[&Tensor], hyper: AdamHyper) -> Result<Self> {
        let shapes: Vec<&[usize]> = params.iter().map(|p| p.shape()).collect();
        let layout = BlockLayout::new(gpu, &shapes);
        let names: Vec<&str> = params.iter().map(|p| p.label()).collect();
        Ok(Self {
            label: label.to_string(),
            hyper,
            m: layout.zeros(gpu, &format!("{label}.m"), &names),
            v: layout.zeros(gpu, &format!("{label}.v"), &names),
            layout,
            state: Tensor::zeros(gpu, &format!("{label}.state"), &[4]),
        })
    }

    /// The dispatches of one optimizer step, in order: `adam_advance`, then `adam_step` over
    /// all tensors at once where `params` and `grads` each fill one buffer laid out like
    /// [`Adam::layout`], else for each (param, grad) pair. `params` must have the shapes given
    /// to [`Adam::new`], in the same order; `grads` the same shapes. Replaying the list takes
    /// one step each time.
    pub fn step(&self, gpu: &Gpu, params: &[&Tensor], grads: &[&Tensor]) -> Result<Vec<Dispatch>> {
        let op = format!("{}.adam_step", self.label);
        let shapes = self.layout.shapes();
        if params.len() != shapes.len() || grads.len() != shapes.len() {
            return Err(Error::ShapeMismatch {
                op,
                expected: format!("{} parameter and gradient tensors", shapes.len()),
                got: format!("{} parameters, {} gradients", params.len(), grads.len()),
            });
        }

        let advance_kernel = gpu.kernel("adam_advance")?;
        let advance_params = AdvanceParams {
            beta1: self.hyper.beta1,
            beta2: self.hyper.beta2,
        };
        let mut dispatches = vec![gpu.dispatch(
            &format!("{}.adam_advance", self.label),
            &advance_kernel,
            &advance_params,
            &[self.state.binding()],
            [1, 1, 1],
        )?];

        for (index, (param, grad)) in params.iter().zip(grads).enumerate() {
            let what = format!("param {index} ({})", param.label());
            expect_shape(&op, &what, param.shape(), &shapes[index])?;
            let what = format!("grad {index} ({})", grad.label());
            expect_shape(&op, &what, grad.shape(), &shapes[index])?;
        }
        fn moments<'a>(layout: &BlockLayout, tensors: &'a [Tensor]) -> wgpu::BufferBinding<'a> {
            let refs: Vec<&Tensor> = tensors.iter().collect();
            layout
                .whole(&refs)
                .expect("the moments are laid out by `layout`")
        }
        if let (Some(param), Some(grad)) = (self.layout.whole(params), self.layout.whole(grads)) {
            // The gaps between packed tensors hold zeros in all four buffers, and a zero
            // gradient with zero moments leaves a zero parameter: the gaps stay zero.
            let label = format!("{}.adam_step[all {}]", self.label, params.len());
            let (m, v) = (
                moments(&self.layout, &self.m),
                moments(&self.layout, &self.v),
            );
            let buffers = [grad, param, m, v];
            dispatches.push(self.step_dispatch(gpu, &label, self.layout.values(), buffers)?);
        } else {
            for (index, (param, grad)) in params.iter().zip(grads).enumerate() {
                let label = format!("{}.adam_step[{index}]({})", self.label, param.label());
                let buffers = [
                    grad.binding(),
                    param.binding(),
                    self.m[index].binding(),
                    self.v[index].binding(),
                ];
                dispatches.push(self.step_dispatch(gpu, &label, param.len(), buffers)?);
            }
        }
        Ok(dispatches)
    }

    /// One `adam_step` over `len` values: `[grad, param, m, v]` in that order.
    fn step_dispatch(
        &self,
        gpu: &Gpu,
        label: &str,
        len: usize,
        [grad, param, m, v]: [wgpu::BufferBinding; 4],
    ) -> Result<Dispatch> {
        // Lengths divisible by 4 take the four-wide kernel: a quarter of the loads and
        // stores, the same arithmetic on every value.
        let (name, width) = four_wide_where_possible("adam_step", len);
        let kernel = &gpu.kernel(&name)?;
        let step_params = StepParams {
            len: (len / width) as u32,
            lr: self.hyper.lr,
            beta1: self.hyper.beta1,
            beta2: self.hyper.beta2,
            epsilon: self.hyper.epsilon,
        };
        let buffers = [grad, self.state.binding(), param, m, v];
        gpu.dispatch(
            label,
            kernel,
            &step_params,
            &buffers,
            kernel.groups_for(len / width)?,
        )
    }

    /// Optimizer steps taken so far (reads the GPU counter back).
    pub fn steps_taken(&self, gpu: &Gpu) -> Result<u32> {
        Ok(self.state.read(gpu)?[0])
    }

    /// Sets the step counter, e.g. to resume from a checkpoint; the next step uses `t + 1`.
    /// The bias corrections are recomputed by that step's `adam_advance`.
    pub fn set_steps_taken(&self, gpu: &Gpu, t: u32) -> Result<()> {
        self.state.write(gpu, &[t, 0, 0, 0])
    }

    /// The hyperparameters this state was built with.
    pub fn hyper(&self) -> AdamHyper {
        self.hyper
    }
}
