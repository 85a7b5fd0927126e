//! Data loading. Nothing here touches the GPU.
