//! Opening the GPU and the engine for `run` and `bench`, with the start-up
//! report (adapter, limits, convolution variant) on stderr: results depend on
//! the adapter and the chosen kernel, so every run says which it used.

use icnet_engine::{Engine, EngineOptions, Gpu, GpuOptions, Model};

use crate::cli::DeviceArgs;
use crate::text::{clause, mib, secs};

const MIB: u64 = 1 << 20;

pub fn gpu_options(a: &DeviceArgs) -> GpuOptions {
    GpuOptions {
        adapter_name: a.adapter.clone(),
        low_power: a.low_power,
        max_binding_bytes: a.max_binding_mib.map(|m| m.saturating_mul(MIB)),
        max_buffer_bytes: a.max_buffer_mib.map(|m| m.saturating_mul(MIB)),
        pipeline_cache_dir: if a.no_pipeline_cache {
            None
        } else {
            pipeline_cache_dir()
        },
    }
}

/// Where compiled pipelines are kept: the user's cache folder (XDG), if there is one.
fn pipeline_cache_dir() -> Option<std::path::PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("icnet-webgpu"))
}

/// Saves the pipeline cache; a failure only costs the next run its compile
/// time, so it is a warning.
pub fn save_pipeline_cache(gpu: &Gpu) {
    if let Err(e) = gpu.save_pipeline_cache() {
        eprintln!("warning: {}", clause(e));
    }
}

/// Opens the device, measures (or takes) the convolution variant and reports both.
/// `expected_photos`: how many photos this process will run, so that the
/// variant choice can weigh compilation against run time (`None`: run time only).
pub fn open_engine(
    a: &DeviceArgs,
    model: Model,
    expected_photos: Option<usize>,
) -> Result<Engine, String> {
    let gpu = Gpu::new_blocking(&gpu_options(a)).map_err(clause)?;
    eprintln!(
        "adapter: {} (driver: {}); max storage binding {:.0} MiB, max buffer {:.0} MiB",
        gpu.describe(),
        if gpu.info.driver_info.is_empty() {
            &gpu.info.driver
        } else {
            &gpu.info.driver_info
        },
        mib(gpu.limits.max_storage_buffer_binding_size),
        mib(gpu.limits.max_buffer_size)
    );
    if a.conv_variant.is_none() {
        eprintln!("conv variant: measuring the candidates on this adapter ...");
    }
    let engine = Engine::with_model(
        gpu,
        model,
        EngineOptions {
            variant: a.conv_variant,
            memory_budget: a.memory_budget_mib.map(|m| m.saturating_mul(MIB)),
            expected_photos,
        },
    )
    .map_err(clause)?;
    if engine.tuning.is_empty() {
        eprintln!(
            "conv variant: {} (from --conv-variant)",
            engine.variant.label()
        );
    } else {
        let all: Vec<String> = engine
            .tuning
            .iter()
            .map(|t| {
                format!(
                    "{} {} (compile {})",
                    t.variant.label(),
                    secs(t.run_s),
                    secs(t.compile_s)
                )
            })
            .collect();
        let why = match expected_photos {
            Some(n) => format!("cheapest for {n} photos, compilation included"),
            None => "fastest".to_string(),
        };
        eprintln!(
            "conv variant: {} ({why}; measured: {})",
            engine.variant.label(),
            all.join(", ")
        );
    }
    Ok(engine)
}
