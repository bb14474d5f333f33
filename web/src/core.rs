//! The demo's work, independent of JavaScript: checking the photos a user
//! gave, computing their saliency maps with U²-Netp (or, when chosen, the
//! full U²-Net), running the co-saliency model on the group and encoding the
//! maps as PNG.
//!
//! Every step is the engine's own function, called in the order `icnet run`
//! calls them (native-demo/src/run.rs), so a map made here is byte for byte
//! the PNG `icnet run` writes for the same photo, group, model and
//! convolution variant.
//!
//! Models: the session's default is ICNet trained by this project, joined in
//! memory from `vgg16-imagenet.safetensors` and `icnet-head.safetensors`
//! (`Weights::from_parts`), so that the page downloads VGG16 once for it and
//! for the training-free model (csa), which is built from the same bytes.
//! The user can switch to csa or upload a whole ICNet weights file.
//!
//! Saliency: U²-Netp by default (4.5 MB, loaded at start-up); the full
//! U²-Net (176 MB) only when the user picks it, so its weights arrive with
//! [`Core::load_saliency`] at that moment. Both sets stay in memory once
//! loaded, and only the chosen one is compiled.
//!
//! Nothing here is specific to the browser: the wasm glue (`wasm.rs`) only
//! converts values, and the native tests drive this module directly.

use std::sync::{Arc, Mutex};

use icnet_engine::engine::{check_variant, choose_variant, tune_conv_async, VariantTiming};
use icnet_engine::io::postprocess;
use icnet_engine::io::preprocess::{self, DecodeOptions, PhotoInputError, PreparedPhoto};
use icnet_engine::io::weights::{ConvSet, Weights};
use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::models::icnet::CHUNK_BYTES_PER_IMAGE;
use icnet_engine::models::u2net::{self, SaliencyModel, SaliencyNet};
use icnet_engine::{Engine, EngineOptions, Gpu, GpuOptions, Model, Precision};
use web_time::Instant;

/// A co-saliency group needs at least two photos.
pub const MIN_PHOTOS: usize = 2;
/// The page's limit: at 30 s per photo on a software adapter, 40 photos are
/// already 20 minutes of work.
pub const MAX_PHOTOS: usize = 40;
/// Photos per VGG16 chunk. Each chunk is one stage of a staged run, so the
/// progress bar moves every two photos instead of once for the whole
/// backbone (minutes on a software adapter). Chunking does not change the
/// maps: every photo goes through VGG16 on its own.
const CHUNK_PHOTOS: u64 = 2;

/// The group size the convolution variant is chosen for (compilation
/// against run time, see `VariantTiming::session_s`): the page does not know
/// the group before the first run, and most groups hold a handful of photos.
const TYPICAL_GROUP: usize = 6;

/// Called with (what is being done, steps done, steps in all).
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize);

/// Where a photo's saliency map (SISM) comes from.
enum Sism {
    /// Uploaded by the user: the 224x224 network input, and the PNG at the
    /// photo's size for display.
    Given { sism224: Vec<u8>, png: Vec<u8> },
    /// To be computed by the saliency model from this 320x320 input.
    Compute { input: Vec<f32> },
}

/// A photo that decoded, ready for the group run. Only the small network
/// inputs are kept, not the photo at full size.
pub struct Checked {
    pub name: String,
    pub width: u32,
    pub height: u32,
    prepared: PreparedPhoto,
    sism: Sism,
    decode_s: f64,
}

impl Checked {
    /// Whether the user gave this photo's saliency map.
    pub fn sism_given(&self) -> bool {
        matches!(self.sism, Sism::Given { .. })
    }
}

/// A photo's results.
pub struct PhotoResult {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// The co-saliency map at the photo's size, 8-bit grey PNG (what `icnet run` writes).
    pub map_png: Vec<u8>,
    /// The saliency map at the photo's size, 8-bit grey PNG.
    pub sism_png: Vec<u8>,
    pub sism_given: bool,
    /// Seconds: decoding and resizing, the saliency model (0 for a given SISM),
    /// resizing the map back and PNG encoding.
    pub decode_s: f64,
    pub saliency_s: f64,
    pub post_s: f64,
}

