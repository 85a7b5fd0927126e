//! The generator G(z): dense 100 -> 7x7x256, transposed conv 256 -> 128 (stride 2), batch norm,
//! LeakyReLU, transposed conv 128 -> 64 (stride 1), batch norm, LeakyReLU, transposed conv
//! 64 -> 1 (stride 2), tanh: a [B, 28, 28, 1] image batch in [-1, 1].

use super::{glorot_dispatches, NamedTensor, LEAKY_SLOPE, Z_DIM};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};
use crate::layers::activation::tanh_backward;
use crate::layers::activation::tanh_forward;
use crate::layers::batch_norm::BatchNorm;
use crate::layers::conv_transpose2d::{ConvTranspose2d, ConvTranspose2dShape};
use crate::layers::dense::{Dense, DenseShape};

/// Activations of one batch, named after the layer that writes them, with their gradients.
struct Activations {
    /// Dense output viewed as [B, 7, 7, 256].
    h0: Tensor,
    /// First transposed conv; its batch norm with the LeakyReLU fused in: [B, 14, 14, 128].
    c1: Tensor,
    a1: Tensor,
    /// Second transposed conv; batch norm with LeakyReLU: [B, 14, 14, 64].
    c2: Tensor,
    a2: Tensor,
    /// Last transposed conv, before tanh: [B, 28, 28, 1].
    c3: Tensor,
}

impl Activations {
    fn new(gpu: &Gpu, prefix: &str, batch: usize) -> Self {
        let t =
            |name: &str, shape: &[usize]| Tensor::zeros(gpu, &format!("{prefix}.{name}"), shape);
        Self {
            h0: t("h0", &[batch, 7, 7, 256]),
            c1: t("c1", &[batch, 14, 14, 128]),
            a1: t("a1", &[batch, 14, 14, 128]),
            c2: t("c2", &[batch, 14, 14, 64]),
            a2: t("a2", &[batch, 14, 14, 64]),
            c3: t("c3", &[batch, 28, 28, 1]),
        }
    }
}

/// The generator for batches of B noise vectors.
pub struct Generator {
    pub batch: usize,
    pub dense: Dense,
    pub deconv1: ConvTranspose2d,
    pub norm1: BatchNorm,
    pub deconv2: ConvTranspose2d,
    pub norm2: BatchNorm,
    pub deconv3: ConvTranspose2d,
    act: Activations,
    /// Gradients of the activations, same names and shapes.
    grad: Activations,
    /// Gradient of the output images [B, 28, 28, 1], written by the trunk's backward pass.
    d_image: Tensor,
}

impl Generator {
    /// Allocates every layer and activation for batches of `batch`; weights start at zero
    /// until [`Generator::initialize`] runs.
    pub fn new(gpu: &Gpu, batch: usize) -> Result<Self> {
        let [shape1, shape2, shape3] = Self::layer_shapes(batch);
        let deconv = |label: &str, shape| ConvTranspose2d::new(gpu, label, shape);
        let dense_shape = DenseShape {
            batch,
            inputs: Z_DIM,
            outputs: 7 * 7 * 256,
        };
        Ok(Self {
            batch,
            dense: Dense::new(gpu, "generator.dense", dense_shape)?,
            deconv1: deconv("generator.conv_transpose_1", shape1)?,
            norm1: BatchNorm::new(gpu, "generator.batch_norm_1", &[batch, 14, 14, 128])?
                .with_leaky_relu(LEAKY_SLOPE)?,
            deconv2: deconv("generator.conv_transpose_2", shape2)?,
            norm2: BatchNorm::new(gpu, "generator.batch_norm_2", &[batch, 14, 14, 64])?
                .with_leaky_relu(LEAKY_SLOPE)?,
            deconv3: deconv("generator.conv_transpose_3", shape3)?,
            act: Activations::new(gpu, "generator", batch),
            grad: Activations::new(gpu, "generator.d", batch),
            d_image: Tensor::zeros(gpu, "generator.d_image", &[batch, 28, 28, 1]),
        })
    }

