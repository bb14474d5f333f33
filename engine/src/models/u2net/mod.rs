//! U²-Net (Qin et al., 2020), the single-image saliency model that gives
//! ICNet its SISMs, in its two published sizes: U²-Netp (1.1 M parameters,
//! the default) and the full U²-Net (44 M). Both are fixed plans on the same
//! kernels, built by one code path from the block table of the model
//! (`layers.rs`).
//!
//! Pre- and post-processing follow rembg, whose ONNX exports the weights come
//! from (the same code for both models): Pillow LANCZOS resize to 320x320,
//! divide by the image's maximum, ImageNet mean/std; d0 min-max normalised,
//! truncated to 8 bits and resized back to the photo with LANCZOS. The SISM
//! written by `--save-sisms` is that map, and feeding it back through
//! `--sisms` gives the same result.

pub mod graph;
pub mod layers;

use std::path::Path;

use crate::io::preprocess::{pillow_resize, DecodedPhoto, Filter};
use crate::io::weights::{ConvSet, ConvShape};
use crate::kernels::conv::ConvVariant;
use crate::runtime::plan::{Plan, Precision};
use crate::{Error, Gpu, Result};

/// Side of the network input.
pub const SIZE: usize = 320;

/// Which U²-Net: the small one (U²-Netp) or the full one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaliencyModel {
    /// U²-Netp: 16 mid / 64 out channels in every block, 1.13 M parameters,
    /// 4.5 MB; 39.5 GFLOP per photo.
    U2Netp,
    /// U²-Net: the full model, 16 to 256 mid and 64 to 512 out channels,
    /// 44.0 M parameters, 176 MB; 117 GFLOP per photo.
    U2Net,
}

impl SaliencyModel {
    pub const ALL: [SaliencyModel; 2] = [SaliencyModel::U2Netp, SaliencyModel::U2Net];

    /// The short name: `--saliency` value, file stem, `icnet.model` metadata
    /// and plan stage prefix ("u2netp", "u2net").
    pub fn id(self) -> &'static str {
        match self {
            SaliencyModel::U2Netp => "u2netp",
            SaliencyModel::U2Net => "u2net",
        }
    }

    /// The name in messages ("U²-Netp", "U²-Net").
    pub fn name(self) -> &'static str {
        match self {
            SaliencyModel::U2Netp => "U²-Netp",
            SaliencyModel::U2Net => "U²-Net",
        }
    }

    /// The weights file `icnet fetch-models` writes into `models/`.
    pub fn file(self) -> &'static str {
        match self {
            SaliencyModel::U2Netp => "u2netp.safetensors",
            SaliencyModel::U2Net => "u2net.safetensors",
        }
    }

    /// The model whose [`SaliencyModel::id`] is `id`.
    pub fn from_id(id: &str) -> Option<SaliencyModel> {
        Self::ALL.into_iter().find(|m| m.id() == id)
    }

    /// The eleven RSU blocks in forward order.
    pub fn blocks(self) -> &'static [layers::Block; 11] {
        match self {
            SaliencyModel::U2Netp => &layers::U2NETP_BLOCKS,
            SaliencyModel::U2Net => &layers::U2NET_BLOCKS,
        }
    }

    /// All 119 convolutions in forward order (the ONNX graph's order).
    pub fn convs(self) -> Vec<layers::ConvSpec> {
        layers::convs(self.blocks())
    }

    /// The tensor table of the model's weights file.
    pub fn shapes(self) -> Vec<ConvShape> {
        self.convs()
            .into_iter()
            .map(|c| (c.name, c.cout, c.cin, c.k))
            .collect()
    }

    /// "the U²-Net weights", for errors.
    fn what(self) -> String {
        format!("the {} weights", self.name())
    }
}

/// Loads and checks `models/u2netp.safetensors` or `models/u2net.safetensors`.
pub fn load_weights(path: &Path, model: SaliencyModel) -> Result<ConvSet> {
    ConvSet::from_file(path, &model.what(), &model.shapes())
}