/// Seconds per part of a group run.
#[derive(Clone, Debug, Default)]
pub struct GroupTimings {
    /// The saliency model, all photos.
    pub saliency_s: f64,
    /// Plan compilation (a new group size or model) and input upload.
    pub setup_s: f64,
    /// VGG16 (and, for ICNet, its channel compressions).
    pub backbone_s: f64,
    /// The co-saliency steps (and ICNet's decoder).
    pub cosal_s: f64,
    /// Maps back to the photos' sizes and PNG encoding.
    pub post_s: f64,
    pub total_s: f64,
}

pub struct GroupResult {
    pub photos: Vec<PhotoResult>,
    pub timings: GroupTimings,
    /// The model that made the maps: a [`ModelChoice::name`].
    pub model: &'static str,
    /// The saliency model that computed the SISMs ([`SaliencyModel::id`]),
    /// `None` when every SISM was given.
    pub saliency: Option<&'static str>,
}

/// The VGG16 file the page downloads (for both the trained ICNet and csa).
pub const VGG_FILE: &str = "vgg16-imagenet.safetensors";
/// The project's trained ICNet layers after VGG16 (`weights/` in the repository).
pub const HEAD_FILE: &str = "icnet-head.safetensors";

/// The co-saliency models a session can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    /// ICNet trained by this project: VGG16 + [`HEAD_FILE`]; the default,
    /// the model of `icnet run` without model options.
    Trained,
    /// ICNet with a weights file the user gave.
    Own,
    /// The training-free model (VGG16 + ICNet's correlation cues).
    Csa,
}

impl ModelChoice {
    /// The name the page sees: "icnet-default", "icnet-own" or "csa".
    pub fn name(self) -> &'static str {
        match self {
            ModelChoice::Trained => "icnet-default",
            ModelChoice::Own => "icnet-own",
            ModelChoice::Csa => "csa",
        }
    }
}

/// Time spent preparing the session, for the page.
#[derive(Clone, Debug, Default)]
pub struct PrepareReport {
    /// The convolution variants' timings measured on this device (empty
    /// when the variant was given).
    pub tuning: Vec<VariantTiming>,
    pub variant: String,
    pub tune_s: f64,
    /// Compiling the saliency model (0 when it was compiled already).
    pub saliency_s: f64,
    /// Which one: a [`SaliencyModel::id`].
    pub saliency: &'static str,
    /// Compiling the co-saliency plan (for a group of two).
    pub cosal_s: f64,
}

