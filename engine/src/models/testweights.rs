//! Deterministic "scaled" test weights (SPEC §10), bit-identical to the Python twin
//! `tests/reference/testweights.py`.
//!
//! Every value comes from a counter-based splitmix64-style generator keyed by the tensor
//! name, so the 74 MB file never has to be committed:
//!
//! * stream `s = fnv1a64(key) ^ seed`;
//! * `u(s, c) = (mix(s + (c + 1) * GOLDEN) >> 40) / 2^24`, uniform in [0, 1);
//! * `normal(s, i) = Σ_{j<12} u(s, 12 i + j) - 6` (Irwin–Hall, summed left to right in f64);
//! * `i` is the row-major flat index; everything is computed in f64 and rounded once to f32.
//!
//! | tensor | value |
//! |---|---|
//! | conv weight `[O,I,kh,kw]` | `normal * sqrt(g2 / (I*kh*kw))`, `g2 = 2` for `vgg.*`, else 1 |
//! | conv bias | `(2u - 1) * 0.05` |
//! | BN weight / running_var | `0.8 + 0.4u` |
//! | BN bias / running_mean | `(2u - 1) * 0.1` |

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::io::preprocess::Preprocess;
use crate::io::weights::{NamedTensor, Weights, PREPROCESS_METADATA_KEY};
use crate::models::spec_keys::STATE_DICT;
use crate::Result;

/// The 64-bit golden-ratio increment of splitmix64.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The splitmix64 finaliser.
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a 64 of a byte string.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The stream of a tensor key.
pub fn stream(key: &str, seed: u64) -> u64 {
    fnv1a64(key.as_bytes()) ^ seed
}

/// Uniform in [0, 1) with 24 bits, for counter `c` of stream `s`.
#[inline(always)]
pub fn uniform(s: u64, c: u64) -> f64 {
    (mix(s.wrapping_add(c.wrapping_add(1).wrapping_mul(GOLDEN))) >> 40) as f64 / 16_777_216.0
}

/// Approximately standard normal (sum of 12 uniforms minus 6), for element `i`.
#[inline(always)]
pub fn normal(s: u64, i: u64) -> f64 {
    let base = i.wrapping_mul(12);
    let mut acc = 0.0f64;
    for j in 0..12 {
        acc += uniform(s, base.wrapping_add(j));
    }
    acc - 6.0
}

/// How a tensor's values are drawn.
#[derive(Clone, Copy, Debug)]
enum Rule {
    ConvWeight { std: f64 },
    ConvBias,
    BnWeight,
    BnBias,
    RunningMean,
    RunningVar,
}

impl Rule {
    #[inline(always)]
    fn value(self, s: u64, i: u64) -> f64 {
        match self {
            Rule::ConvWeight { std } => normal(s, i) * std,
            Rule::ConvBias => (2.0 * uniform(s, i) - 1.0) * 0.05,
            Rule::BnWeight | Rule::RunningVar => 0.8 + 0.4 * uniform(s, i),
            Rule::BnBias | Rule::RunningMean => (2.0 * uniform(s, i) - 1.0) * 0.1,
        }
    }
}

fn rule_for(key: &str, shape: &[usize], shapes: &HashMap<&str, &[usize]>) -> Rule {
    let sibling_is_conv = |prefix: &str| {
        shapes
            .get(format!("{prefix}.weight").as_str())
            .is_some_and(|s| s.len() == 4)
    };
    if key.ends_with(".running_mean") {
        Rule::RunningMean
    } else if key.ends_with(".running_var") {
        Rule::RunningVar
    } else if let Some(prefix) = key.strip_suffix(".weight") {
        if shape.len() == 4 {
            let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
            let g2 = if key.starts_with("vgg.") { 2.0 } else { 1.0 };
            Rule::ConvWeight {
                std: (g2 / fan_in).sqrt(),
            }
        } else {
            debug_assert!(!sibling_is_conv(prefix));
            Rule::BnWeight
        }
    } else if let Some(prefix) = key.strip_suffix(".bias") {
        if sibling_is_conv(prefix) {
            Rule::ConvBias
        } else {
            Rule::BnBias
        }
    } else {
        panic!("no test-weight rule for state_dict key {key}")
    }
}

/// Elements per work item: small enough to balance threads, large enough to be cheap.
const CHUNK: usize = 1 << 16;

