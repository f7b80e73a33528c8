//! Contact sheets: which slices of a series to show, the grid they go in, and the sheet itself
//! (tiles side by side, each labelled with its instance number and slice location).

use font8x8::UnicodeFonts;

/// The widest sheet, in pixels.
pub const MAX_WIDTH: usize = 1024;
/// Tiles per sheet: the default and the most.
pub const DEFAULT_COUNT: usize = 16;
pub const MAX_COUNT: usize = 64;
/// Frames fetched and decoded at once.
pub const CONCURRENCY: usize = 8;

/// `count` indices into `len` ordered slices, evenly spaced from the first to the last (all of
/// them when there are no more than `count`; the middle one for a count of 1).
pub fn evenly_spaced(len: usize, count: usize) -> Vec<usize> {
    if len == 0 || count == 0 {
        return Vec::new();
    }
    if count >= len {
        return (0..len).collect();
    }
    if count == 1 {
        return vec![(len - 1) / 2];
    }
    // Rounded to the nearest slice; distinct because the step (len-1)/(count-1) is above 1.
    (0..count)
        .map(|k| (k * (len - 1) * 2 + (count - 1)) / ((count - 1) * 2))
        .collect()
}

/// Where `n` tiles of `rows` x `columns` images go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub columns: usize,
    pub rows: usize,
    pub tile_width: usize,
    pub tile_height: usize,
}

impl Grid {
    /// A near-square grid, each tile as large as the image but the sheet at most `MAX_WIDTH`
    /// wide, the image's aspect ratio kept.
    pub fn for_tiles(n: usize, image_rows: usize, image_columns: usize) -> Self {
        let n = n.max(1);
        let columns = (1..=n).find(|c| c * c >= n).unwrap_or(n);
        let rows = n.div_ceil(columns);
        let tile_width = image_columns.clamp(1, MAX_WIDTH / columns);
        let tile_height = ((image_rows.max(1) * tile_width + image_columns.max(1) / 2)
            / image_columns.max(1))
        .max(1);
        Self {
            columns,
            rows,
            tile_width,
            tile_height,
        }
    }

    pub fn width(&self) -> usize {
        self.columns * self.tile_width
    }

    pub fn height(&self) -> usize {
        self.rows * self.tile_height
    }

    /// The top-left corner of tile `i` (row-major).
    pub fn origin(&self, i: usize) -> (usize, usize) {
        (
            (i % self.columns) * self.tile_width,
            (i / self.columns) * self.tile_height,
        )
    }
}

/// An 8-bit image: grey (1 sample per pixel) or RGB (3), rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    pub samples: usize,
    pub data: Vec<u8>,
}

impl Bitmap {
    pub fn blank(width: usize, height: usize, samples: usize) -> Self {
        Self {
            width,
            height,
            samples,
            data: vec![0; width * height * samples],
        }
    }

    fn put(&mut self, x: usize, y: usize, value: u8) {
        if x < self.width && y < self.height {
            let at = (y * self.width + x) * self.samples;
            self.data[at..at + self.samples].fill(value);
        }
    }

    /// Copies `tile` with its top-left corner at (x, y), centred in a `w` x `h` cell when
    /// smaller; grey tiles go into an RGB sheet as grey.
    fn paste(&mut self, tile: &Bitmap, (x, y): (usize, usize), (w, h): (usize, usize)) {
        let (dx, dy) = (
            w.saturating_sub(tile.width) / 2,
            h.saturating_sub(tile.height) / 2,
        );
        for ty in 0..tile.height.min(h) {
            for tx in 0..tile.width.min(w) {
                let (sx, sy) = (x + dx + tx, y + dy + ty);
                if sx >= self.width || sy >= self.height {
                    continue;
                }
                let from = (ty * tile.width + tx) * tile.samples;
                let to = (sy * self.width + sx) * self.samples;
                for c in 0..self.samples {
                    self.data[to + c] = tile.data[from + c.min(tile.samples - 1)];
                }
            }
        }
    }

    /// `text` in the 8x8 bitmap font at (x, y): white on a black band, so it reads on any
    /// image; characters the font lacks are left out, and what does not fit is cut.
    pub fn label(&mut self, text: &str, (x, y): (usize, usize), max_width: usize) {
        let glyphs: Vec<[u8; 8]> = text
            .chars()
            .filter_map(|c| font8x8::BASIC_FONTS.get(c))
            .take(max_width.saturating_sub(2) / 8)
            .collect();
        let band = glyphs.len() * 8 + 2;
        for by in y..y + 10 {
            for bx in x..x + band {
                self.put(bx, by, 0);
            }
        }
        for (k, glyph) in glyphs.iter().enumerate() {
            for (gy, bits) in glyph.iter().enumerate() {
                for gx in 0..8 {
                    if bits & (1 << gx) != 0 {
                        self.put(x + 1 + k * 8 + gx, y + 1 + gy, 255);
                    }
                }
            }
        }
    }
}

