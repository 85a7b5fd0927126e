//! The GPU runtime on its own: adapter selection errors, tensor round trips, the kernel cache.

mod common;

use sgan_gpu::gpu::{
    list_adapters, shader_source, BlockLayout, Dispatch, Gpu, GpuOptions, Profiler, Tensor,
    TimingMethod,
};
use sgan_gpu::layers::activation::leaky_relu_forward;
use sgan_gpu::Error;

#[test]
fn unknown_backend_is_a_clear_error() {
    let options = GpuOptions {
        backend: Some("vulcan".into()),
        adapter: None,
    };
    let error = Gpu::new(&options)
        .err()
        .expect("a misspelt backend must fail");
    assert!(matches!(error, Error::UnknownBackend { .. }), "got {error}");
    assert!(
        error.to_string().contains("vulkan, metal, dx12, gl"),
        "message: {error}"
    );
}

#[test]
fn unknown_adapter_lists_the_available_ones() {
    let options = GpuOptions {
        backend: None,
        adapter: Some("no such adapter 4711".into()),
    };
    match Gpu::new(&options) {
        Err(Error::UnknownAdapter { wanted, .. }) => assert_eq!(wanted, "no such adapter 4711"),
        Err(other) => panic!("expected UnknownAdapter, got {other}"),
        Ok(gpu) => panic!("matched an adapter that does not exist: {}", gpu.info.name),
    }
}

/// DX12 and Metal do not exist on Linux, so asking for one alone finds no adapter; the message
/// must name the fix for headless Linux.
#[cfg(target_os = "linux")]
#[test]
fn missing_adapter_names_the_lavapipe_package() {
    let options = GpuOptions {
        backend: Some("dx12".into()),
        adapter: None,
    };
    let error = Gpu::new(&options)
        .err()
        .expect("no DX12 adapter exists on Linux");
    assert!(matches!(error, Error::NoAdapter { .. }), "got {error}");
    assert!(
        error.to_string().contains("mesa-vulkan-drivers"),
        "message: {error}"
    );
}

#[test]
fn info_lists_a_usable_adapter() {
    let gpu = gpu_or_skip!();
    let reports = list_adapters(&GpuOptions::default()).unwrap();
    let report = reports
        .iter()
        .find(|r| r.info.name == gpu.info.name)
        .expect("adapter listed");
    assert!(report.unusable.is_none(), "{report}");
    let text = report.to_string();
    for needed in [
        "timestamp queries",
        "subgroups",
        "f16",
        "max_storage_buffer_binding_size",
    ] {
        assert!(text.contains(needed), "info lacks `{needed}`:\n{text}");
    }
}

#[test]
fn tensors_round_trip_f32_and_u32() {
    let gpu = gpu_or_skip!();
    let floats: Vec<f32> = (0..1001).map(|i| i as f32 * 0.5 - 7.0).collect();
    let tensor = Tensor::from_slice(gpu, "floats", &[7, 11, 13], &floats).unwrap();
    assert_eq!(tensor.shape(), &[7, 11, 13]);
    assert_eq!(tensor.read(gpu).unwrap(), floats);

    let ints: Vec<u32> = (0..5).map(|i| u32::MAX - i).collect();
    let tensor = Tensor::<u32>::from_slice(gpu, "ints", &[5], &ints).unwrap();
    assert_eq!(tensor.read(gpu).unwrap(), ints);
    tensor.write(gpu, &[1, 2, 3, 4, 5]).unwrap();
    assert_eq!(tensor.read(gpu).unwrap(), vec![1, 2, 3, 4, 5]);

    let zeros = Tensor::<f32>::zeros(gpu, "zeros", &[3, 3]);
    assert_eq!(zeros.read(gpu).unwrap(), vec![0.0; 9]);
}

/// Packing moves tensors into one buffer with their values; each view then reads, writes
/// and binds only its own part, and only the exact members in order make the whole buffer.
#[test]
fn packed_tensors_keep_their_values_and_bind_only_their_part() {
    let gpu = gpu_or_skip!();
    let values =
        |len: usize, from: f32| -> Vec<f32> { (0..len).map(|i| from - i as f32).collect() };
    let mut a = Tensor::from_slice(gpu, "a", &[3, 5], &values(15, 1.0)).unwrap();
    let mut b = Tensor::from_slice(gpu, "b", &[1], &values(1, 100.0)).unwrap();
    let mut c = Tensor::from_slice(gpu, "c", &[70], &values(70, 35.0)).unwrap();
    let layout = BlockLayout::new(gpu, &[a.shape(), b.shape(), c.shape()]);
    assert_eq!(layout.values() % 4, 0);
    assert!(
        layout.whole(&[&a, &b, &c]).is_none(),
        "separate buffers are no block"
    );
    layout
        .pack(gpu, "block", &mut [&mut a, &mut b, &mut c])
        .unwrap();
    assert!(layout.whole(&[&a, &b, &c]).is_some());
    assert!(
        layout.whole(&[&b, &a, &c]).is_none(),
        "members out of order"
    );
    assert!(layout.whole(&[&a, &b]).is_none(), "a member missing");
    assert_eq!(a.read(gpu).unwrap(), values(15, 1.0));
    assert_eq!(b.read(gpu).unwrap(), values(1, 100.0));
    assert_eq!(c.read(gpu).unwrap(), values(70, 35.0));
    assert_eq!(c.label(), "c");

    b.write(gpu, &[-4.0]).unwrap();
    // A kernel reading the view at its offset.
    let out = Tensor::zeros(gpu, "out", &[70]);
    let run = leaky_relu_forward(gpu, &c, &out, 0.5).unwrap();
    gpu.run(&[&run]).unwrap();
    let want: Vec<f32> = values(70, 35.0)
        .iter()
        .map(|&x| if x < 0.0 { 0.5 * x } else { x })
        .collect();
    assert_eq!(out.read(gpu).unwrap(), want);
    assert_eq!(
        a.read(gpu).unwrap(),
        values(15, 1.0),
        "writing b left a alone"
    );
    assert_eq!(b.read(gpu).unwrap(), vec![-4.0]);

    let wrong = layout.pack(gpu, "block", &mut [&mut a, &mut c, &mut b]);
    assert!(matches!(wrong, Err(Error::ShapeMismatch { .. })));
}

