//! Reading an image file: its format, the size limits, EXIF orientation,
//! and the Pillow mode it opens as (`convert('RGB')` / `convert('L')` are in
//! [`crate::io::preprocess`]).
//!
//! Everything that can make decoding expensive is settled from the file's
//! header, before a single pixel is decoded: the declared size against
//! [`DecodeOptions::max_pixels`], and for JPEG whether the file is even long
//! enough to hold that many pixels. A 4 KB file that declares 23000x23000
//! pixels is refused in microseconds instead of costing 2 GB and a minute and
//! a half of decoding (the decoder would fill the missing part with grey).

use std::io::Cursor;

use image::metadata::Orientation as Transform;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::{Error, Result};

/// The default largest image, in pixels: 100 megapixels, above every phone
/// camera's usual output (12-50 MP) and a 100 MP medium-format frame, and
/// 300 MB as 8-bit RGB once decoded.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// Whether a photo's EXIF orientation tag is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Orientation {
    /// Rotate and flip the pixels as the tag says, so that the photo (and
    /// its map) are in the orientation every viewer shows. The default.
    #[default]
    FromExif,
    /// Use the pixels as stored, as the official code does (Pillow's
    /// `Image.open` ignores the tag): the conformance mode.
    Ignore,
}

/// How image files are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    pub orientation: Orientation,
    /// The largest image accepted, in pixels (width x height as stored).
    pub max_pixels: u64,
}

impl DecodeOptions {
    /// The official code's behaviour (EXIF orientation ignored), with the
    /// default size limit: what the conformance tests use.
    pub const OFFICIAL: DecodeOptions = DecodeOptions {
        orientation: Orientation::Ignore,
        max_pixels: DEFAULT_MAX_IMAGE_PIXELS,
    };
}

impl Default for DecodeOptions {
    /// EXIF orientation applied, default size limit.
    fn default() -> DecodeOptions {
        DecodeOptions {
            orientation: Orientation::FromExif,
            max_pixels: DEFAULT_MAX_IMAGE_PIXELS,
        }
    }
}

/// The formats that are decoded, as users name them.
pub const READ_FORMATS: &str = "PNG, JPEG, WebP, GIF, BMP or TIFF";

/// What an image file's header says, read without decoding its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// "PNG", "JPEG", ...
    pub format: &'static str,
    /// Width as the photo will be used (after the EXIF orientation, when applied).
    pub width: u32,
    /// Height as the photo will be used.
    pub height: u32,
    /// Whether the EXIF orientation changes the pixels (and was applied).
    pub transformed: bool,
}

impl ImageInfo {
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Reads an image's header and checks it against the options, without
/// decoding it: its format, its size (as it will be used) and whether
/// decoding it is allowed. Every error [`decode`] could give before
/// decoding pixels comes from here, so a caller can check a whole group
/// cheaply before decoding any of it.
pub fn probe(bytes: &[u8], opts: &DecodeOptions) -> Result<ImageInfo> {
    Ok(open(bytes, opts)?.1)
}

fn megapixels(p: u64) -> String {
    let mp = p as f64 / 1e6;
    if mp >= 10.0 {
        format!("{mp:.0}")
    } else {
        format!("{mp:.1}")
    }
}

/// Brands of the ISO base-media (HEIF) container: HEIC and AVIF photos.
fn heif_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 12 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    match &bytes[8..12] {
        b"avif" | b"avis" => Some("AVIF"),
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"hevm" | b"hevs" | b"mif1"
        | b"msf1" => Some("HEIC"),
        _ => None,
    }
}

/// The least a complete JPEG can hold: every 8x8 block of the first
/// component codes at least its DC coefficient, one Huffman code of at least
/// one bit, in every scan. A file shorter than that is truncated, whatever
/// its end-of-image marker says.
fn jpeg_min_bytes(width: u32, height: u32) -> u64 {
    let blocks = u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8));
    blocks / 8
}