    /// The three transposed convolutions for batches of `batch`: 7x7x256 -> 14x14x128
    /// (stride 2), 14x14x128 -> 14x14x64 (stride 1), 14x14x64 -> 28x28x1 (stride 2).
    pub fn layer_shapes(batch: usize) -> [ConvTranspose2dShape; 3] {
        let deconv = |side, in_channels, out_channels, stride| ConvTranspose2dShape {
            batch,
            height: side,
            width: side,
            in_channels,
            out_channels,
            kernel: 3,
            stride,
        };
        [
            deconv(7, 256, 128, 2),
            deconv(14, 128, 64, 1),
            deconv(14, 64, 1, 2),
        ]
    }

    /// Glorot-uniform kernels from `seed` (streams 100 and up); biases stay 0.
    pub fn initialize(&self, gpu: &Gpu, seed: u32) -> Result<Vec<Dispatch>> {
        let kernels = [
            (
                &self.dense.weight,
                self.dense.fan_in(),
                self.dense.fan_out(),
            ),
            (
                &self.deconv1.weight,
                self.deconv1.fan_in(),
                self.deconv1.fan_out(),
            ),
            (
                &self.deconv2.weight,
                self.deconv2.fan_in(),
                self.deconv2.fan_out(),
            ),
            (
                &self.deconv3.weight,
                self.deconv3.fan_in(),
                self.deconv3.fan_out(),
            ),
        ];
        glorot_dispatches(gpu, &kernels, seed, 100)
    }

    /// `image = G(z)`. With `training` the batch norms use batch statistics and update their
    /// running statistics; without, they use the running statistics (Keras `predict`).
    pub fn forward(
        &self,
        gpu: &Gpu,
        z: &Tensor,
        image: &Tensor,
        training: bool,
    ) -> Result<Vec<Dispatch>> {
        let a = &self.act;
        let norm = |layer: &BatchNorm, input: &Tensor, output: &Tensor| {
            if training {
                layer.forward_train(gpu, input, output, true)
            } else {
                layer.forward_inference(gpu, input, output)
            }
        };
        let mut d = self.dense.forward(gpu, z, &a.h0)?;
        d.extend(self.deconv1.forward(gpu, &a.h0, &a.c1)?);
        d.extend(norm(&self.norm1, &a.c1, &a.a1)?);
        d.extend(self.deconv2.forward(gpu, &a.a1, &a.c2)?);
        d.extend(norm(&self.norm2, &a.c2, &a.a2)?);
        d.extend(self.deconv3.forward(gpu, &a.a2, &a.c3)?);
        d.push(tanh_forward(gpu, &a.c3, image)?);
        Ok(d)
    }

    /// Gradients of every parameter from `d_image`, through the activations of the latest
    /// training forward pass (which wrote `image` from `z`).
    pub fn backward(
        &self,
        gpu: &Gpu,
        z: &Tensor,
        image: &Tensor,
        d_image: &Tensor,
    ) -> Result<Vec<Dispatch>> {
        let (a, g) = (&self.act, &self.grad);
        let mut d = vec![tanh_backward(gpu, image, d_image, &g.c3)?];
        d.extend(self.deconv3.backward(gpu, &a.a2, &g.c3, Some(&g.a2))?);
        d.extend(self.norm2.backward(gpu, &a.c2, &g.a2, &g.c2)?);
        d.extend(self.deconv2.backward(gpu, &a.a1, &g.c2, Some(&g.a1))?);
        d.extend(self.norm1.backward(gpu, &a.c1, &g.a1, &g.c1)?);
        d.extend(self.deconv1.backward(gpu, &a.h0, &g.c1, Some(&g.h0))?);
        d.extend(self.dense.backward(gpu, z, &g.h0, None)?);
        Ok(d)
    }

    /// Where the gradient of the output images goes before [`Generator::backward`].
    pub fn d_image(&self) -> &Tensor {
        &self.d_image
    }

