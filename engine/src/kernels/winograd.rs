//! Winograd F(2x2, 3x3) for 3x3 stride-1 undilated convolutions, as three
//! steps: the input transform (`wino_in.wgsl`: `V = Bᵀ d B` per 4x4 patch),
//! 16 GEMMs `M_e = U_e · V_e` run by the direct convolution kernel as a 1x1
//! convolution over tiles with one weight matrix per transform position, and
//! the output transform with the convolution's epilogue (`wino_out.wgsl`:
//! `Y = Aᵀ M A` plus bias, residual, activation).
//!
//! Why: every output pair of rows and columns then costs 16 multiplies per
//! input channel instead of 36, and on CPU rasterisers the convolution kernel
//! is bound by its multiply-adds (measured on lavapipe, 256 -> 256 channels on
//! 56x56: the 3x3 direct kernel 231 ms, the same work as 16 GEMMs over the
//! 784 tiles 112 ms). F(2x2, 3x3) rather than F(4x4, 3x3): its transforms
//! are additions and halvings only, so it stays within a few ulps of the direct
//! convolution, which the ICNet goldens (1e-5 with the reference permutation)
//! need.
//!
//! The weights are transformed once, when the graph is built, in f64 and
//! rounded once (`U = G g Gᵀ`). A pass covers as many images and tiles as keep
//! `V` and `M` within [`PASS_WORDS`], so any layer fits any binding limit.

use super::conv::{self, Act, ConvCall, ConvInput, ConvVariant, Residual};
use super::Kernel;
use crate::runtime::plan::{ConstId, Graph, Res, Role};

/// Most words of one pass's transformed input or output (16 MiB): well under
/// every binding limit (WebGPU's default is 128 MiB), and small enough that
/// the extra memory stays modest.
pub const PASS_WORDS: usize = 4 << 20;

/// Whether a call runs as Winograd: 3x3, undilated, and where it pays.
///
/// The transforms cost per pixel in proportion to `cin + cout` (memory
/// traffic, which CPU rasterisers pay per lane), the GEMM saves in proportion
/// to `cin * cout`; and a map of fewer than 128 tiles leaves the GEMM too few
/// pixels per invocation. Measured on lavapipe (`icnet bench`, same session):
/// VGG16's 64- to 256-channel layers at 224x224 to 28x28 ran 1.6-2.6x faster,
/// its 512-channel 14x14 layers 1.2x slower, and U²-Netp's 32 -> 64 layers at
/// 320x320 slower too.
pub fn applies(c: &ConvCall) -> bool {
    let (ci, co) = (c.layer.cin, c.layer.cout);
    let tiles = c.h.div_ceil(2) * c.w.div_ceil(2);
    c.layer.k == 3
        && c.layer.dilation == 1
        && ci.min(co) >= 32
        && ci * co >= 24 * (ci + co)
        && tiles >= 128
}

/// `U = G g Gᵀ` for every (input, output) channel pair, laid out for the
/// GEMM: 16 matrices `[cin][cout4 * 4]`, matrix `e = 4 * row + column`.
/// `w` is the direct kernel's layout (`[ci * 9 + tap][cout4 * 4]`).
pub fn transform_weights(w: &[f32], cin: usize, cout: usize) -> Vec<f32> {
    let co4 = cout.div_ceil(4) * 4;
    assert_eq!(w.len(), cin * 9 * co4);
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut u = vec![0f32; 16 * cin * co4];
    for ci in 0..cin {
        for o in 0..cout {
            let g = |ky: usize, kx: usize| w[(ci * 9 + ky * 3 + kx) * co4 + o] as f64;
            for r in 0..4 {
                for c in 0..4 {
                    let mut s = 0f64;
                    for (ky, gr) in G[r].iter().enumerate() {
                        for (kx, gc) in G[c].iter().enumerate() {
                            s += gr * g(ky, kx) * gc;
                        }
                    }
                    u[((r * 4 + c) * cin + ci) * co4 + o] = s as f32;
                }
            }
        }
    }
    u
}

/// The transformed weights of `weight`, made once per graph.
fn transformed(g: &mut Graph, weight: ConstId, cin: usize, cout: usize) -> ConstId {
    if let Some(&(_, u)) = g.derived.iter().find(|(w, _)| *w == weight) {
        return u;
    }
    let w: Vec<f32> = bytemuck::cast_slice(&g.consts[weight.0]).to_vec();
    let u = g.constant_f32(&transform_weights(&w, cin, cout));
    g.derived.push((weight, u));
    u
}

