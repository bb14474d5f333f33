//! Replays the fuzz regression corpus, tests/fuzz-regressions/{weights,image}/
//! (the ONNX inputs are replayed by the CLI's own tests): every file goes
//! through the same functions as the fuzz target of its folder (fuzz/,
//! see fuzz/README.md) and must give a result or a clean error, without a
//! panic, in bounded time. New crashes found by a fuzz run are added there.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use icnet_engine::preprocess::{prepare_photo_inputs, DecodeOptions, PhotoInputError, SIZE};
use icnet_engine::u2net::SaliencyModel;
use icnet_engine::weights::{ConvSet, ConvShape, Weights};
use icnet_engine::Error;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// The fuzzer's limit is 10 s per input in an optimised, instrumented build;
/// an unoptimised test build is given far longer.
fn time_limit() -> Duration {
    let base = Duration::from_secs(10);
    if cfg!(debug_assertions) {
        base * 20
    } else {
        base
    }
}

/// Runs `check` on every file of `target`, and fails listing every file that
/// panicked or took too long.
fn replay(target: &str, check: impl Fn(&[u8])) {
    let mut failed = Vec::new();
    for path in corpus(target) {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let start = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| check(&bytes)));
        let took = start.elapsed();
        match r {
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failed.push(format!("{name}: panicked: {msg}"));
            }
            Ok(()) if took > time_limit() => {
                failed.push(format!("{name}: took {took:?}"));
            }
            Ok(()) => {}
        }
    }
    assert!(failed.is_empty(), "{target}: {}", failed.join("; "));
}

fn check_set(r: icnet_engine::Result<ConvSet>, shapes: &[ConvShape]) {
    match r {
        Ok(set) => {
            for (p, o, i, k) in shapes {
                let c = set.conv(p);
                assert_eq!((c.out_ch, c.in_ch, c.k), (*o, *i, *k));
                assert_eq!(c.weight.len(), o * i * k * k);
                assert_eq!(c.bias.len(), *o);
                assert!(c.weight.iter().chain(&c.bias).all(|v| v.is_finite()));
            }
        }
        Err(Error::Weights(m)) => assert!(!m.is_empty()),
        Err(e) => panic!("not a weights error: {e:?}"),
    }
}

fn check_weights(r: icnet_engine::Result<Weights>) {
    match r {
        Ok(w) => {
            for p in w.conv_prefixes() {
                let c = w.conv(p);
                assert!(c.weight.iter().chain(&c.bias).all(|v| v.is_finite()));
            }
        }
        Err(Error::Weights(m)) => assert!(!m.is_empty()),
        Err(e) => panic!("not a weights error: {e:?}"),
    }
}

/// fuzz/fuzz_targets/weights.rs.
#[test]
fn weights_regressions() {
    let u2netp = SaliencyModel::U2Netp.shapes();
    let small: Vec<ConvShape> = vec![("a".into(), 2, 1, 3), ("b".into(), 1, 2, 1)];
    replay("weights", |data| {
        check_weights(Weights::from_bytes(data));
        check_set(
            ConvSet::from_bytes_named(data, "fuzz", "the U²-Netp weights", &u2netp),
            &u2netp,
        );
        check_set(
            ConvSet::from_bytes_named(data, "fuzz", "the test convs", &small),
            &small,
        );
        if let Some((&cut, rest)) = data.split_last() {
            let (a, b) = rest.split_at(rest.len() * usize::from(cut) / 256);
            check_weights(Weights::from_parts(&[(a, "a"), (b, "b")]));
        }
    });
}

/// fuzz/fuzz_targets/image.rs: byte 0 flags (bit 0: a map is given, bit 1:
/// the official options), bytes 1-2 the map's length, photo, then map.
#[test]
fn image_regressions() {
    replay("image", |data| {
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
                let u = icnet_engine::u2net::prepare(&inputs.photo);
                let side = icnet_engine::u2net::SIZE;
                assert_eq!(u.len(), 3 * side * side);
                assert!(u.iter().all(|v| v.is_finite()));
            }
            Err(
                PhotoInputError::Photo(Error::Image(m)) | PhotoInputError::Sism(Error::Image(m)),
            ) => {
                assert!(!m.is_empty())
            }
            Err(e) => panic!("not an image error: {e:?}"),
        }
    });
}
