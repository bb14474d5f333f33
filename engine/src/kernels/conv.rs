//! Convolutions (3x3 with "same" zero padding, optionally dilated, and 1x1)
//! with fused bias, residual add and activation, and the ICNet decoder's
//! concatenated input read from its sources.

use super::Kernel;
use crate::io::weights::ConvWeights;
use crate::runtime::plan::{ConstId, Graph, Res, TensorId};

/// What every convolution template starts with (shared helpers and uniforms).
pub const COMMON: &str = include_str!("../../../shaders/conv_common.wgsl");

/// Activation applied in the epilogue (after the residual add).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    None = 0,
    Relu = 1,
    Sigmoid = 2,
}

/// Which implementation to use; chosen per adapter (see `tune`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvVariant {
    /// Register blocking only: `tn` pixels x `4*r` channels per invocation.
    /// `sg`: each ci/tap's `r` weight vectors are read by the first `r`
    /// lanes of the subgroup, one each, and passed to every lane with
    /// `subgroupBroadcast`, instead of every lane reading all `r` (needs
    /// subgroups of at least `r` lanes: [`crate::Gpu::subgroup_lanes`]).
    Direct { tn: u32, r: u32, sg: bool },
    /// 64x64 tiles staged through workgroup memory.
    Tiled,
    /// Winograd F(2x2, 3x3) for the 3x3 undilated layers, its GEMMs and every
    /// other layer as `Direct { tn, r }` ([`super::winograd`]).
    Winograd { tn: u32, r: u32, sg: bool },
}

impl ConvVariant {
    pub fn label(&self) -> String {
        match self {
            ConvVariant::Direct { tn, r, sg } => format!("direct-{}{tn}x{}", sg_tag(*sg), 4 * r),
            ConvVariant::Tiled => "tiled-64x64".into(),
            ConvVariant::Winograd { tn, r, sg } => {
                format!("winograd-{}{tn}x{}", sg_tag(*sg), 4 * r)
            }
        }
    }

    pub fn parse(s: &str) -> Option<ConvVariant> {
        if s == "tiled" || s == "tiled-64x64" {
            return Some(ConvVariant::Tiled);
        }
        let (winograd, rest) = match s.strip_prefix("winograd-") {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix("direct-")?),
        };
        let (sg, rest) = match rest.strip_prefix("sg-") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let (a, b) = rest.split_once('x')?;
        let (tn, oc): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        let r = oc / 4;
        (tn >= 1 && oc % 4 == 0 && oc >= 4 && tn <= 32 && oc <= 64).then_some(if winograd {
            ConvVariant::Winograd { tn, r, sg }
        } else {
            ConvVariant::Direct { tn, r, sg }
        })
    }

    /// The same variant reading its weights through subgroup broadcasts
    /// (the tiled one has no such form and is returned unchanged).
    pub fn with_subgroups(self) -> ConvVariant {
        match self {
            ConvVariant::Direct { tn, r, .. } => ConvVariant::Direct { tn, r, sg: true },
            ConvVariant::Winograd { tn, r, .. } => ConvVariant::Winograd { tn, r, sg: true },
            v => v,
        }
    }

    /// The same variant reading its weights without subgroups.
    pub fn without_subgroups(self) -> ConvVariant {
        match self {
            ConvVariant::Direct { tn, r, .. } => ConvVariant::Direct { tn, r, sg: false },
            ConvVariant::Winograd { tn, r, .. } => ConvVariant::Winograd { tn, r, sg: false },
            v => v,
        }
    }

    /// Whether the variant reads its weights through subgroup broadcasts.
    pub fn uses_subgroups(&self) -> bool {
        matches!(
            self,
            ConvVariant::Direct { sg: true, .. } | ConvVariant::Winograd { sg: true, .. }
        )
    }

    /// The widest subgroup broadcast the variant's kernels make: its channel block.
    pub fn subgroup_lanes_needed(&self) -> u32 {
        match self {
            ConvVariant::Direct { r, sg: true, .. } | ConvVariant::Winograd { r, sg: true, .. } => {
                *r
            }
            _ => 0,
        }
    }
}

fn sg_tag(sg: bool) -> &'static str {
    if sg {
        "sg-"
    } else {
        ""
    }
}

