//! Convolution and transposed convolution ('same' padding, NHWC), as direct loops over pixels
//! and taps, plus the im2col / col2im pair the GPU builds them from. Shapes and padding come
//! from the layer shape structs, which are plain data.

use super::Real;
use crate::spec::{Conv2dShape, ConvTranspose2dShape};

/// Calls `visit(input_index, output_row, tap_column)` for every (output pixel, tap) pair
/// whose tap lands inside the input, where `output_row = (b * OH + oy) * OW + ox`, the input
/// pixel is (b, oy * S + kh - pad_top, ox * S + kw - pad_left) and
/// `tap_column = (kh * K + kw) * C_in`; the caller adds the channel to both.
fn for_each_tap(shape: &Conv2dShape, mut visit: impl FnMut(usize, usize, usize)) {
    let (oh, ow) = (shape.out_height(), shape.out_width());
    let (pad_top, pad_left) = (shape.pad_rows().0 as isize, shape.pad_cols().0 as isize);
    let k = shape.kernel;
    for b in 0..shape.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                let row = (b * oh + oy) * ow + ox;
                for kh in 0..k {
                    let iy = (oy * shape.stride + kh) as isize - pad_top;
                    if iy < 0 || iy >= shape.height as isize {
                        continue;
                    }
                    for kw in 0..k {
                        let ix = (ox * shape.stride + kw) as isize - pad_left;
                        if ix < 0 || ix >= shape.width as isize {
                            continue;
                        }
                        let pixel = (b * shape.height + iy as usize) * shape.width + ix as usize;
                        visit(
                            pixel * shape.in_channels,
                            row,
                            (kh * k + kw) * shape.in_channels,
                        );
                    }
                }
            }
        }
    }
}

/// cols [B*OH*OW, K*K*C_in], (kh, kw, c) order, zeros in the padding.
pub fn im2col<T: Real>(input: &[T], shape: &Conv2dShape) -> Vec<T> {
    let patch = shape.patch();
    let mut cols = vec![T::zero(); shape.rows() * patch];
    for_each_tap(shape, |pixel, row, tap| {
        for c in 0..shape.in_channels {
            cols[row * patch + tap + c] = input[pixel + c];
        }
    });
    cols
}

/// The adjoint of [`im2col`], plus `bias[c]` on every pixel when given:
/// d_input [B, H, W, C_in] sums each d_cols entry into the input element it was read from.
pub fn col2im<T: Real>(d_cols: &[T], bias: Option<&[T]>, shape: &Conv2dShape) -> Vec<T> {
    let patch = shape.patch();
    let channels = shape.in_channels;
    let mut d_input = vec![T::zero(); shape.batch * shape.height * shape.width * channels];
    if let Some(bias) = bias {
        for (i, value) in d_input.iter_mut().enumerate() {
            *value = bias[i % channels];
        }
    }
    for_each_tap(shape, |pixel, row, tap| {
        for c in 0..channels {
            d_input[pixel + c] += d_cols[row * patch + tap + c];
        }
    });
    d_input
}

/// `output[b, oy, ox, co] = bias[co] + sum_{kh, kw, ci} input[b, iy, ix, ci] *
/// weight[kh, kw, ci, co]` with (iy, ix) = (oy * S + kh - pad_top, ox * S + kw - pad_left),
/// taps in the padding contributing 0. weight [K, K, C_in, C_out]; output [B, OH, OW, C_out].
pub fn conv2d_forward<T: Real>(
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    shape: &Conv2dShape,
) -> Vec<T> {
    let (cin, cout) = (shape.in_channels, shape.out_channels);
    let mut output = vec![T::zero(); shape.rows() * cout];
    if let Some(bias) = bias {
        for (i, value) in output.iter_mut().enumerate() {
            *value = bias[i % cout];
        }
    }
    for_each_tap(shape, |pixel, row, tap| {
        for ci in 0..cin {
            let x = input[pixel + ci];
            for co in 0..cout {
                output[row * cout + co] += x * weight[(tap + ci) * cout + co];
            }
        }
    });
    output
}

