//! The public entry point: an [`Engine`] owns the device and a co-saliency
//! model (trained ICNet weights, or the training-free model) and runs whole
//! photo groups, compiling (and caching) one plan per group size.

use std::collections::HashMap;
use web_time::Instant;

use crate::io::preprocess::Preprocess;
use crate::io::preprocess::{self, PreparedPhoto};
use crate::io::weights::{ConvSet, ConvWeights, Weights};
use crate::kernels::conv::{self, Act, ConvCall, ConvVariant};
use crate::models::icnet::{
    self, Network, NetworkOptions, CHUNK_BYTES_PER_IMAGE, LARGEST_PER_IMAGE_BYTES, S,
};
use crate::runtime::plan::{Graph, Plan, Precision, Role, StageTiming, TensorId};
use crate::{Error, Gpu, Result};

/// Largest group the co-saliency kernels accept (their per-group arrays live
/// in workgroup memory).
pub const MAX_GROUP: usize = 1024;

#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Convolution implementation; `None` measures the candidates on this adapter.
    pub variant: Option<ConvVariant>,
    /// Bound on the per-chunk working set in bytes (forces smaller chunks).
    pub memory_budget: Option<u64>,
    /// Photos this engine will probably see before it is dropped. With it,
    /// the variant choice weighs pipeline compilation against run time
    /// ([`VariantTiming::session_s`]); without it, run time alone decides.
    pub expected_photos: Option<usize>,
    /// Timings of [`TUNE_CANDIDATES`] measured earlier on this adapter (by
    /// [`tune_conv`]); with them the variant is chosen without measuring.
    /// Why: measurements vary run to run, and a variant picked afresh by
    /// each process could differ from the last one, so the same command
    /// could give maps that differ in the last bit. Reusing one measurement
    /// keeps repeated runs identical and skips the start-up measurement.
    pub timings: Option<Vec<VariantTiming>>,
    /// Storage of activations and weights (f32 by default, the conformance
    /// mode; f16 needs `shader-f16` and is refused with a sentence without it).
    /// The variant is chosen from f32 timings in both.
    pub precision: Precision,
}

/// What a compiled plan looks like, for reports.
#[derive(Clone, Debug)]
pub struct PlanInfo {
    pub images: usize,
    pub chunk: usize,
    pub chunks: usize,
    pub dispatches: usize,
    pub planned_bytes: u64,
    pub naive_bytes: u64,
    pub weight_bytes: u64,
    pub flops: f64,
}

/// The result of a run on prepared tensors.
pub struct RunOutput {
    /// [N,224,224] maps in (0,1).
    pub maps: Vec<f32>,
    /// Named intermediates (only when asked for).
    pub probes: HashMap<String, Vec<f32>>,
    pub timings: Vec<StageTiming>,
}

/// Called after each stage of a run with (stage name, stages done, stages in all).
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize);

/// How a run should be done.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// Per co-saliency module ("Co6", "Co5", "Co4"): ranks [2N*hw], z = 2n + b.
    pub ranks: Option<HashMap<String, Vec<u32>>>,
    pub keep_intermediates: bool,
    pub profile: bool,
}

struct Compiled {
    key: (usize, bool, bool),
    net: Network,
    plan: Plan,
}

/// Which co-saliency model an [`Engine`] runs; both take photos and SISMs
/// and give one 224x224 map per photo.
pub enum Model {
    /// ICNet with trained weights (the official checkpoint or our own).
    Icnet(Weights),
    /// The training-free model of [`crate::models::csa`] on VGG16 weights.
    Csa(ConvSet),
}

impl Model {
    pub fn preprocess(&self) -> Result<Preprocess> {
        match self {
            Model::Icnet(w) => Ok(w.preprocess),
            Model::Csa(v) => v.preprocess(),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Model::Icnet(_) => "icnet",
            Model::Csa(_) => "csa",
        }
    }
}

pub struct Engine {
    pub gpu: Gpu,
    pub model: Model,
    pub variant: ConvVariant,
    /// The variant timings the choice was made from, measured at start-up
    /// or given in [`EngineOptions::timings`] (empty when the variant was given).
    pub tuning: Vec<VariantTiming>,
    opts: EngineOptions,
    compiled: Option<Compiled>,
}

