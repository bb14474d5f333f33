//! The fixed execution graph and its compiled form.
//!
//! A [`Graph`] is a flat list of [`Step`]s (one compute dispatch each) over
//! logical tensors and constant buffers. [`Plan::compile`] turns it into GPU
//! objects once: every pipeline, buffer, uniform and bind group is created at
//! plan time, and a liveness-based planner lets tensors whose lifetimes do not
//! overlap share one physical buffer. [`Plan::run`] then only uploads the
//! inputs, records every dispatch into one encoder, submits once and reads back
//! the requested outputs.

use std::collections::HashMap;
use web_time::Instant;

use crate::kernels::Kernel;
use crate::{Error, Gpu, Result};

/// How float tensors and constants are stored on the GPU. Arithmetic and
/// accumulation are f32 in both; `F16` halves the bytes every kernel reads
/// and writes and needs the adapter's `shader-f16` feature. The host always
/// sees f32: inputs are converted on upload, outputs on readback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    F16,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::F16];

    /// Bytes of one stored float.
    pub fn bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }

    pub fn parse(s: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.id() == s)
    }
}

/// A logical tensor (floats, or u32 words), identified by its index in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorId(pub usize);

/// A constant buffer (weights, biases) uploaded once at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConstId(pub usize);

/// What a binding slot of a step refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Res {
    T(TensorId),
    C(ConstId),
}

/// Tensors the caller writes or reads survive the whole run and never share memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Produced and consumed inside the run; may share a buffer with others.
    Transient,
    /// Uploaded by the caller before the run.
    Input,
    /// Read back after the run.
    Output,
}

#[derive(Clone, Debug)]
pub struct TensorDesc {
    pub name: String,
    /// Number of elements (floats, or u32 words for [`Graph::tensor_u32`]).
    pub words: usize,
    pub role: Role,
    /// Holds u32 words (ranks), which keep 4 bytes in every [`Precision`].
    pub int: bool,
}

/// One compute dispatch.
#[derive(Clone, Debug)]
pub struct Step {
    pub kernel: Kernel,
    /// Uniform parameter words (binding 0).
    pub params: Vec<u32>,
    /// Storage bindings 1.. in order.
    pub bindings: Vec<Res>,
    pub groups: [u32; 3],
    /// Floating-point operations (2 per multiply-add), for GFLOPS reports.
    pub flops: f64,
    /// Index into [`Graph::stages`].
    pub stage: usize,
}

/// The graph as built by [`crate::models::icnet`] or a kernel test.
#[derive(Default)]
pub struct Graph {
    pub tensors: Vec<TensorDesc>,
    pub consts: Vec<Vec<u32>>,
    pub steps: Vec<Step>,
    pub stages: Vec<String>,
    current_stage: usize,
    /// Constants made from others (Winograd's transformed weights), by source,
    /// so that a layer used twice is transformed once.
    pub derived: Vec<(ConstId, ConstId)>,
    /// Storage of float tensors and constants. Builders always work in f32
    /// (constants are f32 words in [`Graph::consts`]); the plan converts.
    pub precision: Precision,
}

impl Graph {
    pub fn new() -> Graph {
        Graph {
            stages: vec!["main".into()],
            ..Default::default()
        }
    }

    /// Starts a named stage (for per-stage timing); later steps belong to it.
    pub fn stage(&mut self, name: &str) {
        if let Some(i) = self.stages.iter().position(|s| s == name) {
            self.current_stage = i;
        } else {
            self.stages.push(name.to_string());
            self.current_stage = self.stages.len() - 1;
        }
    }

    pub fn tensor(&mut self, name: impl Into<String>, words: usize, role: Role) -> TensorId {
        self.tensors.push(TensorDesc {
            name: name.into(),
            words: words.max(1),
            role,
            int: false,
        });
        TensorId(self.tensors.len() - 1)
    }

    /// A tensor of u32 words (stored as such in every precision).
    pub fn tensor_u32(&mut self, name: impl Into<String>, words: usize, role: Role) -> TensorId {
        let t = self.tensor(name, words, role);
        self.tensors[t.0].int = true;
        t
    }

