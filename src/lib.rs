//! sgan-gpu: a semi-supervised GAN trainer for MNIST whose every layer runs as a WGSL compute
//! shader through wgpu.
//!
//! The crate is layered, and each layer only calls the ones below it:
//! - [`gpu`]: device, buffers, kernels and dispatches; knows nothing of models;
//! - [`run`]: a training run as the command line starts it;
//! - [`train`]: the configuration, the GPU training iteration and evaluation;
//! - [`model`]: the generator and the discriminator, built from layers;
//! - [`layers`]: each layer's forward and backward kernels;
//! - [`reference`]: the same kernels as plain CPU loops, the readable statement of each shader;
//! - [`spec`]: layer geometry and optimiser settings as plain data, shared by both;
//! - [`data`]: the MNIST loader, which knows nothing of the GPU;
//! - [`report`]: checkpoints, sample grids, metrics, JSON and the loss plot, from plain CPU data.

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
