//! Loading and checking an ICNet `.safetensors` file, and BatchNorm folding.
//!
//! A weights file must hold exactly the 174 float32 tensors of the official
//! `network.ICNet()` state_dict ([`crate::models::spec_keys::STATE_DICT`]) with their exact shapes.
//! The 16 BatchNorm `num_batches_tracked` counters may be present with any integer dtype
//! and are ignored. Everything is checked before anything is used, and every problem is
//! reported in one sentence.
//!
//! At load, every eval-mode BatchNorm (eps 1e-5) is folded into the convolution right
//! before it, so the engine only ever sees the 55 convolutions (OIHW weight plus bias).
//! Which convolutions are followed by a BatchNorm is derived from the key table: a conv at
//! `P.i` is followed by a BN when `P.(i+1).running_mean` exists.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::io::preprocess::Preprocess;
use crate::models::spec_keys::{BN_COUNTERS, STATE_DICT};
use crate::{Error, Result};

/// The BatchNorm epsilon of every `nn.BatchNorm2d` in ICNet.
pub const BN_EPS: f64 = 1e-5;

/// The safetensors metadata key that names the input pre-processing of the weights.
pub const PREPROCESS_METADATA_KEY: &str = "icnet.preprocess";

/// Number of convolutions in ICNet.
pub const NUM_CONVS: usize = 55;

/// At most this many names are listed per kind of problem in an error message.
const MAX_LISTED: usize = 8;

/// An in-memory tensor: (state_dict key, shape, row-major float32 values).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// One convolution with any following BatchNorm folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvWeights {
    pub out_ch: usize,
    pub in_ch: usize,
    /// Kernel size (square kernels only: 1 or 3 in ICNet).
    pub k: usize,
    /// `out_ch * in_ch * k * k` values, OIHW.
    pub weight: Vec<f32>,
    /// `out_ch` values.
    pub bias: Vec<f32>,
}

/// All ICNet convolutions, BatchNorm folded, plus the pre-processing the weights expect.
pub struct Weights {
    pub preprocess: Preprocess,
    /// Whether `preprocess` was assumed (no part named one): see
    /// [`Weights::preprocess_assumed`].
    preprocess_assumed: bool,
    /// Convolutions in state_dict order.
    convs: Vec<(String, ConvWeights)>,
    index: HashMap<String, usize>,
}

impl fmt::Debug for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: usize = self
            .convs
            .iter()
            .map(|(_, c)| c.weight.len() + c.bias.len())
            .sum();
        f.debug_struct("Weights")
            .field("convs", &self.convs.len())
            .field("params", &params)
            .finish_non_exhaustive()
    }
}

/// What kind of element a tensor in the file holds, as far as validation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    F32,
    Integer,
    Other(Dtype),
}

fn kind_of(dtype: Dtype) -> Kind {
    match dtype {
        Dtype::F32 => Kind::F32,
        Dtype::U8
        | Dtype::I8
        | Dtype::I16
        | Dtype::U16
        | Dtype::I32
        | Dtype::U32
        | Dtype::I64
        | Dtype::U64 => Kind::Integer,
        other => Kind::Other(other),
    }
}

fn kind_name(kind: Kind) -> String {
    match kind {
        Kind::F32 => "F32".to_string(),
        Kind::Integer => "an integer type".to_string(),
        Kind::Other(d) => format!("{d:?}"),
    }
}

/// Writes `items` as "a, b, c and 5 more".
fn list(items: &[String]) -> String {
    if items.len() <= MAX_LISTED {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..MAX_LISTED].join(", "),
            items.len() - MAX_LISTED
        )
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Checks the complete key set. `entries` are (name, kind, shape, data length in elements
/// when known) in file order. Returns one sentence listing every problem.
fn validate(source: &str, entries: &[(&str, Kind, &[usize], Option<usize>)]) -> Result<()> {
    validate_against(
        source,
        "the ICNet weights",
        STATE_DICT,
        BN_COUNTERS,
        entries,
    )
}

/// Checks `entries` against the exact tensor table `table` (plus optional
/// integer `counters`), naming the model `what` in the error.
fn validate_against(
    source: &str,
    what: &str,
    table: &[(&str, &[usize])],
    counters: &[&str],
    entries: &[(&str, Kind, &[usize], Option<usize>)],
) -> Result<()> {
    let expected: HashMap<&str, &[usize]> = table.iter().copied().collect();
    let counters: HashSet<&str> = counters.iter().copied().collect();

    let mut seen: HashSet<&str> = HashSet::new();
    let mut duplicate = Vec::new();
    let mut unexpected = Vec::new();
    let mut wrong_shape = Vec::new();
    let mut wrong_dtype = Vec::new();
    let mut wrong_len = Vec::new();

    for &(name, kind, shape, len) in entries {
        if !seen.insert(name) {
            duplicate.push(name.to_string());
            continue;
        }
        if let Some(&want) = expected.get(name) {
            if kind != Kind::F32 {
                wrong_dtype.push(format!("{name} is {}", kind_name(kind)));
            }
            if shape != want {
                wrong_shape.push(format!("{name}: expected {want:?}, found {shape:?}"));
            } else if let Some(len) = len {
                if Some(len) != numel(shape) {
                    wrong_len.push(format!(
                        "{name}: shape {shape:?} needs {} values, found {len}",
                        numel(shape).unwrap_or(usize::MAX)
                    ));
                }
            }
        } else if counters.contains(name) {
            if kind != Kind::Integer {
                wrong_dtype.push(format!(
                    "{name} is {} (expected an integer type)",
                    kind_name(kind)
                ));
            }
        } else {
            unexpected.push(name.to_string());
        }
    }

    let missing: Vec<String> = table
        .iter()
        .filter(|(k, _)| !seen.contains(k))
        .map(|(k, _)| k.to_string())
        .collect();

    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{} missing ({})",
            plural(missing.len(), "tensor is", "tensors are"),
            list(&missing)
        ));
    }
    if !unexpected.is_empty() {
        problems.push(format!(
            "{} ({})",
            plural(unexpected.len(), "unexpected tensor", "unexpected tensors"),
            list(&unexpected)
        ));
    }
    if !duplicate.is_empty() {
        problems.push(format!(
            "{} ({})",
            plural(duplicate.len(), "duplicate tensor", "duplicate tensors"),
            list(&duplicate)
        ));
    }
    if !wrong_shape.is_empty() {
        problems.push(format!(
            "{} ({})",
            plural(wrong_shape.len(), "wrong shape", "wrong shapes"),
            list(&wrong_shape)
        ));
    }
    if !wrong_len.is_empty() {
        problems.push(format!(
            "{} ({})",
            plural(wrong_len.len(), "wrong data length", "wrong data lengths"),
            list(&wrong_len)
        ));
    }
    if !wrong_dtype.is_empty() {
        problems.push(format!(
            "{} float32 ({})",
            plural(wrong_dtype.len(), "tensor is not", "tensors are not"),
            list(&wrong_dtype)
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }

    let mut msg = format!("{source} does not hold {what}: {}.", problems.join("; "));
    if let Some(hint) = prefix_hint(&missing, &unexpected) {
        msg.push(' ');
        msg.push_str(&hint);
    } else if missing.len() == table.len() && what == "the ICNet weights" {
        msg.push_str(" It does not look like an ICNet checkpoint at all.");
    }
    Err(Error::Weights(msg))
}

/// If the unexpected keys look like the missing ones with something prepended
/// (e.g. `module.` from DataParallel), say so.
fn prefix_hint(missing: &[String], unexpected: &[String]) -> Option<String> {
    if missing.is_empty() || unexpected.is_empty() {
        return None;
    }
    let missing: HashSet<&str> = missing.iter().map(String::as_str).collect();
    for u in unexpected {
        for (pos, _) in u.match_indices('.') {
            let (head, rest) = u.split_at(pos + 1);
            if missing.contains(rest) {
                return Some(format!(
                    "The keys seem to carry an extra prefix \"{head}\"; strip it when converting."
                ));
            }
        }
    }
    None
}

/// The BatchNorm module (prefix) that directly follows the conv at `conv_prefix`, if any.
fn bn_after(conv_prefix: &str, keys: &HashSet<&str>) -> Option<String> {
    let (parent, idx) = conv_prefix.rsplit_once('.')?;
    let idx: usize = idx.parse().ok()?;
    let bn = format!("{parent}.{}", idx + 1);
    keys.contains(format!("{bn}.running_mean").as_str())
        .then_some(bn)
}

/// The conv prefixes in state_dict order, each with the BN prefix folded into it.
fn conv_plan() -> Vec<(&'static str, Option<String>)> {
    let keys: HashSet<&str> = STATE_DICT.iter().map(|(k, _)| *k).collect();
    STATE_DICT
        .iter()
        .filter(|(_, shape)| shape.len() == 4)
        .filter_map(|(k, _)| k.strip_suffix(".weight"))
        .map(|p| (p, bn_after(p, &keys)))
        .collect()
}

/// Folds eval-mode BN into a conv, in f64, rounding once to f32.
fn fold_bn(conv: &mut ConvWeights, gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32]) {
    let per_out = conv.in_ch * conv.k * conv.k;
    for o in 0..conv.out_ch {
        let scale = f64::from(gamma[o]) / (f64::from(var[o]) + BN_EPS).sqrt();
        for w in &mut conv.weight[o * per_out..(o + 1) * per_out] {
            *w = (f64::from(*w) * scale) as f32;
        }
        conv.bias[o] =
            ((f64::from(conv.bias[o]) - f64::from(mean[o])) * scale + f64::from(beta[o])) as f32;
    }
}

