//! Bilinear resize, with PyTorch's two coordinate conventions:
//! align_corners=True (`network.resize` in ICNet) and half-pixel centres
//! (align_corners=False: U²-Netp's `_upsample_like`, ONNX `pytorch_half_pixel`).

use super::{f, linear_groups, Kernel};
use crate::runtime::plan::{Graph, Res, TensorId};

/// How output pixels map to input coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coords {
    /// `src = dst * (in-1)/(out-1)`: corners map to corners.
    AlignCorners,
    /// `src = max((dst + 0.5) * in/out - 0.5, 0)`: pixel centres line up.
    HalfPixel,
}

impl Coords {
    /// The scale, computed in f32 on the host so that it is correctly rounded
    /// (WGSL division is not), exactly as PyTorch computes it.
    pub fn scale(self, input: usize, output: usize) -> f32 {
        match self {
            Coords::AlignCorners => ac_scale(input, output),
            Coords::HalfPixel => input as f32 / output as f32,
        }
    }

    /// Source coordinate of output index `i` (PyTorch's
    /// `area_pixel_compute_source_index`).
    pub fn source(self, input: usize, output: usize, i: usize) -> f32 {
        let s = self.scale(input, output);
        match self {
            Coords::AlignCorners => s * i as f32,
            Coords::HalfPixel => (s * (i as f32 + 0.5) - 0.5).max(0.0),
        }
    }
}

/// A resize of `images x channels` planes, reading/writing slices by offset
/// and batch stride (in words).
#[derive(Clone, Copy, Debug)]
pub struct ResizeCall {
    pub src: TensorId,
    pub dst: TensorId,
    pub images: usize,
    pub channels: usize,
    pub in_hw: (usize, usize),
    pub out_hw: (usize, usize),
    pub in_off: usize,
    pub in_bs: usize,
    pub out_off: usize,
    pub out_bs: usize,
    /// Read `1 - x` (the background SISM).
    pub one_minus: bool,
    /// Write `base + resize(x)`; `base` is contiguous [images, channels, out].
    pub add_base: Option<TensorId>,
    pub coords: Coords,
}

impl ResizeCall {
    /// Resize contiguous [images, channels, in] into contiguous [images, channels, out].
    pub fn simple(
        src: TensorId,
        dst: TensorId,
        images: usize,
        channels: usize,
        in_hw: (usize, usize),
        out_hw: (usize, usize),
    ) -> ResizeCall {
        ResizeCall {
            src,
            dst,
            images,
            channels,
            in_hw,
            out_hw,
            in_off: 0,
            in_bs: channels * in_hw.0 * in_hw.1,
            out_off: 0,
            out_bs: channels * out_hw.0 * out_hw.1,
            one_minus: false,
            add_base: None,
            coords: Coords::AlignCorners,
        }
    }
}

/// PyTorch's align_corners scale, computed in f32 on the host so that it is
/// correctly rounded (WGSL division is not).
pub fn ac_scale(input: usize, output: usize) -> f32 {
    if output > 1 {
        (input as f32 - 1.0) / (output as f32 - 1.0)
    } else {
        0.0
    }
}

pub fn push(g: &mut Graph, c: &ResizeCall) {
    let planes = c.images * c.channels;
    let n = planes * c.out_hw.0 * c.out_hw.1;
    let (base_decl, base_body) = if c.add_base.is_some() {
        (
            super::read_decls(3, &[("base_t", "st")]),
            "    return f32(base_t[idx]) + v;",
        )
    } else {
        (String::new(), "    return v;")
    };
    let kernel = Kernel::new(
        "resize_ac",
        vec![
            ("ONE_MINUS", c.one_minus.to_string()),
            ("HALF_PIXEL", (c.coords == Coords::HalfPixel).to_string()),
            ("BASE_DECL", base_decl),
            ("BASE_BODY", base_body.to_string()),
        ],
    );
    let params = vec![
        planes as u32,
        c.channels as u32,
        c.in_hw.0 as u32,
        c.in_hw.1 as u32,
        c.out_hw.0 as u32,
        c.out_hw.1 as u32,
        c.in_off as u32,
        c.in_bs as u32,
        c.out_off as u32,
        c.out_bs as u32,
        f(c.coords.scale(c.in_hw.0, c.out_hw.0)),
        f(c.coords.scale(c.in_hw.1, c.out_hw.1)),
    ];
    let mut bindings = vec![Res::T(c.src), Res::T(c.dst)];
    if let Some(b) = c.add_base {
        bindings.push(Res::T(b));
    }
    g.push(kernel, params, bindings, linear_groups(n, 256), 0.0);
}

/// CPU reference of `F.interpolate(x, (oh, ow), mode='bilinear', align_corners=True)`
/// on contiguous planes, following PyTorch's CPU kernel step by step.
pub fn cpu_resize_ac(
    x: &[f32],
    planes: usize,
    in_hw: (usize, usize),
    out_hw: (usize, usize),
) -> Vec<f32> {
    cpu_resize(x, planes, in_hw, out_hw, Coords::AlignCorners)
}

/// CPU reference of `F.interpolate(x, (oh, ow), mode='bilinear', align_corners=...)`.
pub fn cpu_resize(
    x: &[f32],
    planes: usize,
    in_hw: (usize, usize),
    out_hw: (usize, usize),
    coords: Coords,
) -> Vec<f32> {
    let (ih, iw) = in_hw;
    let (oh, ow) = out_hw;
    let axis = |inp: usize, out: usize, i: usize| {
        let src = coords.source(inp, out, i);
        let i0 = src.floor() as usize;
        let i1 = if i0 < inp - 1 { i0 + 1 } else { i0 };
        let l1 = (src - i0 as f32).clamp(0.0, 1.0);
        (i0, i1, 1.0 - l1, l1)
    };
    let mut out = vec![0f32; planes * oh * ow];
    for p in 0..planes {
        let b = p * ih * iw;
        for y in 0..oh {
            let (y0, y1, ly0, ly1) = axis(ih, oh, y);
            for xx in 0..ow {
                let (x0, x1, lx0, lx1) = axis(iw, ow, xx);
                let top = x[b + y0 * iw + x0] * lx0 + x[b + y0 * iw + x1] * lx1;
                let bot = x[b + y1 * iw + x0] * lx0 + x[b + y1 * iw + x1] * lx1;
                out[(p * oh + y) * ow + xx] = top * ly0 + bot * ly1;
            }
        }
    }
    out
}