/// Pushes the three steps of `c` (which must satisfy [`applies`]); the GEMM
/// runs as direct-`tn`x`4r`. The whole convolution's FLOPs are reported on
/// the GEMM step (direct-equivalent work), so stage totals stay comparable
/// across variants.
pub fn push(g: &mut Graph, tn: u32, r: u32, sg: bool, c: &ConvCall) {
    assert!(applies(c));
    let l = c.layer;
    let (h, w) = (c.h, c.w);
    let tw = w.div_ceil(2);
    let tiles = tw * h.div_ceil(2);
    let u = transformed(g, l.weight, l.cin, l.cout);
    let zero_bias = g.constant_f32(&vec![0f32; l.cout.div_ceil(4) * 4]);
    let per_tile = 16 * l.cin.max(l.cout);
    // Images per pass, then tiles per pass when one image is too big.
    let imgs = (PASS_WORDS / (per_tile * tiles)).clamp(1, c.images);
    let tile_pass = if imgs == 1 {
        (PASS_WORDS / per_tile).min(tiles)
    } else {
        tiles
    };
    let (in_off, in_bs, map_bs) = match c.input {
        ConvInput::Plain { off, bs, .. } => (off, bs, 0),
        ConvInput::Concat { .. } => (0, (32 * h * w) as u32, (h * w) as u32),
        ConvInput::Pair { ca, .. } => (
            0,
            ca * (h * w) as u32,
            (l.cin - ca as usize) as u32 * (h * w) as u32,
        ),
    };
    let (res_off, res_bs) = c
        .residual
        .map(|(_, o, b)| (o as u32, b as u32))
        .unwrap_or((0, 0));
    let residual = match (c.residual, c.residual_after_act) {
        (None, _) => Residual::None,
        (Some(_), false) => Residual::BeforeAct,
        (Some(_), true) => Residual::AfterAct,
    };
    let gemm_variant = conv::fit_to(ConvVariant::Direct { tn, r, sg }, tile_pass, l.cout);
    let mut img0 = 0;
    while img0 < c.images {
        let n = imgs.min(c.images - img0);
        let mut t0 = 0;
        while t0 < tiles {
            let nt = tile_pass.min(tiles - t0);
            let v = g.tensor("winograd V", 16 * n * l.cin * nt, Role::Transient);
            let m = g.tensor("winograd M", 16 * n * l.cout * nt, Role::Transient);
            let params = vec![
                l.cin as u32,
                l.cout as u32,
                h as u32,
                w as u32,
                l.cout.div_ceil(4) as u32,
                in_off,
                in_bs,
                c.out_off as u32,
                c.out_bs as u32,
                res_off,
                res_bs,
                map_bs,
                tw as u32,
                t0 as u32,
                nt as u32,
                img0 as u32,
            ];
            // Input transform.
            let mut bindings = vec![Res::T(v)];
            bindings.extend(conv::input_bindings(&c.input));
            g.push(
                input_kernel(&c.input),
                params.clone(),
                bindings,
                [(nt as u32).div_ceil(64), l.cin as u32, n as u32],
                0.0,
            );
            // 16 GEMMs per image: "images" img * 16 + e of nt "pixels".
            let gemm = ConvCall {
                layer: conv::ConvLayer {
                    k: 1,
                    weight: u,
                    bias: zero_bias,
                    ..l
                },
                images: 16 * n,
                h: 1,
                w: nt,
                input: ConvInput::Plain {
                    t: v,
                    off: 0,
                    bs: (l.cin * nt) as u32,
                },
                out: m,
                out_off: 0,
                out_bs: l.cout * nt,
                residual: None,
                residual_after_act: false,
                act: Act::None,
            };
            let flops = 2.0 * (n * h * w * l.cout * l.cin * 9) as f64 * nt as f64 / tiles as f64;
            conv::push_gemm(g, gemm_variant, &gemm, flops, true);
            // Output transform with the epilogue.
            let mut bindings = vec![Res::T(m), Res::C(l.bias), Res::T(c.out)];
            if let Some((t, _, _)) = c.residual {
                bindings.push(Res::T(t));
            }
            g.push(
                output_kernel(residual, c.act),
                params,
                bindings,
                [(nt as u32).div_ceil(64), l.cout as u32, n as u32],
                0.0,
            );
            t0 += nt;
        }
        img0 += n;
    }
}

pub fn input_kernel(input: &ConvInput) -> Kernel {
    let (decl, body) = conv::input_loader(input, 2);
    Kernel::new("wino_in", vec![("INPUT_DECL", decl), ("INPUT_BODY", body)])
}

