//! The discriminator trunk shared by both heads: conv 1 -> 32 (stride 2), LeakyReLU; conv
//! 32 -> 64 (stride 2), batch norm, LeakyReLU; conv 64 -> 128 (stride 2), batch norm,
//! LeakyReLU; dropout 0.5; flatten (H, W, C) and dense 2048 -> 10: the logits.

use super::{glorot_dispatches, NamedTensor, CLASSES, DROPOUT_RATE, IMAGE_SIDE, LEAKY_SLOPE};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, Tensor};
use crate::layers::activation::leaky_relu_backward;
use crate::layers::batch_norm::BatchNorm;
use crate::layers::conv2d::{Conv2d, Conv2dShape};
use crate::layers::dense::{Dense, DenseShape};
use crate::layers::dropout::Dropout;

/// How a forward pass of the trunk runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrunkMode {
    /// Batch statistics and dropout on; with `update_running` the batch norms also blend
    /// their running statistics towards the batch's (off in the generator step, where the
    /// trunk is frozen).
    Train { update_running: bool },
    /// Running statistics, no dropout: evaluation.
    Inference,
}

/// A recorded trunk forward pass, with a handle on its dropout draw.
pub struct TrunkForward {
    pub dispatches: Vec<Dispatch>,
    /// Index of the dropout dispatch in `dispatches` (training mode only).
    dropout: Option<usize>,
}

impl TrunkForward {
    /// Position of the dropout dispatch in `dispatches`, for a training-mode pass.
    pub fn dropout_index(&self) -> Option<usize> {
        self.dropout
    }

    /// Makes the dropout of this pass draw mask number `counter` from the next submission on.
    /// Each pass of an iteration gets its own counter, so no two draws share a mask.
    pub fn set_dropout_counter(&self, gpu: &Gpu, trunk: &Discriminator, counter: u32) {
        if let Some(index) = self.dropout {
            trunk
                .dropout
                .set_counter(gpu, &self.dispatches[index], counter);
        }
    }
}

/// Activations of one batch, named after the layer that writes them: `c*` the convolutions,
/// `a*` their activations (for layers 2 and 3 written by the batch norm, which applies the
/// LeakyReLU itself; for layer 1 by the convolution, which does too, so the forward `c1` is
/// never written: only its gradient is).
struct Activations {
    c1: Tensor,
    a1: Tensor,
    c2: Tensor,
    a2: Tensor,
    c3: Tensor,
    a3: Tensor,
    dropped: Tensor,
}

impl Activations {
    fn new(gpu: &Gpu, prefix: &str, batch: usize) -> Self {
        let t =
            |name: &str, shape: &[usize]| Tensor::zeros(gpu, &format!("{prefix}.{name}"), shape);
        Self {
            c1: t("c1", &[batch, 14, 14, 32]),
            a1: t("a1", &[batch, 14, 14, 32]),
            c2: t("c2", &[batch, 7, 7, 64]),
            a2: t("a2", &[batch, 7, 7, 64]),
            c3: t("c3", &[batch, 4, 4, 128]),
            a3: t("a3", &[batch, 4, 4, 128]),
            dropped: t("dropped", &[batch, 4, 4, 128]),
        }
    }
}

/// The trunk for batches of B images [B, 28, 28, 1], with its logits [B, 10].
pub struct Discriminator {
    pub batch: usize,
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub norm2: BatchNorm,
    pub conv3: Conv2d,
    pub norm3: BatchNorm,
    pub dropout: Dropout,
    pub dense: Dense,
    /// [B, 10], written by every forward pass.
    pub logits: Tensor,
    /// [B, 10], written by a head's backward pass and read by [`Discriminator::backward`].
    pub d_logits: Tensor,
    act: Activations,
    grad: Activations,
}

impl Discriminator {
    /// Allocates every layer and activation for batches of `batch`; dropout masks are drawn
    /// from `seed`. Weights start at zero until [`Discriminator::initialize`] runs.
    pub fn new(gpu: &Gpu, batch: usize, seed: u32) -> Result<Self> {
        let [conv1, conv2, conv3] = Self::layer_shapes(batch);
        let conv = |label: &str, shape| Conv2d::new(gpu, label, shape);
        let dense_shape = DenseShape {
            batch,
            inputs: 4 * 4 * 128,
            outputs: CLASSES,
        };
        let shape3 = [batch, 4, 4, 128];
        Ok(Self {
            batch,
            conv1: conv("discriminator.conv_1", conv1)?.with_leaky_relu(LEAKY_SLOPE)?,
            conv2: conv("discriminator.conv_2", conv2)?,
            norm2: BatchNorm::new(gpu, "discriminator.batch_norm_2", &[batch, 7, 7, 64])?
                .with_leaky_relu(LEAKY_SLOPE)?,
            conv3: conv("discriminator.conv_3", conv3)?,
            norm3: BatchNorm::new(gpu, "discriminator.batch_norm_3", &shape3)?
                .with_leaky_relu(LEAKY_SLOPE)?,
            dropout: Dropout::new(gpu, "discriminator.dropout", &shape3, DROPOUT_RATE, seed, 1)?,
            dense: Dense::new(gpu, "discriminator.dense", dense_shape)?,
            logits: Tensor::zeros(gpu, "discriminator.logits", &[batch, CLASSES]),
            d_logits: Tensor::zeros(gpu, "discriminator.d_logits", &[batch, CLASSES]),
            act: Activations::new(gpu, "discriminator", batch),
            grad: Activations::new(gpu, "discriminator.d", batch),
        })
    }