/// A convolution's weights on the GPU, in the kernel's layout:
/// `[k*k*cin][cout4]` vec4 rows (row index ci*k*k + ky*k + kx), channels padded to 4.
#[derive(Clone, Copy, Debug)]
pub struct ConvLayer {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    /// Tap spacing; padding is `dilation * (k / 2)` so the size is kept
    /// (U²-Netp's RSU blocks use 1, 2, 4 and 8).
    pub dilation: usize,
    pub weight: ConstId,
    pub bias: ConstId,
}

/// Re-lays out OIHW weights for the kernel and uploads them as constants.
pub fn upload(g: &mut Graph, cw: &ConvWeights) -> ConvLayer {
    let (co, ci, k) = (cw.out_ch, cw.in_ch, cw.k);
    let co4 = co.div_ceil(4) * 4;
    let mut w = vec![0f32; ci * k * k * co4];
    for o in 0..co {
        for i in 0..ci {
            for t in 0..k * k {
                w[(i * k * k + t) * co4 + o] = cw.weight[(o * ci + i) * k * k + t];
            }
        }
    }
    let mut b = vec![0f32; co4];
    b[..co].copy_from_slice(&cw.bias);
    ConvLayer {
        cin: ci,
        cout: co,
        k,
        dilation: 1,
        weight: g.constant_f32(&w),
        bias: g.constant_f32(&b),
    }
}

impl ConvLayer {
    pub fn dilated(self, dilation: usize) -> ConvLayer {
        assert!(dilation >= 1);
        ConvLayer { dilation, ..self }
    }
}

/// Where a convolution reads its input.
#[derive(Clone, Copy, Debug)]
pub enum ConvInput {
    /// `t[off + img*bs + ci*hw + pix]`.
    Plain { t: TensorId, off: u32, bs: u32 },
    /// The decoder's `cat([c*cm, c*s, of])`, never materialised: `c` and `of`
    /// are [img,32,hw], `cm` and `s` are [img,hw] maps.
    Concat {
        c: TensorId,
        cm: TensorId,
        s: TensorId,
        of: TensorId,
    },
    /// `cat([a, b], dim=1)` of two contiguous tensors, never materialised:
    /// `a` is [img,ca,hw], `b` is [img,cin-ca,hw] (U²-Netp's decoder).
    Pair { a: TensorId, b: TensorId, ca: u32 },
}

/// One convolution over `images` images of `h x w`.
#[derive(Clone, Copy, Debug)]
pub struct ConvCall {
    pub layer: ConvLayer,
    pub images: usize,
    pub h: usize,
    pub w: usize,
    pub input: ConvInput,
    pub out: TensorId,
    pub out_off: usize,
    /// Words between images in the output (>= cout*h*w; larger when writing a slice).
    pub out_bs: usize,
    /// `(tensor, offset, batch stride)` added before the activation
    /// (ICNet's `Res`: `relu(x + conv(...))`), or after it when
    /// `residual_after_act` (U²-Netp's RSU: `relu(conv(...)) + x`).
    pub residual: Option<(TensorId, usize, usize)>,
    pub residual_after_act: bool,
    pub act: Act,
}

impl ConvCall {
    /// A plain call reading a whole contiguous tensor and writing one.
    pub fn simple(
        layer: ConvLayer,
        images: usize,
        h: usize,
        w: usize,
        src: TensorId,
        out: TensorId,
        act: Act,
    ) -> ConvCall {
        ConvCall {
            layer,
            images,
            h,
            w,
            input: ConvInput::Plain {
                t: src,
                off: 0,
                bs: (layer.cin * h * w) as u32,
            },
            out,
            out_off: 0,
            out_bs: layer.cout * h * w,
            residual: None,
            residual_after_act: false,
            act,
        }
    }
}

/// Where the epilogue adds the residual, if there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Residual {
    None,
    BeforeAct,
    AfterAct,
}

