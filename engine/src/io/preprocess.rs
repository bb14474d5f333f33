//! Image pre-processing, bit-exact with the official test path (SPEC §4):
//! `PIL.Image.open(p).convert('RGB'|'L')`, `Image.resize((224, 224), BILINEAR)`,
//! then torchvision's `ToTensor` (+ `Normalize` for photos).
//!
//! Everything here is integer or single IEEE operations, so the results are the
//! same bytes on every platform (and the same as Pillow 13 / torch on x86-64).
//! The fixtures in `tests/golden/resize/` come from
//! `tests/reference/make_resize_fixtures.py`.
//!
//! Known limit of "exact": JPEG pixels come from the `image` crate's decoder
//! (zune-jpeg), not libjpeg-turbo. Its IDCT, chroma upsampling and YCbCr->RGB
//! conversion round differently, so decoded JPEGs differ from Pillow's in
//! roughly 1-25% of the bytes, by 1-2 levels typically and up to 4 on natural
//! photos (6 on a synthetic one with saturated colour edges). PNG, WebP (lossless
//! and lossy, image-webp matches libwebp) and everything after decoding match
//! Pillow exactly. CMYK JPEGs are converted by the decoder, not Pillow's
//! `cmyk2rgb` (max difference 2 on Pillow's own CMYK sample).

pub(crate) use crate::io::decode::clause;
use crate::io::decode::decode;
pub use crate::io::decode::{
    probe, DecodeOptions, ImageInfo, Orientation, DEFAULT_MAX_IMAGE_PIXELS, READ_FORMATS,
};
use crate::{Error, Result};

/// Side of the square network input. ICNet is evaluated at 224×224 and its
/// co-saliency modules (7×7, 14×14, 28×28) are built for exactly this size.
pub const SIZE: usize = 224;

/// How photos are turned into network input. Recorded in the weights'
/// metadata (`preprocess`) because the released ICNet checkpoint and a
/// Caffe-converted VGG backbone expect different inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preprocess {
    /// torchvision `ToTensor` + `Normalize(mean=[0.485,0.456,0.406],
    /// std=[0.229,0.224,0.225])`, RGB channel order: the official ICNet test code.
    Imagenet,
    /// Caffe VGG convention: BGR channel order, 0..255 scale, minus the
    /// per-channel means [103.939, 116.779, 123.68] (B, G, R).
    CaffeBgr,
}

impl Preprocess {
    /// Reads the `preprocess` metadata value of a weights file. A missing value
    /// means `imagenet`, the official checkpoint's convention.
    pub fn from_metadata(value: Option<&str>) -> Result<Preprocess> {
        match value {
            None | Some("imagenet") => Ok(Preprocess::Imagenet),
            Some("caffe-bgr") => Ok(Preprocess::CaffeBgr),
            Some(other) => Err(Error::Weights(format!(
                "The weights ask for pre-processing \"{other}\", but only \"imagenet\" and \"caffe-bgr\" are known."
            ))),
        }
    }
}

/// A photo ready for [`normalize`], plus its original size (the output map is
/// resized back to it, SPEC §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedPhoto {
    /// `SIZE*SIZE*3` bytes, HWC, RGB, after Pillow's bilinear resize.
    pub rgb: Vec<u8>,
    /// Original height in pixels (before the resize).
    pub height: u32,
    /// Original width in pixels (before the resize).
    pub width: u32,
}

/// Decodes a photo (PNG, JPEG or WebP, recognised from its content), converts
/// it to RGB as Pillow's `convert('RGB')` does and resizes it to 224×224 as
/// Pillow's `resize((224, 224), BILINEAR)` does.
///
/// Like Pillow: alpha is dropped (not composited), grey is replicated, palette
/// images take their palette colours, 16-bit colour keeps the high byte, and
/// 16-bit grey (Pillow's 'I;16') is clipped to 255, not scaled. EXIF
/// orientation is applied or ignored (`Image.open` ignores it) as `opts`
/// say. Empty, truncated, undecodable, zero-sized or too large images are an
/// [`Error::Image`].
pub fn prepare_photo(bytes: &[u8], opts: &DecodeOptions) -> Result<PreparedPhoto> {
    Ok(decode_photo(bytes, opts)?.prepare())
}

