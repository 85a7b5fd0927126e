//! A grid of generated digits as a PNG, for looking at what G draws.

use std::path::Path;

use image::{ImageEncoder, Rgb, RgbImage};

use super::atomic_write;
use crate::{Error, Result};

/// Each image pixel becomes a `SCALE` x `SCALE` block so 28 x 28 digits are easy to see.
pub const GRID_SCALE: usize = 2;
/// Width in output pixels of the border drawn around and between cells.
pub const GRID_BORDER: usize = 2;
/// The border colour: a dark blue, so it shows against black digit backgrounds and cannot be
/// mistaken for any grey pixel value.
pub const GRID_BORDER_RGB: [u8; 3] = [24, 40, 88];
/// The colour of a NaN pixel: pure red, which no finite value maps to.
pub const GRID_NAN_RGB: [u8; 3] = [255, 0, 0];

/// Maps a tanh output to a grey level: `round((clamp(x, -1, 1) + 1) * 127.5)`, so -1 is 0,
/// 0 is 128 (127.5 rounds up) and 1 is 255. NaN has no grey level and gives `None`.
pub fn grey_level(x: f32) -> Option<u8> {
    if x.is_nan() {
        return None;
    }
    Some(((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8)
}

/// Saves `count` single-channel images of `height` x `width` (row-major, one after another,
/// values in [-1, 1] as G's tanh writes them) as an RGB PNG grid with `columns` cells per row.
///
/// Values outside [-1, 1] clamp; NaN pixels are drawn red ([`GRID_NAN_RGB`]). Every pixel is
/// drawn as a [`GRID_SCALE`]-square block; a [`GRID_BORDER`]-pixel border of
/// [`GRID_BORDER_RGB`] surrounds every cell. With `c = min(columns, count)` cells per row and
/// `r = ceil(count / c)` rows, the PNG is `c * (width * 2 + 2) + 2` pixels wide and
/// `r * (height * 2 + 2) + 2` high. Unused cells in the last row are left in border colour.
pub fn save_digit_grid(
    path: impl AsRef<Path>,
    images: &[f32],
    count: usize,
    height: usize,
    width: usize,
    columns: usize,
) -> Result<()> {
    let path = path.as_ref();
    let invalid = |message: String| Error::InvalidArgument {
        op: "save_digit_grid".into(),
        message,
    };
    if count == 0 || height == 0 || width == 0 || columns == 0 {
        return Err(invalid(format!(
            "count ({count}), height ({height}), width ({width}) and columns ({columns}) \
             must all be at least 1"
        )));
    }
    let pixels = count.checked_mul(height).and_then(|n| n.checked_mul(width));
    if pixels != Some(images.len()) {
        return Err(Error::ShapeMismatch {
            op: "save_digit_grid".into(),
            expected: format!("{count} x {height} x {width} values"),
            got: format!("{} values", images.len()),
        });
    }

    // Cells sit on a lattice of pitch `cell + border`, with one extra border at the far edge.
    let columns = columns.min(count);
    let rows = count.div_ceil(columns);
    let cell_w = width * GRID_SCALE;
    let cell_h = height * GRID_SCALE;
    let extent = |cells: usize, cell: usize| {
        cells
            .checked_mul(cell + GRID_BORDER)
            .and_then(|n| n.checked_add(GRID_BORDER))
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= 1 << 16)
    };
    let (Some(grid_w), Some(grid_h)) = (extent(columns, cell_w), extent(rows, cell_h)) else {
        return Err(invalid(format!(
            "a grid of {rows} x {columns} cells of {height} x {width} is over 65536 pixels \
             on a side; save fewer images or use more columns"
        )));
    };

    let mut grid = RgbImage::from_pixel(grid_w, grid_h, Rgb(GRID_BORDER_RGB));
    for (index, image) in images.chunks_exact(height * width).enumerate() {
        let left = GRID_BORDER + (index % columns) * (cell_w + GRID_BORDER);
        let top = GRID_BORDER + (index / columns) * (cell_h + GRID_BORDER);
        for (p, &value) in image.iter().enumerate() {
            let colour = match grey_level(value) {
                Some(g) => Rgb([g, g, g]),
                None => Rgb(GRID_NAN_RGB),
            };
            let x0 = left + (p % width) * GRID_SCALE;
            let y0 = top + (p / width) * GRID_SCALE;
            for dy in 0..GRID_SCALE {
                for dx in 0..GRID_SCALE {
                    // In range: the size checks above bound every coordinate by the grid.
                    grid.put_pixel((x0 + dx) as u32, (y0 + dy) as u32, colour);
                }
            }
        }
    }
    save_rgb_png(path, grid.width(), grid.height(), grid.as_raw())
}

/// Encodes 8-bit RGB pixels as a PNG in memory, then writes it atomically.
pub(crate) fn save_rgb_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    atomic_write(path, &png)
}
