//! The training iteration on the GPU: the spec's three phases recorded into one compute pass
//! and one submission, with no CPU round trip inside. Minibatch indices, noise and dropout
//! masks come from the seeded GPU generator; before each submission only their draw counters
//! are written (a few bytes each), and losses are read back only when reported.

use super::config::{Config, Mode, Schedule};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Profiler, Tensor};
use crate::layers::adam::{Adam, AdamHyper};
use crate::layers::dropout::DropoutParams;
use crate::layers::gan_head::GanHead;
use crate::layers::gather::GpuDataset;
use crate::layers::random::{normal_noise, random_indices, IndexParams, NoiseParams};
use crate::layers::softmax_xent::SoftmaxXent;
use crate::model::{
    Discriminator, Generator, NamedTensor, TrunkForward, TrunkMode, CLASSES, Z_DIM,
};
use crate::report::DispatchTiming;

/// Streams of the GPU generator, one per kind of draw, so no two draws share numbers.
mod stream {
    pub const LABELED_INDICES: u32 = 10;
    pub const UNLABELED_INDICES: u32 = 11;
    pub const FAKE_NOISE: u32 = 12;
    pub const GENERATOR_NOISE: u32 = 13;
    pub const SAMPLE_NOISE: u32 = 14;
}

/// The phases of one iteration, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// 1: the supervised discriminator step.
    Supervised,
    /// 2a: the unsupervised step on real unlabelled images.
    UnsupervisedReal,
    /// 2b: the unsupervised step on generated images.
    UnsupervisedFake,
    /// 3: the generator step through the frozen trunk.
    Generator,
}

impl Phase {
    /// The name profiles and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Supervised => "1 supervised",
            Phase::UnsupervisedReal => "2a unsup. real",
            Phase::UnsupervisedFake => "2b unsup. fake",
            Phase::Generator => "3 generator",
        }
    }
}

/// Trunk forward passes per iteration, each with its own dropout mask.
const TRUNK_PASSES: u32 = 4;

/// A dispatch whose random draw changes every iteration.
enum Redraw {
    Indices(IndexParams),
    Noise(NoiseParams),
    /// The dropout of trunk pass `pass` (0..TRUNK_PASSES) of the iteration.
    Dropout(DropoutParams, u32),
}

impl Redraw {
    fn apply(&self, gpu: &Gpu, dispatch: &Dispatch, iteration: u32) {
        match self {
            Redraw::Indices(p) => dispatch.set_params(gpu, &p.with_counter(iteration)),
            Redraw::Noise(p) => dispatch.set_params(gpu, &p.with_counter(iteration)),
            Redraw::Dropout(p, pass) => {
                let counter = iteration.wrapping_mul(TRUNK_PASSES).wrapping_add(*pass);
                dispatch.set_params(gpu, &p.with_counter(counter))
            }
        }
    }
}

/// One iteration as a flat list of dispatches, with the ones to redraw before each submission.
#[derive(Default)]
struct Recording {
    dispatches: Vec<Dispatch>,
    redraws: Vec<(usize, Redraw)>,
}

impl Recording {
    fn extend(&mut self, dispatches: Vec<Dispatch>) {
        self.dispatches.extend(dispatches);
    }

    fn push_redrawn(&mut self, dispatch: Dispatch, redraw: Redraw) {
        self.redraws.push((self.dispatches.len(), redraw));
        self.dispatches.push(dispatch);
    }

    /// Appends a trunk forward pass whose dropout draws the mask of pass `pass`.
    fn push_trunk(&mut self, forward: TrunkForward, trunk: &Discriminator, pass: u32) {
        if let Some(index) = forward.dropout_index() {
            let redraw = Redraw::Dropout(trunk.dropout.params, pass);
            self.redraws.push((self.dispatches.len() + index, redraw));
        }
        self.dispatches.extend(forward.dispatches);
    }
}

/// One tensor of a [`TrainingState`], in row-major order.
pub type StateTensor = crate::report::NamedTensor;

/// Everything a run needs to continue as if it had never stopped, as plain CPU data.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Every tensor of [`Trainer::state_tensors`], under its name.
    pub tensors: Vec<StateTensor>,
    /// Steps taken by the supervised, unsupervised and generator Adam states.
    pub adam_steps: [u32; 3],
    /// Iterations done; every random draw is a function of the seed and this count.
    pub steps_done: usize,
}

