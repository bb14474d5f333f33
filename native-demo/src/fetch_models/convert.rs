//! From the Conv nodes of an ONNX graph to the tensor names the engine loads.
//!
//! The exported graphs name their weights after TensorFlow ops or not at all
//! (BatchNorm folding gives U²-Net's convolutions numbers for names), so the
//! convolutions are matched by position and every one is checked against
//! the architecture before it is renamed: a different export fails loudly
//! instead of loading wrong weights.

use icnet_engine::models::u2net::SaliencyModel;

use super::onnx::{Conv, Tensor};

/// A tensor to write: safetensors name, shape, float32 little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    pub name: String,
    pub shape: Vec<usize>,
    pub le_bytes: Vec<u8>,
}

/// What one convolution must look like, and the name prefix it gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    pub cout: usize,
    pub cin: usize,
    pub k: usize,
    pub dilation: usize,
}

impl Layout {
    pub fn weight_shape(&self) -> Vec<usize> {
        vec![self.cout, self.cin, self.k, self.k]
    }
}

/// `(cout, cin)` of Keras VGG16's 13 convolutions (all 3x3, dilation 1).
const VGG16_CHANNELS: [(usize, usize); 13] = [
    (64, 3),
    (64, 64),
    (128, 64),
    (128, 128),
    (256, 128),
    (256, 256),
    (256, 256),
    (512, 256),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
];

/// Index of each conv in torchvision's `vgg16().features`, which the official
/// ICNet state_dict keeps as `vgg.vgg.<index>` (ReLUs and pools take the gaps).
const VGG16_FEATURE_INDEX: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

/// Known values of the ImageNet VGG16 weights (`block1_conv1` and
/// `block5_conv3` bias[0]): they tell the ImageNet convolutions from a
/// fine-tuned or re-initialised copy of the same shapes.
const VGG16_BIAS_CHECKS: [(usize, f32); 2] = [(0, 0.734_298_35), (12, 0.188_378_57)];

pub fn vgg16_layout() -> Vec<Layout> {
    VGG16_CHANNELS
        .iter()
        .zip(VGG16_FEATURE_INDEX)
        .map(|(&(cout, cin), i)| Layout {
            name: format!("vgg.vgg.{i}"),
            cout,
            cin,
            k: 3,
            dilation: 1,
        })
        .collect()
}

/// The 119 convolutions of U²-Netp or U²-Net in graph order, from the
/// engine's block table (the same data the graph builder uses).
pub fn saliency_layout(model: SaliencyModel) -> Vec<Layout> {
    model
        .convs()
        .into_iter()
        .map(|c| Layout {
            name: c.name,
            cout: c.cout,
            cin: c.cin,
            k: c.k,
            dilation: c.dilation,
        })
        .collect()
}

pub fn u2netp_layout() -> Vec<Layout> {
    saliency_layout(SaliencyModel::U2Netp)
}

pub fn u2net_layout() -> Vec<Layout> {
    saliency_layout(SaliencyModel::U2Net)
}

/// Every tensor name and shape a converted file holds, for the up-to-date check.
pub fn tensor_table(layout: &[Layout]) -> Vec<(String, Vec<usize>)> {
    layout
        .iter()
        .flat_map(|l| {
            [
                (format!("{}.weight", l.name), l.weight_shape()),
                (format!("{}.bias", l.name), vec![l.cout]),
            ]
        })
        .collect()
}

/// Total number of values in a converted file.
pub fn parameters(tensors: &[Named]) -> usize {
    tensors.iter().map(|t| t.le_bytes.len() / 4).sum()
}

/// The 13 convolutions of the Keras VGG16 graph (its first 13 Conv nodes;
/// the classifier head after them is dropped), checked and renamed.
pub fn vgg16(convs: Vec<Conv>) -> Result<Vec<Named>, String> {
    let layout = vgg16_layout();
    if convs.len() < layout.len() {
        return Err(format!(
            "the VGG16 graph has {} Conv nodes, expected at least {}",
            convs.len(),
            layout.len()
        ));
    }
    let mut convs = convs;
    convs.truncate(layout.len());
    for &(i, want) in &VGG16_BIAS_CHECKS {
        let got = convs[i].bias.as_ref().map_or(0.0, |b| b.value(0));
        if (got - want).abs() > 1e-6 {
            return Err(format!(
                "the VGG16 graph's Conv node #{i} ({}) has bias[0] = {got}, but the ImageNet \
                 VGG16 weights have {want}: these are not the expected weights",
                convs[i].node
            ));
        }
    }
    rename(convs, &layout, true)
}

