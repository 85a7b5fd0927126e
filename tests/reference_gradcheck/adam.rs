// Adam has no backward pass, so there is nothing to check against finite differences here;
// tests/gpu_vs_reference/adam.rs checks the GPU update against reference::adam_step.