/// The 174 float32 tensors of the scaled test weights, in state_dict order.
pub fn scaled_tensors(seed: u64) -> Vec<NamedTensor> {
    let shapes: HashMap<&str, &[usize]> = STATE_DICT.iter().copied().collect();
    let mut out: Vec<NamedTensor> = STATE_DICT
        .iter()
        .map(|(k, s)| (k.to_string(), s.to_vec(), vec![0.0f32; s.iter().product()]))
        .collect();

    // Work items: (rule, stream, first flat index, output slice).
    let mut work = Vec::new();
    for (key, shape, data) in out.iter_mut() {
        let rule = rule_for(key, shape, &shapes);
        let s = stream(key, seed);
        for (c, chunk) in data.chunks_mut(CHUNK).enumerate() {
            work.push((rule, s, (c * CHUNK) as u64, chunk));
        }
    }
    // Biggest (conv-weight) items first so the tail is short.
    work.sort_by_key(|(rule, _, _, chunk)| {
        std::cmp::Reverse(
            chunk.len()
                * if matches!(rule, Rule::ConvWeight { .. }) {
                    12
                } else {
                    1
                },
        )
    });

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work.len().max(1));
    let queue = Mutex::new(work.into_iter());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let item = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((rule, s, start, chunk)) = item else {
                    break;
                };
                for (j, v) in chunk.iter_mut().enumerate() {
                    *v = rule.value(s, start + j as u64) as f32;
                }
            });
        }
    });
    out
}

/// The scaled test weights, loaded (BN folded) with ImageNet pre-processing.
pub fn scaled_weights(seed: u64) -> Result<Weights> {
    Weights::from_tensors(scaled_tensors(seed), Preprocess::Imagenet)
}

struct F32View<'a> {
    shape: &'a [usize],
    data: &'a [f32],
}

