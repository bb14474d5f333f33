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
use icnet_engine::preprocess::{self, PreparedPhoto, SIZE};
use icnet_engine::weights::Weights;
use icnet_engine::Engine;

use crate::cli::{DeviceArgs, RunArgs};
use crate::device;
use crate::discover::{self, Group, Problem};
use crate::npy;
use crate::text::{clause, secs};

/// Opens the GPU on first use.
struct LazyEngine<'a> {
    args: &'a DeviceArgs,
    weights: Option<Weights>,
    engine: Option<Engine>,
}

impl LazyEngine<'_> {
    fn get(&mut self) -> Result<&mut Engine, String> {
        if let Some(w) = self.weights.take() {
            self.engine = Some(device::open_engine(self.args, w)?);
        }
        self.engine
            .as_mut()
            .ok_or_else(|| "the GPU could not be opened".to_string())
    }
}

pub fn run(a: &RunArgs) -> Result<ExitCode, String> {
    let layout = discover::find_groups(&a.img_root)?;
    if !a.sisms.is_dir() {
        return Err(format!(
            "the SISM folder {} does not exist",
            a.sisms.display()
        ));
    }
    if !layout.ignored_dirs.is_empty() {
        eprintln!(
            "note: {} holds photos, so it is one group; its subfolders are ignored: {}",
            a.img_root.display(),
            layout.ignored_dirs.join(", ")
        );
    }
    prepare_output(&a.out)?;
    let weights = Weights::from_file(&a.weights).map_err(clause)?;
    let mut engine = LazyEngine {
        args: &a.device,
        weights: Some(weights),
        engine: None,
    };

    let total = layout.groups.len();
    let started = Instant::now();
    let mut failed: Vec<(String, Problem)> = Vec::new();
    let mut photos_done = 0;
    for (i, group) in layout.groups.iter().enumerate() {
        let tag = format!("[{}/{}] {}", i + 1, total, group.name);
        let t0 = Instant::now();
        let loaded = discover::check_group(group, &a.sisms, layout.single)
            .and_then(|s| load_group(group, &s));
        let (photos, sisms) = match loaded {
            Ok(x) => x,
            Err(p) => {
                eprintln!("{tag}: failed\nerror: {}", p.detail);
                failed.push((group.name.clone(), p));
                continue;
            }
        };
        let engine = engine.get()?;
        let n = photos.len();
        let chunk = engine.chunk_size(n);
        let chunks = if chunk < n {
            format!(" in {} chunks", n.div_ceil(chunk))
        } else {
            String::new()
        };
        eprint!(
            "{tag}: {n} photo{}{chunks} ...",
            if n == 1 { "" } else { "s" }
        );
        // On a terminal, show the stage being computed (a group can take
        // minutes on a CPU adapter; this submits stage by stage); in logs,
        // only the final line, from a single submission.
        let interactive = std::io::stderr().is_terminal();
        let head = format!(
            "{tag}: {n} photo{}{chunks} ...",
            if n == 1 { "" } else { "s" }
        );
        let mut show = |stage: &str, k: usize, total: usize| {
            eprint!("\r\x1b[K{head} {stage} ({k}/{total})");
        };
        let progress: Option<icnet_engine::engine::Progress> =
            if interactive { Some(&mut show) } else { None };
        let result = engine
            .run_group_with_progress(&photos, &sisms, progress)
            .map_err(|e| Problem::new(clause(&e), format!("group {}: {}", group.name, clause(&e))))
            .and_then(|maps| {
                write_group(&a.out.join(&group.dir_name), group, &photos, &maps, a.raw)
            });
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
                eprintln!(" failed\nerror: {}", p.detail);
                failed.push((group.name.clone(), p));
            }
        }
    }

    let done = total - failed.len();
    if failed.is_empty() {
        eprintln!(
            "{done} of {total} groups done: {photos_done} photos in {}; maps in {}",
            secs(started.elapsed().as_secs_f64()),
            a.out.display()
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

/// Reads and decodes a group's photos and SISMs, naming the first bad file.
fn load_group(
    group: &Group,
    sisms: &[PathBuf],
) -> Result<(Vec<PreparedPhoto>, Vec<Vec<u8>>), Problem> {
    let mut photos = Vec::with_capacity(group.photos.len());
    let mut maps = Vec::with_capacity(group.photos.len());
    for (photo, sism) in group.photos.iter().zip(sisms) {
        let name = file_name(&photo.path);
        let bytes = fs::read(&photo.path).map_err(|e| {
            Problem::new(
                format!("cannot read {name}"),
                format!("photo {}: could not read it: {e}", photo.path.display()),
            )
        })?;
        photos.push(preprocess::prepare_photo(&bytes).map_err(|e| {
            Problem::new(
                format!("bad photo {name}"),
                format!("photo {}: {}", photo.path.display(), clause(e)),
            )
        })?);
        let bytes = fs::read(sism).map_err(|e| {
            Problem::new(
                format!("cannot read the SISM of {name}"),
                format!("SISM {}: could not read it: {e}", sism.display()),
            )
        })?;
        maps.push(preprocess::prepare_sism(&bytes).map_err(|e| {
            Problem::new(
                format!("bad SISM for {name}"),
                format!(
                    "SISM {} (for photo {}): {}",
                    sism.display(),
                    photo.path.display(),
                    clause(e)
                ),
            )
        })?);
    }
    Ok((photos, maps))
}

/// Writes `<stem>.png` (at the photo's original size, SPEC §5) and with
/// `raw` `<stem>.npy` (the 224x224 float map) for each photo.
fn write_group(
    dir: &Path,
    group: &Group,
    photos: &[PreparedPhoto],
    maps: &[Vec<f32>],
    raw: bool,
) -> Result<(), Problem> {
    let write_fail = |p: &Path, e: String| {
        Problem::new(
            "could not write the maps",
            format!("could not write {}: {e}", p.display()),
        )
    };
    fs::create_dir_all(dir).map_err(|e| write_fail(dir, e.to_string()))?;
    if maps.len() != photos.len() || maps.iter().any(|m| m.len() != SIZE * SIZE) {
        return Err(Problem::new(
            "unexpected network output",
            format!(
                "group {}: the network returned {} maps of the wrong size for {} photos",
                group.name,
                maps.len(),
                photos.len()
            ),
        ));
    }
    for ((photo, prepared), map) in group.photos.iter().zip(photos).zip(maps) {
        let pixels = postprocess::map_to_original(map, prepared.height, prepared.width);
        let png = postprocess::encode_png_gray(&pixels, prepared.width, prepared.height).map_err(
            |e| {
                Problem::new(
                    "could not encode a map",
                    format!("the map of {}: {}", photo.path.display(), clause(e)),
                )
            },
        )?;
        let mut name = photo.stem.clone();
        name.push(".png");
        let path = dir.join(&name);
        fs::write(&path, png).map_err(|e| write_fail(&path, e.to_string()))?;
        if raw {
            let mut name = photo.stem.clone();
            name.push(".npy");
            let path = dir.join(&name);
            fs::write(&path, npy::f32_npy(map, &[SIZE, SIZE]))
                .map_err(|e| write_fail(&path, e.to_string()))?;
        }
    }
    Ok(())
}