/// The input loader `load_x(img, ci, pix)` for `input` (its declarations,
/// from binding `first` on, and its body) and how many bindings it takes.
pub fn input_loader(input: &ConvInput, first: u32) -> (String, String) {
    match input {
        ConvInput::Plain { .. } => (
            super::read_decls(first, &[("src", "st")]),
            "    return f32(src[P.in_off + img * P.in_bs + ci * P.h * P.w + pix]);".to_string(),
        ),
        ConvInput::Concat { .. } => (
            super::read_decls(first, &[("cc", "st"), ("cm", "st"), ("sm", "st"), ("old", "st")]),
            "    let hw = P.h * P.w;\n\
             \x20   if (ci < 32u) { return f32(cc[img * P.in_bs + ci * hw + pix]) * f32(cm[img * P.map_bs + pix]); }\n\
             \x20   if (ci < 64u) { return f32(cc[img * P.in_bs + (ci - 32u) * hw + pix]) * f32(sm[img * P.map_bs + pix]); }\n\
             \x20   return f32(old[img * P.in_bs + (ci - 64u) * hw + pix]);"
                .to_string(),
        ),
        ConvInput::Pair { ca, .. } => (
            super::read_decls(first, &[("xa", "st"), ("xb", "st")]),
            format!(
                "    let hw = P.h * P.w;\n\
                 \x20   if (ci < {ca}u) {{ return f32(xa[img * P.in_bs + ci * hw + pix]); }}\n\
                 \x20   return f32(xb[img * P.map_bs + (ci - {ca}u) * hw + pix]);"
            ),
        ),
    }
}

/// The tensors `input`'s loader binds, in declaration order.
pub fn input_bindings(input: &ConvInput) -> Vec<Res> {
    match *input {
        ConvInput::Plain { t, .. } => vec![Res::T(t)],
        ConvInput::Concat { c, cm, s, of } => vec![Res::T(c), Res::T(cm), Res::T(s), Res::T(of)],
        ConvInput::Pair { a, b, .. } => vec![Res::T(a), Res::T(b)],
    }
}

/// `add_residual(v, img, oc, hw, p)`: its declaration (binding `first`) and body.
pub fn residual_loader(residual: Residual, first: u32) -> (String, String) {
    if residual != Residual::None {
        (
            super::read_decls(first, &[("res", "st")]),
            "    return v + f32(res[P.res_off + img * P.res_bs + oc * hw + p]);".into(),
        )
    } else {
        (String::new(), "    return v;".into())
    }
}

/// The stored value of biased sum `b[l]`: residual before or after the activation.
pub fn epilogue(residual: Residual) -> &'static str {
    match residual {
        Residual::AfterAct => "add_residual(activate(b[l]), img, oc, hw, p)",
        _ => "activate(add_residual(b[l], img, oc, hw, p))",
    }
}

pub fn act_body(act: Act) -> &'static str {
    match act {
        Act::None => "    return v;",
        Act::Relu => "    return max(v, 0.0);",
        Act::Sigmoid => "    return 1.0 / (1.0 + exp(-v));",
    }
}

