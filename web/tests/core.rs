//! The web demo's core, natively (lavapipe on CI): files that cannot be read
//! are reported by name, a group of one is refused in words, the trained
//! ICNet (VGG16 + weights/icnet-head.safetensors) is the default model,
//! models switch without reopening the device, bad files leave the model as
//! it was, and a map is byte for byte what `icnet run` writes (the steps of
//! native-demo/src/run.rs, on the same engine) for both the trained ICNet
//! and the training-free model; a lost device is replaced without reading
//! the models again (the same maps after); photos are read in their EXIF
//! orientation; the full U²-Net is a saliency choice that needs its own file.
//!
//! Needs the models of `icnet fetch-models` (or ICNET_MODELS=DIR).

use std::path::{Path, PathBuf};

use icnet_engine::io::postprocess::{encode_png_gray, map_to_original};
use icnet_engine::io::preprocess::{decode_photo, decode_sism, sism_from_map, DecodeOptions};
use icnet_engine::io::weights::{ConvSet, Weights};
use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::models::testweights;
use icnet_engine::{Engine, EngineOptions, Gpu, GpuOptions, Model};
use icnet_web::core::{check_photo, check_photo_with, Checked, Core, GroupResult};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn model(file: &str) -> Vec<u8> {
    let dir = std::env::var_os("ICNET_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("models"));
    std::fs::read(dir.join(file)).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `cargo run --release -p icnet-cli -- fetch-models` first",
            dir.join(file).display()
        )
    })
}

fn golden(file: &str) -> Vec<u8> {
    std::fs::read(repo("tests/golden/u2netp").join(file)).expect("golden file")
}

#[test]
fn unreadable_files_are_named_in_the_message() {
    let e = check_photo("notes.jpg", b"this is not a photo", None)
        .err()
        .expect("error");
    assert!(e.starts_with("notes.jpg "), "{e}");
    assert!(e.contains("not a PNG, JPEG"), "{e}");
    let e = check_photo("empty.png", b"", None).err().expect("error");
    assert!(e.contains("empty.png") && e.contains("empty"), "{e}");
    let e = check_photo("windmill1.webp", &golden("windmill1.webp"), Some(b"junk"))
        .err()
        .expect("error");
    assert!(e.contains("saliency map given for windmill1.webp"), "{e}");
    // A saliency map of another size is resized, as `icnet run --sisms` does.
    let c = check_photo(
        "windmill1.webp",
        &golden("windmill1.webp"),
        Some(&golden("plier2.sism.png")),
    )
    .expect("photo");
    assert!(c.sism_given());
}

/// A photo stored 64x48 with EXIF Orientation 6 (web/tests/make-exif-photo.mjs)
/// is checked in the orientation a viewer shows, 48x64: its pixels are the
/// stored ones turned 90° clockwise, as the browser's <img> shows them; with
/// the official decoding (Pillow's, which ignores the tag) it stays 64x48.
#[test]
fn photos_are_read_in_their_exif_orientation() {
    let bytes =
        std::fs::read(repo("web/tests/windmill-exif6.jpg")).expect("web/tests/windmill-exif6.jpg");
    let c = check_photo("windmill-exif6.jpg", &bytes, None).expect("photo");
    assert_eq!((c.width, c.height), (48, 64));
    let c = check_photo_with("windmill-exif6.jpg", &bytes, None, &DecodeOptions::OFFICIAL)
        .expect("photo");
    assert_eq!((c.width, c.height), (64, 48));
    let shown = decode_photo(&bytes, &DecodeOptions::default()).unwrap();
    let stored = decode_photo(&bytes, &DecodeOptions::OFFICIAL).unwrap();
    assert_eq!((shown.width, shown.height), (48, 64));
    let (sw, sh) = (stored.width as usize, stored.height as usize);
    for y in 0..64 {
        for x in 0..48 {
            // Turned clockwise: the shown row y, column x is the stored
            // column y, row (stored height - 1 - x).
            let s = 3 * ((sh - 1 - x) * sw + y);
            let d = 3 * (y * 48 + x);
            assert_eq!(
                shown.rgb[d..d + 3],
                stored.rgb[s..s + 3],
                "pixel ({x}, {y})"
            );
        }
    }
}

