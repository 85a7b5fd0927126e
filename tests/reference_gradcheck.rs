//! Every backward reference against central finite differences of its forward reference, in
//! f64, through the scalar loss `sum(r * y)` with fixed random `r`. One submodule per family,
//! plus negative controls showing that the checker catches a wrong derivative. Kernels
//! without a backward pass (Adam, the generators, the gather) have no module here.

mod common;

#[path = "reference_gradcheck/activation.rs"]
mod activation;

#[path = "reference_gradcheck/batch_norm.rs"]
mod batch_norm;

#[path = "reference_gradcheck/conv.rs"]
mod conv;

#[path = "reference_gradcheck/dense.rs"]
mod dense;

#[path = "reference_gradcheck/dropout.rs"]
mod dropout;

#[path = "reference_gradcheck/loss.rs"]
mod loss;
