//! 2x2 / stride 2 max-pool: floor mode (VGG16, conv6_cmprs) and ceil mode
//! (U²-Netp), one kernel for both because the output size is a parameter and
//! the window is clipped to the input.

use super::{linear_groups, Kernel};
use crate::runtime::plan::{Graph, Res, TensorId};

/// Output side of a 2x2 / stride 2 pool over `n` pixels.
pub fn out_size(n: usize, ceil: bool) -> usize {
    if ceil {
        n.div_ceil(2)
    } else {
        n / 2
    }
}

/// Pools every plane of `src` ([planes, h, w]) into `dst` ([planes, oh, ow]).
pub fn push(
    g: &mut Graph,
    src: TensorId,
    dst: TensorId,
    planes: usize,
    h: usize,
    w: usize,
    ceil: bool,
) {
    push_from(g, src, 0, dst, planes, h, w, ceil)
}

/// [`push`] reading the planes from word `src_off` of `src` (a chunk's slice
/// of a group-wide tensor).
#[allow(clippy::too_many_arguments)]
pub fn push_from(
    g: &mut Graph,
    src: TensorId,
    src_off: usize,
    dst: TensorId,
    planes: usize,
    h: usize,
    w: usize,
    ceil: bool,
) {
    let (oh, ow) = (out_size(h, ceil), out_size(w, ceil));
    g.push(
        Kernel::new("maxpool", vec![]),
        vec![
            planes as u32,
            h as u32,
            w as u32,
            oh as u32,
            ow as u32,
            src_off as u32,
            0,
            0,
        ],
        vec![Res::T(src), Res::T(dst)],
        linear_groups(planes * oh * ow, 256),
        0.0,
    );
}

/// CPU reference: `nn.MaxPool2d(2, 2, ceil_mode=ceil)`.
pub fn cpu_maxpool(x: &[f32], planes: usize, h: usize, w: usize, ceil: bool) -> Vec<f32> {
    let (oh, ow) = (out_size(h, ceil), out_size(w, ceil));
    let mut out = vec![0f32; planes * oh * ow];
    for p in 0..planes {
        for y in 0..oh {
            for xx in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for sy in 2 * y..(2 * y + 2).min(h) {
                    for sx in 2 * xx..(2 * xx + 2).min(w) {
                        m = m.max(x[p * h * w + sy * w + sx]);
                    }
                }
                out[(p * oh + y) * ow + xx] = m;
            }
        }
    }
    out
}