/// The project's trained ICNet head (committed in weights/).
fn head() -> Vec<u8> {
    std::fs::read(repo("weights/icnet-head.safetensors")).expect("weights/icnet-head.safetensors")
}

/// Photos with their saliency maps given: U²-Netp's path is
/// SaliencyNet::sism_async split in two, checked against onnxruntime in
/// tests/tests/u2net.rs. Three for the trained ICNet (two VGG16 chunks in
/// the core, one in `icnet run`), the first two for csa (lavapipe takes
/// about 10 s per photo through VGG16).
const NAMES: [&str; 3] = ["windmill1", "plier2", "windmill1"];

fn checked_photos(n: usize) -> Vec<Checked> {
    NAMES[..n]
        .iter()
        .enumerate()
        .map(|(k, n)| {
            check_photo(
                &format!("{n}-{k}.webp"),
                &golden(&format!("{n}.webp")),
                Some(&golden(&format!("{n}.sism.png"))),
            )
            .expect("photo")
        })
        .collect()
}

/// The maps `icnet run --conv-variant direct-16x32` writes for the first `n`
/// NAMES with `model`, computed with the CLI's steps; returns the device for
/// the next.
async fn cli_maps(gpu: Gpu, model: Model, n: usize) -> (Vec<Vec<u8>>, Gpu) {
    let opts = EngineOptions {
        variant: ConvVariant::parse("direct-16x32"),
        memory_budget: None,
        ..Default::default()
    };
    let mut engine = Engine::with_model_async(gpu, model, opts).await.unwrap();
    assert_eq!(engine.chunk_size(3), 3);
    let mut prepared = Vec::new();
    let mut sisms = Vec::new();
    for n in &NAMES[..n] {
        prepared.push(
            decode_photo(&golden(&format!("{n}.webp")), &DecodeOptions::OFFICIAL)
                .unwrap()
                .prepare(),
        );
        let (grey, w, h) =
            decode_sism(&golden(&format!("{n}.sism.png")), &DecodeOptions::OFFICIAL).unwrap();
        sisms.push(sism_from_map(&grey, w, h));
    }
    let maps = engine
        .run_group_async(&prepared, &sisms, None)
        .await
        .expect("engine run");
    let pngs = prepared
        .iter()
        .zip(&maps)
        .map(|(p, map)| {
            encode_png_gray(&map_to_original(map, p.height, p.width), p.width, p.height).unwrap()
        })
        .collect();
    (pngs, engine.gpu)
}

fn assert_same_maps(got: &GroupResult, want: &[Vec<u8>], model: &str) {
    assert_eq!(got.model, model);
    assert_eq!(got.photos.len(), want.len());
    for (p, png) in got.photos.iter().zip(want) {
        assert!(
            &p.map_png == png,
            "{} ({model}): the map differs from icnet run's",
            p.name
        );
    }
}

