//! `icnet eval`: scores saliency maps against ground-truth masks with the
//! metrics of `icnet_engine::metrics` (pysodmetrics 1.6.2 definitions).
//!
//! The layout mirrors `icnet run`'s output: GT_ROOT/<group>/<stem>.<ext> masks
//! and PRED_ROOT/<group>/<stem>.png maps, or flat folders for one group.
//! Nothing is resized (as in pysodmetrics-based evaluators), so a map of
//! another size is an error for that image. A problem with one image (no
//! prediction, an undecodable file, a size mismatch) is one warning line; the
//! other images are still scored, and the command fails at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use icnet_engine::metrics::{ImageScores, Metrics, Sample, Scores};
use serde_json::{json, Value};

use crate::discover::{self, Group, PHOTO_EXTENSIONS};
use crate::text::{clause, out};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Metrics (as PyPI pysodmetrics 1.6.2): S-measure (alpha 0.5); E-measure and F-measure \
(beta² 0.3), maximum and mean over the 256-threshold curve averaged over the images; MAE. \
Maps are divided by 255 and min-max normalised, masks are foreground above 128; colour \
images are converted to grey as Pillow's convert('L').\n\n\
Each group row pools that group's images; the overall row pools all images, as one \
dataset (it is not the mean of the group rows).")]
pub struct EvalArgs {
    /// Predicted saliency maps: PRED_ROOT/<group>/<stem>.png (for a single group also PRED_ROOT/<stem>.png).
    #[arg(value_name = "PRED_ROOT")]
    pub pred_root: PathBuf,
    /// Ground-truth masks: one subfolder per group, or a folder of masks (one group).
    #[arg(value_name = "GT_ROOT")]
    pub gt_root: PathBuf,
    /// Also write the scores (and the images that could not be scored) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Prediction file types, in the order they are looked for.
const PRED_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// The JSON and table keys, in table order after the group name and count.
const COLUMNS: [(&str, &str); 6] = [
    ("S", "s_measure"),
    ("maxE", "max_e"),
    ("meanE", "mean_e"),
    ("maxF", "max_f"),
    ("meanF", "mean_f"),
    ("MAE", "mae"),
];

struct GroupResult {
    name: String,
    scores: Option<Scores>,
}

/// An image that could not be scored.
struct Problem {
    gt: PathBuf,
    pred: Option<PathBuf>,
    reason: String,
    kind: ProblemKind,
}

/// What went wrong with one image, so that the final message names the
/// actual cause when every image failed the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProblemKind {
    NoPrediction,
    Unreadable,
    SizeMismatch,
    Unscorable,
}

/// The closing sentence when no mask could be scored, naming the cause that
/// all the warnings share (or the commonest one).
fn nothing_scored(masks: usize, problems: &[Problem]) -> String {
    let count = |k: ProblemKind| problems.iter().filter(|p| p.kind == k).count();
    let kinds = [
        ProblemKind::NoPrediction,
        ProblemKind::SizeMismatch,
        ProblemKind::Unreadable,
        ProblemKind::Unscorable,
    ];
    let main = kinds
        .into_iter()
        .max_by_key(|&k| count(k))
        .unwrap_or(ProblemKind::NoPrediction);
    let share = if count(main) == problems.len() {
        "every one".to_string()
    } else {
        format!("{} of them", count(main))
    };
    let why = match main {
        ProblemKind::NoPrediction => format!(
            "{share} has no prediction (predictions are expected as PRED_ROOT/<group>/<stem>.png)"
        ),
        ProblemKind::SizeMismatch => format!(
            "{share} has a prediction of another size than the mask (nothing is resized: \
             `icnet run` writes maps at the photo's size, so the masks must be at that size too; \
             were the photos or the masks resized, or EXIF-rotated photos scored against masks \
             of the stored orientation? see --exif-orientation of icnet run)"
        ),
        ProblemKind::Unreadable => {
            format!("{share} has a mask or a prediction that could not be decoded")
        }
        ProblemKind::Unscorable => format!("{share} could not be scored"),
    };
    format!("none of the {masks} ground-truth masks could be scored: {why}")
}