/// A decoded photo at its original size, RGB (Pillow's `convert('RGB')`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedPhoto {
    /// `height*width*3` bytes, HWC.
    pub rgb: Vec<u8>,
    pub height: u32,
    pub width: u32,
}

impl DecodedPhoto {
    /// The 224x224 network input of [`prepare_photo`].
    pub fn prepare(&self) -> PreparedPhoto {
        let (w, h) = (self.width as usize, self.height as usize);
        PreparedPhoto {
            rgb: pillow_resize_bilinear(&self.rgb, w, h, 3, SIZE, SIZE),
            height: self.height,
            width: self.width,
        }
    }
}

/// Decodes a photo as [`prepare_photo`] does, keeping its original size
/// (U²-Netp resizes it differently, and saliency maps go back to that size).
pub fn decode_photo(bytes: &[u8], opts: &DecodeOptions) -> Result<DecodedPhoto> {
    let img = decode(bytes, opts)?;
    Ok(DecodedPhoto {
        rgb: img.to_rgb(),
        height: img.height as u32,
        width: img.width as u32,
    })
}

/// Resizes an 8-bit grey map at a photo's original size to the 224x224 SISM
/// input, exactly as [`prepare_sism`] does after decoding a saved PNG.
pub fn sism_from_map(l: &[u8], width: u32, height: u32) -> Vec<u8> {
    pillow_resize_bilinear(l, width as usize, height as usize, 1, SIZE, SIZE)
}

/// Decodes a single-image saliency map (SISM), converts it to 8-bit grey as
/// Pillow's `convert('L')` does (`(19595 R + 38470 G + 7471 B + 0x8000) >> 16`
/// for colour, alpha ignored, 16-bit grey clipped to 255, 16-bit colour from
/// its high bytes) and resizes it to 224×224 (Pillow bilinear).
/// Returns `SIZE*SIZE` bytes, row-major. Errors as [`prepare_photo`].
pub fn prepare_sism(bytes: &[u8], opts: &DecodeOptions) -> Result<Vec<u8>> {
    let (l, w, h) = decode_sism(bytes, opts)?;
    Ok(sism_from_map(&l, w, h))
}

/// Decodes a SISM to 8-bit grey at its own size, as [`prepare_sism`] does:
/// `(pixels, width, height)`.
pub fn decode_sism(bytes: &[u8], opts: &DecodeOptions) -> Result<(Vec<u8>, u32, u32)> {
    let img = decode(bytes, opts)?;
    Ok((img.to_l(), img.width as u32, img.height as u32))
}

/// A photo and its given saliency map (if any), decoded and turned into what
/// a group run needs: see [`prepare_photo_inputs`].
#[derive(Clone, Debug)]
pub struct PhotoInputs {
    /// The photo at its own size (U²-Netp's input is made from it).
    pub photo: DecodedPhoto,
    /// The photo's 224x224 network input.
    pub prepared: PreparedPhoto,
    /// The saliency map, when one was given.
    pub sism: Option<GivenSism>,
}

/// A saliency map given with a photo, at the two sizes it is used at.
#[derive(Clone, Debug)]
pub struct GivenSism {
    /// The 224x224 SISM input ([`sism_from_map`]).
    pub sism224: Vec<u8>,
    /// 8-bit grey at the photo's size (resized with Pillow's bilinear filter
    /// when the map has another size), for saving and display.
    pub full: Vec<u8>,
}

/// Which input of [`prepare_photo_inputs`] could not be used, and why.
#[derive(Debug)]
pub enum PhotoInputError {
    Photo(Error),
    Sism(Error),
}

