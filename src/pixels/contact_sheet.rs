//! render_series_contact_sheet: N evenly spaced slices of a series in one image, ordered along
//! the slice normal, each tile labelled with its instance number and slice location; frames
//! fetched and rendered concurrently (GetImageFrame is paced by the engine's rate limiter).

use std::sync::Arc;

use font8x8::UnicodeFonts;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::render_tool::WindowChoice;
use super::{encode, merged_attributes, order_slices, render, slice_locations};
use super::{ImageFormat, PixelDescription, Raster, RenderOptions, Rendered, SliceKey};
use super::{WindowRequest, WindowSource};
use crate::engine::{frames, metadata, validate, EngineError, EngineResult, ErrorType};
use crate::model::constraints::Shape;
use crate::tools::schema::{one_of, shaped, within};
use crate::tools::EncodedImage;
use crate::workflows::reads;

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

fn put(sheet: &mut Raster, x: usize, y: usize, value: u8) {
    let (w, h, ch) = (
        sheet.width as usize,
        sheet.height as usize,
        usize::from(sheet.channels),
    );
    if x < w && y < h {
        let at = (y * w + x) * ch;
        sheet.data[at..at + ch].fill(value);
    }
}

/// Copies `tile` into the `w` x `h` cell at (x, y), centred when smaller; a grey tile goes
/// into an RGB sheet as grey.
fn paste(sheet: &mut Raster, tile: &Raster, (x, y): (usize, usize), (w, h): (usize, usize)) {
    let (tw, th) = (tile.width as usize, tile.height as usize);
    let (sw, sh) = (sheet.width as usize, sheet.height as usize);
    let (sc, tc) = (usize::from(sheet.channels), usize::from(tile.channels));
    let (dx, dy) = (w.saturating_sub(tw) / 2, h.saturating_sub(th) / 2);
    for ty in 0..th.min(h) {
        for tx in 0..tw.min(w) {
            let (sx, sy) = (x + dx + tx, y + dy + ty);
            if sx >= sw || sy >= sh {
                continue;
            }
            let from = (ty * tw + tx) * tc;
            let to = (sy * sw + sx) * sc;
            for c in 0..sc {
                sheet.data[to + c] = tile.data[from + c.min(tc - 1)];
            }
        }
    }
}

/// `text` in the 8x8 bitmap font at (x, y): white on a black band, so it reads on any image;
/// characters the font lacks are left out, and what does not fit in `max_width` is cut.
fn label(sheet: &mut Raster, text: &str, (x, y): (usize, usize), max_width: usize) {
    let glyphs: Vec<[u8; 8]> = text
        .chars()
        .filter_map(|c| font8x8::BASIC_FONTS.get(c))
        .take(max_width.saturating_sub(2) / 8)
        .collect();
    let band = glyphs.len() * 8 + 2;
    for by in y..y + 10 {
        for bx in x..x + band {
            put(sheet, bx, by, 0);
        }
    }
    for (k, glyph) in glyphs.iter().enumerate() {
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..8 {
                // Bit 0 is the leftmost pixel of the glyph's row.
                if bits & (1 << gx) != 0 {
                    put(sheet, x + 1 + k * 8 + gx, y + 1 + gy, 255);
                }
            }
        }
    }
}

/// A tile's label: instance number (and frame, for a multi-frame instance) and slice location
/// (mm along the slice normal).
pub fn label_text(
    instance_number: Option<i64>,
    location: Option<f64>,
    frame: Option<usize>,
) -> String {
    let mut out = instance_number.map_or("#?".to_string(), |n| format!("#{n}"));
    if let Some(f) = frame {
        out.push_str(&format!(" f{f}"));
    }
    if let Some(z) = location {
        out.push_str(&format!(" {z:.1}mm"));
    }
    out
}

/// The sheet: each tile (None: failed, left black) pasted into its cell and labelled.
pub fn compose(grid: &Grid, tiles: &[(Option<Raster>, String)]) -> Raster {
    let channels = tiles
        .iter()
        .filter_map(|(t, _)| t.as_ref().map(|t| t.channels))
        .max()
        .unwrap_or(1);
    let mut sheet = Raster {
        width: grid.width() as u32,
        height: grid.height() as u32,
        channels,
        data: vec![0; grid.width() * grid.height() * usize::from(channels)],
    };
    for (i, (tile, text)) in tiles.iter().enumerate() {
        let origin = grid.origin(i);
        if let Some(tile) = tile {
            paste(
                &mut sheet,
                tile,
                origin,
                (grid.tile_width, grid.tile_height),
            );
        }
        label(&mut sheet, text, origin, grid.tile_width);
    }
    sheet
}