impl safetensors::View for F32View<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice(self.data))
        } else {
            Cow::Owned(self.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// Serialises float32 tensors as a safetensors file with metadata
/// `icnet.preprocess = preprocess`.
///
/// Panics if a tensor's value count does not match its shape (a programming error).
pub fn to_safetensors(tensors: &[NamedTensor], preprocess: &str) -> Vec<u8> {
    for (name, shape, data) in tensors {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor {name}: shape {shape:?} does not match {} values",
            data.len()
        );
    }
    let metadata: HashMap<String, String> =
        [(PREPROCESS_METADATA_KEY.to_string(), preprocess.to_string())]
            .into_iter()
            .collect();
    let views = tensors.iter().map(|(name, shape, data)| {
        (
            name.as_str(),
            F32View {
                shape: shape.as_slice(),
                data: data.as_slice(),
            },
        )
    });
    safetensors::serialize(views, Some(metadata))
        .unwrap_or_else(|e| panic!("serialising test weights failed: {e}"))
}

/// `scaled_tensors(0)`, generated once per test binary (debug builds are slow).
#[cfg(test)]
pub(crate) fn cached_seed0() -> &'static [NamedTensor] {
    static CACHE: std::sync::OnceLock<Vec<NamedTensor>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| scaled_tensors(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::spec_keys::BN_COUNTERS;

    #[test]
    fn generator_primitives() {
        // FNV-1a 64 reference values.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // splitmix64 with seed 0 yields mix(GOLDEN) first.
        assert_eq!(mix(GOLDEN), 0xe220_a839_7b1d_cdaf);
        assert_eq!(mix(GOLDEN.wrapping_mul(2)), 0x6e78_9e6a_a1b9_65f4);
        let u = uniform(0, 0);
        assert_eq!(u, (0xe220_a839_7b1d_cdafu64 >> 40) as f64 / 16_777_216.0);
        for c in 0..1000 {
            let u = uniform(12345, c);
            assert!((0.0..1.0).contains(&u));
        }
        let n = normal(99, 3);
        let manual: f64 = (36..48).fold(0.0, |a, c| a + uniform(99, c)) - 6.0;
        assert_eq!(n, manual);
    }

    #[test]
    fn scaled_tensors_shapes_rules_and_statistics() {
        let t = cached_seed0();
        assert_eq!(t.len(), STATE_DICT.len());
        for ((name, shape, data), (k, s)) in t.iter().zip(STATE_DICT) {
            assert_eq!(name, k);
            assert_eq!(shape.as_slice(), *s);
            assert_eq!(data.len(), s.iter().product::<usize>());
            assert!(!BN_COUNTERS.contains(&name.as_str()));
            let (lo, hi) = data
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            if name.ends_with("running_var") || (shape.len() == 1 && name.ends_with(".weight")) {
                assert!(lo >= 0.8 && hi < 1.2, "{name}: {lo}..{hi}");
            } else if name.ends_with("running_mean") {
                assert!(lo >= -0.1 && hi < 0.1, "{name}");
            } else if shape.len() == 4 {
                let n = data.len() as f64;
                let mean = data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                let var = data
                    .iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                let g2 = if name.starts_with("vgg.") { 2.0 } else { 1.0 };
                let want = g2 / (shape[1] * shape[2] * shape[3]) as f64;
                if data.len() >= 1000 {
                    assert!(
                        (var / want - 1.0).abs() < 0.1,
                        "{name}: var {var} vs {want}"
                    );
                }
            } else {
                assert!(lo >= -0.1 && hi < 0.1, "{name}");
            }
        }
        // Seed-dependent: the seed enters the stream.
        let k = "vgg.vgg.0.weight";
        assert_ne!(normal(stream(k, 0), 0), normal(stream(k, 1), 0));
        // One hand-computed value.
        let (k, shape, data) = &t[2];
        assert_eq!(k, "vgg.vgg.2.weight");
        let std = (2.0f64 / (shape[1] * 9) as f64).sqrt();
        assert_eq!(data[1234], (normal(stream(k, 0), 1234) * std) as f32);
    }

    #[test]
    fn safetensors_round_trip() {
        let t = cached_seed0();
        let bytes = to_safetensors(t, "caffe-bgr");
        let w = Weights::from_bytes(&bytes).unwrap();
        assert!(matches!(w.preprocess, Preprocess::CaffeBgr));
        let direct = Weights::from_tensors(t.to_vec(), Preprocess::Imagenet).unwrap();
        assert!(matches!(direct.preprocess, Preprocess::Imagenet));
        for p in direct.conv_prefixes() {
            assert_eq!(w.conv(p), direct.conv(p), "{p}");
        }
        assert_eq!(w.conv("vgg.vgg.0").weight, t[0].2);
        // The serialised file holds exactly the 174 tensors, bit for bit.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.len(), STATE_DICT.len());
        let v = st.tensor("refine_1.merge_conv.0.weight").unwrap();
        let (_, _, want) = t
            .iter()
            .find(|(n, _, _)| n == "refine_1.merge_conv.0.weight")
            .unwrap();
        assert_eq!(v.data().len(), want.len() * 4);
        assert!(v
            .data()
            .chunks_exact(4)
            .zip(want)
            .all(|(b, w)| b == w.to_le_bytes()));
    }

    /// Compares against the probe written by the Python twin. Fails if it is missing.
    #[test]
    fn matches_python_probe() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/golden/testweights_probe.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!(
                "{path}: {e}; generate it with tests/reference/make_goldens.py \
                 (or tests/reference/testweights.py)"
            )
        });
        let probe: serde_json::Value = serde_json::from_str(&text).expect("probe is not JSON");
        let obj = probe.as_object().expect("probe must be a JSON object");
        // The probe may carry its seed; the default is 0.
        let seed = obj.get("seed").and_then(|v| v.as_u64()).unwrap_or(0);
        let tensors = obj
            .get("tensors")
            .and_then(|v| v.as_object())
            .unwrap_or(obj);
        let fresh;
        let t: &[NamedTensor] = if seed == 0 {
            cached_seed0()
        } else {
            fresh = scaled_tensors(seed);
            &fresh
        };
        let mut checked = 0;
        for (name, _, data) in t {
            let entry = tensors
                .get(name)
                .unwrap_or_else(|| panic!("probe lacks {name}"));
            let first: Vec<f64> = entry["first"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: no \"first\""))
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(first.len(), data.len().min(3), "{name}: first");
            for (j, &want) in first.iter().enumerate() {
                assert_eq!(f64::from(data[j]), want, "{name}: first[{j}]");
            }
            let last = entry["last"].as_f64().unwrap();
            assert_eq!(f64::from(*data.last().unwrap()), last, "{name}: last");
            let sum = entry["sum"].as_f64().unwrap();
            let got: f64 = data.iter().map(|&v| f64::from(v)).sum();
            assert!(
                (got - sum).abs() <= 1e-9 * sum.abs().max(1.0),
                "{name}: sum {got} vs probe {sum}"
            );
            checked += 1;
        }
        assert_eq!(checked, STATE_DICT.len());
        let extra: Vec<&String> = tensors
            .iter()
            .filter(|(k, v)| v.is_object() && !STATE_DICT.iter().any(|(n, _)| n == k))
            .map(|(k, _)| k)
            .collect();
        assert!(extra.is_empty(), "probe has unknown keys {extra:?}");
    }
}
