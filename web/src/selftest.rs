//! `kernel_selftest`: the engine's kernel conformance cases
//! (`icnet_engine::kernels::selftest`, every WGSL kernel against its CPU
//! reference on awkward shapes) run on the browser's WebGPU adapter, for the
//! page `selftest.html`.

use icnet_engine::kernels::selftest;
use icnet_engine::runtime::gpu::Gpu;
use icnet_engine::Error;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_time::Instant;

const NO_WEBGPU: &str = "This browser does not offer WebGPU, so the kernels cannot be checked: \
use a recent Chrome, Edge or Safari (on Linux, Chrome needs `--enable-unsafe-webgpu`).";

const NO_ADAPTER: &str = "WebGPU is present but offered no GPU adapter: hardware acceleration \
may be off (chrome://settings/system), or the GPU is blocked; headless Chromium needs \
`--enable-unsafe-webgpu`.";

fn set(o: &Object, key: &str, v: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(key), &v.into());
}

fn has_webgpu() -> bool {
    let nav = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator"))
        .unwrap_or(JsValue::UNDEFINED);
    !nav.is_undefined()
        && !Reflect::get(&nav, &JsValue::from_str("gpu"))
            .unwrap_or(JsValue::UNDEFINED)
            .is_undefined()
}

/// Lets the page repaint (a macrotask, not a microtask).
async fn yield_to_browser() {
    let Some(w) = web_sys::window() else { return };
    let p = Promise::new(&mut |resolve, _| {
        let _ = w.set_timeout_with_callback(&resolve);
    });
    let _ = JsFuture::from(p).await;
}

/// Opens a device of its own and runs every kernel conformance case on it,
/// calling `on_progress(name, done, total, adapter)` before each case. Resolves to
/// `{adapter, passed, failed, seconds, cases: [{name, passed, detail, ms}]}`
/// (a failing case is reported there, not thrown); throws only when the
/// cases cannot start (no WebGPU, no adapter, no device).
#[wasm_bindgen]
pub async fn kernel_selftest(on_progress: Option<Function>) -> Result<JsValue, JsError> {
    if !has_webgpu() {
        return Err(JsError::new(NO_WEBGPU));
    }
    let gpu = match Gpu::new(&Default::default()).await {
        Ok(gpu) => gpu,
        Err(Error::NoAdapter(_)) => return Err(JsError::new(NO_ADAPTER)),
        Err(e) => return Err(JsError::new(&e.to_string())),
    };
    let t0 = Instant::now();
    let adapter = gpu.describe();
    let mut progress = |name: &str, k: usize, n: usize| {
        if let Some(f) = &on_progress {
            let args = Array::of4(
                &JsValue::from_str(name),
                &JsValue::from(k as u32),
                &JsValue::from(n as u32),
                &JsValue::from_str(&adapter),
            );
            let _ = f.apply(&JsValue::NULL, &args);
        }
    };
    let reports =
        selftest::run_all_with_pause(&gpu, &mut progress, &|| Box::pin(yield_to_browser())).await;
    let seconds = t0.elapsed().as_secs_f64();

    let cases = Array::new();
    for r in &reports {
        let o = Object::new();
        set(&o, "name", r.name);
        set(&o, "passed", r.passed);
        set(&o, "detail", r.detail.as_str());
        set(&o, "ms", r.seconds * 1000.0);
        cases.push(&o);
    }
    let passed = reports.iter().filter(|r| r.passed).count();
    let out = Object::new();
    set(&out, "adapter", adapter.as_str());
    set(&out, "passed", passed as u32);
    set(&out, "failed", (reports.len() - passed) as u32);
    set(&out, "seconds", seconds);
    set(&out, "cases", cases);
    Ok(out.into())
}