// ---- the tool ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderContactSheet {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
    /// Default: the series' primary image set.
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: Option<String>,
    /// How many evenly spaced slices (default 16).
    #[schemars(transform = within(1..=MAX_COUNT as i64))]
    pub count: Option<i64>,
    #[serde(flatten)]
    pub window: WindowChoice,
    /// png (default) or jpeg.
    #[schemars(transform = one_of(&["png", "jpeg"]))]
    pub format: Option<String>,
}

/// One tile of the sheet, in sheet order (row by row).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SheetTile {
    pub instance_number: Option<i64>,
    pub sop_instance_uid: String,
    /// 1-based frame of the instance.
    pub frame_number: usize,
    pub image_frame_id: String,
    /// mm along the slice normal; null without ImagePositionPatient/ImageOrientationPatient.
    pub slice_location: Option<f64>,
    /// Why the tile is blank (the frame did not fetch or decode); absent when drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SheetGrid {
    pub columns: usize,
    pub rows: usize,
    pub tile_width: usize,
    pub tile_height: usize,
    pub width: usize,
    pub height: usize,
}

/// What the sheet shows; the image itself follows as image content.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ContactSheet {
    pub image_set_id: String,
    pub series_instance_uid: String,
    /// Slices in the series (frames of a single multi-frame instance count as slices).
    pub series_slices: usize,
    /// Ordered along the slice normal ("position") or by instance and frame number.
    pub ordered_by: &'static str,
    pub grid: SheetGrid,
    /// The window every monochrome tile was drawn with (the middle tile's, when none was
    /// asked for); null for colour images.
    pub window: Option<SheetWindow>,
    pub mime_type: &'static str,
    pub output_bytes: usize,
    /// How many tiles are blank because their frame failed.
    pub failed_tiles: usize,
    pub tiles: Vec<SheetTile>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SheetWindow {
    pub center: f64,
    pub width: f64,
    /// request, preset, image (the middle tile's WindowCenter/Width) or auto.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<&'static str>,
}

/// One slice of the series: an instance's frame.
#[derive(Debug, Clone)]
struct Slice {
    sop: String,
    frame_index: usize,
    instance_number: Option<i64>,
    location: Option<f64>,
}