    /// Bytes tensor `t` takes on the GPU (a multiple of 4, as copies need).
    pub fn tensor_bytes(&self, t: TensorId) -> u64 {
        let d = &self.tensors[t.0];
        let each = if d.int { 4 } else { self.precision.bytes() };
        (d.words as u64 * each).div_ceil(4) * 4
    }

    /// Whether tensor `t` is stored as f16 (converted on upload and readback).
    pub fn is_half(&self, t: TensorId) -> bool {
        self.precision == Precision::F16 && !self.tensors[t.0].int
    }

    /// Marks an existing tensor as read back after the run.
    pub fn keep(&mut self, t: TensorId) {
        if self.tensors[t.0].role == Role::Transient {
            self.tensors[t.0].role = Role::Output;
        }
    }

    pub fn constant_f32(&mut self, data: &[f32]) -> ConstId {
        self.consts.push(bytemuck::cast_slice(data).to_vec());
        ConstId(self.consts.len() - 1)
    }

    pub fn push(
        &mut self,
        kernel: Kernel,
        params: Vec<u32>,
        bindings: Vec<Res>,
        groups: [u32; 3],
        flops: f64,
    ) {
        self.steps.push(Step {
            kernel,
            params,
            bindings,
            groups,
            flops,
            stage: self.current_stage,
        });
    }

    pub fn find(&self, name: &str) -> Option<TensorId> {
        self.tensors
            .iter()
            .position(|t| t.name == name)
            .map(TensorId)
    }
}

/// Where each tensor lives after planning.
#[derive(Clone, Debug)]
pub struct MemoryPlan {
    /// Physical buffer index of every tensor.
    pub slot_of: Vec<usize>,
    /// Size in bytes of every physical buffer.
    pub slot_bytes: Vec<u64>,
}

impl MemoryPlan {
    pub fn planned_bytes(&self) -> u64 {
        self.slot_bytes.iter().sum()
    }
}

/// Liveness-based buffer assignment.
///
/// A tensor is live from the first to the last step that binds it; caller
/// inputs and outputs are live for the whole run (inputs are written before
/// the single submit, outputs read after it). Tensors are visited in order of
/// first use; each takes the free buffer that fits best (growing the largest
/// free one if none fits), so memory tracks the peak working set rather than
/// the sum of all tensors.
pub fn plan_memory(graph: &Graph, align: u64) -> MemoryPlan {
    let n = graph.tensors.len();
    let last_step = graph.steps.len();
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    for (si, s) in graph.steps.iter().enumerate() {
        for b in &s.bindings {
            if let Res::T(t) = b {
                first[t.0] = first[t.0].min(si);
                last[t.0] = last[t.0].max(si);
            }
        }
    }
    for (i, t) in graph.tensors.iter().enumerate() {
        if t.role != Role::Transient || first[i] == usize::MAX {
            first[i] = 0;
            last[i] = last_step;
        }
    }
    let bytes = |i: usize| graph.tensor_bytes(TensorId(i)).div_ceil(align) * align;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (first[i], std::cmp::Reverse(bytes(i))));

    let mut slot_of = vec![0usize; n];
    let mut slot_bytes: Vec<u64> = Vec::new();
    let mut slot_free_after: Vec<usize> = Vec::new(); // last step index using it
    let mut slot_pinned: Vec<bool> = Vec::new();
    for &i in &order {
        let need = bytes(i);
        let pinned = graph.tensors[i].role != Role::Transient;
        let mut best: Option<usize> = None;
        if !pinned {
            // Best fit among free buffers that are big enough, else the largest free one.
            for s in 0..slot_bytes.len() {
                if slot_pinned[s] || slot_free_after[s] >= first[i] {
                    continue;
                }
                best = match best {
                    None => Some(s),
                    Some(b) => {
                        let (fb, fs) = (slot_bytes[b] >= need, slot_bytes[s] >= need);
                        let better = match (fb, fs) {
                            (false, true) => true,
                            (true, false) => false,
                            (true, true) => slot_bytes[s] < slot_bytes[b],
                            (false, false) => slot_bytes[s] > slot_bytes[b],
                        };
                        Some(if better { s } else { b })
                    }
                };
            }
        }
        let s = match best {
            Some(s) => s,
            None => {
                slot_bytes.push(0);
                slot_free_after.push(0);
                slot_pinned.push(pinned);
                slot_bytes.len() - 1
            }
        };
        slot_bytes[s] = slot_bytes[s].max(need);
        slot_free_after[s] = last[i];
        slot_of[i] = s;
    }
    MemoryPlan {
        slot_of,
        slot_bytes,
    }
}

