//! Adapter selection and device creation.
//!
//! We ask for the adapter's *real* limits rather than the WebGPU defaults: the
//! plan sizes its image chunks from `max_storage_buffer_binding_size` and
//! `max_buffer_size`, so a bigger GPU runs bigger chunks. Tests and the
//! `--max-binding-mib` flag can clamp them down to what browsers give.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::kernels::Kernel;
use crate::{Error, Result};

/// How to choose and configure the device.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Case-insensitive substring of the adapter name (`--adapter`).
    pub adapter_name: Option<String>,
    /// Prefer a low-power adapter instead of the default high-performance one.
    pub low_power: bool,
    /// Clamp `max_storage_buffer_binding_size` to this many bytes.
    pub max_binding_bytes: Option<u64>,
    /// Clamp `max_buffer_size` to this many bytes.
    pub max_buffer_bytes: Option<u64>,
}

/// A device and queue plus what we know about the adapter they came from.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with (the adapter's, maybe clamped).
    pub limits: wgpu::Limits,
    /// Compiled pipelines by rendered WGSL source, shared by every plan on
    /// this device. Plans for other group sizes, U²-Netp and the tuning runs
    /// use the same few kernels; compiling each once matters where shader
    /// compilation is slow (SwiftShader in Chromium: seconds per large
    /// convolution kernel).
    pipelines: Mutex<HashMap<String, wgpu::ComputePipeline>>,
}

/// One line per adapter for `icnet info`.
pub struct AdapterReport {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
}

fn instance() -> wgpu::Instance {
    // Honours WGPU_BACKEND (vulkan, metal, dx12, gl) like every wgpu program.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// The hint printed when no adapter exists at all.
pub const NO_ADAPTER_HINT: &str = "no GPU adapter was found: install a Vulkan, Metal or DX12 driver \
(on a Linux machine without a GPU, Mesa's lavapipe CPU driver: `apt-get install mesa-vulkan-drivers`)";

/// Every adapter this machine offers, for `icnet info`.
pub async fn list_adapters() -> Vec<AdapterReport> {
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    instance()
        .enumerate_adapters(backends)
        .await
        .into_iter()
        .map(|a| AdapterReport {
            info: a.get_info(),
            limits: a.limits(),
            features: a.features(),
        })
        .collect()
}

impl Gpu {
    /// Picks an adapter and creates the device.
    pub async fn new(opts: &GpuOptions) -> Result<Gpu> {
        let instance = instance();
        let adapter = match &opts.adapter_name {
            Some(want) => {
                let want_lc = want.to_lowercase();
                let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
                let all = instance.enumerate_adapters(backends).await;
                let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
                match all
                    .into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&want_lc))
                {
                    Some(a) => a,
                    None if names.is_empty() => {
                        return Err(Error::NoAdapter(NO_ADAPTER_HINT.into()))
                    }
                    None => {
                        return Err(Error::NoAdapter(format!(
                            "no adapter name contains \"{want}\"; available: {}",
                            names.join(", ")
                        )))
                    }
                }
            }
            None => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: if opts.low_power {
                        wgpu::PowerPreference::LowPower
                    } else {
                        wgpu::PowerPreference::HighPerformance
                    },
                    ..Default::default()
                })
                .await
                .map_err(|_| Error::NoAdapter(NO_ADAPTER_HINT.into()))?,
        };
        Self::from_adapter(adapter, opts).await
    }

    /// Creates the device on a given adapter with its real limits (clamped as asked).
    pub async fn from_adapter(adapter: wgpu::Adapter, opts: &GpuOptions) -> Result<Gpu> {
        let info = adapter.get_info();
        let mut limits = adapter.limits();
        if let Some(b) = opts.max_binding_bytes {
            limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.min(b);
        }
        if let Some(b) = opts.max_buffer_bytes {
            limits.max_buffer_size = limits.max_buffer_size.min(b);
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("icnet"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Device(format!(
                    "could not open the GPU device on {}: {e}",
                    info.name
                ))
            })?;
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    /// Blocking convenience for native code.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(opts: &GpuOptions) -> Result<Gpu> {
        pollster::block_on(Self::new(opts))
    }

    /// The pipeline of `kernel`, compiled on first use. Errors surface
    /// through the caller's error scope (see [`crate::plan::Plan::compile_async`]),
    /// which then calls [`Gpu::forget_pipelines`].
    pub fn pipeline(&self, kernel: &Kernel) -> wgpu::ComputePipeline {
        let src = kernel.source();
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(&src) {
            return p.clone();
        }
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.name()),
                source: wgpu::ShaderSource::Wgsl(src.as_str().into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name()),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        cache.insert(src, p.clone());
        p
    }

    /// How many pipelines have been compiled on this device.
    pub fn pipelines_compiled(&self) -> usize {
        self.pipelines.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Drops every cached pipeline (after an error, a pipeline may be invalid).
    pub fn forget_pipelines(&self) {
        if let Ok(mut c) = self.pipelines.lock() {
            c.clear();
        }
    }

    /// A one-line description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }
}
