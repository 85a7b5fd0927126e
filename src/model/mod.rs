//! The SGAN's two networks, built from `crate::layers` exactly as `shared/SPEC.md` lays them
//! out: the generator G and the discriminator trunk with its two heads on one set of logits.
//!
//! A model owns its layers (parameters, gradients, scratch) and its activations for one batch
//! size, and builds dispatch lists once; the trainer replays them. Every model input and output
//! that several phases share (the image batch, the noise) is passed in as a tensor, so that
//! one set of activations serves every phase in turn.

mod discriminator;
pub mod footprint;
mod generator;

pub use discriminator::{Discriminator, TrunkForward, TrunkMode};
pub use generator::Generator;

use crate::error::Result;
use crate::gpu::{BlockLayout, Dispatch, Gpu, Tensor};
use crate::layers::random::glorot_uniform;

/// Size of the generator's noise vector z.
pub const Z_DIM: usize = 100;
/// Number of classes, and of logits.
pub const CLASSES: usize = 10;
/// Side of an MNIST image.
pub const IMAGE_SIDE: usize = 28;
/// Negative slope of every LeakyReLU.
pub const LEAKY_SLOPE: f32 = 0.01;
/// Dropout rate before the trunk's dense layer.
pub const DROPOUT_RATE: f32 = 0.5;

/// A tensor a checkpoint holds, under its Keras-style name. Its shape is the tensor's own,
/// which already follows Keras's layouts (see `crate::layers`).
pub struct NamedTensor<'a> {
    pub name: String,
    pub tensor: &'a Tensor,
}

/// Moves a model's parameters into one buffer and their gradients, laid out the same way,
/// into another, so that an Adam built for those parameters updates all of them with one
/// dispatch (see [`crate::layers::adam`]). `params` and `grads` pair up in order.
fn pack_parameters(
    gpu: &Gpu,
    model: &str,
    mut params: Vec<&mut Tensor>,
    mut grads: Vec<&mut Tensor>,
) -> Result<()> {
    let shapes: Vec<&[usize]> = params.iter().map(|t| t.shape()).collect();
    let layout = BlockLayout::new(gpu, &shapes);
    layout.pack(gpu, &format!("{model}.parameters"), &mut params)?;
    layout.pack(gpu, &format!("{model}.gradients"), &mut grads)
}

/// One Glorot-uniform initialiser dispatch per kernel, each drawing from its own stream of
/// `seed`; biases and batch-norm parameters keep the values their layers start with.
fn glorot_dispatches(
    gpu: &Gpu,
    kernels: &[(&Tensor, usize, usize)],
    seed: u32,
    first_stream: u32,
) -> Result<Vec<Dispatch>> {
    kernels
        .iter()
        .zip(first_stream..)
        .map(|(&(tensor, fan_in, fan_out), stream)| {
            glorot_uniform(gpu, tensor, fan_in, fan_out, seed, stream)
        })
        .collect()
}

/// Fills every tensor of `named` from `source(name, shape)`, e.g. a checkpoint's lookup; the
/// first tensor the source lacks or shapes differently stops the load with its error.
pub fn load_named(
    gpu: &Gpu,
    named: &[NamedTensor<'_>],
    mut source: impl FnMut(&str, &[usize]) -> Result<Vec<f32>>,
) -> Result<()> {
    for entry in named {
        let data = source(&entry.name, entry.tensor.shape())?;
        entry.tensor.write(gpu, &data)?;
    }
    Ok(())
}