/// One sentence, ending with a full stop.
fn sentence(s: impl std::fmt::Display) -> String {
    let s = s.to_string();
    let s = s.trim_end();
    if s.ends_with(['.', '!', '?']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// Decodes a photo (and its uploaded saliency map, if any) and prepares the
/// network inputs, the EXIF orientation applied (as a viewer shows the
/// photo, and as `icnet run` reads it by default); errors name the file.
pub fn check_photo(name: &str, bytes: &[u8], sism: Option<&[u8]>) -> Result<Checked, String> {
    check_photo_with(name, bytes, sism, &DecodeOptions::default())
}

/// [`check_photo`] with other decoding options (e.g.
/// [`DecodeOptions::OFFICIAL`]: the stored pixels, the EXIF orientation
/// ignored, as the official code reads photos).
pub fn check_photo_with(
    name: &str,
    bytes: &[u8],
    sism: Option<&[u8]>,
    opts: &DecodeOptions,
) -> Result<Checked, String> {
    let t0 = Instant::now();
    let inputs = preprocess::prepare_photo_inputs(bytes, sism, opts).map_err(|e| match e {
        PhotoInputError::Photo(e) => {
            format!("{name} is not a photo this demo can read: {}", sentence(e))
        }
        PhotoInputError::Sism(e) => format!(
            "the saliency map given for {name} could not be read: {}",
            sentence(e)
        ),
    })?;
    let photo = &inputs.photo;
    let sism = match inputs.sism {
        // At the photo's size for display, as `icnet run` does for pictures.
        Some(given) => Sism::Given {
            png: postprocess::encode_png_gray(&given.full, photo.width, photo.height)
                .map_err(|e| format!("{name}: {}", sentence(e)))?,
            sism224: given.sism224,
        },
        // The same input for both saliency models (rembg's preprocessing).
        None => Sism::Compute {
            input: u2net::prepare(photo),
        },
    };
    Ok(Checked {
        name: name.to_string(),
        width: photo.width,
        height: photo.height,
        prepared: inputs.prepared,
        sism,
        decode_s: t0.elapsed().as_secs_f64(),
    })
}

/// The GPU, the models and what has been compiled for them.
pub struct Core {
    /// The device until the engine is built (the engine owns it after).
    gpu: Option<Gpu>,
    engine: Option<Engine>,
    /// A variant forced by the caller (no timing at start-up).
    forced_variant: Option<ConvVariant>,
    tuning: Vec<VariantTiming>,
    /// The models not currently inside the engine: the training-free
    /// model's VGG16, the trained ICNet, the user's ICNet.
    csa: Option<ConvSet>,
    trained: Option<Weights>,
    own: Option<Weights>,
    /// The model the next run uses.
    choice: ModelChoice,
    /// Which of them the engine holds (`Some` exactly when there is an engine).
    in_engine: Option<ModelChoice>,
    /// The saliency model the next run uses, the weights loaded so far (by
    /// model) and the compiled net (of the chosen model, when compiled).
    saliency: SaliencyModel,
    saliency_weights: Vec<(SaliencyModel, ConvSet)>,
    u2: Option<SaliencyNet>,
    /// Set by the device's callbacks: why the device stopped working.
    gpu_problem: Arc<Mutex<Option<GpuProblem>>>,
    adapter: String,
}

/// Why the device stopped working.
#[derive(Clone, Debug)]
struct GpuProblem {
    /// In words, without a full stop.
    text: String,
    /// The device was lost (destroyed, a driver reset, the GPU process
    /// gone): a new device can take over ([`Core::reopen`]). Otherwise the
    /// device reported an error it cannot go on after.
    lost: bool,
}

/// Opens a device and watches it: its lost callback and uncaptured errors
/// write into the returned slot (each device has its own, so a late callback
/// of a device given up cannot mark its successor).
async fn open_gpu() -> Result<(Gpu, Arc<Mutex<Option<GpuProblem>>>), String> {
    let gpu = Gpu::new(&GpuOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let slot = Arc::new(Mutex::new(None));
    let p = slot.clone();
    gpu.device.set_device_lost_callback(move |reason, msg| {
        let text = match reason {
            wgpu::DeviceLostReason::Destroyed => "the GPU device was closed".to_string(),
            _ if msg.is_empty() => "the GPU device was lost".to_string(),
            _ => format!("the GPU device was lost ({})", msg.trim_end_matches('.')),
        };
        if let Ok(mut g) = p.lock() {
            // A loss outranks an error reported before it: it is recoverable.
            if !g.as_ref().is_some_and(|g: &GpuProblem| g.lost) {
                *g = Some(GpuProblem { text, lost: true });
            }
        }
    });
    let p = slot.clone();
    gpu.device
        .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut g) = p.lock() {
                g.get_or_insert(GpuProblem {
                    text: format!("the GPU reported an error: {}", clip(&e.to_string())),
                    lost: false,
                });
            }
        }));
    Ok((gpu, slot))
}

impl Core {
    /// Opens the GPU. `variant`: a convolution variant label (e.g.
    /// "direct-16x32") to use instead of timing the candidates.
    pub async fn new(variant: Option<&str>) -> Result<Core, String> {
        let forced_variant = match variant {
            Some(v) => Some(ConvVariant::parse(v).ok_or_else(|| {
                format!(
                    "\"{v}\" is not a convolution variant (e.g. direct-16x32, direct-8x16, winograd-8x16, tiled)."
                )
            })?),
            None => None,
        };
        let (gpu, gpu_problem) = open_gpu().await?;
        if let Some(v) = forced_variant {
            check_variant(&gpu, v).map_err(|e| e.to_string())?;
        }
        let adapter = gpu.describe();
        Ok(Core {
            gpu: Some(gpu),
            engine: None,
            forced_variant,
            tuning: Vec::new(),
            csa: None,
            trained: None,
            own: None,
            choice: ModelChoice::Trained,
            in_engine: None,
            saliency: SaliencyModel::U2Netp,
            saliency_weights: Vec::new(),
            u2: None,
            gpu_problem,
            adapter,
        })
    }

