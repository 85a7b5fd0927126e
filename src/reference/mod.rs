//! The CPU reference: every kernel as plain loops, named exactly like its shader
//! (`reference::conv2d_backward_input` is `shaders/conv2d_backward_input.wgsl`).
//!
//! These functions are the readable statement of what each shader computes. They are generic
//! over [`Real`] so that tests can run them in f64 for finite differences and compare the GPU's
//! f32 against them. Shapes and layouts are those of `crate::layers` (NHWC activations).
//! Nothing here touches the GPU.

pub mod activation;
pub mod adam;
pub mod batch_norm;
pub mod conv;
pub mod dense;
pub mod dropout;
pub mod gather;
pub mod loss;
pub mod matmul;
pub mod random;
pub mod rng;

pub use activation::*;
pub use adam::*;
pub use batch_norm::*;
pub use conv::*;
pub use dense::*;
pub use dropout::*;
pub use gather::*;
pub use loss::*;
pub use matmul::*;
pub use random::*;

/// The floating-point operations the reference needs, for f32 and f64.
pub trait Real:
    Copy
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + std::iter::Sum
{
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    fn one() -> Self {
        Self::from_f64(1.0)
    }
    fn max(self, other: Self) -> Self {
        if self > other {
            self
        } else {
            other
        }
    }
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
        }
    };
}
impl_real!(f32);
impl_real!(f64);
