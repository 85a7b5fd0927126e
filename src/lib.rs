//! sgan-gpu: a semi-supervised GAN trainer for MNIST whose every layer runs as a WGSL compute
//! shader through wgpu.
//!
//! The crate is layered, and each layer only calls the ones below it:
//! - [`run`]: a training run as the command line starts it, and the files it leaves;
//! - [`train`]: the configuration, the GPU training iteration and evaluation;
//! - [`model`]: the generator and the discriminator, built from layers;
//! - [`layers`]: each layer's forward and backward kernels;
//! - [`gpu`]: device, buffers, kernels and dispatches; knows nothing of models.
//!
//! Beside them, knowing nothing of the GPU:
//! - [`reference`](mod@reference): every kernel as plain CPU loops, the readable statement of
//!   each shader;
//! - [`spec`]: layer geometry and optimiser settings as plain data, shared by both;
//! - [`data`]: the MNIST loader;
//! - [`report`]: checkpoints, sample grids, metrics, JSON and the loss plot.

pub mod data;
pub mod error;
pub mod gpu;
pub mod layers;
pub mod model;
pub mod reference;
pub mod report;
pub mod run;
pub mod spec;
pub mod train;

pub use error::{Error, Result};
