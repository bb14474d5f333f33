//! `icnet run`: every group is one batch through the network; its maps are
//! written as soon as the group is done, so an error in a later group (or a
//! crash) never loses finished work.
//!
//! Problems that concern one group (no photos, a missing SISM, a photo that
//! does not decode) fail that group only; problems that concern everything
//! (no image folder, bad weights, no GPU, an output folder that cannot be
//! written) stop the command before any work. The GPU is opened only when the
//! first group is ready to run, so bad inputs are reported without waiting for
//! device start-up and kernel tuning.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use icnet_engine::postprocess;
use icnet_engine::preprocess::{self, DecodedPhoto, PhotoInputError, PreparedPhoto, SIZE};
use icnet_engine::u2net::{SaliencyModel, SaliencyNet};
use icnet_engine::weights::{ConvSet, Weights};
use icnet_engine::{Engine, Model};

use crate::cli::{DeviceArgs, ModelChoice, RunArgs};
use crate::device;
use crate::discover::{self, Group, Problem};
use crate::fetch_models;
use crate::npy;
use crate::picture;
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
            let engine = device::open_engine(self.args, m, Some(self.photos))?;
            let u2 = match self.u2_weights.take() {
                Some((model, w)) => {
                    Some(SaliencyNet::new(&engine.gpu, model, &w, engine.variant).map_err(clause)?)
                }
                None => None,
            };
            self.engine = Some((engine, u2));
        }
        self.engine
            .as_mut()
            .ok_or_else(|| "the GPU could not be opened".to_string())
    }
}