    /// Opens a new device in place of a lost one and keeps everything else:
    /// the models' weights (read again from memory, not from their files),
    /// the model and saliency choices and the convolution variant (not
    /// measured again). What was compiled on the old device is dropped;
    /// `prepare` (or the next run) compiles it on the new one. On an error
    /// the session keeps the old device (and its problem).
    pub async fn reopen(&mut self) -> Result<(), String> {
        let (gpu, slot) = open_gpu().await?;
        let variant = self.variant();
        if let Some(old) = self.engine.take() {
            // The old device goes with the engine's compiled plan.
            let held = self.in_engine.take();
            self.stash(held, old.model);
        }
        self.u2 = None;
        self.gpu = Some(gpu);
        self.gpu_problem = slot;
        self.adapter = self.gpu().describe();
        if self.forced_variant.is_none() && self.tuning.is_empty() {
            // Not measured here (e.g. a test forced it on the engine): keep it.
            self.forced_variant = variant;
        }
        Ok(())
    }

    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The device in use (inside the engine once it exists).
    pub fn gpu(&self) -> &Gpu {
        match (&self.engine, &self.gpu) {
            (Some(e), _) => &e.gpu,
            (None, Some(g)) => g,
            (None, None) => unreachable!("the GPU is either in the engine or in the core"),
        }
    }

    /// The engine, once `prepare` or `run` built it (for tests that compare
    /// with the engine's own entry points).
    #[doc(hidden)]
    pub fn engine_mut(&mut self) -> Option<&mut Engine> {
        self.engine.as_mut()
    }

    /// Destroys the device, as a lost device would be (tests of the page's
    /// error handling).
    #[doc(hidden)]
    pub fn destroy_device(&self) {
        self.gpu().device.destroy();
    }

    /// The device in use (a handle: the page's test hook destroys it while
    /// a run holds the session).
    #[doc(hidden)]
    pub fn device(&self) -> wgpu::Device {
        self.gpu().device.clone()
    }

    /// Why the device stopped working, if it did.
    pub fn gpu_problem(&self) -> Option<String> {
        self.problem().map(|p| p.text)
    }

    /// Whether the device was lost (then [`Core::reopen`] can replace it),
    /// rather than working or stopped by an error of its own.
    pub fn device_lost(&self) -> bool {
        self.problem().is_some_and(|p| p.lost)
    }

    fn problem(&self) -> Option<GpuProblem> {
        self.gpu_problem.lock().ok().and_then(|g| g.clone())
    }

    /// The device's problem as the sentence a caller shows: a lost device
    /// can be replaced by [`Core::reopen`]; after an error of the device's
    /// own, only a new session helps.
    fn problem_sentence(p: GpuProblem) -> String {
        if p.lost {
            sentence(p.text)
        } else {
            sentence(format!("{}; reload the page to start again", p.text))
        }
    }

    fn check_device(&self) -> Result<(), String> {
        match self.problem() {
            Some(p) => Err(Self::problem_sentence(p)),
            None => Ok(()),
        }
    }

    /// An engine error, or the device problem behind it.
    fn gpu_error(&self, e: icnet_engine::Error) -> String {
        match self.problem() {
            Some(p) => Self::problem_sentence(p),
            None => sentence(e),
        }
    }

    /// Reads the three model files: VGG16, the trained ICNet head and
    /// U²-Netp (the bytes are dropped once converted).
    pub fn load_models(&mut self, vgg: Vec<u8>, head: Vec<u8>, u2: Vec<u8>) -> Result<(), String> {
        self.load_u2netp(u2)?;
        self.load_vgg_and_head(vgg, head)
    }

    /// Reads `u2netp.safetensors` (small: the page loads it first and
    /// compiles U²-Netp while VGG16 downloads).
    pub fn load_u2netp(&mut self, u2: Vec<u8>) -> Result<(), String> {
        self.load_saliency(SaliencyModel::U2Netp.id(), u2)
    }

