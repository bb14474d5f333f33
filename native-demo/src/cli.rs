//! The command-line interface (clap derive). Only argument shapes live here;
//! what the commands do is in `run`, `bench` and `info`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::models::u2net::SaliencyModel;
use icnet_engine::Precision;

/// The saliency model of `icnet run` (and of a bare `icnet bench
/// --saliency`) when none is asked for. One constant, so that the choice,
/// to be made by measurement, is one line; `--help` shows it.
pub const DEFAULT_SALIENCY: SaliencyModel = SaliencyModel::U2Netp;

#[derive(Parser, Debug)]
#[command(
    name = "icnet",
    version,
    about = "ICNet co-saliency detection (Jin et al., NeurIPS 2020) on WebGPU",
    long_about = "ICNet co-saliency detection (Jin et al., NeurIPS 2020) on WebGPU.\n\n\
        Each group of photos is one batch: the co-saliency cues come from the whole group, \
        so results depend on which photos are grouped together."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compute co-saliency maps for every group of photos under IMG_ROOT.
    Run(RunArgs),
    /// List the GPU adapters with their limits and features.
    Info,
    /// Show the execution plan and time each network stage.
    Bench(BenchArgs),
    /// Write the deterministic test weights (for trying the pipeline without the official checkpoint).
    MakeTestWeights(MakeTestWeightsArgs),
    /// Download the public VGG16, U²-Netp and U²-Net weights and convert them into models/.
    FetchModels(crate::fetch_models::FetchModelsArgs),
    /// Score saliency maps against ground-truth masks (S-measure, E-measure, F-measure, MAE).
    Eval(crate::eval::EvalArgs),
}

/// The co-saliency model of `icnet run`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    /// ICNet with trained weights (run: the project's own unless --weights is given).
    Icnet,
    /// The training-free model: ImageNet VGG16 + ICNet's correlation cues (models/vgg16-imagenet.safetensors).
    Csa,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Folder of groups (one subfolder per group), or a folder of photos (one group).
    #[arg(value_name = "IMG_ROOT")]
    pub img_root: PathBuf,
    /// Output folder; maps are written to OUT/<group>/<stem>.png.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Single-image saliency maps: SISM_ROOT/<group>/<stem>.png for each photo
    /// (for a single group also SISM_ROOT/<stem>.png). Default: computed with --saliency.
    #[arg(long, value_name = "SISM_ROOT")]
    pub sisms: Option<PathBuf>,
    /// The model that computes the saliency maps (without --sisms): u2netp (U²-Netp,
    /// 1.1 M parameters, models/u2netp.safetensors) or u2net (the full U²-Net, 44 M
    /// parameters, models/u2net.safetensors, 3x the work per photo).
    #[arg(long, value_name = "MODEL", value_parser = parse_saliency,
          default_value = DEFAULT_SALIENCY.id())]
    pub saliency: SaliencyModel,
    /// Also write the SISMs (computed or given) as DIR/<group>/<stem>.png, 8-bit, original size.
    #[arg(long, value_name = "DIR")]
    pub save_sisms: Option<PathBuf>,
    /// Own ICNet weights (.safetensors, e.g. the converted official checkpoint) instead of the
    /// project's trained ones.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Co-saliency model; default: icnet (the project's trained weights, or --weights).
    #[arg(long, value_enum, value_name = "MODEL")]
    pub model: Option<ModelChoice>,
    /// Where `icnet fetch-models` put the models.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub models: PathBuf,
    /// Also write a side-by-side picture per photo (photo | SISM | map | overlay) as DIR/<group>/<stem>.png.
    #[arg(long, value_name = "DIR")]
    pub pictures: Option<PathBuf>,
    /// Also write the raw 224x224 float32 map as OUT/<group>/<stem>.npy.
    #[arg(long)]
    pub raw: bool,
    /// EXIF orientation of the photos: apply (rotate/flip the photo, so its map matches what
    /// viewers show) or ignore (the pixels as stored, as the official code's Pillow
    /// `Image.open` does).
    #[arg(long, value_enum, value_name = "HOW", default_value = "apply")]
    pub exif_orientation: ExifOrientation,
    /// Fail a whole group when one of its photos cannot be used (default: leave that photo
    /// out, run the others, name it, and exit non-zero at the end).
    #[arg(long)]
    pub strict: bool,
    /// Run only share K of N of the groups (K = 0..N-1; a group's share is fixed by its
    /// name), so that N machines can process one collection without coordinating.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Append one JSON line per group (photos, status, reason, timings, adapter) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Recompute groups that a previous run completed with the same settings (default: skip
    /// them, so an interrupted run resumes where it stopped).
    #[arg(long)]
    pub redo: bool,
    /// Largest photo, in megapixels (width x height as stored); larger ones are left out.
    #[arg(long, value_name = "MP", default_value_t = DEFAULT_MAX_IMAGE_MP,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_image_mp: u64,
    /// Largest group, in megapixels summed over its photos; a larger group fails.
    #[arg(long, value_name = "MP", default_value_t = DEFAULT_MAX_GROUP_MP,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_group_mp: u64,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Default of `--max-image-mp` (the engine's own default limit).