#[test]
fn maps_are_the_bytes_icnet_run_writes() {
    pollster::block_on(async {
        // A fixed variant: no timing at start-up (the CLI takes the same one
        // with --conv-variant; results depend on the variant's summation order).
        let mut core = Core::new(Some("direct-16x32")).await.expect("GPU");
        assert_eq!(core.model_name(), "icnet-default");
        // The page's order: U²-Netp compiles before VGG16 has arrived.
        core.load_u2netp(model("u2netp.safetensors"))
            .expect("U²-Netp");
        let r = core
            .prepare_saliency(&mut |_, _, _| {})
            .await
            .expect("U²-Netp compiles without VGG16");
        assert_eq!(r.variant, "direct-16x32");
        assert!(core.engine_mut().is_none(), "no engine before VGG16");
        let e = core
            .prepare(&mut |_, _, _| {})
            .await
            .expect_err("no model yet");
        assert_eq!(e, "the models are not loaded yet.");
        let e = core.set_model("csa").expect_err("no model yet");
        assert_eq!(e, "the models are not loaded yet.");

        // VGG16 and the head: the trained ICNet is the default.
        core.load_vgg_and_head(model("vgg16-imagenet.safetensors"), head())
            .expect("VGG16 + head");
        assert_eq!(core.model_name(), "icnet-default");
        core.prepare(&mut |_, _, _| {}).await.expect("prepare");
        assert_eq!(core.engine_mut().unwrap().model.name(), "icnet");

        // One photo: refused before any GPU work.
        let one = vec![check_photo("windmill1.webp", &golden("windmill1.webp"), None).unwrap()];
        let e = core
            .run(one, &mut |_, _, _| {})
            .await
            .err()
            .expect("refused");
        assert!(e.contains("at least two photos"), "{e}");

        // A head that is not one: a sentence naming the file, and the
        // models as they were (the engine is not even taken apart).
        // (A whole ICNet file, e.g. models/icnet-default.safetensors, holds
        // VGG16 a second time.)
        let whole = testweights::to_safetensors(&testweights::scaled_tensors(1), "caffe-bgr");
        for (bytes, what) in [
            (b"junk".to_vec(), "is not a valid safetensors file"),
            (model("u2netp.safetensors"), "do not belong together"),
            (whole, "duplicate tensors"),
        ] {
            let e = core
                .load_vgg_and_head(model("vgg16-imagenet.safetensors"), bytes)
                .expect_err("bad head");
            assert!(
                e.contains("icnet-head.safetensors") && e.contains(what),
                "{e}"
            );
            assert!(e.ends_with('.') && !e.contains('\n'), "{e}");
            assert_eq!(core.model_name(), "icnet-default");
            assert!(core.engine_mut().is_some(), "the engine was kept");
        }

        // Bad ICNet weights leave the model as it was; good ones switch it,
        // and null switches back to the trained default, on the same device.
        let e = core
            .set_icnet_weights(Some(b"junk".to_vec()), "junk.safetensors")
            .expect_err("bad weights");
        assert!(e.contains("junk.safetensors"), "{e}");
        assert_eq!(core.model_name(), "icnet-default");
        let e = core.set_model("icnet").expect_err("not a model name");
        assert!(e.contains("icnet-default") && e.contains("csa"), "{e}");
        assert_eq!(core.model_name(), "icnet-default");
        let w = testweights::to_safetensors(&testweights::scaled_tensors(1), "imagenet");
        core.set_icnet_weights(Some(w), "test.safetensors")
            .expect("weights");
        assert_eq!(core.model_name(), "icnet-own");
        core.prepare(&mut |_, _, _| {})
            .await
            .expect("prepare own icnet");
        assert_eq!(core.engine_mut().unwrap().model.name(), "icnet");
        core.set_icnet_weights(None, "")
            .expect("back to the default");
        assert_eq!(core.model_name(), "icnet-default");

        // The trained ICNet, then the training-free model, then back.
        let mut stages = Vec::new();
        let default = core
            .run(checked_photos(3), &mut |what, k, n| {
                stages.push(format!("{what} {k}/{n}"))
            })
            .await
            .expect("run");
        assert!(stages.iter().any(|s| s.contains("backbone")), "{stages:?}");
        assert_eq!(core.engine_mut().unwrap().chunk_size(3), 2);
        core.set_model("csa").expect("csa");
        assert_eq!(core.model_name(), "csa");
        let csa = core
            .run(checked_photos(2), &mut |_, _, _| {})
            .await
            .expect("csa run");
        assert_eq!(core.engine_mut().unwrap().model.name(), "csa");
        // A lost device: the run says so in a sentence (no "reload": the
        // page replaces the device), and `reopen` opens a new one that
        // keeps the model and its weights, so the same run gives the same
        // bytes without reading any model file again.
        assert!(!core.device_lost());
        core.destroy_device();
        let mut lost = core
            .run(checked_photos(2), &mut |_, _, _| {})
            .await
            .err()
            .expect("a run on a destroyed device fails");
        for _ in 0..100 {
            if core.device_lost() {
                break;
            }
            // The lost callback may come after the failed call.
            std::thread::sleep(std::time::Duration::from_millis(20));
            lost = core.gpu_problem().map(|p| p + ".").unwrap_or(lost);
        }
        assert!(core.device_lost(), "{lost}");
        assert!(lost.contains("GPU device"), "{lost}");
        assert!(!lost.contains("reload"), "{lost}");
        core.reopen().await.expect("a new device");
        assert!(!core.device_lost() && core.gpu_problem().is_none());
        assert_eq!(core.model_name(), "csa");
        let r = core
            .prepare(&mut |_, _, _| {})
            .await
            .expect("prepare on the new device");
        assert_eq!(r.variant, "direct-16x32", "the variant is kept");
        let again = core
            .run(checked_photos(2), &mut |_, _, _| {})
            .await
            .expect("csa run on the new device");
        for (a, b) in again.photos.iter().zip(&csa.photos) {
            assert!(
                a.map_png == b.map_png,
                "{}: another map on the new device",
                a.name
            );
        }
        core.set_model("icnet-default").expect("back");
        core.prepare(&mut |_, _, _| {})
            .await
            .expect("prepare the default again");
        assert_eq!(core.engine_mut().unwrap().model.name(), "icnet");
        assert_eq!(core.model_name(), "icnet-default");
        drop(core);

        // The CLI's steps, on an engine opened as `icnet run --conv-variant
        // direct-16x32` opens it: the default (the trained ICNet, whose
        // models/icnet-default.safetensors holds the same tensors as the two
        // parts), then `--model csa`.
        let vgg_bytes = model("vgg16-imagenet.safetensors");
        let trained = Weights::from_parts(&[(&vgg_bytes, "vgg"), (&head(), "head")]).unwrap();
        let vgg = ConvSet::from_bytes_named(
            &vgg_bytes,
            "vgg",
            "the VGG16 weights",
            &icnet_engine::models::csa::vgg_shapes(),
        )
        .unwrap();
        drop(vgg_bytes);
        let gpu = Gpu::new(&GpuOptions::default()).await.unwrap();
        let (want, gpu) = cli_maps(gpu, Model::Icnet(trained), 3).await;
        assert_same_maps(&default, &want, "icnet-default");
        let (want, _) = cli_maps(gpu, Model::Csa(vgg), 2).await;
        assert_same_maps(&csa, &want, "csa");
    });
}

