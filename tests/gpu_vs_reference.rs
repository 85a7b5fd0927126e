//! Every kernel on the GPU against its CPU reference, on shapes that span several workgroups
//! and have ragged edges. One submodule per layer family.

mod common;

#[path = "gpu_vs_reference/activation.rs"]
mod activation;
