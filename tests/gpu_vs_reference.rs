//! Every kernel on the GPU against its CPU reference, on shapes that span several workgroups
//! and have ragged edges. One submodule per layer family.

mod common;

#[path = "gpu_vs_reference/activation.rs"]
mod activation;

#[path = "gpu_vs_reference/adam.rs"]
mod adam;

#[path = "gpu_vs_reference/batch_norm.rs"]
mod batch_norm;

#[path = "gpu_vs_reference/conv.rs"]
mod conv;

#[path = "gpu_vs_reference/dense.rs"]
mod dense;

#[path = "gpu_vs_reference/dropout.rs"]
mod dropout;

#[path = "gpu_vs_reference/gather.rs"]
mod gather;

#[path = "gpu_vs_reference/loss.rs"]
mod loss;

#[path = "gpu_vs_reference/random.rs"]
mod random;