pub const DEFAULT_MAX_IMAGE_MP: u64 =
    icnet_engine::io::preprocess::DEFAULT_MAX_IMAGE_PIXELS / 1_000_000;
/// Default of `--max-group-mp`: 2 gigapixels, e.g. 160 photos of 12 megapixels. Only the
/// network inputs of a group stay in memory, so this bounds decoding time, not memory.
pub const DEFAULT_MAX_GROUP_MP: u64 = 2000;

/// `--exif-orientation`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExifOrientation {
    /// Rotate/flip as the EXIF tag says (what photo viewers and browsers show).
    Apply,
    /// Use the stored pixels (the official code's behaviour; the conformance mode).
    Ignore,
}

/// `--shard K/N`: this run's share of the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("\"{s}\" is not a shard; use K/N with 0 <= K < N, e.g. 0/4 ... 3/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        k.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// ICNet weights (.safetensors); default: the built-in test weights (timing does not depend on values).
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// Co-saliency model to time: icnet (with --weights, else the test weights) or csa
    /// (models/vgg16-imagenet.safetensors).
    #[arg(long, value_enum, value_name = "MODEL", default_value = "icnet")]
    pub model: ModelChoice,
    /// Also time a saliency model on one photo: u2netp (models/u2netp.safetensors) or
    /// u2net (models/u2net.safetensors); --saliency alone times the default of `icnet run`.
    #[arg(long, value_name = "MODEL", value_parser = parse_saliency, num_args = 0..=1,
          default_missing_value = DEFAULT_SALIENCY.id())]
    pub saliency: Option<SaliencyModel>,
    /// Where `icnet fetch-models` put the models.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub models: PathBuf,
    /// Group sizes to measure, comma-separated.
    #[arg(long, value_name = "N,...", value_delimiter = ',', default_value = "1,6",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sizes: Vec<u32>,
    /// Also print every dispatch of each plan.
    #[arg(long)]
    pub dispatches: bool,
    /// Also write the measurements as JSON to FILE (for scripts, e.g.
    /// tests/reference/side_by_side.py).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Args, Debug)]