/// Reads and checks the weights of `model` from bytes (the browser build);
/// `source` names them in errors.
pub fn weights_from_bytes(bytes: &[u8], source: &str, model: SaliencyModel) -> Result<ConvSet> {
    ConvSet::from_bytes_named(bytes, source, &model.what(), &model.shapes())
}

/// `Ok` when `w` holds every convolution of `model` with its shape: the
/// tensor names of the two models are the same, so weights loaded for one
/// and compiled as the other would otherwise fail deep in the graph builder.
fn check_weights(model: SaliencyModel, w: &ConvSet) -> Result<()> {
    for c in model.convs() {
        let got = w.get(&c.name).map(|cw| (cw.out_ch, cw.in_ch, cw.k));
        if got != Some((c.cout, c.cin, c.k)) {
            return Err(Error::Weights(format!(
                "These are not {}: its convolution {} should be {}x{}x{k}x{k}, but {}.",
                model.what(),
                c.name,
                c.cout,
                c.cin,
                match got {
                    Some((o, i, k)) => format!("the weights have {o}x{i}x{k}x{k}"),
                    None => "the weights have no such convolution".into(),
                },
                k = c.k,
            )));
        }
    }
    Ok(())
}

const MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const STD: [f64; 3] = [0.229, 0.224, 0.225];

/// rembg's input: LANCZOS to 320x320, `/ max`, `(x - mean) / std` in f64,
/// then f32, CHW. A black photo (max 0) gives `-mean/std` instead of NaN.
pub fn prepare(photo: &DecodedPhoto) -> Vec<f32> {
    let (w, h) = (photo.width as usize, photo.height as usize);
    let rgb = pillow_resize(&photo.rgb, w, h, 3, SIZE, SIZE, Filter::Lanczos);
    let max = f64::from(rgb.iter().copied().max().unwrap_or(0).max(1));
    let n = SIZE * SIZE;
    let mut out = vec![0f32; 3 * n];
    for c in 0..3 {
        for (o, px) in out[c * n..(c + 1) * n].iter_mut().zip(rgb.chunks_exact(3)) {
            *o = ((f64::from(px[c]) / max - MEAN[c]) / STD[c]) as f32;
        }
    }
    out
}

/// rembg's output: d0 (320x320, in (0,1)) min-max normalised in f32,
/// `(x * 255) as u8` (truncation, as numpy's `astype`), LANCZOS back to
/// `width x height`. A constant map gives zeros.
pub fn finish(d0: &[f32], width: u32, height: u32) -> Vec<u8> {
    let (lo, hi) = d0
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = hi - lo;
    let l: Vec<u8> = d0
        .iter()
        .map(|&v| {
            if range > 0.0 {
                (((v - lo) / range) * 255.0) as u8
            } else {
                0
            }
        })
        .collect();
    pillow_resize(
        &l,
        SIZE,
        SIZE,
        1,
        width as usize,
        height as usize,
        Filter::Lanczos,
    )
}

/// A U²-Net compiled for one photo at a time: at 320x320 one photo already
/// fills a GPU (102k pixels per layer), and a single image keeps the largest
/// tensor at 26 MiB (64 channels at 320x320, in both models), far below
/// every binding limit (a browser's 128 MiB included).
pub struct SaliencyNet {
    model: SaliencyModel,
    plan: Plan,
    graph_io: (
        crate::runtime::plan::TensorId,
        crate::runtime::plan::TensorId,
    ),
}

