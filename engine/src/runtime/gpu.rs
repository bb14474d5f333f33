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
    /// Keep the driver's compiled pipelines in this folder between processes
    /// (where the adapter supports pipeline caches: Vulkan), so that a second
    /// run skips shader compilation. `None`: no cache.
    pub pipeline_cache_dir: Option<std::path::PathBuf>,
}

/// The driver's pipeline cache and the file it is kept in.
struct DiskCache {
    cache: wgpu::PipelineCache,
    path: std::path::PathBuf,
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
    disk_cache: Option<DiskCache>,
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
        // wgpu names the cache by adapter (vendor and device id); wgpu and
        // the driver check the driver version in the data and start empty
        // when it does not match.
        let cache_path = match (
            &opts.pipeline_cache_dir,
            wgpu::util::pipeline_cache_key(&info),
        ) {
            (Some(dir), Some(key))
                if adapter.features().contains(wgpu::Features::PIPELINE_CACHE) =>
            {
                Some(dir.join(format!("{key}.bin")))
            }
            _ => None,
        };
        let features = if cache_path.is_some() {
            wgpu::Features::PIPELINE_CACHE
        } else {
            wgpu::Features::empty()
        };
        // Subgroups for the `-sg-` convolution variants, natively only: browsers
        // want `enable subgroups;` in the WGSL, which naga does not parse yet.
        let features = if cfg!(not(target_arch = "wasm32")) {
            features | (adapter.features() & wgpu::Features::SUBGROUP)
        } else {
            features
        };
        // f16 storage for the f16 precision, wherever the adapter has it
        // (browsers included: `enable f16;` is standard WGSL).
        let features = features | (adapter.features() & wgpu::Features::SHADER_F16);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("icnet"),
                required_features: features,
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
        let disk_cache = cache_path.map(|path| {
            let data = std::fs::read(&path)
                .ok()
                .and_then(|f| cache_file::unwrap(&f).map(<[u8]>::to_vec));
            // SAFETY: `data` is what `PipelineCache::get_data` returned in an
            // earlier process (`save_pipeline_cache`), read back only if its
            // checksum matches, so a truncated or damaged file is never passed
            // on; wgpu then checks its header (backend, adapter, driver
            // version, length) and `fallback` starts an empty cache otherwise.
            let cache = unsafe {
                device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                    label: Some("icnet pipelines"),
                    data: data.as_deref(),
                    fallback: true,
                })
            };
            DiskCache { cache, path }
        });
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            disk_cache,
        })
    }

    /// Writes the pipeline cache back to its file (through a temporary file
    /// and a rename, so a concurrent run never reads half a file). Returns the
    /// file, or `None` where there is no cache.
    pub fn save_pipeline_cache(&self) -> Result<Option<std::path::PathBuf>> {
        let Some(d) = &self.disk_cache else {
            return Ok(None);
        };
        let Some(data) = d.cache.get_data() else {
            return Ok(None);
        };
        let fail = |e: std::io::Error| {
            Error::Device(format!(
                "could not save the pipeline cache {}: {e}",
                d.path.display()
            ))
        };
        if let Some(dir) = d.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        // Unique per process and per save, so concurrent saves never share a temporary file.
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = d
            .path
            .with_extension(format!("tmp{}-{n}", std::process::id()));
        std::fs::write(&tmp, cache_file::wrap(&data)).map_err(fail)?;
        std::fs::rename(&tmp, &d.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })?;
        Ok(Some(d.path.clone()))
    }

    /// Blocking convenience for native code.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking(opts: &GpuOptions) -> Result<Gpu> {
        pollster::block_on(Self::new(opts))
    }

    /// The pipeline of `kernel`, compiled on first use. Errors surface
    /// through the caller's error scope (see [`crate::runtime::plan::Plan::compile_async`]),
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
                cache: self.disk_cache.as_ref().map(|d| &d.cache),
            });
        cache.insert(src, p.clone());
        p
    }

    /// The fewest lanes a subgroup has on this device, or 0 without subgroups:
    /// a `-sg-` convolution variant broadcasts from `r` lanes and needs `r`.
    pub fn subgroup_lanes(&self) -> u32 {
        if self.device.features().contains(wgpu::Features::SUBGROUP) {
            self.info.subgroup_min_size
        } else {
            0
        }
    }

    /// Whether kernels may store f16 (`shader-f16`): what the f16 precision needs.
    pub fn has_f16(&self) -> bool {
        self.device.features().contains(wgpu::Features::SHADER_F16)
    }

    /// One sentence when this device cannot store in `precision`.
    pub fn check_precision(&self, precision: crate::Precision) -> Result<()> {
        if precision == crate::Precision::F16 && !self.has_f16() {
            return Err(Error::Unsupported(format!(
                "{} has no shader-f16, so it cannot run in f16; use f32",
                self.info.name
            )));
        }
        Ok(())
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

/// The pipeline cache file: a magic, the FNV-1a hash and length of the data,
/// then the data as wgpu returned it.
mod cache_file {
    const MAGIC: &[u8; 8] = b"icnetpc1";

    fn fnv1a(data: &[u8]) -> u64 {
        data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        })
    }

    pub fn wrap(data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&fnv1a(data).to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    /// The data, if the file is whole and unchanged.
    pub fn unwrap(file: &[u8]) -> Option<&[u8]> {
        let rest = file.strip_prefix(MAGIC.as_slice())?;
        let (hash, rest) = rest.split_first_chunk::<8>()?;
        let (len, data) = rest.split_first_chunk::<8>()?;
        (u64::from_le_bytes(*len) == data.len() as u64 && u64::from_le_bytes(*hash) == fnv1a(data))
            .then_some(data)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn damaged_cache_files_are_refused() {
            let data = b"some driver data".to_vec();
            let file = super::wrap(&data);
            assert_eq!(super::unwrap(&file), Some(&data[..]));
            assert_eq!(super::unwrap(&file[..file.len() - 1]), None, "truncated");
            let mut flipped = file.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert_eq!(super::unwrap(&flipped), None, "changed");
            assert_eq!(super::unwrap(b"icnetpc1"), None, "header only");
            assert_eq!(super::unwrap(&data), None, "not ours");
        }
    }
}