impl Engine {
    /// An engine running ICNet with `weights` (native only; see [`Engine::with_model_async`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(gpu: Gpu, weights: Weights, opts: EngineOptions) -> Result<Engine> {
        Self::with_model(gpu, Model::Icnet(weights), opts)
    }

    /// [`Engine::with_model_async`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_model(gpu: Gpu, model: Model, opts: EngineOptions) -> Result<Engine> {
        pollster::block_on(Self::with_model_async(gpu, model, opts))
    }

    /// An engine running `model`; measures the convolution variants on this
    /// adapter unless `opts.variant` names one or `opts.timings` holds them.
    pub async fn with_model_async(gpu: Gpu, model: Model, opts: EngineOptions) -> Result<Engine> {
        model.preprocess()?;
        gpu.check_precision(opts.precision)?;
        if let Some(v) = opts.variant {
            check_variant(&gpu, v)?;
        }
        let (variant, tuning) = match (opts.variant, &opts.timings) {
            (Some(v), _) => (v, Vec::new()),
            (None, Some(t)) if !t.is_empty() => {
                (choose_variant(t, opts.expected_photos), t.clone())
            }
            (None, _) => {
                let t = tune_conv_async(&gpu).await?;
                (choose_variant(&t, opts.expected_photos), t)
            }
        };
        Ok(Engine {
            gpu,
            model,
            variant,
            tuning,
            opts,
            compiled: None,
        })
    }

    /// How this engine stores activations and weights.
    pub fn precision(&self) -> Precision {
        self.opts.precision
    }

    /// Images per chunk for a group of `n` on this device.
    pub fn chunk_size(&self, n: usize) -> usize {
        let limit = self
            .gpu
            .limits
            .max_storage_buffer_binding_size
            .min(self.gpu.limits.max_buffer_size);
        let largest = match self.model {
            Model::Icnet(_) => LARGEST_PER_IMAGE_BYTES,
            Model::Csa(_) => crate::models::csa::LARGEST_PER_IMAGE_BYTES,
        };
        let mut chunk = (limit / largest) as usize;
        if let Some(b) = self.opts.memory_budget {
            chunk = chunk.min((b / CHUNK_BYTES_PER_IMAGE) as usize);
        }
        chunk.clamp(1, n.max(1))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn compile(&mut self, n: usize, inject: bool, keep: bool) -> Result<()> {
        pollster::block_on(self.compile_async(n, inject, keep))
    }

    async fn compile_async(&mut self, n: usize, inject: bool, keep: bool) -> Result<()> {
        if n == 0 {
            return Err(Error::Unsupported("the group is empty".into()));
        }
        if n > MAX_GROUP {
            return Err(Error::Unsupported(format!(
                "a group may hold at most {MAX_GROUP} images, this one has {n}"
            )));
        }
        let key = (n, inject, keep);
        if self.compiled.as_ref().map(|c| c.key) != Some(key) {
            self.compiled = None; // free the previous plan's memory first
            let chunk = self.chunk_size(n);
            let mut net = match &self.model {
                Model::Icnet(w) => icnet::build(
                    w,
                    &NetworkOptions {
                        images: n,
                        chunk,
                        variant: self.variant,
                        inject_ranks: inject,
                        keep_intermediates: keep,
                    },
                ),
                Model::Csa(_) if inject => {
                    return Err(Error::Unsupported(
                        "the training-free model has no permutation to inject".into(),
                    ))
                }
                Model::Csa(v) => crate::models::csa::build(v, n, chunk, self.variant),
            };
            let mut graph = std::mem::take(&mut net.graph);
            graph.precision = self.opts.precision;
            let plan = Plan::compile_async(&self.gpu, graph).await?;
            self.compiled = Some(Compiled { key, net, plan });
        }
        Ok(())
    }

    /// Compiles the plan for a group of `n` (kept for the next run of that
    /// size), so that its pipelines are ready before the first photos come:
    /// the device caches them, and a plan for another size reuses them.
    pub async fn precompile_async(&mut self, n: usize) -> Result<()> {
        self.compile_async(n, false, false).await
    }

    /// Compiles (or reuses) the plan for `n` images and describes it.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn plan_info(&mut self, n: usize) -> Result<PlanInfo> {
        let chunk = self.chunk_size(n);
        self.compile(n, false, false)?;
        let c = self.compiled.as_ref().expect("compiled");
        Ok(PlanInfo {
            images: n,
            chunk,
            chunks: c.net.image_inputs.len(),
            dispatches: c.plan.graph.steps.len(),
            planned_bytes: c.plan.planned_bytes(),
            naive_bytes: c.plan.naive_bytes(),
            weight_bytes: c.plan.weight_bytes(),
            flops: c.plan.total_flops(),
        })
    }

    /// The compiled plan's dispatch list.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn dispatch_list(&mut self, n: usize) -> Result<Vec<String>> {
        self.compile(n, false, false)?;
        Ok(self
            .compiled
            .as_ref()
            .expect("compiled")
            .plan
            .describe_dispatches())
    }

    /// Runs a group from prepared photos and 8-bit SISMs (224x224 each);
    /// returns one 224x224 map per photo.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_group(
        &mut self,
        photos: &[PreparedPhoto],
        sisms: &[Vec<u8>],
    ) -> Result<Vec<Vec<f32>>> {
        self.run_group_with_progress(photos, sisms, None)
    }

    /// [`Engine::run_group`], calling `progress(stage, done, total)` after each
    /// stage of the plan (see [`crate::runtime::plan::Plan::run_staged`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_group_with_progress(
        &mut self,
        photos: &[PreparedPhoto],
        sisms: &[Vec<u8>],
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.run_group_async(photos, sisms, progress))
    }

    /// [`Engine::run_group_with_progress`] for async callers (the browser).
    pub async fn run_group_async(
        &mut self,
        photos: &[PreparedPhoto],
        sisms: &[Vec<u8>],
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<Vec<f32>>> {
        if photos.len() != sisms.len() {
            return Err(Error::Unsupported(format!(
                "{} photos but {} saliency maps",
                photos.len(),
                sisms.len()
            )));
        }
        let mode = self.model.preprocess()?;
        let mut images = Vec::with_capacity(photos.len() * 3 * S * S);
        for p in photos {
            images.extend(preprocess::normalize(&p.rgb, mode));
        }
        let mut s = Vec::with_capacity(sisms.len() * S * S);
        for m in sisms {
            s.extend(preprocess::sism_to_f32(m));
        }
        let out = self
            .run_tensors_async(&images, &s, &RunRequest::default(), progress)
            .await?;
        Ok(out.maps.chunks(S * S).map(|m| m.to_vec()).collect())
    }

    /// Runs a group from network-ready tensors: `images` [N,3,224,224]
    /// normalised, `sisms` [N,224,224] in [0,1].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_tensors(
        &mut self,
        images: &[f32],
        sisms: &[f32],
        req: &RunRequest,
    ) -> Result<RunOutput> {
        self.run_tensors_with_progress(images, sisms, req, None)
    }

    /// [`Engine::run_tensors`] with an optional per-stage progress callback.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_tensors_with_progress(
        &mut self,
        images: &[f32],
        sisms: &[f32],
        req: &RunRequest,
        progress: Option<Progress<'_>>,
    ) -> Result<RunOutput> {
        pollster::block_on(self.run_tensors_async(images, sisms, req, progress))
    }

    /// [`Engine::run_tensors_with_progress`] for async callers.
    pub async fn run_tensors_async(
        &mut self,
        images: &[f32],
        sisms: &[f32],
        req: &RunRequest,
        progress: Option<Progress<'_>>,
    ) -> Result<RunOutput> {
        let n = sisms.len() / (S * S);
        if sisms.len() != n * S * S || images.len() != n * 3 * S * S {
            return Err(Error::Unsupported(
                "inputs must be [N,3,224,224] images and [N,224,224] SISMs".into(),
            ));
        }
        let inject = req.ranks.is_some();
        self.compile_async(n, inject, req.keep_intermediates)
            .await?;
        let c = self.compiled.as_ref().expect("compiled");
        let gpu = &self.gpu;
        let mut inputs: Vec<(TensorId, &[u8])> = Vec::new();
        for (t, r) in &c.net.image_inputs {
            inputs.push((
                *t,
                bytemuck::cast_slice(&images[r.start * 3 * S * S..r.end * 3 * S * S]),
            ));
        }
        inputs.push((c.net.sism_input, bytemuck::cast_slice(sisms)));
        if let Some(ranks) = &req.ranks {
            for (name, t) in &c.net.rank_inputs {
                let r = ranks.get(name).ok_or_else(|| {
                    Error::Unsupported(format!("no injected permutation for {name}"))
                })?;
                inputs.push((*t, bytemuck::cast_slice(r)));
            }
        }
        let mut outputs = vec![c.net.output];
        outputs.extend(c.net.probes.iter().map(|(_, t)| *t));
        let (raw, timings) = match progress {
            Some(p) => {
                c.plan
                    .run_staged_async(gpu, &inputs, &outputs, &mut |t, k, n| p(&t.name, k, n))
                    .await?
            }
            None if req.profile => {
                c.plan
                    .run_staged_async(gpu, &inputs, &outputs, &mut |_, _, _| {})
                    .await?
            }
            None => (c.plan.run_async(gpu, &inputs, &outputs).await?, Vec::new()),
        };
        let mut it = raw.into_iter();
        let maps = bytemuck::cast_slice::<u8, f32>(&it.next().expect("output")).to_vec();
        let probes = c
            .net
            .probes
            .iter()
            .zip(it)
            .map(|((name, _), b)| (name.clone(), bytemuck::cast_slice::<u8, f32>(&b).to_vec()))
            .collect();
        Ok(RunOutput {
            maps,
            probes,
            timings,
        })
    }
}

