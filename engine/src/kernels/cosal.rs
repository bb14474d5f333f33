//! The co-saliency ops of ICNet's Cosal_Sub_Module (SPEC 2.5): channel L2
//! normalisation, SIVs, correlation maps, the CSA map, and its stable
//! descending sort as ranks.
//!
//! Branch layout: the foreground and background passes of a module share all
//! weights, so they run as one batch of `2N` branches with `z = 2n + b`
//! (b = 0 foreground, 1 background). With 128 channels per branch output,
//! `[2N,128,hw]` is then exactly the `[N,256,hw]` concatenation the module's
//! next 1x1 conv reads: the concat costs nothing.

use super::Kernel;
use crate::runtime::plan::{Graph, Res, TensorId};

/// `dst = normalize(src, dim=1)` for [images, channels, hw] read at `off`/`bs`.
#[allow(clippy::too_many_arguments)]
pub fn push_l2norm(
    g: &mut Graph,
    src: TensorId,
    off: usize,
    bs: usize,
    dst: TensorId,
    images: usize,
    channels: usize,
    hw: usize,
) {
    g.push(
        Kernel::new("l2norm", vec![]),
        vec![
            images as u32,
            channels as u32,
            hw as u32,
            off as u32,
            bs as u32,
            0,
            0,
            0,
        ],
        vec![Res::T(src), Res::T(dst)],
        [(hw as u32).div_ceil(256), images as u32, 1],
        3.0 * (images * channels * hw) as f64,
    );
}

/// `siv[z] = normalize(mean_hw(nf[z/B] * s[z]))`, s is [B*N, hw] with
/// `B = branches` (2: ICNet's fore/back pair; 1: foreground only).
#[allow(clippy::too_many_arguments)]
pub fn push_siv(
    g: &mut Graph,
    nf: TensorId,
    s: TensorId,
    siv: TensorId,
    images: usize,
    channels: usize,
    h: usize,
    w: usize,
    branches: usize,
) {
    g.push(
        Kernel::new("siv", vec![("BRANCHES", branches.to_string())]),
        vec![
            (branches * images) as u32,
            channels as u32,
            h as u32,
            w as u32,
        ],
        vec![Res::T(nf), Res::T(s), Res::T(siv)],
        [(branches * images) as u32, 1, 1],
        2.0 * (branches * images * channels * h * w) as f64,
    );
}

/// `corr[z, m, :] = normalize_hw(<nf[z/B], siv[B*m + z%B]>)`, [B*N, N, hw].
#[allow(clippy::too_many_arguments)]
pub fn push_corr(
    g: &mut Graph,
    nf: TensorId,
    siv: TensorId,
    corr: TensorId,
    images: usize,
    channels: usize,
    hw: usize,
    branches: usize,
) {
    g.push(
        Kernel::new("corr", vec![("BRANCHES", branches.to_string())]),
        vec![images as u32, channels as u32, hw as u32, 0],
        vec![Res::T(nf), Res::T(siv), Res::T(corr)],
        [images as u32, (branches * images) as u32, 1],
        2.0 * (branches * images * images * channels * hw) as f64,
    );
}

/// Min-max normalised co-salient attention per branch, [B*N, hw].
pub fn push_csa(
    g: &mut Graph,
    corr: TensorId,
    csa: TensorId,
    images: usize,
    hw: usize,
    branches: usize,
) {
    g.push(
        Kernel::new("csa", vec![]),
        vec![images as u32, hw as u32, 0, 0],
        vec![Res::T(corr), Res::T(csa)],
        [(branches * images) as u32, 1, 1],
        6.0 * (branches * images * images * hw) as f64,
    );
}

/// Ranks of the stable descending sort of each branch's keys, [branches, hw] u32.
pub fn push_rank(g: &mut Graph, csa: TensorId, rank: TensorId, branches: usize, hw: usize) {
    g.push(
        Kernel::new("rank", vec![]),
        vec![branches as u32, hw as u32, 0, 0],
        vec![Res::T(csa), Res::T(rank)],
        [(hw as u32).div_ceil(64), branches as u32, 1],
        0.0,
    );
}

// ---- CPU references (straight from the SPEC's formulas, f64 where it sums) ----

pub fn cpu_l2norm(x: &[f32], images: usize, channels: usize, hw: usize) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    for n in 0..images {
        for p in 0..hw {
            let ss: f64 = (0..channels)
                .map(|c| (x[(n * channels + c) * hw + p] as f64).powi(2))
                .sum();
            let d = ss.sqrt().max(1e-12);
            for c in 0..channels {
                let i = (n * channels + c) * hw + p;
                out[i] = (x[i] as f64 / d) as f32;
            }
        }
    }
    out
}