/// The series' slices in order: every instance's frames, instances ordered along the slice
/// normal (px's `order_slices`; instance number without geometry).
fn slices(doc: &Value, series_uid: &str) -> EngineResult<(Vec<Slice>, bool)> {
    let instances = doc["Study"]["Series"]
        .get(series_uid)
        .and_then(|s| s.get("Instances"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            EngineError::new(
                ErrorType::NotFound,
                format!("series {series_uid} is not in this image set"),
            )
        })?;
    let with_frames: Vec<(&String, usize)> = instances
        .iter()
        .map(|(sop, i)| (sop, i["ImageFrames"].as_array().map_or(0, Vec::len)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let keys: Vec<SliceKey> = with_frames
        .iter()
        .map(|(sop, _)| {
            merged_attributes(doc, series_uid, sop)
                .map(|a| SliceKey::from_attributes(&a))
                .unwrap_or_default()
        })
        .collect();
    let locations = slice_locations(&keys);
    let by_position = !keys.is_empty() && locations.iter().all(Option::is_some);
    let mut out = Vec::new();
    for i in order_slices(&keys) {
        let (sop, frames) = with_frames[i];
        for frame_index in 0..frames {
            out.push(Slice {
                sop: sop.clone(),
                frame_index,
                instance_number: keys[i].instance_number,
                // Frames of a multi-frame instance have their positions per frame.
                location: if frames == 1 { locations[i] } else { None },
            });
        }
    }
    Ok((out, by_position))
}

/// Fetches and renders one slice's frame to fit a tile.
async fn tile(
    datastore_id: String,
    image_set_id: String,
    desc: PixelDescription,
    frame_index: usize,
    options: RenderOptions,
) -> Result<Rendered, String> {
    let frame_id = desc.frames[frame_index].id.clone();
    let (stored, _) = frames::fetch_frame(&datastore_id, &image_set_id, &frame_id)
        .await
        .map_err(|e| e.message)?;
    tokio::task::spawn_blocking(move || render(&stored, &desc, frame_index, &options))
        .await
        .map_err(|e| format!("rendering stopped: {e}"))?
        .map_err(|e| e.to_string())
}

pub async fn render_series_contact_sheet(
    input: RenderContactSheet,
) -> EngineResult<(ContactSheet, Vec<EncodedImage>)> {
    validate::id("datastore_id", &input.datastore_id)?;
    validate::shape(
        "series_instance_uid",
        &input.series_instance_uid,
        Shape::DicomUid,
    )?;
    let count = match input.count {
        None => DEFAULT_COUNT,
        Some(n) if (1..=MAX_COUNT as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(EngineError::invalid(
                "count",
                format!("must be between 1 and {MAX_COUNT}"),
            ))
        }
    };
    let requested = input.window.request()?;
    let format = match input.format.as_deref() {
        None | Some("png") => ImageFormat::Png,
        Some("jpeg") => ImageFormat::Jpeg,
        Some(_) => return Err(EngineError::invalid("format", "must be png or jpeg")),
    };
    let datastore_id = input.datastore_id;
    let series_uid = input.series_instance_uid;
    let image_set_id = match input.image_set_id {
        Some(id) => {
            validate::id("image_set_id", &id)?;
            id
        }
        None => reads::get_series_primary_image_set(datastore_id.clone(), series_uid.clone())
            .await?
            .image_set
            .map(|s| s.image_set_id)
            .ok_or_else(|| {
                EngineError::new(
                    ErrorType::NotFound,
                    format!("series {series_uid} has no primary image set in this data store"),
                )
            })?,
    };
    let doc = metadata::get_image_set_metadata(datastore_id.clone(), image_set_id.clone(), None)
        .await?
        .image_set_metadata;
    let (all, by_position) = slices(&doc, &series_uid)?;
    if all.is_empty() {
        return Err(EngineError::new(
            ErrorType::NotFound,
            format!("series {series_uid} has no image frames"),
        ));
    }
    let picked: Vec<Slice> = evenly_spaced(all.len(), count)
        .into_iter()
        .map(|i| all[i].clone())
        .collect();
    let descs: Vec<Result<PixelDescription, String>> = picked
        .iter()
        .map(|s| {
            PixelDescription::from_metadata(&doc, &series_uid, &s.sop).map_err(|e| e.to_string())
        })
        .collect();
    let (rows, columns) = descs
        .iter()
        .flatten()
        .next()
        .map(|d| (d.info.rows as usize, d.info.columns as usize))
        .ok_or_else(|| {
            EngineError::new(
                ErrorType::Validation,
                format!("series {series_uid} has no displayable images"),
            )
        })?;
    let grid = Grid::for_tiles(picked.len(), rows, columns);
    let max_size = grid.tile_width.max(grid.tile_height) as u32;

    // The middle tile first: its window (asked for, the image's own, or automatic) is then
    // used for every tile, so that the tiles compare.
    let middle = picked.len() / 2;
    let mut results: Vec<Option<Result<Rendered, String>>> = vec![None; picked.len()];
    let render_one = |i: usize, window: WindowRequest| {
        let desc = descs[i].clone();
        let (ds, is) = (datastore_id.clone(), image_set_id.clone());
        let frame_index = picked[i].frame_index;
        async move {
            tile(
                ds,
                is,
                desc?,
                frame_index,
                RenderOptions { window, max_size },
            )
            .await
        }
    };
    let first = render_one(middle, requested.clone()).await;
    let used = first.as_ref().ok().and_then(|r| r.window);
    let shared = match used {
        Some(u) if requested == WindowRequest::Default => WindowRequest::Explicit(u.window),
        _ => requested.clone(),
    };
    results[middle] = Some(first);
    let limit = Arc::new(Semaphore::new(CONCURRENCY));
    let mut running = JoinSet::new();
    for i in (0..picked.len()).filter(|i| *i != middle) {
        let work = render_one(i, shared.clone());
        let limit = limit.clone();
        running.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, work.await)
        });
    }
    while let Some(done) = running.join_next().await {
        let (i, r) = done.map_err(|e| EngineError::server(format!("a tile stopped: {e}")))?;
        results[i] = Some(r);
    }

    let mut tiles = Vec::with_capacity(picked.len());
    let mut drawn = Vec::with_capacity(picked.len());
    for (i, (slice, result)) in picked.iter().zip(results).enumerate() {
        let result = result.unwrap_or_else(|| Err("not rendered".into()));
        let frame_id = descs[i]
            .as_ref()
            .ok()
            .and_then(|d| d.frames.get(slice.frame_index))
            .map(|f| f.id.clone())
            .unwrap_or_default();
        let label = label_text(
            slice.instance_number,
            slice.location,
            (descs[i].as_ref().map_or(1, |d| d.frames.len()) > 1).then_some(slice.frame_index + 1),
        );
        let (raster, error) = match result {
            Ok(r) => (Some(r.raster), None),
            Err(e) => (None, Some(e)),
        };
        tiles.push(SheetTile {
            instance_number: slice.instance_number,
            sop_instance_uid: slice.sop.clone(),
            frame_number: slice.frame_index + 1,
            image_frame_id: frame_id,
            slice_location: slice.location.map(|z| (z * 1e3).round() / 1e3),
            error,
        });
        drawn.push((raster, label));
    }
    let sheet = compose(&grid, &drawn);
    let bytes = tokio::task::spawn_blocking(move || encode(&sheet, format))
        .await
        .map_err(|e| EngineError::server(format!("encoding stopped: {e}")))?
        .map_err(|e| EngineError::server(e.to_string()))?;
    let window = used.map(|u| SheetWindow {
        center: u.window.center,
        width: u.window.width,
        source: u.source.as_str(),
        preset: match u.source {
            WindowSource::Preset(name) => Some(name),
            _ => None,
        },
    });
    let out = ContactSheet {
        image_set_id,
        series_instance_uid: series_uid,
        series_slices: all.len(),
        ordered_by: if by_position {
            "position"
        } else {
            "instance_number"
        },
        grid: SheetGrid {
            columns: grid.columns,
            rows: grid.rows,
            tile_width: grid.tile_width,
            tile_height: grid.tile_height,
            width: grid.width(),
            height: grid.height(),
        },
        window,
        mime_type: format.mime_type(),
        output_bytes: bytes.len(),
        failed_tiles: tiles.iter().filter(|t| t.error.is_some()).count(),
        tiles,
    };
    Ok((
        out,
        vec![EncodedImage {
            mime_type: format.mime_type(),
            data: bytes,
        }],
    ))
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
    fn slices_follow_the_normal_then_frames() {
        use serde_json::json;
        let inst = |z: f64, n: i64, frames: usize| {
            json!({"DICOM": {"ImagePositionPatient": [0, 0, z], "InstanceNumber": n,
                             "ImageOrientationPatient": [1, 0, 0, 0, 1, 0]},
                   "ImageFrames": (0..frames).map(|k| json!({"ID": format!("f{n}.{k}")})).collect::<Vec<_>>()})
        };
        // Instance numbers run against the positions; one instance has no frames.
        let doc = json!({"Study": {"Series": {"1.2": {"DICOM": {}, "Instances": {
            "a": inst(30.0, 1, 1), "b": inst(10.0, 3, 1), "c": inst(20.0, 2, 1), "d": inst(5.0, 4, 0)}}}}});
        let (s, by_position) = slices(&doc, "1.2").unwrap();
        assert!(by_position);
        let got: Vec<(&str, Option<i64>, Option<f64>)> = s
            .iter()
            .map(|s| (s.sop.as_str(), s.instance_number, s.location))
            .collect();
        assert_eq!(
            got,
            [
                ("b", Some(3), Some(10.0)),
                ("c", Some(2), Some(20.0)),
                ("a", Some(1), Some(30.0))
            ]
        );
        // One multi-frame instance: its frames in order, without per-frame locations.
        let doc = json!({"Study": {"Series": {"1.3": {"DICOM": {}, "Instances": {"m": inst(0.0, 1, 4)}}}}});
        let (s, _) = slices(&doc, "1.3").unwrap();
        assert_eq!(
            s.iter().map(|s| s.frame_index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert!(s.iter().all(|s| s.location.is_none()));
        assert_eq!(slices(&doc, "9.9").unwrap_err().kind, ErrorType::NotFound);
    }

    #[test]
    fn tiles_are_pasted_in_order_and_labelled() {
        let grid = Grid::for_tiles(3, 16, 32);
        let tile = |v: u8| {
            Some(Raster {
                width: 32,
                height: 16,
                channels: 1,
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
        assert_eq!((sheet.width, sheet.height, sheet.channels), (64, 32, 1));
        let at = |x: usize, y: usize| sheet.data[y * sheet.width as usize + x];
        assert_eq!(at(31, 15), 50); // tile 0, bottom right: untouched by the label
        assert_eq!(at(63, 15), 0); // tile 1 failed: black
        assert_eq!(at(31, 31), 90); // tile 2
                                    // The label band is black with white glyph pixels inside it.
        let band: Vec<u8> = (0..10)
            .flat_map(|y| (0..18).map(move |x| (x, y)))
            .map(|(x, y)| at(x, y))
            .collect();
        assert!(band.contains(&255) && band.contains(&0) && !band.contains(&50));
        assert_eq!(label_text(Some(12), Some(-34.56), None), "#12 -34.6mm");
        assert_eq!(label_text(Some(1), None, Some(3)), "#1 f3");
        assert_eq!(label_text(None, None, None), "#?");
    }
}
