//! Pre- and post-processing of the golden photos against what Pillow and
//! OpenCV produced for the reference (SPEC 4-5).

use icnet_conformance::*;
use icnet_engine::io::postprocess;
use icnet_engine::io::preprocess;

#[test]
fn photos_and_sisms_are_prepared_exactly_like_pillow() {
    for case in ["g2", "g5"] {
        let g = Golden::load(case);
        let rgb = npy_u8(case, "input_rgb_u8.npy");
        let sism = npy_u8(case, "sism_u8.npy");
        for (i, stem) in g.stems.iter().enumerate() {
            let dir = golden_dir(case);
            let photo = preprocess::prepare_photo(
                &std::fs::read(dir.join("images").join(format!("{stem}.png"))).unwrap(),
                &preprocess::DecodeOptions::OFFICIAL,
            )
            .unwrap();
            assert_eq!(
                (photo.height, photo.width),
                g.sizes[i],
                "{case}/{stem} original size"
            );
            assert!(
                photo.rgb == rgb[i * 224 * 224 * 3..(i + 1) * 224 * 224 * 3],
                "{case}/{stem}: photo differs from Pillow"
            );
            let s = preprocess::prepare_sism(
                &std::fs::read(dir.join("sisms").join(format!("{stem}.png"))).unwrap(),
                &preprocess::DecodeOptions::OFFICIAL,
            )
            .unwrap();
            assert!(
                s == sism[i * 224 * 224..(i + 1) * 224 * 224],
                "{case}/{stem}: SISM differs from Pillow"
            );
        }
    }
}

#[test]
fn maps_are_written_like_opencv() {
    // The reference's own float maps through our resize + rounding must give
    // OpenCV's PNGs. Float summation order may differ from OpenCV's by an ulp,
    // which can flip a value sitting exactly on a .5 rounding boundary: allow
    // |d| = 1 on at most 0.1% of pixels, never more than 1.
    for case in ["g2", "g5"] {
        let g = Golden::load(case);
        let maps = npy_f32(case, "final.npy");
        for (i, stem) in g.stems.iter().enumerate() {
            let (h, w) = g.sizes[i];
            let ours =
                postprocess::map_to_original(&maps[i * 224 * 224..(i + 1) * 224 * 224], h, w);
            let png = image::open(golden_dir(case).join("out").join(format!("{stem}.png")))
                .unwrap()
                .to_luma8();
            assert_eq!((png.height(), png.width()), (h, w));
            let diffs: Vec<i32> = ours
                .iter()
                .zip(png.as_raw())
                .map(|(a, b)| (*a as i32 - *b as i32).abs())
                .collect();
            let max = diffs.iter().max().copied().unwrap_or(0);
            let off = diffs.iter().filter(|&&d| d > 0).count();
            assert!(
                max <= 1 && off * 1000 <= diffs.len(),
                "{case}/{stem}: {off} pixels differ, max {max}"
            );
        }
    }
}