    /// Reads the weights of saliency model `name` ("u2netp" or "u2net",
    /// from `u2netp.safetensors` or `u2net.safetensors`); the choice does not
    /// change ([`Core::set_saliency`]). Bad bytes leave everything as it was.
    pub fn load_saliency(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        let model = saliency_model(name)?;
        let w = u2net::weights_from_bytes(&bytes, model.file(), model).map_err(sentence)?;
        drop(bytes);
        self.saliency_weights.retain(|(m, _)| *m != model);
        self.saliency_weights.push((model, w));
        if self.saliency == model {
            // New weights for the chosen model: compiled again when needed.
            self.u2 = None;
        }
        Ok(())
    }

    /// Chooses the saliency model of the next runs: "u2netp" (the default)
    /// or "u2net", whose weights must be loaded ([`Core::load_saliency`]).
    /// `prepare_saliency` (or the next run) compiles it.
    pub fn set_saliency(&mut self, name: &str) -> Result<(), String> {
        let model = saliency_model(name)?;
        if !self.saliency_weights.iter().any(|(m, _)| *m == model) {
            return Err(format!(
                "the {} weights ({}) are not loaded yet.",
                model.name(),
                model.file()
            ));
        }
        if self.saliency != model {
            // Frees the other model's compiled plan (its weights stay).
            self.u2 = None;
            self.saliency = model;
        }
        Ok(())
    }