impl SaliencyNet {
    /// [`SaliencyNet::new_async`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(
        gpu: &Gpu,
        model: SaliencyModel,
        weights: &ConvSet,
        variant: ConvVariant,
        precision: Precision,
    ) -> Result<SaliencyNet> {
        pollster::block_on(Self::new_async(gpu, model, weights, variant, precision))
    }

    /// Compiles `model` with `weights` (which must be that model's: an error
    /// says so otherwise).
    pub async fn new_async(
        gpu: &Gpu,
        model: SaliencyModel,
        weights: &ConvSet,
        variant: ConvVariant,
        precision: Precision,
    ) -> Result<SaliencyNet> {
        check_weights(model, weights)?;
        gpu.check_precision(precision)?;
        let mut g = graph::build(model, weights, 1, variant);
        let io = (g.input, g.output);
        let mut graph = std::mem::take(&mut g.graph);
        graph.precision = precision;
        let plan = Plan::compile_async(gpu, graph).await?;
        Ok(SaliencyNet {
            model,
            plan,
            graph_io: io,
        })
    }

    /// The model this net runs.
    pub fn model(&self) -> SaliencyModel {
        self.model
    }

    /// d0 (320x320, after the sigmoid) of one prepared input (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn d0(&self, gpu: &Gpu, input: &[f32]) -> Result<Vec<f32>> {
        pollster::block_on(self.d0_async(gpu, input))
    }

    pub async fn d0_async(&self, gpu: &Gpu, input: &[f32]) -> Result<Vec<f32>> {
        let (i, o) = self.graph_io;
        let out = self
            .plan
            .run_async(gpu, &[(i, bytemuck::cast_slice(input))], &[o])
            .await?;
        Ok(bytemuck::cast_slice::<u8, f32>(&out[0]).to_vec())
    }

    /// Runs one prepared input stage by stage (waiting after each) and
    /// returns the per-stage timings, for `icnet bench` (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(
        &self,
        gpu: &Gpu,
        input: &[f32],
    ) -> Result<Vec<crate::runtime::plan::StageTiming>> {
        let (i, o) = self.graph_io;
        let (_, timings) = self.plan.run_staged(
            gpu,
            &[(i, bytemuck::cast_slice(input))],
            &[o],
            &mut |_, _, _| {},
        )?;
        Ok(timings)
    }

    /// The 8-bit saliency map of a photo at its original size (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn sism(&self, gpu: &Gpu, photo: &DecodedPhoto) -> Result<Vec<u8>> {
        pollster::block_on(self.sism_async(gpu, photo))
    }

    pub async fn sism_async(&self, gpu: &Gpu, photo: &DecodedPhoto) -> Result<Vec<u8>> {
        let d0 = self.d0_async(gpu, &prepare(photo)).await?;
        Ok(finish(&d0, photo.width, photo.height))
    }

    /// FLOPs of one photo.
    pub fn flops(&self) -> f64 {
        self.plan.total_flops()
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// Zero-valued weights of exactly `model`'s shapes (tests: the graph and the
/// checks need shapes only).
#[cfg(test)]
pub(crate) fn zero_weights(model: SaliencyModel) -> ConvSet {
    use crate::io::weights::ConvWeights;
    let convs = model
        .convs()
        .into_iter()
        .map(|c| {
            let cw = ConvWeights {
                out_ch: c.cout,
                in_ch: c.cin,
                k: c.k,
                weight: vec![0.0; c.cout * c.cin * c.k * c.k],
                bias: vec![0.0; c.cout],
            };
            (c.name, cw)
        })
        .collect();
    ConvSet::from_convs(convs, Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_named_by_their_ids() {
        for m in SaliencyModel::ALL {
            assert_eq!(SaliencyModel::from_id(m.id()), Some(m));
            assert_eq!(m.file(), format!("{}.safetensors", m.id()));
        }
        assert_eq!(SaliencyModel::from_id("U2Net"), None);
        assert_eq!(SaliencyModel::from_id("u2"), None);
    }

    /// Both files have the same tensor names, so only the shapes catch the
    /// wrong file given for a model; the error names the first conv that differs.
    #[test]
    fn weights_of_the_other_model_are_refused() {
        let small = zero_weights(SaliencyModel::U2Netp);
        check_weights(SaliencyModel::U2Netp, &small).unwrap();
        let err = check_weights(SaliencyModel::U2Net, &small)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not the U²-Net weights")
                && err.contains("stage1.rebnconv1 should be 32x64x3x3")
                && err.contains("16x64x3x3"),
            "{err}"
        );
        let empty = ConvSet::from_convs(Vec::new(), Default::default());
        let err = check_weights(SaliencyModel::U2Netp, &empty)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stage1.rebnconvin") && err.contains("no such"),
            "{err}"
        );
    }
}