/// Forward: `y[row, co] += x[pixel, ci] * w[tap, ci, co]` over every (pixel, row, tap) link.
/// Derivative: `d_input[pixel, ci] = sum over links and co of d_output[row, co] *
/// w[tap, ci, co]`. Returns d_input [B, H, W, C_in].
pub fn conv2d_backward_input<T: Real>(d_output: &[T], weight: &[T], shape: &Conv2dShape) -> Vec<T> {
    let (cin, cout) = (shape.in_channels, shape.out_channels);
    let mut d_input = vec![T::zero(); shape.batch * shape.height * shape.width * cin];
    for_each_tap(shape, |pixel, row, tap| {
        for ci in 0..cin {
            let mut sum = T::zero();
            for co in 0..cout {
                sum += d_output[row * cout + co] * weight[(tap + ci) * cout + co];
            }
            d_input[pixel + ci] += sum;
        }
    });
    d_input
}

/// Forward: `y[row, co] += x[pixel, ci] * w[tap, ci, co]`. Derivative:
/// `d_weight[tap, ci, co] = sum over links of x[pixel, ci] * d_output[row, co]`.
/// Returns d_weight [K, K, C_in, C_out].
pub fn conv2d_backward_weight<T: Real>(input: &[T], d_output: &[T], shape: &Conv2dShape) -> Vec<T> {
    let (cin, cout) = (shape.in_channels, shape.out_channels);
    let mut d_weight = vec![T::zero(); shape.patch() * cout];
    for_each_tap(shape, |pixel, row, tap| {
        for ci in 0..cin {
            let x = input[pixel + ci];
            for co in 0..cout {
                d_weight[(tap + ci) * cout + co] += x * d_output[row * cout + co];
            }
        }
    });
    d_weight
}

/// Forward: `y[row, co] = ... + bias[co]`. Derivative: `d_bias[co] = sum_row d_output[row,
/// co]`. Returns d_bias \[C_out\].
pub fn conv2d_backward_bias<T: Real>(d_output: &[T], shape: &Conv2dShape) -> Vec<T> {
    super::bias_backward(d_output, shape.rows(), shape.out_channels)
}

/// The transposed convolution: the adjoint of `conv2d_forward` (no bias) of
/// `shape.adjoint()`, applied to input [B, H, W, C_in], plus `bias[c]`.
/// weight [K, K, C_out, C_in]; returns output [B, H*S, W*S, C_out].
pub fn conv_transpose2d_forward<T: Real>(
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    shape: &ConvTranspose2dShape,
) -> Vec<T> {
    let conv = shape.adjoint();
    let mut output = conv2d_backward_input(input, weight, &conv);
    if let Some(bias) = bias {
        let channels = shape.out_channels;
        for (i, value) in output.iter_mut().enumerate() {
            *value += bias[i % channels];
        }
    }
    output
}

/// Forward: `y = A^T x (+ b)` with A the adjoint conv. Derivative: `d_input = A d_output`,
/// the adjoint conv's forward without bias. Returns d_input [B, H, W, C_in].
pub fn conv_transpose2d_backward_input<T: Real>(
    d_output: &[T],
    weight: &[T],
    shape: &ConvTranspose2dShape,
) -> Vec<T> {
    conv2d_forward(d_output, weight, None, &shape.adjoint())
}

/// Forward: `y[pixel, co] += x[row, ci] * w[tap, co, ci]` over the adjoint conv's links.
/// Derivative: `d_weight[tap, co, ci] = sum over links of d_output[pixel, co] * x[row, ci]`,
/// which is the adjoint conv's weight gradient with the roles of input and output swapped.
/// Returns d_weight [K, K, C_out, C_in].
pub fn conv_transpose2d_backward_weight<T: Real>(
    input: &[T],
    d_output: &[T],
    shape: &ConvTranspose2dShape,
) -> Vec<T> {
    conv2d_backward_weight(d_output, input, &shape.adjoint())
}

/// Forward: `y = ... + bias[co]`. Derivative: `d_bias[co] = sum over (b, y, x) of
/// d_output[b, y, x, co]`. Returns d_bias \[C_out\].
pub fn conv_transpose2d_backward_bias<T: Real>(
    d_output: &[T],
    shape: &ConvTranspose2dShape,
) -> Vec<T> {
    let conv = shape.adjoint();
    let pixels = conv.batch * conv.height * conv.width;
    super::bias_backward(d_output, pixels, shape.out_channels)
}
