use rand::Rng;
use sgan_gpu::gpu::{Gpu, Tensor};
use sgan_gpu::layers::gather::GpuDataset;
use sgan_gpu::reference;

use crate::common::{self, assert_exact};
use crate::gpu_or_skip;

/// `count` images of `pixels` random bytes (every byte value appears for MNIST-sized images)
/// and labels 0..10.
fn synthetic(seed: u64, count: usize, pixels: usize) -> (Vec<u8>, Vec<u8>) {
    let mut rng = common::rng(seed);
    let images = (0..count * pixels).map(|_| rng.random::<u8>()).collect();
    let labels = (0..count).map(|_| rng.random_range(0..10u8)).collect();
    (images, labels)
}

/// Gathers `indices` on the GPU; returns (pixels as f32 bits, labels).
fn gather(gpu: &Gpu, data: &GpuDataset, indices: &[u32], shape: &[usize]) -> (Vec<u32>, Vec<u32>) {
    let batch = indices.len();
    let index = Tensor::<u32>::from_slice(gpu, "idx", &[batch], indices).unwrap();
    let images = Tensor::zeros(gpu, "batch.images", shape);
    let labels = Tensor::<u32>::zeros(gpu, "batch.labels", &[batch]);
    let d_images = data.gather_images(gpu, &index, &images).unwrap();
    let d_labels = data.gather_labels(gpu, &index, &labels).unwrap();
    gpu.run(&[&d_images, &d_labels]).unwrap();
    let bits = images
        .read(gpu)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    (bits, labels.read(gpu).unwrap())
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn gather_matches_reference_bits() {
    let gpu = gpu_or_skip!();
    // 28 x 28 images (784 bytes, 196 words); 7-pixel images exercise the padded last word.
    for (pixels, shape_tail) in [(784, vec![28, 28, 1]), (7, vec![7])] {
        let count = 57;
        let (images, labels) = synthetic(pixels as u64, count, pixels);
        let data = GpuDataset::upload(gpu, "train", &images, &labels, pixels).unwrap();
        assert_eq!(data.len(), count);

        // 33 draws: both ends of the dataset and random ones between (with repeats).
        let mut rng = common::rng(40);
        let mut indices: Vec<u32> = vec![0, count as u32 - 1];
        indices.extend((0..31).map(|_| rng.random_range(0..count as u32)));
        let mut shape = vec![indices.len()];
        shape.extend(&shape_tail);

        let (got_pixels, got_labels) = gather(gpu, &data, &indices, &shape);
        let want = reference::gather_images(&images, pixels, &indices);
        assert_exact(
            &format!("gather_images ({pixels} pixels)"),
            &got_pixels,
            &bits(&want),
        );
        assert_exact(
            &format!("gather_labels ({pixels} pixels)"),
            &got_labels,
            &reference::gather_labels(&labels, &indices),
        );
        assert!(want.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}

#[test]
fn gather_scales_the_extreme_pixels_to_plus_and_minus_one() {
    assert_eq!(reference::scale_pixel(0), -1.0);
    assert_eq!(reference::scale_pixel(255), 1.0);
    // Within an f32 rounding of the division it stands for.
    for p in 0..=255u8 {
        let exact = (p as f64 - 127.5) / 127.5;
        assert!((reference::scale_pixel(p) as f64 - exact).abs() <= 1.2e-7);
    }
}

#[test]
fn gather_marks_an_index_past_the_dataset() {
    let gpu = gpu_or_skip!();
    let (images, labels) = synthetic(3, 5, 8);
    let data = GpuDataset::upload(gpu, "train", &images, &labels, 8).unwrap();
    let indices = [4, 5, 1];
    let (got_pixels, got_labels) = gather(gpu, &data, &indices, &[3, 8]);
    let want = reference::gather_images(&images, 8, &indices);
    assert!(want[8..16].iter().all(|v| v.is_nan()));
    assert!(got_pixels[8..16]
        .iter()
        .all(|&b| f32::from_bits(b).is_nan()));
    assert_eq!(got_pixels[..8], bits(&want[..8]));
    assert_eq!(got_pixels[16..], bits(&want[16..]));
    assert_eq!(got_labels, reference::gather_labels(&labels, &indices));
    assert_eq!(got_labels[1], u32::MAX);
}

#[test]
fn gather_rejects_bad_shapes() {
    let gpu = gpu_or_skip!();
    let (images, labels) = synthetic(4, 6, 10);
    assert!(GpuDataset::upload(gpu, "bad", &images, &labels[..5], 10).is_err());
    assert!(GpuDataset::upload(gpu, "bad", &images[..55], &labels, 10).is_err());
    let data = GpuDataset::upload(gpu, "train", &images, &labels, 10).unwrap();
    let index = Tensor::<u32>::zeros(gpu, "idx", &[4]);
    assert!(data
        .gather_images(gpu, &index, &Tensor::zeros(gpu, "out", &[4, 9]))
        .is_err());
    assert!(data
        .gather_labels(gpu, &index, &Tensor::<u32>::zeros(gpu, "out", &[3]))
        .is_err());
}