    /// The three convolutions for batches of `batch`, each 3x3 with stride 2: 28x28x1 ->
    /// 14x14x32 -> 7x7x64 -> 4x4x128.
    pub fn layer_shapes(batch: usize) -> [Conv2dShape; 3] {
        let conv = |side, in_channels, out_channels| Conv2dShape {
            batch,
            height: side,
            width: side,
            in_channels,
            out_channels,
            kernel: 3,
            stride: 2,
        };
        [conv(IMAGE_SIDE, 1, 32), conv(14, 32, 64), conv(7, 64, 128)]
    }

    /// Glorot-uniform kernels from `seed` (streams 200 and up); biases stay 0.
    pub fn initialize(&self, gpu: &Gpu, seed: u32) -> Result<Vec<Dispatch>> {
        let kernels = [
            (
                &self.conv1.weight,
                self.conv1.fan_in(),
                self.conv1.fan_out(),
            ),
            (
                &self.conv2.weight,
                self.conv2.fan_in(),
                self.conv2.fan_out(),
            ),
            (
                &self.conv3.weight,
                self.conv3.fan_in(),
                self.conv3.fan_out(),
            ),
            (
                &self.dense.weight,
                self.dense.fan_in(),
                self.dense.fan_out(),
            ),
        ];
        glorot_dispatches(gpu, &kernels, seed, 200)
    }

    /// `logits = trunk(input)` for an image batch [B, 28, 28, 1].
    pub fn forward(&self, gpu: &Gpu, input: &Tensor, mode: TrunkMode) -> Result<TrunkForward> {
        let a = &self.act;
        let norm = |layer: &BatchNorm, input: &Tensor, output: &Tensor| match mode {
            TrunkMode::Train { update_running } => {
                layer.forward_train(gpu, input, output, update_running)
            }
            TrunkMode::Inference => layer.forward_inference(gpu, input, output),
        };
        let mut d = self.conv1.forward(gpu, input, &a.a1)?;
        d.extend(self.conv2.forward(gpu, &a.a1, &a.c2)?);
        d.extend(norm(&self.norm2, &a.c2, &a.a2)?);
        d.extend(self.conv3.forward(gpu, &a.a2, &a.c3)?);
        d.extend(norm(&self.norm3, &a.c3, &a.a3)?);
        let dropout = match mode {
            TrunkMode::Train { .. } => {
                let index = d.len();
                d.push(self.dropout.forward(gpu, &a.a3, &a.dropped)?);
                d.extend(self.dense.forward(gpu, &a.dropped, &self.logits)?);
                Some(index)
            }
            // Inverted dropout is the identity at inference, so the dense layer reads a3.
            TrunkMode::Inference => {
                d.extend(self.dense.forward(gpu, &a.a3, &self.logits)?);
                None
            }
        };
        Ok(TrunkForward {
            dispatches: d,
            dropout,
        })
    }

