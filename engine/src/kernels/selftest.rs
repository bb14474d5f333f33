//! Kernel conformance cases: every kernel against its CPU reference on
//! awkward shapes, as async functions that run on any [`Gpu`], natively (the
//! `cargo test` suite in `tests.rs` runs each one) and in a browser on its
//! WebGPU adapter (the web crate's `kernel_selftest`).
//!
//! Awkward means: channel counts that are not multiples of 4, sizes that are
//! not multiples of any tile, one image, an all-zero SISM, tied sort keys.
//! Tolerances: results are f32 sums over at most a few thousand terms
//! compared with f64 references, so 1e-5 absolute plus 1e-5 relative leaves a
//! margin of ~10x over the rounding we measured; exact ops (pool, rank) are
//! compared exactly, and the elementwise product within a few ulps (a shader
//! compiler may reassociate `a * b * scale`).
//!
//! A case returns `Ok(detail)` (the worst error it measured) or `Err` with one
//! sentence naming the check, the shape or variant, the element, and what it
//! got and wanted. Nothing here blocks or spawns threads, so it builds for
//! wasm32.

use std::future::Future;
use std::pin::Pin;

use web_time::Instant;

use super::conv::{self, Act, ConvCall, ConvInput, ConvVariant, Residual};
use super::gemm::{self, ALoad, GemmCall};
use super::resize::{self, Coords, ResizeCall};
use super::{cosal, mul, pool};
use crate::io::weights::ConvWeights;
use crate::runtime::gpu::Gpu;
use crate::runtime::plan::{Graph, Plan, Precision, Role, TensorId};

/// What a case's function returns: `Ok(detail)` or `Err(one sentence)`.
pub type CaseResult = Result<String, String>;

/// A running case.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = CaseResult> + 'a>>;

/// One conformance case.
pub struct Case {
    /// Also the name of the `#[test]` that runs it natively.
    pub name: &'static str,
    pub run: fn(&Gpu) -> CaseFuture<'_>,
}

/// The outcome of one case, as [`run_all`] reports it.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub name: &'static str,
    pub passed: bool,
    /// The case's detail when it passed, its error when it failed.
    pub detail: String,
    pub seconds: f64,
}

macro_rules! case {
    ($f:ident) => {{
        fn run(gpu: &Gpu) -> CaseFuture<'_> {
            Box::pin($f(gpu))
        }
        Case {
            name: stringify!($f),
            run,
        }
    }};
}

/// Every case, in the order [`run_all`] runs them.
pub const CASES: &[Case] = &[
    case!(conv_matches_cpu_on_awkward_shapes),
    case!(dilated_conv_with_residual_after_act_matches_cpu),
    case!(conv_over_a_pair_matches_cpu_concat),
    case!(conv_writes_and_reads_slices),
    case!(winograd_conv_matches_cpu_on_awkward_shapes_and_in_passes),
    case!(decoder_concat_is_read_from_its_sources),
    case!(maxpool_matches_cpu),
    case!(resize_matches_pytorch_semantics),
    case!(resize_one_minus_add_base_and_slices),
    case!(cosal_chain_one_image),
    case!(cosal_chain_three_images),
    case!(cosal_chain_co4_size),
    case!(rank_is_stable_on_ties),
    case!(foreground_only_cosal_ops_match_the_foreground_branch),
    case!(mul_matches_cpu),
    case!(f16_storage_conv_matches_cpu_on_rounded_operands),
];

/// Every case, in the order [`run_all`] runs them.
pub fn cases() -> &'static [Case] {
    CASES
}

/// Runs the case called `name`.
pub async fn run_case(gpu: &Gpu, name: &str) -> CaseResult {
    match CASES.iter().find(|c| c.name == name) {
        Some(c) => (c.run)(gpu).await,
        None => Err(format!(
            "there is no kernel self-test case named \"{name}\"."
        )),
    }
}

/// Runs one case and times it.
pub async fn run_one(gpu: &Gpu, case: &Case) -> CaseReport {
    let t0 = Instant::now();
    let result = (case.run)(gpu).await;
    let seconds = t0.elapsed().as_secs_f64();
    let (passed, detail) = match result {
        Ok(d) => (true, d),
        Err(e) => (false, e),
    };
    CaseReport {
        name: case.name,
        passed,
        detail,
        seconds,
    }
}

/// Runs every case, calling `progress(name, done, total)` before each one. A
/// failing case (a wrong value or a GPU error) never stops the others.
pub async fn run_all(gpu: &Gpu, progress: &mut dyn FnMut(&str, usize, usize)) -> Vec<CaseReport> {
    run_all_with_pause(gpu, progress, &|| Box::pin(async {})).await
}

/// A future that gives control back to the caller's event loop.
pub type Pause = Pin<Box<dyn Future<Output = ()>>>;

/// [`run_all`], awaiting `pause()` after each progress report so that a
/// browser page can repaint between cases.
pub async fn run_all_with_pause(
    gpu: &Gpu,
    progress: &mut dyn FnMut(&str, usize, usize),
    pause: &dyn Fn() -> Pause,
) -> Vec<CaseReport> {
    let mut reports = Vec::with_capacity(CASES.len());
    for (k, case) in CASES.iter().enumerate() {
        progress(case.name, k, CASES.len());
        pause().await;
        reports.push(run_one(gpu, case).await);
    }
    reports
}

// ---------------------------------------------------------------- helpers