/// Decodes a photo and, when given, its saliency map, and makes the network
/// inputs: the photo at 224x224, the map at 224x224 and at the photo's size.
/// The photo is decoded first, so a bad photo is reported before its map.
///
/// `icnet run` and the web demo both call this, so that the same files give
/// the same inputs (and so the same maps, byte for byte) in both; the error
/// says which of the two files failed, for each caller to name it its way.
pub fn prepare_photo_inputs(
    photo: &[u8],
    sism: Option<&[u8]>,
    opts: &DecodeOptions,
) -> std::result::Result<PhotoInputs, PhotoInputError> {
    let photo = decode_photo(photo, opts).map_err(PhotoInputError::Photo)?;
    let sism = match sism {
        Some(bytes) => {
            let (grey, w, h) = decode_sism(bytes, opts).map_err(PhotoInputError::Sism)?;
            let sism224 = sism_from_map(&grey, w, h);
            let full = if (w, h) == (photo.width, photo.height) {
                grey
            } else {
                pillow_resize_bilinear(
                    &grey,
                    w as usize,
                    h as usize,
                    1,
                    photo.width as usize,
                    photo.height as usize,
                )
            };
            Some(GivenSism { sism224, full })
        }
        None => None,
    };
    Ok(PhotoInputs {
        prepared: photo.prepare(),
        photo,
        sism,
    })
}

/// ImageNet mean and standard deviation, as the float32 values torchvision uses.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Caffe VGG means, in B, G, R order.
const CAFFE_BGR_MEAN: [f32; 3] = [103.939, 116.779, 123.68];

/// Turns HWC RGB bytes (normally [`PreparedPhoto::rgb`], 224×224) into the
/// CHW float32 network input.
///
/// * `Imagenet`: `(f32(v) / 255 - mean[c]) / std[c]`, each step one float32
///   operation, in RGB order. This is exactly torchvision's
///   `ToTensor()` (`div(255)`) followed by `Normalize` (`sub_(mean).div_(std)`).
/// * `CaffeBgr`: channels B, G, R with `f32(v) - mean[c]`.
///
/// Any number of pixels is accepted; `rgb.len()` must be a multiple of 3
/// (a trailing partial pixel is ignored).
pub fn normalize(rgb: &[u8], mode: Preprocess) -> Vec<f32> {
    let n = rgb.len() / 3;
    let mut out = vec![0f32; 3 * n];
    for c in 0..3 {
        let plane = &mut out[c * n..(c + 1) * n];
        match mode {
            Preprocess::Imagenet => {
                let (mean, std) = (IMAGENET_MEAN[c], IMAGENET_STD[c]);
                for (o, px) in plane.iter_mut().zip(rgb.chunks_exact(3)) {
                    *o = (f32::from(px[c]) / 255.0 - mean) / std;
                }
            }
            Preprocess::CaffeBgr => {
                // output channel c is B, G, R for c = 0, 1, 2
                let src = 2 - c;
                let mean = CAFFE_BGR_MEAN[c];
                for (o, px) in plane.iter_mut().zip(rgb.chunks_exact(3)) {
                    *o = f32::from(px[src]) - mean;
                }
            }
        }
    }
    out
}

/// SISM bytes to floats in [0, 1]: `f32(v) / 255`, torchvision's `ToTensor`.
/// No binarisation and no normalisation (SPEC §4.3).
pub fn sism_to_f32(l: &[u8]) -> Vec<f32> {
    l.iter().map(|&v| f32::from(v) / 255.0).collect()
}

// ---------------------------------------------------------------------------
// Pillow's bilinear resample (libImaging/Resample.c)
// ---------------------------------------------------------------------------

/// Pillow's fixed-point precision: 32 bits minus 8 for the value minus 2
/// guard bits, so that sums of (possibly negative) weights cannot overflow.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per-output-pixel filter taps along one axis, in Pillow's fixed point.
struct Coeffs {
    /// Maximum number of taps; `k` holds `ksize` values per output pixel.
    ksize: usize,
    /// First source index and number of taps, per output pixel.
    bounds: Vec<(usize, usize)>,
    k: Vec<i32>,
}

/// Pillow's resampling filters used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Triangle, support 1 (`Image.BILINEAR`): ICNet's inputs.
    Bilinear,
    /// Truncated sinc, support 3 (`Image.LANCZOS`): rembg's U²-Netp input and output.
    Lanczos,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the whole