fn open<'a>(
    bytes: &'a [u8],
    opts: &DecodeOptions,
) -> Result<(impl ImageDecoder + 'a, ImageInfo, Transform)> {
    if bytes.is_empty() {
        return Err(Error::Image("The image file is empty.".into()));
    }
    if let Some(kind) = heif_kind(bytes) {
        return Err(Error::Image(format!(
            "The file is a {kind} image, which is not read (only {READ_FORMATS}); convert it to JPEG or PNG first."
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("The image could not be read: {}.", clause(&e))))?;
    let format = match reader.format() {
        Some(ImageFormat::Png) => "PNG",
        Some(ImageFormat::WebP) => "WebP",
        Some(ImageFormat::Gif) => "GIF",
        Some(ImageFormat::Bmp) => "BMP",
        Some(ImageFormat::Tiff) => "TIFF",
        Some(ImageFormat::Jpeg) => {
            if !jpeg_is_complete(bytes) {
                // zune-jpeg would fill the missing part with grey; Pillow
                // refuses ("image file is truncated"), and so do we.
                return Err(Error::Image(
                    "The JPEG image is truncated (its end-of-image marker is missing).".into(),
                ));
            }
            "JPEG"
        }
        _ => {
            return Err(Error::Image(format!(
                "The file is not a {READ_FORMATS} image."
            )))
        }
    };
    // The pixel limit below is the one that speaks; the decoder's own
    // allocation limit only has to let an allowed image through (8 bytes a
    // pixel covers 16-bit RGBA) and stop anything the header did not announce.
    let mut limits = Limits::default();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| describe(&e, format))?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(Error::Image(format!(
            "The image has no pixels ({width}x{height})."
        )));
    }
    if pixels > opts.max_pixels {
        return Err(Error::Image(format!(
            "The image is {width}x{height} pixels ({} megapixels), more than the limit of {} megapixels per image.",
            megapixels(pixels),
            megapixels(opts.max_pixels)
        )));
    }
    if format == "JPEG" && (bytes.len() as u64) < jpeg_min_bytes(width, height) {
        return Err(Error::Image(format!(
            "The JPEG image is truncated: it declares {width}x{height} pixels but holds only {} bytes, fewer than any complete JPEG of that size needs.",
            bytes.len()
        )));
    }
    let transform = match opts.orientation {
        // A damaged EXIF block is not worth losing the photo over.
        Orientation::FromExif => decoder.orientation().unwrap_or(Transform::NoTransforms),
        Orientation::Ignore => Transform::NoTransforms,
    };
    let swaps = matches!(
        transform,
        Transform::Rotate90
            | Transform::Rotate270
            | Transform::Rotate90FlipH
            | Transform::Rotate270FlipH
    );
    let (width, height) = if swaps {
        (height, width)
    } else {
        (width, height)
    };
    let info = ImageInfo {
        format,
        width,
        height,
        transformed: transform != Transform::NoTransforms,
    };
    Ok((decoder, info, transform))
}

/// An `image` error as one sentence a user can act on. The decoders' own
/// messages sometimes embed Rust debug output (a PNG checksum error names
/// `ChunkType { type: IDAT, critical: true, ... }`); those become a plain
/// "damaged" sentence.
fn describe(e: &ImageError, format: &str) -> Error {
    let text = clause(e);
    let msg = match e {
        ImageError::Limits(_) => format!(
            "The {format} image needs more memory to decode than its size allows ({text})."
        ),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("The {format} image is truncated.")
        }
        ImageError::Unsupported(_) => {
            format!("The {format} image uses a feature that is not supported: {text}.")
        }
        _ if text.contains("CRC") => format!(
            "The {format} image is damaged: a checksum does not match (was the file cut short or changed in transfer?)."
        ),
        _ if text.contains('{') || text.contains("Chunk") => {
            format!("The {format} image is damaged and could not be decoded.")
        }
        ImageError::Decoding(_) => {
            format!("The {format} image is damaged and could not be decoded ({text}).")
        }
        _ => format!("The {format} image could not be decoded: {text}."),
    };
    Error::Image(msg)
}

