//! Shared helpers for the kernel tests: one device for the whole test binary,
//! a runner for small graphs, deterministic data and a closeness check.

use std::sync::OnceLock;

use crate::gpu::{Gpu, GpuOptions};
use crate::plan::{Graph, Plan, TensorId};

pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new_blocking(&GpuOptions::default()) {
        Ok(g) => g,
        Err(e) => panic!("kernel tests need a GPU adapter: {e}"),
    })
}

pub fn run(g: Graph, inputs: &[(TensorId, &[f32])], outputs: &[TensorId]) -> Vec<Vec<f32>> {
    let gpu = gpu();
    let plan = Plan::compile(gpu, g).expect("compile");
    let bytes: Vec<(TensorId, &[u8])> = inputs
        .iter()
        .map(|(t, d)| (*t, bytemuck::cast_slice(d)))
        .collect();
    plan.run(gpu, &bytes, outputs)
        .expect("run")
        .into_iter()
        .map(|b| bytemuck::cast_slice::<u8, f32>(&b).to_vec())
        .collect()
}

/// Deterministic values in [lo, hi) (splitmix64 over the index).
pub fn data(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let u = crate::testweights::uniform(seed.wrapping_mul(0x2545F4914F6CDD1D), i) as f32;
            lo + (hi - lo) * u
        })
        .collect()
}

/// Fails with the worst element if |got - want| > atol + rtol * |want| anywhere.
pub fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        // NaN compares false either way: treat it as the worst possible element.
        if excess.is_nan() || excess > worst.1 {
            worst = (i, excess);
        }
    }
    assert!(
        worst.1 <= 0.0 && !got.iter().any(|v| v.is_nan()),
        "{what}: element {} is {} but should be {} (atol {atol}, rtol {rtol})",
        worst.0,
        got[worst.0],
        want[worst.0]
    );
}
