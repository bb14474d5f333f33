//! `icnet bench`: the execution plan for each group size and where the time
//! goes. Each size is run once to warm up (the driver compiles pipelines
//! lazily and allocates on first use) and once with per-stage timing. The
//! profiled run waits for the GPU after every stage, so its total is a little
//! above what `icnet run` sees.

use std::f32::consts::PI;
use std::process::ExitCode;
use std::time::Instant;

use icnet_engine::engine::{TUNE_FLOPS, TUNE_LAYER};
use icnet_engine::io::preprocess::SIZE;
use icnet_engine::io::weights::{ConvSet, Weights};
use icnet_engine::models::testweights;
use icnet_engine::models::u2net::{self, SaliencyModel, SaliencyNet};
use icnet_engine::runtime::plan::StageTiming;
use icnet_engine::{Engine, Model, RunRequest};

use serde_json::{json, Value};

use crate::atomic;
use crate::cli::{BenchArgs, ModelChoice};
use crate::device;
use crate::fetch_models;
use crate::text::{clause, mib, out, secs};

pub fn bench(a: &BenchArgs) -> Result<ExitCode, String> {
    if let Some(j) = &a.json {
        if a.weights.as_deref().is_some_and(|w| same_file(j, w)) {
            return Err(format!(
                "--json {} is the weights file; name another file",
                j.display()
            ));
        }
        let folder = j.parent().filter(|p| !p.as_os_str().is_empty());
        if same_file(folder.unwrap_or(std::path::Path::new(".")), &a.models) {
            return Err(format!(
                "--json {} is inside the models folder {}; name a file elsewhere",
                j.display(),
                a.models.display()
            ));
        }
    }
    let model = match a.model {
        ModelChoice::Icnet => {
            let weights = match &a.weights {
                Some(p) => Weights::from_file(p),
                None => {
                    eprintln!(
                        "weights: built-in test weights, seed 0 (timing does not depend on the values)"
                    );
                    testweights::scaled_weights(0)
                }
            }
            .map_err(clause)?;
            Model::Icnet(weights)
        }
        ModelChoice::Csa => Model::Csa(fetch_models::load_vgg16(
            &a.models,
            "the training-free model (csa)",
        )?),
    };
    let u2 = match a.saliency {
        Some(m) => {
            let why = format!("timing {} (--saliency {})", m.name(), m.id());
            Some((m, fetch_models::load_saliency(&a.models, m, &why)?))
        }
        None => None,
    };
    // Benchmarks measure steady-state kernels: the fastest variant to run.
    let mut engine = device::open_engine(&a.device, model, None, device::Timings::Measure)?;
    out(&format!("adapter: {}", engine.gpu.describe()));
    if !engine.tuning.is_empty() {
        out(&format!("conv variant tuning ({TUNE_LAYER}):"));
        for t in &engine.tuning {
            let mark = if t.variant == engine.variant {
                "  <- chosen"
            } else {
                ""
            };
            out(&format!(
                "  {:<17} {:>9.2} ms {:>8.1} GFLOPS, pipeline compiled in {:>7.1} ms{mark}",
                t.variant.label(),
                t.run_s * 1e3,
                TUNE_FLOPS / t.run_s / 1e9,
                t.compile_s * 1e3
            ));
        }
    } else {
        out(&format!(
            "conv variant: {} (from --conv-variant)",
            engine.variant.label()
        ));
    }
    let saliency = match u2 {
        Some((m, w)) => bench_saliency(&engine, m, &w)?,
        None => Value::Null,
    };
    out(&format!("\nco-saliency model: {}", engine.model.name()));
    let mut groups = Vec::new();
    for &n in &a.sizes {
        groups.push(
            bench_size(&mut engine, n as usize, a.dispatches)
                .map_err(|e| format!("group size {n}: {e}"))?,
        );
    }
    device::save_pipeline_cache(&engine.gpu);
    if let Some(path) = &a.json {
        let info = &engine.gpu.info;
        let report = json!({
            "adapter": info.name,
            "backend": format!("{:?}", info.backend),
            "driver": info.driver_info,
            "conv_variant": engine.variant.label(),
            "precision": engine.precision().id(),
            "model": engine.model.name(),
            "saliency": saliency,
            "groups": groups,
        });
        let mut bytes = serde_json::to_vec_pretty(&report).expect("JSON of numbers and strings");
        bytes.push(b'\n');
        atomic::write_or_say(path, &bytes)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether two paths name one existing file (or are spelled the same).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Seconds of one call of `f` after `f` has run once (pipelines compiled,
/// buffers allocated): the steady state a long session sees.
fn steady_s<T>(mut f: impl FnMut() -> Result<T, String>) -> Result<f64, String> {
    let t0 = Instant::now();
    f()?;
    Ok(t0.elapsed().as_secs_f64())
}

/// A saliency model on one (synthetic) 320x320 photo, per RSU stage.
fn bench_saliency(engine: &Engine, model: SaliencyModel, w: &ConvSet) -> Result<Value, String> {
    out("");
    let t0 = Instant::now();
    let before = engine.gpu.pipelines_compiled();
    let net = SaliencyNet::new(&engine.gpu, model, w, engine.variant, engine.precision())
        .map_err(clause)?;
    let plan = net.plan();
    out(&format!(
        "{} (one photo, 320x320): plan compiled in {} ({} new pipelines), {} dispatches, {:.1} GFLOP",
        model.name(),
        secs(t0.elapsed().as_secs_f64()),
        engine.gpu.pipelines_compiled() - before,
        plan.graph.steps.len(),
        net.flops() / 1e9
    ));
    out(&format!(
        "  activations {:.1} MiB planned vs {:.1} MiB naive, weights {:.1} MiB",
        mib(plan.planned_bytes()),
        mib(plan.naive_bytes()),
        mib(plan.weight_bytes())
    ));
    let (images, _) = synthetic_inputs(1);
    // The 224x224 gradient tiled into 320x320 is as good as any input for timing.
    let input: Vec<f32> = (0..3 * u2net::SIZE * u2net::SIZE)
        .map(|i| images[i % images.len()])
        .collect();
    net.d0(&engine.gpu, &input).map_err(clause)?;
    let run = steady_s(|| net.d0(&engine.gpu, &input).map_err(clause))?;
    let timings = net.profile(&engine.gpu, &input).map_err(clause)?;
    let stages = print_stages(&timings, 1);
    out(&format!(
        "  per photo: {} (a run without per-stage timing, upload and read-back included)",
        secs(run)
    ));
    Ok(json!({
        "model": model.name(),
        "run_s": run,
        "stages_s": stages,
        "flops": net.flops(),
    }))
}

fn bench_size(engine: &mut Engine, n: usize, dispatches: bool) -> Result<Value, String> {
    out("");
    let t0 = Instant::now();
    let before = engine.gpu.pipelines_compiled();
    let plan = engine.plan_info(n).map_err(clause)?;
    let compile = t0.elapsed().as_secs_f64();
    out(&format!(
        "group of {n}: plan compiled in {} ({} new pipelines)",
        secs(compile),
        engine.gpu.pipelines_compiled() - before
    ));
    out(&format!(
        "  {} chunk{} of up to {} image{} (the per-photo stages run chunk by chunk), {} dispatches, {:.1} GFLOP",
        plan.chunks,
        plural(plan.chunks),
        plan.chunk,
        plural(plan.chunk),
        plan.dispatches,
        plan.flops / 1e9
    ));
    out(&format!(
        "  activations {:.1} MiB planned vs {:.1} MiB naive ({:.0}% saved), weights {:.1} MiB",
        mib(plan.planned_bytes),
        mib(plan.naive_bytes),
        100.0 * (1.0 - plan.planned_bytes as f64 / plan.naive_bytes.max(1) as f64),
        mib(plan.weight_bytes)
    ));
    if dispatches {
        for d in engine.dispatch_list(n).map_err(clause)? {
            out(&format!("    {d}"));
        }
    }

    let (images, sisms) = synthetic_inputs(n);
    let t0 = Instant::now();
    engine
        .run_tensors(&images, &sisms, &RunRequest::default())
        .map_err(clause)?;
    out(&format!(
        "  warm-up run: {}",
        secs(t0.elapsed().as_secs_f64())
    ));
    let run = steady_s(|| {
        engine
            .run_tensors(&images, &sisms, &RunRequest::default())
            .map_err(clause)
    })?;
    let profiled = engine
        .run_tensors(
            &images,
            &sisms,
            &RunRequest {
                profile: true,
                ..Default::default()
            },
        )
        .map_err(clause)?;
    let stages = print_stages(&profiled.timings, n);
    out(&format!(
        "  per group of {n}: {} ({} per photo; a run without per-stage timing, upload and read-back included)",
        secs(run),
        secs(run / n as f64)
    ));
    Ok(json!({
        "photos": n,
        "run_s": run,
        "stages_s": stages,
        "flops": plan.flops,
    }))
}

/// Prints the per-stage table; returns the total seconds.
fn print_stages(timings: &[StageTiming], n: usize) -> f64 {
    out(&format!(
        "  {:<24} {:>5} {:>12} {:>6} {:>8} {:>8} {:>10}",
        "stage", "disp", "time", "share", "GFLOP", "GFLOPS", "per photo"
    ));
    let total: f64 = timings.iter().map(|t| t.seconds).sum();
    let flops: f64 = timings.iter().map(|t| t.flops).sum();
    let dispatches: usize = timings.iter().map(|t| t.dispatches).sum();
    let row = |name: &str, d: usize, s: f64, f: f64| {
        out(&format!(
            "  {:<24} {:>5} {:>9.1} ms {:>5.1}% {:>8.3} {:>8} {:>10}",
            name,
            d,
            s * 1e3,
            100.0 * s / total.max(f64::MIN_POSITIVE),
            f / 1e9,
            gflops(f, s),
            secs(s / n as f64)
        ))
    };
    for t in timings {
        row(&t.name, t.dispatches, t.seconds, t.flops);
    }
    row("total", dispatches, total, flops);
    total
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn gflops(flops: f64, seconds: f64) -> String {
    if flops <= 0.0 || seconds <= 0.0 {
        "-".into()
    } else {
        format!("{:.1}", flops / seconds / 1e9)
    }
}

/// Smooth, different inputs per image: normalised-range gradients at an angle
/// that varies with the image, and a Gaussian blob as the SISM. Values do not
/// change the timing, but keeping them realistic avoids denormals and
/// degenerate (all-equal) co-saliency ranks.
fn synthetic_inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut images = Vec::with_capacity(n * 3 * SIZE * SIZE);
    let mut sisms = Vec::with_capacity(n * SIZE * SIZE);
    let side = (SIZE - 1) as f32;
    for i in 0..n {
        let angle = 2.0 * PI * i as f32 / n.max(1) as f32;
        for c in 0..3 {
            for y in 0..SIZE {
                for x in 0..SIZE {
                    let (u, v) = (x as f32 / side, y as f32 / side);
                    images.push(2.0 * (u * angle.cos() + v * angle.sin()) - 0.5 + 0.4 * c as f32);
                }
            }
        }
        let (cx, cy) = (112.0 + 40.0 * angle.cos(), 112.0 + 40.0 * angle.sin());
        for y in 0..SIZE {
            for x in 0..SIZE {
                let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                sisms.push((-d2 / (2.0 * 45.0f32 * 45.0)).exp());
            }
        }
    }
    (images, sisms)
}