/// Channels and side of the layer [`tune_conv`] times.
const TUNE_C: usize = 128;
const TUNE_H: usize = 28;
/// FLOPs of one timed convolution in [`tune_conv`], for GFLOPS reports.
pub const TUNE_FLOPS: f64 = 2.0 * (TUNE_C * TUNE_C * 9 * TUNE_H * TUNE_H) as f64;
/// A one-line description of the timed layer.
pub const TUNE_LAYER: &str = "one 128->128 3x3 conv on 28x28";

/// What [`tune_conv`] measured for one convolution variant.
#[derive(Clone, Copy, Debug)]
pub struct VariantTiming {
    pub variant: ConvVariant,
    /// One run of the timed layer, pipelines warm.
    pub run_s: f64,
    /// Compiling the layer's pipeline: plan creation plus what the first run
    /// took beyond a warm one (browsers compile in the background and finish
    /// at first use).
    pub compile_s: f64,
}

/// Distinct convolution pipelines that U²-Netp and VGG16 compile together
/// (kernel template combinations: kernel size, input loader, residual,
/// activation, and the block [`conv::fit_to`] narrows for thin layers and
/// small maps; the dilation is a uniform, and the tiled kernel has fewer
/// templates). Checked against the real graphs by a test in the conformance
/// crate. Before the dilation became a uniform (every dilation its own
/// pipeline) these were 29, 21, 20 and 11.
pub fn conv_pipelines_per_session(variant: ConvVariant) -> usize {
    match variant {
        ConvVariant::Direct { r: 8.., .. } => 19,
        ConvVariant::Direct { r: 4.., .. } => 11,
        ConvVariant::Direct { .. } => 10,
        ConvVariant::Tiled => 6,
        // The direct kernels of the layers Winograd skips, its transforms and GEMMs.
        ConvVariant::Winograd { tn, r, sg } => {
            conv_pipelines_per_session(ConvVariant::Direct { tn, r, sg }) + 5
        }
    }
}

