//! End-to-end conformance against the PyTorch reference (SPEC 9).
//!
//! Tolerances, with their reasons:
//! - with the reference's sort permutation injected, the final map must match
//!   to 1e-5: the remaining differences are f32 summation order only (the
//!   reference itself moves by ~2.5e-7 between fp32 and fp64);
//! - with the engine's own stable sort, to 1e-3: near-tied CSA keys (gaps of
//!   1e-9) legitimately reorder a few of the 784 channels of Co4 (SPEC 9
//!   measured 7.5e-5 between two PyTorch runs, and we leave margin for other
//!   adapters' rounding);
//! - stage-wise checks use SPEC 9's table.

use icnet_conformance::*;
use icnet_engine::engine::{Engine, EngineOptions, RunRequest};
use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::models::testweights::scaled_weights;
use icnet_engine::runtime::gpu::{Gpu, GpuOptions};

fn engine(budget: Option<u64>) -> Engine {
    engine_with(budget, None)
}

/// An engine with a given convolution variant (`None`: measured).
fn engine_with(budget: Option<u64>, variant: Option<ConvVariant>) -> Engine {
    let gpu = Gpu::new_blocking(&GpuOptions::default())
        .expect("a GPU adapter (lavapipe on CPU-only machines)");
    let weights = scaled_weights(0).expect("test weights");
    Engine::new(
        gpu,
        weights,
        EngineOptions {
            variant,
            memory_budget: budget,
            ..Default::default()
        },
    )
    .expect("engine")
}

/// Compares every probe that has a golden, then the final map.
fn check_group(case: &str) {
    let g = Golden::load(case);
    let n = g.n();
    let mut e = engine(None);
    eprintln!(
        "{case}: adapter {}, conv {}",
        e.gpu.describe(),
        e.variant.label()
    );
    let (images, sisms) = (g.images(), g.sisms());

    // Own sort.
    let req = RunRequest {
        keep_intermediates: true,
        ..Default::default()
    };
    let out = e.run_tensors(&images, &sisms, &req).expect("run");
    let c6 = npy_f32(case, "conv6_cmprs.npy");
    let d = max_abs_diff(&out.probes["conv6_cmprs"], &c6);
    assert!(
        d <= 1e-4 * max_abs(&c6),
        "{case} conv6_cmprs differs by {d}"
    );
    for (name, hw) in [("Co6", 49), ("Co5", 196), ("Co4", 784)] {
        let csa = &out.probes[&format!("{name}.csa")];
        for (b, branch) in ["fore", "back"].iter().enumerate() {
            let want = npy_f32(case, &format!("{name}.{branch}.csa.npy"));
            let got: Vec<f32> = (0..n)
                .flat_map(|i| csa[(2 * i + b) * hw..(2 * i + b + 1) * hw].to_vec())
                .collect();
            let d = max_abs_diff(&got, &want);
            assert!(d <= 1e-4, "{case} {name}.{branch} CSA differs by {d}");
        }
    }
    let cm4 = npy_f32(case, "cosal_map_4.npy");
    let d_cm4 = max_abs_diff(&out.probes["cosal_map_4"], &cm4);
    assert!(d_cm4 <= 3e-3, "{case} cosal_map_4 differs by {d_cm4}");
    let want = npy_f32(case, "final.npy");
    let d_own = max_abs_diff(&out.maps, &want);
    eprintln!("{case}: own sort: final max abs {d_own:.3e}, cosal_map_4 {d_cm4:.3e}");
    assert!(
        d_own <= 1e-3,
        "{case}: final map differs by {d_own} with the engine's own sort"
    );

    // Reference permutation injected.
    let req = RunRequest {
        ranks: Some(g.ranks()),
        keep_intermediates: true,
        ..Default::default()
    };
    let out = e.run_tensors(&images, &sisms, &req).expect("run");
    for (name, golden) in [
        ("cosal_feat_6", "cosal_feat_6.npy"),
        ("cosal_feat_5", "cosal_feat_5.npy"),
    ] {
        let want = npy_f32(case, golden);
        let d = max_abs_diff(&out.probes[name], &want);
        assert!(
            d <= 1e-4 * max_abs(&want).max(1.0),
            "{case} {name} differs by {d}"
        );
    }
    let d_inj = max_abs_diff(&out.maps, &want);
    eprintln!("{case}: injected permutation: final max abs {d_inj:.3e}");
    assert!(
        d_inj <= 1e-5,
        "{case}: final map differs by {d_inj} with the reference permutation"
    );
}

#[test]
fn group_of_two_224_photos_matches_reference() {
    check_group("g2");
}

#[test]
fn group_of_five_assorted_photos_matches_reference() {
    check_group("g5");
}

#[test]
fn chunked_and_whole_group_plans_agree() {
    let g = Golden::load("g5");
    let (images, sisms) = (g.images(), g.sisms());
    let mut whole = engine(None);
    assert_eq!(
        whole.chunk_size(5),
        5,
        "lavapipe binds 128 MiB: the whole group fits one chunk"
    );
    // A budget for two images per chunk: chunks of 2, 2, 1; the same kernels
    // (timing both engines could pick different variants, which sum in
    // different orders).
    let mut chunked = engine_with(
        Some(2 * icnet_engine::models::icnet::CHUNK_BYTES_PER_IMAGE),
        Some(whole.variant),
    );
    assert_eq!(chunked.chunk_size(5), 2);
    assert_eq!(chunked.plan_info(5).unwrap().chunks, 3);
    let a = whole
        .run_tensors(&images, &sisms, &RunRequest::default())
        .unwrap()
        .maps;
    let b = chunked
        .run_tensors(&images, &sisms, &RunRequest::default())
        .unwrap()
        .maps;
    // Same kernels, same per-image arithmetic: chunking must not change a bit.
    assert_eq!(a, b, "chunked and whole-group plans disagree");
}
