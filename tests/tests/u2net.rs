//! U²-Netp and U²-Net against onnxruntime running rembg's own ONNX files
//! (`tests/reference/make_u2netp_goldens.py`), on two real photos, one of
//! them portrait and not a multiple of 32 on either side. The photos and
//! U²-Netp's goldens are in `tests/golden/u2netp/`, U²-Net's d0 in
//! `tests/golden/u2net/`.

use std::time::Instant;

use icnet_conformance::{golden_dir, max_abs_diff, model_path, npy_f32};
use icnet_engine::io::preprocess::{
    decode_photo, pillow_resize, DecodeOptions, DecodedPhoto, Filter,
};
use icnet_engine::models::u2net::{self, SaliencyModel, SaliencyNet};
use icnet_engine::{Gpu, GpuOptions, Precision};

const PHOTOS: [&str; 2] = ["windmill1", "plier2"];

fn grey_png(path: &std::path::Path) -> (Vec<u8>, u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let l = img.to_luma8();
    (l.as_raw().clone(), l.width(), l.height())
}

fn photo(stem: &str) -> DecodedPhoto {
    let path = golden_dir("u2netp").join(format!("{stem}.webp"));
    decode_photo(&std::fs::read(path).unwrap(), &DecodeOptions::OFFICIAL).unwrap()
}

#[test]
fn lanczos_input_matches_pillow() {
    let dir = golden_dir("u2netp");
    for stem in PHOTOS {
        let photo = photo(stem);
        let want = image::open(dir.join(format!("{stem}.input.png")))
            .unwrap()
            .to_rgb8();
        let got = pillow_resize(
            &photo.rgb,
            photo.width as usize,
            photo.height as usize,
            3,
            320,
            320,
            Filter::Lanczos,
        );
        assert_eq!(
            got,
            want.as_raw().as_slice(),
            "{stem}: Pillow LANCZOS 320x320"
        );
    }
}

/// Compiles `model` (weights from `icnet fetch-models`) with the variant
/// tuned on this adapter, runs it on each photo and checks d0 against
/// onnxruntime's in `tests/golden/<golden>/`. Returns each photo with its d0.
fn d0_matches_onnxruntime(model: SaliencyModel, golden: &str) -> Vec<(DecodedPhoto, Vec<f32>)> {
    let weights = u2net::load_weights(&model_path(model.file()), model).expect("weights");
    let gpu = Gpu::new_blocking(&GpuOptions::default()).expect("adapter");
    let timings = icnet_engine::engine::tune_conv(&gpu).expect("tune");
    let variant = icnet_engine::engine::choose_variant(&timings, None);
    let t0 = Instant::now();
    let net = SaliencyNet::new(&gpu, model, &weights, variant, Precision::F32).expect("compile");
    drop(weights);
    println!(
        "{}: compiled in {:.1} s ({variant:?}, {})",
        model.name(),
        t0.elapsed().as_secs_f64(),
        gpu.describe()
    );
    let mut out = Vec::new();
    for stem in PHOTOS {
        let photo = photo(stem);
        let t0 = Instant::now();
        let d0 = net.d0(&gpu, &u2net::prepare(&photo)).expect("run");
        let s = t0.elapsed().as_secs_f64();
        let want = npy_f32(golden, &format!("{stem}.d0.npy"));
        let err = max_abs_diff(&d0, &want);
        println!(
            "{stem}: {} d0 max abs error vs onnxruntime {err:.2e}, {s:.1} s",
            model.name()
        );
        // The bound; measured 4-8e-5 for U²-Netp on lavapipe (f32
        // sums in another order).
        assert!(
            err <= 1e-3,
            "{stem}: {} d0 differs from onnxruntime by {err}",
            model.name()
        );
        out.push((photo, d0));
    }
    out
}

#[test]
fn d0_and_sism_match_onnxruntime() {
    let dir = golden_dir("u2netp");
    for ((photo, d0), stem) in d0_matches_onnxruntime(SaliencyModel::U2Netp, "u2netp")
        .into_iter()
        .zip(PHOTOS)
    {
        // The 8-bit map at the photo's size. Truncation to u8 can flip a
        // level where d0 differs in the last bits, so allow 1 level.
        let sism = u2net::finish(&d0, photo.width, photo.height);
        let (want, w, h) = grey_png(&dir.join(format!("{stem}.sism.png")));
        assert_eq!((w, h), (photo.width, photo.height));
        let worst = sism
            .iter()
            .zip(&want)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let exact =
            sism.iter().zip(&want).filter(|(a, b)| a == b).count() as f64 / want.len() as f64;
        println!(
            "{stem}: SISM max level difference {worst}, {:.2}% identical",
            100.0 * exact
        );
        assert!(
            worst <= 1,
            "{stem}: SISM differs from rembg by {worst} levels"
        );
    }
}

/// The full U²-Net (44 M parameters, 117 GFLOP per photo: about a minute
/// per photo on lavapipe) on the same photos; d0 only, since the pre- and
/// post-processing are U²-Netp's, checked above.
#[test]
fn u2net_d0_matches_onnxruntime() {
    d0_matches_onnxruntime(SaliencyModel::U2Net, "u2net");
}

#[test]
fn session_pipeline_count_matches_the_variant_choice_constant() {
    // `VariantTiming::session_s` multiplies one pipeline's compile time by
    // conv_pipelines_per_session(): the distinct convolution kernels that
    // U²-Netp and the training-free model's VGG16 compile together.
    use icnet_engine::engine::conv_pipelines_per_session;
    use std::collections::HashSet;
    let u2w = u2net::load_weights(&model_path("u2netp.safetensors"), SaliencyModel::U2Netp)
        .expect("weights");
    let vgg = icnet_engine::models::csa::load_vgg(&model_path("vgg16-imagenet.safetensors"))
        .expect("vgg");
    let gpu = Gpu::new_blocking(&GpuOptions::default()).expect("adapter");
    // Every variant the start-up measurement can choose; all mismatches at once.
    let mut wrong = Vec::new();
    for variant in icnet_engine::engine::tune_candidates(&gpu) {
        let u2 = SaliencyNet::new(&gpu, SaliencyModel::U2Netp, &u2w, variant, Precision::F32)
            .expect("compile");
        let net = icnet_engine::models::csa::build(&vgg, 2, 2, variant);
        let convs: HashSet<String> = u2
            .plan()
            .graph
            .steps
            .iter()
            .chain(&net.graph.steps)
            .filter(|s| s.kernel.name().starts_with("conv") || s.kernel.name().starts_with("wino"))
            .map(|s| s.kernel.source())
            .collect();
        if convs.len() != conv_pipelines_per_session(variant) {
            wrong.push(format!(
                "{}: {} pipelines, the constant says {}",
                variant.label(),
                convs.len(),
                conv_pipelines_per_session(variant)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("; "));
}