/// Convolution work of one photo (U²-Netp 39.5 + VGG16 30.7 GFLOP, almost
/// all of it convolutions) in units of the timed layer.
pub const TUNE_LAYERS_PER_PHOTO: f64 = 70.2e9 / TUNE_FLOPS;

/// What compiling a session's convolution pipelines costs, as a share of
/// `pipelines x` the timed kernel's compile time. The timed kernel is the
/// largest of them (3x3, 128 channels, the full register block); U²-Netp's
/// thin and 1x1 layers get narrower blocks ([`conv::fit_to`]) that compile
/// faster. Measured: 0.11 on lavapipe (direct-16x32: U²-Netp compiled in
/// 6.5 s against 29 x 2.0 s for the timed kernel), about 0.28 in Chromium on
/// SwiftShader (U²-Netp took 150-190 s to compile with direct-16x32 before
/// this choice existed, against 29 x 20.7 s; separate runs, other jobs
/// sharing the CPU).
pub const SESSION_COMPILE_SHARE: f64 = 0.25;

impl VariantTiming {
    /// Estimated seconds this variant costs a session of `photos` photos:
    /// compiling its pipelines plus running the convolutions.
    ///
    /// Why: compile time differs by 40x between variants on some adapters
    /// (SwiftShader: direct-16x32 20.7 s, direct-4x8 0.5 s for the timed
    /// kernel) while run times differ by less than 2x, so for a group of a
    /// few photos the bigger kernel can cost minutes more than it saves.
    /// On GPUs both terms are small and the run time decides for large groups.
    pub fn session_s(&self, photos: usize) -> f64 {
        let pipelines = conv_pipelines_per_session(self.variant) as f64;
        self.compile_s * pipelines * SESSION_COMPILE_SHARE
            + self.run_s * TUNE_LAYERS_PER_PHOTO * photos as f64
    }
}