/// U²-Netp is the saliency model until the user picks the full U²-Net,
/// which needs its own file: the wrong bytes (U²-Netp's included: the same
/// tensor names) are refused in words and change nothing. Compiles U²-Net
/// once (a few seconds: its kernels are U²-Netp's) but runs no photo through
/// it; tests/tests/u2net.rs checks its maps against onnxruntime.
#[test]
fn the_full_u2net_is_a_choice_with_its_own_file() {
    pollster::block_on(async {
        let mut core = Core::new(Some("direct-16x32")).await.expect("GPU");
        assert_eq!(core.saliency_name(), "u2netp");
        core.load_u2netp(model("u2netp.safetensors"))
            .expect("U²-Netp");
        let e = core.set_saliency("u2net").expect_err("not loaded");
        assert!(
            e.contains("U²-Net weights")
                && e.contains("u2net.safetensors")
                && e.contains("not loaded"),
            "{e}"
        );
        let e = core.set_saliency("u2").expect_err("no such model");
        assert!(e.contains("\"u2netp\"") && e.contains("\"u2net\""), "{e}");
        for (bytes, what) in [
            (b"junk".to_vec(), "is not a valid safetensors file"),
            (model("u2netp.safetensors"), "U²-Net weights"),
        ] {
            let e = core.load_saliency("u2net", bytes).expect_err("bad file");
            assert!(e.contains("u2net.safetensors") && e.contains(what), "{e}");
            assert!(e.ends_with('.') && !e.contains('\n'), "{e}");
            assert!(core.set_saliency("u2net").is_err(), "still not loaded");
        }
        assert_eq!(core.saliency_name(), "u2netp");
        let r = core
            .prepare_saliency(&mut |_, _, _| {})
            .await
            .expect("U²-Netp");
        assert_eq!(r.saliency, "u2netp");

        core.load_saliency("u2net", model("u2net.safetensors"))
            .expect("U²-Net");
        assert_eq!(core.saliency_name(), "u2netp", "loading does not switch");
        core.set_saliency("u2net").expect("switch");
        let mut said = Vec::new();
        let r = core
            .prepare_saliency(&mut |what, _, _| said.push(what.to_string()))
            .await
            .expect("U²-Net compiles");
        assert_eq!((r.saliency, core.saliency_name()), ("u2net", "u2net"));
        assert!(said.iter().any(|s| s == "compiling: U²-Net"), "{said:?}");
        assert!(r.saliency_s > 0.0);
        // Back to U²-Netp: its weights are still there, compiled again.
        core.set_saliency("u2netp").expect("back");
        let r = core
            .prepare_saliency(&mut |_, _, _| {})
            .await
            .expect("U²-Netp");
        assert_eq!(r.saliency, "u2netp");
    });
}