    /// Gradients of every trunk parameter from `d_logits`, through the activations of the
    /// latest training forward pass on `input` (which must still hold those images); with
    /// `d_input`, also the gradient of the input images.
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &Tensor,
        d_input: Option<&Tensor>,
    ) -> Result<Vec<Dispatch>> {
        self.record_backward(gpu, d_input, Some(input))
    }

    /// Only the gradient of the input images from `d_logits`: the generator step's path into
    /// G, which leaves the trunk's parameter gradients as they were. Batch norm still sums
    /// its parameter gradients, since its input gradient is built from them.
    pub fn backward_input_only(&self, gpu: &Gpu, d_input: &Tensor) -> Result<Vec<Dispatch>> {
        self.record_backward(gpu, Some(d_input), None)
    }

    /// The backward pass; with `parameters = Some(input)` (the forward input) it also
    /// computes the parameter gradients.
    fn record_backward(
        &self,
        gpu: &Gpu,
        d_input: Option<&Tensor>,
        parameters: Option<&Tensor>,
    ) -> Result<Vec<Dispatch>> {
        let (a, g) = (&self.act, &self.grad);
        let mut d = match parameters {
            Some(_) => self
                .dense
                .backward(gpu, &a.dropped, &self.d_logits, Some(&g.dropped))?,
            None => vec![self.dense.backward_input(gpu, &self.d_logits, &g.dropped)?],
        };
        d.push(self.dropout.backward(gpu, &g.dropped, &g.a3)?);
        d.extend(self.norm3.backward(gpu, &a.c3, &g.a3, &g.c3)?);
        // `layer_input` is what `layer` read in the forward pass.
        let conv = |layer: &Conv2d,
                    layer_input: Option<&Tensor>,
                    d_output: &Tensor,
                    d_input: Option<&Tensor>| match (layer_input, d_input) {
            (Some(layer_input), d_input) => layer.backward(gpu, layer_input, d_output, d_input),
            (None, Some(d_input)) => layer.backward_input(gpu, d_output, d_input),
            (None, None) => Ok(Vec::new()),
        };
        let (a1, a2) = (parameters.map(|_| &a.a1), parameters.map(|_| &a.a2));
        d.extend(conv(&self.conv3, a2, &g.c3, Some(&g.a2))?);
        d.extend(self.norm2.backward(gpu, &a.c2, &g.a2, &g.c2)?);
        d.extend(conv(&self.conv2, a1, &g.c2, Some(&g.a1))?);
        // Conv 1's fused LeakyReLU: its output a1 has the sign of the sum it was applied to.
        d.push(leaky_relu_backward(gpu, &a.a1, &g.a1, &g.c1, LEAKY_SLOPE)?);
        d.extend(conv(&self.conv1, parameters, &g.c1, d_input)?);
        Ok(d)
    }

    /// Packs the parameters into one buffer and the gradients into another, in the order of
    /// [`Discriminator::parameters`], so that each Adam step over them is one dispatch. Call
    /// it before recording any dispatch: those recorded earlier bind the old buffers.
    pub fn pack_parameters(&mut self, gpu: &Gpu) -> Result<()> {
        let Self {
            conv1,
            conv2,
            norm2,
            conv3,
            norm3,
            dense,
            ..
        } = self;
        let params = vec![
            &mut conv1.weight,
            &mut conv1.bias,
            &mut conv2.weight,
            &mut conv2.bias,
            &mut norm2.gamma,
            &mut norm2.beta,
            &mut conv3.weight,
            &mut conv3.bias,
            &mut norm3.gamma,
            &mut norm3.beta,
            &mut dense.weight,
            &mut dense.bias,
        ];
        let grads = vec![
            &mut conv1.d_weight,
            &mut conv1.d_bias,
            &mut conv2.d_weight,
            &mut conv2.d_bias,
            &mut norm2.d_gamma,
            &mut norm2.d_beta,
            &mut conv3.d_weight,
            &mut conv3.d_bias,
            &mut norm3.d_gamma,
            &mut norm3.d_beta,
            &mut dense.d_weight,
            &mut dense.d_bias,
        ];
        super::pack_parameters(gpu, "discriminator", params, grads)
    }

    /// Trainable parameters, in the order of [`Discriminator::gradients`].
    pub fn parameters(&self) -> Vec<&Tensor> {
        vec![
            &self.conv1.weight,
            &self.conv1.bias,
            &self.conv2.weight,
            &self.conv2.bias,
            &self.norm2.gamma,
            &self.norm2.beta,
            &self.conv3.weight,
            &self.conv3.bias,
            &self.norm3.gamma,
            &self.norm3.beta,
            &self.dense.weight,
            &self.dense.bias,
        ]
    }

    /// Gradients of [`Discriminator::parameters`], in the same order.
    pub fn gradients(&self) -> Vec<&Tensor> {
        vec![
            &self.conv1.d_weight,
            &self.conv1.d_bias,
            &self.conv2.d_weight,
            &self.conv2.d_bias,
            &self.norm2.d_gamma,
            &self.norm2.d_beta,
            &self.conv3.d_weight,
            &self.conv3.d_bias,
            &self.norm3.d_gamma,
            &self.norm3.d_beta,
            &self.dense.d_weight,
            &self.dense.d_bias,
        ]
    }

    /// Running statistics, which change in training but are not parameters.
    pub fn running_statistics(&self) -> Vec<&Tensor> {
        let norms = [&self.norm2, &self.norm3];
        norms
            .iter()
            .flat_map(|n| [&n.running_mean, &n.running_var])
            .collect()
    }

    /// Everything a checkpoint holds, under Keras-style names.
    pub fn named_tensors(&self) -> Vec<NamedTensor<'_>> {
        let mut named = Vec::new();
        let mut add = |name: String, tensor| named.push(NamedTensor { name, tensor });
        for (index, conv) in [&self.conv1, &self.conv2, &self.conv3].iter().enumerate() {
            add(
                format!("discriminator.conv_{}.kernel", index + 1),
                &conv.weight,
            );
            add(format!("discriminator.conv_{}.bias", index + 1), &conv.bias);
        }
        for (index, norm) in [(2, &self.norm2), (3, &self.norm3)] {
            let prefix = format!("discriminator.batch_norm_{index}");
            add(format!("{prefix}.gamma"), &norm.gamma);
            add(format!("{prefix}.beta"), &norm.beta);
            add(format!("{prefix}.moving_mean"), &norm.running_mean);
            add(format!("{prefix}.moving_variance"), &norm.running_var);
        }
        add("discriminator.dense.kernel".into(), &self.dense.weight);
        add("discriminator.dense.bias".into(), &self.dense.bias);
        named
    }
}