/// The variant to use: the fastest to run, or with `expected_photos` the
/// cheapest for a session of that many photos, compilation included.
pub fn choose_variant(timings: &[VariantTiming], expected_photos: Option<usize>) -> ConvVariant {
    let cost = |t: &VariantTiming| match expected_photos {
        Some(n) => t.session_s(n),
        None => t.run_s,
    };
    timings
        .iter()
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .map(|t| t.variant)
        .unwrap_or(ConvVariant::Direct {
            tn: 4,
            r: 2,
            sg: false,
        })
}

/// Measures each convolution variant on a VGG-like layer (128 -> 128, 3x3,
/// 28x28, 0.23 GFLOP): the time to compile its pipeline and the time of a
/// warm run. Returns the timings; [`choose_variant`] picks one.
///
/// The candidates span both kinds of adapter: big register blocks without
/// workgroup memory win on CPU rasterisers (measured on lavapipe: direct-16x32
/// 3.7 GFLOPS, direct-4x8 0.7, tiled 0.3), while discrete GPUs prefer the
/// shared-memory tiles.
#[cfg(not(target_arch = "wasm32"))]
pub fn tune_conv(gpu: &Gpu) -> Result<Vec<VariantTiming>> {
    pollster::block_on(tune_conv_async(gpu))
}

/// The variants [`tune_conv`] measures on every adapter, in its order
/// ([`tune_candidates`] adds the subgroup ones where they can run).
pub const TUNE_CANDIDATES: [ConvVariant; 6] = [
    ConvVariant::Direct {
        tn: 16,
        r: 8,
        sg: false,
    },
    ConvVariant::Direct {
        tn: 8,
        r: 4,
        sg: false,
    },
    ConvVariant::Direct {
        tn: 4,
        r: 2,
        sg: false,
    },
    ConvVariant::Tiled,
    ConvVariant::Winograd {
        tn: 16,
        r: 8,
        sg: false,
    },
    ConvVariant::Winograd {
        tn: 8,
        r: 4,
        sg: false,
    },
];

/// Measured as well where the adapter has subgroups of at least 8 lanes
/// (lavapipe: 8, most GPUs 32 or 64): the Winograd variants, fastest on
/// lavapipe, with their weights read through subgroup broadcasts.
pub const SUBGROUP_CANDIDATES: [ConvVariant; 2] = [
    ConvVariant::Winograd {
        tn: 16,
        r: 8,
        sg: true,
    },
    ConvVariant::Winograd {
        tn: 8,
        r: 4,
        sg: true,
    },
];