pub fn eval(args: &EvalArgs) -> Result<ExitCode, String> {
    for (what, dir) in [("PRED_ROOT", &args.pred_root), ("GT_ROOT", &args.gt_root)] {
        if !dir.is_dir() {
            return Err(format!(
                "{what} {} {}",
                dir.display(),
                if dir.exists() {
                    "is not a folder"
                } else {
                    "does not exist"
                }
            ));
        }
    }
    if let Some(json) = &args.json {
        let at = crate::outputs::resolve(json);
        for (what, dir) in [("PRED_ROOT", &args.pred_root), ("GT_ROOT", &args.gt_root)] {
            if at.starts_with(crate::outputs::resolve(dir)) {
                return Err(format!(
                    "--json {} is inside {what} {}: write the report outside the folders that are read",
                    json.display(),
                    dir.display()
                ));
            }
        }
    }
    let layout = discover::find_groups(&args.gt_root).map_err(|e| format!("ground truth: {e}"))?;
    if !layout.ignored_dirs.is_empty() {
        eprintln!(
            "note: {} holds masks, so it is one group; its subfolders are ignored: {}",
            args.gt_root.display(),
            layout.ignored_dirs.join(", ")
        );
    }

    let mut overall = Metrics::default();
    let mut results = Vec::new();
    let mut problems = Vec::new();
    let mut masks = 0;
    for group in &layout.groups {
        if group.photos.is_empty() {
            eprintln!(
                "warning: group {}: {} holds no masks ({}); skipped",
                group.name,
                group.dir.display(),
                PHOTO_EXTENSIONS.join(", ")
            );
            continue;
        }
        let mut metrics = Metrics::default();
        for mask in &group.photos {
            masks += 1;
            match score(
                group,
                &mask.path,
                &mask.stem,
                &args.pred_root,
                layout.single,
            ) {
                Ok(image) => {
                    if image.s_measure.is_nan() {
                        eprintln!(
                            "warning: {}: S-measure is NaN (as in pysodmetrics): the mask's \
                             foreground centroid is on its last row or column, so the S of \
                             every row holding this image is NaN",
                            mask.path.display()
                        );
                    }
                    metrics.push(&image);
                    overall.push(&image);
                }
                Err(p) => {
                    eprintln!("warning: {}", p.reason);
                    problems.push(p);
                }
            }
        }
        results.push(GroupResult {
            name: group.name.clone(),
            scores: metrics.scores(),
        });
    }
    let overall = overall.scores();

    if overall.is_some() {
        for line in table(&results, overall.as_ref()) {
            out(&line);
        }
    }
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&report(args, &results, overall.as_ref(), &problems))
                .map_err(|e| format!("could not encode the JSON report: {e}"))?;
        crate::atomic::write(path, (text + "\n").as_bytes())
            .map_err(|e| format!("could not write {}: {}", path.display(), clause(e)))?;
    }
    if overall.is_none() {
        return Err(nothing_scored(masks, &problems));
    }
    if !problems.is_empty() {
        return Err(format!(
            "{} of {masks} ground-truth masks could not be scored (see the warnings); \
             the scores above leave them out",
            problems.len()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads one mask and its prediction and scores them.
fn score(
    group: &Group,
    gt_path: &Path,
    stem: &std::ffi::OsStr,
    pred_root: &Path,
    single: bool,
) -> Result<ImageScores, Problem> {
    let problem = |pred: Option<&Path>, kind: ProblemKind, reason: String| Problem {
        gt: gt_path.to_path_buf(),
        pred: pred.map(Path::to_path_buf),
        reason,
        kind,
    };
    let mut dirs = Vec::new();
    if single {
        dirs.push(pred_root.to_path_buf());
    }
    dirs.push(pred_root.join(&group.dir_name));
    let named = |dir: &Path, ext: &str| {
        let mut file = stem.to_os_string();
        file.push(".");
        file.push(ext);
        dir.join(file)
    };
    let Some(pred_path) = dirs
        .iter()
        .flat_map(|d| PRED_EXTENSIONS.iter().map(move |ext| named(d, ext)))
        .find(|c| c.is_file())
    else {
        let expected: Vec<String> = dirs
            .iter()
            .map(|d| named(d, "png").display().to_string())
            .collect();
        return Err(problem(
            None,
            ProblemKind::NoPrediction,
            format!(
                "no prediction for {}: expected {}",
                gt_path.display(),
                expected.join(" or ")
            ),
        ));
    };
    let pred_path = &pred_path;
    let (gt, gw, gh) = load_grey(gt_path).map_err(|e| {
        problem(
            Some(pred_path),
            ProblemKind::Unreadable,
            format!("ground truth {}: {e}", gt_path.display()),
        )
    })?;
    let (pred, pw, ph) = load_grey(pred_path).map_err(|e| {
        problem(
            Some(pred_path),
            ProblemKind::Unreadable,
            format!("prediction {}: {e}", pred_path.display()),
        )
    })?;
    if (pw, ph) != (gw, gh) {
        return Err(problem(
            Some(pred_path),
            ProblemKind::SizeMismatch,
            format!(
                "prediction {} is {pw}x{ph} but its ground truth {} is {gw}x{gh} (nothing is resized)",
                pred_path.display(),
                gt_path.display()
            ),
        ));
    }
    ImageScores::compute(Sample {
        pred: &pred,
        gt: &gt,
        width: gw,
        height: gh,
    })
    .map_err(|e| {
        problem(
            Some(pred_path),
            ProblemKind::Unscorable,
            format!("{}: {}", pred_path.display(), clause(e)),
        )
    })
}

/// Decodes an image to 8-bit grey: grey as is (16-bit scaled to 8 bits),
/// colour as Pillow's `convert('L')` (ITU-R 601-2 luma), alpha ignored.
fn load_grey(path: &Path) -> Result<(Vec<u8>, usize, usize), String> {
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| format!("could not read it: {}", clause(e)))?;
    let img = reader
        .decode()
        .map_err(|e| format!("could not decode it: {}", clause(e)))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let grey = match img {
        image::DynamicImage::ImageLuma8(b) => b.into_raw(),
        image::DynamicImage::ImageLumaA8(b) => b.into_raw().chunks_exact(2).map(|p| p[0]).collect(),
        image::DynamicImage::ImageLuma16(_) | image::DynamicImage::ImageLumaA16(_) => {
            img.to_luma8().into_raw()
        }
        other => other
            .to_rgb8()
            .into_raw()
            .chunks_exact(3)
            .map(|p| {
                let [r, g, b] = [p[0], p[1], p[2]].map(u32::from);
                ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8
            })
            .collect(),
    };
    if w == 0 || h == 0 {
        return Err(format!("it has no pixels ({w}x{h})"));
    }
    Ok((grey, w, h))
}

/// The aligned table, 3 decimals.
fn table(groups: &[GroupResult], overall: Option<&Scores>) -> Vec<String> {
    let name_width = groups
        .iter()
        .map(|g| g.name.chars().count())
        .chain(["overall".len(), "group".len()])
        .max()
        .unwrap_or(0);
    let row = |name: &str, scores: Option<&Scores>| {
        let mut line = format!("{name:<name_width$}  {:>6}", scores.map_or(0, |s| s.images));
        for (_, key) in COLUMNS {
            match scores {
                Some(s) => line.push_str(&format!("  {:>6.3}", value(s, key))),
                None => line.push_str(&format!("  {:>6}", "-")),
            }
        }
        line
    };
    let mut header = format!("{:<name_width$}  {:>6}", "group", "images");
    for (title, _) in COLUMNS {
        header.push_str(&format!("  {title:>6}"));
    }
    let mut lines = vec![
        "Saliency metrics (pysodmetrics 1.6.2 definitions; E and F: max/mean over 256 thresholds; \
         overall = all images pooled as one dataset)"
            .to_string(),
        header.clone(),
    ];
    lines.extend(groups.iter().map(|g| row(&g.name, g.scores.as_ref())));
    lines.push("-".repeat(header.len()));
    lines.push(row("overall", overall));
    lines
}

fn value(s: &Scores, key: &str) -> f64 {
    s.get(key)
        .unwrap_or_else(|| unreachable!("unknown metric {key}"))
}

/// Scores as JSON (full f64 precision; NaN and "no images" as null).
fn scores_json(s: Option<&Scores>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("images".into(), json!(s.map_or(0, |s| s.images)));
    for key in Scores::NAMES {
        m.insert(key.into(), s.map_or(Value::Null, |s| json!(value(s, key))));
    }
    Value::Object(m)
}

fn report(
    args: &EvalArgs,
    groups: &[GroupResult],
    overall: Option<&Scores>,
    problems: &[Problem],
) -> Value {
    let groups: BTreeMap<&str, Value> = groups
        .iter()
        .map(|g| (g.name.as_str(), scores_json(g.scores.as_ref())))
        .collect();
    let problems: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "gt": p.gt.display().to_string(),
                "pred": p.pred.as_ref().map(|p| p.display().to_string()),
                "reason": p.reason,
            })
        })
        .collect();
    json!({
        "definitions": "pysodmetrics 1.6.2: S-measure (alpha 0.5); E-measure and F-measure \
            (beta^2 0.3) max/mean over the 256-threshold curve averaged over the images, \
            adaptive at threshold min(2 mean, 1); MAE. overall pools all images as one dataset.",
        "pred_root": args.pred_root.display().to_string(),
        "gt_root": args.gt_root.display().to_string(),
        "groups": groups,
        "overall": scores_json(overall),
        "not_scored": problems,
    })
}