/// The co-saliency model the arguments ask for, loaded and checked, and how
/// to name it in the log. Without `--model` and `--weights` it is ICNet with
/// the weights this project trained (`models/icnet-default.safetensors`).
fn load_model(a: &RunArgs) -> Result<(Model, &'static str), String> {
    match (a.model.unwrap_or(ModelChoice::Icnet), &a.weights) {
        (ModelChoice::Icnet, Some(w)) => Ok((
            Model::Icnet(Weights::from_file(w).map_err(clause)?),
            "icnet (weights from --weights)",
        )),
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

/// One group's inputs: photos at their size and at 224, SISMs at 224 and
/// (for pictures and --save-sisms) at the photo's size.
struct Loaded {
    decoded: Vec<DecodedPhoto>,
    prepared: Vec<PreparedPhoto>,
    sisms224: Vec<Vec<u8>>,
    sisms_full: Vec<Vec<u8>>,
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
    prepare_output(&a.out)?;
    for d in [&a.save_sisms, &a.pictures].into_iter().flatten() {
        prepare_output(d)?;
    }
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
    let mut engine = LazyEngine {
        args: &a.device,
        photos: layout.groups.iter().map(|g| g.photos.len()).sum(),
        model: Some(model),
        u2_weights,
        engine: None,
    };

    let total = layout.groups.len();
    let started = Instant::now();
    let mut failed: Vec<(String, Problem)> = Vec::new();
    let mut photos_done = 0;
    let interactive = std::io::stderr().is_terminal();
    for (i, group) in layout.groups.iter().enumerate() {
        let tag = format!("[{}/{}] {}", i + 1, total, group.name);
        let t0 = Instant::now();
        let sism_paths = match &a.sisms {
            Some(root) => discover::check_group(group, root, layout.single).map(Some),
            None => discover::check_photos(group).map(|_| None),
        };
        let loaded = sism_paths.and_then(|s| load_group(group, s.as_deref()));
        let mut loaded = match loaded {
            Ok(x) => x,
            Err(p) => {
                eprintln!("{tag}: failed\nerror: {}", p.detail);
                failed.push((group.name.clone(), p));
                continue;
            }
        };
        let (engine, u2) = engine.get()?;
        let n = loaded.decoded.len();
        let chunk = engine.chunk_size(n);
        let chunks = if chunk < n {
            format!(" in {} chunks", n.div_ceil(chunk))
        } else {
            String::new()
        };
        let head = format!(
            "{tag}: {n} photo{}{chunks} ...",
            if n == 1 { "" } else { "s" }
        );
        eprint!("{head}");
        // On a terminal, show the stage being computed (a group can take
        // minutes on a CPU adapter; this submits stage by stage); in logs,
        // only the final line, from a single submission.
        let mut show = |stage: &str, k: usize, total: usize| {
            if interactive {
                eprint!("\r\x1b[K{head} {stage} ({k}/{total})");
            }
        };
        let result = (|| -> Result<(), Problem> {
            if let Some(u2) = u2.as_ref() {
                let fail = |e: icnet_engine::Error| {
                    Problem::new(clause(&e), format!("group {}: {}", group.name, clause(&e)))
                };
                let what = format!("saliency maps ({})", u2.model().name());
                for (k, photo) in loaded.decoded.iter().enumerate() {
                    show(&what, k, n);
                    let s = u2.sism(&engine.gpu, photo).map_err(fail)?;
                    loaded
                        .sisms224
                        .push(preprocess::sism_from_map(&s, photo.width, photo.height));
                    loaded.sisms_full.push(s);
                }
            }
            let progress: Option<icnet_engine::engine::Progress> =
                if interactive { Some(&mut show) } else { None };
            let maps = engine
                .run_group_with_progress(&loaded.prepared, &loaded.sisms224, progress)
                .map_err(|e| {
                    Problem::new(clause(&e), format!("group {}: {}", group.name, clause(&e)))
                })?;
            write_group(a, group, &loaded, &maps)
        })();
        match result {
            Ok(()) => {
                let s = t0.elapsed().as_secs_f64();
                if interactive {
                    eprint!("\r\x1b[K{head}");
                }
                eprintln!(" {} ({}/photo)", secs(s), secs(s / n as f64));
                photos_done += n;
            }
            Err(p) => {
                if interactive {
                    eprint!("\r\x1b[K{head}");
                }
                eprintln!(" failed\nerror: {}", p.detail);
                failed.push((group.name.clone(), p));
            }
        }
    }

    let done = total - failed.len();
    if failed.is_empty() {
        let mut wrote = format!("maps in {}", a.out.display());
        if let Some(p) = &a.pictures {
            wrote.push_str(&format!(", pictures in {}", p.display()));
        }
        if let Some(p) = &a.save_sisms {
            wrote.push_str(&format!(", SISMs in {}", p.display()));
        }
        eprintln!(
            "{done} of {total} groups done: {photos_done} photos in {} (SISMs {sisms_from}); {wrote}",
            secs(started.elapsed().as_secs_f64()),
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let list: Vec<String> = failed
            .iter()
            .map(|(g, p)| format!("{g} ({})", p.short))
            .collect();
        eprintln!("{done} of {total} groups done; failed: {}", list.join(", "));
        Ok(ExitCode::FAILURE)
    }
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
    let probe = out.join(".icnet-write-test");
    fs::write(&probe, b"").map_err(fail)?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Reads and decodes a group's photos and SISMs (when given), naming the
/// first bad file.
fn load_group(group: &Group, sisms: Option<&[PathBuf]>) -> Result<Loaded, Problem> {
    let n = group.photos.len();
    let mut l = Loaded {
        decoded: Vec::with_capacity(n),
        prepared: Vec::with_capacity(n),
        sisms224: Vec::with_capacity(n),
        sisms_full: Vec::with_capacity(n),
    };
    for (k, photo) in group.photos.iter().enumerate() {
        let name = file_name(&photo.path);
        let bytes = fs::read(&photo.path).map_err(|e| {
            Problem::new(
                format!("cannot read {name}"),
                format!("photo {}: could not read it: {e}", photo.path.display()),
            )
        })?;
        let sism = sisms.map(|sisms| &sisms[k]);
        let sism_bytes = match sism {
            Some(sism) => Some(fs::read(sism).map_err(|e| {
                Problem::new(
                    format!("cannot read the SISM of {name}"),
                    format!("SISM {}: could not read it: {e}", sism.display()),
                )
            })?),
            None => None,
        };
        let inputs = preprocess::prepare_photo_inputs(&bytes, sism_bytes.as_deref()).map_err(
            |e| match (e, sism) {
                (PhotoInputError::Sism(e), Some(sism)) => Problem::new(
                    format!("bad SISM for {name}"),
                    format!(
                        "SISM {} (for photo {}): {}",
                        sism.display(),
                        photo.path.display(),
                        clause(e)
                    ),
                ),
                // (A SISM error comes only with a SISM.)
                (PhotoInputError::Photo(e) | PhotoInputError::Sism(e), _) => Problem::new(
                    format!("bad photo {name}"),
                    format!("photo {}: {}", photo.path.display(), clause(e)),
                ),
            },
        )?;
        l.prepared.push(inputs.prepared);
        if let Some(given) = inputs.sism {
            l.sisms224.push(given.sism224);
            // At the photo's size for pictures and --save-sisms.
            l.sisms_full.push(given.full);
        }
        l.decoded.push(inputs.photo);
    }
    Ok(l)
}

/// Writes `<stem>.png` (at the photo's original size, SPEC §5) and with
/// `raw` `<stem>.npy` (the 224x224 float map) for each photo, plus the SISMs
/// and pictures when asked for.
fn write_group(a: &RunArgs, group: &Group, l: &Loaded, maps: &[Vec<f32>]) -> Result<(), Problem> {
    let write_fail = |p: &Path, e: String| {
        Problem::new(
            "could not write the maps",
            format!("could not write {}: {e}", p.display()),
        )
    };
    let dirs: Vec<PathBuf> = [Some(&a.out), a.save_sisms.as_ref(), a.pictures.as_ref()]
        .into_iter()
        .flatten()
        .map(|d| d.join(&group.dir_name))
        .collect();
    for d in &dirs {
        fs::create_dir_all(d).map_err(|e| write_fail(d, e.to_string()))?;
    }
    if maps.len() != l.decoded.len() || maps.iter().any(|m| m.len() != SIZE * SIZE) {
        return Err(Problem::new(
            "unexpected network output",
            format!(
                "group {}: the network returned {} maps of the wrong size for {} photos",
                group.name,
                maps.len(),
                l.decoded.len()
            ),
        ));
    }
    let png = |pixels: &[u8], w: u32, h: u32, what: &Path| {
        postprocess::encode_png_gray(pixels, w, h).map_err(|e| {
            Problem::new(
                "could not encode a map",
                format!("the map of {}: {}", what.display(), clause(e)),
            )
        })
    };
    for (k, (photo, map)) in group.photos.iter().zip(maps).enumerate() {
        let d = &l.decoded[k];
        let pixels = postprocess::map_to_original(map, d.height, d.width);
        let mut name = photo.stem.clone();
        name.push(".png");
        let path = a.out.join(&group.dir_name).join(&name);
        fs::write(&path, png(&pixels, d.width, d.height, &photo.path)?)
            .map_err(|e| write_fail(&path, e.to_string()))?;
        if a.raw {
            let mut name = photo.stem.clone();
            name.push(".npy");
            let path = a.out.join(&group.dir_name).join(&name);
            fs::write(&path, npy::f32_npy(map, &[SIZE, SIZE]))
                .map_err(|e| write_fail(&path, e.to_string()))?;
        }
        if let Some(dir) = &a.save_sisms {
            let path = dir.join(&group.dir_name).join(&name);
            fs::write(
                &path,
                png(&l.sisms_full[k], d.width, d.height, &photo.path)?,
            )
            .map_err(|e| write_fail(&path, e.to_string()))?;
        }
        if let Some(dir) = &a.pictures {
            let pic = picture::side_by_side(&d.rgb, &l.sisms_full[k], &pixels, d.width, d.height);
            let path = dir.join(&group.dir_name).join(&name);
            pic.save_with_format(&path, image::ImageFormat::Png)
                .map_err(|e| write_fail(&path, e.to_string()))?;
        }
    }
    Ok(())
}
