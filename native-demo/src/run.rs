//! `icnet run`: every group is one batch through the network; its maps are
//! written as soon as the group is done, so an error in a later group (or a
//! crash) never loses finished work.
//!
//! Problems that concern everything (no image folder, an output folder that
//! is or lies inside an input, bad weights, no GPU) stop the command before
//! any work. Problems that concern one group (no photos, two photos with one
//! output name, a file of the user's where a map would go) fail that group
//! before it is computed, and the others run. A photo that cannot be used
//! (undecodable, too large, no SISM, a format that is not read) is left out
//! of its group, named with its reason, and the command exits non-zero at the
//! end; `--strict` fails the whole group instead. The GPU is opened only when
//! the first group is ready to run.
//!
//! Memory stays bounded by one photo, not one group: photos are decoded one
//! at a time, and only what the network needs is kept while the group runs
//! (the 224x224 input, the SISM at 224x224 and U²-Net's 320x320 output, and
//! the photo's size); pictures re-read their photo when they are drawn.
//!
//! Every output goes through a temporary file and a rename
//! ([`crate::atomic`]); each group's record (see [`crate::outputs`]) lets a
//! rerun skip finished groups, and `--shard K/N` splits a collection across
//! machines.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use icnet_engine::io::postprocess;
use icnet_engine::io::preprocess::{
    self, DecodeOptions, Orientation, PhotoInputError, PreparedPhoto, SIZE,
};
use icnet_engine::io::weights::{ConvSet, Weights};
use icnet_engine::models::u2net::{self, SaliencyModel, SaliencyNet};
use icnet_engine::{Engine, Model};
use serde_json::{json, Value};

use crate::atomic;
use crate::cli::{DeviceArgs, ExifOrientation, ModelChoice, RunArgs, Shard};
use crate::device;
use crate::discover::{self, Group, Problem};
use crate::fetch_models;
use crate::npy;
use crate::outputs::{self, Folder, GroupOutputs, Role};
use crate::picture;
use crate::progress::Progress;
use crate::report::Report;
use crate::text::{clause, secs};

/// Opens the GPU (and compiles the saliency model) on first use.
struct LazyEngine<'a> {
    args: &'a DeviceArgs,
    /// Photos in all groups (for the variant choice).
    photos: usize,
    model: Option<Model>,
    u2_weights: Option<(SaliencyModel, ConvSet)>,
    engine: Option<(Engine, Option<SaliencyNet>)>,
}

impl LazyEngine<'_> {
    fn get(&mut self) -> Result<&mut (Engine, Option<SaliencyNet>), String> {
        if let Some(m) = self.model.take() {
            let engine =
                device::open_engine(self.args, m, Some(self.photos), device::Timings::Reuse)?;
            let u2 = match self.u2_weights.take() {
                Some((model, w)) => Some(
                    SaliencyNet::new(&engine.gpu, model, &w, engine.variant, engine.precision())
                        .map_err(clause)?,
                ),
                None => None,
            };
            self.engine = Some((engine, u2));
        }
        self.engine
            .as_mut()
            .ok_or_else(|| "the GPU could not be opened".to_string())
    }

    /// The adapter and kernel variant, once the GPU is open (for the report).
    fn adapter(&self) -> Value {
        match &self.engine {
            Some((e, _)) => json!({
                "name": e.gpu.info.name,
                "backend": format!("{:?}", e.gpu.info.backend),
                "driver": e.gpu.info.driver_info,
                "conv_variant": e.variant.label(),
            }),
            None => Value::Null,
        }
    }
}

