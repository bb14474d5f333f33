//! Opening the GPU and the engine for `run` and `bench`, with the start-up
//! report (adapter, limits, convolution variant) on stderr: results depend on
//! the adapter and the chosen kernel, so every run says which it used.

use std::path::PathBuf;

use icnet_engine::engine::tune_conv;
use icnet_engine::{Engine, EngineOptions, Gpu, GpuOptions, Model};

use crate::cli::DeviceArgs;
use crate::text::{clause, mib, secs};
use crate::tuning;

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
            cache_dir()
        },
    }
}

/// Where compiled pipelines and variant timings are kept: $ICNET_CACHE_DIR,
/// else the user's cache folder (XDG), if there is one.
fn cache_dir() -> Option<PathBuf> {
    let set = |name| std::env::var_os(name).filter(|d| !d.is_empty());
    if let Some(d) = set("ICNET_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = match set("XDG_CACHE_HOME") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(set("HOME")?).join(".cache"),
    };
    Some(base.join("icnet-webgpu"))
}

/// How `open_engine` gets the variant timings when no variant is given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Timings {
    /// Those kept from an earlier run on this adapter (`run`), measured and
    /// kept if there are none.
    Reuse,
    /// A fresh measurement (`bench`, which reports it), kept only if none is.
    Measure,
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
    how: Timings,
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
    // Before the variant measurement, which takes seconds on a software adapter.
    gpu.check_precision(a.precision).map_err(clause)?;
    if a.precision == icnet_engine::Precision::F16 {
        eprintln!("precision: f16 storage, f32 arithmetic (--precision f16)");
    }
    let kept_in = cache_dir().map(|d| tuning::file(&d, &gpu));
    let mut reused = None;
    let timings = if a.conv_variant.is_some() {
        None
    } else {
        let kept = match (&kept_in, how, a.retune) {
            (Some(f), Timings::Reuse, false) => tuning::load(f, &gpu),
            _ => None,
        };
        if kept.is_some() {
            reused = kept_in.clone();
            kept
        } else {
            eprintln!("conv variant: measuring the candidates on this adapter ...");
            let fresh = tune_conv(&gpu).map_err(clause)?;
            Some(match &kept_in {
                Some(f) => {
                    let kept = tuning::keep(f, &gpu, fresh.clone(), a.retune);
                    // `bench` reports what it measured itself.
                    if how == Timings::Measure {
                        fresh
                    } else {
                        kept
                    }
                }
                None => fresh,
            })
        }
    };
    let engine = Engine::with_model(
        gpu,
        model,
        EngineOptions {
            variant: a.conv_variant,
            memory_budget: a.memory_budget_mib.map(|m| m.saturating_mul(MIB)),
            expected_photos,
            timings,
            precision: a.precision,
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
        let (when, kept) = match &reused {
            Some(f) => (
                "measured by an earlier run",
                format!("; kept in {}, --retune measures again", f.display()),
            ),
            None => ("measured", String::new()),
        };
        eprintln!(
            "conv variant: {} ({why}; {when}: {}{kept})",
            engine.variant.label(),
            all.join(", ")
        );
    }
    Ok(engine)
}