/// Compiles `g`, uploads `inputs`, runs it once and returns `outputs` as f32
/// words. `what` names the graph in an error.
pub async fn run_graph(
    gpu: &Gpu,
    g: Graph,
    inputs: &[(TensorId, &[f32])],
    outputs: &[TensorId],
    what: &str,
) -> Result<Vec<Vec<f32>>, String> {
    let plan = Plan::compile_async(gpu, g)
        .await
        .map_err(|e| format!("{what}: compiling the graph failed: {e}"))?;
    let bytes: Vec<(TensorId, &[u8])> = inputs
        .iter()
        .map(|(t, d)| (*t, bytemuck::cast_slice(d)))
        .collect();
    let out = plan
        .run_async(gpu, &bytes, outputs)
        .await
        .map_err(|e| format!("{what}: running the graph failed: {e}"))?;
    Ok(out
        .iter()
        .map(|b| {
            b.chunks_exact(4)
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect()
        })
        .collect())
}

/// Builds a graph of the named `inputs` and one output tensor (`output`: its
/// name and length in words), lets `push` add the kernels (given the input
/// tensors in order and the output tensor), runs it once and returns the
/// output. `what` names the graph in an error.
async fn run_kernels(
    gpu: &Gpu,
    inputs: &[(&str, &[f32])],
    output: (&str, usize),
    what: &str,
    push: impl FnOnce(&mut Graph, &[TensorId], TensorId),
) -> Result<Vec<f32>, String> {
    run_kernels_in(gpu, Precision::F32, inputs, output, what, push).await
}

/// [`run_kernels`] with float storage in `precision`.
async fn run_kernels_in(
    gpu: &Gpu,
    precision: Precision,
    inputs: &[(&str, &[f32])],
    output: (&str, usize),
    what: &str,
    push: impl FnOnce(&mut Graph, &[TensorId], TensorId),
) -> Result<Vec<f32>, String> {
    let mut g = Graph::new();
    g.precision = precision;
    let ids: Vec<TensorId> = inputs
        .iter()
        .map(|(name, v)| g.tensor(*name, v.len(), Role::Input))
        .collect();
    let out = g.tensor(output.0, output.1, Role::Output);
    push(&mut g, &ids, out);
    let bound: Vec<(TensorId, &[f32])> = ids.iter().zip(inputs).map(|(t, i)| (*t, i.1)).collect();
    Ok(run_graph(gpu, g, &bound, &[out], what).await?.remove(0))
}

/// Deterministic values in [lo, hi) (splitmix64 over the index).
pub fn data(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let u = crate::models::testweights::uniform(seed.wrapping_mul(0x2545F4914F6CDD1D), i)
                as f32;
            lo + (hi - lo) * u
        })
        .collect()
}

/// Fails with the worst element if |got - want| > atol + rtol * |want|
/// anywhere (a NaN always fails); otherwise returns the largest |got - want|.
pub fn check_close(
    got: &[f32],
    want: &[f32],
    atol: f32,
    rtol: f32,
    what: &str,
) -> Result<f32, String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: got {} values but should have {}.",
            got.len(),
            want.len()
        ));
    }
    let mut worst_excess: Option<(usize, f32)> = None;
    let mut max_err = 0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let excess = err - (atol + rtol * w.abs());
        if excess.is_nan() {
            return Err(format!(
                "{what}: element {i} is {g} but should be {w} (atol {atol}, rtol {rtol})."
            ));
        }
        max_err = max_err.max(err);
        if excess > 0.0 && worst_excess.is_none_or(|(_, e)| excess > e) {
            worst_excess = Some((i, excess));
        }
    }
    match worst_excess {
        Some((i, _)) => Err(format!(
            "{what}: element {i} is {} but should be {} (atol {atol}, rtol {rtol}).",
            got[i], want[i]
        )),
        None => Ok(max_err),
    }
}

/// Fails with the first element where `got` and `want` differ.
pub fn check_exact<T: PartialEq + std::fmt::Debug>(
    got: &[T],
    want: &[T],
    what: &str,
) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: got {} values but should have {}.",
            got.len(),
            want.len()
        ));
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => Err(format!(
            "{what}: element {i} is {:?} but should be {:?} (exact).",
            got[i], want[i]
        )),
        None => Ok(()),
    }
}

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

fn max_err(worst: f32, what: &str) -> String {
    if worst == 0.0 {
        format!("exact over {what}")
    } else {
        format!("max err {worst:.1e} over {what}")
    }
}

fn as_u32(words: &[f32]) -> Vec<u32> {
    words.iter().map(|v| v.to_bits()).collect()
}

fn conv_weights(seed: u64, cout: usize, cin: usize, k: usize) -> ConvWeights {
    let fan = (cin * k * k) as f32;
    ConvWeights {
        out_ch: cout,
        in_ch: cin,
        k,
        weight: data(seed, cout * cin * k * k, -1.0, 1.0)
            .iter()
            .map(|v| v / fan.sqrt())
            .collect(),
        bias: data(seed + 1, cout, -0.5, 0.5),
    }
}

/// The convolution variants every conv case runs (and the naga test instantiates).
pub const VARIANTS: &[ConvVariant] = &[
    ConvVariant::Direct {
        tn: 16,
        r: 8,
        sg: false,
    },
    ConvVariant::Direct {
        tn: 4,
        r: 2,
        sg: false,
    },
    ConvVariant::Direct {
        tn: 1,
        r: 1,
        sg: false,
    },
    ConvVariant::Direct {
        tn: 8,
        r: 1,
        sg: false,
    },
    ConvVariant::Tiled,
    ConvVariant::Winograd {
        tn: 4,
        r: 2,
        sg: false,
    },
];

/// [`VARIANTS`] plus, where the device has subgroups wide enough, the
/// subgroup twins of the direct and Winograd ones.
pub fn variants(gpu: &Gpu) -> Vec<ConvVariant> {
    let twins = VARIANTS
        .iter()
        .map(|v| v.with_subgroups())
        .filter(|v| v.uses_subgroups() && crate::engine::check_variant(gpu, *v).is_ok());
    VARIANTS.iter().copied().chain(twins).collect()
}

