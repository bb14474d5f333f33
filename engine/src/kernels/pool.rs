//! 2x2 / stride 2 max-pool (VGG16 and conv6_cmprs).

use super::{linear_groups, Kernel};
use crate::plan::{Graph, Res, TensorId};

/// Pools every plane of `src` ([planes, h, w]) into `dst` ([planes, h/2, w/2]).
pub fn push(g: &mut Graph, src: TensorId, dst: TensorId, planes: usize, h: usize, w: usize) {
    let n = planes * (h / 2) * (w / 2);
    g.push(
        Kernel::new("maxpool", vec![]),
        vec![planes as u32, h as u32, w as u32, 0],
        vec![Res::T(src), Res::T(dst)],
        linear_groups(n, 256),
        0.0,
    );
}

/// CPU reference: `nn.MaxPool2d(2, 2)` (floor mode).
pub fn cpu_maxpool(x: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0f32; planes * oh * ow];
    for p in 0..planes {
        for y in 0..oh {
            for xx in 0..ow {
                let b = p * h * w + 2 * y * w + 2 * xx;
                out[(p * oh + y) * ow + xx] = x[b].max(x[b + 1]).max(x[b + w]).max(x[b + w + 1]);
            }
        }
    }
    out
}
