//! The web demo's core, natively (lavapipe on CI): files that cannot be read
//! are reported by name, a group of one is refused in words, models switch
//! without reopening the device, and a map is byte for byte what `icnet run`
//! writes (the steps of native-demo/src/run.rs, on the same engine).
//!
//! Needs the models of `icnet fetch-models` (or ICNET_MODELS=DIR).

use std::path::{Path, PathBuf};

use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::postprocess::{encode_png_gray, map_to_original};
use icnet_engine::preprocess::{decode_photo, decode_sism, sism_from_map};
use icnet_engine::testweights;
use icnet_engine::weights::ConvSet;
use icnet_engine::{Engine, EngineOptions, Gpu, GpuOptions, Model};
use icnet_web::core::{check_photo, Core};

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
    assert!(e.contains("not a PNG, JPEG or WebP"), "{e}");
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

#[test]
fn maps_are_the_bytes_icnet_run_writes() {
    pollster::block_on(async {
        // A fixed variant: no timing at start-up (the CLI takes the same one
        // with --conv-variant; results depend on the variant's summation order).
        let mut core = Core::new(Some("direct-16x32")).await.expect("GPU");
        // The page's order: U²-Netp compiles before VGG16 has arrived.
        core.load_u2netp(model("u2netp.safetensors"))
            .expect("U²-Netp");
        let r = core
            .prepare_saliency(&mut |_, _, _| {})
            .await
            .expect("U²-Netp compiles without VGG16");
        assert_eq!(r.variant, "direct-16x32");
        assert!(core.engine_mut().is_none(), "no engine before VGG16");
        core.load_vgg(model("vgg16-imagenet.safetensors"))
            .expect("VGG16");
        core.prepare(&mut |_, _, _| {}).await.expect("prepare");

        // One photo: refused before any GPU work.
        let one = vec![check_photo("windmill1.webp", &golden("windmill1.webp"), None).unwrap()];
        let e = core
            .run(one, &mut |_, _, _| {})
            .await
            .err()
            .expect("refused");
        assert!(e.contains("at least two photos"), "{e}");

        // Bad ICNet weights leave the model as it was; good ones switch it,
        // and null switches back, on the same device.
        let e = core
            .set_icnet_weights(Some(b"junk".to_vec()), "junk.safetensors")
            .expect_err("bad weights");
        assert!(e.contains("junk.safetensors"), "{e}");
        assert_eq!(core.model_name(), "csa");
        let w = testweights::to_safetensors(&testweights::scaled_tensors(1), "imagenet");
        core.set_icnet_weights(Some(w), "test.safetensors")
            .expect("weights");
        core.prepare(&mut |_, _, _| {})
            .await
            .expect("prepare icnet");
        assert_eq!(core.engine_mut().unwrap().model.name(), "icnet");
        core.set_icnet_weights(None, "").expect("back to csa");
        assert_eq!(core.model_name(), "csa");

        // Three photos (two VGG16 chunks here, one in `icnet run`) with their
        // saliency maps given: U²-Netp's path is U2Netp::sism_async split in
        // two, checked against onnxruntime in tests/tests/u2netp.rs.
        let names = ["windmill1", "plier2", "windmill1"];
        let checked: Vec<_> = names
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
            .collect();
        let mut stages = Vec::new();
        let r = core
            .run(checked, &mut |what, k, n| {
                stages.push(format!("{what} {k}/{n}"))
            })
            .await
            .expect("run");
        assert_eq!(r.model, "csa");
        assert!(stages.iter().any(|s| s.contains("backbone")), "{stages:?}");

        assert_eq!(core.engine_mut().unwrap().chunk_size(3), 2);
        drop(core);

        // The CLI's steps, on an engine opened as `icnet run --conv-variant
        // direct-16x32` opens it.
        let vgg = ConvSet::from_bytes_named(
            &model("vgg16-imagenet.safetensors"),
            "vgg",
            "the VGG16 weights",
            &icnet_engine::csa::vgg_shapes(),
        )
        .unwrap();
        let gpu = Gpu::new(&GpuOptions::default()).await.unwrap();
        let opts = EngineOptions {
            variant: ConvVariant::parse("direct-16x32"),
            memory_budget: None,
            ..Default::default()
        };
        let mut engine = Engine::with_model_async(gpu, Model::Csa(vgg), opts)
            .await
            .unwrap();
        assert_eq!(engine.chunk_size(3), 3);
        let mut prepared = Vec::new();
        let mut sisms = Vec::new();
        for n in names {
            prepared.push(
                decode_photo(&golden(&format!("{n}.webp")))
                    .unwrap()
                    .prepare(),
            );
            let (grey, w, h) = decode_sism(&golden(&format!("{n}.sism.png"))).unwrap();
            sisms.push(sism_from_map(&grey, w, h));
        }
        let maps = engine
            .run_group_async(&prepared, &sisms, None)
            .await
            .expect("engine run");
        for (k, (p, map)) in prepared.iter().zip(&maps).enumerate() {
            let png = encode_png_gray(&map_to_original(map, p.height, p.width), p.width, p.height)
                .unwrap();
            let got = &r.photos[k];
            assert_eq!((got.width, got.height), (p.width, p.height));
            assert!(
                got.map_png == png,
                "{}: the map differs from icnet run's",
                got.name
            );
        }
    });
}