/// Per-stage wall time of a profiled run.
#[derive(Clone, Debug)]
pub struct StageTiming {
    pub name: String,
    pub seconds: f64,
    pub flops: f64,
    pub dispatches: usize,
}

/// A graph compiled for one device.
pub struct Plan {
    pub graph: Graph,
    pub memory: MemoryPlan,
    buffers: Vec<wgpu::Buffer>,
    consts: Vec<wgpu::Buffer>,
    pipelines: Vec<wgpu::ComputePipeline>,
    step_pipeline: Vec<usize>,
    bind_groups: Vec<wgpu::BindGroup>,
    _uniforms: wgpu::Buffer,
}

impl Plan {
    /// [`Plan::compile_async`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn compile(gpu: &Gpu, graph: Graph) -> Result<Plan> {
        pollster::block_on(Self::compile_async(gpu, graph))
    }

    /// Creates every pipeline, buffer and bind group of `graph` on `gpu`.
    /// Async because the device reports out-of-memory and validation errors
    /// through error scopes, which a browser resolves asynchronously.
    pub async fn compile_async(gpu: &Gpu, mut graph: Graph) -> Result<Plan> {
        let device = &gpu.device;
        gpu.check_precision(graph.precision)?;
        if graph.precision == Precision::F16 {
            for s in &mut graph.steps {
                s.kernel.precision = Precision::F16;
            }
            // A finite f32 weight beyond f16's range would become infinite.
            let limit = half::f16::MAX.to_f32();
            if let Some(w) = graph
                .consts
                .iter()
                .flatten()
                .map(|&w| f32::from_bits(w))
                .find(|w| w.abs() > limit)
            {
                return Err(Error::Unsupported(format!(
                    "these weights hold {w:e}, beyond f16's range (±{limit}), so they cannot run in f16; use f32"
                )));
            }
        }
        let max_binding = gpu.limits.max_storage_buffer_binding_size;
        let max_buffer = gpu.limits.max_buffer_size;
        for (i, t) in graph.tensors.iter().enumerate() {
            let b = graph.tensor_bytes(TensorId(i));
            if b > max_binding || b > max_buffer {
                return Err(Error::Unsupported(format!(
                    "this group is too large for the adapter: tensor {} needs {} MiB but at most {} MiB fit one buffer; split the group",
                    t.name,
                    b >> 20,
                    max_binding.min(max_buffer) >> 20
                )));
            }
        }
        let memory = plan_memory(&graph, 256);
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let buffers: Vec<wgpu::Buffer> = memory
            .slot_bytes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("slot{i}")),
                    size,
                    usage,
                    mapped_at_creation: false,
                })
            })
            .collect();
        // A constant no step binds (a layer's direct weights when it runs as
        // Winograd) gets a minimal buffer instead of its data.
        let mut bound = vec![false; graph.consts.len()];
        for s in &graph.steps {
            for r in &s.bindings {
                if let Res::C(c) = r {
                    bound[c.0] = true;
                }
            }
        }
        let consts: Vec<wgpu::Buffer> = graph
            .consts
            .iter()
            .zip(&bound)
            .map(|(data, &bound)| {
                let data: &[u32] = if bound { data } else { &[] };
                let bytes: Vec<u8> = match graph.precision {
                    Precision::F32 => bytemuck::cast_slice(data).to_vec(),
                    Precision::F16 => f32_words_to_f16(data),
                };
                let size = (bytes.len() as u64).max(16).div_ceil(16) * 16;
                let buf = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("const"),
                    size,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: true,
                });
                let mut padded = vec![0u8; size as usize];
                padded[..bytes.len()].copy_from_slice(&bytes);
                buf.slice(..)
                    .get_mapped_range_mut()
                    .expect("mapped at creation")
                    .copy_from_slice(&padded);
                buf.unmap();
                buf
            })
            .collect();

        // Pipelines from the device's cache (one per rendered source), and
        // one entry per distinct pipeline in this plan.
        let mut pipelines = Vec::new();
        let mut by_kernel: HashMap<&Kernel, usize> = HashMap::new();
        let mut step_pipeline = Vec::with_capacity(graph.steps.len());
        for s in &graph.steps {
            let idx = *by_kernel.entry(&s.kernel).or_insert_with(|| {
                pipelines.push(gpu.pipeline(&s.kernel));
                pipelines.len() - 1
            });
            step_pipeline.push(idx);
        }

        // One uniform buffer holds every step's parameters at aligned offsets.
        let ualign = gpu.limits.min_uniform_buffer_offset_alignment.max(16) as usize;
        let slot_size = graph
            .steps
            .iter()
            .map(|s| s.params.len() * 4)
            .max()
            .unwrap_or(16)
            .max(16)
            .div_ceil(16)
            * 16;
        let stride = slot_size.div_ceil(ualign) * ualign;
        let mut ubytes = vec![0u8; (stride * graph.steps.len()).max(16)];
        for (i, s) in graph.steps.iter().enumerate() {
            let b: &[u8] = bytemuck::cast_slice(&s.params);
            ubytes[i * stride..i * stride + b.len()].copy_from_slice(b);
        }
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params"),
            size: ubytes.len() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: true,
        });
        uniforms
            .slice(..)
            .get_mapped_range_mut()
            .expect("mapped at creation")
            .copy_from_slice(&ubytes);
        uniforms.unmap();

        let mut bind_groups = Vec::with_capacity(graph.steps.len());
        for (i, s) in graph.steps.iter().enumerate() {
            let layout = pipelines[step_pipeline[i]].get_bind_group_layout(0);
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniforms,
                    offset: (i * stride) as u64,
                    size: wgpu::BufferSize::new(slot_size as u64),
                }),
            }];
            for (j, r) in s.bindings.iter().enumerate() {
                let resource = match r {
                    Res::T(t) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &buffers[memory.slot_of[t.0]],
                        offset: 0,
                        size: wgpu::BufferSize::new(graph.tensor_bytes(*t).div_ceil(16) * 16).map(
                            |s| {
                                s.min(
                                    wgpu::BufferSize::new(memory.slot_bytes[memory.slot_of[t.0]])
                                        .unwrap(),
                                )
                            },
                        ),
                    }),
                    Res::C(c) => consts[c.0].as_entire_binding(),
                };
                entries.push(wgpu::BindGroupEntry {
                    binding: j as u32 + 1,
                    resource,
                });
            }
            bind_groups.push(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &layout,
                entries: &entries,
            }));
        }
        let oom_err = oom.pop().await;
        let err = scope.pop().await;
        if oom_err.is_some() || err.is_some() {
            gpu.forget_pipelines();
        }
        if let Some(e) = oom_err {
            return Err(Error::Device(format!(
                "the GPU ran out of memory while planning: {e}"
            )));
        }
        if let Some(e) = err {
            return Err(Error::Device(format!("the GPU rejected the plan: {e}")));
        }
        // The weights live on the GPU now: drop the host copy, which for
        // U²-Net (176 MB) would otherwise stay for the plan's lifetime.
        let mut graph = graph;
        graph.consts = Vec::new();
        Ok(Plan {
            graph,
            memory,
            buffers,
            consts,
            pipelines,
            step_pipeline,
            bind_groups,
            _uniforms: uniforms,
        })
    }

    /// Bytes of all physical buffers (activations only; weights are separate).
    pub fn planned_bytes(&self) -> u64 {
        self.memory.planned_bytes()
    }

    /// What the activations would take with one buffer per tensor.
    pub fn naive_bytes(&self) -> u64 {
        (0..self.graph.tensors.len())
            .map(|i| self.graph.tensor_bytes(TensorId(i)))
            .sum()
    }

    pub fn weight_bytes(&self) -> u64 {
        self.consts.iter().map(|b| b.size()).sum()
    }

    pub fn total_flops(&self) -> f64 {
        self.graph.steps.iter().map(|s| s.flops).sum()
    }

    /// The dispatch list, one line per step.
    pub fn describe_dispatches(&self) -> Vec<String> {
        self.graph
            .steps
            .iter()
            .map(|s| {
                let names: Vec<&str> = s
                    .bindings
                    .iter()
                    .filter_map(|b| match b {
                        Res::T(t) => Some(self.graph.tensors[t.0].name.as_str()),
                        Res::C(_) => None,
                    })
                    .collect();
                format!(
                    "[{}] {} {:?} {}",
                    self.graph.stages[s.stage],
                    s.kernel.name(),
                    s.groups,
                    names.join(" ")
                )
            })
            .collect()
    }

    fn write_inputs(&self, gpu: &Gpu, inputs: &[(TensorId, &[u8])]) -> Result<()> {
        for (t, data) in inputs {
            let desc = &self.graph.tensors[t.0];
            if desc.role != Role::Input {
                return Err(Error::Unsupported(format!(
                    "tensor {} is not an input of this plan",
                    desc.name
                )));
            }
            if data.len() != desc.words * 4 {
                return Err(Error::Unsupported(format!(
                    "input {} expects {} values, got {}",
                    desc.name,
                    desc.words,
                    data.len() / 4
                )));
            }
            let buf = &self.buffers[self.memory.slot_of[t.0]];
            if self.graph.is_half(*t) {
                let words: &[u32] = &bytemuck::pod_collect_to_vec(data);
                let mut half = f32_words_to_f16(words);
                half.resize(self.graph.tensor_bytes(*t) as usize, 0);
                gpu.queue.write_buffer(buf, 0, &half);
            } else {
                gpu.queue.write_buffer(buf, 0, data);
            }
        }
        Ok(())
    }

    fn encode_steps(&self, encoder: &mut wgpu::CommandEncoder, range: std::ops::Range<usize>) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        for i in range {
            let s = &self.graph.steps[i];
            pass.set_pipeline(&self.pipelines[self.step_pipeline[i]]);
            pass.set_bind_group(0, &self.bind_groups[i], &[]);
            pass.dispatch_workgroups(s.groups[0], s.groups[1], s.groups[2]);
        }
    }

    /// [`Plan::run_async`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(
        &self,
        gpu: &Gpu,
        inputs: &[(TensorId, &[u8])],
        outputs: &[TensorId],
    ) -> Result<Vec<Vec<u8>>> {
        pollster::block_on(self.run_async(gpu, inputs, outputs))
    }

    /// Uploads `inputs`, runs every step in one submission and returns the
    /// contents of `outputs` (as raw words) in the same order.
    pub async fn run_async(
        &self,
        gpu: &Gpu,
        inputs: &[(TensorId, &[u8])],
        outputs: &[TensorId],
    ) -> Result<Vec<Vec<u8>>> {
        self.write_inputs(gpu, inputs)?;
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        self.encode_steps(&mut encoder, 0..self.graph.steps.len());
        let staging = self.encode_readback(gpu, &mut encoder, outputs)?;
        gpu.queue.submit([encoder.finish()]);
        self.finish_readback(gpu, staging).await
    }

    /// [`Plan::run_staged_async`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_staged(
        &self,
        gpu: &Gpu,
        inputs: &[(TensorId, &[u8])],
        outputs: &[TensorId],
        on_stage: &mut dyn FnMut(&StageTiming, usize, usize),
    ) -> Result<(Vec<Vec<u8>>, Vec<StageTiming>)> {
        pollster::block_on(self.run_staged_async(gpu, inputs, outputs, on_stage))
    }

    /// Like [`Plan::run`] but submits stage by stage and waits after each,
    /// calling `on_stage(timing, done, total)` as each finishes: per-stage
    /// timing for `icnet bench` and progress for long runs on slow adapters.
    /// The extra submissions cost a few milliseconds per run.
    pub async fn run_staged_async(
        &self,
        gpu: &Gpu,
        inputs: &[(TensorId, &[u8])],
        outputs: &[TensorId],
        on_stage: &mut dyn FnMut(&StageTiming, usize, usize),
    ) -> Result<(Vec<Vec<u8>>, Vec<StageTiming>)> {
        self.write_inputs(gpu, inputs)?;
        settle(gpu).await?;
        let steps = &self.graph.steps;
        // Runs of consecutive steps of one stage, in order.
        let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
        for i in 0..steps.len() {
            match runs.last_mut() {
                Some(r) if steps[r.start].stage == steps[i].stage => r.end = i + 1,
                _ => runs.push(i..i + 1),
            }
        }
        let mut timings: Vec<StageTiming> = Vec::new();
        for (k, r) in runs.iter().enumerate() {
            let t0 = Instant::now();
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            self.encode_steps(&mut encoder, r.clone());
            gpu.queue.submit([encoder.finish()]);
            settle(gpu).await?;
            let this = StageTiming {
                name: self.graph.stages[steps[r.start].stage].clone(),
                seconds: t0.elapsed().as_secs_f64(),
                flops: steps[r.clone()].iter().map(|s| s.flops).sum(),
                dispatches: r.len(),
            };
            on_stage(&this, k + 1, runs.len());
            match timings.iter_mut().find(|t| t.name == this.name) {
                Some(t) => {
                    t.seconds += this.seconds;
                    t.flops += this.flops;
                    t.dispatches += this.dispatches;
                }
                None => timings.push(this),
            }
        }
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let staging = self.encode_readback(gpu, &mut encoder, outputs)?;
        gpu.queue.submit([encoder.finish()]);
        Ok((self.finish_readback(gpu, staging).await?, timings))
    }

    fn encode_readback(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        outputs: &[TensorId],
    ) -> Result<Vec<Staged>> {
        let mut staging = Vec::new();
        for t in outputs {
            let desc = &self.graph.tensors[t.0];
            if desc.role == Role::Transient {
                return Err(Error::Unsupported(format!(
                    "tensor {} is not kept by this plan",
                    desc.name
                )));
            }
            let size = self.graph.tensor_bytes(*t);
            let buf = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            encoder.copy_buffer_to_buffer(
                &self.buffers[self.memory.slot_of[t.0]],
                0,
                &buf,
                0,
                size,
            );
            staging.push((buf, self.graph.is_half(*t).then_some(*t)));
        }
        Ok(staging)
    }

    async fn finish_readback(&self, gpu: &Gpu, staging: Vec<Staged>) -> Result<Vec<Vec<u8>>> {
        let mut pending = Vec::with_capacity(staging.len());
        for (buf, _) in &staging {
            let (tx, rx) = futures_channel::oneshot::channel();
            buf.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
            pending.push(rx);
        }
        poll_native(gpu)?;
        for rx in pending {
            rx.await
                .map_err(|_| {
                    Error::Device("the GPU device was lost while reading results back".into())
                })?
                .map_err(|e| {
                    Error::Device(format!("reading results back from the GPU failed: {e}"))
                })?;
        }
        let mut out = Vec::with_capacity(staging.len());
        for (buf, half) in &staging {
            let view = buf.slice(..).get_mapped_range().map_err(|e| {
                Error::Device(format!("reading results back from the GPU failed: {e}"))
            })?;
            let bytes = match half {
                Some(t) => f16_to_f32_bytes(&view[..2 * self.graph.tensors[t.0].words]),
                None => view.to_vec(),
            };
            drop(view);
            buf.unmap();
            // f16 overflows to infinity past 65504; never hand that back as a map.
            if let Some(t) = half {
                let floats: &[f32] = &bytemuck::pod_collect_to_vec(&bytes);
                if floats.iter().any(|v| !v.is_finite()) {
                    return Err(Error::Unsupported(format!(
                        "the f16 run overflowed: {} holds infinite or NaN values; use f32",
                        self.graph.tensors[t.0].name
                    )));
                }
            }
            out.push(bytes);
        }
        Ok(out)
    }
}