// ---------------------------------------------------------------- convolution

/// A convolution shape of the conv cases: (images, cin, cout, h, w, k, act, residual).
type ConvShape = (usize, usize, usize, usize, usize, usize, Act, bool);

/// Runs every shape with every variant in `precision` and checks it against
/// the CPU reference. `store` is what storage keeps of the operands (input,
/// weights, bias, residual), applied before both runs; `atol(want)` the
/// absolute tolerance. Returns the worst error.
async fn conv_shapes_match_cpu(
    gpu: &Gpu,
    precision: Precision,
    shapes: &[ConvShape],
    seed: u64,
    store: fn(Vec<f32>) -> Vec<f32>,
    atol: impl Fn(&[f32]) -> f32,
    rtol: f32,
) -> Result<f32, String> {
    let mut worst = 0f32;
    for variant in variants(gpu) {
        for (ci, &(n, cin, cout, h, w, k, act, has_res)) in shapes.iter().enumerate() {
            let what = format!(
                "{} conv shape {ci} ({n} images, {cin}->{cout} channels, {h}x{w}, {k}x{k}, {act:?}, residual {has_res}) with {}",
                precision.id(),
                variant.label()
            );
            let seed = seed + ci as u64 * 10;
            let mut cw = conv_weights(seed, cout, cin, k);
            cw.weight = store(cw.weight);
            cw.bias = store(cw.bias);
            let x = store(data(seed + 2, n * cin * h * w, -1.0, 1.0));
            let r = store(data(seed + 3, n * cout * h * w, -1.0, 1.0));
            let inputs = [("x", &x[..]), ("r", &r[..])];
            let out = ("y", n * cout * h * w);
            let got = run_kernels_in(gpu, precision, &inputs, out, &what, |g, t, y| {
                let mut call = ConvCall::simple(conv::upload(g, &cw), n, h, w, t[0], y, act);
                if has_res {
                    call.residual = Some((t[1], 0, cout * h * w));
                }
                conv::push(g, variant, &call);
            })
            .await?;
            let want = conv::cpu_conv(&x, n, h, w, &cw, has_res.then_some(&r[..]), act);
            worst = worst.max(check_close(&got, &want, atol(&want), rtol, &what)?);
        }
    }
    Ok(worst)
}

async fn conv_matches_cpu_on_awkward_shapes(gpu: &Gpu) -> CaseResult {
    let shapes = [
        (2, 5, 7, 9, 13, 3, Act::Relu, false),
        (1, 3, 64, 11, 6, 3, Act::None, true),
        (3, 17, 1, 5, 5, 1, Act::Sigmoid, false),
        (1, 70, 33, 7, 7, 1, Act::Relu, true),
        (1, 20, 130, 3, 67, 3, Act::Relu, false),
    ];
    let worst =
        conv_shapes_match_cpu(gpu, Precision::F32, &shapes, 0, |v| v, |_| 1e-5, 1e-5).await?;
    Ok(max_err(
        worst,
        &format!("{} variants x {} shapes", variants(gpu).len(), shapes.len()),
    ))
}

/// `v` rounded to f16 and back: what f16 storage keeps of it.
fn f16_rounded(v: Vec<f32>) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

async fn f16_storage_conv_matches_cpu_on_rounded_operands(gpu: &Gpu) -> CaseResult {
    if !gpu.has_f16() {
        return Ok("skipped: this adapter has no shader-f16".into());
    }
    // The reference convolves the f16-rounded input, weights, bias and
    // residual in f64, so what is left is the kernel's own rounding: the
    // stored output (2^-11 relative) and, for Winograd, its transformed
    // weights, input tiles and products, each stored in f16 (relative to
    // those intermediates, whose magnitude is bounded by a few times the
    // output scale). Hence a bound relative to the largest output.
    let shapes = [
        (2, 5, 7, 9, 13, 3, Act::Relu, false),
        (1, 3, 64, 11, 6, 3, Act::None, true),
        (3, 17, 1, 5, 5, 1, Act::Sigmoid, false),
        (1, 64, 64, 24, 22, 3, Act::Relu, true),
    ];
    let scaled = |want: &[f32]| 2e-3 * want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst =
        conv_shapes_match_cpu(gpu, Precision::F16, &shapes, 500, f16_rounded, scaled, 1e-3).await?;
    Ok(max_err(
        worst,
        &format!(
            "{} variants x {} shapes in f16",
            variants(gpu).len(),
            shapes.len()
        ),
    ))
}

async fn dilated_conv_with_residual_after_act_matches_cpu(gpu: &Gpu) -> CaseResult {
    // U²-Netp's RSU layers: dilations 2/4/8 on maps smaller than the dilation
    // (most taps fall in the padding), 16-channel layers, relu(conv) + x.
    // (images, cin, cout, h, w, dilation, residual after act)
    let shapes = [
        (2, 16, 16, 10, 10, 2, false),
        (1, 32, 64, 5, 7, 4, true),
        (1, 16, 16, 3, 9, 8, false),
        (3, 7, 5, 6, 13, 2, true),
    ];
    let mut worst = 0f32;
    for variant in variants(gpu) {
        for (ci, &(n, cin, cout, h, w, dil, after)) in shapes.iter().enumerate() {
            let what = format!(
                "dilated conv shape {ci} ({n} images, {cin}->{cout} channels, {h}x{w}, dilation {dil}, residual after act {after}) with {}",
                variant.label()
            );
            let cw = conv_weights(ci as u64 * 10 + 100, cout, cin, 3);
            let x = data(ci as u64 * 10 + 102, n * cin * h * w, -1.0, 1.0);
            let r = data(ci as u64 * 10 + 103, n * cout * h * w, -1.0, 1.0);
            let inputs = [("x", &x[..]), ("r", &r[..])];
            let got = run_kernels(gpu, &inputs, ("y", n * cout * h * w), &what, |g, t, y| {
                let layer = conv::upload(g, &cw).dilated(dil);
                let mut call = ConvCall::simple(layer, n, h, w, t[0], y, Act::Relu);
                call.residual = Some((t[1], 0, cout * h * w));
                call.residual_after_act = after;
                conv::push(g, variant, &call);
            })
            .await?;
            let want =
                conv::cpu_conv_dilated(&x, n, h, w, &cw, dil, Some((&r[..], after)), Act::Relu);
            worst = worst.max(check_close(&got, &want, 1e-5, 1e-5, &what)?);
        }
    }
    Ok(max_err(
        worst,
        &format!("{} variants x {} shapes", variants(gpu).len(), shapes.len()),
    ))
}