/// The co-saliency model the arguments ask for, loaded and checked, and how
/// to name it in the log. Without `--model` and `--weights` it is ICNet with
/// the weights this project trained (`models/icnet-default.safetensors`).
fn load_model(a: &RunArgs) -> Result<(Model, &'static str), String> {
    match (a.model.unwrap_or(ModelChoice::Icnet), &a.weights) {
        (ModelChoice::Icnet, Some(w)) => {
            let weights = Weights::from_file(w).map_err(clause)?;
            if let Some(warning) = weights.preprocess_warning() {
                eprintln!("warning: {}: {}", w.display(), clause(warning));
            }
            Ok((Model::Icnet(weights), "icnet (weights from --weights)"))
        }
        (ModelChoice::Icnet, None) => {
            let why = "ICNet with the project's trained weights (the default model)";
            let w = fetch_models::load_icnet_default(&a.models, why)?;
            Ok((
                Model::Icnet(w),
                "icnet (trained by this project: icnet-default)",
            ))
        }
        (ModelChoice::Csa, Some(_)) => Err(
            "--weights are ICNet weights, but --model csa was asked for; drop one of the two"
                .into(),
        ),
        (ModelChoice::Csa, None) => {
            let vgg = fetch_models::load_vgg16(&a.models, "the training-free model (csa)")?;
            Ok((
                Model::Csa(vgg),
                "csa (training-free: ImageNet VGG16 + ICNet correlation cues)",
            ))
        }
    }
}

/// The share of the groups a group belongs to: FNV-1a (64 bit) of its folder
/// name, modulo the number of shards. It depends on the name only, so every
/// machine computes the same split whatever else the collection holds.
pub fn shard_of(dir_name: &std::ffi::OsStr, count: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in dir_name.as_encoded_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % count
}

/// A photo left out of its group: `short` for the summary, `detail` for the
/// `error:` line.
struct LeftOut {
    file: String,
    short: String,
    detail: String,
}

/// What became of one group.
enum Status {
    Done,
    /// Complete from an earlier run with the same settings and inputs.
    AlreadyDone,
    Failed(Problem),
}