    /// The saliency model the next run uses: "u2netp" or "u2net".
    pub fn saliency_name(&self) -> &'static str {
        self.saliency.id()
    }

    /// Reads `vgg16-imagenet.safetensors` and `icnet-head.safetensors`: the
    /// training-free model's VGG16 and, joined with the head, the trained
    /// ICNet (the session's default model). Both files are checked before
    /// anything changes: on an error the models stay as they were.
    pub fn load_vgg_and_head(&mut self, vgg: Vec<u8>, head: Vec<u8>) -> Result<(), String> {
        let csa = ConvSet::from_bytes_named(
            &vgg,
            VGG_FILE,
            "the VGG16 weights",
            &icnet_engine::models::csa::vgg_shapes(),
        )
        .map_err(sentence)?;
        let trained =
            Weights::from_parts(&[(&vgg, VGG_FILE), (&head, HEAD_FILE)]).map_err(sentence)?;
        drop((vgg, head));
        if matches!(
            self.in_engine,
            Some(ModelChoice::Csa | ModelChoice::Trained)
        ) {
            // A new engine takes the new weights.
            self.take_engine_apart();
        }
        self.csa = Some(csa);
        self.trained = Some(trained);
        Ok(())
    }

    /// Uses ICNet weights the user gave (a whole `.safetensors` state_dict,
    /// as `icnet run --weights` reads), or with `None` drops them and goes
    /// back to the trained default. Invalid weights leave the model
    /// unchanged. `prepare` (or the next run) compiles the model.
    pub fn set_icnet_weights(
        &mut self,
        bytes: Option<Vec<u8>>,
        source: &str,
    ) -> Result<(), String> {
        match bytes {
            Some(b) => {
                let w = Weights::from_bytes_named(&b, source).map_err(sentence)?;
                drop(b);
                if self.in_engine == Some(ModelChoice::Own) {
                    self.take_engine_apart();
                }
                self.own = Some(w);
                self.choice = ModelChoice::Own;
                Ok(())
            }
            None => self.set_model(ModelChoice::Trained.name()),
        }
    }

    /// Switches to "icnet-default" (the trained ICNet) or "csa" (the
    /// training-free model); the user's own weights, if any, are dropped.
    /// Both models come from [`Core::load_vgg_and_head`]. `prepare` (or the
    /// next run) compiles the model.
    pub fn set_model(&mut self, name: &str) -> Result<(), String> {
        let choice = match name {
            "icnet-default" => ModelChoice::Trained,
            "csa" => ModelChoice::Csa,
            _ => {
                return Err(format!(
                    "\"{name}\" is not a model here: the choices are \"icnet-default\" (ICNet trained \
                     by this project) and \"csa\" (training-free); own ICNet weights are given as a file."
                ))
            }
        };
        let loaded = match choice {
            ModelChoice::Csa => self.csa.is_some(),
            _ => self.trained.is_some(),
        };
        if !loaded && self.in_engine != Some(choice) {
            return Err("the models are not loaded yet.".into());
        }
        if self.in_engine == Some(ModelChoice::Own) {
            self.take_engine_apart();
        }
        // Frees the user's weights (and, above, their plan).
        self.own = None;
        self.choice = choice;
        Ok(())
    }

    /// The model the next run uses: "icnet-default" (ICNet trained by this
    /// project), "icnet-own" (ICNet with the user's weights) or "csa"
    /// (training-free).
    pub fn model_name(&self) -> &'static str {
        self.choice.name()
    }

    /// Takes the engine apart, keeping the device: its model goes back to
    /// the stash unless the stash already holds a newer one (then it is
    /// dropped), and its compiled plan is dropped. Returns the variant the
    /// engine used.
    fn take_engine_apart(&mut self) -> Option<ConvVariant> {
        let old = self.engine.take()?;
        let held = self.in_engine.take();
        let variant = old.variant;
        self.gpu = Some(old.gpu);
        self.stash(held, old.model);
        Some(variant)
    }

    /// Puts a model back where it came from, unless a newer one is there.
    fn stash(&mut self, choice: Option<ModelChoice>, model: Model) {
        match (choice, model) {
            (Some(ModelChoice::Csa), Model::Csa(v)) => {
                self.csa.get_or_insert(v);
            }
            (Some(ModelChoice::Trained), Model::Icnet(w)) => {
                self.trained.get_or_insert(w);
            }
            (Some(ModelChoice::Own), Model::Icnet(w)) => {
                self.own.get_or_insert(w);
            }
            _ => {}
        }
    }

    /// Builds the engine for the wanted model if it does not run it yet.
    async fn ensure_engine(&mut self) -> Result<(), String> {
        let want = self.choice;
        if self.engine.is_some() && self.in_engine == Some(want) {
            return Ok(());
        }
        self.ensure_variant().await?;
        let model = match want {
            ModelChoice::Trained => self.trained.take().map(Model::Icnet),
            ModelChoice::Own => self.own.take().map(Model::Icnet),
            ModelChoice::Csa => self.csa.take().map(Model::Csa),
        };
        let model = model.ok_or(match want {
            ModelChoice::Own => "no ICNet weights were given.",
            _ => "the models are not loaded yet.",
        })?;
        if let Err(e) = model.preprocess() {
            // Put the model back before failing.
            self.stash(Some(want), model);
            return Err(sentence(e));
        }
        let variant = self.variant();
        self.take_engine_apart();
        let gpu = self
            .gpu
            .take()
            .expect("the device is here when there is no engine");
        let engine = Engine::with_model_async(gpu, model, options(variant))
            .await
            .map_err(|e| self.gpu_error(e))?;
        self.engine = Some(engine);
        self.in_engine = Some(want);
        Ok(())
    }

    /// The convolution variant: the engine's, the forced one, or the one
    /// chosen from the timings (`None` before they are measured).
    fn variant(&self) -> Option<ConvVariant> {
        if let Some(e) = &self.engine {
            return Some(e.variant);
        }
        self.forced_variant.or_else(|| {
            (!self.tuning.is_empty()).then(|| choose_variant(&self.tuning, Some(TYPICAL_GROUP)))
        })
    }

    /// Times the convolution variants on this device unless a variant is
    /// known. Needs no model. Returns the seconds spent (0 if none).
    async fn ensure_variant(&mut self) -> Result<f64, String> {
        if self.variant().is_some() {
            return Ok(0.0);
        }
        let t0 = Instant::now();
        let timings = tune_conv_async(self.gpu()).await;
        self.tuning = timings.map_err(|e| self.gpu_error(e))?;
        Ok(t0.elapsed().as_secs_f64())
    }

    /// The saliency part of [`Core::prepare`], which needs only the saliency
    /// model's weights: times the convolution variants (first visit) and
    /// compiles the chosen saliency model. The page calls it while VGG16 is
    /// still downloading, and after the user picks another saliency model.
    pub async fn prepare_saliency(
        &mut self,
        progress: Progress<'_>,
    ) -> Result<PrepareReport, String> {
        self.check_device()?;
        let mut report = PrepareReport::default();
        if self.variant().is_none() {
            progress("compiling: timing convolution variants on this GPU", 0, 3);
        }
        report.tune_s = self.ensure_variant().await?;
        if self.u2.is_none() {
            progress(&format!("compiling: {}", self.saliency.name()), 1, 3);
        }
        let t0 = Instant::now();
        self.ensure_u2().await?;
        report.saliency_s = t0.elapsed().as_secs_f64();
        report.saliency = self.saliency.id();
        report.variant = self.variant().map(|v| v.label()).unwrap_or_default();
        report.tuning = self.tuning.clone();
        Ok(report)
    }

    /// Everything a run needs that does not depend on the photos: the
    /// convolution variant (timed the first time), the saliency model and the
    /// co-saliency model, compiled. The co-saliency plan depends on the
    /// group size; it is compiled here for a group of two, which compiles
    /// every pipeline a run needs (the device caches them), so a run of
    /// another size only creates buffers.
    pub async fn prepare(&mut self, progress: Progress<'_>) -> Result<PrepareReport, String> {
        let mut report = self.prepare_saliency(progress).await?;
        progress("compiling: co-saliency model", 2, 3);
        let t0 = Instant::now();
        self.ensure_engine().await?;
        let engine = self.engine.as_mut().expect("engine");
        let compiled = engine.precompile_async(MIN_PHOTOS).await;
        compiled.map_err(|e| self.gpu_error(e))?;
        report.cosal_s = t0.elapsed().as_secs_f64();
        progress("ready", 3, 3);
        report.variant = self.variant().map(|v| v.label()).unwrap_or_default();
        Ok(report)
    }

    async fn ensure_u2(&mut self) -> Result<(), String> {
        if self.u2.is_some() {
            return Ok(());
        }
        let model = self.saliency;
        let (_, w) = self
            .saliency_weights
            .iter()
            .find(|(m, _)| *m == model)
            .ok_or("the models are not loaded yet.")?;
        let variant = self
            .variant()
            .expect("the variant before the saliency model");
        let u2 = SaliencyNet::new_async(self.gpu(), model, w, variant, PAGE_PRECISION)
            .await
            .map_err(|e| self.gpu_error(e))?;
        self.u2 = Some(u2);
        Ok(())
    }

    /// Runs a group of checked photos: saliency maps (unless given), the
    /// co-saliency model on the whole group, the maps back at each photo's
    /// size as PNG.
    pub async fn run(
        &mut self,
        photos: Vec<Checked>,
        progress: Progress<'_>,
    ) -> Result<GroupResult, String> {
        self.check_device()?;
        let n = photos.len();
        if n < MIN_PHOTOS {
            return Err(match n {
                0 => "No photo could be used: give at least two photos that show the same kind of object.".into(),
                _ => "A group needs at least two photos: co-saliency finds what several photos have in common. Add another photo of the same kind of object.".into(),
            });
        }
        if n > MAX_PHOTOS {
            return Err(format!(
                "{n} photos are too many for one group here; use at most {MAX_PHOTOS}."
            ));
        }
        let started = Instant::now();
        let mut timings = GroupTimings::default();
        self.ensure_engine().await?;
        let computed = photos.iter().filter(|p| !p.sism_given()).count();
        if computed > 0 {
            self.ensure_u2().await?;
        }

        // Saliency maps, one photo at a time (the saliency plan is for one).
        let saliency = self.saliency;
        let what = format!("saliency maps ({})", saliency.name());
        let mut sisms224: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut sism_pngs: Vec<(Vec<u8>, f64)> = Vec::with_capacity(n);
        let mut done = 0;
        for p in &photos {
            match &p.sism {
                Sism::Given { sism224, png } => {
                    sisms224.push(sism224.clone());
                    sism_pngs.push((png.clone(), 0.0));
                }
                Sism::Compute { input } => {
                    progress(&what, done, computed);
                    let t0 = Instant::now();
                    let u2 = self.u2.as_ref().expect("the saliency model");
                    let d0 = u2
                        .d0_async(self.gpu(), input)
                        .await
                        .map_err(|e| self.gpu_error(e))?;
                    // SaliencyNet::sism_async, with the input prepared at check time.
                    let full = u2net::finish(&d0, p.width, p.height);
                    sisms224.push(preprocess::sism_from_map(&full, p.width, p.height));
                    let png = postprocess::encode_png_gray(&full, p.width, p.height)
                        .map_err(|e| format!("{}: {}", p.name, sentence(e)))?;
                    let s = t0.elapsed().as_secs_f64();
                    timings.saliency_s += s;
                    sism_pngs.push((png, s));
                    done += 1;
                }
            }
        }
        if computed > 0 {
            progress(&what, computed, computed);
        }

        // The co-saliency model on the whole group, stage by stage.
        let prepared: Vec<PreparedPhoto> = photos.iter().map(|p| p.prepared.clone()).collect();
        progress("co-saliency model: starting", 0, 1);
        let model = self.in_engine.expect("engine").name();
        let engine = self.engine.as_mut().expect("engine");
        let mut last = Instant::now();
        let mut on_stage = |stage: &str, k: usize, total: usize| {
            let now = Instant::now();
            let s = now.duration_since(last).as_secs_f64();
            last = now;
            let (part, label) = stage_part(stage);
            match part {
                Part::Backbone => timings.backbone_s += s,
                Part::Cosal => timings.cosal_s += s,
            }
            progress(&label, k, total);
        };
        let maps = engine
            .run_group_async(&prepared, &sisms224, Some(&mut on_stage))
            .await;
        let maps = maps.map_err(|e| self.gpu_error(e))?;
        if maps.len() != n {
            return Err(format!(
                "the model returned {} maps for {n} photos.",
                maps.len()
            ));
        }

        // Back to each photo's size, as `icnet run` writes them.
        progress("writing maps", 0, n);
        let mut out = Vec::with_capacity(n);
        for (k, ((p, map), (sism_png, saliency_s))) in
            photos.into_iter().zip(maps).zip(sism_pngs).enumerate()
        {
            let t0 = Instant::now();
            let pixels = postprocess::map_to_original(&map, p.height, p.width);
            let map_png = postprocess::encode_png_gray(&pixels, p.width, p.height)
                .map_err(|e| format!("{}: {}", p.name, sentence(e)))?;
            let post_s = t0.elapsed().as_secs_f64();
            timings.post_s += post_s;
            out.push(PhotoResult {
                sism_given: p.sism_given(),
                name: p.name,
                width: p.width,
                height: p.height,
                map_png,
                sism_png,
                decode_s: p.decode_s,
                saliency_s,
                post_s,
            });
            progress("writing maps", k + 1, n);
        }
        timings.total_s = started.elapsed().as_secs_f64();
        timings.setup_s = (timings.total_s
            - timings.saliency_s
            - timings.backbone_s
            - timings.cosal_s
            - timings.post_s)
            .max(0.0);
        Ok(GroupResult {
            photos: out,
            timings,
            model,
            saliency: (computed > 0).then_some(saliency.id()),
        })
    }
}