#[test]
fn wrong_upload_length_is_a_shape_error() {
    let gpu = gpu_or_skip!();
    let result = Tensor::from_slice(gpu, "short", &[4, 4], &[1.0f32; 15]);
    assert!(matches!(result, Err(Error::ShapeMismatch { .. })));
    let tensor = Tensor::<f32>::zeros(gpu, "t", &[4]);
    assert!(matches!(
        tensor.write(gpu, &[0.0; 5]),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn kernels_are_built_once_and_unknown_ones_fail() {
    let gpu = gpu_or_skip!();
    gpu.kernel("leaky_relu_forward").unwrap();
    let before = gpu.cached_kernels();
    let kernel = gpu.kernel("leaky_relu_forward").unwrap();
    assert_eq!(
        gpu.cached_kernels(),
        before,
        "a second request rebuilt the pipeline"
    );
    assert_eq!(
        kernel.workgroup_size,
        [256, 1, 1],
        "workgroup size read from the shader"
    );
    assert!(matches!(
        gpu.kernel("no_such_kernel"),
        Err(Error::UnknownShader { .. })
    ));
    assert!(shader_source("leaky_relu_forward")
        .unwrap()
        .contains("fn rng_mix"));
}

#[test]
fn a_dispatch_with_missing_buffers_is_an_error_not_a_panic() {
    let gpu = gpu_or_skip!();
    let kernel = gpu.kernel("leaky_relu_forward").unwrap();
    let input = Tensor::<f32>::zeros(gpu, "input", &[4]);
    // The shader declares an input and an output; binding only the input must be refused.
    let result = gpu.dispatch("bad", &kernel, &[4u32, 0], &[input.binding()], [1, 1, 1]);
    match result {
        Err(Error::GpuValidation { message }) => assert!(message.contains("bad"), "{message}"),
        Err(other) => panic!("expected a validation error, got {other}"),
        Ok(_) => panic!("a bind group with a missing buffer was accepted"),
    }
    gpu.check().unwrap();
}

/// Every timing method the adapter offers times each dispatch of a submission, and the
/// dispatches still compute what they would untimed.
#[test]
fn profiler_times_every_dispatch_with_each_available_method() {
    let gpu = gpu_or_skip!();
    let n = 1 << 16;
    let input: Vec<f32> = (0..n).map(|i| i as f32 - 30_000.0).collect();
    let input = Tensor::from_slice(gpu, "profiled.input", &[n], &input).unwrap();
    let middle = Tensor::<f32>::zeros(gpu, "profiled.middle", &[n]);
    let output = Tensor::<f32>::zeros(gpu, "profiled.output", &[n]);
    let dispatches = [
        leaky_relu_forward(gpu, &input, &middle, 0.5).unwrap(),
        leaky_relu_forward(gpu, &middle, &output, 0.5).unwrap(),
        leaky_relu_forward(gpu, &output, &middle, 0.5).unwrap(),
    ];
    let refs: Vec<&Dispatch> = dispatches.iter().collect();
    let mut methods = vec![TimingMethod::WallClock];
    if gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        methods.push(TimingMethod::PerPass);
    }
    if TimingMethod::best_for(gpu) == TimingMethod::InsidePasses {
        methods.push(TimingMethod::InsidePasses);
    }
    println!("timing methods on {}: {methods:?}", gpu.info.name);
    for method in methods {
        let mut profiler = Profiler::new(gpu, refs.len(), method).unwrap();
        middle.write(gpu, &vec![0.0; n]).unwrap();
        let seconds = profiler.run(gpu, &refs).unwrap();
        assert_eq!(seconds.len(), 3, "{method:?}");
        assert!(
            seconds.iter().all(|s| s.is_finite() && *s >= 0.0),
            "{method:?}: {seconds:?}"
        );
        assert!(seconds.iter().any(|s| *s > 0.0), "{method:?}: {seconds:?}");
        // Three halvings of the negative inputs: -30000 ends as -3750.
        assert_eq!(middle.read(gpu).unwrap()[0], -3750.0, "{method:?}");

        let too_many: Vec<&Dispatch> = refs.iter().chain(&refs).copied().collect();
        assert!(profiler.run(gpu, &too_many).is_err(), "{method:?}");
    }
    gpu.check().unwrap();
}
