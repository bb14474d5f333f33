//! U²-Netp against onnxruntime running rembg's own ONNX file
//! (`tests/reference/make_u2netp_goldens.py`), on two real photos, one of
//! them portrait and not a multiple of 32 on either side.

use icnet_conformance::{golden_dir, max_abs_diff, model_path, npy_f32};
use icnet_engine::preprocess::{decode_photo, pillow_resize, Filter};
use icnet_engine::u2netp::{self, U2Netp};
use icnet_engine::{Gpu, GpuOptions};

const PHOTOS: [&str; 2] = ["windmill1", "plier2"];

fn grey_png(path: &std::path::Path) -> (Vec<u8>, u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let l = img.to_luma8();
    (l.as_raw().clone(), l.width(), l.height())
}

#[test]
fn lanczos_input_matches_pillow() {
    let dir = golden_dir("u2netp");
    for stem in PHOTOS {
        let photo =
            decode_photo(&std::fs::read(dir.join(format!("{stem}.webp"))).unwrap()).unwrap();
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

#[test]
fn d0_and_sism_match_onnxruntime() {
    let weights = u2netp::load_weights(&model_path("u2netp.safetensors")).expect("weights");
    let gpu = Gpu::new_blocking(&GpuOptions::default()).expect("adapter");
    let timings = icnet_engine::engine::tune_conv(&gpu).expect("tune");
    let variant = icnet_engine::engine::choose_variant(&timings, None);
    let net = U2Netp::new(&gpu, &weights, variant).expect("compile");
    let dir = golden_dir("u2netp");
    for stem in PHOTOS {
        let photo =
            decode_photo(&std::fs::read(dir.join(format!("{stem}.webp"))).unwrap()).unwrap();
        let d0 = net.d0(&gpu, &u2netp::prepare(&photo)).expect("run");
        let want = npy_f32("u2netp", &format!("{stem}.d0.npy"));
        let err = max_abs_diff(&d0, &want);
        println!("{stem}: d0 max abs error vs onnxruntime {err:.2e} ({variant:?})");
        // The bound; measured 4-8e-5 on lavapipe (f32 sums in another order).
        assert!(err <= 1e-3, "{stem}: d0 differs from onnxruntime by {err}");

        // The 8-bit map at the photo's size. Truncation to u8 can flip a
        // level where d0 differs in the last bits, so allow 1 level.
        let sism = u2netp::finish(&d0, photo.width, photo.height);
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

#[test]
fn session_pipeline_count_matches_the_variant_choice_constant() {
    // `VariantTiming::session_s` multiplies one pipeline's compile time by
    // conv_pipelines_per_session(): the distinct convolution kernels that
    // U²-Netp and the training-free model's VGG16 compile together.
    use icnet_engine::engine::conv_pipelines_per_session;
    use icnet_engine::kernels::conv::ConvVariant;
    use std::collections::HashSet;
    let u2w = u2netp::load_weights(&model_path("u2netp.safetensors")).expect("weights");
    let vgg = icnet_engine::csa::load_vgg(&model_path("vgg16-imagenet.safetensors")).expect("vgg");
    let gpu = Gpu::new_blocking(&GpuOptions::default()).expect("adapter");
    for variant in [
        ConvVariant::Direct { tn: 16, r: 8 },
        ConvVariant::Direct { tn: 8, r: 4 },
        ConvVariant::Direct { tn: 4, r: 2 },
        ConvVariant::Tiled,
    ] {
        let u2 = U2Netp::new(&gpu, &u2w, variant).expect("compile");
        let net = icnet_engine::csa::build(&vgg, 2, 2, variant);
        let convs: HashSet<String> = u2
            .plan()
            .graph
            .steps
            .iter()
            .chain(&net.graph.steps)
            .filter(|s| s.kernel.name().starts_with("conv"))
            .map(|s| s.kernel.source())
            .collect();
        assert_eq!(
            convs.len(),
            conv_pipelines_per_session(variant),
            "{variant:?}"
        );
    }
}