pub struct MakeTestWeightsArgs {
    /// Output file (.safetensors).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Seed of the weight generator (the goldens use 0).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Device and engine choices shared by `run` and `bench`.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Use the adapter whose name contains NAME (case-insensitive); see `icnet info`.
    #[arg(long, value_name = "NAME")]
    pub adapter: Option<String>,
    /// Prefer the low-power adapter (e.g. an integrated GPU).
    #[arg(long)]
    pub low_power: bool,
    /// Clamp the largest storage-buffer binding, in MiB (browsers give 128).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_binding_mib: Option<u64>,
    /// Clamp the largest buffer, in MiB (browsers give 256).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_buffer_mib: Option<u64>,
    /// Bound the activation memory of one chunk of images, in MiB (smaller chunks).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_budget_mib: Option<u64>,
    /// Do not keep compiled GPU pipelines between runs (by default they are kept in
    /// $ICNET_CACHE_DIR, else $XDG_CACHE_HOME/icnet-webgpu, else ~/.cache/icnet-webgpu,
    /// where the driver supports it).
    #[arg(long)]
    pub no_pipeline_cache: bool,
    /// Measure the convolution variants again and keep the new timings (by default
    /// `run` reuses the timings kept by the first run on this adapter, in the same
    /// folder, so that repeated runs give identical maps).
    #[arg(long, conflicts_with = "conv_variant")]
    pub retune: bool,
    /// Convolution kernel: direct-TNxOC (e.g. direct-4x8), winograd-TNxOC or tiled, direct-sg-TNxOC and winograd-sg-TNxOC reading weights through subgroup broadcasts; default: the fastest measured at start-up.
    #[arg(long, value_name = "VARIANT", value_parser = parse_variant)]
    pub conv_variant: Option<ConvVariant>,
    /// Storage of activations and weights: f32 (the default, what the conformance tests check) or f16 (half the memory and bytes moved, arithmetic still f32; needs shader-f16; maps move by up to 0.01 in max F, so it is for speed on GPUs, not the default: README, "Precision").
    #[arg(long, value_name = "P", default_value = "f32", value_parser = parse_precision)]
    pub precision: Precision,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).ok_or_else(|| format!("\"{s}\" is not a precision; use f32 or f16"))
}

fn parse_saliency(s: &str) -> Result<SaliencyModel, String> {
    SaliencyModel::from_id(s).ok_or_else(|| {
        let choices: Vec<String> = SaliencyModel::ALL
            .iter()
            .map(|m| format!("{} ({})", m.id(), m.name()))
            .collect();
        format!(
            "\"{s}\" is not a saliency model; use {}",
            choices.join(" or ")
        )
    })
}