/// The kernel of one convolution (`Winograd` layers go through
/// [`super::winograd::push`]; here it means its `Direct` kernel).
/// `per_image_weights`: image `img` uses weight matrix `img % 16` (the
/// Winograd GEMMs, 1x1 only).
pub fn kernel(
    variant: ConvVariant,
    k: usize,
    input: &ConvInput,
    residual: Residual,
    act: Act,
) -> Kernel {
    kernel_with(variant, k, input, residual, act, false)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn kernel_with(
    variant: ConvVariant,
    k: usize,
    input: &ConvInput,
    residual: Residual,
    act: Act,
    per_image_weights: bool,
) -> Kernel {
    let n_inputs = input_bindings(input).len() as u32;
    let (input_decl, input_body) = input_loader(input, 4);
    let (res_decl, res_body) = residual_loader(residual, 4 + n_inputs);
    // COMMON goes first: the values below are then filled in inside it too.
    let mut defs = vec![
        ("COMMON", COMMON.to_string()),
        ("EPILOGUE", epilogue(residual).to_string()),
        ("ACT_BODY", act_body(act).to_string()),
        ("INPUT_DECL", input_decl),
        ("INPUT_BODY", input_body),
        ("RESIDUAL_DECL", res_decl),
        ("RESIDUAL_BODY", res_body),
    ];
    if per_image_weights {
        assert!(k == 1 && matches!(variant, ConvVariant::Direct { .. }));
    }
    match variant {
        ConvVariant::Direct { tn, r, sg } | ConvVariant::Winograd { tn, r, sg } => {
            let lane = if sg {
                ", @builtin(subgroup_invocation_id) lane: u32"
            } else {
                ""
            };
            defs.extend([
                ("TN", tn.to_string()),
                ("R", r.to_string()),
                ("WGX", DIRECT_WGX.to_string()),
                ("WGY", "1".into()),
                ("LANE", lane.to_string()),
                ("BODY", direct_body(k, tn, r, sg, per_image_weights)),
            ]);
            Kernel::new("conv_direct", defs)
        }
        ConvVariant::Tiled => Kernel::new("conv_tiled", defs),
    }
}

/// Invocations per workgroup of the direct variant, all along pixels: the
/// output channels of a workgroup come from `workgroup_id.y` alone, so every
/// weight load is provably uniform and CPU rasterisers issue one scalar load
/// instead of a gather per lane.
const DIRECT_WGX: u32 = 64;

/// The unrolled body of `conv_direct.wgsl` for a `k x k` kernel, `tn`
/// pixels x `r` vec4 channel groups per invocation: prologue (pixel
/// coordinates, per-tap clamped offsets and border masks), the channel loop,
/// and the stores.
///
/// The dilation is a uniform (`P.dil`), so U²-Netp's dilated layers share
/// the pipeline of their undilated 3x3 kernel: it only moves the offsets,
/// computed once per invocation outside the channel loop.
///
/// The taps stay unrolled. A loop over them (taps outside, channels inside,
/// one tap's worth of code) compiled twice as fast on lavapipe and ran as
/// fast, but Chromium's SwiftShader took 5x longer to compile it (the page's
/// U²-Netp 20 s -> 111 s, ICNet 10 s -> 57 s with direct-8x16), and the
/// page is where compilation is paid on every visit.
fn direct_body(k: usize, tn: u32, r: u32, sg: bool, per_image_weights: bool) -> String {
    use std::fmt::Write;
    let pad = (k / 2) as i32;
    let mut b = String::new();
    let _ = writeln!(b, "    let dil = i32(P.dil);");
    for j in 0..tn {
        let _ = writeln!(b, "    let p_{j} = min(p0 + {}u, hw - 1u);", j * DIRECT_WGX);
        let _ = writeln!(
            b,
            "    let y_{j} = i32(p_{j} / P.w);\n    let x_{j} = i32(p_{j} % P.w);"
        );
    }
    for t in 0..k * k {
        let (dy, dx) = ((t / k) as i32 - pad, (t % k) as i32 - pad);
        for j in 0..tn {
            if k == 1 {
                let _ = writeln!(b, "    let o_{t}_{j} = p_{j};");
            } else {
                let _ = writeln!(
                    b,
                    "    let yy_{t}_{j} = y_{j} + ({dy}) * dil;\n    let xx_{t}_{j} = x_{j} + ({dx}) * dil;\n    \
                     let m_{t}_{j} = yy_{t}_{j} >= 0 && yy_{t}_{j} < hi && xx_{t}_{j} >= 0 && xx_{t}_{j} < wi;\n    \
                     let o_{t}_{j} = u32(clamp(yy_{t}_{j}, 0, hi - 1) * wi + clamp(xx_{t}_{j}, 0, wi - 1));"
                );
            }
        }
    }
    for q in 0..r {
        let _ = writeln!(b, "    let oc_{q} = min(oc4_0 + {q}u, P.cout4 - 1u);");
        for j in 0..tn {
            let _ = writeln!(b, "    var acc_{j}_{q} = vec4<f32>(0.0);");
        }
    }
    if sg {
        let _ = writeln!(b, "    let oc_l = min(oc4_0 + lane % {r}u, P.cout4 - 1u);");
    }
    let _ = writeln!(b, "    let cin = P.cin;\n    let cout4 = P.cout4;");
    // Only the Winograd GEMMs (1x1) have one weight matrix per image.
    let wbase = if per_image_weights {
        "(img % 16u) * cin * cout4 + "
    } else {
        ""
    };
    let _ = writeln!(b, "    for (var ci = 0u; ci < cin; ci++) {{");
    let _ = writeln!(b, "        let wrow = {wbase}ci * {}u * cout4;", k * k);
    for t in 0..k * k {
        for j in 0..tn {
            let _ = if k == 1 {
                writeln!(
                    b,
                    "        let v_{t}_{j} = vec4<f32>(load_x(img, ci, o_{t}_{j}));"
                )
            } else {
                writeln!(
                    b,
                    "        let v_{t}_{j} = vec4<f32>(select(0.0, load_x(img, ci, o_{t}_{j}), m_{t}_{j}));"
                )
            };
        }
        if sg {
            // Lane l reads block l % r; every lane takes block q from lane q.
            let _ = writeln!(
                b,
                "        let wl_{t} = vec4<f32>(wt[wrow + {t}u * cout4 + oc_l]);"
            );
        }
        for q in 0..r {
            let _ = if sg {
                writeln!(
                    b,
                    "        let w_{t}_{q} = subgroupBroadcast(wl_{t}, {q}u);"
                )
            } else {
                writeln!(
                    b,
                    "        let w_{t}_{q} = vec4<f32>(wt[wrow + {t}u * cout4 + oc_{q}]);"
                )
            };
            for j in 0..tn {
                let _ = writeln!(
                    b,
                    "        acc_{j}_{q} = fma(w_{t}_{q}, v_{t}_{j}, acc_{j}_{q});"
                );
            }
        }
    }
    let _ = writeln!(b, "    }}");
    for q in 0..r {
        for j in 0..tn {
            let _ = writeln!(
                b,
                "    store(img, oc4_0 + {q}u, p0 + {}u, acc_{j}_{q});",
                j * DIRECT_WGX
            );
        }
    }
    b
}

/// Shrinks a direct variant's block to the layer: a workgroup covers
/// `64 * tn` pixels, so at 14x14 or 7x7 a 16-pixel block would leave most
/// invocations idle (measured on lavapipe: VGG conv5 ran at 1.0 GFLOPS with
/// tn = 16 against 4 GFLOPS at 28x28); and `4 * r` channels beyond `cout`
/// would be computed and thrown away (U²-Netp's 16-channel layers under a
/// 32-channel block did twice the work).
pub fn fit_to(variant: ConvVariant, hw: usize, cout: usize) -> ConvVariant {
    match variant {
        ConvVariant::Direct { tn, r, sg } | ConvVariant::Winograd { tn, r, sg } => {
            let need = (hw as u32).div_ceil(DIRECT_WGX).next_power_of_two();
            let cout4 = (cout as u32).div_ceil(4).next_power_of_two();
            ConvVariant::Direct {
                tn: tn.min(need).max(1),
                r: r.min(cout4).max(1),
                sg,
            }
        }
        v => v,
    }
}

pub fn push(g: &mut Graph, variant: ConvVariant, c: &ConvCall) {
    let variant = match variant {
        ConvVariant::Winograd { tn, r, sg } if super::winograd::applies(c) => {
            return super::winograd::push(g, tn, r, sg, c);
        }
        ConvVariant::Winograd { tn, r, sg } => ConvVariant::Direct { tn, r, sg },
        v => v,
    };
    let l = &c.layer;
    let flops = 2.0 * (c.images * c.h * c.w * l.cout * l.cin * l.k * l.k) as f64;
    push_gemm(g, variant, c, flops, false);
}

/// Pushes `c` as one convolution step (reporting `flops`); with
/// `per_image_weights` image `img` uses weight matrix `img % 16`.
pub fn push_gemm(
    g: &mut Graph,
    variant: ConvVariant,
    c: &ConvCall,
    flops: f64,
    per_image_weights: bool,
) {
    let l = &c.layer;
    let hw = c.h * c.w;
    let variant = fit_to(variant, hw, l.cout);
    let cout4 = l.cout.div_ceil(4);
    let (in_off, in_bs, map_bs) = match c.input {
        ConvInput::Plain { off, bs, .. } => (off, bs, 0),
        ConvInput::Concat { .. } => (0, (32 * hw) as u32, hw as u32),
        ConvInput::Pair { ca, .. } => (0, ca * hw as u32, (l.cin - ca as usize) as u32 * hw as u32),
    };
    let (res_off, res_bs) = c
        .residual
        .map(|(_, o, b)| (o as u32, b as u32))
        .unwrap_or((0, 0));
    let params = vec![
        l.cin as u32,
        l.cout as u32,
        c.h as u32,
        c.w as u32,
        cout4 as u32,
        in_off,
        in_bs,
        c.out_off as u32,
        c.out_bs as u32,
        res_off,
        res_bs,
        map_bs,
        l.k as u32,
        l.dilation as u32,
        (l.dilation * (l.k / 2)) as u32,
        0,
    ];
    let mut bindings = vec![Res::C(l.weight), Res::C(l.bias), Res::T(c.out)];
    bindings.extend(input_bindings(&c.input));
    if let Some((t, _, _)) = c.residual {
        bindings.push(Res::T(t));
    }
    let groups = match variant {
        ConvVariant::Direct { tn, r, .. } | ConvVariant::Winograd { tn, r, .. } => [
            (hw as u32).div_ceil(tn * DIRECT_WGX),
            (cout4 as u32).div_ceil(r),
            c.images as u32,
        ],
        ConvVariant::Tiled => [
            (hw as u32).div_ceil(64),
            (cout4 as u32).div_ceil(16),
            c.images as u32,
        ],
    };
    let residual = match (c.residual, c.residual_after_act) {
        (None, _) => Residual::None,
        (Some(_), false) => Residual::BeforeAct,
        (Some(_), true) => Residual::AfterAct,
    };
    g.push(
        kernel_with(variant, l.k, &c.input, residual, c.act, per_image_weights),
        params,
        bindings,
        groups,
        flops,
    );
}

/// CPU reference: PyTorch `conv2d(x, w, b, padding=k/2)` on [images,cin,h,w]
/// with OIHW weights, then optional residual and activation; f64 accumulation.
pub fn cpu_conv(
    x: &[f32],
    images: usize,
    h: usize,
    w: usize,
    cw: &ConvWeights,
    residual: Option<&[f32]>,
    act: Act,
) -> Vec<f32> {
    cpu_conv_dilated(x, images, h, w, cw, 1, residual.map(|r| (r, false)), act)
}

/// [`cpu_conv`] with `dilation` (padding `dilation * (k/2)`) and the residual
/// added before (`false`) or after (`true`) the activation.
#[allow(clippy::too_many_arguments)]
pub fn cpu_conv_dilated(
    x: &[f32],
    images: usize,
    h: usize,
    w: usize,
    cw: &ConvWeights,
    dilation: usize,
    residual: Option<(&[f32], bool)>,
    act: Act,
) -> Vec<f32> {
    let (co, ci, k) = (cw.out_ch, cw.in_ch, cw.k);
    let d = dilation as isize;
    let pad = (k / 2) as isize * d;
    let hw = h * w;
    let mut out = vec![0f32; images * co * hw];
    for n in 0..images {
        for o in 0..co {
            for y in 0..h {
                for xx in 0..w {
                    let mut acc = cw.bias[o] as f64;
                    for i in 0..ci {
                        for ky in 0..k {
                            for kx in 0..k {
                                let sy = y as isize + ky as isize * d - pad;
                                let sx = xx as isize + kx as isize * d - pad;
                                if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                                    continue;
                                }
                                let v =
                                    x[((n * ci + i) * h + sy as usize) * w + sx as usize] as f64;
                                acc += v * cw.weight[((o * ci + i) * k + ky) * k + kx] as f64;
                            }
                        }
                    }
                    let idx = (n * co + o) * hw + y * w + xx;
                    let activate = |v: f64| match act {
                        Act::None => v,
                        Act::Relu => v.max(0.0),
                        Act::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                    };
                    out[idx] = match residual {
                        None => activate(acc),
                        Some((r, false)) => activate(acc + r[idx] as f64),
                        Some((r, true)) => activate(acc) + r[idx] as f64,
                    } as f32;
                }
            }
        }
    }
    out
}

/// CPU reference of the decoder's concatenated input `cat([c*cm, c*s, of])`.
pub fn cpu_concat(
    c: &[f32],
    cm: &[f32],
    s: &[f32],
    of: &[f32],
    images: usize,
    hw: usize,
) -> Vec<f32> {
    let mut x = vec![0f32; images * 96 * hw];
    for n in 0..images {
        for ch in 0..32 {
            for p in 0..hw {
                let cv = c[(n * 32 + ch) * hw + p];
                x[(n * 96 + ch) * hw + p] = cv * cm[n * hw + p];
                x[(n * 96 + 32 + ch) * hw + p] = cv * s[n * hw + p];
                x[(n * 96 + 64 + ch) * hw + p] = of[(n * 32 + ch) * hw + p];
            }
        }
    }
    x
}
