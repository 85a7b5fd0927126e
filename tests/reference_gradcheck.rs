//! Every backward reference against central finite differences of its forward reference, in
//! f64, through the scalar loss `sum(r * y)` with fixed random `r`. One submodule per family,
//! plus negative controls showing that the checker catches a wrong derivative.

mod common;

#[path = "reference_gradcheck/activation.rs"]
mod activation;