/// Little-endian f32 bytes to values (the buffer need not be aligned).
fn f32_from_le(bytes: &[u8]) -> Vec<f32> {
    if cfg!(target_endian = "little") {
        bytemuck::pod_collect_to_vec(bytes)
    } else {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

/// How many NaN and infinite values `values` holds, and the first such index;
/// `None` when every value is finite.
fn non_finite(values: &[f32]) -> Option<(usize, usize, usize)> {
    let first = values.iter().position(|v| !v.is_finite())?;
    let (mut nan, mut inf) = (0, 0);
    for v in &values[first..] {
        if v.is_nan() {
            nan += 1;
        } else if v.is_infinite() {
            inf += 1;
        }
    }
    Some((nan, inf, first))
}

/// Collects the tensors that hold NaN or infinite values, to refuse them all in
/// one sentence.
#[derive(Default)]
struct Damage {
    found: Vec<String>,
}

impl Damage {
    /// Records tensor `name` if any of its `values` is not finite.
    fn check(&mut self, name: &str, values: &[f32]) {
        let Some((nan, inf, first)) = non_finite(values) else {
            return;
        };
        let what = match (nan, inf) {
            (0, i) => plural(i, "infinite value", "infinite values"),
            (n, 0) => plural(n, "NaN value", "NaN values"),
            (n, i) => format!("{n} NaN and {i} infinite values"),
        };
        let at = if nan + inf == 1 { "at" } else { "first at" };
        self.found
            .push(format!("{name} holds {what} ({at} index {first})"));
    }

    /// `Err` naming every damaged tensor (up to [`MAX_LISTED`]) of `source`.
    fn into_result(self, source: &str) -> Result<()> {
        if self.found.is_empty() {
            return Ok(());
        }
        let n = self.found.len();
        let listed = &self.found[..n.min(MAX_LISTED)];
        let mut msg = format!("{source}: ");
        match listed {
            [one] => msg.push_str(one),
            _ if n > MAX_LISTED => {
                msg.push_str(&listed.join(", "));
                let more = n - MAX_LISTED;
                let (noun, verb) = if more == 1 {
                    ("tensor", "holds")
                } else {
                    ("tensors", "hold")
                };
                msg.push_str(&format!(
                    " and {more} more {noun} {verb} NaN or infinite values"
                ));
            }
            [init @ .., last] => {
                msg.push_str(&init.join(", "));
                msg.push_str(" and ");
                msg.push_str(last);
            }
            [] => unreachable!(),
        }
        msg.push_str("; the weights are damaged.");
        Err(Error::Weights(msg))
    }
}

/// The warning for weights that do not name their input normalisation.
fn assumed_warning(assumed: Preprocess) -> String {
    let (how, hint) = match assumed {
        Preprocess::Imagenet => (
            "ImageNet normalisation (RGB, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225])",
            " (weights with a backbone converted from Caffe need \"caffe-bgr\" there)",
        ),
        Preprocess::CaffeBgr => (
            "Caffe normalisation (BGR, 0..255, minus [103.939, 116.779, 123.68])",
            "",
        ),
    };
    format!(
        "The weights do not say which input normalisation they expect (no \"{PREPROCESS_METADATA_KEY}\" metadata entry{hint}), so {how} was assumed."
    )
}

impl Weights {
    /// Parses and checks a safetensors buffer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Weights> {
        Self::from_bytes_named(bytes, "The weights data")
    }

    /// Reads, parses and checks a safetensors file.
    pub fn from_file(path: &Path) -> Result<Weights> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Io(format!(
                "Could not read the weights file {}: {e}.",
                path.display()
            ))
        })?;
        Self::from_bytes_named(&bytes, &path.display().to_string())
    }

    /// Like [`Weights::from_bytes`], naming the data `source` in error messages.
    pub fn from_bytes_named(bytes: &[u8], source: &str) -> Result<Weights> {
        Self::from_parts(&[(bytes, source)])
    }

    /// Weights whose tensors are split over several safetensors buffers `(bytes, name)`,
    /// e.g. `vgg16-imagenet.safetensors` and the project's trained head
    /// (`weights/icnet-head.safetensors`): the browser downloads VGG16 once for both models
    /// instead of a second, combined copy. Together the parts must hold the state_dict
    /// exactly once (same checks as one file); parts that name an input normalisation
    /// (`icnet.preprocess`) must name the same one.
    pub fn from_parts(parts: &[(&[u8], &str)]) -> Result<Weights> {
        let source = parts
            .iter()
            .map(|(_, s)| *s)
            .collect::<Vec<_>>()
            .join(" + ");
        let mut parsed = Vec::with_capacity(parts.len());
        let mut tag: Option<(String, &str)> = None;
        for &(bytes, part) in parts {
            let invalid = |e: safetensors::SafeTensorError| {
                Error::Weights(format!("{part} is not a valid safetensors file: {e}."))
            };
            let st = SafeTensors::deserialize(bytes).map_err(invalid)?;
            let (_, meta) = SafeTensors::read_metadata(bytes).map_err(invalid)?;
            if let Some(t) = meta
                .metadata()
                .as_ref()
                .and_then(|m| m.get(PREPROCESS_METADATA_KEY))
            {
                match &tag {
                    Some((first, from)) if first != t => {
                        return Err(Error::Weights(format!(
                            "{from} and {part} disagree on \"{PREPROCESS_METADATA_KEY}\" ({first} vs {t}): they do not belong together."
                        )))
                    }
                    Some(_) => {}
                    None => tag = Some((t.clone(), part)),
                }
            }
            // File order (by data offset) makes the error lists stable.
            parsed.push((st, meta.offset_keys(), part));
        }
        let mut views = Vec::new();
        for (st, names, part) in &parsed {
            for name in names {
                let view = st.tensor(name).map_err(|e| {
                    Error::Weights(format!("{part} is not a valid safetensors file: {e}."))
                })?;
                views.push((name.as_str(), view));
            }
        }
        let entries: Vec<(&str, Kind, &[usize], Option<usize>)> = views
            .iter()
            .map(|(n, v)| (*n, kind_of(v.dtype()), v.shape(), None))
            .collect();
        validate(&source, &entries)?;

        let preprocess =
            Preprocess::from_metadata(tag.as_ref().map(|(t, _)| t.as_str())).map_err(|e| {
                Error::Weights(format!(
                    "{source} has an unusable \"{PREPROCESS_METADATA_KEY}\" metadata entry: {e}"
                ))
            })?;

        let mut tensors: HashMap<String, Vec<f32>> = HashMap::with_capacity(STATE_DICT.len());
        let mut damage = Damage::default();
        for (name, view) in &views {
            if view.dtype() == Dtype::F32 {
                let values = f32_from_le(view.data());
                damage.check(name, &values);
                tensors.insert(name.to_string(), values);
            }
        }
        damage.into_result(&source)?;
        Self::assemble(&source, tensors, preprocess, tag.is_none())
    }

    /// Builds weights from in-memory float32 tensors `(name, shape, values)`, with the
    /// same checks as a file (extra `num_batches_tracked` entries are not allowed here
    /// since they are not float32).
    pub fn from_tensors(tensors: Vec<NamedTensor>, preprocess: Preprocess) -> Result<Weights> {
        let entries: Vec<(&str, Kind, &[usize], Option<usize>)> = tensors
            .iter()
            .map(|(n, s, d)| (n.as_str(), Kind::F32, s.as_slice(), Some(d.len())))
            .collect();
        let source = "The given tensors";
        validate(source, &entries)?;
        drop(entries);
        let mut damage = Damage::default();
        for (name, _, values) in &tensors {
            damage.check(name, values);
        }
        damage.into_result(source)?;
        let map: HashMap<String, Vec<f32>> = tensors.into_iter().map(|(n, _, d)| (n, d)).collect();
        Self::assemble(source, map, preprocess, false)
    }

    /// Whether [`Weights::preprocess`] was assumed rather than read: no part
    /// had an `icnet.preprocess` metadata entry, so ImageNet normalisation
    /// (the official checkpoint's) is used. Weights built from in-memory
    /// tensors were given theirs explicitly, so they never assume one.
    pub fn preprocess_assumed(&self) -> bool {
        self.preprocess_assumed
    }

    /// A one-sentence warning naming the normalisation that was assumed, when
    /// it was ([`Weights::preprocess_assumed`]); `None` when the weights named it.
    pub fn preprocess_warning(&self) -> Option<String> {
        self.preprocess_assumed
            .then(|| assumed_warning(self.preprocess))
    }

    /// Turns a validated, finite tensor map into folded convs. Refuses a
    /// negative running variance and a fold that overflows float32, so the
    /// engine never sees a non-finite weight.
    fn assemble(
        source: &str,
        mut tensors: HashMap<String, Vec<f32>>,
        preprocess: Preprocess,
        preprocess_assumed: bool,
    ) -> Result<Weights> {
        let shapes: HashMap<&str, &[usize]> = STATE_DICT.iter().copied().collect();
        let mut take = |key: String| -> Vec<f32> {
            tensors
                .remove(key.as_str())
                .unwrap_or_else(|| panic!("validated tensor {key} vanished"))
        };
        let mut convs = Vec::with_capacity(NUM_CONVS);
        for (prefix, bn) in conv_plan() {
            let shape = shapes[format!("{prefix}.weight").as_str()];
            debug_assert_eq!(shape[2], shape[3]);
            let mut conv = ConvWeights {
                out_ch: shape[0],
                in_ch: shape[1],
                k: shape[2],
                weight: take(format!("{prefix}.weight")),
                bias: take(format!("{prefix}.bias")),
            };
            if let Some(bn) = bn {
                let gamma = take(format!("{bn}.weight"));
                let beta = take(format!("{bn}.bias"));
                let mean = take(format!("{bn}.running_mean"));
                let var = take(format!("{bn}.running_var"));
                if let Some(i) = var.iter().position(|&v| v < 0.0) {
                    let n = var.iter().filter(|&&v| v < 0.0).count();
                    return Err(Error::Weights(format!(
                        "{source}: {bn}.running_var holds {} (first {} at index {i}), which no BatchNorm can have; the weights are damaged.",
                        plural(n, "negative variance", "negative variances"),
                        var[i]
                    )));
                }
                fold_bn(&mut conv, &gamma, &beta, &mean, &var);
                for (part, values) in [("weight", &conv.weight), ("bias", &conv.bias)] {
                    if let Some((_, _, i)) = non_finite(values) {
                        return Err(Error::Weights(format!(
                            "{source}: folding the BatchNorm {bn} into the convolution {prefix} overflows float32 (first at index {i} of its {part}); the weights are damaged."
                        )));
                    }
                }
            }
            convs.push((prefix.to_string(), conv));
        }
        assert_eq!(convs.len(), NUM_CONVS, "the key table must give 55 convs");
        let index = convs
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.clone(), i))
            .collect();
        Ok(Weights {
            preprocess,
            preprocess_assumed,
            convs,
            index,
        })
    }

    /// The (BN-folded) conv at `prefix`, e.g. `"vgg.vgg.0"` or `"refine_1.merge_conv.3"`.
    ///
    /// Panics on an unknown prefix: that is a programming error, not a data error.
    pub fn conv(&self, prefix: &str) -> &ConvWeights {
        match self.index.get(prefix) {
            Some(&i) => &self.convs[i].1,
            None => panic!("no ICNet conv with prefix {prefix:?}"),
        }
    }

    /// The 55 conv prefixes in state_dict order.
    pub fn conv_prefixes(&self) -> impl Iterator<Item = &str> {
        self.convs.iter().map(|(p, _)| p.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A tensor for the safetensors serializer, any dtype.
    #[derive(Clone)]
    struct Raw {
        dtype: Dtype,
        shape: Vec<usize>,
        bytes: Vec<u8>,
    }

    impl safetensors::View for &Raw {
        fn dtype(&self) -> Dtype {
            self.dtype
        }
        fn shape(&self) -> &[usize] {
            &self.shape
        }
        fn data(&self) -> Cow<'_, [u8]> {
            Cow::Borrowed(&self.bytes)
        }
        fn data_len(&self) -> usize {
            self.bytes.len()
        }
    }

    fn f32_raw(shape: &[usize], data: &[f32]) -> Raw {
        let bytes = if cfg!(target_endian = "little") {
            bytemuck::cast_slice(data).to_vec()
        } else {
            data.iter().flat_map(|v| v.to_le_bytes()).collect()
        };
        Raw {
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            bytes,
        }
    }

    fn serialize(tensors: &[(String, Raw)], preprocess: Option<&str>) -> Vec<u8> {
        let meta = preprocess.map(|p| {
            [(PREPROCESS_METADATA_KEY.to_string(), p.to_string())]
                .into_iter()
                .collect()
        });
        safetensors::serialize(tensors.iter().map(|(n, r)| (n.as_str(), r)), meta).unwrap()
    }

    /// Cheap deterministic tensors: distinct values, BN variances positive.
    fn cheap_tensors() -> Vec<NamedTensor> {
        static CACHE: std::sync::OnceLock<Vec<NamedTensor>> = std::sync::OnceLock::new();
        CACHE.get_or_init(make_cheap_tensors).clone()
    }

    fn make_cheap_tensors() -> Vec<NamedTensor> {
        STATE_DICT
            .iter()
            .enumerate()
            .map(|(t, (name, shape))| {
                let n: usize = shape.iter().product();
                let data = (0..n)
                    .map(|i| {
                        let x = ((i * 7 + t * 13) % 101) as f32 / 101.0;
                        if name.ends_with("running_var") {
                            0.5 + x
                        } else {
                            x - 0.5
                        }
                    })
                    .collect();
                (name.to_string(), shape.to_vec(), data)
            })
            .collect()
    }

    fn as_raw(tensors: &[NamedTensor]) -> Vec<(String, Raw)> {
        tensors
            .iter()
            .map(|(n, s, d)| (n.clone(), f32_raw(s, d)))
            .collect()
    }

    fn weights_err(r: Result<Weights>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(Error::Weights(m)) => m,
            Err(e) => panic!("expected Error::Weights, got {e:?}"),
        }
    }

    #[test]
    fn key_table_gives_55_convs_and_the_16_folds() {
        let plan = conv_plan();
        assert_eq!(plan.len(), NUM_CONVS);
        let folded: Vec<(&str, &str)> = plan
            .iter()
            .filter_map(|(p, bn)| bn.as_deref().map(|b| (*p, b)))
            .collect();
        assert_eq!(folded.len(), 16);
        assert_eq!(folded.len(), BN_COUNTERS.len());
        for (conv, bn) in &folded {
            let ok = (conv.ends_with(".conv.0") && bn.ends_with(".conv.1"))
                || (*conv == "conv6_cmprs.2" && *bn == "conv6_cmprs.3")
                || (*conv == "conv6_cmprs.5" && *bn == "conv6_cmprs.6")
                || (conv.starts_with("refine_")
                    && ((conv.ends_with(".merge_conv.0") && bn.ends_with(".merge_conv.1"))
                        || (conv.ends_with(".merge_conv.3") && bn.ends_with(".merge_conv.4"))));
            assert!(ok, "unexpected fold {conv} <- {bn}");
            assert!(BN_COUNTERS.contains(&format!("{bn}.num_batches_tracked").as_str()));
        }
        // Res blocks: every `.conv.0` conv is folded, and nothing else named `.conv.0` exists
        // outside Res blocks.
        let res = plan
            .iter()
            .filter(|(p, _)| p.ends_with(".conv.0") && !p.ends_with("cosal_feat.conv.0"))
            .filter(|(p, _)| !p.starts_with("Co") || p.contains(".conv.1.conv.0"))
            .count();
        assert_eq!(res, 8);
        let total: usize = STATE_DICT
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        assert_eq!(STATE_DICT.len(), 174);
        assert_eq!(total * 4 + BN_COUNTERS.len() * 8, 73_741_712);
    }

    #[test]
    fn valid_file_round_trips() {
        let tensors = cheap_tensors();
        let bytes = serialize(&as_raw(&tensors), Some("caffe-bgr"));
        let w = Weights::from_bytes(&bytes).unwrap();
        assert!(matches!(w.preprocess, Preprocess::CaffeBgr));
        assert_eq!(w.conv_prefixes().count(), NUM_CONVS);
        let direct = Weights::from_tensors(tensors.clone(), Preprocess::Imagenet).unwrap();
        assert!(matches!(direct.preprocess, Preprocess::Imagenet));
        let map: HashMap<&str, &Vec<f32>> =
            tensors.iter().map(|(n, _, d)| (n.as_str(), d)).collect();
        let plan = conv_plan();
        for (prefix, bn) in &plan {
            let a = w.conv(prefix);
            assert_eq!(a, direct.conv(prefix), "{prefix}");
            assert_eq!(a.weight.len(), a.out_ch * a.in_ch * a.k * a.k);
            assert_eq!(a.bias.len(), a.out_ch);
            if bn.is_none() {
                assert_eq!(&a.weight, map[format!("{prefix}.weight").as_str()]);
                assert_eq!(&a.bias, map[format!("{prefix}.bias").as_str()]);
            }
        }
        let order: Vec<&str> = w.conv_prefixes().collect();
        assert_eq!(order.first(), Some(&"vgg.vgg.0"));
        assert_eq!(order.last(), Some(&"refine_1.pred.pred.0"));
        for p in [
            "vgg.vgg.0",
            "Co4.cosal_feat.conv.0",
            "Co4.cosal_feat.conv.1.conv.0",
            "conv4_cmprs",
            "refine_1.merge_conv.3",
            "get_pred_4.pred.0",
        ] {
            assert!(order.contains(&p), "{p}");
        }
        let c = w.conv("Co4.cosal_feat.conv.0");
        assert_eq!((c.out_ch, c.in_ch, c.k), (128, 784, 1));

        // No metadata means ImageNet pre-processing.
        let bytes = serialize(&as_raw(&tensors), None);
        let w = Weights::from_bytes(&bytes).unwrap();
        assert!(matches!(w.preprocess, Preprocess::Imagenet));
    }

    #[test]
    fn parts_equal_one_file_and_must_fit_together() {
        let tensors = cheap_tensors();
        let raw = as_raw(&tensors);
        let (vgg, head): (Vec<_>, Vec<_>) = raw
            .iter()
            .cloned()
            .partition(|(n, _)| n.starts_with("vgg."));
        let whole = Weights::from_bytes(&serialize(&raw, Some("caffe-bgr"))).unwrap();
        let vgg_b = serialize(&vgg, Some("caffe-bgr"));
        // The head alone, without a tag: the VGG part names the normalisation.
        let head_b = serialize(&head, None);
        let parts = Weights::from_parts(&[(&vgg_b, "vgg.st"), (&head_b, "head.st")]).unwrap();
        assert!(matches!(parts.preprocess, Preprocess::CaffeBgr));
        for p in whole.conv_prefixes() {
            assert_eq!(whole.conv(p), parts.conv(p), "{p}");
        }
        // One part alone lacks the other's tensors, and says which files it read.
        let msg = weights_err(Weights::from_parts(&[(&head_b, "head.st")]));
        assert!(
            msg.contains("head.st") && msg.contains("vgg.vgg.0.weight"),
            "{msg}"
        );
        // A tensor in both parts is a duplicate.
        let msg = weights_err(Weights::from_parts(&[
            (&vgg_b, "a.st"),
            (&head_b, "b.st"),
            (&vgg_b, "c.st"),
        ]));
        assert!(
            msg.contains("a.st + b.st + c.st") && msg.contains("vgg.vgg.0.weight"),
            "{msg}"
        );
        // Parts made for different normalisations do not belong together.
        let head_imagenet = serialize(&head, Some("imagenet"));
        let msg = weights_err(Weights::from_parts(&[
            (&vgg_b, "vgg.st"),
            (&head_imagenet, "head.st"),
        ]));
        assert!(msg.contains("vgg.st and head.st disagree"), "{msg}");
    }

    #[test]
    fn from_file_reads_and_names_the_file() {
        let dir = std::env::temp_dir().join(format!("icnet-weights-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.safetensors");
        std::fs::write(
            &good,
            serialize(&as_raw(&cheap_tensors()), Some("imagenet")),
        )
        .unwrap();
        assert!(Weights::from_file(&good).is_ok());
        let bad = dir.join("bad.safetensors");
        std::fs::write(&bad, b"not a safetensors file at all").unwrap();
        let msg = weights_err(Weights::from_file(&bad));
        assert!(
            msg.contains("bad.safetensors is not a valid safetensors file"),
            "{msg}"
        );
        let missing = dir.join("missing.safetensors");
        match Weights::from_file(&missing) {
            Err(Error::Io(m)) => assert!(m.contains("missing.safetensors"), "{m}"),
            other => panic!("expected Io error, got {:?}", other.err()),
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn counters_are_accepted_and_ignored() {
        let tensors = cheap_tensors();
        let mut raw = as_raw(&tensors);
        for name in BN_COUNTERS {
            raw.push((
                name.to_string(),
                Raw {
                    dtype: Dtype::I64,
                    shape: vec![],
                    bytes: 12345i64.to_le_bytes().to_vec(),
                },
            ));
        }
        // One counter with a different integer type is fine too.
        raw.last_mut().unwrap().1 = Raw {
            dtype: Dtype::I32,
            shape: vec![1],
            bytes: 7i32.to_le_bytes().to_vec(),
        };
        let with = Weights::from_bytes(&serialize(&raw, None)).unwrap();
        let without = Weights::from_tensors(tensors, Preprocess::Imagenet).unwrap();
        for p in without.conv_prefixes() {
            assert_eq!(with.conv(p), without.conv(p));
        }
        // A float counter is not.
        let n = raw.len();
        raw[n - 1].1 = f32_raw(&[], &[1.0]);
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(msg.contains(BN_COUNTERS[15]), "{msg}");
    }

    #[test]
    fn missing_unexpected_shape_and_dtype_in_one_message() {
        let tensors = cheap_tensors();
        let mut raw = as_raw(&tensors);
        // Missing: drop two tensors.
        raw.retain(|(n, _)| n != "vgg.vgg.0.bias" && n != "refine_2.merge_conv.4.running_var");
        // Unexpected.
        raw.push(("decoder.extra.weight".into(), f32_raw(&[2], &[1.0, 2.0])));
        // Wrong shape (Co4 for a 320x320 input).
        let i = raw
            .iter()
            .position(|(n, _)| n == "Co4.cosal_feat.conv.0.weight")
            .unwrap();
        raw[i].1 = f32_raw(&[128, 1600, 1, 1], &vec![0.0; 128 * 1600]);
        // F16 tensor.
        let j = raw
            .iter()
            .position(|(n, _)| n == "conv5_cmprs.bias")
            .unwrap();
        raw[j].1 = Raw {
            dtype: Dtype::F16,
            shape: vec![256],
            bytes: vec![0; 512],
        };
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        for needle in [
            "2 tensors are missing",
            "vgg.vgg.0.bias",
            "refine_2.merge_conv.4.running_var",
            "1 unexpected tensor (decoder.extra.weight)",
            "Co4.cosal_feat.conv.0.weight: expected [128, 784, 1, 1], found [128, 1600, 1, 1]",
            "conv5_cmprs.bias is F16",
        ] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
        assert!(msg.ends_with('.'), "{msg}");
    }

    #[test]
    fn single_problems_are_named() {
        let tensors = cheap_tensors();
        let base = as_raw(&tensors);

        let mut raw = as_raw(&tensors);
        raw.retain(|(n, _)| n != "get_pred_4.pred.0.weight");
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(
            msg.contains("1 tensor is missing (get_pred_4.pred.0.weight)"),
            "{msg}"
        );

        let mut raw = as_raw(&tensors);
        raw.push(("vgg.vgg.30.weight".into(), f32_raw(&[1], &[0.0])));
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(
            msg.contains("unexpected tensor (vgg.vgg.30.weight)"),
            "{msg}"
        );
        assert!(!msg.contains("missing"), "{msg}");

        let mut raw = as_raw(&tensors);
        let i = raw
            .iter()
            .position(|(n, _)| n == "vgg.vgg.0.weight")
            .unwrap();
        raw[i].1 = f32_raw(&[64, 3, 3], &vec![0.0; 64 * 9]);
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(
            msg.contains("vgg.vgg.0.weight: expected [64, 3, 3, 3], found [64, 3, 3]"),
            "{msg}"
        );

        let mut raw = as_raw(&tensors);
        let i = raw
            .iter()
            .position(|(n, _)| n == "refine_1.merge_conv.1.weight")
            .unwrap();
        raw[i].1 = Raw {
            dtype: Dtype::F16,
            shape: vec![96],
            bytes: vec![0; 192],
        };
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(msg.contains("refine_1.merge_conv.1.weight is F16"), "{msg}");
        drop(base);

        // from_tensors: wrong data length and duplicates.
        let mut t = tensors.clone();
        t[1].2.pop();
        let msg = weights_err(Weights::from_tensors(t, Preprocess::Imagenet));
        assert!(
            msg.contains("vgg.vgg.0.bias: shape [64] needs 64 values, found 63"),
            "{msg}"
        );
        let mut t = tensors.clone();
        t.push(t[0].clone());
        let msg = weights_err(Weights::from_tensors(t, Preprocess::Imagenet));
        assert!(msg.contains("duplicate tensor (vgg.vgg.0.weight)"), "{msg}");
    }

    #[test]
    fn long_lists_are_truncated_and_prefixes_hinted() {
        let tensors = cheap_tensors();
        let raw: Vec<(String, Raw)> = as_raw(&tensors)
            .into_iter()
            .map(|(n, r)| (format!("module.{n}"), r))
            .collect();
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(msg.contains("174 tensors are missing"), "{msg}");
        assert!(msg.contains("and 166 more"), "{msg}");
        assert!(msg.contains("174 unexpected tensors"), "{msg}");
        assert!(msg.contains("prefix \"module.\""), "{msg}");
        assert!(msg.len() < 2000, "{} chars: {msg}", msg.len());

        // An empty file: nothing at all.
        let empty: Vec<(String, Raw)> = Vec::new();
        let msg = weights_err(Weights::from_bytes(&serialize(&empty, None)));
        assert!(msg.contains("174 tensors are missing"), "{msg}");
        assert!(msg.contains("not look like an ICNet checkpoint"), "{msg}");
    }

    #[test]
    fn bad_preprocess_metadata() {
        let bytes = serialize(&as_raw(&cheap_tensors()), Some("bgr-ish"));
        let msg = weights_err(Weights::from_bytes(&bytes));
        assert!(msg.contains(PREPROCESS_METADATA_KEY), "{msg}");
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let good = serialize(&as_raw(&cheap_tensors()), None);
        let check = |bytes: &[u8], what: &str| {
            let r = std::panic::catch_unwind(|| Weights::from_bytes(bytes));
            let r = r.unwrap_or_else(|_| panic!("panicked on {what}"));
            let msg = weights_err(r);
            assert!(
                msg.contains("is not a valid safetensors file"),
                "{what}: {msg}"
            );
        };
        // Truncations at many places: in the length prefix, the header and the data.
        for cut in [
            0,
            1,
            7,
            8,
            9,
            100,
            1000,
            good.len() / 2,
            good.len() - 4,
            good.len() - 1,
        ] {
            check(&good[..cut], &format!("truncated at {cut}"));
        }
        // One byte too many.
        let mut longer = good.clone();
        longer.push(0);
        check(&longer, "trailing byte");
        // Huge and inconsistent header lengths.
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        check(&huge, "huge header length");
        let mut off = good.clone();
        off[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
        check(&off, "header length past the end");
        // Corrupt header JSON and bad offsets.
        let hlen = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        let mut bad = good.clone();
        bad[8] = b'[';
        check(&bad, "corrupt header");
        let header = std::str::from_utf8(&good[8..8 + hlen]).unwrap().to_string();
        let shifted = header.replacen("\"data_offsets\":[0,", "\"data_offsets\":[4,", 1);
        assert_ne!(shifted, header);
        let mut bad = good[..8].to_vec();
        bad.extend_from_slice(shifted.as_bytes());
        bad.extend_from_slice(&good[8 + hlen..]);
        check(&bad, "bad offsets");
        let mut bad = good.clone();
        bad[9] = 0xff;
        check(&bad, "invalid UTF-8");
        // Random garbage of several sizes, a fixed xorshift stream.
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in [0usize, 3, 8, 16, 64, 4096, 100_000] {
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            check(&garbage, &format!("{len} random bytes"));
        }
    }

    /// Naive conv2d (stride 1, zero padding k/2) on one image, f64 accumulation.
    fn conv_naive(
        x: &[f32],
        (c_in, h, w): (usize, usize, usize),
        weight: &[f32],
        bias: &[f32],
        (c_out, k): (usize, usize),
    ) -> Vec<f64> {
        let pad = (k / 2) as isize;
        let mut y = vec![0.0f64; c_out * h * w];
        for o in 0..c_out {
            for yy in 0..h {
                for xx in 0..w {
                    let mut acc = f64::from(bias[o]);
                    for i in 0..c_in {
                        for ky in 0..k {
                            for kx in 0..k {
                                let sy = yy as isize + ky as isize - pad;
                                let sx = xx as isize + kx as isize - pad;
                                if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                                    continue;
                                }
                                let xv = x[(i * h + sy as usize) * w + sx as usize];
                                let wv = weight[((o * c_in + i) * k + ky) * k + kx];
                                acc += f64::from(xv) * f64::from(wv);
                            }
                        }
                    }
                    y[(o * h + yy) * w + xx] = acc;
                }
            }
        }
        y
    }

    #[test]
    fn bn_folding_matches_conv_then_bn() {
        // Realistic-ish random values via the test-weight generator's stream.
        let tensors = crate::models::testweights::cached_seed0().to_vec();
        let map: HashMap<&str, &Vec<f32>> =
            tensors.iter().map(|(n, _, d)| (n.as_str(), d)).collect();
        let w = Weights::from_tensors(tensors.clone(), Preprocess::Imagenet).unwrap();

        for (prefix, bn) in [
            ("refine_3.merge_conv.3", "refine_3.merge_conv.4"),
            ("conv6_cmprs.2", "conv6_cmprs.3"),
            (
                "Co5.cosal_feat.conv.1.conv.0",
                "Co5.cosal_feat.conv.1.conv.1",
            ),
        ] {
            let raw_w = map[format!("{prefix}.weight").as_str()];
            let raw_b = map[format!("{prefix}.bias").as_str()];
            let g = map[format!("{bn}.weight").as_str()];
            let be = map[format!("{bn}.bias").as_str()];
            let mu = map[format!("{bn}.running_mean").as_str()];
            let var = map[format!("{bn}.running_var").as_str()];
            let folded = w.conv(prefix);
            let (c_out, c_in, k) = (folded.out_ch, folded.in_ch, folded.k);
            assert_eq!(k, 3);
            let (h, wd) = (4, 5);
            let x: Vec<f32> = (0..c_in * h * wd)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
                .collect();
            let y = conv_naive(&x, (c_in, h, wd), raw_w, raw_b, (c_out, k));
            let yf = conv_naive(&x, (c_in, h, wd), &folded.weight, &folded.bias, (c_out, k));
            let mut max_err = 0.0f64;
            let mut max_mag = 0.0f64;
            for o in 0..c_out {
                for p in 0..h * wd {
                    let v = y[o * h * wd + p];
                    let bn_v = (v - f64::from(mu[o])) / (f64::from(var[o]) + 1e-5).sqrt()
                        * f64::from(g[o])
                        + f64::from(be[o]);
                    max_err = max_err.max((bn_v - yf[o * h * wd + p]).abs());
                    max_mag = max_mag.max(bn_v.abs());
                }
            }
            // Only the f32 rounding of folded weights differs: ~1e-7 relative per term.
            assert!(max_mag > 0.1, "{prefix}: degenerate test ({max_mag})");
            assert!(
                max_err < 1e-5 * max_mag.max(1.0),
                "{prefix}: max err {max_err}"
            );
            // The unfolded conv is not the folded one.
            assert_ne!(&folded.weight, raw_w);
        }

        // Exact rounding of one element, f64 then f32.
        let c = w.conv("refine_1.merge_conv.0");
        let g = map["refine_1.merge_conv.1.weight"][5];
        let var = map["refine_1.merge_conv.1.running_var"][5];
        let mu = map["refine_1.merge_conv.1.running_mean"][5];
        let be = map["refine_1.merge_conv.1.bias"][5];
        let scale = f64::from(g) / (f64::from(var) + 1e-5).sqrt();
        let w0 = map["refine_1.merge_conv.0.weight"][5 * 96 * 9 + 3];
        let b0 = map["refine_1.merge_conv.0.bias"][5];
        assert_eq!(c.weight[5 * 96 * 9 + 3], (f64::from(w0) * scale) as f32);
        assert_eq!(
            c.bias[5],
            ((f64::from(b0) - f64::from(mu)) * scale + f64::from(be)) as f32
        );
    }

    #[test]
    fn non_finite_values_are_refused_with_the_tensor_named() {
        let tensors = cheap_tensors();
        let set = |raw: &mut Vec<(String, Raw)>, name: &str, at: &[(usize, f32)]| {
            let (_, r) = raw.iter_mut().find(|(n, _)| n == name).unwrap();
            for &(i, v) in at {
                r.bytes[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
            }
        };

        // NaNs in an ICNet head tensor.
        let mut raw = as_raw(&tensors);
        let nans: Vec<(usize, f32)> = (0..12).map(|k| (3 + 5 * k, f32::NAN)).collect();
        set(&mut raw, "Co4.cosal_feat.conv.0.weight", &nans);
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert_eq!(
            msg,
            "The weights data: Co4.cosal_feat.conv.0.weight holds 12 NaN values (first at index 3); the weights are damaged."
        );

        // One infinity in a VGG tensor, found also when the tensors are split in parts.
        let mut raw = as_raw(&tensors);
        set(&mut raw, "vgg.vgg.28.bias", &[(511, f32::NEG_INFINITY)]);
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(
            msg.contains("vgg.vgg.28.bias holds 1 infinite value (at index 511)"),
            "{msg}"
        );
        let (vgg, head): (Vec<_>, Vec<_>) =
            raw.into_iter().partition(|(n, _)| n.starts_with("vgg."));
        let (vgg_b, head_b) = (serialize(&vgg, None), serialize(&head, None));
        let msg = weights_err(Weights::from_parts(&[
            (&vgg_b, "vgg.st"),
            (&head_b, "head.st"),
        ]));
        assert!(
            msg.starts_with("vgg.st + head.st: vgg.vgg.28.bias holds 1 infinite value"),
            "{msg}"
        );

        // Mixed kinds in one tensor, several tensors in file order (the
        // serializer sorts by name), long lists cut.
        let mut raw = as_raw(&tensors);
        set(
            &mut raw,
            "refine_1.merge_conv.1.running_var",
            &[(2, f32::INFINITY), (4, f32::NAN), (5, f32::NAN)],
        );
        set(&mut raw, "vgg.vgg.0.weight", &[(0, f32::NAN)]);
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(
            msg.contains(
                "refine_1.merge_conv.1.running_var holds 2 NaN and 1 infinite values (first at index 2) and vgg.vgg.0.weight holds 1 NaN value (at index 0); the weights are damaged."
            ),
            "{msg}"
        );
        let mut raw = as_raw(&tensors);
        for (_, r) in raw.iter_mut() {
            r.bytes[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        }
        let msg = weights_err(Weights::from_bytes(&serialize(&raw, None)));
        assert!(
            msg.contains(
                "and 166 more tensors hold NaN or infinite values; the weights are damaged."
            ),
            "{msg}"
        );
        assert!(msg.len() < 1000, "{msg}");

        // In-memory tensors get the same check.
        let mut t = tensors.clone();
        let i = t
            .iter()
            .position(|(n, _, _)| n == "get_pred_4.pred.0.bias")
            .unwrap();
        t[i].2[0] = f32::INFINITY;
        let msg = weights_err(Weights::from_tensors(t, Preprocess::Imagenet));
        assert_eq!(
            msg,
            "The given tensors: get_pred_4.pred.0.bias holds 1 infinite value (at index 0); the weights are damaged."
        );

        // Finite values that cannot be folded: a negative variance, an overflow.
        let mut t = tensors.clone();
        let i = t
            .iter()
            .position(|(n, _, _)| n == "conv6_cmprs.3.running_var")
            .unwrap();
        t[i].2[7] = -0.25;
        let msg = weights_err(Weights::from_tensors(t, Preprocess::Imagenet));
        assert!(
            msg.contains(
                "conv6_cmprs.3.running_var holds 1 negative variance (first -0.25 at index 7)"
            ),
            "{msg}"
        );
        let mut t = tensors.clone();
        let i = t
            .iter()
            .position(|(n, _, _)| n == "conv6_cmprs.3.weight")
            .unwrap();
        t[i].2[1] = 3e38;
        let j = t
            .iter()
            .position(|(n, _, _)| n == "conv6_cmprs.3.running_var")
            .unwrap();
        t[j].2[1] = 0.0;
        let msg = weights_err(Weights::from_tensors(t, Preprocess::Imagenet));
        assert!(
            msg.contains("folding the BatchNorm conv6_cmprs.3 into the convolution conv6_cmprs.2 overflows float32"),
            "{msg}"
        );
    }

    #[test]
    fn assumed_preprocessing_is_recorded() {
        let raw = as_raw(&cheap_tensors());
        let w = Weights::from_bytes(&serialize(&raw, None)).unwrap();
        assert!(w.preprocess_assumed());
        let warning = w.preprocess_warning().unwrap();
        assert!(warning.contains("ImageNet normalisation"), "{warning}");
        assert!(warning.contains(PREPROCESS_METADATA_KEY), "{warning}");
        for tag in ["imagenet", "caffe-bgr"] {
            let w = Weights::from_bytes(&serialize(&raw, Some(tag))).unwrap();
            assert!(!w.preprocess_assumed(), "{tag}");
            assert_eq!(w.preprocess_warning(), None);
        }
        // One tagged part is enough.
        let (vgg, head): (Vec<_>, Vec<_>) = raw
            .iter()
            .cloned()
            .partition(|(n, _)| n.starts_with("vgg."));
        let (vgg_b, head_b) = (serialize(&vgg, Some("caffe-bgr")), serialize(&head, None));
        let w = Weights::from_parts(&[(&vgg_b, "v"), (&head_b, "h")]).unwrap();
        assert!(!w.preprocess_assumed());
        let w = Weights::from_tensors(cheap_tensors(), Preprocess::Imagenet).unwrap();
        assert!(!w.preprocess_assumed());
    }

    fn conv_set_bytes(values: &[f32], preprocess: Option<&str>) -> Vec<u8> {
        let raw = vec![
            (
                "a.weight".to_string(),
                f32_raw(&[2, 1, 3, 3], &values[..18]),
            ),
            ("a.bias".to_string(), f32_raw(&[2], &values[18..20])),
            (
                "b.weight".to_string(),
                f32_raw(&[1, 2, 1, 1], &values[20..22]),
            ),
            ("b.bias".to_string(), f32_raw(&[1], &values[22..23])),
        ];
        serialize(&raw, preprocess)
    }

    fn conv_set_shapes() -> Vec<ConvShape> {
        vec![("a".into(), 2, 1, 3), ("b".into(), 1, 2, 1)]
    }

    #[test]
    fn conv_sets_refuse_non_finite_values() {
        let good: Vec<f32> = (0..23).map(|i| i as f32 / 10.0).collect();
        let load = |bytes: &[u8]| {
            ConvSet::from_bytes_named(bytes, "small.st", "the test convs", &conv_set_shapes())
        };
        let set = load(&conv_set_bytes(&good, None)).unwrap();
        assert_eq!(set.conv("a").weight, good[..18]);
        assert_eq!(set.conv("b").bias, good[22..]);
        assert!(set.preprocess_assumed());
        assert!(set.preprocess_warning().unwrap().contains("ImageNet"));
        let tagged = load(&conv_set_bytes(&good, Some("caffe-bgr"))).unwrap();
        assert!(!tagged.preprocess_assumed());
        assert_eq!(tagged.preprocess_warning(), None);

        let mut bad = good.clone();
        bad[19] = f32::NAN;
        bad[21] = f32::INFINITY;
        bad[20] = f32::NEG_INFINITY;
        let msg = match load(&conv_set_bytes(&bad, None)) {
            Err(Error::Weights(m)) => m,
            other => panic!("expected Error::Weights, got {:?}", other.err()),
        };
        assert_eq!(
            msg,
            "small.st: a.bias holds 1 NaN value (at index 1) and b.weight holds 2 infinite values (first at index 0); the weights are damaged."
        );
    }

    #[test]
    #[should_panic(expected = "no ICNet conv")]
    fn unknown_prefix_panics() {
        let w = Weights::from_tensors(cheap_tensors(), Preprocess::Imagenet).unwrap();
        let _ = w.conv("vgg.vgg.1");
    }
}

/// A named set of plain convolutions (OIHW weight + bias, no BatchNorm) with
/// the file's metadata: the format of `models/u2netp.safetensors`,
/// `models/u2net.safetensors` and `models/vgg16-imagenet.safetensors`,
/// checked as strictly as ICNet weights.
#[derive(Clone)]
pub struct ConvSet {
    pub metadata: HashMap<String, String>,
    convs: HashMap<String, ConvWeights>,
}

/// The shape of one conv in a [`ConvSet`]: (prefix, out, in, k).
pub type ConvShape = (String, usize, usize, usize);

impl ConvSet {
    /// Reads and checks a file holding exactly the convs `shapes`; `what`
    /// names the model in errors ("the U²-Netp weights").
    pub fn from_file(path: &Path, what: &str, shapes: &[ConvShape]) -> Result<ConvSet> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Io(format!(
                "Could not read the weights file {}: {e}.",
                path.display()
            ))
        })?;
        Self::from_bytes_named(&bytes, &path.display().to_string(), what, shapes)
    }

    pub fn from_bytes_named(
        bytes: &[u8],
        source: &str,
        what: &str,
        shapes: &[ConvShape],
    ) -> Result<ConvSet> {
        let bad = |e: safetensors::SafeTensorError| {
            Error::Weights(format!("{source} is not a valid safetensors file: {e}."))
        };
        let st = SafeTensors::deserialize(bytes).map_err(bad)?;
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(bad)?;
        let table: Vec<(String, Vec<usize>)> = shapes
            .iter()
            .flat_map(|(p, o, i, k)| {
                [
                    (format!("{p}.weight"), vec![*o, *i, *k, *k]),
                    (format!("{p}.bias"), vec![*o]),
                ]
            })
            .collect();
        let table_ref: Vec<(&str, &[usize])> = table
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let names = meta.offset_keys();
        let mut views = Vec::with_capacity(names.len());
        for name in &names {
            views.push((name.as_str(), st.tensor(name).map_err(bad)?));
        }
        let entries: Vec<(&str, Kind, &[usize], Option<usize>)> = views
            .iter()
            .map(|(n, v)| (*n, kind_of(v.dtype()), v.shape(), None))
            .collect();
        validate_against(source, what, &table_ref, &[], &entries)?;
        // Moved, not cloned, into the set: U²-Net's 176 MB would otherwise
        // be held twice while loading (in a browser tab, too).
        let mut damage = Damage::default();
        let mut data: HashMap<&str, Vec<f32>> = HashMap::with_capacity(views.len());
        for (n, v) in &views {
            let values = f32_from_le(v.data());
            damage.check(n, &values);
            data.insert(*n, values);
        }
        damage.into_result(source)?;
        let mut take = |name: String| data.remove(name.as_str()).unwrap_or_default();
        let convs = shapes
            .iter()
            .map(|(p, o, i, k)| {
                let cw = ConvWeights {
                    out_ch: *o,
                    in_ch: *i,
                    k: *k,
                    weight: take(format!("{p}.weight")),
                    bias: take(format!("{p}.bias")),
                };
                (p.clone(), cw)
            })
            .collect();
        Ok(ConvSet {
            metadata: meta.metadata().clone().unwrap_or_default(),
            convs,
        })
    }

    /// Builds a set from convs already in memory (tests, generated weights).
    pub fn from_convs(
        convs: Vec<(String, ConvWeights)>,
        metadata: HashMap<String, String>,
    ) -> ConvSet {
        ConvSet {
            metadata,
            convs: convs.into_iter().collect(),
        }
    }

    /// The conv at `prefix`; panics on an unknown prefix (a programming error:
    /// the file was checked against the model's table at load).
    pub fn conv(&self, prefix: &str) -> &ConvWeights {
        self.get(prefix)
            .unwrap_or_else(|| panic!("no conv with prefix {prefix:?}"))
    }

    /// The conv at `prefix`, if the set has one.
    pub fn get(&self, prefix: &str) -> Option<&ConvWeights> {
        self.convs.get(prefix)
    }

    /// Whether [`ConvSet::preprocess`] is assumed: the file has no
    /// `icnet.preprocess` metadata entry, so ImageNet normalisation is used.
    /// This matters for a set used as a backbone (VGG16 for the training-free
    /// model); U²-Net's normalisation is fixed and ignores the entry.
    pub fn preprocess_assumed(&self) -> bool {
        !self.metadata.contains_key(PREPROCESS_METADATA_KEY)
    }

    /// A one-sentence warning naming the normalisation that is assumed, when
    /// it is ([`ConvSet::preprocess_assumed`]); `None` when the file names it.
    pub fn preprocess_warning(&self) -> Option<String> {
        if !self.preprocess_assumed() {
            return None;
        }
        Some(assumed_warning(Preprocess::from_metadata(None).ok()?))
    }

    /// The pre-processing named by the file's `icnet.preprocess` metadata.
    pub fn preprocess(&self) -> Result<Preprocess> {
        Preprocess::from_metadata(
            self.metadata
                .get(PREPROCESS_METADATA_KEY)
                .map(String::as_str),
        )
    }
}