/// source range (box = 0..in_size). All in f64 exactly as the C code orders
/// it, then rounded half away from zero to 22 fractional bits.
fn precompute_coeffs(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    // (double)(in1 - in0) / outSize, with in0/in1 C floats
    let scale = f64::from(in_size as f32) / out_size as f64;
    // Downscaling widens the filter by the scale: this is Pillow's antialiasing.
    let filterscale = if scale < 1.0 { 1.0 } else { scale };
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let inv_filterscale = 1.0 / filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut k = vec![0i32; out_size * ksize];
    let mut w = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = 0.0 + (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero, as `as i64` does.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        let n = (xmax - xmin).max(0) as usize;
        let mut ww = 0.0;
        for (x, wx) in w.iter_mut().enumerate().take(n) {
            *wx = filter.weight(((x as i64 + xmin) as f64 - center + 0.5) * inv_filterscale);
            ww += *wx;
        }
        let row = &mut k[xx * ksize..(xx + 1) * ksize];
        for (kx, &wx) in row.iter_mut().zip(&w[..n]) {
            let v = if ww != 0.0 { wx / ww } else { wx };
            let scaled = v * f64::from(1u32 << PRECISION_BITS);
            *kx = if v < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        bounds.push((xmin as usize, n));
    }
    Coeffs { ksize, bounds, k }
}

/// Pillow's `clip8`: drop the fraction and clamp to 0..=255.
fn clip8(ss: i64) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// One pass along x: `src` is `h` rows of `w` pixels, the result `h` rows of
/// `out_w` pixels.
fn resample_horizontal(
    src: &[u8],
    w: usize,
    h: usize,
    c: usize,
    out_w: usize,
    filter: Filter,
) -> Vec<u8> {
    let co = precompute_coeffs(w, out_w, filter);
    let mut out = vec![0u8; out_w * h * c];
    for (line_in, line_out) in src.chunks_exact(w * c).zip(out.chunks_exact_mut(out_w * c)) {
        for (xx, px_out) in line_out.chunks_exact_mut(c).enumerate() {
            let (xmin, n) = co.bounds[xx];
            let k = &co.k[xx * co.ksize..xx * co.ksize + n];
            for (ch, o) in px_out.iter_mut().enumerate() {
                let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                for (x, &kx) in k.iter().enumerate() {
                    ss += i64::from(line_in[(xmin + x) * c + ch]) * i64::from(kx);
                }
                *o = clip8(ss);
            }
        }
    }
    out
}

/// One pass along y: `src` is `h` rows of `w` pixels, the result `out_h` rows.
fn resample_vertical(
    src: &[u8],
    w: usize,
    h: usize,
    c: usize,
    out_h: usize,
    filter: Filter,
) -> Vec<u8> {
    let co = precompute_coeffs(h, out_h, filter);
    let stride = w * c;
    let mut out = vec![0u8; stride * out_h];
    for (yy, line_out) in out.chunks_exact_mut(stride).enumerate() {
        let (ymin, n) = co.bounds[yy];
        let k = &co.k[yy * co.ksize..yy * co.ksize + n];
        for (i, o) in line_out.iter_mut().enumerate() {
            let mut ss: i64 = 1 << (PRECISION_BITS - 1);
            for (y, &ky) in k.iter().enumerate() {
                ss += i64::from(src[(ymin + y) * stride + i]) * i64::from(ky);
            }
            *o = clip8(ss);
        }
    }
    out
}

/// Pillow's `Image.resize((out_w, out_h), Image.BILINEAR)` on 8-bit
/// interleaved pixels (`h` rows of `w` pixels of `channels` bytes), bit for bit.
///
/// Pillow (libImaging/Resample.c) runs a separable triangle filter whose
/// support grows with the downscale factor (antialiasing), with weights in
/// fixed point (22 fractional bits, rounded half away from zero), a
/// `+ 2^21` rounding term, and rounding/clamping to uint8 after **each** pass.
/// A pass is skipped when its size is unchanged, and equal sizes are a copy.
/// Since Pillow 13 the pass order depends on the sizes: the vertical pass runs
/// first when the height shrinks by more than twice the amount (in pixels)
/// that the width shrinks, i.e. `out_h < h && h - out_h > 2 (w - out_w)`;
/// otherwise horizontal first (older Pillow always went horizontal first,
/// which can differ by 1 in some pixels).
///
/// Channels are filtered independently, which is Pillow's behaviour for L,
/// RGB, RGBX and CMYK; Pillow premultiplies RGBA/LA by alpha, which this does
/// not do. Empty sizes give an empty or zero-filled output.
///
/// # Panics
/// If `src.len() != w * h * channels`.
pub fn pillow_resize_bilinear(
    src: &[u8],
    w: usize,
    h: usize,
    channels: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    pillow_resize(src, w, h, channels, out_w, out_h, Filter::Bilinear)
}

/// [`pillow_resize_bilinear`] with any of the [`Filter`]s (same machinery in
/// Pillow; Lanczos weights can be negative, hence the clamping in `clip8`).
pub fn pillow_resize(
    src: &[u8],
    w: usize,
    h: usize,
    channels: usize,
    out_w: usize,
    out_h: usize,
    filter: Filter,
) -> Vec<u8> {
    assert_eq!(
        src.len(),
        w * h * channels,
        "pillow_resize: src has the wrong length"
    );
    if out_w == 0 || out_h == 0 || channels == 0 {
        return Vec::new();
    }
    if w == 0 || h == 0 {
        return vec![0; out_w * out_h * channels];
    }
    let need_h = out_w != w;
    let need_v = out_h != h;
    match (need_h, need_v) {
        (false, false) => src.to_vec(),
        (true, false) => resample_horizontal(src, w, h, channels, out_w, filter),
        (false, true) => resample_vertical(src, w, h, channels, out_h, filter),
        (true, true) => {
            let (w_i, h_i, ow_i, oh_i) = (w as i64, h as i64, out_w as i64, out_h as i64);
            let vertical_first = oh_i < h_i && h_i - oh_i > 2 * (w_i - ow_i);
            if vertical_first {
                let tmp = resample_vertical(src, w, h, channels, out_h, filter);
                resample_horizontal(&tmp, w, out_h, channels, out_w, filter)
            } else {
                // Pillow only filters the source rows the vertical pass will
                // read; every output row is the same either way.
                let tmp = resample_horizontal(src, w, h, channels, out_w, filter);
                resample_vertical(&tmp, out_w, h, channels, out_h, filter)
            }
        }
    }
}

/// Fixture helpers shared by the pre- and post-processing tests.
#[cfg(test)]
pub(crate) mod test_fixtures {
    use std::io::{BufReader, Read};
    use std::path::PathBuf;

    /// tests/golden/resize/, written by tests/reference/make_resize_fixtures.py.
    pub fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/resize")
    }

    /// Reads `name` (`.npy`, or gzip-compressed `.npy.gz`): shape and data.
    pub fn npy<T: npyz::Deserialize>(name: &str) -> (Vec<u64>, Vec<T>) {
        let path = dir().join(name);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| {
            panic!(
                "fixture {} missing ({e}); run make_resize_fixtures.py",
                path.display()
            )
        });
        let reader: Box<dyn Read> = if name.ends_with(".gz") {
            Box::new(flate2::read::GzDecoder::new(file))
        } else {
            Box::new(BufReader::new(file))
        };
        let npy = npyz::NpyFile::new(reader).unwrap();
        let shape = npy.shape().to_vec();
        (shape, npy.into_vec().unwrap())
    }

    pub fn exists(name: &str) -> bool {
        dir().join(name).exists()
    }

    /// Names in the fixture folder starting with `prefix` and ending with `suffix`.
    pub fn list(prefix: &str, suffix: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
            .collect();
        v.sort();
        v
    }

    /// FNV-1a 64, as `fnv1a64` in the fixture script.
    pub fn fnv1a64(data: &[u8]) -> u64 {
        data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }

    /// Row indices (rows of `row_bytes` bytes) whose hash differs from `want`.
    pub fn bad_rows(data: &[u8], row_bytes: usize, want: &[u64]) -> Vec<usize> {
        assert_eq!(data.len(), row_bytes * want.len(), "row count differs");
        data.chunks_exact(row_bytes)
            .zip(want)
            .enumerate()
            .filter(|(_, (r, &w))| fnv1a64(r) != w)
            .map(|(i, _)| i)
            .collect()
    }

    pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_fixtures::{bad_rows, dir, exists, f32_bytes, fnv1a64, list, npy};
    use super::*;

    #[test]
    fn metadata_values() {
        assert_eq!(
            Preprocess::from_metadata(None).unwrap(),
            Preprocess::Imagenet
        );
        assert_eq!(
            Preprocess::from_metadata(Some("imagenet")).unwrap(),
            Preprocess::Imagenet
        );
        assert_eq!(
            Preprocess::from_metadata(Some("caffe-bgr")).unwrap(),
            Preprocess::CaffeBgr
        );
        for bad in ["", "Imagenet", "caffe", "bgr"] {
            match Preprocess::from_metadata(Some(bad)) {
                Err(Error::Weights(msg)) => assert!(msg.contains("imagenet") && msg.ends_with('.')),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    /// The resampler alone against Pillow on L/RGB/CMYK arrays, including
    /// both pass orders, the order tie, single passes and 1-pixel images.
    #[test]
    fn resampler_matches_pillow() {
        let cases = list("rs_", ".src.npy");
        assert!(cases.len() >= 10, "resampler fixtures missing");
        for src_name in cases {
            let stem = src_name.trim_end_matches(".src.npy");
            let (s, src) = npy::<u8>(&src_name);
            let (o, want) = npy::<u8>(&format!("{stem}.out.npy"));
            let (h, w, c) = (s[0] as usize, s[1] as usize, s[2] as usize);
            let (oh, ow) = (o[0] as usize, o[1] as usize);
            let got = pillow_resize_bilinear(&src, w, h, c, ow, oh);
            let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(
                diff,
                0,
                "{stem}: {diff} of {} bytes differ from Pillow",
                want.len()
            );
        }
    }

    #[test]
    fn resampler_edge_sizes() {
        let src = [1u8, 2, 3, 4, 5, 6];
        assert_eq!(pillow_resize_bilinear(&src, 3, 2, 1, 3, 2), src);
        assert!(pillow_resize_bilinear(&src, 3, 2, 1, 0, 5).is_empty());
        assert_eq!(pillow_resize_bilinear(&[], 0, 0, 3, 2, 2), vec![0; 12]);
    }

    /// Every source file through the photo and SISM paths against Pillow's
    /// `convert('RGB'|'L').resize((224, 224), BILINEAR)` (row hashes).
    /// JPEG is decoded by zune-jpeg, not libjpeg-turbo: see `jpeg_decoder_vs_pillow`.
    #[test]
    fn photos_and_sisms_match_pillow() {
        let sources = std::fs::read_to_string(dir().join("sources.txt")).unwrap();
        let mut n = 0;
        for line in sources.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (name, mode, w, h) = (
                f[0],
                f[1],
                f[2].parse::<u32>().unwrap(),
                f[3].parse::<u32>().unwrap(),
            );
            let stem = name.rsplit_once('.').unwrap().0;
            let bytes = std::fs::read(dir().join(name)).unwrap();
            let photo = prepare_photo(&bytes, &DecodeOptions::OFFICIAL).unwrap();
            assert_eq!((photo.width, photo.height), (w, h), "{name}: original size");
            assert_eq!(photo.rgb.len(), SIZE * SIZE * 3);
            let sism = prepare_sism(&bytes, &DecodeOptions::OFFICIAL).unwrap();
            assert_eq!(sism.len(), SIZE * SIZE);
            if name.ends_with(".jpg") {
                continue;
            }
            let (_, want) = npy::<u64>(&format!("{stem}.rgb224.rowfnv.npy"));
            let bad = bad_rows(&photo.rgb, SIZE * 3, &want);
            assert!(
                bad.is_empty(),
                "{name} ({mode}) RGB: rows {bad:?} differ from Pillow"
            );
            let (_, want) = npy::<u64>(&format!("{stem}.l224.rowfnv.npy"));
            let bad = bad_rows(&sism, SIZE, &want);
            assert!(
                bad.is_empty(),
                "{name} ({mode}) L: rows {bad:?} differ from Pillow"
            );
            n += 1;
        }
        assert!(n >= 15, "only {n} sources checked");
    }

    /// The full arrays stored for one source, element by element.
    #[test]
    fn full_outputs_match_pillow() {
        let bytes = std::fs::read(dir().join("src_gray_97x150.png")).unwrap();
        let (_, want_rgb) = npy::<u8>("src_gray_97x150.rgb224.npy.gz");
        let (_, want_l) = npy::<u8>("src_gray_97x150.l224.npy.gz");
        assert_eq!(
            prepare_photo(&bytes, &DecodeOptions::OFFICIAL).unwrap().rgb,
            want_rgb
        );
        assert_eq!(
            prepare_sism(&bytes, &DecodeOptions::OFFICIAL).unwrap(),
            want_l
        );
    }

    /// The resampler on Pillow's own JPEG decode is exact; the decoders
    /// themselves are compared and the difference bounded.
    #[test]
    fn jpeg_decoder_vs_pillow() {
        let stem = "src_rgb_120x90";
        let (shape, pillow_decoded) = npy::<u8>(&format!("{stem}.decoded.npy.gz"));
        let (h, w) = (shape[0] as usize, shape[1] as usize);
        let (_, want) = npy::<u64>(&format!("{stem}.rgb224.rowfnv.npy"));
        let resized = pillow_resize_bilinear(&pillow_decoded, w, h, 3, SIZE, SIZE);
        assert!(
            bad_rows(&resized, SIZE * 3, &want).is_empty(),
            "resampler on Pillow's JPEG pixels"
        );

        let bytes = std::fs::read(dir().join(format!("{stem}.jpg"))).unwrap();
        let ours = crate::io::decode::decode(&bytes, &DecodeOptions::OFFICIAL)
            .unwrap()
            .to_rgb();
        let max_decode = ours
            .iter()
            .zip(&pillow_decoded)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let photo = prepare_photo(&bytes, &DecodeOptions::OFFICIAL).unwrap();
        let max_out = photo
            .rgb
            .iter()
            .zip(&resized)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let differ = ours
            .iter()
            .zip(&pillow_decoded)
            .filter(|(a, b)| a != b)
            .count();
        eprintln!(
            "JPEG: {differ} of {} decoded bytes differ from Pillow, max |diff| {max_decode}; after resize max {max_out}",
            ours.len()
        );
        // zune-jpeg's IDCT, chroma upsampling and YCbCr->RGB round differently from
        // libjpeg-turbo (measured: up to 4 on natural photos, 6 on this synthetic one
        // with saturated colour edges).
        assert!(
            max_decode <= 8 && max_out <= 8,
            "zune-jpeg drifted from libjpeg-turbo: {max_decode}/{max_out}"
        );
    }

    #[test]
    fn normalize_matches_torchvision() {
        let (_, src) = npy::<u8>("norm_src.npy");
        for (mode, name) in [
            (Preprocess::Imagenet, "norm_imagenet.npy"),
            (Preprocess::CaffeBgr, "norm_caffe.npy"),
        ] {
            let (shape, want) = npy::<f32>(name);
            assert_eq!(shape, [3, 16, 16]);
            let got = normalize(&src, mode);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{mode:?}");
        }
        // a whole 224x224 photo, through the real pipeline
        let bytes = std::fs::read(dir().join("src_rgb_260x300.webp")).unwrap();
        let photo = prepare_photo(&bytes, &DecodeOptions::OFFICIAL).unwrap();
        let (_, want) = npy::<u64>("norm_photo_fnv.npy");
        assert_eq!(
            fnv1a64(&f32_bytes(&normalize(&photo.rgb, Preprocess::Imagenet))),
            want[0]
        );
        assert_eq!(
            fnv1a64(&f32_bytes(&normalize(&photo.rgb, Preprocess::CaffeBgr))),
            want[1]
        );
    }

    #[test]
    fn sism_floats() {
        let all: Vec<u8> = (0..=255).collect();
        let f = sism_to_f32(&all);
        assert_eq!(f[0], 0.0);
        assert_eq!(f[255], 1.0);
        assert_eq!(f[128].to_bits(), (128f32 / 255f32).to_bits());
        assert!(f.windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn photo_inputs_are_the_steps_they_stand_for() {
        let photo = std::fs::read(dir().join("src_rgb_40x30.png")).unwrap();
        let map = std::fs::read(dir().join("src_rgb_120x90.jpg")).unwrap();
        let inputs = prepare_photo_inputs(&photo, Some(&map), &DecodeOptions::OFFICIAL).unwrap();
        assert_eq!(
            inputs.photo,
            decode_photo(&photo, &DecodeOptions::OFFICIAL).unwrap()
        );
        assert_eq!(
            inputs.prepared,
            prepare_photo(&photo, &DecodeOptions::OFFICIAL).unwrap()
        );
        let given = inputs.sism.unwrap();
        assert_eq!(
            given.sism224,
            prepare_sism(&map, &DecodeOptions::OFFICIAL).unwrap()
        );
        // A map of another size is resized to the photo's size ...
        let (grey, w, h) = decode_sism(&map, &DecodeOptions::OFFICIAL).unwrap();
        assert_eq!(
            given.full,
            pillow_resize_bilinear(&grey, w as usize, h as usize, 1, 40, 30)
        );
        // ... and one of the same size is kept as it is.
        let same = prepare_photo_inputs(&photo, Some(&photo), &DecodeOptions::OFFICIAL).unwrap();
        assert_eq!(
            same.sism.unwrap().full,
            decode_sism(&photo, &DecodeOptions::OFFICIAL).unwrap().0
        );
        assert!(prepare_photo_inputs(&photo, None, &DecodeOptions::OFFICIAL)
            .unwrap()
            .sism
            .is_none());
        // The photo is checked first.
        assert!(matches!(
            prepare_photo_inputs(b"no photo", Some(b"no map"), &DecodeOptions::OFFICIAL),
            Err(PhotoInputError::Photo(Error::Image(_)))
        ));
        assert!(matches!(
            prepare_photo_inputs(&photo, Some(b"no map"), &DecodeOptions::OFFICIAL),
            Err(PhotoInputError::Sism(Error::Image(_)))
        ));
    }

    fn image_err(bytes: &[u8]) -> String {
        match (
            prepare_photo(bytes, &DecodeOptions::OFFICIAL),
            prepare_sism(bytes, &DecodeOptions::OFFICIAL),
        ) {
            (Err(Error::Image(a)), Err(Error::Image(b))) => {
                assert_eq!(a, b);
                assert!(a.ends_with('.') && !a.ends_with(".."), "{a}");
                a
            }
            other => panic!("expected Error::Image, got {other:?}"),
        }
    }

    /// A PNG whose IHDR says `width`×`height`, with a correct CRC and one
    /// empty IDAT, so the decoder reaches the size check.
    fn png_with_size(width: u32, height: u32) -> Vec<u8> {
        fn crc32(data: &[u8]) -> u32 {
            let mut c = 0xffff_ffffu32;
            for &b in data {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xedb8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend(data);
            out.extend(&body);
            out.extend(crc32(&body).to_be_bytes());
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(image_err(&[]).contains("empty"));
        assert!(image_err(b"definitely not an image")
            .contains("not a PNG, JPEG, WebP, GIF, BMP or TIFF image"));
        // A GIF (read since part 6) whose body is cut short.
        assert!(image_err(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").contains("GIF image"));
        image_err(&png_with_size(0, 5));
        image_err(&png_with_size(3, 0));
        image_err(&png_with_size(0, 0));
        // truncated files of every kind
        for name in [
            "src_rgb_40x30.png",
            "src_rgb_120x90.jpg",
            "src_rgb_260x300.webp",
        ] {
            let bytes = std::fs::read(dir().join(name)).unwrap();
            for cut in [8, 30, bytes.len() / 2] {
                let msg = image_err(&bytes[..cut]);
                eprintln!("{name} cut at {cut}: {msg}");
            }
        }
        // corrupt body, valid header
        let mut bytes = std::fs::read(dir().join("src_rgb_40x30.png")).unwrap();
        let n = bytes.len();
        bytes[n / 2..n - 12].iter_mut().for_each(|b| *b = !*b);
        assert!(matches!(
            prepare_sism(&bytes, &DecodeOptions::OFFICIAL),
            Err(Error::Image(_))
        ));
        assert!(exists("sources.txt"));
    }
}
