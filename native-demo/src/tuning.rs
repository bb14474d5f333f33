//! The start-up measurement of the convolution variants, kept per adapter in
//! the cache folder so that later runs choose from the same numbers.
//!
//! Why: the measurement varies from run to run (±30% on lavapipe), and the
//! variants round differently in the last bit, so a variant chosen afresh by
//! every process made the same command give maps that differed by one grey
//! level in a few pixels. Reusing the first measurement makes repeated runs
//! on one adapter give identical files, and skips seconds of measuring.
//! `--retune` measures again and replaces what is kept.
//!
//! The file records what the numbers describe (adapter, driver, engine
//! version, a hash of the shaders, the candidates); a file that does not
//! match this build and adapter is measured again, a damaged one too.

use std::path::{Path, PathBuf};

use icnet_engine::engine::{tune_candidates, VariantTiming};
use icnet_engine::kernels::{conv::ConvVariant, shaders_fingerprint};
use icnet_engine::Gpu;
use serde_json::{json, Value};

use crate::atomic;

/// Where the timings of this adapter are kept inside the cache folder `dir`.
pub fn file(dir: &Path, gpu: &Gpu) -> PathBuf {
    let i = &gpu.info;
    let raw = format!("{:?}-{:x}-{:x}-{}", i.backend, i.vendor, i.device, i.name);
    // Runs of anything but letters, digits and '-' become one '_'.
    let name: String = raw
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .take(120)
        .collect();
    dir.join(format!("tuning-{name}.json"))
}

/// What the numbers were measured on and with: all of it must match for a
/// kept file to be used.
fn identity(gpu: &Gpu) -> Value {
    let i = &gpu.info;
    json!({
        "adapter": i.name,
        "backend": format!("{:?}", i.backend),
        "driver": i.driver,
        "driver_info": i.driver_info,
        "engine": env!("CARGO_PKG_VERSION"),
        "shaders": format!("{:016x}", shaders_fingerprint()),
    })
}

fn to_json(gpu: &Gpu, timings: &[VariantTiming]) -> Vec<u8> {
    let t: Vec<Value> = timings
        .iter()
        .map(|t| json!({"variant": t.variant.label(), "run_s": t.run_s, "compile_s": t.compile_s}))
        .collect();
    let v = json!({"measured_on": identity(gpu), "timings": t});
    let mut bytes = serde_json::to_vec_pretty(&v).expect("JSON of numbers and strings");
    bytes.push(b'\n');
    bytes
}

/// The timings in `bytes`, if they were measured on this adapter by this
/// build, for exactly the current candidates, and are finite and positive.
fn from_json(gpu: &Gpu, bytes: &[u8]) -> Option<Vec<VariantTiming>> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    if v["measured_on"] != identity(gpu) {
        return None;
    }
    let timings: Vec<VariantTiming> = v["timings"]
        .as_array()?
        .iter()
        .map(|t| {
            let number = |k: &str| t[k].as_f64().filter(|x| x.is_finite() && *x >= 0.0);
            Some(VariantTiming {
                variant: ConvVariant::parse(t["variant"].as_str()?)?,
                run_s: number("run_s").filter(|&x| x > 0.0)?,
                compile_s: number("compile_s")?,
            })
        })
        .collect::<Option<_>>()?;
    let variants = timings.iter().map(|t| t.variant);
    variants.eq(tune_candidates(gpu)).then_some(timings)
}

/// The timings kept for this adapter, if there are usable ones.
pub fn load(path: &Path, gpu: &Gpu) -> Option<Vec<VariantTiming>> {
    from_json(gpu, &std::fs::read(path).ok()?)
}

/// Keeps freshly measured `timings` and returns the ones this and later
/// runs use. Without `replace` a usable file written meanwhile by a
/// concurrent run wins, so that all runs agree; with it (`--retune`) the new
/// measurement replaces what was kept. A failure to write costs only the
/// next run a measurement, so it is a warning.
pub fn keep(
    path: &Path,
    gpu: &Gpu,
    timings: Vec<VariantTiming>,
    replace: bool,
) -> Vec<VariantTiming> {
    let bytes = to_json(gpu, &timings);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let written = if replace {
        atomic::write(path, &bytes)
    } else {
        match atomic::create_new(path, &bytes) {
            Ok(true) => Ok(()),
            Ok(false) => match load(path, gpu) {
                Some(theirs) => return theirs,
                // Stale or damaged: this measurement replaces it.
                None => atomic::write(path, &bytes),
            },
            Err(e) => Err(e),
        }
    };
    if let Err(e) = written {
        eprintln!(
            "warning: could not keep the variant timings in {}: {e}",
            path.display()
        );
    }
    timings
}