struct Outcome {
    status: Status,
    photos: usize,
    left_out: Vec<LeftOut>,
    /// Seconds per stage, in order.
    stages: Vec<(&'static str, f64)>,
}

impl Outcome {
    fn failed(p: Problem, left_out: Vec<LeftOut>) -> Outcome {
        Outcome {
            status: Status::Failed(p),
            photos: 0,
            left_out,
            stages: Vec::new(),
        }
    }
}

/// One photo of a group, reduced to what the network and the writers need.
struct Kept {
    index: usize,
    prepared: PreparedPhoto,
    sism224: Vec<u8>,
    /// U²-Net's output at 320x320 when the SISM was computed (the map at the
    /// photo's size is made from it again when it is saved or drawn).
    d0: Option<Vec<f32>>,
    sism_path: Option<PathBuf>,
}

/// Everything the groups share.
struct Ctx<'a> {
    a: &'a RunArgs,
    decode: DecodeOptions,
    settings: Value,
    single: bool,
    interactive: bool,
    roots: Vec<(Role, &'a Path)>,
}

pub fn run(a: &RunArgs) -> Result<ExitCode, String> {
    let layout = discover::find_groups(&a.img_root)?;
    if let Some(s) = &a.sisms {
        if !s.is_dir() {
            return Err(format!("the SISM folder {} does not exist", s.display()));
        }
    }
    if !layout.ignored_dirs.is_empty() {
        eprintln!(
            "note: {} holds photos, so it is one group; its subfolders are ignored: {}",
            a.img_root.display(),
            layout.ignored_dirs.join(", ")
        );
    }
    let mut inputs = vec![Folder::new("the image folder", &a.img_root)];
    if let Some(s) = &a.sisms {
        inputs.push(Folder::new("the SISM folder", s));
    }
    let mut outs = vec![Folder::new("--out", &a.out)];
    if let Some(d) = &a.save_sisms {
        outs.push(Folder::new("--save-sisms", d));
    }
    if let Some(d) = &a.pictures {
        outs.push(Folder::new("--pictures", d));
    }
    let report_folder = a.report.as_deref().map(|r| Folder::new("--report", r));
    outputs::check_folders(&inputs, &outs, report_folder.as_ref(), &layout)?;

    let collisions = discover::folded_group_collisions(&layout.groups);
    let selected: Vec<(usize, &Group)> = layout
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            a.shard
                .is_none_or(|s: Shard| shard_of(&g.dir_name, s.count) == s.index)
        })
        .collect();
    if let Some(s) = a.shard {
        eprintln!(
            "shard {s}: {} of the {} groups",
            selected.len(),
            layout.groups.len()
        );
    }

    prepare_output(&a.out)?;
    for d in [&a.save_sisms, &a.pictures].into_iter().flatten() {
        prepare_output(d)?;
    }
    let mut report = a.report.as_deref().map(Report::open).transpose()?;
    let (model, model_name) = load_model(a)?;
    let saliency = a.saliency;
    let u2_weights = match &a.sisms {
        Some(_) => None,
        None => {
            let why = format!(
                "computing saliency maps with {} (--saliency {}, no --sisms)",
                saliency.name(),
                saliency.id()
            );
            let w = fetch_models::load_saliency(&a.models, saliency, &why)?;
            Some((saliency, w))
        }
    };
    // Who made the SISMs, for the log and the summary line.
    let sisms_from = match &a.sisms {
        Some(s) => format!("from {}", s.display()),
        None => saliency.name().to_string(),
    };
    eprintln!("model: {model_name}; SISMs: {sisms_from}");
    let decode = DecodeOptions {
        orientation: match a.exif_orientation {
            ExifOrientation::Apply => Orientation::FromExif,
            ExifOrientation::Ignore => Orientation::Ignore,
        },
        max_pixels: a.max_image_mp * 1_000_000,
    };
    let mut roots: Vec<(Role, &Path)> = vec![(Role::Maps, a.out.as_path())];
    if let Some(d) = &a.save_sisms {
        roots.push((Role::Sisms, d));
    }
    if let Some(d) = &a.pictures {
        roots.push((Role::Pictures, d));
    }
    let ctx = Ctx {
        a,
        decode,
        settings: settings(a, model_name),
        single: layout.single,
        interactive: std::io::stderr().is_terminal(),
        roots,
    };
    let mut engine = LazyEngine {
        args: &a.device,
        photos: selected.iter().map(|(_, g)| g.photos.len()).sum(),
        model: Some(model),
        u2_weights,
        engine: None,
    };

    let total = selected.len();
    let started = Instant::now();
    let mut failed: Vec<(String, Problem)> = Vec::new();
    let mut left_out: Vec<(String, LeftOut)> = Vec::new();
    let (mut photos_done, mut done, mut already) = (0, 0, 0);
    for (i, (index, group)) in selected.iter().enumerate() {
        let tag = format!("[{}/{}] {}", i + 1, total, group.name);
        let t0 = Instant::now();
        let outcome = match &collisions[*index] {
            Some(first) => Outcome::failed(
                Problem::new(
                    format!("same folder as {first} on case-insensitive file systems"),
                    format!(
                        "group {}: its output folder would be the same as group {first}'s on case-insensitive \
                         file systems (macOS, Windows); rename one of the two folders",
                        group.name
                    ),
                ),
                Vec::new(),
            ),
            None => run_group(&ctx, &mut engine, group, &tag)?,
        };
        let seconds = t0.elapsed().as_secs_f64();
        let (status, reason) = match &outcome.status {
            Status::Done => ("done", Value::Null),
            Status::AlreadyDone => ("already-done", Value::Null),
            Status::Failed(p) => ("failed", json!(p.detail)),
        };
        if let Some(r) = report.as_mut() {
            let stages: serde_json::Map<String, Value> = outcome
                .stages
                .iter()
                .map(|(k, v)| (k.to_string(), json!(round3(*v))))
                .collect();
            r.line(&json!({
                "group": group.name,
                "folder": group.dir.display().to_string(),
                "status": status,
                "photos": outcome.photos,
                "left_out": outcome.left_out.iter().map(|l| json!({"photo": l.file, "reason": l.detail})).collect::<Vec<_>>(),
                "reason": reason,
                "seconds": round3(seconds),
                "stages": stages,
                "adapter": engine.adapter(),
                "shard": a.shard.map(|s| s.to_string()),
            }))?;
        }
        match outcome.status {
            Status::Done => {
                done += 1;
                photos_done += outcome.photos;
            }
            Status::AlreadyDone => already += 1,
            Status::Failed(p) => {
                eprintln!("{tag}: failed\nerror: {}", p.detail);
                failed.push((group.name.clone(), p));
            }
        }
        left_out.extend(
            outcome
                .left_out
                .into_iter()
                .map(|l| (group.name.clone(), l)),
        );
    }

    let mut summary = format!("{} of {total} groups done", done + already);
    if already > 0 {
        summary.push_str(&format!(
            " ({already} complete from an earlier run, skipped; --redo recomputes them)"
        ));
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed
            .iter()
            .map(|(g, p)| format!("{g} ({})", p.short))
            .collect();
        summary.push_str(&format!("; failed: {}", list.join(", ")));
    }
    // Photos left out of groups that did run (a failed group's are in its reason).
    let ran_without: Vec<String> = left_out
        .iter()
        .filter(|(g, _)| !failed.iter().any(|(f, _)| f == g))
        .map(|(g, l)| format!("{g}/{} ({})", l.file, l.short))
        .collect();
    if !ran_without.is_empty() {
        summary.push_str(&format!(
            "; {} photo{} left out: {}",
            ran_without.len(),
            if ran_without.len() == 1 { "" } else { "s" },
            ran_without.join(", ")
        ));
    }
    if let Some((e, _)) = &engine.engine {
        device::save_pipeline_cache(&e.gpu);
    }
    if failed.is_empty() && ran_without.is_empty() {
        let mut wrote = format!("maps in {}", a.out.display());
        if let Some(p) = &a.pictures {
            wrote.push_str(&format!(", pictures in {}", p.display()));
        }
        if let Some(p) = &a.save_sisms {
            wrote.push_str(&format!(", SISMs in {}", p.display()));
        }
        eprintln!(
            "{summary}: {photos_done} photos in {} (SISMs {sisms_from}); {wrote}",
            secs(started.elapsed().as_secs_f64()),
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{summary}");
        Ok(ExitCode::FAILURE)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The settings a group's maps depend on, as its record stores them: a
/// group done with other settings is done again.
fn settings(a: &RunArgs, model_name: &str) -> Value {
    let file = |p: &Option<PathBuf>| {
        p.as_ref().map(|p| {
            let m = fs::metadata(p).ok();
            json!({
                "path": outputs::resolve(p).display().to_string(),
                "bytes": m.as_ref().map(|m| m.len()),
                "modified_ns": m.and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos() as u64),
            })
        })
    };
    let folder = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| outputs::resolve(p).display().to_string())
    };
    let default_weights = match (a.model, &a.weights) {
        (Some(ModelChoice::Csa), _) | (_, Some(_)) => None,
        _ => Some(a.models.join("icnet-default.safetensors")),
    };
    json!({
        "icnet": env!("CARGO_PKG_VERSION"),
        "model": model_name,
        "weights": file(&a.weights.clone().or(default_weights)),
        "saliency": if a.sisms.is_some() { Value::Null } else { json!(a.saliency.id()) },
        "sisms": folder(&a.sisms),
        "exif_orientation": format!("{:?}", a.exif_orientation).to_lowercase(),
        "raw": a.raw,
        "save_sisms": folder(&a.save_sisms),
        "pictures": folder(&a.pictures),
        "strict": a.strict,
        "max_image_mp": a.max_image_mp,
        "max_group_mp": a.max_group_mp,
    })
}