async fn conv_over_a_pair_matches_cpu_concat(gpu: &Gpu) -> CaseResult {
    // U²-Netp's decoder reads cat([upsampled, skip]) from two tensors.
    let (n, ca, cb, cout, h, w) = (2, 16, 12, 9, 5, 11);
    let hw = h * w;
    let cw = conv_weights(300, cout, ca + cb, 3);
    let a = data(301, n * ca * hw, -1.0, 1.0);
    let b = data(302, n * cb * hw, -1.0, 1.0);
    let mut x = Vec::new();
    for img in 0..n {
        x.extend_from_slice(&a[img * ca * hw..(img + 1) * ca * hw]);
        if cb > 0 {
            x.extend_from_slice(&b[img * cb * hw..(img + 1) * cb * hw]);
        }
    }
    let want = conv::cpu_conv(&x, n, h, w, &cw, None, Act::Relu);
    let mut worst = 0f32;
    for variant in variants(gpu) {
        let what = format!(
            "pair conv ({n} images, {ca}+{cb}->{cout} channels, {h}x{w}) with {}",
            variant.label()
        );
        let inputs = [("a", &a[..]), ("b", &b[..])];
        let got = run_kernels(gpu, &inputs, ("y", n * cout * hw), &what, |g, t, y| {
            let mut call = ConvCall::simple(conv::upload(g, &cw), n, h, w, t[0], y, Act::Relu);
            call.input = ConvInput::Pair {
                a: t[0],
                b: t[1],
                ca: ca as u32,
            };
            conv::push(g, variant, &call);
        })
        .await?;
        worst = worst.max(check_close(&got, &want, 1e-5, 1e-5, &what)?);
    }
    Ok(max_err(worst, &format!("{} variants", variants(gpu).len())))
}

async fn winograd_conv_matches_cpu_on_awkward_shapes_and_in_passes(gpu: &Gpu) -> CaseResult {
    // A layer whose transformed input exceeds one pass (winograd::PASS_WORDS):
    // two images of 65x65 tiles at 64 channels run as passes of images, then
    // of tiles, with odd sizes so the last tile row and column are half outside.
    let (n, cin, cout, h, w) = (2, 64, 48, 129, 130);
    let hw = h * w;
    assert!(16 * cin * 65 * 65 > super::winograd::PASS_WORDS);
    let cw = conv_weights(900, cout, cin, 3);
    let x = data(901, n * cin * hw, -1.0, 1.0);
    let r = data(902, n * cout * hw, -1.0, 1.0);
    let want = conv::cpu_conv(&x, n, h, w, &cw, Some(&r), Act::Relu);
    let variant = ConvVariant::Winograd {
        tn: 4,
        r: 2,
        sg: false,
    };
    let what = format!("winograd conv in passes ({n} images, {cin}->{cout}, {h}x{w}, residual)");
    let inputs = [("x", &x[..]), ("r", &r[..])];
    let got = run_kernels(gpu, &inputs, ("y", n * cout * hw), &what, |g, t, y| {
        let mut call = ConvCall::simple(conv::upload(g, &cw), n, h, w, t[0], y, Act::Relu);
        call.residual = Some((t[1], 0, cout * hw));
        conv::push(g, variant, &call);
        let passes = g
            .steps
            .iter()
            .filter(|s| s.kernel.name() == "wino_in")
            .count();
        assert!(passes >= 3, "expected several passes, got {passes}");
    })
    .await?;
    let mut worst = check_close(&got, &want, 1e-5, 1e-5, &what)?;
    // Layers wide enough for Winograd on awkward shapes: odd sizes (half
    // tiles), a 1-pixel-high map, channels not multiples of 4, both residual
    // orders, and an input read from two tensors (U²-Netp's decoder).
    // (images, cin a + cin b, cout, h, w, act, residual: None / before / after act)
    let shapes = [
        (1, 50, 0, 49, 23, 25, Act::Relu, Residual::BeforeAct),
        (2, 64, 0, 48, 1, 300, Act::None, Residual::None),
        (1, 48, 0, 53, 17, 31, Act::Relu, Residual::AfterAct),
        (2, 30, 21, 50, 20, 27, Act::Sigmoid, Residual::None),
    ];
    for (i, &(n, ca, cb, cout, h, w, act, res)) in shapes.iter().enumerate() {
        let (cin, hw) = (ca + cb, h * w);
        let what = format!(
            "winograd conv shape {i} ({n} images, {ca}+{cb}->{cout}, {h}x{w}, {act:?}, {res:?})"
        );
        let cw = conv_weights(910 + i as u64, cout, cin, 3);
        let a = data(920 + i as u64, n * ca * hw, -1.0, 1.0);
        // (one unused value when the input is a single tensor)
        let b = data(930 + i as u64, (n * cb * hw).max(1), -1.0, 1.0);
        let r = data(940 + i as u64, n * cout * hw, -1.0, 1.0);
        let mut x = Vec::new();
        for img in 0..n {
            x.extend_from_slice(&a[img * ca * hw..(img + 1) * ca * hw]);
            if cb > 0 {
                x.extend_from_slice(&b[img * cb * hw..(img + 1) * cb * hw]);
            }
        }
        let residual = match res {
            Residual::None => None,
            Residual::BeforeAct => Some((&r[..], false)),
            Residual::AfterAct => Some((&r[..], true)),
        };
        let want = conv::cpu_conv_dilated(&x, n, h, w, &cw, 1, residual, act);
        let inputs = [("a", &a[..]), ("b", &b[..]), ("r", &r[..])];
        let got = run_kernels(gpu, &inputs, ("y", n * cout * hw), &what, |g, t, y| {
            let mut call = ConvCall::simple(conv::upload(g, &cw), n, h, w, t[0], y, act);
            if cb > 0 {
                call.input = ConvInput::Pair {
                    a: t[0],
                    b: t[1],
                    ca: ca as u32,
                };
            }
            if res != Residual::None {
                call.residual = Some((t[2], 0, cout * hw));
                call.residual_after_act = res == Residual::AfterAct;
            }
            conv::push(g, variant, &call);
            assert!(
                g.steps.iter().any(|s| s.kernel.name() == "wino_out"),
                "{what}: not run as Winograd"
            );
        })
        .await?;
        worst = worst.max(check_close(&got, &want, 1e-5, 1e-5, &what)?);
    }
    Ok(max_err(worst, "5 layers, one of them in 4 passes"))
}

