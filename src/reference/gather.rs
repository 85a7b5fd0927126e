//! Minibatch gathers from the dataset, as `shaders/gather_images.wgsl` and
//! `shaders/gather_labels.wgsl` compute them, reading the unpacked bytes.

/// Pixel byte `p` scaled to [-1, 1] as `(p - 127.5) / 127.5`, computed in f32 exactly as the
/// shader does: an exact subtraction, then one product with the f32 reciprocal of 127.5.
pub fn scale_pixel(p: u8) -> f32 {
    (p as f32 - 127.5) * (1.0 / 127.5)
}

/// `[B, pixels_per_image]` floats: image `indices[b]` of `images` (`pixels_per_image` bytes
/// each, back to back), scaled by [`scale_pixel`]. An index past the data gives NaN pixels.
pub fn gather_images(images: &[u8], pixels_per_image: usize, indices: &[u32]) -> Vec<f32> {
    let count = images.len() / pixels_per_image;
    let mut output = Vec::with_capacity(indices.len() * pixels_per_image);
    for &index in indices {
        let index = index as usize;
        if index >= count {
            output.extend(std::iter::repeat_n(f32::NAN, pixels_per_image));
            continue;
        }
        let image = &images[index * pixels_per_image..(index + 1) * pixels_per_image];
        output.extend(image.iter().map(|&p| scale_pixel(p)));
    }
    output
}

/// `labels[indices[b]]` as u32; an index past the data gives `u32::MAX`.
pub fn gather_labels(labels: &[u8], indices: &[u32]) -> Vec<u32> {
    indices
        .iter()
        .map(|&i| labels.get(i as usize).map_or(u32::MAX, |&l| l as u32))
        .collect()
}