/// A readback buffer and, for an f16 tensor, the tensor (its bytes are
/// widened to f32 for the caller).
type Staged = (wgpu::Buffer, Option<TensorId>);

/// f32 values (as their bit patterns) to f16 bytes, rounded to nearest even;
/// values beyond f16's range become infinities (the error tests would see them).
fn f32_words_to_f16(words: &[u32]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|&w| half::f16::from_f32(f32::from_bits(w)).to_le_bytes())
        .collect()
}

/// f16 bytes to f32 bytes (exact).
fn f16_to_f32_bytes(bytes: &[u8]) -> Vec<u8> {
    bytes
        .chunks_exact(2)
        .flat_map(|c| {
            half::f16::from_le_bytes([c[0], c[1]])
                .to_f32()
                .to_le_bytes()
        })
        .collect()
}

/// Natively, drives the device until the submitted work is done (callbacks
/// such as `map_async` fire from here). In a browser the page's event loop
/// drives the device and `poll` does nothing.
fn poll_native(gpu: &Gpu) -> Result<()> {
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(|_| ())
        .map_err(|e| Error::Device(format!("the GPU device stopped responding: {e}")))?;
    #[cfg(target_arch = "wasm32")]
    let _ = gpu;
    Ok(())
}

/// Waits until everything submitted so far has run.
async fn settle(gpu: &Gpu) -> Result<()> {
    let (tx, rx) = futures_channel::oneshot::channel();
    gpu.queue.on_submitted_work_done(move || {
        let _ = tx.send(());
    });
    poll_native(gpu)?;
    rx.await
        .map_err(|_| Error::Device("the GPU device was lost while running the plan".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Kernel;

    fn step(g: &mut Graph, ts: &[TensorId]) {
        g.push(
            Kernel::test_dummy(),
            vec![],
            ts.iter().map(|&t| Res::T(t)).collect(),
            [1, 1, 1],
            0.0,
        );
    }

    #[test]
    fn plans_share_the_devices_pipelines() {
        // A device of its own: the shared test device is used by other tests
        // at the same time, so its cache size is not ours to count.
        let gpu = Gpu::new_blocking(&Default::default()).expect("adapter");
        let graph = || {
            let mut g = Graph::new();
            let x = g.tensor("x", 4 * 8 * 8, Role::Input);
            let y = g.tensor("y", 4 * 4 * 4, Role::Transient);
            let z = g.tensor("z", 4 * 2 * 2, Role::Output);
            crate::kernels::pool::push(&mut g, x, y, 4, 8, 8, false);
            crate::kernels::pool::push(&mut g, y, z, 4, 4, 4, false);
            g
        };
        let a = Plan::compile(&gpu, graph()).expect("compile");
        assert_eq!(gpu.pipelines_compiled(), 1, "two steps, one kernel");
        let b = Plan::compile(&gpu, graph()).expect("compile again");
        assert_eq!(
            gpu.pipelines_compiled(),
            1,
            "a second plan compiles nothing"
        );
        let input: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let bytes: &[u8] = bytemuck::cast_slice(&input);
        let out = |p: &Plan| {
            p.run(
                &gpu,
                &[(p.graph.find("x").unwrap(), bytes)],
                &[p.graph.find("z").unwrap()],
            )
            .expect("run")
        };
        assert_eq!(out(&a), out(&b));
    }

    #[test]
    fn f16_plans_round_trip_and_refuse_what_f16_cannot_hold() {
        let gpu = crate::kernels::testutil::gpu();
        if !gpu.has_f16() {
            eprintln!("{} has no shader-f16: nothing to check", gpu.describe());
            return;
        }
        let graph = || {
            let mut g = Graph::new();
            g.precision = Precision::F16;
            // Odd sizes: 2-byte elements that do not fill the last 4-byte word.
            let x = g.tensor("x", 3 * 6 * 6, Role::Input);
            let y = g.tensor("y", 3 * 3 * 3, Role::Output);
            crate::kernels::pool::push(&mut g, x, y, 3, 6, 6, false);
            (g, x, y)
        };
        let (g, x, y) = graph();
        assert_eq!(
            g.tensor_bytes(y),
            56,
            "27 f16 values, rounded up to whole words"
        );
        let plan = Plan::compile(gpu, g).expect("compile");
        let run = |input: &[f32]| plan.run(gpu, &[(x, bytemuck::cast_slice(input))], &[y]);
        // Values f16 holds exactly come back exactly, as f32.
        let input: Vec<f32> = (0..108).map(|i| i as f32 * 0.25 - 7.0).collect();
        let out = run(&input).expect("run");
        let got: Vec<f32> = bytemuck::pod_collect_to_vec(&out[0]);
        assert_eq!(got.len(), 27);
        assert_eq!(got[0], input[7], "max of the first 2x2 window");
        // Beyond f16's range the upload becomes infinite: an error, not a map.
        let mut big = input.clone();
        big[0] = 1e6;
        let e = run(&big).unwrap_err().to_string();
        assert!(e.contains("overflowed: y holds"), "{e}");
        // A weight beyond f16's range is refused before anything runs.
        let (mut g, _, _) = graph();
        g.constant_f32(&[1.0, -7e4]);
        let e = Plan::compile(gpu, g).err().expect("refused").to_string();
        assert!(e.contains("beyond f16's range"), "{e}");
    }

    #[test]
    fn chain_reuses_memory_and_pins_io() {
        let mut g = Graph::new();
        let input = g.tensor("in", 100, Role::Input);
        let a = g.tensor("a", 1000, Role::Transient);
        let b = g.tensor("b", 1000, Role::Transient);
        let c = g.tensor("c", 500, Role::Transient);
        let out = g.tensor("out", 10, Role::Output);
        step(&mut g, &[input, a]);
        step(&mut g, &[a, b]);
        step(&mut g, &[b, c]);
        step(&mut g, &[c, out]);
        let m = plan_memory(&g, 4);
        // a and b are live together, c may reuse a's buffer; in/out are never shared.
        assert_ne!(m.slot_of[a.0], m.slot_of[b.0]);
        assert_eq!(m.slot_of[c.0], m.slot_of[a.0]);
        for t in [a, b, c] {
            assert_ne!(m.slot_of[t.0], m.slot_of[input.0]);
            assert_ne!(m.slot_of[t.0], m.slot_of[out.0]);
        }
        assert_eq!(m.planned_bytes(), (100 + 1000 + 1000 + 10) * 4);
    }

    #[test]
    fn overlapping_tensors_never_share() {
        // Random-ish interval graph: check the invariant on every pair.
        let mut g = Graph::new();
        let ts: Vec<TensorId> = (0..40)
            .map(|i| g.tensor(format!("t{i}"), 10 + (i * 37) % 300, Role::Transient))
            .collect();
        for k in 0..60usize {
            let x = ts[(k * 7) % 40];
            let y = ts[(k * 13 + 5) % 40];
            step(&mut g, &[x, y]);
        }
        let m = plan_memory(&g, 4);
        let span = |t: TensorId| {
            let uses: Vec<usize> = g
                .steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.bindings.contains(&Res::T(t)))
                .map(|(i, _)| i)
                .collect();
            (*uses.first().unwrap_or(&0), *uses.last().unwrap_or(&0))
        };
        for &x in &ts {
            assert!(m.slot_bytes[m.slot_of[x.0]] >= g.tensors[x.0].words as u64 * 4);
            for &y in &ts {
                if x != y && m.slot_of[x.0] == m.slot_of[y.0] {
                    let (a0, a1) = span(x);
                    let (b0, b1) = span(y);
                    assert!(
                        a1 < b0 || b1 < a0,
                        "{x:?} and {y:?} overlap but share a buffer"
                    );
                }
            }
        }
    }
}