/// Losses and accuracy of the latest iteration, as read back at a report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepMetrics {
    pub supervised_loss: f32,
    pub supervised_accuracy: f32,
    /// Mean of the real and the fake unsupervised losses (SGAN only).
    pub unsupervised_loss: Option<f32>,
    pub generator_loss: Option<f32>,
}

/// The two networks, their heads and optimizers, the data on the GPU, and the recorded
/// iteration.
pub struct Trainer<'g> {
    gpu: &'g Gpu,
    config: Config,
    pub generator: Generator,
    pub discriminator: Discriminator,
    supervised_head: SoftmaxXent,
    real_head: GanHead,
    fake_head: GanHead,
    generator_head: GanHead,
    /// The three independent Adam states of the spec.
    pub adam_supervised: Adam,
    pub adam_unsupervised: Adam,
    pub adam_generator: Adam,
    /// The batch every phase works on in turn: [B, 28, 28, 1].
    images: Tensor,
    labels: Tensor<u32>,
    indices: Tensor<u32>,
    z: Tensor,
    sample_z: Tensor,
    train_set: GpuDataset,
    /// The recorded phases of one iteration, in order (the baseline has only the first).
    phases: Vec<(Phase, Recording)>,
    sample: Vec<Dispatch>,
    /// Labelled-set order for the epoch schedule, written to `indices` from the CPU.
    epoch_order: Vec<u32>,
    steps_done: usize,
}

impl<'g> Trainer<'g> {
    /// Builds everything for `config` on `gpu`, with the training set already ordered so that
    /// the labelled images come first (see [`super::labeled_first`]).
    pub fn new(gpu: &'g Gpu, config: &Config, train_set: GpuDataset) -> Result<Self> {
        let batch = config.batch;
        let seed = config.seed as u32;
        let mut generator = Generator::new(gpu, batch)?;
        let mut discriminator = Discriminator::new(gpu, batch, seed)?;
        // Before anything binds them: each Adam step is then one dispatch for all tensors.
        generator.pack_parameters(gpu)?;
        discriminator.pack_parameters(gpu)?;
        let hyper = AdamHyper::default();
        let trunk_params = discriminator.parameters();
        let adam_supervised = Adam::new(gpu, "adam.supervised", &trunk_params, hyper)?;
        let adam_unsupervised = Adam::new(gpu, "adam.unsupervised", &trunk_params, hyper)?;
        let adam_generator = Adam::new(gpu, "adam.generator", &generator.parameters(), hyper)?;
        let tensor = |label: &str, shape: &[usize]| Tensor::zeros(gpu, label, shape);
        let mut trainer = Self {
            gpu,
            config: config.clone(),
            supervised_head: SoftmaxXent::new(gpu, "head.supervised", batch, CLASSES)?,
            real_head: GanHead::new(gpu, "head.real", batch, CLASSES)?,
            fake_head: GanHead::new(gpu, "head.fake", batch, CLASSES)?,
            generator_head: GanHead::new(gpu, "head.generator", batch, CLASSES)?,
            generator,
            discriminator,
            adam_supervised,
            adam_unsupervised,
            adam_generator,
            images: tensor("batch.images", &[batch, 28, 28, 1]),
            labels: Tensor::zeros(gpu, "batch.labels", &[batch]),
            indices: Tensor::zeros(gpu, "batch.indices", &[batch]),
            z: tensor("batch.z", &[batch, Z_DIM]),
            sample_z: tensor("sample.z", &[batch, Z_DIM]),
            train_set,
            phases: Vec::new(),
            sample: Vec::new(),
            epoch_order: Vec::new(),
            steps_done: 0,
        };
        trainer.phases = trainer.record_phases()?;
        trainer.sample =
            trainer
                .generator
                .forward(gpu, &trainer.sample_z, &trainer.images, false)?;

        // Initialise the weights and the fixed noise of the sample grids, once.
        let mut init = trainer.generator.initialize(gpu, seed)?;
        init.extend(trainer.discriminator.initialize(gpu, seed)?);
        let sample_noise = NoiseParams::new(&trainer.sample_z, seed, stream::SAMPLE_NOISE);
        init.push(normal_noise(gpu, &trainer.sample_z, sample_noise)?);
        gpu.run(&init.iter().collect::<Vec<_>>())?;
        Ok(trainer)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The batch buffer every phase works on, [B, 28, 28, 1]; also the evaluator's input.
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// The device the trainer runs on.
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    /// Every tensor a resumed run needs, by name: both models' parameters and running
    /// statistics (their checkpoint names) and every Adam moment, named after its optimizer,
    /// the moment and the parameter it belongs to, e.g.
    /// `adam.supervised.m.discriminator.conv_1.kernel`.
    pub fn state_tensors(&self) -> Result<Vec<NamedTensor<'_>>> {
        let mut named = self.generator.named_tensors();
        named.extend(self.discriminator.named_tensors());
        let name_of = |param: &Tensor| {
            named
                .iter()
                .find(|entry| std::ptr::eq(entry.tensor, param))
                .map(|entry| entry.name.clone())
                .ok_or_else(|| Error::InvalidArgument {
                    op: "Trainer::state_tensors".to_string(),
                    message: format!("parameter `{}` has no checkpoint name", param.label()),
                })
        };
        let trunk_params = self.discriminator.parameters();
        let optimizers = [
            ("supervised", &self.adam_supervised, &trunk_params),
            ("unsupervised", &self.adam_unsupervised, &trunk_params),
            (
                "generator",
                &self.adam_generator,
                &self.generator.parameters(),
            ),
        ];
        let mut moments = Vec::new();
        for (label, adam, params) in optimizers {
            for (kind, tensors) in [("m", &adam.m), ("v", &adam.v)] {
                for (param, tensor) in params.iter().zip(tensors) {
                    let name = format!("adam.{label}.{kind}.{}", name_of(param)?);
                    moments.push(NamedTensor { name, tensor });
                }
            }
        }
        named.extend(moments);
        Ok(named)
    }