async fn conv_writes_and_reads_slices(gpu: &Gpu) -> CaseResult {
    // Reads image 1..3 of a 4-image tensor and writes into channels 3.. of a wider output.
    let (cin, cout, h, w) = (6, 5, 4, 9);
    let hw = h * w;
    let cw = conv_weights(7, cout, cin, 3);
    let x = data(8, 4 * cin * hw, -1.0, 1.0);
    let want = conv::cpu_conv(&x[cin * hw..3 * cin * hw], 2, h, w, &cw, None, Act::None);
    let mut worst = 0f32;
    for variant in variants(gpu) {
        let what = format!(
            "sliced conv (images 1..3 of 4, {cin}->{cout} channels into channels 3..8 of 9, {h}x{w}) with {}",
            variant.label()
        );
        let got = run_kernels(gpu, &[("x", &x)], ("y", 2 * 9 * hw), &what, |g, t, y| {
            let layer = conv::upload(g, &cw);
            let call = ConvCall {
                input: ConvInput::Plain {
                    t: t[0],
                    off: (cin * hw) as u32,
                    bs: (cin * hw) as u32,
                },
                out_off: 3 * hw,
                out_bs: 9 * hw,
                ..ConvCall::simple(layer, 2, h, w, t[0], y, Act::None)
            };
            conv::push(g, variant, &call);
        })
        .await?;
        for n in 0..2 {
            let g_img = &got[n * 9 * hw + 3 * hw..n * 9 * hw + 8 * hw];
            worst = worst.max(check_close(
                g_img,
                &want[n * cout * hw..(n + 1) * cout * hw],
                1e-5,
                1e-5,
                &format!("{what}, image {n}"),
            )?);
            let outside = &got[n * 9 * hw..n * 9 * hw + 3 * hw];
            ensure(outside.iter().all(|&v| v == 0.0), || {
                format!("{what}: image {n} wrote outside its slice (channels 0..3 are not all 0).")
            })?;
        }
    }
    Ok(max_err(worst, &format!("{} variants", variants(gpu).len())))
}

async fn decoder_concat_is_read_from_its_sources(gpu: &Gpu) -> CaseResult {
    let (n, h, w) = (2, 5, 7);
    let hw = h * w;
    let cw = conv_weights(11, 96, 96, 3);
    let c = data(12, n * 32 * hw, -1.0, 1.0);
    let cm = data(13, n * hw, 0.0, 1.0);
    let s = data(14, n * hw, 0.0, 1.0);
    let of = data(15, n * 32 * hw, -1.0, 1.0);
    let x = conv::cpu_concat(&c, &cm, &s, &of, n, hw);
    let want = conv::cpu_conv(&x, n, h, w, &cw, None, Act::Relu);
    let mut worst = 0f32;
    for variant in variants(gpu) {
        let what = format!(
            "decoder concat conv ({n} images, 96->96 channels, {h}x{w}) with {}",
            variant.label()
        );
        let inputs = [
            ("c", &c[..]),
            ("cm", &cm[..]),
            ("s", &s[..]),
            ("of", &of[..]),
        ];
        let got = run_kernels(gpu, &inputs, ("y", n * 96 * hw), &what, |g, t, y| {
            let layer = conv::upload(g, &cw);
            let call = ConvCall {
                input: ConvInput::Concat {
                    c: t[0],
                    cm: t[1],
                    s: t[2],
                    of: t[3],
                },
                ..ConvCall::simple(layer, n, h, w, t[0], y, Act::Relu)
            };
            conv::push(g, variant, &call);
        })
        .await?;
        worst = worst.max(check_close(&got, &want, 1e-5, 1e-5, &what)?);
    }
    Ok(max_err(worst, &format!("{} variants", variants(gpu).len())))
}

// ---------------------------------------------------------------- pool, resize, mul

