//! Xiaowu's document-photo pipeline: bytes of an uploaded photo in, a safe, normalised, watermarked JPEG
//! and a thumbnail out. Pure and synchronous: callers run it on a bounded blocking pool.
//!
//! Order matters for safety and speed: size and format are checked on the raw bytes, the JPEG's
//! structure (no truncation) before any decoding, the dimensions from the header before any pixel
//! is allocated, and every decode reserves its buffer against a memory limit. The image is resized
//! before it is rotated upright (EXIF orientation), so the rotation touches at most 2048² pixels.
//! Nothing of the original's metadata (EXIF, GPS, camera) survives: the output is re-encoded.
#![forbid(unsafe_code)]

mod error;
mod sniff;
mod watermark;

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use sha2::{Digest, Sha256};

pub use error::DocError;
pub use sniff::{sniff, Format};
pub use watermark::Watermark;

/// What the pipeline accepts.
#[derive(Debug, Clone)]
pub struct PipelineLimits {
    pub max_upload_bytes: usize,
    pub max_side: u32,
    pub max_pixels: u64,
    /// Bytes any single decode may allocate.
    pub max_alloc: u64,
    /// Longest edge of the normalised image.
    pub max_edge: u32,
    pub thumbnail_edge: u32,
    pub jpeg_quality: u8,
}

impl Default for PipelineLimits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 20 * 1024 * 1024,
            max_side: 12_000,
            max_pixels: 50_000_000,
            max_alloc: 160 * 1024 * 1024,
            max_edge: 2048,
            thumbnail_edge: 320,
            jpeg_quality: 85,
        }
    }
}

/// A processed document.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The normalised, upright, watermarked JPEG (no metadata).
    pub jpeg: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub source_format: Format,
    /// The EXIF orientation that was applied (1 = none).
    pub orientation: u8,
    pub sha256_original: String,
    pub sha256_result: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the whole pipeline.
pub fn process(bytes: &[u8], watermark: &Watermark, limits: &PipelineLimits) -> Result<Processed, DocError> {
    if bytes.is_empty() {
        return Err(DocError::Empty);
    }
    if bytes.len() > limits.max_upload_bytes {
        return Err(DocError::TooLarge { size: bytes.len() as u64, limit: limits.max_upload_bytes as u64 });
    }
    let format = sniff(bytes)?;
    if format == Format::Jpeg {
        sniff::check_jpeg_complete(bytes)?;
    }
    let (img, orientation) = decode(bytes, format, limits)?;
    let rgb = flatten_to_rgb(img);
    let (w, h) = (rgb.width(), rgb.height());
    let (tw, th) = fit(w, h, limits.max_edge);
    let resized = resize_rgb(rgb.into_raw(), w, h, tw, th)?;
    let mut upright = DynamicImage::ImageRgb8(
        image::RgbImage::from_raw(tw, th, resized).ok_or(DocError::Internal("resize buffer size"))?,
    );
    upright.apply_orientation(orientation);
    let mut upright = upright.into_rgb8();
    watermark.stamp(&mut upright);
    let (width, height) = (upright.width(), upright.height());
    let jpeg = encode_jpeg(upright.as_raw(), width, height, limits.jpeg_quality)?;
    let (thw, thh) = fit(width, height, limits.thumbnail_edge);
    let thumb = resize_rgb(upright.into_raw(), width, height, thw, thh)?;
    let thumbnail = encode_jpeg(&thumb, thw, thh, 80)?;
    Ok(Processed {
        sha256_original: sha256_hex(bytes),
        sha256_result: sha256_hex(&jpeg),
        jpeg,
        thumbnail,
        width,
        height,
        source_format: format,
        orientation: exif_number(orientation),
    })
}

/// Decodes within the limits: dimensions from the header first, then a reserved allocation.
fn decode(
    bytes: &[u8],
    format: Format,
    limits: &PipelineLimits,
) -> Result<(DynamicImage, image::metadata::Orientation), DocError> {
    let mut lim = Limits::default();
    lim.max_image_width = Some(limits.max_side);
    lim.max_image_height = Some(limits.max_side);
    lim.max_alloc = Some(limits.max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(lim.clone());
    let mut decoder = reader.into_decoder().map_err(DocError::from_image)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(DocError::Corrupt("zero-sized image".into()));
    }
    if w > limits.max_side || h > limits.max_side || u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(DocError::Dimensions { width: w, height: h });
    }
    // `into_decoder` does not account the output buffer against `max_alloc`: reserve it here.
    lim.reserve(decoder.total_bytes()).map_err(DocError::from_image)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(DocError::from_image)?;
    Ok((img, orientation))
}

/// RGB8, with any alpha composited onto white (a transparent PNG must not turn black).
fn flatten_to_rgb(img: DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = image::RgbImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    out
}

/// The size that fits `w`×`h` into a square of `edge` (never upscales).
fn fit(w: u32, h: u32, edge: u32) -> (u32, u32) {
    let longest = w.max(h);
    if longest <= edge {
        return (w, h);
    }
    let scale = edge as f64 / longest as f64;
    (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1))
}

fn resize_rgb(buf: Vec<u8>, w: u32, h: u32, tw: u32, th: u32) -> Result<Vec<u8>, DocError> {
    if (w, h) == (tw, th) {
        return Ok(buf);
    }
    let src = Image::from_vec_u8(w, h, buf, PixelType::U8x3).map_err(|_| DocError::Internal("resize source"))?;
    let mut dst = Image::new(tw, th, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(&src, &mut dst, &options).map_err(|_| DocError::Internal("resize"))?;
    Ok(dst.into_vec())
}

fn encode_jpeg(rgb: &[u8], w: u32, h: u32, quality: u8) -> Result<Vec<u8>, DocError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    let (w16, h16) = (u16::try_from(w), u16::try_from(h));
    let (Ok(w16), Ok(h16)) = (w16, h16) else { return Err(DocError::Internal("image too large to encode")) };
    enc.encode(rgb, w16, h16, jpeg_encoder::ColorType::Rgb).map_err(|_| DocError::Internal("jpeg encode"))?;
    Ok(out)
}

fn exif_number(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation::*;
    match o {
        NoTransforms => 1,
        FlipHorizontal => 2,
        Rotate180 => 3,
        FlipVertical => 4,
        Rotate90FlipH => 5,
        Rotate90 => 6,
        Rotate270FlipH => 7,
        Rotate270 => 8,
    }
}
