//! The JavaScript API (wasm-bindgen): a `Session` holds the GPU device and
//! the models; the page calls, one at a time and in this order,
//! `Session.create()`, `load_models` (or `load_u2netp`, `prepare_saliency`,
//! `load_vgg_and_head`), `prepare`, then `run` as often as it likes (and
//! `set_model` or `set_icnet_weights`, then `prepare`, between runs; or
//! `load_saliency("u2net", bytes)` and `set_saliency("u2net")`, then
//! `prepare_saliency`, for the full U²-Net).
//!
//! Errors reach JavaScript as `Error`s whose message is one plain sentence.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::core::{self, Checked, Core};

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    // A panic aborts the module; keep its message for the page to show.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        web_sys::console::error_1(&JsValue::from_str(&msg));
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
    }));
}

/// The message of the panic that stopped the module, if one did.
#[wasm_bindgen]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// Photos per group: (least, most).
#[wasm_bindgen]
pub fn group_limits() -> Vec<u32> {
    vec![core::MIN_PHOTOS as u32, core::MAX_PHOTOS as u32]
}

/// The image formats photos can be in, in words ("PNG, JPEG, WebP, ...").
#[wasm_bindgen]
pub fn read_formats() -> String {
    icnet_engine::io::preprocess::READ_FORMATS.to_string()
}

