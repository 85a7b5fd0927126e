//! Fully connected layer `y = x W + b` on the matrix-product core. x [B, in], W [in, out]
//! (Keras layout), b \[out\], y [B, out]. Backward reads the forward input x (for `d_weight`).

use super::expect_shape;
use super::matmul::{matmul, BiasBackward, MatmulShape};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};
pub use crate::spec::DenseShape;

/// Accepts any tensor of `rows` leading rows and `rows * cols` elements, e.g. a
/// [B, 4, 4, 128] activation as the [B, 2048] matrix it is in NHWC order.
fn check_matrix(op: &str, what: &str, tensor: &Tensor, rows: usize, cols: usize) -> Result<()> {
    if tensor.shape().first() == Some(&rows) && tensor.len() == rows * cols {
        return Ok(());
    }
    expect_shape(op, what, tensor.shape(), &[rows, cols])
}

/// `output = input * weight + bias`: input [B, in], weight [in, out], bias \[out\],
/// output [B, out].
pub fn dense_forward(
    gpu: &Gpu,
    shape: &DenseShape,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    output: &Tensor,
) -> Result<Dispatch> {
    let op = "dense_forward";
    let DenseShape {
        batch,
        inputs,
        outputs,
    } = *shape;
    check_matrix(op, "input", input, batch, inputs)?;
    expect_shape(op, "weight", weight.shape(), &[inputs, outputs])?;
    check_matrix(op, "output", output, batch, outputs)?;
    if let Some(bias) = bias {
        expect_shape(op, "bias", bias.shape(), &[outputs])?;
    }
    matmul(
        gpu,
        input,
        weight,
        bias,
        output,
        MatmulShape::new(batch, outputs, inputs),
    )
}

/// `d_input = d_output * weight^T`. Forward `y = x W + b`, so `dL/dx = dL/dy W^T`.
/// d_output [B, out], weight [in, out], d_input [B, in].
pub fn dense_backward_input(
    gpu: &Gpu,
    shape: &DenseShape,
    d_output: &Tensor,
    weight: &Tensor,
    d_input: &Tensor,
) -> Result<Dispatch> {
    let op = "dense_backward_input";
    let DenseShape {
        batch,
        inputs,
        outputs,
    } = *shape;
    check_matrix(op, "d_output", d_output, batch, outputs)?;
    expect_shape(op, "weight", weight.shape(), &[inputs, outputs])?;
    check_matrix(op, "d_input", d_input, batch, inputs)?;
    // weight stored [in, out] = [N, K] for this product.
    let product = MatmulShape::new(batch, inputs, outputs).transpose_b();
    matmul(gpu, d_output, weight, None, d_input, product)
}

/// `d_weight = input^T * d_output`. Forward `y = x W + b`, so `dL/dW = x^T dL/dy`.
/// input [B, in] (the forward input), d_output [B, out], d_weight [in, out].
pub fn dense_backward_weight(
    gpu: &Gpu,
    shape: &DenseShape,
    input: &Tensor,
    d_output: &Tensor,
    d_weight: &Tensor,
) -> Result<Dispatch> {
    let op = "dense_backward_weight";
    let DenseShape {
        batch,
        inputs,
        outputs,
    } = *shape;
    check_matrix(op, "input", input, batch, inputs)?;
    check_matrix(op, "d_output", d_output, batch, outputs)?;
    expect_shape(op, "d_weight", d_weight.shape(), &[inputs, outputs])?;
    // input stored [B, in] = [K, M] for this product.
    let product = MatmulShape::new(inputs, outputs, batch).transpose_a();
    matmul(gpu, input, d_output, None, d_weight, product)
}

/// `d_bias[j] = sum_b d_output[b, j]`. `sums` must be a [`BiasBackward`] for B rows and `out`
/// columns.
pub fn dense_backward_bias(
    gpu: &Gpu,
    shape: &DenseShape,
    d_output: &Tensor,
    sums: &BiasBackward,
    d_bias: &Tensor,
) -> Result<Vec<Dispatch>> {
    let op = "dense_backward_bias";
    check_matrix(op, "d_output", d_output, shape.batch, shape.outputs)?;
    expect_shape(op, "d_bias", d_bias.shape(), &[shape.outputs])?;
    sums.dispatches(gpu, d_output, d_bias)
}

/// A dense layer: its parameters, their gradients and the bias-gradient scratch.
pub struct Dense {
    pub label: String,
    pub shape: DenseShape,
    /// [in, out], zero until an initialiser or `.write` fills it.
    pub weight: Tensor,
    /// \[out\], zero.
    pub bias: Tensor,
    pub d_weight: Tensor,
    pub d_bias: Tensor,
    bias_sums: BiasBackward,
}

impl Dense {
    /// Allocates every buffer of the layer, all zero.
    pub fn new(gpu: &Gpu, label: &str, shape: DenseShape) -> Result<Self> {
        let tensor =
            |name: &str, dims: &[usize]| Tensor::zeros(gpu, &format!("{label}.{name}"), dims);
        let weight_shape = [shape.inputs, shape.outputs];
        Ok(Self {
            label: label.to_string(),
            shape,
            weight: tensor("weight", &weight_shape),
            bias: tensor("bias", &[shape.outputs]),
            d_weight: tensor("d_weight", &weight_shape),
            d_bias: tensor("d_bias", &[shape.outputs]),
            bias_sums: BiasBackward::new(
                gpu,
                &format!("{label}.d_bias"),
                shape.batch,
                shape.outputs,
            ),
        })
    }

    /// Input features, for Glorot initialisation.
    pub fn fan_in(&self) -> usize {
        self.shape.inputs
    }

    /// Output features, for Glorot initialisation.
    pub fn fan_out(&self) -> usize {
        self.shape.outputs
    }

    /// The dispatch computing `output = input * weight + bias`.
    pub fn forward(&self, gpu: &Gpu, input: &Tensor, output: &Tensor) -> Result<Vec<Dispatch>> {
        let bias = Some(&self.bias);
        Ok(vec![dense_forward(
            gpu,
            &self.shape,
            input,
            &self.weight,
            bias,
            output,
        )?])
    }

    /// The dispatch computing only `d_input`, for a backward pass whose parameter gradients
    /// nobody reads.
    pub fn backward_input(
        &self,
        gpu: &Gpu,
        d_output: &Tensor,
        d_input: &Tensor,
    ) -> Result<Dispatch> {
        dense_backward_input(gpu, &self.shape, d_output, &self.weight, d_input)
    }

    /// Dispatches computing `d_weight`, `d_bias` and, when asked, `d_input`. `input` is the
    /// forward input, which must still hold its values when these run.
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        d_output: &Tensor,
        d_input: Option<&Tensor>,
    ) -> Result<Vec<Dispatch>> {
        let shape = &self.shape;
        let mut dispatches = vec![dense_backward_weight(
            gpu,
            shape,
            input,
            d_output,
            &self.d_weight,
        )?];
        dispatches.extend(dense_backward_bias(
            gpu,
            shape,
            d_output,
            &self.bias_sums,
            &self.d_bias,
        )?);
        if let Some(d_input) = d_input {
            dispatches.push(dense_backward_input(
                gpu,
                shape,
                d_output,
                &self.weight,
                d_input,
            )?);
        }
        Ok(dispatches)
    }
}