    /// Reads the whole training state back from the GPU (waits for it).
    pub fn save_state(&self) -> Result<TrainingState> {
        let tensors = self
            .state_tensors()?
            .iter()
            .map(|entry| {
                Ok(StateTensor {
                    name: entry.name.clone(),
                    shape: entry.tensor.shape().to_vec(),
                    data: entry.tensor.read(self.gpu)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TrainingState {
            tensors,
            adam_steps: [
                self.adam_supervised.steps_taken(self.gpu)?,
                self.adam_unsupervised.steps_taken(self.gpu)?,
                self.adam_generator.steps_taken(self.gpu)?,
            ],
            steps_done: self.steps_done,
        })
    }

    /// Puts a state from [`Trainer::save_state`] back, so that the next [`Trainer::step`]
    /// continues the saved run exactly: every tensor, the Adam step counts, the iteration
    /// count (which is also the random generators' state), and the epoch schedule's shuffle.
    /// A tensor the state lacks or shapes differently is an error naming it; nothing is
    /// written to the GPU then.
    pub fn restore_state(&mut self, state: &TrainingState) -> Result<()> {
        let op = || "Trainer::restore_state".to_string();
        let named = self.state_tensors()?;
        let mut sources = Vec::with_capacity(named.len());
        for entry in &named {
            let Some(saved) = state.tensors.iter().find(|t| t.name == entry.name) else {
                return Err(Error::InvalidArgument {
                    op: op(),
                    message: format!(
                        "the state has no tensor `{}`: it was written by another model",
                        entry.name
                    ),
                });
            };
            if saved.shape != entry.tensor.shape() || saved.data.len() != entry.tensor.len() {
                return Err(Error::ShapeMismatch {
                    op: op(),
                    expected: format!("`{}` of shape {:?}", entry.name, entry.tensor.shape()),
                    got: format!("{:?} (a differently configured model)", saved.shape),
                });
            }
            sources.push(&saved.data);
        }
        for (entry, data) in named.iter().zip(sources) {
            entry.tensor.write(self.gpu, data)?;
        }
        let [supervised, unsupervised, generator] = state.adam_steps;
        self.adam_supervised.set_steps_taken(self.gpu, supervised)?;
        self.adam_unsupervised
            .set_steps_taken(self.gpu, unsupervised)?;
        self.adam_generator.set_steps_taken(self.gpu, generator)?;
        self.steps_done = state.steps_done;
        // `next_epoch_batch` shuffles only at an epoch's first step; mid-epoch, rebuild the
        // order the interrupted run was using.
        let per_epoch = self.config.num_labeled.div_ceil(self.config.batch);
        self.epoch_order = epoch_shuffle(&self.config, self.steps_done / per_epoch);
        Ok(())
    }

    /// Records the phases of one iteration (or, for the baseline, one supervised step).
    fn record_phases(&self) -> Result<Vec<(Phase, Recording)>> {
        let (gpu, config) = (self.gpu, &self.config);
        let (trunk, generator) = (&self.discriminator, &self.generator);
        let seed = config.seed as u32;
        let labeled = config.num_labeled as u32;
        let train = TrunkMode::Train {
            update_running: true,
        };
        let mut phases = Vec::new();
        let mut r = Recording::default();

        // Phase 1, supervised: B labelled images, trunk in training mode, softmax
        // cross-entropy, backward, the supervised Adam step.
        if config.schedule == Schedule::Iterations || config.mode == Mode::Sgan {
            let p = IndexParams::new(&self.indices, 0, labeled, seed, stream::LABELED_INDICES)?;
            r.push_redrawn(random_indices(gpu, &self.indices, p)?, Redraw::Indices(p));
        }
        r.dispatches.push(
            self.train_set
                .gather_images(gpu, &self.indices, &self.images)?,
        );
        r.dispatches.push(
            self.train_set
                .gather_labels(gpu, &self.indices, &self.labels)?,
        );
        r.push_trunk(trunk.forward(gpu, &self.images, train)?, trunk, 0);
        r.extend(
            self.supervised_head
                .forward(gpu, &trunk.logits, &self.labels)?,
        );
        r.dispatches.push(
            self.supervised_head
                .backward(gpu, &self.labels, &trunk.d_logits)?,
        );
        r.extend(trunk.backward(gpu, &self.images, None)?);
        let (trunk_params, trunk_grads) = (trunk.parameters(), trunk.gradients());
        r.extend(
            self.adam_supervised
                .step(gpu, &trunk_params, &trunk_grads)?,
        );
        phases.push((Phase::Supervised, std::mem::take(&mut r)));
        if config.mode == Mode::Supervised {
            return Ok(phases);
        }

        // Phase 2a, unsupervised on real images: B unlabelled images, BCE against 1.
        let total = self.train_set.len() as u32;
        let p = IndexParams::new(
            &self.indices,
            labeled,
            total,
            seed,
            stream::UNLABELED_INDICES,
        )?;
        r.push_redrawn(random_indices(gpu, &self.indices, p)?, Redraw::Indices(p));
        r.dispatches.push(
            self.train_set
                .gather_images(gpu, &self.indices, &self.images)?,
        );
        r.push_trunk(trunk.forward(gpu, &self.images, train)?, trunk, 1);
        r.extend(self.real_head.forward(gpu, &trunk.logits, 1.0)?);
        r.dispatches
            .push(self.real_head.backward(gpu, &trunk.d_logits)?);
        r.extend(trunk.backward(gpu, &self.images, None)?);
        r.extend(
            self.adam_unsupervised
                .step(gpu, &trunk_params, &trunk_grads)?,
        );
        phases.push((Phase::UnsupervisedReal, std::mem::take(&mut r)));

        // Phase 2b, unsupervised on fakes: G in inference mode (its running statistics, as
        // Keras `predict` does), trunk in training mode, BCE against 0.
        let p = NoiseParams::new(&self.z, seed, stream::FAKE_NOISE);
        r.push_redrawn(normal_noise(gpu, &self.z, p)?, Redraw::Noise(p));
        r.extend(generator.forward(gpu, &self.z, &self.images, false)?);
        r.push_trunk(trunk.forward(gpu, &self.images, train)?, trunk, 2);
        r.extend(self.fake_head.forward(gpu, &trunk.logits, 0.0)?);
        r.dispatches
            .push(self.fake_head.backward(gpu, &trunk.d_logits)?);
        r.extend(trunk.backward(gpu, &self.images, None)?);
        r.extend(
            self.adam_unsupervised
                .step(gpu, &trunk_params, &trunk_grads)?,
        );
        phases.push((Phase::UnsupervisedFake, std::mem::take(&mut r)));

        // Phase 3, generator: fresh z, G in training mode, the trunk frozen (batch statistics
        // and dropout on, running statistics untouched, no trunk optimizer step), BCE against
        // 1, backward through the trunk into G, G's Adam step.
        let p = NoiseParams::new(&self.z, seed, stream::GENERATOR_NOISE);
        r.push_redrawn(normal_noise(gpu, &self.z, p)?, Redraw::Noise(p));
        r.extend(generator.forward(gpu, &self.z, &self.images, true)?);
        let frozen = TrunkMode::Train {
            update_running: false,
        };
        r.push_trunk(trunk.forward(gpu, &self.images, frozen)?, trunk, 3);
        r.extend(self.generator_head.forward(gpu, &trunk.logits, 1.0)?);
        r.dispatches
            .push(self.generator_head.backward(gpu, &trunk.d_logits)?);
        // Only the path into G: the trunk is frozen here, so its parameter gradients would
        // never be applied.
        r.extend(trunk.backward_input_only(gpu, generator.d_image())?);
        r.extend(generator.backward(gpu, &self.z, &self.images, generator.d_image())?);
        let (g_params, g_grads) = (generator.parameters(), generator.gradients());
        r.extend(self.adam_generator.step(gpu, &g_params, &g_grads)?);
        phases.push((Phase::Generator, r));
        Ok(phases)
    }

    /// Runs one iteration: writes this iteration's draw counters, records every phase into
    /// one compute pass and submits it. Nothing is read back.
    pub fn step(&mut self) -> Result<()> {
        self.step_phases(&self.all_phases())
    }

    /// Runs only `wanted` of this iteration's phases (in iteration order), as one submission,
    /// and counts the iteration as done. [`Trainer::step`] runs them all; running a subset is
    /// for inspecting what each phase changes.
    pub fn step_phases(&mut self, wanted: &[Phase]) -> Result<()> {
        let commands = self.encode_phases(wanted)?;
        self.gpu.submit(commands)?;
        self.steps_done += 1;
        Ok(())
    }

    /// Does the host's part of the next iteration, as [`Trainer::step`] would, and returns
    /// the recorded commands instead of submitting them; the iteration is not counted. For
    /// measuring what recording costs the CPU: dropping the result runs nothing, and the draw
    /// counters it writes are the ones the next `step` writes again.
    pub fn encode_step(&mut self) -> Result<wgpu::CommandBuffer> {
        self.encode_phases(&self.all_phases())
    }

    /// Writes the draw counters of the `wanted` phases and records their dispatches.
    fn encode_phases(&mut self, wanted: &[Phase]) -> Result<wgpu::CommandBuffer> {
        let gpu = self.gpu;
        let dispatches: Vec<&Dispatch> = self
            .prepare_step(wanted)?
            .into_iter()
            .map(|(_, dispatch)| dispatch)
            .collect();
        Ok(gpu.encode(&dispatches))
    }

    /// Runs one whole iteration like [`Trainer::step`], but times every dispatch with
    /// `profiler` and waits for the iteration to finish.
    pub fn step_profiled(&mut self, profiler: &mut Profiler) -> Result<Vec<DispatchTiming>> {
        let gpu = self.gpu;
        let tagged = self.prepare_step(&self.all_phases())?;
        let dispatches: Vec<&Dispatch> = tagged.iter().map(|(_, dispatch)| *dispatch).collect();
        let seconds = profiler.run(gpu, &dispatches)?;
        let timings = tagged
            .iter()
            .zip(seconds)
            .map(|((phase, dispatch), seconds)| DispatchTiming {
                phase: phase.name().to_string(),
                label: dispatch.label.clone(),
                kernel: dispatch.kernel.clone(),
                flops: dispatch.cost.flops,
                bytes: dispatch.cost.bytes,
                seconds,
            })
            .collect();
        self.steps_done += 1;
        Ok(timings)
    }

    /// Every phase of this trainer's iteration, in running order.
    fn all_phases(&self) -> Vec<Phase> {
        self.phases.iter().map(|(phase, _)| *phase).collect()
    }

    /// Dispatches per iteration, the most a profiler must time in one submission.
    pub fn dispatches_per_step(&self) -> usize {
        self.phases.iter().map(|(_, r)| r.dispatches.len()).sum()
    }

    /// Writes this iteration's draw counters (and, for the epoch schedule, its batch) and
    /// returns the dispatches of the `wanted` phases in order, each with its phase.
    fn prepare_step(&mut self, wanted: &[Phase]) -> Result<Vec<(Phase, &Dispatch)>> {
        let counter = self.steps_done as u32;
        if let Schedule::Epochs(_) = self.config.schedule {
            if self.config.mode == Mode::Supervised {
                let batch = self.next_epoch_batch();
                self.indices.write(self.gpu, &batch)?;
            }
        }
        let mut dispatches = Vec::new();
        for (phase, recording) in self.phases.iter().filter(|(p, _)| wanted.contains(p)) {
            for (index, redraw) in &recording.redraws {
                redraw.apply(self.gpu, &recording.dispatches[*index], counter);
            }
            log::debug!("{phase:?}: {} dispatches", recording.dispatches.len());
            dispatches.extend(recording.dispatches.iter().map(|d| (*phase, d)));
        }
        Ok(dispatches)
    }

    /// The next batch of the epoch schedule: consecutive slices of a fresh shuffle of the
    /// labelled set per epoch. The last batch of an epoch is filled up from the start of the
    /// same shuffle, since every step runs at the fixed batch size (Keras would run a smaller
    /// last batch: 4 images for 100 labels at batch 32).
    fn next_epoch_batch(&mut self) -> Vec<u32> {
        let (labeled, batch) = (self.config.num_labeled, self.config.batch);
        let per_epoch = labeled.div_ceil(batch);
        let (epoch, within) = (self.steps_done / per_epoch, self.steps_done % per_epoch);
        if within == 0 {
            self.epoch_order = epoch_shuffle(&self.config, epoch);
        }
        (0..batch)
            .map(|i| self.epoch_order[(within * batch + i) % labeled])
            .collect()
    }

    /// Reads back the losses and accuracy of the latest iteration (waits for the GPU).
    pub fn metrics(&self) -> Result<StepMetrics> {
        let (supervised_loss, supervised_accuracy) = self.supervised_head.read_stats(self.gpu)?;
        let (real, fake, generated) = match self.config.mode {
            Mode::Supervised => (None, None, None),
            Mode::Sgan => (
                Some(self.real_head.stats.read(self.gpu)?[0]),
                Some(self.fake_head.stats.read(self.gpu)?[0]),
                Some(self.generator_head.stats.read(self.gpu)?[0]),
            ),
        };
        let unsupervised_loss = real.zip(fake).map(|(real, fake)| 0.5 * (real + fake));
        let generator_loss = generated;
        let metrics = StepMetrics {
            supervised_loss,
            supervised_accuracy,
            unsupervised_loss,
            generator_loss,
        };
        // The first phase whose loss is not finite is the one the message names.
        let losses = [
            ("supervised", Some(supervised_loss)),
            ("unsupervised real", real),
            ("unsupervised fake", fake),
            ("generator", generated),
        ];
        if let Some((phase, loss)) = losses
            .iter()
            .find_map(|(phase, loss)| loss.filter(|v| !v.is_finite()).map(|v| (phase, v)))
        {
            return Err(Error::Diverged {
                iteration: self.steps_done,
                what: format!("the {phase} phase's loss is {loss} ({metrics:?})"),
            });
        }
        Ok(metrics)
    }

    /// B generated digits [B, 28, 28, 1] from the run's fixed sample noise, G in inference
    /// mode. Overwrites the batch buffer, which the next iteration refills anyway.
    pub fn sample_images(&self) -> Result<Vec<f32>> {
        self.gpu.run(&self.sample.iter().collect::<Vec<_>>())?;
        self.images.read(self.gpu)
    }
}

/// The labelled set's order in `epoch` of the epoch schedule: a fresh shuffle per epoch, a
/// function of the seed and the epoch alone, so a resumed run can rebuild it mid-epoch.
fn epoch_shuffle(config: &Config, epoch: usize) -> Vec<u32> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed ^ epoch as u64);
    let mut order: Vec<u32> = (0..config.num_labeled as u32).collect();
    order.shuffle(&mut rng);
    order
}