/// Decodes an image as [`probe`] describes it: EXIF orientation applied when
/// asked for, then its pixels in the Pillow mode the file opens as.
pub(crate) fn decode(bytes: &[u8], opts: &DecodeOptions) -> Result<Decoded> {
    let (decoder, info, transform) = open(bytes, opts)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| describe(&e, info.format))?;
    img.apply_orientation(transform);
    let (width, height) = (img.width() as usize, img.height() as usize);
    let pixels = match img {
        DynamicImage::ImageLuma8(b) => Pixels::L(b.into_raw()),
        DynamicImage::ImageLumaA8(b) => {
            Pixels::L(b.into_raw().chunks_exact(2).map(|p| p[0]).collect())
        }
        DynamicImage::ImageRgb8(b) => Pixels::Rgb(b.into_raw()),
        DynamicImage::ImageRgba8(b) => Pixels::Rgb(
            b.into_raw()
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        ),
        DynamicImage::ImageLuma16(b) => Pixels::I16(b.into_raw()),
        DynamicImage::ImageLumaA16(b) => {
            let raw = b.into_raw();
            let grey: Vec<u16> = raw.chunks_exact(2).map(|p| p[0]).collect();
            if png_color_type(bytes) == Some(0) {
                // 16-bit grey with a tRNS chunk: Pillow opens it as 'I;16'.
                Pixels::I16(grey)
            } else {
                // 16-bit grey+alpha: Pillow opens it as RGBA from the high bytes.
                Pixels::L(high_bytes(&grey))
            }
        }
        DynamicImage::ImageRgb16(b) => Pixels::Rgb(high_bytes(&b.into_raw())),
        DynamicImage::ImageRgba16(b) => Pixels::Rgb(
            b.into_raw()
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .map(|x| (x >> 8) as u8)
                .collect(),
        ),
        other => {
            return Err(Error::Image(format!(
                "The image's pixel format ({:?}) is not supported.",
                other.color()
            )))
        }
    };
    Ok(Decoded {
        width,
        height,
        pixels,
    })
}

// ---------------------------------------------------------------------------
// Pillow's modes
// ---------------------------------------------------------------------------

/// Pixels in the Pillow mode the file opens as, with any alpha already
/// dropped (both `convert('RGB')` and `convert('L')` ignore it).
pub(crate) enum Pixels {
    /// 'L' (also '1', 'LA', 8-bit grey+alpha): one byte per pixel.
    L(Vec<u8>),
    /// 'RGB'/'RGBA'/'P' and 16-bit colour (Pillow keeps the high byte): RGB triples.
    Rgb(Vec<u8>),
    /// 'I;16': 16-bit grey PNG. Pillow clips it to 255 on conversion.
    I16(Vec<u16>),
}

pub(crate) struct Decoded {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) pixels: Pixels,
}

/// Pillow's `L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16` (ITU-R 601-2 luma).
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b) + 0x8000) >> 16) as u8
}

/// Pillow's 'I;16' to 'L'/'RGB': values above 255 become 255, no scaling.
fn clip16(v: u16) -> u8 {
    v.min(255) as u8
}

impl Decoded {
    /// `convert('RGB')`.
    pub(crate) fn to_rgb(&self) -> Vec<u8> {
        match &self.pixels {
            Pixels::Rgb(v) => v.clone(),
            Pixels::L(v) => v.iter().flat_map(|&l| [l, l, l]).collect(),
            Pixels::I16(v) => v.iter().flat_map(|&x| [clip16(x); 3]).collect(),
        }
    }

    /// `convert('L')`.
    pub(crate) fn to_l(&self) -> Vec<u8> {
        match &self.pixels {
            Pixels::L(v) => v.clone(),
            Pixels::Rgb(v) => v.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect(),
            Pixels::I16(v) => v.iter().map(|&x| clip16(x)).collect(),
        }
    }
}

/// PNG colour type from the IHDR chunk, if `bytes` is a PNG.
fn png_color_type(bytes: &[u8]) -> Option<u8> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    (bytes.len() >= 26 && bytes.starts_with(SIG) && &bytes[12..16] == b"IHDR").then(|| bytes[25])
}

