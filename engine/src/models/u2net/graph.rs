//! U²-Netp and U²-Net as fixed graphs on the part 1 kernels, from the block
//! table of either model (`layers.rs`): the two differ only in channels.
//!
//! Every RSU block is `hxin = conv(x)`, an encoder of `mid`-channel convs with
//! 2x2 ceil-mode pools between levels (or dilations 1/2/4/8 in RSU-4F), a
//! decoder that convolves `cat([deeper, skip])` (read from the two tensors,
//! never copied) after a half-pixel bilinear upsample, and `hx1d + hxin`
//! fused into the last conv's epilogue (added after its ReLU). The six side
//! outputs are written (upsampled where needed) straight into the channels of
//! the fuse tensor, so `outconv` + sigmoid is one more 1x1 conv.

use super::layers::{side_source, Block};
use super::{SaliencyModel, SIZE};
use crate::io::weights::ConvSet;
use crate::kernels::conv::{self, Act, ConvCall, ConvInput, ConvLayer, ConvVariant};
use crate::kernels::pool;
use crate::kernels::resize::{self, Coords, ResizeCall};
use crate::runtime::plan::{Graph, Role, TensorId};

/// The graph plus its input ([images,3,320,320]) and output (d0, [images,320,320]).
pub struct U2Graph {
    pub graph: Graph,
    pub input: TensorId,
    pub output: TensorId,
}

struct Builder<'a> {
    g: Graph,
    w: &'a ConvSet,
    variant: ConvVariant,
    n: usize,
}

/// A feature map: tensor, channels, height, width (contiguous per image).
#[derive(Clone, Copy)]
struct Map {
    t: TensorId,
    c: usize,
    h: usize,
    w: usize,
}

impl Builder<'_> {
    fn layer(&mut self, name: &str, dilation: usize) -> ConvLayer {
        conv::upload(&mut self.g, self.w.conv(name)).dilated(dilation)
    }

    /// ReLU conv of `x` (a map, or a pair of maps read as their concatenation).
    fn conv(&mut self, name: &str, dilation: usize, x: (Map, Option<Map>)) -> Map {
        let (a, b) = x;
        let l = self.layer(name, dilation);
        let (h, w) = (a.h, a.w);
        let y = self
            .g
            .tensor(name.to_string(), self.n * l.cout * h * w, Role::Transient);
        let mut c = ConvCall::simple(l, self.n, h, w, a.t, y, Act::Relu);
        if let Some(b) = b {
            debug_assert_eq!((b.h, b.w), (h, w));
            c.input = ConvInput::Pair {
                a: a.t,
                b: b.t,
                ca: a.c as u32,
            };
        }
        conv::push(&mut self.g, self.variant, &c);
        Map {
            t: y,
            c: l.cout,
            h,
            w,
        }
    }

    fn pool(&mut self, x: Map, name: String) -> Map {
        let (h, w) = (pool::out_size(x.h, true), pool::out_size(x.w, true));
        let y = self.g.tensor(name, self.n * x.c * h * w, Role::Transient);
        pool::push(&mut self.g, x.t, y, self.n * x.c, x.h, x.w, true);
        Map { t: y, c: x.c, h, w }
    }

    /// `_upsample_like(x, like)`: bilinear, half-pixel centres.
    fn upsample_like(&mut self, x: Map, like: Map, name: String) -> Map {
        if (x.h, x.w) == (like.h, like.w) {
            return x;
        }
        let y = self
            .g
            .tensor(name, self.n * x.c * like.h * like.w, Role::Transient);
        let rc = ResizeCall {
            coords: Coords::HalfPixel,
            ..ResizeCall::simple(x.t, y, self.n, x.c, (x.h, x.w), (like.h, like.w))
        };
        resize::push(&mut self.g, &rc);
        Map {
            t: y,
            c: x.c,
            h: like.h,
            w: like.w,
        }
    }

    /// One RSU block on `x`; returns `hx1d + hxin` (`b.out` channels, input size).
    fn rsu(&mut self, b: &Block, x: (Map, Option<Map>)) -> Map {
        let name = |layer: &str| format!("{}.{layer}", b.name);
        let l = b.height;
        let hxin = self.conv(&name("rebnconvin"), 1, x);
        // enc[i - 1] = hx_i
        let mut enc = vec![self.conv(&name("rebnconv1"), 1, (hxin, None))];
        for i in 2..=l {
            let prev = enc[i - 2];
            let input = if !b.dilated && i < l {
                self.pool(prev, name(&format!("pool{}", i - 1)))
            } else {
                prev
            };
            enc.push(self.conv(
                &name(&format!("rebnconv{i}")),
                b.enc_dilation(i),
                (input, None),
            ));
        }
        let mut d = enc[l - 1]; // the bottom, hx_L
        for i in (1..l).rev() {
            let skip = enc[i - 1];
            let up = self.upsample_like(d, skip, name(&format!("rebnconv{}d.up", i + 1)));
            let layer = name(&format!("rebnconv{i}d"));
            if i > 1 {
                d = self.conv(&layer, b.dec_dilation(i), (up, Some(skip)));
            } else {
                // relu(conv(cat)) + hxin, in one epilogue.
                let cl = self.layer(&layer, b.dec_dilation(1));
                let y = self.g.tensor(
                    format!("{}.out", b.name),
                    self.n * b.out * skip.h * skip.w,
                    Role::Transient,
                );
                let mut c = ConvCall::simple(cl, self.n, skip.h, skip.w, up.t, y, Act::Relu);
                c.input = ConvInput::Pair {
                    a: up.t,
                    b: skip.t,
                    ca: up.c as u32,
                };
                c.residual = Some((hxin.t, 0, b.out * skip.h * skip.w));
                c.residual_after_act = true;
                conv::push(&mut self.g, self.variant, &c);
                d = Map {
                    t: y,
                    c: b.out,
                    h: skip.h,
                    w: skip.w,
                };
            }
        }
        d
    }
}

