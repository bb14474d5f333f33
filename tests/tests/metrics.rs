//! The saliency metrics against pysodmetrics 1.6.2
//! (`tests/reference/make_metric_fixtures.py` wrote `golden/metrics/`).
//!
//! Every number must match to 1e-4 (relative above 1, for the 1×1 image whose
//! E-measure is ~4.5e15). The implementation follows numpy's order of
//! operations, so the differences are in fact at the level of float rounding;
//! the test prints the largest one.

use std::path::Path;

use icnet_conformance::golden_dir;
use icnet_engine::metrics::{ImageScores, Metrics, Sample, Scores};
use serde_json::Value;

const TOLERANCE: f64 = 1e-4;
const FIELDS: [&str; 8] = Scores::NAMES;

fn field(s: &Scores, name: &str) -> f64 {
    s.get(name).unwrap_or_else(|| unreachable!("{name}"))
}

/// Pillow's `Image.open(p).convert('L')` for the 8-bit grey and RGB PNGs of the fixtures.
fn load_l(path: &Path) -> (Vec<u8>, usize, usize) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (w, h) = (img.width() as usize, img.height() as usize);
    let l = match img {
        image::DynamicImage::ImageLuma8(b) => b.into_raw(),
        image::DynamicImage::ImageRgb8(b) => b
            .into_raw()
            .chunks_exact(3)
            .map(|p| {
                let [r, g, b] = [p[0], p[1], p[2]].map(u32::from);
                ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8
            })
            .collect(),
        other => panic!("{}: unexpected {:?}", path.display(), other.color()),
    };
    (l, w, h)
}

/// Compares every field; returns the largest absolute difference.
fn check(what: &str, got: &Scores, want: &Value) -> f64 {
    assert_eq!(
        got.images as u64,
        want["images"].as_u64().unwrap(),
        "{what}: images"
    );
    let mut worst: f64 = 0.0;
    for name in FIELDS {
        let g = field(got, name);
        match want[name].as_f64() {
            None => assert!(g.is_nan(), "{what}: {name} is {g}, pysodmetrics gives NaN"),
            Some(w) => {
                let diff = (g - w).abs();
                assert!(
                    diff <= TOLERANCE * w.abs().max(1.0),
                    "{what}: {name} is {g}, pysodmetrics gives {w}"
                );
                worst = worst.max(diff / w.abs().max(1.0));
            }
        }
    }
    worst
}

#[test]
fn metrics_match_pysodmetrics() {
    let dir = golden_dir("metrics");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let groups = expected["groups"].as_object().unwrap();
    let mut overall = Metrics::default();
    let mut worst: f64 = 0.0;
    let mut images = 0;
    // serde_json's map is sorted by key, as the Python script iterates groups.
    for (group, want) in groups {
        let mut stems: Vec<String> = std::fs::read_dir(dir.join("gt").join(group))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        stems.sort();
        let mut metrics = Metrics::default();
        for file in stems {
            let (gt, w, h) = load_l(&dir.join("gt").join(group).join(&file));
            let (pred, pw, ph) = load_l(&dir.join("pred").join(group).join(&file));
            assert_eq!((pw, ph), (w, h), "{group}/{file}: size");
            let image = ImageScores::compute(Sample {
                pred: &pred,
                gt: &gt,
                width: w,
                height: h,
            })
            .unwrap();
            let stem = file.strip_suffix(".png").unwrap();
            let key = format!("{group}/{stem}");
            let mut alone = Metrics::default();
            alone.push(&image);
            worst = worst.max(check(
                &key,
                &alone.scores().unwrap(),
                &expected["images"][&key],
            ));
            metrics.push(&image);
            overall.push(&image);
            images += 1;
        }
        worst = worst.max(check(group, &metrics.scores().unwrap(), want));
    }
    assert_eq!(images, expected["images"].as_object().unwrap().len());
    worst = worst.max(check(
        "overall",
        &overall.scores().unwrap(),
        &expected["overall"],
    ));

    for single in expected["singles"].as_array().unwrap() {
        let bytes = |key: &str| -> Vec<u8> {
            single[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect()
        };
        let (w, h) = (
            single["width"].as_u64().unwrap() as usize,
            single["height"].as_u64().unwrap() as usize,
        );
        let mut m = Metrics::default();
        m.add(&bytes("pred"), &bytes("gt"), w, h).unwrap();
        worst = worst.max(check(
            single["name"].as_str().unwrap(),
            &m.scores().unwrap(),
            &single["expected"],
        ));
    }
    eprintln!("largest difference from pysodmetrics: {worst:e}");
}

#[test]
fn mismatched_sizes_are_an_error() {
    let mut m = Metrics::default();
    assert!(m.add(&[0; 12], &[0; 12], 4, 4).is_err());
    assert!(m.add(&[0; 16], &[0; 12], 4, 4).is_err());
    assert!(m.scores().is_none());
}