async fn maxpool_matches_cpu(gpu: &Gpu) -> CaseResult {
    // Even sizes (VGG16), odd sizes in floor and ceil mode (U²-Netp), 1-pixel edges.
    let shapes = [
        (3, 6, 10, false),
        (2, 7, 9, false),
        (2, 7, 9, true),
        (1, 1, 5, true),
        (4, 20, 20, true),
    ];
    for &(planes, h, w, ceil) in &shapes {
        let what = format!("maxpool ({planes} planes, {h}x{w}, ceil {ceil})");
        let x = data(20, planes * h * w, -2.0, 2.0);
        let (oh, ow) = (pool::out_size(h, ceil), pool::out_size(w, ceil));
        let got = run_kernels(
            gpu,
            &[("x", &x)],
            ("y", planes * oh * ow),
            &what,
            |g, t, y| pool::push(g, t[0], y, planes, h, w, ceil),
        )
        .await?;
        check_exact(&got, &pool::cpu_maxpool(&x, planes, h, w, ceil), &what)?;
    }
    // Reading the planes from an offset (a chunk of a group-wide tensor).
    let (skip, planes, h, w) = (3, 5, 9, 11);
    let what = format!("maxpool from plane {skip} ({planes} planes, {h}x{w}, floor)");
    let x = data(21, (skip + planes) * h * w, -2.0, 2.0);
    let (oh, ow) = (pool::out_size(h, false), pool::out_size(w, false));
    let got = run_kernels(
        gpu,
        &[("x", &x)],
        ("y", planes * oh * ow),
        &what,
        |g, t, y| pool::push_from(g, t[0], skip * h * w, y, planes, h, w, false),
    )
    .await?;
    check_exact(
        &got,
        &pool::cpu_maxpool(&x[skip * h * w..], planes, h, w, false),
        &what,
    )?;
    Ok(format!("exact over {} shapes", shapes.len() + 1))
}

async fn resize_matches_pytorch_semantics(gpu: &Gpu) -> CaseResult {
    // (in, out): down, up, identity, to a single pixel, 224 -> 7 point sampling
    let shapes = [
        ((9, 13), (4, 6)),
        ((5, 3), (17, 11)),
        ((7, 7), (7, 7)),
        ((6, 4), (1, 1)),
        ((224, 224), (7, 7)),
    ];
    let mut worst = 0f32;
    for (ci, &(ih, oh)) in shapes.iter().enumerate() {
        let planes = 2;
        let x = data(30 + ci as u64, planes * ih.0 * ih.1, 0.0, 1.0);
        let output = ("y", planes * oh.0 * oh.1);
        let what = format!(
            "align-corners resize {}x{} -> {}x{}",
            ih.0, ih.1, oh.0, oh.1
        );
        let got = run_kernels(gpu, &[("x", &x)], output, &what, |g, t, y| {
            resize::push(g, &ResizeCall::simple(t[0], y, 1, planes, ih, oh))
        })
        .await?;
        let want = resize::cpu_resize_ac(&x, planes, ih, oh);
        worst = worst.max(check_close(&got, &want, 1e-6, 0.0, &what)?);
        if ih == oh {
            check_exact(&got, &x, &format!("{what} (must be the identity)"))?;
        }
        // Half-pixel centres (U²-Netp), same shapes.
        let what = format!("half-pixel resize {}x{} -> {}x{}", ih.0, ih.1, oh.0, oh.1);
        let got_hp = run_kernels(gpu, &[("x", &x)], output, &what, |g, t, y| {
            let call = ResizeCall {
                coords: Coords::HalfPixel,
                ..ResizeCall::simple(t[0], y, 1, planes, ih, oh)
            };
            resize::push(g, &call)
        })
        .await?;
        let want_hp = resize::cpu_resize(&x, planes, ih, oh, Coords::HalfPixel);
        worst = worst.max(check_close(&got_hp, &want_hp, 1e-6, 0.0, &what)?);
    }
    Ok(max_err(
        worst,
        &format!("2 coordinate modes x {} shapes", shapes.len()),
    ))
}

async fn resize_one_minus_add_base_and_slices(gpu: &Gpu) -> CaseResult {
    // Background branch: 1 - s, written to the odd slots of an interleaved [2N, hw].
    let (n, ih, oh) = (3, (8, 8), (3, 5));
    let ohw = oh.0 * oh.1;
    let what = "resize of 1 - s plus base into odd slots (3 images, 8x8 -> 3x5)";
    let s = data(40, n * 64, 0.0, 1.0);
    let base = data(41, n * ohw, -1.0, 1.0);
    let inputs = [("s", &s[..]), ("base", &base[..])];
    let got = run_kernels(gpu, &inputs, ("y", 2 * n * ohw), what, |g, t, y| {
        let mut call = ResizeCall::simple(t[0], y, n, 1, ih, oh);
        call.out_off = ohw;
        call.out_bs = 2 * ohw;
        call.one_minus = true;
        call.add_base = Some(t[1]);
        resize::push(g, &call);
    })
    .await?;
    let inv: Vec<f32> = s.iter().map(|v| 1.0 - v).collect();
    let r = resize::cpu_resize_ac(&inv, n, ih, oh);
    let mut worst = 0f32;
    for i in 0..n {
        let want: Vec<f32> = (0..ohw)
            .map(|p| base[i * ohw + p] + r[i * ohw + p])
            .collect();
        worst = worst.max(check_close(
            &got[(2 * i + 1) * ohw..(2 * i + 2) * ohw],
            &want,
            1e-6,
            0.0,
            &format!("{what}, image {i}"),
        )?);
        ensure(
            got[2 * i * ohw..(2 * i + 1) * ohw]
                .iter()
                .all(|&v| v == 0.0),
            || format!("{what}: image {i} wrote into its even slot (not all 0)."),
        )?;
    }
    Ok(max_err(worst, &format!("{n} images")))
}

