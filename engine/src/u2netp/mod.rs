//! U²-Netp (Qin et al., 2020), the single-image saliency model that gives
//! ICNet its SISMs, as a second fixed plan on the same kernels.
//!
//! Pre- and post-processing follow rembg, whose ONNX export the weights come
//! from: Pillow LANCZOS resize to 320x320, divide by the image's maximum,
//! ImageNet mean/std; d0 min-max normalised, truncated to 8 bits and resized
//! back to the photo with LANCZOS. The SISM written by `--save-sisms` is that
//! map, and feeding it back through `--sisms` gives the same result.

pub mod graph;
pub mod layers;

use std::path::Path;

use crate::kernels::conv::ConvVariant;
use crate::plan::Plan;
use crate::preprocess::{pillow_resize, DecodedPhoto, Filter};
use crate::weights::{ConvSet, ConvShape};
use crate::{Gpu, Result};

/// Side of the network input.
pub const SIZE: usize = 320;

/// The tensor table of `models/u2netp.safetensors`.
pub fn shapes() -> Vec<ConvShape> {
    layers::convs()
        .into_iter()
        .map(|c| (c.name, c.cout, c.cin, c.k))
        .collect()
}

/// Loads and checks `models/u2netp.safetensors`.
pub fn load_weights(path: &Path) -> Result<ConvSet> {
    ConvSet::from_file(path, "the U²-Netp weights", &shapes())
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

/// U²-Netp compiled for one photo at a time: at 320x320 one photo already
/// fills a GPU (102k pixels per layer), and a single image keeps the largest
/// tensor at 26 MiB, far below every binding limit.
pub struct U2Netp {
    plan: Plan,
    graph_io: (crate::plan::TensorId, crate::plan::TensorId),
}

impl U2Netp {
    /// [`U2Netp::new_async`], blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(gpu: &Gpu, weights: &ConvSet, variant: ConvVariant) -> Result<U2Netp> {
        pollster::block_on(Self::new_async(gpu, weights, variant))
    }

    pub async fn new_async(gpu: &Gpu, weights: &ConvSet, variant: ConvVariant) -> Result<U2Netp> {
        let mut g = graph::build(weights, 1, variant);
        let io = (g.input, g.output);
        let plan = Plan::compile_async(gpu, std::mem::take(&mut g.graph)).await?;
        Ok(U2Netp { plan, graph_io: io })
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
    pub fn profile(&self, gpu: &Gpu, input: &[f32]) -> Result<Vec<crate::plan::StageTiming>> {
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