/// The file names a photo's outputs get in each role.
fn planned_outputs(ctx: &Ctx, group: &Group) -> Vec<(Role, String)> {
    let mut planned = Vec::new();
    for p in &group.photos {
        let stem = p.stem.to_string_lossy();
        planned.push((Role::Maps, format!("{stem}.png")));
        if ctx.a.raw {
            planned.push((Role::Maps, format!("{stem}.npy")));
        }
        if ctx.a.save_sisms.is_some() {
            planned.push((Role::Sisms, format!("{stem}.png")));
        }
        if ctx.a.pictures.is_some() {
            planned.push((Role::Pictures, format!("{stem}.png")));
        }
    }
    planned
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The problem of a group none of whose photos could be used.
fn nothing_usable(group: &Group, left_out: &[LeftOut]) -> Problem {
    match left_out {
        [one] => Problem::new(one.short.clone(), one.detail.clone()),
        _ => Problem::new(
            format!("none of its {} photos could be used", left_out.len()),
            format!(
                "group {}: none of its {} photos could be used (each is named above)",
                group.name,
                left_out.len()
            ),
        ),
    }
}

/// Runs one group; `Err` only for what stops the whole command (no GPU).
fn run_group(
    ctx: &Ctx,
    engine: &mut LazyEngine,
    group: &Group,
    tag: &str,
) -> Result<Outcome, String> {
    let a = ctx.a;
    let fail = |p: Problem| Ok(Outcome::failed(p, Vec::new()));
    if let Err(p) = discover::check_photos(group) {
        return fail(p);
    }
    if let Err(p) = discover::check_output_names(group) {
        return fail(p);
    }
    let sism_paths: Vec<Result<Option<PathBuf>, String>> = match &a.sisms {
        Some(root) => discover::find_sisms(group, root, ctx.single)
            .into_iter()
            .map(|r| r.map(Some))
            .collect(),
        None => group.photos.iter().map(|_| Ok(None)).collect(),
    };
    let known_sisms: Vec<Option<PathBuf>> = sism_paths
        .iter()
        .map(|r| r.clone().ok().flatten())
        .collect();
    let mut outs = match GroupOutputs::open(group, &ctx.roots) {
        Ok(o) => o,
        Err(p) => return fail(p),
    };
    let inputs = outputs::input_stamps(group, &known_sisms);
    if !a.redo && outs.is_complete(&ctx.settings, &inputs) {
        let (n, _) = outs.previous_counts();
        eprintln!("{tag}: complete from an earlier run ({n} photos), skipped");
        return Ok(Outcome {
            status: Status::AlreadyDone,
            photos: n,
            left_out: Vec::new(),
            stages: Vec::new(),
        });
    }
    let planned = planned_outputs(ctx, group);
    if let Err(p) = outs.check_can_write(group, &planned) {
        return fail(p);
    }

    // Files that are not read: other files are a note, photos in formats
    // that are not read are left out like any unusable photo.
    let mut left_out: Vec<LeftOut> = Vec::new();
    let others: Vec<String> = group
        .other_files
        .iter()
        .filter(|f| !f.unread_photo)
        .map(|f| f.name.clone())
        .collect();
    if !others.is_empty() {
        eprintln!(
            "note: group {}: not photos, not read: {}",
            group.name,
            others.join(", ")
        );
    }
    for f in group.other_files.iter().filter(|f| f.unread_photo) {
        left_out.push(LeftOut {
            file: f.name.clone(),
            short: format!("{} is not read", f.name),
            detail: format!(
                "photo {}: {}",
                group.dir.join(&f.name).display(),
                f.reason()
            ),
        });
    }

    // Pass 1, headers only: which photos can be used, and the group's size.
    let t_read = Instant::now();
    let mut usable: Vec<usize> = Vec::new();
    let mut group_pixels: u64 = 0;
    for (k, photo) in group.photos.iter().enumerate() {
        let name = file_name(&photo.path);
        if let Err(e) = &sism_paths[k] {
            left_out.push(LeftOut {
                file: name.clone(),
                short: format!("no SISM for {name}"),
                detail: format!(
                    "no SISM for photo {}: {}",
                    photo.path.display(),
                    e.trim_start_matches("no SISM: ")
                ),
            });
            continue;
        }
        let probed = fs::read(&photo.path)
            .map_err(|e| {
                (
                    format!("cannot read {name}"),
                    format!("photo {}: could not read it: {e}", photo.path.display()),
                )
            })
            .and_then(|bytes| {
                preprocess::probe(&bytes, &ctx.decode).map_err(|e| {
                    (
                        format!("bad photo {name}"),
                        format!("photo {}: {}", photo.path.display(), clause(e)),
                    )
                })
            });
        // A given SISM is checked as cheaply, so that a bad one is named
        // before the GPU is opened.
        let probed = probed.and_then(|info| match &known_sisms[k] {
            None => Ok(info),
            Some(sism) => fs::read(sism)
                .map_err(|e| {
                    (
                        format!("cannot read the SISM of {name}"),
                        format!("SISM {}: could not read it: {e}", sism.display()),
                    )
                })
                .and_then(|bytes| {
                    preprocess::probe(&bytes, &ctx.decode).map_err(|e| {
                        (
                            format!("bad SISM for {name}"),
                            format!(
                                "SISM {} (for photo {}): {}",
                                sism.display(),
                                photo.path.display(),
                                clause(e)
                            ),
                        )
                    })
                })
                .map(|_| info),
        });
        match probed {
            Ok(info) => {
                group_pixels += info.pixels();
                usable.push(k);
            }
            Err((short, detail)) => left_out.push(LeftOut {
                file: name,
                short,
                detail,
            }),
        }
    }
    for l in &left_out {
        eprintln!("error: {}", l.detail);
    }
    if a.strict && !left_out.is_empty() {
        let first = &left_out[0];
        return Ok(Outcome::failed(
            Problem::new(
                first.short.clone(),
                format!("{} (--strict: the whole group fails)", first.detail),
            ),
            left_out,
        ));
    }
    if usable.is_empty() {
        return Ok(Outcome::failed(nothing_usable(group, &left_out), left_out));
    }
    let limit = a.max_group_mp * 1_000_000;
    if group_pixels > limit {
        return Ok(Outcome::failed(
            Problem::new(
                "too many pixels",
                format!(
                    "group {}: its {} photos hold {:.0} megapixels, more than the limit of {} megapixels per group \
                     (--max-group-mp); split the group or raise the limit",
                    group.name,
                    usable.len(),
                    group_pixels as f64 / 1e6,
                    a.max_group_mp
                ),
            ),
            left_out,
        ));
    }

    let (engine, u2) = engine.get()?;
    if let Err(p) = outs.start(group, &ctx.settings, &planned) {
        return Ok(Outcome::failed(p, left_out));
    }
    let n = usable.len();
    let chunk = engine.chunk_size(n);
    let chunks = if chunk < n {
        format!(" in {} chunks", n.div_ceil(chunk))
    } else {
        String::new()
    };
    let mut progress = Progress::start(
        ctx.interactive,
        tag,
        format!("{n} photo{}{chunks} ...", if n == 1 { "" } else { "s" }),
    );

    // Pass 2: decode each photo, keep only its network inputs.
    let mut kept: Vec<Kept> = Vec::with_capacity(n);
    let mut t_saliency = 0.0;
    let reading = match u2.as_ref() {
        Some(u2) => format!("reading photos, saliency maps ({})", u2.model().name()),
        None => "reading photos".to_string(),
    };
    let mut late: Vec<LeftOut> = Vec::new();
    for (j, &k) in usable.iter().enumerate() {
        progress.stage(&reading, j, n);
        let photo = &group.photos[k];
        let name = file_name(&photo.path);
        let sism_path = known_sisms[k].clone();
        let loaded = load_photo(&photo.path, sism_path.as_deref(), &ctx.decode, &name);
        let inputs = match loaded {
            Ok(x) => x,
            Err(l) => {
                late.push(l);
                continue;
            }
        };
        let (sism224, d0) = match (inputs.sism, u2.as_ref()) {
            (Some(given), _) => (given.sism224, None),
            (None, Some(u2)) => {
                let t = Instant::now();
                let d0 = u2
                    .d0(&engine.gpu, &u2net::prepare(&inputs.photo))
                    .map_err(|e| clause(&e));
                let d0 = match d0 {
                    Ok(d) => d,
                    Err(e) => {
                        progress.end("failed");
                        return Ok(Outcome::failed(
                            Problem::new(e.clone(), format!("group {}: {e}", group.name)),
                            left_out,
                        ));
                    }
                };
                t_saliency += t.elapsed().as_secs_f64();
                let full = u2net::finish(&d0, inputs.photo.width, inputs.photo.height);
                (
                    preprocess::sism_from_map(&full, inputs.photo.width, inputs.photo.height),
                    Some(d0),
                )
            }
            (None, None) => unreachable!("SISMs are either given or computed"),
        };
        kept.push(Kept {
            index: k,
            prepared: inputs.prepared,
            sism224,
            d0,
            sism_path,
        });
    }
    let read_s = t_read.elapsed().as_secs_f64() - t_saliency;
    if !late.is_empty() {
        progress.interrupt();
        for l in &late {
            eprintln!("error: {}", l.detail);
        }
        left_out.extend(late);
        if a.strict || kept.is_empty() {
            progress.end("failed");
            let p = if a.strict {
                let first = left_out.last().expect("a photo was left out");
                Problem::new(
                    first.short.clone(),
                    format!("{} (--strict: the whole group fails)", first.detail),
                )
            } else {
                nothing_usable(group, &left_out)
            };
            return Ok(Outcome::failed(p, left_out));
        }
    }

    let t_net = Instant::now();
    let prepared: Vec<PreparedPhoto> = kept.iter().map(|k| k.prepared.clone()).collect();
    let sisms: Vec<Vec<u8>> = kept.iter().map(|k| k.sism224.clone()).collect();
    let mut show = |stage: &str, k: usize, total: usize| progress.stage(stage, k, total);
    let maps = engine.run_group_with_progress(&prepared, &sisms, Some(&mut show));
    let maps = match maps {
        Ok(m) => m,
        Err(e) => {
            progress.end("failed");
            return Ok(Outcome::failed(
                Problem::new(clause(&e), format!("group {}: {}", group.name, clause(&e))),
                left_out,
            ));
        }
    };
    let net_s = t_net.elapsed().as_secs_f64();

    let t_write = Instant::now();
    let written = match write_group(ctx, group, &outs, &kept, &maps, &mut progress) {
        Ok(w) => w,
        Err(p) => {
            progress.end("failed");
            return Ok(Outcome::failed(p, left_out));
        }
    };
    let done_photos: Vec<String> = kept
        .iter()
        .map(|k| file_name(&group.photos[k.index].path))
        .collect();
    let left_json: Value = left_out
        .iter()
        .map(|l| json!({"photo": l.file, "reason": l.detail}))
        .collect();
    if let Err(p) = outs.finish(
        group,
        &ctx.settings,
        &inputs,
        &written,
        &done_photos,
        &left_json,
    ) {
        progress.end("failed");
        return Ok(Outcome::failed(p, left_out));
    }
    let write_s = t_write.elapsed().as_secs_f64();
    let total = read_s + t_saliency + net_s + write_s;
    let m = kept.len();
    let without = if left_out.is_empty() {
        String::new()
    } else {
        format!(", {} left out", left_out.len())
    };
    progress.end(&format!(
        "{} ({}/photo{without})",
        secs(total),
        secs(total / m as f64)
    ));
    let mut stages = vec![("read", read_s)];
    if u2.is_some() {
        stages.push(("saliency", t_saliency));
    }
    stages.extend([("network", net_s), ("write", write_s)]);
    Ok(Outcome {
        status: Status::Done,
        photos: m,
        left_out,
        stages,
    })
}

/// Reads and decodes one photo and its given SISM into the network inputs.
fn load_photo(
    path: &Path,
    sism: Option<&Path>,
    decode: &DecodeOptions,
    name: &str,
) -> Result<preprocess::PhotoInputs, LeftOut> {
    let left = |short: String, detail: String| LeftOut {
        file: name.to_string(),
        short,
        detail,
    };
    let bytes = fs::read(path).map_err(|e| {
        left(
            format!("cannot read {name}"),
            format!("photo {}: could not read it: {e}", path.display()),
        )
    })?;
    let sism_bytes = match sism {
        Some(s) => Some(fs::read(s).map_err(|e| {
            left(
                format!("cannot read the SISM of {name}"),
                format!("SISM {}: could not read it: {e}", s.display()),
            )
        })?),
        None => None,
    };
    preprocess::prepare_photo_inputs(&bytes, sism_bytes.as_deref(), decode).map_err(|e| {
        match (e, sism) {
            (PhotoInputError::Sism(e), Some(s)) => left(
                format!("bad SISM for {name}"),
                format!(
                    "SISM {} (for photo {}): {}",
                    s.display(),
                    path.display(),
                    clause(e)
                ),
            ),
            (PhotoInputError::Photo(e) | PhotoInputError::Sism(e), _) => left(
                format!("bad photo {name}"),
                format!("photo {}: {}", path.display(), clause(e)),
            ),
        }
    })
}

/// Creates the output folder and makes sure a file can be written there, so
/// that a read-only or mistyped OUT is reported before any work is done.
fn prepare_output(out: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| {
        format!(
            "could not write to the output folder {}: {e}",
            out.display()
        )
    };
    fs::create_dir_all(out).map_err(fail)?;
    let probe = out.join(format!("{}write-test", atomic::TEMP_PREFIX));
    fs::write(&probe, b"").map_err(fail)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// Writes `<stem>.png` (at the photo's original size, SPEC §5) and with
/// `--raw` `<stem>.npy` (the 224x224 float map) for each photo, plus the SISMs
/// and pictures when asked for, each through a temporary file and a rename.
/// Returns the files written, for the group's record.
fn write_group(
    ctx: &Ctx,
    group: &Group,
    outs: &GroupOutputs,
    kept: &[Kept],
    maps: &[Vec<f32>],
    progress: &mut Progress,
) -> Result<Vec<(Role, String)>, Problem> {
    if maps.len() != kept.len() || maps.iter().any(|m| m.len() != SIZE * SIZE) {
        return Err(Problem::new(
            "unexpected network output",
            format!(
                "group {}: the network returned {} maps of the wrong size for {} photos",
                group.name,
                maps.len(),
                kept.len()
            ),
        ));
    }
    let mut written = Vec::new();
    let mut put = |role: Role, name: &str, bytes: &[u8]| -> Result<(), Problem> {
        let dir = outs.dir(role).expect("a folder for every role written");
        let path = dir.join(name);
        atomic::write(&path, bytes)
            .map_err(|e| outputs::write_problem(group, &path, &e.to_string()))?;
        written.push((role, name.to_string()));
        Ok(())
    };
    let png = |pixels: &[u8], w: u32, h: u32, what: &Path| {
        postprocess::encode_png_gray(pixels, w, h).map_err(|e| {
            Problem::new(
                "could not encode a map",
                format!("the map of {}: {}", what.display(), clause(e)),
            )
        })
    };
    for (j, (k, map)) in kept.iter().zip(maps).enumerate() {
        progress.stage("writing", j, kept.len());
        let photo = &group.photos[k.index];
        let (w, h) = (k.prepared.width, k.prepared.height);
        let pixels = postprocess::map_to_original(map, h, w);
        let stem = photo.stem.to_string_lossy();
        let name = format!("{stem}.png");
        put(Role::Maps, &name, &png(&pixels, w, h, &photo.path)?)?;
        if ctx.a.raw {
            put(
                Role::Maps,
                &format!("{stem}.npy"),
                &npy::f32_npy(map, &[SIZE, SIZE]),
            )?;
        }
        if ctx.a.save_sisms.is_none() && ctx.a.pictures.is_none() {
            continue;
        }
        // Both need the photo's SISM at its size, and pictures the photo
        // itself: made again here, one photo at a time.
        let again = |p: &Path| {
            fs::read(p).map_err(|e| {
                Problem::new(
                    "could not read a photo again",
                    format!("{}: could not read it again: {e}", p.display()),
                )
            })
        };
        let photo_bytes = again(&photo.path)?;
        let sism_bytes = match &k.sism_path {
            Some(s) => Some(again(s)?),
            None => None,
        };
        let inputs =
            preprocess::prepare_photo_inputs(&photo_bytes, sism_bytes.as_deref(), &ctx.decode)
                .map_err(|_| {
                    Problem::new(
                        "a photo changed during the run",
                        format!(
                            "photo {}: it changed while its group ran",
                            photo.path.display()
                        ),
                    )
                })?;
        if (inputs.photo.width, inputs.photo.height) != (w, h) {
            return Err(Problem::new(
                "a photo changed during the run",
                format!(
                    "photo {}: it changed while its group ran",
                    photo.path.display()
                ),
            ));
        }
        let sism_full = match (&k.d0, inputs.sism) {
            (Some(d0), _) => u2net::finish(d0, w, h),
            (None, Some(given)) => given.full,
            (None, None) => unreachable!("SISMs are either given or computed"),
        };
        if ctx.a.save_sisms.is_some() {
            put(Role::Sisms, &name, &png(&sism_full, w, h, &photo.path)?)?;
        }
        if ctx.a.pictures.is_some() {
            let pic = picture::side_by_side(&inputs.photo.rgb, &sism_full, &pixels, w, h);
            let mut bytes = std::io::Cursor::new(Vec::new());
            pic.write_to(&mut bytes, image::ImageFormat::Png)
                .map_err(|e| {
                    Problem::new(
                        "could not encode a picture",
                        format!("the picture of {}: {}", photo.path.display(), clause(e)),
                    )
                })?;
            put(Role::Pictures, &name, bytes.get_ref())?;
        }
    }
    Ok(written)
}