    /// Packs the parameters into one buffer and the gradients into another, in the order of
    /// [`Generator::parameters`], so that each Adam step over them is one dispatch. Call it
    /// before recording any dispatch: those recorded earlier bind the old buffers.
    pub fn pack_parameters(&mut self, gpu: &Gpu) -> Result<()> {
        let Self {
            dense,
            deconv1,
            norm1,
            deconv2,
            norm2,
            deconv3,
            ..
        } = self;
        let params = vec![
            &mut dense.weight,
            &mut dense.bias,
            &mut deconv1.weight,
            &mut deconv1.bias,
            &mut norm1.gamma,
            &mut norm1.beta,
            &mut deconv2.weight,
            &mut deconv2.bias,
            &mut norm2.gamma,
            &mut norm2.beta,
            &mut deconv3.weight,
            &mut deconv3.bias,
        ];
        let grads = vec![
            &mut dense.d_weight,
            &mut dense.d_bias,
            &mut deconv1.d_weight,
            &mut deconv1.d_bias,
            &mut norm1.d_gamma,
            &mut norm1.d_beta,
            &mut deconv2.d_weight,
            &mut deconv2.d_bias,
            &mut norm2.d_gamma,
            &mut norm2.d_beta,
            &mut deconv3.d_weight,
            &mut deconv3.d_bias,
        ];
        super::pack_parameters(gpu, "generator", params, grads)
    }

    /// Trainable parameters, in the order of [`Generator::gradients`].
    pub fn parameters(&self) -> Vec<&Tensor> {
        vec![
            &self.dense.weight,
            &self.dense.bias,
            &self.deconv1.weight,
            &self.deconv1.bias,
            &self.norm1.gamma,
            &self.norm1.beta,
            &self.deconv2.weight,
            &self.deconv2.bias,
            &self.norm2.gamma,
            &self.norm2.beta,
            &self.deconv3.weight,
            &self.deconv3.bias,
        ]
    }

    /// Gradients of [`Generator::parameters`], in the same order.
    pub fn gradients(&self) -> Vec<&Tensor> {
        vec![
            &self.dense.d_weight,
            &self.dense.d_bias,
            &self.deconv1.d_weight,
            &self.deconv1.d_bias,
            &self.norm1.d_gamma,
            &self.norm1.d_beta,
            &self.deconv2.d_weight,
            &self.deconv2.d_bias,
            &self.norm2.d_gamma,
            &self.norm2.d_beta,
            &self.deconv3.d_weight,
            &self.deconv3.d_bias,
        ]
    }

    /// Running statistics, which change in training but are not parameters.
    pub fn running_statistics(&self) -> Vec<&Tensor> {
        let norms = [&self.norm1, &self.norm2];
        norms
            .iter()
            .flat_map(|n| [&n.running_mean, &n.running_var])
            .collect()
    }

    /// Everything a checkpoint holds, under Keras-style names.
    pub fn named_tensors(&self) -> Vec<NamedTensor<'_>> {
        let mut named = Vec::new();
        let mut add = |name: String, tensor| named.push(NamedTensor { name, tensor });
        add("generator.dense.kernel".into(), &self.dense.weight);
        add("generator.dense.bias".into(), &self.dense.bias);
        for (index, deconv) in [&self.deconv1, &self.deconv2, &self.deconv3]
            .iter()
            .enumerate()
        {
            add(
                format!("generator.conv_transpose_{}.kernel", index + 1),
                &deconv.weight,
            );
            add(
                format!("generator.conv_transpose_{}.bias", index + 1),
                &deconv.bias,
            );
        }
        for (index, norm) in [&self.norm1, &self.norm2].iter().enumerate() {
            let prefix = format!("generator.batch_norm_{}", index + 1);
            add(format!("{prefix}.gamma"), &norm.gamma);
            add(format!("{prefix}.beta"), &norm.beta);
            add(format!("{prefix}.moving_mean"), &norm.running_mean);
            add(format!("{prefix}.moving_variance"), &norm.running_var);
        }
        named
    }
}