/// s: [2N, hw] interleaved branches.
pub fn cpu_siv(nf: &[f32], s: &[f32], images: usize, channels: usize, hw: usize) -> Vec<f32> {
    let mut out = vec![0f32; 2 * images * channels];
    for z in 0..2 * images {
        let n = z / 2;
        let v: Vec<f64> = (0..channels)
            .map(|c| {
                (0..hw)
                    .map(|p| nf[(n * channels + c) * hw + p] as f64 * s[z * hw + p] as f64)
                    .sum::<f64>()
                    / hw as f64
            })
            .collect();
        let d = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
        for c in 0..channels {
            out[z * channels + c] = (v[c] / d) as f32;
        }
    }
    out
}

pub fn cpu_corr(nf: &[f32], siv: &[f32], images: usize, channels: usize, hw: usize) -> Vec<f32> {
    let mut out = vec![0f32; 2 * images * images * hw];
    for z in 0..2 * images {
        let (n, b) = (z / 2, z % 2);
        for m in 0..images {
            let map: Vec<f64> = (0..hw)
                .map(|p| {
                    (0..channels)
                        .map(|c| {
                            nf[(n * channels + c) * hw + p] as f64
                                * siv[(2 * m + b) * channels + c] as f64
                        })
                        .sum()
                })
                .collect();
            let d = map.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
            for p in 0..hw {
                out[(z * images + m) * hw + p] = (map[p] / d) as f32;
            }
        }
    }
    out
}

/// Literal SPEC form: G = corr corr^T, w = softmax(G.sum(2)), raw = sum_m corr*w, min-max.
pub fn cpu_csa(corr: &[f32], images: usize, hw: usize) -> Vec<f32> {
    let mut out = vec![0f32; 2 * images * hw];
    for z in 0..2 * images {
        let c = |m: usize, p: usize| corr[(z * images + m) * hw + p] as f64;
        let logits: Vec<f64> = (0..images)
            .map(|m| {
                (0..images)
                    .map(|k| (0..hw).map(|p| c(m, p) * c(k, p)).sum::<f64>())
                    .sum()
            })
            .collect();
        let mx = logits.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - mx).exp()).collect();
        let se: f64 = e.iter().sum();
        let raw: Vec<f64> = (0..hw)
            .map(|p| (0..images).map(|m| c(m, p) * e[m] / se).sum())
            .collect();
        let mn = raw.iter().cloned().fold(f64::MAX, f64::min);
        let mxr = raw.iter().cloned().fold(f64::MIN, f64::max);
        for p in 0..hw {
            out[z * hw + p] = ((raw[p] - mn) / (mxr - mn + 1e-12)) as f32;
        }
    }
    out
}

/// Stable descending argsort (ties by ascending index) of one row.
pub fn cpu_argsort_desc(keys: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by(|&a, &b| {
        keys[b]
            .partial_cmp(&keys[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    idx
}

/// Inverse permutation: rank[idx[c]] = c.
pub fn ranks_from_argsort(idx: &[usize]) -> Vec<u32> {
    let mut rank = vec![0u32; idx.len()];
    for (c, &p) in idx.iter().enumerate() {
        rank[p] = c as u32;
    }
    rank
}

/// The Cosal_Sub_Module's first 1x1 conv as the SPEC writes it, through the
/// explicit SCF and RSCF tensors: out[o,q] = b[o] + sum_c W[o,c] * CSA[q] * SCF[idx[c], q].
#[allow(clippy::too_many_arguments)]
pub fn cpu_rscf_conv(
    nf: &[f32],
    csa: &[f32],
    idx: &[Vec<usize>],
    weight: &[f32],
    bias: &[f32],
    images: usize,
    channels: usize,
    hw: usize,
    cout: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; 2 * images * cout * hw];
    for z in 0..2 * images {
        let n = z / 2;
        let f = |c: usize, p: usize| nf[(n * channels + c) * hw + p] as f64;
        // SCF[p][q] = <NF[:,p], NF[:,q]>
        let mut scf = vec![0f64; hw * hw];
        for p in 0..hw {
            for q in 0..hw {
                scf[p * hw + q] = (0..channels).map(|c| f(c, p) * f(c, q)).sum();
            }
        }
        for o in 0..cout {
            for q in 0..hw {
                let mut acc = bias[o] as f64;
                for (c, &p) in idx[z].iter().enumerate() {
                    acc += weight[o * hw + c] as f64 * (csa[z * hw + q] as f64 * scf[p * hw + q]);
                }
                out[(z * cout + o) * hw + q] = acc as f32;
            }
        }
    }
    out
}