pub fn output_kernel(residual: Residual, act: Act) -> Kernel {
    let (decl, body) = conv::residual_loader(residual, 4);
    Kernel::new(
        "wino_out",
        vec![
            ("RESIDUAL_DECL", decl),
            ("RESIDUAL_BODY", body),
            ("EPILOGUE", conv::epilogue(residual).to_string()),
            ("ACT_BODY", conv::act_body(act).to_string()),
        ],
    )
}

/// CPU reference of the decomposition (transforms in f64): what the three
/// steps compute, to test the transform maths apart from the GPU.
pub fn cpu_winograd(
    x: &[f32],
    images: usize,
    h: usize,
    w: usize,
    cw: &crate::io::weights::ConvWeights,
) -> Vec<f32> {
    let (cin, cout) = (cw.in_ch, cw.out_ch);
    let co4 = cout.div_ceil(4) * 4;
    let mut wk = vec![0f32; cin * 9 * co4];
    for o in 0..cout {
        for i in 0..cin {
            for t in 0..9 {
                wk[(i * 9 + t) * co4 + o] = cw.weight[(o * cin + i) * 9 + t];
            }
        }
    }
    let u = transform_weights(&wk, cin, cout);
    let mut out = vec![0f32; images * cout * h * w];
    let px = |n: usize, ci: usize, y: isize, xx: isize| -> f64 {
        if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
            0.0
        } else {
            x[((n * cin + ci) * h + y as usize) * w + xx as usize] as f64
        }
    };
    let bt = |a: [f64; 4]| [a[0] - a[2], a[1] + a[2], a[2] - a[1], a[1] - a[3]];
    for n in 0..images {
        for ty in 0..h.div_ceil(2) {
            for tx in 0..w.div_ceil(2) {
                let mut mm = vec![[0f64; 16]; cout];
                for ci in 0..cin {
                    let mut d = [[0f64; 4]; 4];
                    for (r, row) in d.iter_mut().enumerate() {
                        for (c, v) in row.iter_mut().enumerate() {
                            *v = px(n, ci, (2 * ty + r) as isize - 1, (2 * tx + c) as isize - 1);
                        }
                    }
                    let cols: Vec<[f64; 4]> = (0..4)
                        .map(|c| bt([d[0][c], d[1][c], d[2][c], d[3][c]]))
                        .collect();
                    let mut v = [0f64; 16];
                    for r in 0..4 {
                        let row = bt([cols[0][r], cols[1][r], cols[2][r], cols[3][r]]);
                        v[r * 4..r * 4 + 4].copy_from_slice(&row);
                    }
                    for (o, m) in mm.iter_mut().enumerate() {
                        for e in 0..16 {
                            m[e] += u[(e * cin + ci) * co4 + o] as f64 * v[e];
                        }
                    }
                }
                for (o, m) in mm.iter().enumerate() {
                    let at = |a: [f64; 4]| [a[0] + a[1] + a[2], a[1] - a[2] - a[3]];
                    let s0: Vec<f64> = (0..4).map(|c| m[c] + m[4 + c] + m[8 + c]).collect();
                    let s1: Vec<f64> = (0..4).map(|c| m[4 + c] - m[8 + c] - m[12 + c]).collect();
                    for (a, s) in [s0, s1].iter().enumerate() {
                        let yv = at([s[0], s[1], s[2], s[3]]);
                        for (b, val) in yv.iter().enumerate() {
                            let (y, xx) = (2 * ty + a, 2 * tx + b);
                            if y < h && xx < w {
                                out[((n * cout + o) * h + y) * w + xx] =
                                    (val + cw.bias[o] as f64) as f32;
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::weights::ConvWeights;

    #[test]
    fn cpu_winograd_equals_the_direct_convolution_on_odd_sizes() {
        let mut s = 7u32;
        let mut rnd = || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / 16777216.0 - 0.5
        };
        for (n, cin, cout, h, w) in [
            (1, 3, 5, 7, 9),
            (2, 6, 4, 1, 1),
            (1, 2, 9, 4, 3),
            (1, 5, 1, 2, 6),
        ] {
            let cw = ConvWeights {
                out_ch: cout,
                in_ch: cin,
                k: 3,
                weight: (0..cout * cin * 9).map(|_| rnd()).collect(),
                bias: (0..cout).map(|_| rnd()).collect(),
            };
            let x: Vec<f32> = (0..n * cin * h * w).map(|_| rnd()).collect();
            let want = conv::cpu_conv(&x, n, h, w, &cw, None, Act::None);
            let got = cpu_winograd(&x, n, h, w, &cw);
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{n}x{cin}->{cout} {h}x{w}: {a} vs {b}"
                );
            }
        }
    }
}