fn parse_variant(s: &str) -> Result<ConvVariant, String> {
    ConvVariant::parse(s).ok_or_else(|| {
        format!("\"{s}\" is not a conv variant; use direct-TNxOC (TN 1..32, OC a multiple of 4 up to 64, e.g. direct-4x8), winograd-TNxOC (Winograd F(2x2,3x3) for the wide 3x3 layers, direct-TNxOC for the rest), direct-sg-TNxOC or winograd-sg-TNxOC (weights through subgroup broadcasts, where the adapter has subgroups) or tiled")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_run() {
        let cli = Cli::try_parse_from([
            "icnet",
            "run",
            "imgs",
            "--sisms",
            "s",
            "--weights",
            "w.safetensors",
            "--out",
            "o",
            "--raw",
            "--conv-variant",
            "tiled",
            "--max-binding-mib",
            "128",
        ])
        .unwrap();
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert!(r.raw);
        assert_eq!(r.device.conv_variant, Some(ConvVariant::Tiled));
        assert_eq!(r.device.max_binding_mib, Some(128));
        assert_eq!(r.model, None);
        assert_eq!(r.saliency, DEFAULT_SALIENCY);
    }

    #[test]
    fn parses_the_saliency_model() {
        let run = |extra: &[&str]| {
            let mut args = vec!["icnet", "run", "imgs", "--out", "o"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|c| match c.command {
                Command::Run(r) => r.saliency,
                _ => panic!("not run"),
            })
        };
        assert_eq!(run(&["--saliency", "u2net"]).unwrap(), SaliencyModel::U2Net);
        assert_eq!(
            run(&["--saliency", "u2netp"]).unwrap(),
            SaliencyModel::U2Netp
        );
        let err = run(&["--saliency", "u2"]).unwrap_err().to_string();
        assert!(
            err.contains("\"u2\" is not a saliency model; use u2netp (U²-Netp) or u2net (U²-Net)"),
            "{err}"
        );
        assert!(run(&["--saliency"]).is_err(), "run needs a value");

        let bench = |extra: &[&str]| {
            let mut args = vec!["icnet", "bench"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).unwrap().command {
                Command::Bench(b) => (b.saliency, b.sizes),
                _ => panic!("not bench"),
            }
        };
        assert_eq!(bench(&[]).0, None, "no saliency timing unless asked");
        assert_eq!(bench(&["--saliency"]).0, Some(DEFAULT_SALIENCY));
        assert_eq!(
            bench(&["--saliency", "u2net", "--sizes", "2"]),
            (Some(SaliencyModel::U2Net), vec![2])
        );
        assert_eq!(
            bench(&["--saliency", "--sizes", "2"]),
            (Some(DEFAULT_SALIENCY), vec![2])
        );
        assert!(Cli::try_parse_from(["icnet", "bench", "--saliency", "x"]).is_err());
    }

    #[test]
    fn parses_the_collection_options() {
        let run = |extra: &[&str]| {
            let mut args = vec!["icnet", "run", "imgs", "--out", "o"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|c| match c.command {
                Command::Run(r) => r,
                _ => panic!("not run"),
            })
        };
        let d = run(&[]).unwrap();
        assert_eq!(
            (d.shard, d.strict, d.redo, d.report),
            (None, false, false, None)
        );
        assert_eq!(d.exif_orientation, ExifOrientation::Apply);
        assert_eq!((d.max_image_mp, d.max_group_mp), (100, 2000));
        let r = run(&[
            "--shard",
            "2/3",
            "--strict",
            "--report",
            "r.jsonl",
            "--exif-orientation",
            "ignore",
        ])
        .unwrap();
        assert_eq!(r.shard, Some(Shard { index: 2, count: 3 }));
        assert_eq!(r.exif_orientation, ExifOrientation::Ignore);
        assert!(r.strict);
        for bad in ["3/3", "1", "a/2", "0/0", "1/x"] {
            let e = run(&["--shard", bad]).unwrap_err().to_string();
            assert!(e.contains("is not a shard; use K/N"), "{bad}: {e}");
        }
        assert!(run(&["--max-image-mp", "0"]).is_err());
    }

    #[test]
    fn parses_the_default_pipeline() {
        let cli = Cli::try_parse_from([
            "icnet",
            "run",
            "imgs",
            "--out",
            "o",
            "--save-sisms",
            "s",
            "--pictures",
            "p",
            "--model",
            "csa",
        ])
        .unwrap();
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert_eq!(r.sisms, None);
        assert_eq!(r.weights, None);
        assert_eq!(r.model, Some(ModelChoice::Csa));
        assert_eq!(r.models, PathBuf::from("models"));
        assert_eq!(r.save_sisms, Some(PathBuf::from("s")));
        assert!(
            Cli::try_parse_from(["icnet", "run", "imgs", "--out", "o", "--model", "x"]).is_err()
        );
    }

    #[test]
    fn parses_bench_sizes() {
        let cli = Cli::try_parse_from(["icnet", "bench", "--sizes", "1,6,12"]).unwrap();
        let Command::Bench(b) = cli.command else {
            panic!("not bench")
        };
        assert_eq!(b.sizes, vec![1, 6, 12]);
        assert!(Cli::try_parse_from(["icnet", "bench", "--sizes", "0"]).is_err());
        assert!(Cli::try_parse_from(["icnet", "bench", "--conv-variant", "fast"]).is_err());
    }

    #[test]
    fn retune_measures_so_it_cannot_come_with_a_variant() {
        let run = ["icnet", "run", "imgs", "--out", "o", "--retune"];
        assert!(Cli::try_parse_from(run).is_ok());
        let both = [&run[..], &["--conv-variant", "tiled"]].concat();
        assert!(Cli::try_parse_from(both).is_err());
    }
}