/// The 119 convolutions of a U²-Netp or U²-Net graph, in graph order,
/// matched to the engine's `SaliencyModel::convs()`. The two models have the
/// same names and order, so the shapes are what tells one file from the other.
pub fn saliency(model: SaliencyModel, convs: Vec<Conv>) -> Result<Vec<Named>, String> {
    let layout = saliency_layout(model);
    if convs.len() != layout.len() {
        return Err(format!(
            "the {} graph has {} Conv nodes, expected {}",
            model.name(),
            convs.len(),
            layout.len()
        ));
    }
    rename(convs, &layout, false)
}

pub fn u2netp(convs: Vec<Conv>) -> Result<Vec<Named>, String> {
    saliency(SaliencyModel::U2Netp, convs)
}

pub fn u2net(convs: Vec<Conv>) -> Result<Vec<Named>, String> {
    saliency(SaliencyModel::U2Net, convs)
}

/// Checks each conv against its layout and names its tensors. A missing bias
/// is an error when `bias_required`, else zeros (what ONNX computes then).
fn rename(convs: Vec<Conv>, layout: &[Layout], bias_required: bool) -> Result<Vec<Named>, String> {
    let mut out = Vec::with_capacity(2 * layout.len());
    for (i, (conv, want)) in convs.into_iter().zip(layout).enumerate() {
        check(i, &conv, want)?;
        let bias = match conv.bias {
            Some(b) => b.le_bytes,
            None if bias_required => {
                return Err(format!(
                    "Conv node #{i} ({}) for {} has no bias",
                    conv.node, want.name
                ))
            }
            None => vec![0; 4 * want.cout],
        };
        out.push(Named {
            name: format!("{}.weight", want.name),
            shape: want.weight_shape(),
            le_bytes: conv.weight.le_bytes,
        });
        out.push(Named {
            name: format!("{}.bias", want.name),
            shape: vec![want.cout],
            le_bytes: bias,
        });
    }
    Ok(out)
}

/// One conv against its layout: weight and bias shapes, "same" padding for
/// its dilation, unit stride, no groups; and where the exporter kept a module
/// name (`side1.weight`), that it is the name the layout gives.
fn check(i: usize, conv: &Conv, want: &Layout) -> Result<(), String> {
    let d = want.dilation as i64;
    let pad = d * (want.k as i64 - 1) / 2;
    let bias_ok = conv.bias.as_ref().is_none_or(|b| b.shape == [want.cout]);
    let geometry_ok = conv.weight.shape == want.weight_shape()
        && bias_ok
        && conv.dilations.iter().all(|&x| x == d)
        && conv.pads.iter().all(|&x| x == pad)
        && conv.strides.iter().all(|&x| x == 1)
        && conv.group == 1;
    if !geometry_ok {
        return Err(format!(
            "Conv node #{i} ({}) should be {}: expected weight {:?}, bias [{}], dilation {d}, \
             pads {pad}, stride 1, group 1; found weight {:?}, bias {}, dilations {:?}, pads {:?}, \
             strides {:?}, group {}",
            conv.node,
            want.name,
            want.weight_shape(),
            want.cout,
            conv.weight.shape,
            conv.bias
                .as_ref()
                .map_or("none".to_string(), |b| format!("{:?}", b.shape)),
            conv.dilations,
            conv.pads,
            conv.strides,
            conv.group,
        ));
    }
    for (t, suffix) in [
        (Some(&conv.weight), ".weight"),
        (conv.bias.as_ref(), ".bias"),
    ] {
        if let Some(module) = t.and_then(|t: &Tensor| exported_module(&t.name, suffix)) {
            if module != want.name {
                return Err(format!(
                    "Conv node #{i} ({}) should be {}, but the model calls its {} {:?}",
                    conv.node,
                    want.name,
                    &suffix[1..],
                    t.map_or("", |t| t.name.as_str())
                ));
            }
        }
    }
    Ok(())
}

/// `side1` for `side1.weight`; `None` for the numbered names BatchNorm
/// folding leaves (`1967`) and for TensorFlow op names.
fn exported_module<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let module = name.strip_suffix(suffix)?;
    (!module.is_empty() && !module.bytes().all(|b| b.is_ascii_digit())).then_some(module)
}