/// Whether a JPEG stream has an end-of-image marker (FF D9) after its first
/// start-of-scan (FF DA). Searching after the scan start skips EXIF thumbnails;
/// entropy-coded data cannot contain FF D9 (FF bytes are stuffed as FF 00).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// An error's text as a clause inside our own sentence (no final period).
pub(crate) fn clause(e: &dyn std::fmt::Display) -> String {
    e.to_string().trim_end().trim_end_matches('.').to_string()
}

fn high_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().map(|&x| (x >> 8) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage};

    /// A photo whose pixels all differ, so that any rotation or flip shows.
    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        })
    }

    fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// A minimal little-endian EXIF block holding only an Orientation tag.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut t = b"II*\0".to_vec();
        t.extend(8u32.to_le_bytes()); // IFD0 offset
        t.extend(1u16.to_le_bytes()); // one entry
        t.extend(0x0112u16.to_le_bytes()); // Orientation
        t.extend(3u16.to_le_bytes()); // SHORT
        t.extend(1u32.to_le_bytes()); // count
        t.extend(value.to_le_bytes());
        t.extend([0, 0]);
        t.extend(0u32.to_le_bytes()); // no next IFD
        t
    }

    /// `jpeg` with an APP1 EXIF segment right after SOI.
    pub(crate) fn with_exif_jpeg(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend(exif_orientation(orientation));
        let mut out = jpeg[..2].to_vec();
        out.extend([0xFF, 0xE1]);
        out.extend(((payload.len() + 2) as u16).to_be_bytes());
        out.extend(payload);
        out.extend(&jpeg[2..]);
        out
    }

    fn rgb(d: &Decoded) -> (usize, usize, Vec<u8>) {
        (d.width, d.height, d.to_rgb())
    }

    #[test]
    fn exif_orientation_is_applied_or_ignored() {
        // PNG keeps pixels exact, so compare rotations on a lossless photo
        // carried in a JPEG-independent way: decode the JPEG as stored, then
        // check the oriented decode against our own rotation of it.
        let photo = gradient(64, 48);
        let jpeg = encode(&photo, ImageFormat::Jpeg);
        let tagged = with_exif_jpeg(&jpeg, 6);
        let stored = decode(&tagged, &DecodeOptions::OFFICIAL).unwrap();
        assert_eq!((stored.width, stored.height), (64, 48));
        assert_eq!(
            rgb(&stored),
            rgb(&decode(&jpeg, &DecodeOptions::OFFICIAL).unwrap())
        );

        let info = probe(&tagged, &DecodeOptions::default()).unwrap();
        assert_eq!((info.width, info.height, info.transformed), (48, 64, true));
        let shown = decode(&tagged, &DecodeOptions::default()).unwrap();
        assert_eq!((shown.width, shown.height), (48, 64));
        // Orientation 6: the stored image turned 90 degrees clockwise, so the
        // shown pixel (x, y) is the stored pixel (y, H - 1 - x).
        let (s, o) = (stored.to_rgb(), shown.to_rgb());
        for y in 0..64 {
            for x in 0..48 {
                let (sx, sy) = (y, 47 - x);
                assert_eq!(o[(y * 48 + x) * 3..][..3], s[(sy * 64 + sx) * 3..][..3]);
            }
        }
        // No tag, or tag 1: nothing changes.
        let plain = probe(&jpeg, &DecodeOptions::default()).unwrap();
        assert_eq!(
            (plain.width, plain.height, plain.transformed),
            (64, 48, false)
        );
        let one = with_exif_jpeg(&jpeg, 1);
        assert!(!probe(&one, &DecodeOptions::default()).unwrap().transformed);
        // Tag 3 (180 degrees) keeps the size.
        let half = probe(&with_exif_jpeg(&jpeg, 3), &DecodeOptions::default()).unwrap();
        assert_eq!((half.width, half.height, half.transformed), (64, 48, true));
    }

    #[test]
    fn size_limits_are_checked_before_decoding() {
        // A real 16x16 JPEG whose frame header is edited to 23000x23000: a
        // few hundred bytes that would decode to 529 million grey pixels.
        let small = encode(&gradient(16, 16), ImageFormat::Jpeg);
        let sof = small.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let mut bomb = small.clone();
        bomb[sof + 5..sof + 7].copy_from_slice(&23000u16.to_be_bytes());
        bomb[sof + 7..sof + 9].copy_from_slice(&23000u16.to_be_bytes());
        let t = std::time::Instant::now();
        let e = probe(&bomb, &DecodeOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("23000x23000") && e.contains("529 megapixels") && e.contains("limit of 100"),
            "{e}"
        );
        // Under a limit that allows the size, the length check still refuses it.
        let lax = DecodeOptions {
            max_pixels: 1 << 30,
            ..DecodeOptions::default()
        };
        let e = decode(&bomb, &lax).err().unwrap().to_string();
        assert!(
            e.contains("truncated") && e.contains("declares 23000x23000"),
            "{e}"
        );
        assert!(t.elapsed().as_secs_f64() < 1.0, "{:?}", t.elapsed());

        // The limit is adjustable and exact.
        let tight = DecodeOptions {
            max_pixels: 16 * 16,
            ..DecodeOptions::default()
        };
        assert!(probe(&small, &tight).is_ok());
        let tighter = DecodeOptions {
            max_pixels: 16 * 16 - 1,
            ..DecodeOptions::default()
        };
        let e = probe(&small, &tighter).unwrap_err().to_string();
        assert!(
            e.contains("16x16 pixels") && e.contains("more than the limit"),
            "{e}"
        );
    }

    #[test]
    fn gif_bmp_tiff_are_read_heic_avif_are_named() {
        let photo = gradient(20, 10);
        for format in [ImageFormat::Bmp, ImageFormat::Tiff, ImageFormat::Png] {
            let d = decode(&encode(&photo, format), &DecodeOptions::default()).unwrap();
            assert_eq!(rgb(&d), (20, 10, photo.as_raw().clone()), "{format:?}");
        }
        let mut gif = Cursor::new(Vec::new());
        image::codecs::gif::GifEncoder::new(&mut gif)
            .encode(
                &image::RgbaImage::from_pixel(5, 4, image::Rgba([10, 200, 30, 255])).into_raw(),
                5,
                4,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        let d = decode(gif.get_ref(), &DecodeOptions::default()).unwrap();
        assert_eq!((d.width, d.height), (5, 4));
        assert!(
            d.to_rgb().chunks(3).all(|p| p == [10, 200, 30]),
            "{:?}",
            &d.to_rgb()[..6]
        );
        assert_eq!(
            probe(gif.get_ref(), &DecodeOptions::default())
                .unwrap()
                .format,
            "GIF"
        );
        for (brand, kind) in [(b"heic", "HEIC"), (b"avif", "AVIF"), (b"mif1", "HEIC")] {
            let mut f = b"\0\0\0\x18ftyp".to_vec();
            f.extend(brand);
            f.extend([0; 12]);
            let e = probe(&f, &DecodeOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("is a {kind} image, which is not read")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_damaged_png_is_one_plain_sentence() {
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(
                gradient(30, 20).as_raw(),
                30,
                20,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[idat - 4..idat].try_into().unwrap()) as usize;
        // A wrong checksum (the data intact), then corrupt data.
        let mut bad_crc = png.clone();
        bad_crc[idat + 4 + len] ^= 0x55;
        let mut bad_data = png.clone();
        bad_data[idat + 10] ^= 0x55;
        for (what, bytes) in [("checksum", bad_crc), ("data", bad_data)] {
            let e = match decode(&bytes, &DecodeOptions::default()) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("a PNG with a damaged {what} decoded"),
            };
            assert!(!e.contains('{') && !e.contains("ChunkType"), "{what}: {e}");
            assert!(
                e.starts_with("The PNG image is damaged") && e.ends_with('.'),
                "{what}: {e}"
            );
            eprintln!("{what}: {e}");
        }
    }
}