/// Builds `model` for `images` photos at 320x320. `w` must hold the model's
/// convolutions (checked against [`SaliencyModel::shapes`] at load).
pub fn build(model: SaliencyModel, w: &ConvSet, images: usize, variant: ConvVariant) -> U2Graph {
    let blocks = model.blocks();
    let mut b = Builder {
        g: Graph::new(),
        w,
        variant,
        n: images,
    };
    let hw = SIZE * SIZE;
    let input = b.g.tensor("input", images * 3 * hw, Role::Input);
    let x = Map {
        t: input,
        c: 3,
        h: SIZE,
        w: SIZE,
    };
    // Encoder: stage1..stage6 with pools between them.
    let mut stages: Vec<Map> = Vec::new();
    let mut cur = x;
    for (i, blk) in blocks[..6].iter().enumerate() {
        b.g.stage(&format!("{} {}", model.id(), blk.name));
        if i > 0 {
            cur = b.pool(stages[i - 1], format!("pool{i}{}", i + 1));
        }
        let out = b.rsu(blk, (cur, None));
        stages.push(out);
    }
    // Decoder: stage5d..stage1d on cat([upsampled deeper, encoder stage]).
    let mut dec: Vec<Map> = vec![stages[5]]; // hx6 is the deepest "decoder" output
    for (k, blk) in blocks[6..].iter().enumerate() {
        b.g.stage(&format!("{} {}", model.id(), blk.name));
        let skip = stages[4 - k];
        let deeper = *dec.last().expect("deeper");
        let up = b.upsample_like(deeper, skip, format!("{}.in.up", blk.name));
        let out = b.rsu(blk, (up, Some(skip)));
        dec.push(out);
    }
    // dec = [hx6, hx5d, hx4d, hx3d, hx2d, hx1d]; side i reads hx{i}d (hx6 for 6).
    b.g.stage(&format!("{} fuse", model.id()));
    let fuse = b.g.tensor("fuse", images * 6 * hw, Role::Transient);
    for i in 1..=6 {
        let src = dec[6 - i];
        debug_assert_eq!(src.c, blocks[side_source(i)].out);
        let l = b.layer(&format!("side{i}"), 1);
        let mut c = ConvCall::simple(l, images, src.h, src.w, src.t, fuse, Act::None);
        if i == 1 {
            c.out_off = 0;
            c.out_bs = 6 * hw;
            conv::push(&mut b.g, variant, &c);
        } else {
            let side =
                b.g.tensor(format!("side{i}"), images * src.h * src.w, Role::Transient);
            c.out = side;
            conv::push(&mut b.g, variant, &c);
            let rc = ResizeCall {
                out_off: (i - 1) * hw,
                out_bs: 6 * hw,
                coords: Coords::HalfPixel,
                ..ResizeCall::simple(side, fuse, images, 1, (src.h, src.w), (SIZE, SIZE))
            };
            resize::push(&mut b.g, &rc);
        }
    }
    let output = b.g.tensor("d0", images * hw, Role::Output);
    let l = b.layer("outconv", 1);
    conv::push(
        &mut b.g,
        variant,
        &ConvCall::simple(l, images, SIZE, SIZE, fuse, output, Act::Sigmoid),
    );
    U2Graph {
        graph: b.g,
        input,
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::super::zero_weights;
    use super::*;

    /// Both models build from their block tables alone (no GPU needed), with
    /// the same dispatches and tensors up to channels. The largest tensor is
    /// 64 channels at 320x320 (26 MiB) in both, so a browser's 128 MiB
    /// binding limit (`--max-binding-mib 128`) holds with room to spare; the
    /// FLOPs are what `icnet bench` reports.
    #[test]
    fn both_models_build_within_binding_limits() {
        let v = ConvVariant::Direct {
            tn: 4,
            r: 8,
            sg: false,
        };
        let mut steps = Vec::new();
        for (model, gflop) in [(SaliencyModel::U2Netp, 39.5), (SaliencyModel::U2Net, 117.2)] {
            let g = build(model, &zero_weights(model), 1, v);
            let biggest = g.graph.tensors.iter().map(|t| t.words).max().unwrap();
            assert_eq!(biggest, 64 * SIZE * SIZE, "{model:?}");
            assert!(4 * biggest as u64 <= 128 << 20);
            let flops: f64 = g.graph.steps.iter().map(|s| s.flops).sum();
            println!(
                "{model:?}: {:.1} GFLOP, {} dispatches",
                flops / 1e9,
                g.graph.steps.len()
            );
            assert!((flops / 1e9 - gflop).abs() < 0.1, "{model:?}: {flops}");
            let stage = &g.graph.stages[1]; // [0] is "main"
            assert!(stage.starts_with(model.id()), "{stage}");
            steps.push(g.graph.steps.len());
        }
        assert_eq!(steps[0], steps[1], "the same dispatches");
    }
}
