//! A batch size the adapter cannot hold is refused before anything is allocated, naming the
//! limit it breaks and the largest batch that fits. The arithmetic is checked on made-up
//! limits (no GPU), then against the real models on the test adapter: at the largest batch
//! every dispatch of both models builds, one image more and the generator's do not.

mod common;

use std::sync::atomic::AtomicBool;

use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::model::footprint::{self, largest_batch};
use sgan_gpu::model::{Discriminator, Generator, TrunkMode, Z_DIM};
use sgan_gpu::run::{self, Controls, Start};
use sgan_gpu::train::Config;
use sgan_gpu::Error;

/// lavapipe's limits (Mesa 25): 128 MiB per storage binding, 2 GiB per buffer.
fn lavapipe_limits() -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffer_binding_size: 128 << 20,
        max_buffer_size: (2 << 30) - 1,
        max_compute_workgroups_per_dimension: 65_535,
        ..wgpu::Limits::default()
    }
}

#[test]
fn the_largest_buffer_is_the_second_transposed_convolutions_im2col_scratch() {
    let largest = footprint::largest_buffer();
    // [14 * 14 rows, 3 * 3 * 128 columns] per image.
    assert_eq!(largest.name, "generator.conv_transpose_2.cols");
    assert_eq!(largest.values, 14 * 14 * 3 * 3 * 64);
    let widest = footprint::widest_activation();
    assert_eq!(widest.values, 14 * 14 * 128, "{widest:?}");
}

#[test]
fn a_batch_too_large_for_the_binding_size_names_it_and_the_largest_that_fits() {
    let limits = lavapipe_limits();
    let limit = largest_batch(&limits, 256);
    assert_eq!(limit.limit, "max_storage_buffer_binding_size");
    // 134217728 bytes / (112896 values * 4 bytes) = 297.2
    assert_eq!(limit.largest, 297);
    footprint::check_batch_against(&limits, 256, "lavapipe", 297, "--batch").unwrap();
    for batch in [298, 10_000_000, usize::MAX] {
        let error =
            footprint::check_batch_against(&limits, 256, "lavapipe", batch, "--batch").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, Error::BatchTooLarge { largest: 297, .. }));
        assert!(
            message.contains(&format!("--batch {batch} is too large"))
                && message.contains("max_storage_buffer_binding_size of 134217728")
                && message.contains("generator.conv_transpose_2.cols")
                && message.ends_with("The largest --batch that fits is 297")
                && !message.contains('\n'),
            "{message}"
        );
    }
}

#[test]
fn the_smaller_of_the_two_buffer_limits_is_the_one_named() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 1 << 30,
        max_buffer_size: 64 << 20,
        ..lavapipe_limits()
    };
    let limit = largest_batch(&limits, 256);
    assert_eq!((limit.limit, limit.largest), ("max_buffer_size", 148));
}

/// Where buffers may be huge, the element-wise kernels' workgroup count along one axis is the
/// limit: 65535 workgroups of 256 over 25088 values per image is 668 images.
#[test]
fn with_huge_buffers_the_workgroup_count_per_dimension_is_the_limit() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 1 << 40,
        max_buffer_size: 1 << 40,
        max_compute_workgroups_per_dimension: 1 << 20,
        ..lavapipe_limits()
    };
    let limit = largest_batch(&limits, 256);
    // The kernels count against 65535 even where the adapter allows more.
    assert_eq!(
        (limit.limit, limit.value, limit.largest),
        ("max_compute_workgroups_per_dimension", 65_535, 668)
    );
    let error = footprint::check_batch_against(&limits, 256, "big", 669, "--batch").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("would need 65562 workgroups along one axis"),
        "{error}"
    );
    assert_eq!(largest_batch(&limits, 64).largest, 167);
}

/// Every dispatch of both models for `batch`: the generator's forward passes and backward,
/// the trunk's in both modes and its backward. Building them binds every buffer, so a buffer
/// past the binding limit or a dispatch past the workgroup limit is an error here.
fn build_models(gpu: &Gpu, batch: usize) -> sgan_gpu::Result<()> {
    let z = Tensor::zeros(gpu, "limits.z", &[batch, Z_DIM]);
    let images = Tensor::zeros(gpu, "limits.images", &[batch, 28, 28, 1]);
    let generator = Generator::new(gpu, batch)?;
    generator.forward(gpu, &z, &images, true)?;
    generator.forward(gpu, &z, &images, false)?;
    generator.backward(gpu, &z, &images, generator.d_image())?;
    let trunk = Discriminator::new(gpu, batch, 0)?;
    let train = TrunkMode::Train {
        update_running: true,
    };
    trunk.forward(gpu, &images, train)?;
    trunk.forward(gpu, &images, TrunkMode::Inference)?;
    trunk.backward(gpu, &images, Some(generator.d_image()))?;
    gpu.check()
}

/// The computed limit is exact on the test adapter: both models build at the largest batch,
/// and the generator does not at one image more. On lavapipe that is 297 and 298 images
/// (about 0.5 GB of buffers, allocated but never touched).
#[test]
fn the_computed_largest_batch_is_exact_on_this_adapter() {
    let gpu = gpu_or_skip!();
    let workgroup = footprint::elementwise_workgroup().unwrap();
    let limit = largest_batch(&gpu.limits, workgroup);
    if limit.largest > 4096 {
        eprintln!(
            "skipping: the largest batch on {} is {} ({}), too many buffers to build here",
            gpu.info.name, limit.largest, limit.limit
        );
        return;
    }
    println!(
        "{}: largest batch {} set by {} = {}",
        gpu.info.name, limit.largest, limit.limit, limit.value
    );
    build_models(gpu, limit.largest).expect("the largest batch builds");
    let error = build_models(gpu, limit.largest + 1).expect_err("one image more must fail");
    println!("one image more: {error}");
    assert!(
        matches!(
            error,
            Error::GpuValidation { .. } | Error::DispatchTooLarge { .. }
        ),
        "{error}"
    );
    // The failed build leaves no error behind for the next test on this device.
    gpu.check().unwrap();
}

/// A run with a batch the adapter cannot hold stops before it touches the output folder.
#[test]
fn a_run_with_too_large_a_batch_stops_before_it_creates_anything() {
    let gpu = gpu_or_skip!();
    let out_dir = std::env::temp_dir().join(format!("sgan-limits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let config = Config {
        batch: 10_000_000,
        iterations: 1,
        out_dir: out_dir.clone(),
        ..Config::default()
    };
    let flag = AtomicBool::new(false);
    let controls = Controls {
        interrupt: Some(&flag),
        ..Controls::default()
    };
    let error = run::train_with(gpu, Start::Fresh(config), controls).unwrap_err();
    assert!(
        matches!(
            error,
            Error::BatchTooLarge {
                batch: 10_000_000,
                ..
            }
        ),
        "{error}"
    );
    assert!(!out_dir.exists(), "nothing may be created");
}
