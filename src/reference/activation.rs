//! Elementwise activations.

use super::Real;

/// `y = x` where `x > 0`, else `slope * x`.
pub fn leaky_relu_forward<T: Real>(input: &[T], slope: T) -> Vec<T> {
    input
        .iter()
        .map(|&x| if x > T::zero() { x } else { slope * x })
        .collect()
}

/// Forward `y = x` or `slope * x`; derivative 1 where `x > 0`, else `slope`.
pub fn leaky_relu_backward<T: Real>(input: &[T], d_output: &[T], slope: T) -> Vec<T> {
    input
        .iter()
        .zip(d_output)
        .map(|(&x, &dy)| if x > T::zero() { dy } else { slope * dy })
        .collect()
}

/// `y = tanh(x)`.
pub fn tanh_forward<T: Real>(input: &[T]) -> Vec<T> {
    input.iter().map(|&x| x.tanh()).collect()
}

/// Forward `y = tanh(x)`; derivative `1 - y^2`, taken from the forward output `y`.
pub fn tanh_backward<T: Real>(output: &[T], d_output: &[T]) -> Vec<T> {
    output
        .iter()
        .zip(d_output)
        .map(|(&y, &dy)| dy * (T::one() - y * y))
        .collect()
}