/// The saliency model called `name` on the page, or why there is none.
fn saliency_model(name: &str) -> Result<SaliencyModel, String> {
    SaliencyModel::from_id(name).ok_or_else(|| {
        format!(
            "\"{name}\" is not a saliency model here: the choices are \"u2netp\" (U²-Netp) \
             and \"u2net\" (the full U²-Net)."
        )
    })
}

fn options(variant: Option<ConvVariant>) -> EngineOptions {
    EngineOptions {
        variant,
        memory_budget: Some(CHUNK_PHOTOS * CHUNK_BYTES_PER_IMAGE),
        expected_photos: Some(TYPICAL_GROUP),
        timings: None,
        precision: PAGE_PRECISION,
    }
}

/// The page computes in f32, the conformance mode: f16 would halve its
/// memory traffic only where the adapter has shader-f16 (SwiftShader, the
/// browser tests' adapter, has not), and U²-Netp's maps move measurably in
/// f16 (README, "Precision").
const PAGE_PRECISION: Precision = Precision::F32;

enum Part {
    Backbone,
    Cosal,
}

/// Which part of the model a plan stage belongs to, and its progress label.
fn stage_part(stage: &str) -> (Part, String) {
    if stage.starts_with("vgg") || stage == "compress" {
        (
            Part::Backbone,
            format!("co-saliency model: backbone (VGG16), {stage} done"),
        )
    } else {
        (Part::Cosal, format!("co-saliency model: {stage} done"))
    }
}

/// At most 300 characters of a GPU error (validation errors can be pages long).
fn clip(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