/// A tile's label: instance number and slice location (mm, along the slice normal).
pub fn label_text(instance_number: Option<i64>, location: Option<f64>) -> String {
    let n = instance_number.map_or("#?".to_string(), |n| format!("#{n}"));
    match location {
        Some(z) => format!("{n} {z:.1}mm"),
        None => n,
    }
}

/// The sheet: each tile (None: failed, left black) pasted into its cell and labelled.
pub fn compose(grid: &Grid, tiles: &[(Option<Bitmap>, String)]) -> Bitmap {
    let samples = tiles
        .iter()
        .filter_map(|(t, _)| t.as_ref().map(|t| t.samples))
        .max()
        .unwrap_or(1);
    let mut sheet = Bitmap::blank(grid.width(), grid.height(), samples);
    for (i, (tile, label)) in tiles.iter().enumerate() {
        let origin = grid.origin(i);
        if let Some(tile) = tile {
            sheet.paste(tile, origin, (grid.tile_width, grid.tile_height));
        }
        sheet.label(label, origin, grid.tile_width);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_slices_include_both_ends() {
        assert_eq!(evenly_spaced(5, 16), [0, 1, 2, 3, 4]);
        assert_eq!(evenly_spaced(100, 2), [0, 99]);
        assert_eq!(evenly_spaced(10, 4), [0, 3, 6, 9]);
        assert_eq!(evenly_spaced(7, 1), [3]);
        assert_eq!(evenly_spaced(0, 16), Vec::<usize>::new());
        for len in 1..200 {
            for count in 1..=64 {
                let picked = evenly_spaced(len, count);
                assert_eq!(picked.len(), count.min(len));
                assert!(picked.windows(2).all(|w| w[0] < w[1]), "{len} {count}");
                assert!(*picked.last().unwrap() < len);
                if count > 1 && len > 1 {
                    assert_eq!((picked[0], *picked.last().unwrap()), (0, len - 1));
                }
            }
        }
    }

    #[test]
    fn the_grid_is_near_square_and_at_most_1024_wide() {
        let g = Grid::for_tiles(16, 512, 512);
        assert_eq!(
            (g.columns, g.rows, g.tile_width, g.tile_height),
            (4, 4, 256, 256)
        );
        assert_eq!((g.width(), g.height()), (1024, 1024));
        assert_eq!(g.origin(5), (256, 256));
        // Small images are not enlarged.
        let g = Grid::for_tiles(5, 128, 128);
        assert_eq!((g.columns, g.rows, g.tile_width), (3, 2, 128));
        // Aspect ratio kept: 512 rows x 256 columns in an 8x8 grid.
        let g = Grid::for_tiles(64, 512, 256);
        assert_eq!((g.columns, g.tile_width, g.tile_height), (8, 128, 256));
        for n in 1..=64 {
            let g = Grid::for_tiles(n, 2048, 2048);
            assert!(g.width() <= MAX_WIDTH && g.columns * g.rows >= n);
            assert!(g.rows <= g.columns);
        }
    }

    #[test]
    fn tiles_are_pasted_in_order_and_labelled() {
        let grid = Grid::for_tiles(3, 16, 32);
        let tile = |v: u8| {
            Some(Bitmap {
                width: 32,
                height: 16,
                samples: 1,
                data: vec![v; 32 * 16],
            })
        };
        let sheet = compose(
            &grid,
            &[
                (tile(50), "#1".into()),
                (None, "#2".into()),
                (tile(90), "".into()),
            ],
        );
        assert_eq!((sheet.width, sheet.height, sheet.samples), (64, 32, 1));
        let at = |x: usize, y: usize| sheet.data[y * sheet.width + x];
        assert_eq!(at(31, 15), 50); // tile 0, bottom right: untouched by the label
        assert_eq!(at(63, 15), 0); // tile 1 failed: black
        assert_eq!(at(31, 31), 90); // tile 2
                                    // The label band is black with white glyph pixels inside it.
        let band: Vec<u8> = (0..10)
            .flat_map(|y| (0..18).map(move |x| (x, y)))
            .map(|(x, y)| at(x, y))
            .collect();
        assert!(band.contains(&255) && band.contains(&0) && !band.contains(&50));
        assert_eq!(label_text(Some(12), Some(-34.56)), "#12 -34.6mm");
        assert_eq!(label_text(None, None), "#?");
    }
}
