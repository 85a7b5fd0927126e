//! Data loading. Nothing here touches the GPU.

pub mod mnist;