fn set(o: &Object, key: &str, v: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(key), &v.into());
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn bytes_of(v: &JsValue) -> Option<Vec<u8>> {
    v.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

fn report(f: &Option<Function>, what: &str, k: usize, n: usize) {
    if let Some(f) = f {
        let _ = f.call3(
            &JsValue::NULL,
            &JsValue::from_str(what),
            &JsValue::from(k as u32),
            &JsValue::from(n as u32),
        );
    }
}

/// Lets the event loop run (a macrotask, not a microtask): the page repaints
/// on the main thread, and a worker takes the messages that arrived (the
/// page's test hook that loses the device, for one).
async fn yield_to_browser() {
    let set_timeout = get(&js_sys::global(), "setTimeout");
    let Some(set_timeout) = set_timeout.dyn_ref::<Function>() else {
        return;
    };
    let p = Promise::new(&mut |resolve, _| {
        let _ = set_timeout.call1(&JsValue::NULL, &resolve);
    });
    let _ = JsFuture::from(p).await;
}

fn has_webgpu() -> bool {
    let nav = get(&js_sys::global(), "navigator");
    !nav.is_undefined() && !get(&nav, "gpu").is_undefined()
}

const NO_WEBGPU: &str = "This browser does not offer WebGPU. Use a recent Chrome, Edge or \
Safari (or Firefox 141+ on Windows); on Linux, Chrome needs `--enable-unsafe-webgpu`.";

fn prepare_report(r: core::PrepareReport) -> JsValue {
    let o = Object::new();
    set(&o, "variant", r.variant);
    let tuning = Array::new();
    for v in r.tuning {
        let t = Object::new();
        set(&t, "variant", v.variant.label());
        set(&t, "ms", v.run_s * 1e3);
        set(&t, "compile_ms", v.compile_s * 1e3);
        tuning.push(&t);
    }
    set(&o, "tuning", tuning);
    set(&o, "tune_s", r.tune_s);
    set(&o, "saliency_s", r.saliency_s);
    set(&o, "saliency", r.saliency);
    set(&o, "cosal_s", r.cosal_s);
    o.into()
}

#[wasm_bindgen]
pub struct Session {
    core: Core,
}

/// A handle on a session's device that works while the session is busy (a
/// run holds the session until it ends): for the page's tests, which lose the
/// device in the middle of a run. A session that reopened its device gives a
/// new handle.
#[wasm_bindgen]
pub struct DeviceHandle {
    device: wgpu::Device,
}

#[wasm_bindgen]
impl DeviceHandle {
    /// Destroys the device, as if it were lost.
    pub fn destroy(&self) {
        self.device.destroy();
    }
}

#[wasm_bindgen]
impl Session {
    /// Opens the GPU. `variant` (optional): a convolution variant such as
    /// "direct-16x32" instead of timing the candidates at `prepare`.
    pub async fn create(variant: Option<String>) -> Result<Session, JsError> {
        if !has_webgpu() {
            return Err(JsError::new(NO_WEBGPU));
        }
        match Core::new(variant.as_deref()).await {
            Ok(core) => Ok(Session { core }),
            Err(e) if e.contains("no GPU adapter") => Err(JsError::new(
                "WebGPU is present but offered no GPU adapter: hardware acceleration may be off \
                 (chrome://settings/system), or the GPU is blocked; headless Chromium needs \
                 `--enable-unsafe-webgpu`.",
            )),
            Err(e) => Err(JsError::new(&e)),
        }
    }

    /// The adapter, in words.
    pub fn adapter(&self) -> String {
        self.core.adapter().to_string()
    }

    /// The model the next run uses: "icnet-default" (ICNet trained by this
    /// project, the default), "icnet-own" (ICNet with the user's weights) or
    /// "csa" (training-free).
    pub fn model(&self) -> String {
        self.core.model_name().to_string()
    }

    /// Why the device stopped working, if it did.
    pub fn gpu_problem(&self) -> Option<String> {
        self.core.gpu_problem()
    }

    /// Whether the device was lost; then `reopen` can replace it.
    pub fn device_lost(&self) -> bool {
        self.core.device_lost()
    }

    /// Opens a new device in place of a lost one, keeping the models (in
    /// memory), the choices and the convolution variant; call `prepare`
    /// afterwards. Fails in words when no device can be opened.
    pub async fn reopen(&mut self) -> Result<(), JsError> {
        if !has_webgpu() {
            return Err(JsError::new(NO_WEBGPU));
        }
        self.core.reopen().await.map_err(|e| JsError::new(&e))
    }

    /// Destroys the GPU device, as if it were lost (for tests of the page).
    #[doc(hidden)]
    pub fn destroy_device(&self) {
        self.core.destroy_device();
    }

    /// A handle on the device that can destroy it during a run (tests).
    #[doc(hidden)]
    pub fn device_handle(&self) -> DeviceHandle {
        DeviceHandle {
            device: self.core.device(),
        }
    }

    /// Reads `vgg16-imagenet.safetensors`, `icnet-head.safetensors` and
    /// `u2netp.safetensors`. The bytes are copied into the module once,
    /// converted and dropped; the caller should drop its own copies.
    pub fn load_models(&mut self, vgg: Vec<u8>, head: Vec<u8>, u2: Vec<u8>) -> Result<(), JsError> {
        self.core
            .load_models(vgg, head, u2)
            .map_err(|e| JsError::new(&e))
    }

    /// Reads `u2netp.safetensors` alone (then `prepare_saliency` can run
    /// while VGG16 downloads).
    pub fn load_u2netp(&mut self, u2: Vec<u8>) -> Result<(), JsError> {
        self.core.load_u2netp(u2).map_err(|e| JsError::new(&e))
    }

    /// Reads the weights of a saliency model: `"u2netp"` (`u2netp.safetensors`)
    /// or `"u2net"` (`u2net.safetensors`, the full U²-Net). Does not switch
    /// to it (`set_saliency`).
    pub fn load_saliency(&mut self, name: String, bytes: Vec<u8>) -> Result<(), JsError> {
        self.core
            .load_saliency(&name, bytes)
            .map_err(|e| JsError::new(&e))
    }

    /// Chooses the saliency model of the next runs (`"u2netp"` or
    /// `"u2net"`, loaded before). Call `prepare_saliency` afterwards.
    pub fn set_saliency(&mut self, name: String) -> Result<(), JsError> {
        self.core.set_saliency(&name).map_err(|e| JsError::new(&e))
    }

    /// The saliency model the next run uses: `"u2netp"` or `"u2net"`.
    pub fn saliency(&self) -> String {
        self.core.saliency_name().to_string()
    }

    /// Reads `vgg16-imagenet.safetensors` and `icnet-head.safetensors`:
    /// the training-free model and the trained ICNet (the default) from one
    /// VGG16. On an error the models stay as they were.
    pub fn load_vgg_and_head(&mut self, vgg: Vec<u8>, head: Vec<u8>) -> Result<(), JsError> {
        self.core
            .load_vgg_and_head(vgg, head)
            .map_err(|e| JsError::new(&e))
    }

    /// Switches to `"icnet-default"` (ICNet trained by this project) or
    /// `"csa"` (training-free), dropping the user's weights if any. Call
    /// `prepare` afterwards.
    pub fn set_model(&mut self, name: String) -> Result<(), JsError> {
        self.core.set_model(&name).map_err(|e| JsError::new(&e))
    }

    /// Uses the user's ICNet weights (a whole `.safetensors` state_dict), or
    /// with `null` the trained default again. Invalid weights leave the
    /// model unchanged. Call `prepare` afterwards.
    pub fn set_icnet_weights(
        &mut self,
        bytes: Option<Vec<u8>>,
        name: Option<String>,
    ) -> Result<(), JsError> {
        let name = name.unwrap_or_else(|| "the weights file".into());
        self.core
            .set_icnet_weights(bytes, &name)
            .map_err(|e| JsError::new(&e))
    }

    /// Compiles what a run needs: the convolution variant (timed on first
    /// use), the saliency model and the co-saliency model. `on_progress(what,
    /// k, n)`. Returns `{variant, tuning: [{variant, ms, compile_ms}],
    /// tune_s, saliency, saliency_s, cosal_s}` (`saliency`: "u2netp" or
    /// "u2net"; `saliency_s`: compiling it, 0 if it was compiled already).
    pub async fn prepare(&mut self, on_progress: Option<Function>) -> Result<JsValue, JsError> {
        let mut cb = |what: &str, k: usize, n: usize| report(&on_progress, what, k, n);
        let r = self.core.prepare(&mut cb).await;
        Ok(prepare_report(r.map_err(|e| JsError::new(&e))?))
    }

    /// The part of `prepare` that needs only the saliency model's weights
    /// (after `load_u2netp`): timing the variants and compiling the chosen
    /// saliency model.
    pub async fn prepare_saliency(
        &mut self,
        on_progress: Option<Function>,
    ) -> Result<JsValue, JsError> {
        let mut cb = |what: &str, k: usize, n: usize| report(&on_progress, what, k, n);
        let r = self.core.prepare_saliency(&mut cb).await;
        Ok(prepare_report(r.map_err(|e| JsError::new(&e))?))
    }

    /// Runs one group. `photos`: `[{name, bytes: Uint8Array}]`; `sisms`:
    /// `null` or an array as long, of `Uint8Array` (a saliency map given for
    /// that photo) or `null` (computed with the saliency model).
    ///
    /// Returns `{model, saliency, error, fatal, lost, problems: [{name, message}], photos:
    /// [{name, width, height, map, sism, sism_given, timings: {decode_s,
    /// saliency_s, post_s}}], timings: {check_s, saliency_s, setup_s,
    /// backbone_s, cosal_s, post_s, total_s}}`: `map` and `sism` are 8-bit
    /// grey PNGs at the photo's size (`map` is what `icnet run` writes).
    /// Photos that cannot be read are left out of the group and listed in
    /// `problems`; `error` says why the group did not run (fewer than two
    /// usable photos, a GPU failure), `fatal` whether the session is unusable;
    /// `lost` whether that was a lost device (`reopen`, then run again);
    /// `saliency` names the model that computed the saliency maps ("u2netp"
    /// or "u2net"; `null` when every map was given).
    pub async fn run(
        &mut self,
        photos: Array,
        sisms: JsValue,
        on_progress: Option<Function>,
    ) -> Result<JsValue, JsError> {
        let n = photos.length() as usize;
        let sisms: Option<Array> = sisms.dyn_into::<Array>().ok();
        let out = Object::new();
        let problems = Array::new();
        let t0 = web_time::Instant::now();
        let mut checked: Vec<Checked> = Vec::with_capacity(n);
        for i in 0..n {
            let p = photos.get(i as u32);
            let name = get(&p, "name")
                .as_string()
                .unwrap_or_else(|| format!("photo {}", i + 1));
            report(&on_progress, "reading photos", i, n);
            yield_to_browser().await;
            let sism = sisms.as_ref().and_then(|s| bytes_of(&s.get(i as u32)));
            let result = match bytes_of(&get(&p, "bytes")) {
                Some(bytes) => core::check_photo(&name, &bytes, sism.as_deref()),
                None => Err(format!("{name}: no file contents were given.")),
            };
            match result {
                Ok(c) => checked.push(c),
                Err(message) => {
                    let o = Object::new();
                    set(&o, "name", name);
                    set(&o, "message", message);
                    problems.push(&o);
                }
            }
        }
        report(&on_progress, "reading photos", n, n);
        let check_s = t0.elapsed().as_secs_f64();
        set(&out, "problems", problems);
        set(&out, "model", self.core.model_name());
        let mut cb = |what: &str, k: usize, n: usize| report(&on_progress, what, k, n);
        let result = self.core.run(checked, &mut cb).await;
        let list = Array::new();
        let timings = Object::new();
        set(&timings, "check_s", check_s);
        match result {
            Ok(r) => {
                set(&out, "error", JsValue::NULL);
                set(&out, "fatal", false);
                set(&out, "lost", false);
                for p in r.photos {
                    let o = Object::new();
                    set(&o, "name", p.name);
                    set(&o, "width", p.width);
                    set(&o, "height", p.height);
                    set(&o, "map", Uint8Array::from(&p.map_png[..]));
                    set(&o, "sism", Uint8Array::from(&p.sism_png[..]));
                    set(&o, "sism_given", p.sism_given);
                    let t = Object::new();
                    set(&t, "decode_s", p.decode_s);
                    set(&t, "saliency_s", p.saliency_s);
                    set(&t, "post_s", p.post_s);
                    set(&o, "timings", t);
                    list.push(&o);
                }
                let t = r.timings;
                set(&timings, "saliency_s", t.saliency_s);
                set(&timings, "setup_s", t.setup_s);
                set(&timings, "backbone_s", t.backbone_s);
                set(&timings, "cosal_s", t.cosal_s);
                set(&timings, "post_s", t.post_s);
                set(&timings, "total_s", t.total_s + check_s);
                set(&out, "model", r.model);
                set(
                    &out,
                    "saliency",
                    r.saliency.map_or(JsValue::NULL, JsValue::from_str),
                );
            }
            Err(e) => {
                set(&out, "error", e);
                set(&out, "fatal", self.core.gpu_problem().is_some());
                set(&out, "lost", self.core.device_lost());
            }
        }
        set(&out, "photos", list);
        set(&out, "timings", timings);
        Ok(out.into())
    }
}
