//! What the `image` fuzz target checks on one input, shared by the target
//! (fuzz/fuzz_targets/image.rs) and the replay of the regression corpus
//! (tests/tests/fuzz_regressions.rs), both of which include this file by path.
//!
//! The image front end: `prepare_photo_inputs` (decode, size limits, EXIF
//! orientation, Pillow resizes of the photo and of a given saliency map) and
//! U²-Net's CPU input preparation on the decoded photo.
//!
//! Input layout: byte 0 holds flags (bit 0: a saliency map is given; bit 1:
//! the conformance options `DecodeOptions::OFFICIAL` instead of the default),
//! bytes 1-2 the map's length (little-endian u16, capped at what is left),
//! then the photo, then the map. Shorter inputs are a photo alone.

use icnet_engine::io::preprocess::{prepare_photo_inputs, DecodeOptions, PhotoInputError, SIZE};
use icnet_engine::Error;

/// Decodes and prepares `data` as laid out above; panics on a wrong result:
/// an accepted photo must have the sizes the networks need and stay within
/// the pixel limit, a refused one must be an image error with a message.
pub fn check(data: &[u8]) {
    let (flags, photo, sism) = match data {
        [flags, lo, hi, rest @ ..] => {
            let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
            let (photo, map) = rest.split_at(rest.len() - n);
            (*flags, photo, (flags & 1 == 1).then_some(map))
        }
        _ => (0, data, None),
    };
    let opts = if flags & 2 == 2 {
        DecodeOptions::OFFICIAL
    } else {
        DecodeOptions::default()
    };
    match prepare_photo_inputs(photo, sism, &opts) {
        Ok(inputs) => {
            let (w, h) = (inputs.photo.width as usize, inputs.photo.height as usize);
            assert!(w > 0 && h > 0);
            assert!((w * h) as u64 <= opts.max_pixels);
            assert_eq!(inputs.photo.rgb.len(), w * h * 3);
            assert_eq!(inputs.prepared.rgb.len(), SIZE * SIZE * 3);
            if let Some(s) = &inputs.sism {
                assert_eq!(s.sism224.len(), SIZE * SIZE);
                assert_eq!(s.full.len(), w * h);
            }
            let u = icnet_engine::models::u2net::prepare(&inputs.photo);
            let side = icnet_engine::models::u2net::SIZE;
            assert_eq!(u.len(), 3 * side * side);
            assert!(u.iter().all(|v| v.is_finite()));
        }
        Err(PhotoInputError::Photo(Error::Image(m)) | PhotoInputError::Sism(Error::Image(m))) => {
            assert!(!m.is_empty())
        }
        Err(e) => panic!("not an image error: {e:?}"),
    }
}
