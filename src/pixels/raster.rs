//! 8-bit rasters (grey or RGB): area-averaging downscale and PNG / JPEG encoding.

use super::PixelError;

/// An 8-bit image, rows top to bottom, `channels` (1 grey, 3 RGB) interleaved samples per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageFormat {
    #[default]
    Png,
    Jpeg,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }
}

/// The size a `width` x `height` image gets when its longer side is at most `max_size`
/// (aspect kept; never enlarged; at least 1x1).
pub fn fit(width: u32, height: u32, max_size: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= max_size || longer == 0 {
        return (width, height);
    }
    let scale = f64::from(max_size) / f64::from(longer);
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, max_size);
    (side(width), side(height))
}

/// Source index range `[start, end)` that output index `i` of `out` covers in `len`.
fn span(i: u32, out: u32, len: u32) -> (usize, usize) {
    let start = (u64::from(i) * u64::from(len) / u64::from(out)) as usize;
    let end = (u64::from(i + 1) * u64::from(len) / u64::from(out)) as usize;
    (start, end.max(start + 1))
}

impl Raster {
    /// The raster scaled down to `width` x `height` by averaging each output pixel's source
    /// box (area averaging: no aliasing on thin structures, unlike point sampling).
    pub fn downscale(&self, width: u32, height: u32) -> Raster {
        if (width, height) == (self.width, self.height) || width == 0 || height == 0 {
            return self.clone();
        }
        let ch = usize::from(self.channels);
        let stride = self.width as usize * ch;
        let columns: Vec<(usize, usize)> = (0..width).map(|x| span(x, width, self.width)).collect();
        let mut data = Vec::with_capacity(width as usize * height as usize * ch);
        let mut sums = vec![0u32; width as usize * ch];
        for y in 0..height {
            let (y0, y1) = span(y, height, self.height);
            sums.iter_mut().for_each(|s| *s = 0);
            for row in self.data[y0 * stride..y1 * stride].chunks_exact(stride) {
                for (x, &(x0, x1)) in columns.iter().enumerate() {
                    for px in row[x0 * ch..x1 * ch].chunks_exact(ch) {
                        for c in 0..ch {
                            sums[x * ch + c] += u32::from(px[c]);
                        }
                    }
                }
            }
            for (x, &(x0, x1)) in columns.iter().enumerate() {
                let n = ((x1 - x0) * (y1 - y0)) as u32;
                for c in 0..ch {
                    data.push(((sums[x * ch + c] + n / 2) / n) as u8);
                }
            }
        }
        Raster {
            width,
            height,
            channels: self.channels,
            data,
        }
    }
}

/// The raster as a PNG or JPEG (quality 90) file.
pub fn encode(raster: &Raster, format: ImageFormat) -> Result<Vec<u8>, PixelError> {
    let failed = |e: &dyn std::fmt::Display| PixelError::Encode(e.to_string());
    let mut out = Vec::new();
    match format {
        ImageFormat::Png => {
            let mut encoder = png::Encoder::new(&mut out, raster.width, raster.height);
            encoder.set_color(if raster.channels == 3 {
                png::ColorType::Rgb
            } else {
                png::ColorType::Grayscale
            });
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let mut writer = encoder.write_header().map_err(|e| failed(&e))?;
            writer
                .write_image_data(&raster.data)
                .map_err(|e| failed(&e))?;
            writer.finish().map_err(|e| failed(&e))?;
        }
        ImageFormat::Jpeg => {
            let (w, h) = (
                u16::try_from(raster.width).map_err(|e| failed(&e))?,
                u16::try_from(raster.height).map_err(|e| failed(&e))?,
            );
            let color = if raster.channels == 3 {
                jpeg_encoder::ColorType::Rgb
            } else {
                jpeg_encoder::ColorType::Luma
            };
            jpeg_encoder::Encoder::new(&mut out, 90)
                .encode(&raster.data, w, h, color)
                .map_err(|e| failed(&e))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_never_enlarges() {
        assert_eq!(fit(512, 512, 512), (512, 512));
        assert_eq!(fit(1024, 512, 512), (512, 256));
        assert_eq!(fit(100, 3000, 300), (10, 300));
        assert_eq!(fit(64, 64, 512), (64, 64));
        assert_eq!(fit(5000, 1, 16), (16, 1));
    }

    #[test]
    fn downscale_averages_boxes() {
        let r = Raster {
            width: 4,
            height: 2,
            channels: 1,
            data: vec![0, 255, 10, 20, 0, 255, 30, 40],
        };
        let d = r.downscale(2, 1);
        assert_eq!(d.data, vec![128, 25]);
        let rgb = Raster {
            width: 2,
            height: 1,
            channels: 3,
            data: vec![0, 100, 200, 255, 0, 100],
        };
        assert_eq!(rgb.downscale(1, 1).data, vec![128, 50, 150]);
    }

    #[test]
    fn encodes_png_and_jpeg() {
        let r = Raster {
            width: 3,
            height: 2,
            channels: 1,
            data: vec![0, 50, 100, 150, 200, 250],
        };
        let png = encode(&r, ImageFormat::Png).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let decoded = png::Decoder::new(std::io::Cursor::new(&png))
            .read_info()
            .unwrap();
        assert_eq!((decoded.info().width, decoded.info().height), (3, 2));
        let jpeg = encode(&r, ImageFormat::Jpeg).unwrap();
        assert!(jpeg.starts_with(&[0xFF, 0xD8]));
        let mut d = jpeg_decoder::Decoder::new(&jpeg[..]);
        assert_eq!(d.decode().unwrap().len(), 6);
    }
}