/// The variants [`tune_conv`] measures on `gpu`: [`TUNE_CANDIDATES`], then
/// the [`SUBGROUP_CANDIDATES`] its subgroups allow.
pub fn tune_candidates(gpu: &Gpu) -> Vec<ConvVariant> {
    TUNE_CANDIDATES
        .into_iter()
        .chain(SUBGROUP_CANDIDATES)
        .filter(|v| check_variant(gpu, *v).is_ok())
        .collect()
}

/// Refuses a variant the device cannot run (subgroups missing or too narrow).
pub fn check_variant(gpu: &Gpu, v: ConvVariant) -> Result<()> {
    let need = v.subgroup_lanes_needed();
    let have = gpu.subgroup_lanes();
    if need > have {
        let why = if have == 0 {
            "this device has no subgroups".to_string()
        } else {
            format!("its subgroups have {have} lanes")
        };
        return Err(Error::Unsupported(format!(
            "the convolution variant {} needs subgroups of {need} lanes and {why} on {}; \
             use {} instead.",
            v.label(),
            gpu.info.name,
            v.without_subgroups().label()
        )));
    }
    Ok(())
}

/// [`tune_conv`] for async callers.
pub async fn tune_conv_async(gpu: &Gpu) -> Result<Vec<VariantTiming>> {
    let (c, h) = (TUNE_C, TUNE_H);
    let cw = ConvWeights {
        out_ch: c,
        in_ch: c,
        k: 3,
        weight: vec![0.01; c * c * 9],
        bias: vec![0.0; c],
    };
    // Warm the device up first (worker threads, allocations, the queue), so
    // that the first candidate's times do not include it.
    {
        let mut g = Graph::new();
        let x = g.tensor("x", 4 * 8 * 8, Role::Input);
        let y = g.tensor("y", 4 * 4 * 4, Role::Output);
        crate::kernels::pool::push(&mut g, x, y, 4, 8, 8, false);
        let plan = Plan::compile_async(gpu, g).await?;
        let input = vec![0f32; 4 * 8 * 8];
        plan.run_async(gpu, &[(x, bytemuck::cast_slice::<f32, u8>(&input))], &[y])
            .await?;
    }
    let mut results = Vec::new();
    for v in tune_candidates(gpu) {
        let mut g = Graph::new();
        let x = g.tensor("x", c * h * h, Role::Input);
        let y = g.tensor("y", c * h * h, Role::Output);
        let l = conv::upload(&mut g, &cw);
        for _ in 0..2 {
            conv::push(&mut g, v, &ConvCall::simple(l, 1, h, h, x, y, Act::Relu));
        }
        let t0 = Instant::now();
        let plan = Plan::compile_async(gpu, g).await?;
        let compile_s = t0.elapsed().as_secs_f64();
        let input = vec![0.5f32; c * h * h];
        let inputs = [(x, bytemuck::cast_slice::<f32, u8>(&input))];
        let t0 = Instant::now();
        plan.run_async(gpu, &inputs, &[y]).await?;
        let first_s = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        plan.run_async(gpu, &inputs, &[y]).await?;
        let warm_s = t0.elapsed().as_secs_f64();
        results.push(VariantTiming {
            variant: v,
            run_s: warm_s / 2.0,
            compile_s: compile_s + (first_s - warm_s).max(0.0),
        });
    }
    // A Winograd session also compiles the direct kernels of the layers it
    // skips (thin, dilated, small maps), which the timed layer does not show.
    // The subgroup ones are not timed; their plain twins, as long to compile
    // (the same code but r - 1 loads fewer), stand in for them.
    let direct_compile = |tn, r| {
        results
            .iter()
            .find(|t| t.variant == ConvVariant::Direct { tn, r, sg: false })
            .map_or(0.0, |t| t.compile_s)
    };
    let extra: Vec<f64> = results
        .iter()
        .map(|t| match t.variant {
            ConvVariant::Winograd { tn, r, .. } => direct_compile(tn, r),
            _ => 0.0,
        })
        .collect();
    for (t, e) in results.iter_mut().zip(extra) {
        t.compile_s += e;
    }
    Ok(results)
}
