//! Group sizes against WebGPU's default limits (128 MiB per storage binding,
//! 256 MiB per buffer), which are what browsers give.

use icnet_engine::engine::{Engine, EngineOptions};
use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::models::testweights::scaled_weights;
use icnet_engine::runtime::gpu::{Gpu, GpuOptions};

fn browser_like_engine() -> Engine {
    let gpu = Gpu::new_blocking(&GpuOptions {
        max_binding_bytes: Some(128 << 20),
        max_buffer_bytes: Some(256 << 20),
        ..Default::default()
    })
    .expect("adapter");
    assert!(gpu.limits.max_storage_buffer_binding_size <= 128 << 20);
    let variant = Some(ConvVariant::Direct {
        tn: 4,
        r: 2,
        sg: false,
    }); // planning only: skip tuning
    Engine::new(
        gpu,
        scaled_weights(0).unwrap(),
        EngineOptions {
            variant,
            memory_budget: None,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn groups_of_1_to_64_plan_within_browser_limits() {
    let mut e = browser_like_engine();
    for n in [1, 7, 10, 40, 64] {
        // Compiling allocates every buffer: the device validates each against its limits.
        let info = e
            .plan_info(n)
            .unwrap_or_else(|err| panic!("group of {n}: {err}"));
        assert_eq!(
            info.chunk,
            n.min(6),
            "96x224x224 f32 per image: 6 images fit 128 MiB"
        );
        assert!(
            info.planned_bytes < info.naive_bytes,
            "group of {n}: the planner shares no memory"
        );
        eprintln!(
            "N={n}: {} chunks, {} dispatches, planned {} MiB vs naive {} MiB",
            info.chunks,
            info.dispatches,
            info.planned_bytes >> 20,
            info.naive_bytes >> 20
        );
    }
}

#[test]
fn empty_and_oversized_groups_are_clear_errors() {
    let mut e = browser_like_engine();
    let err = e.plan_info(0).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let err = e.plan_info(5000).unwrap_err().to_string();
    assert!(err.contains("at most"), "{err}");
}