async fn mul_matches_cpu(gpu: &Gpu) -> CaseResult {
    // One element, less than a workgroup, not a multiple of 256, several workgroups.
    let sizes = [(1, 0.5), (7, 0.5), (1001, 1.0 / 3.0), (70_001, -2.5)];
    let mut worst = 0f32;
    for (ci, &(n, scale)) in sizes.iter().enumerate() {
        let what = format!("mul of {n} values, scale {scale}");
        let a = data(800 + 2 * ci as u64, n, -1.0, 1.0);
        let b = data(801 + 2 * ci as u64, n, -1.0, 1.0);
        let got = run_kernels(gpu, &[("a", &a), ("b", &b)], ("y", n), &what, |g, t, y| {
            mul::push(g, t[0], t[1], y, n, scale)
        })
        .await?;
        let want = mul::cpu_mul(&a, &b, scale);
        worst = worst.max(check_close(&got, &want, 0.0, 4.0 * f32::EPSILON, &what)?);
    }
    Ok(max_err(worst, &format!("{} sizes", sizes.len())))
}

// ---------------------------------------------------------------- co-saliency

/// The CPU references of the co-saliency front: normalised features, SIVs,
/// correlations and CSA maps of `images` images of `channels` x `hw`
/// features, with the SISM pairs (foreground, background) `s2`.
struct CosalRefs {
    nf: Vec<f32>,
    siv: Vec<f32>,
    corr: Vec<f32>,
    csa: Vec<f32>,
}

fn cosal_refs(feats: &[f32], s2: &[f32], images: usize, channels: usize, hw: usize) -> CosalRefs {
    let nf = cosal::cpu_l2norm(feats, images, channels, hw);
    let siv = cosal::cpu_siv(&nf, s2, images, channels, hw);
    let corr = cosal::cpu_corr(&nf, &siv, images, channels, hw);
    let csa = cosal::cpu_csa(&corr, images, hw);
    CosalRefs { nf, siv, corr, csa }
}

/// The tensors [`push_cosal_front`] adds.
struct CosalTensors {
    nf: TensorId,
    siv: TensorId,
    corr: TensorId,
    csa: TensorId,
}

/// Adds the co-saliency front to `g`: features `f` -> l2norm -> SIV (with
/// `branches` SISMs per image in `s`) -> correlation -> CSA. The CSA tensor
/// is an output, the ones between have `role`.
#[allow(clippy::too_many_arguments)]
fn push_cosal_front(
    g: &mut Graph,
    f: TensorId,
    s: TensorId,
    images: usize,
    channels: usize,
    h: usize,
    w: usize,
    branches: usize,
    role: Role,
) -> CosalTensors {
    let hw = h * w;
    let t = CosalTensors {
        nf: g.tensor("nf", images * channels * hw, role),
        siv: g.tensor("siv", branches * images * channels, role),
        corr: g.tensor("corr", branches * images * images * hw, role),
        csa: g.tensor("csa", branches * images * hw, Role::Output),
    };
    cosal::push_l2norm(g, f, 0, channels * hw, t.nf, images, channels, hw);
    cosal::push_siv(g, t.nf, s, t.siv, images, channels, h, w, branches);
    cosal::push_corr(g, t.nf, t.siv, t.corr, images, channels, hw, branches);
    cosal::push_csa(g, t.corr, t.csa, images, hw, branches);
    t
}

/// Fails unless `ranks` are exactly the stable descending sort of `keys` (one
/// branch); returns that order.
fn check_ranks(ranks: &[u32], keys: &[f32], what: &str) -> Result<Vec<usize>, String> {
    let order = cosal::cpu_argsort_desc(keys);
    check_exact(ranks, &cosal::ranks_from_argsort(&order), what)?;
    Ok(order)
}

