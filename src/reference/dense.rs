//! The dense layer `y = x W + b`: x [B, in], W [in, out], b \[out\], y [B, out].

use super::Real;
use crate::spec::DenseShape;

/// `y[b, j] = bias[j] + sum_i x[b, i] * w[i, j]`.
pub fn dense_forward<T: Real>(
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    shape: &DenseShape,
) -> Vec<T> {
    let DenseShape {
        batch,
        inputs,
        outputs,
    } = *shape;
    let mut output = Vec::with_capacity(batch * outputs);
    for b in 0..batch {
        for j in 0..outputs {
            let mut sum = bias.map_or(T::zero(), |bias| bias[j]);
            for i in 0..inputs {
                sum += input[b * inputs + i] * weight[i * outputs + j];
            }
            output.push(sum);
        }
    }
    output
}

/// Forward `y[b, j] = sum_i x[b, i] w[i, j] + bias[j]`. Derivative:
/// `d_input[b, i] = sum_j d_output[b, j] * w[i, j]`.
pub fn dense_backward_input<T: Real>(d_output: &[T], weight: &[T], shape: &DenseShape) -> Vec<T> {
    let DenseShape {
        batch,
        inputs,
        outputs,
    } = *shape;
    let mut d_input = Vec::with_capacity(batch * inputs);
    for b in 0..batch {
        for i in 0..inputs {
            let mut sum = T::zero();
            for j in 0..outputs {
                sum += d_output[b * outputs + j] * weight[i * outputs + j];
            }
            d_input.push(sum);
        }
    }
    d_input
}

/// Forward `y[b, j] = sum_i x[b, i] w[i, j] + bias[j]`. Derivative:
/// `d_weight[i, j] = sum_b x[b, i] * d_output[b, j]`.
pub fn dense_backward_weight<T: Real>(input: &[T], d_output: &[T], shape: &DenseShape) -> Vec<T> {
    let DenseShape {
        batch,
        inputs,
        outputs,
    } = *shape;
    let mut d_weight = Vec::with_capacity(inputs * outputs);
    for i in 0..inputs {
        for j in 0..outputs {
            let mut sum = T::zero();
            for b in 0..batch {
                sum += input[b * inputs + i] * d_output[b * outputs + j];
            }
            d_weight.push(sum);
        }
    }
    d_weight
}

/// Forward `y[b, j] = ... + bias[j]`. Derivative: `d_bias[j] = sum_b d_output[b, j]`.
pub fn dense_backward_bias<T: Real>(d_output: &[T], shape: &DenseShape) -> Vec<T> {
    super::bias_backward(d_output, shape.batch, shape.outputs)
}