/// The whole co-saliency chain on small shapes, including an all-zero SISM
/// (its SIV must be 0) and a zero feature vector (its NF must be 0).
async fn cosal_chain(
    gpu: &Gpu,
    images: usize,
    channels: usize,
    h: usize,
    w: usize,
    seed: u64,
) -> CaseResult {
    let hw = h * w;
    let shape = format!("cosal chain ({images} images, {channels} channels, {h}x{w})");
    let mut feats = data(seed, images * channels * hw, -1.0, 1.0);
    for c in 0..channels {
        feats[c * hw + 2] = 0.0; // pixel 2 of image 0 is a zero vector
    }
    let mut s2 = data(seed + 1, 2 * images * hw, 0.0, 1.0);
    for v in &mut s2[..hw] {
        *v = 0.0; // image 0 foreground SISM is empty
    }
    let cout = 9;
    let wts = data(seed + 2, cout * hw, -0.3, 0.3);
    let bias = data(seed + 3, cout, -0.1, 0.1);
    let refs = cosal_refs(&feats, &s2, images, channels, hw);

    let mut g = Graph::new();
    let tf = g.tensor("f", feats.len(), Role::Input);
    let ts = g.tensor("s", s2.len(), Role::Input);
    let t = push_cosal_front(&mut g, tf, ts, images, channels, h, w, 2, Role::Output);
    let trank = g.tensor_u32("rank", 2 * images * hw, Role::Output);
    let ta = g.tensor("a", 2 * images * cout * channels, Role::Transient);
    let tx = g.tensor("x", 2 * images * cout * hw, Role::Output);
    cosal::push_rank(&mut g, t.csa, trank, 2 * images, hw);
    let wc = g.constant_f32(&wts);
    let bc = g.constant_f32(&bias);
    gemm::push(
        &mut g,
        &GemmCall {
            batches: 2 * images,
            m: cout,
            n: channels,
            k: hw,
            a: ALoad::Gather { w: wc, rank: trank },
            b: t.nf,
            b_off: 0,
            b_div: 2,
            b_bs: channels * hw,
            b_ks: 1,
            b_js: hw,
            c: ta,
            scale: None,
            bias: None,
        },
    );
    gemm::push(
        &mut g,
        &GemmCall {
            batches: 2 * images,
            m: cout,
            n: hw,
            k: channels,
            a: ALoad::Plain {
                t: ta,
                off: 0,
                bs: cout * channels,
                is: channels,
                ks: 1,
            },
            b: t.nf,
            b_off: 0,
            b_div: 2,
            b_bs: channels * hw,
            b_ks: hw,
            b_js: 1,
            c: tx,
            scale: Some(t.csa),
            bias: Some(bc),
        },
    );
    let out = run_graph(
        gpu,
        g,
        &[(tf, &feats), (ts, &s2)],
        &[t.nf, t.siv, t.corr, t.csa, trank, tx],
        &shape,
    )
    .await?;
    let part = |name: &str| format!("{shape} {name}");
    let mut worst = check_close(&out[0], &refs.nf, 1e-6, 1e-5, &part("nf"))?;
    ensure((0..channels).all(|c| out[0][c * hw + 2] == 0.0), || {
        format!("{shape} nf: the zero feature vector at pixel 2 of image 0 did not normalise to 0.")
    })?;
    worst = worst.max(check_close(&out[1], &refs.siv, 1e-6, 1e-5, &part("siv"))?);
    ensure(out[1][..channels].iter().all(|&v| v == 0.0), || {
        format!("{shape} siv: the all-zero SISM of image 0 did not give SIV 0.")
    })?;
    worst = worst.max(check_close(&out[2], &refs.corr, 1e-6, 1e-5, &part("corr"))?);
    worst = worst.max(check_close(&out[3], &refs.csa, 1e-5, 0.0, &part("csa"))?);

    // Ranks: exactly the stable descending sort of the GPU's own keys.
    let ranks = as_u32(&out[4]);
    let mut idx = Vec::new();
    for z in 0..2 * images {
        let branch = z * hw..(z + 1) * hw;
        let what = format!("{shape} rank of branch {z}");
        idx.push(check_ranks(&ranks[branch.clone()], &out[3][branch], &what)?);
    }
    // The folded GEMM form equals the SPEC's explicit SCF/RSCF form.
    let x_ref = cosal::cpu_rscf_conv(
        &out[0], &out[3], &idx, &wts, &bias, images, channels, hw, cout,
    );
    worst = worst.max(check_close(
        &out[5],
        &x_ref,
        1e-5,
        1e-5,
        &part("rscf conv"),
    )?);
    Ok(max_err(worst, "nf, siv, corr, csa, rscf conv; ranks exact"))
}

async fn cosal_chain_one_image(gpu: &Gpu) -> CaseResult {
    cosal_chain(gpu, 1, 10, 5, 7, 50).await
}

async fn cosal_chain_three_images(gpu: &Gpu) -> CaseResult {
    cosal_chain(gpu, 3, 13, 7, 7, 60).await
}

async fn cosal_chain_co4_size(gpu: &Gpu) -> CaseResult {
    cosal_chain(gpu, 2, 6, 28, 28, 70).await
}

async fn rank_is_stable_on_ties(gpu: &Gpu) -> CaseResult {
    let hw = 49;
    let what = "rank of 2 branches of 49 keys with ties";
    let mut keys: Vec<f32> = (0..2 * hw).map(|i| ((i * 7) % 5) as f32 / 4.0).collect();
    keys[3] = 1.0;
    keys[60] = 0.0;
    let got = run_kernels(gpu, &[("k", &keys)], ("r", keys.len()), what, |g, t, r| {
        cosal::push_rank(g, t[0], r, 2, hw)
    })
    .await?;
    let ranks = as_u32(&got);
    for z in 0..2 {
        let branch = z * hw..(z + 1) * hw;
        let what = format!("{what}, branch {z}");
        let order = check_ranks(&ranks[branch.clone()], &keys[branch], &what)?;
        // Equal keys keep ascending index order.
        for c in 1..hw {
            let (a, b) = (order[c - 1], order[c]);
            ensure(keys[z * hw + a] > keys[z * hw + b] || a < b, || {
                format!("{what}: the CPU sort put index {a} before {b} (not stable).")
            })?;
        }
    }
    Ok("exact over 2 branches".into())
}

async fn foreground_only_cosal_ops_match_the_foreground_branch(gpu: &Gpu) -> CaseResult {
    // The training-free model runs SIV/corr/CSA with one branch per image;
    // each result must equal the foreground (even) branch of the pair layout.
    let (images, channels, h, w) = (3, 37, 5, 7);
    let hw = h * w;
    let what = format!("foreground-only csa ({images} images, {channels} channels, {h}x{w})");
    let feats = data(700, images * channels * hw, -1.0, 1.0);
    let s2 = data(701, 2 * images * hw, 0.0, 1.0);
    let fore: Vec<f32> = (0..images)
        .flat_map(|n| s2[2 * n * hw..(2 * n + 1) * hw].to_vec())
        .collect();
    let csa_ref = cosal_refs(&feats, &s2, images, channels, hw).csa;

    let mut g = Graph::new();
    let tf = g.tensor("f", feats.len(), Role::Input);
    let ts = g.tensor("s", fore.len(), Role::Input);
    let t = push_cosal_front(&mut g, tf, ts, images, channels, h, w, 1, Role::Transient);
    let got = run_graph(gpu, g, &[(tf, &feats), (ts, &fore)], &[t.csa], &what)
        .await?
        .remove(0);
    let mut worst = 0f32;
    for n in 0..images {
        worst = worst.max(check_close(
            &got[n * hw..(n + 1) * hw],
            &csa_ref[2 * n * hw..(2 * n + 1) * hw],
            1e-5,
            1e-4,
            &format!("{what}, image {n}"),
        )?);
    }
    Ok(max_err(worst, &format!("{images} images")))
}
