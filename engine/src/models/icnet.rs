//! ICNet as a fixed graph (SPEC 2), built for one group size and chunk size.
//!
//! Schedule (SPEC 8.3): images interact only inside the three co-saliency
//! modules, so the graph has three phases:
//! 1. per chunk of images: VGG16 and the channel compressions; the compressed
//!    features go into small group-wide tensors, the decoder's skip features
//!    (conv1_2, conv2_2, conv3_3) into per-chunk tensors;
//! 2. the whole group: Co6, Co5, Co4, the merges and the coarse map;
//! 3. per chunk: the three decoder blocks, writing the final maps into the
//!    group's output tensor.
//!
//! Chunks bound the largest tensors (the 96-channel 224x224 decoder
//! activations) below the adapter's per-binding limit; the liveness planner
//! then reuses one chunk's working buffers for the next.

use std::collections::HashMap;
use std::ops::Range;

use crate::io::weights::Weights;
use crate::kernels::conv::{self, Act, ConvCall, ConvInput, ConvLayer, ConvVariant};
use crate::kernels::cosal;
use crate::kernels::gemm::{self, ALoad, GemmCall};
use crate::kernels::pool;
use crate::kernels::resize::{self, ResizeCall};
use crate::runtime::plan::{ConstId, Graph, Role, TensorId};

/// Network input and output side length.
pub const S: usize = 224;
const SS: usize = S * S;

#[derive(Clone, Debug)]
pub struct NetworkOptions {
    pub images: usize,
    /// Images per chunk in the per-image phases.
    pub chunk: usize,
    pub variant: ConvVariant,
    /// Take the sort permutation of every co-saliency module as an input
    /// (to compare with a reference permutation, SPEC 9) instead of sorting.
    pub inject_ranks: bool,
    /// Keep and expose the named intermediates (`probes`).
    pub keep_intermediates: bool,
}

/// The graph plus the handles a caller needs.
pub struct Network {
    pub graph: Graph,
    /// Per chunk: its input tensor ([c,3,224,224]) and the images it holds.
    pub image_inputs: Vec<(TensorId, Range<usize>)>,
    /// [N,224,224] SISMs in [0,1].
    pub sism_input: TensorId,
    /// [N,224,224] final maps.
    pub output: TensorId,
    /// When `inject_ranks`: "Co6"/"Co5"/"Co4" -> [2N,hw] u32 ranks, z = 2n + (0 fore, 1 back).
    pub rank_inputs: Vec<(String, TensorId)>,
    /// When `keep_intermediates`: named intermediates.
    pub probes: Vec<(String, TensorId)>,
}

struct Builder<'a> {
    g: Graph,
    w: &'a Weights,
    layers: HashMap<String, ConvLayer>,
    raw: HashMap<String, (ConstId, ConstId)>,
    variant: ConvVariant,
    n: usize,
    opts: &'a NetworkOptions,
    rank_inputs: Vec<(String, TensorId)>,
    probes: Vec<(String, TensorId)>,
}

impl<'a> Builder<'a> {
    fn layer(&mut self, prefix: &str) -> ConvLayer {
        if let Some(l) = self.layers.get(prefix) {
            return *l;
        }
        let l = conv::upload(&mut self.g, self.w.conv(prefix));
        self.layers.insert(prefix.to_string(), l);
        l
    }

    fn t(&mut self, name: String, words: usize) -> TensorId {
        self.g.tensor(name, words, Role::Transient)
    }

    fn probe(&mut self, name: &str, t: TensorId) {
        if self.opts.keep_intermediates {
            self.g.keep(t);
            self.probes.push((name.to_string(), t));
        }
    }

    /// Plain convolution of a whole contiguous tensor into a new one.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        prefix: &str,
        x: TensorId,
        images: usize,
        h: usize,
        w: usize,
        act: Act,
        tag: &str,
    ) -> TensorId {
        let l = self.layer(prefix);
        let y = self.t(format!("{prefix}{tag}"), images * l.cout * h * w);
        self.conv_into(prefix, x, images, h, w, act, y, 0);
        y
    }

    /// Convolution written into a slice of `out` (images starting at `first`).
    #[allow(clippy::too_many_arguments)]
    fn conv_into(
        &mut self,
        prefix: &str,
        x: TensorId,
        images: usize,
        h: usize,
        w: usize,
        act: Act,
        out: TensorId,
        first: usize,
    ) {
        let l = self.layer(prefix);
        let mut c = ConvCall::simple(l, images, h, w, x, out, act);
        c.out_off = first * l.cout * h * w;
        conv::push(&mut self.g, self.variant, &c);
    }

    /// `Res(x) = ReLU(x + conv3(ReLU(BN(conv0(x)))))`, BN folded into conv0.
    fn res(
        &mut self,
        prefix: &str,
        x: TensorId,
        images: usize,
        h: usize,
        w: usize,
        tag: &str,
    ) -> TensorId {
        let r = self.conv(&format!("{prefix}.conv.0"), x, images, h, w, Act::Relu, tag);
        let l = self.layer(&format!("{prefix}.conv.3"));
        let y = self.t(format!("{prefix}{tag}"), images * l.cout * h * w);
        let mut c = ConvCall::simple(l, images, h, w, r, y, Act::Relu);
        c.residual = Some((x, 0, l.cout * h * w));
        conv::push(&mut self.g, self.variant, &c);
        y
    }

    fn pool(&mut self, x: TensorId, planes: usize, h: usize, w: usize, name: String) -> TensorId {
        let y = self.t(name, planes * (h / 2) * (w / 2));
        pool::push(&mut self.g, x, y, planes, h, w, false);
        y
    }

    /// Phase 1 for one chunk. Returns (conv1_2, conv2_2, conv3_3).
    fn backbone(
        &mut self,
        k: usize,
        imgs: &Range<usize>,
        x: TensorId,
        g4: TensorId,
        g5: TensorId,
        g6: TensorId,
    ) -> [TensorId; 3] {
        let c = imgs.len();
        let tag = format!("#{k}");
        let t = &tag;
        self.g.stage("vgg conv1");
        let a = self.conv("vgg.vgg.0", x, c, 224, 224, Act::Relu, t);
        let conv1_2 = self.conv("vgg.vgg.2", a, c, 224, 224, Act::Relu, t);
        self.g.stage("vgg conv2");
        let p = self.pool(conv1_2, c * 64, 224, 224, format!("pool1{t}"));
        let a = self.conv("vgg.vgg.5", p, c, 112, 112, Act::Relu, t);
        let conv2_2 = self.conv("vgg.vgg.7", a, c, 112, 112, Act::Relu, t);
        self.g.stage("vgg conv3");
        let p = self.pool(conv2_2, c * 128, 112, 112, format!("pool2{t}"));
        let a = self.conv("vgg.vgg.10", p, c, 56, 56, Act::Relu, t);
        let a = self.conv("vgg.vgg.12", a, c, 56, 56, Act::Relu, t);
        let conv3_3 = self.conv("vgg.vgg.14", a, c, 56, 56, Act::Relu, t);
        self.g.stage("vgg conv4");
        let p = self.pool(conv3_3, c * 256, 56, 56, format!("pool3{t}"));
        let a = self.conv("vgg.vgg.17", p, c, 28, 28, Act::Relu, t);
        let a = self.conv("vgg.vgg.19", a, c, 28, 28, Act::Relu, t);
        let conv4_3 = self.conv("vgg.vgg.21", a, c, 28, 28, Act::Relu, t);
        self.g.stage("vgg conv5");
        let p = self.pool(conv4_3, c * 512, 28, 28, format!("pool4{t}"));
        let a = self.conv("vgg.vgg.24", p, c, 14, 14, Act::Relu, t);
        let a = self.conv("vgg.vgg.26", a, c, 14, 14, Act::Relu, t);
        let conv5_3 = self.conv("vgg.vgg.28", a, c, 14, 14, Act::Relu, t);
        self.g.stage("compress");
        self.conv_into("conv4_cmprs", conv4_3, c, 28, 28, Act::None, g4, imgs.start);
        self.conv_into("conv5_cmprs", conv5_3, c, 14, 14, Act::None, g5, imgs.start);
        let p = self.pool(conv5_3, c * 512, 14, 14, format!("pool5{t}"));
        let a = self.conv("conv6_cmprs.1", p, c, 7, 7, Act::None, t);
        let a = self.conv("conv6_cmprs.2", a, c, 7, 7, Act::Relu, t);
        let a = self.conv("conv6_cmprs.5", a, c, 7, 7, Act::Relu, t);
        self.conv_into("conv6_cmprs.8", a, c, 7, 7, Act::None, g6, imgs.start);
        [conv1_2, conv2_2, conv3_3]
    }

    /// One Cosal_Module (SPEC 2.4-2.5) over the whole group.
    fn cosal_module(
        &mut self,
        name: &str,
        feats: TensorId,
        channels: usize,
        h: usize,
        w: usize,
        sism: TensorId,
    ) -> TensorId {
        let n = self.n;
        let hw = h * w;
        self.g.stage(name);
        // Foreground and background SISMs at this size, interleaved z = 2n + b.
        let s2 = self.t(format!("{name}.s"), 2 * n * hw);
        for b in 0..2 {
            let mut rc = ResizeCall::simple(sism, s2, n, 1, (S, S), (h, w));
            rc.out_off = b * hw;
            rc.out_bs = 2 * hw;
            rc.one_minus = b == 1;
            resize::push(&mut self.g, &rc);
        }
        let nf = self.t(format!("{name}.nf"), n * channels * hw);
        cosal::push_l2norm(&mut self.g, feats, 0, channels * hw, nf, n, channels, hw);
        let siv = self.t(format!("{name}.siv"), 2 * n * channels);
        cosal::push_siv(&mut self.g, nf, s2, siv, n, channels, h, w, 2);
        let corr = self.t(format!("{name}.corr"), 2 * n * n * hw);
        cosal::push_corr(&mut self.g, nf, siv, corr, n, channels, hw, 2);
        let csa = self.t(format!("{name}.csa"), 2 * n * hw);
        cosal::push_csa(&mut self.g, corr, csa, n, hw, 2);
        self.probe(&format!("{name}.csa"), csa);
        let rank = if self.opts.inject_ranks {
            let r = self
                .g
                .tensor_u32(format!("{name}.rank"), 2 * n * hw, Role::Input);
            self.rank_inputs.push((name.to_string(), r));
            r
        } else {
            let r = self
                .g
                .tensor_u32(format!("{name}.rank"), 2 * n * hw, Role::Transient);
            cosal::push_rank(&mut self.g, csa, r, 2 * n, hw);
            self.probe(&format!("{name}.rank"), r);
            r
        };
        // conv0(RSCF * CSA) = b + CSA . ((W[:, rank] . NF^T) . NF): RSCF and SCF never exist.
        let prefix = format!("{name}.cosal_feat.conv.0");
        let (wc, bc) = match self.raw.get(&prefix) {
            Some(v) => *v,
            None => {
                let cw = self.w.conv(&prefix);
                let v = (
                    self.g.constant_f32(&cw.weight),
                    self.g.constant_f32(&cw.bias),
                );
                self.raw.insert(prefix.clone(), v);
                v
            }
        };
        let a = self.t(format!("{name}.a"), 2 * n * 128 * channels);
        gemm::push(
            &mut self.g,
            &GemmCall {
                batches: 2 * n,
                m: 128,
                n: channels,
                k: hw,
                a: ALoad::Gather { w: wc, rank },
                b: nf,
                b_off: 0,
                b_div: 2,
                b_bs: channels * hw,
                b_ks: 1,
                b_js: hw,
                c: a,
                scale: None,
                bias: None,
            },
        );
        let x0 = self.t(format!("{name}.x0"), 2 * n * 128 * hw);
        gemm::push(
            &mut self.g,
            &GemmCall {
                batches: 2 * n,
                m: 128,
                n: hw,
                k: channels,
                a: ALoad::Plain {
                    t: a,
                    off: 0,
                    bs: 128 * channels,
                    is: channels,
                    ks: 1,
                },
                b: nf,
                b_off: 0,
                b_div: 2,
                b_bs: channels * hw,
                b_ks: hw,
                b_js: 1,
                c: x0,
                scale: Some(csa),
                bias: Some(bc),
            },
        );
        // Res over 2N branches; [2N,128,hw] is the [N,256,hw] cat([fore, back]).
        let both = self.res(&format!("{name}.cosal_feat.conv.1"), x0, 2 * n, h, w, "");
        let y = self.conv(&format!("{name}.conv.0"), both, n, h, w, Act::None, "");
        self.res(&format!("{name}.conv.1"), y, n, h, w, "")
    }

    /// One Decoder_Block (SPEC 2.7) for a chunk; returns `new` (and writes the
    /// prediction into `pred_out` for refine_1).
    #[allow(clippy::too_many_arguments)]
    fn decoder(
        &mut self,
        name: &str,
        k: usize,
        imgs: &Range<usize>,
        low: TensorId,
        size: usize,
        cm4: TensorId,
        sism: TensorId,
        old: (TensorId, usize, usize), // tensor, offset (words), side
        pred_out: Option<TensorId>,
    ) -> TensorId {
        let c = imgs.len();
        let tag = format!("#{k}");
        let hw = size * size;
        self.g.stage(name);
        let cc = self.conv(
            &format!("{name}.cmprs"),
            low,
            c,
            size,
            size,
            Act::None,
            &tag,
        );
        let cm = self.t(format!("{name}.cm{tag}"), c * hw);
        let mut rc = ResizeCall::simple(cm4, cm, c, 1, (28, 28), (size, size));
        rc.in_off = imgs.start * 784;
        resize::push(&mut self.g, &rc);
        let s = self.t(format!("{name}.s{tag}"), c * hw);
        let mut rc = ResizeCall::simple(sism, s, c, 1, (S, S), (size, size));
        rc.in_off = imgs.start * SS;
        resize::push(&mut self.g, &rc);
        let of = self.t(format!("{name}.of{tag}"), c * 32 * hw);
        let mut rc = ResizeCall::simple(old.0, of, c, 32, (old.2, old.2), (size, size));
        rc.in_off = old.1;
        resize::push(&mut self.g, &rc);
        let l0 = self.layer(&format!("{name}.merge_conv.0"));
        let m = self.t(format!("{name}.merge_conv.0{tag}"), c * 96 * hw);
        conv::push(
            &mut self.g,
            self.variant,
            &ConvCall {
                layer: l0,
                images: c,
                h: size,
                w: size,
                input: ConvInput::Concat { c: cc, cm, s, of },
                out: m,
                out_off: 0,
                out_bs: 96 * hw,
                residual: None,
                residual_after_act: false,
                act: Act::Relu,
            },
        );
        let new = self.conv(
            &format!("{name}.merge_conv.3"),
            m,
            c,
            size,
            size,
            Act::Relu,
            &tag,
        );
        if let Some(out) = pred_out {
            self.conv_into(
                &format!("{name}.pred.pred.0"),
                new,
                c,
                size,
                size,
                Act::Sigmoid,
                out,
                imgs.start,
            );
        }
        new
    }
}

/// Splits `n` images into chunks of at most `chunk`.
pub fn chunks(n: usize, chunk: usize) -> Vec<Range<usize>> {
    let chunk = chunk.max(1);
    (0..n.div_ceil(chunk))
        .map(|k| k * chunk..((k + 1) * chunk).min(n))
        .collect()
}

pub fn build(weights: &Weights, opts: &NetworkOptions) -> Network {
    let n = opts.images;
    let mut b = Builder {
        g: Graph::new(),
        w: weights,
        layers: HashMap::new(),
        raw: HashMap::new(),
        variant: opts.variant,
        n,
        opts,
        rank_inputs: Vec::new(),
        probes: Vec::new(),
    };
    let parts = chunks(n, opts.chunk);
    let sism = b.g.tensor("sism", n * SS, Role::Input);
    let output = b.g.tensor("cosal_map_1", n * SS, Role::Output);
    let g4 = b.t("conv4_cmprs".into(), n * 256 * 784);
    let g5 = b.t("conv5_cmprs".into(), n * 256 * 196);
    let g6 = b.t("conv6_cmprs".into(), n * 128 * 49);
    b.probe("conv6_cmprs", g6);

    let mut image_inputs = Vec::new();
    let mut skips = Vec::new();
    for (k, r) in parts.iter().enumerate() {
        let x =
            b.g.tensor(format!("img#{k}"), r.len() * 3 * SS, Role::Input);
        image_inputs.push((x, r.clone()));
        skips.push(b.backbone(k, r, x, g4, g5, g6));
    }

    let cf6 = b.cosal_module("Co6", g6, 128, 7, 7, sism);
    let cf5 = b.cosal_module("Co5", g5, 256, 14, 14, sism);
    let cf4 = b.cosal_module("Co4", g4, 256, 28, 28, sism);
    b.probe("cosal_feat_6", cf6);
    b.probe("cosal_feat_5", cf5);
    b.probe("cosal_feat_4", cf4);

    b.g.stage("merge");
    let sum56 = b.t("sum56".into(), n * 128 * 196);
    let mut rc = ResizeCall::simple(cf6, sum56, n, 128, (7, 7), (14, 14));
    rc.add_base = Some(cf5);
    resize::push(&mut b.g, &rc);
    let feat_56 = b.res("merge_co_56", sum56, n, 14, 14, "");
    let sum45 = b.t("sum45".into(), n * 128 * 784);
    let mut rc = ResizeCall::simple(feat_56, sum45, n, 128, (14, 14), (28, 28));
    rc.add_base = Some(cf4);
    resize::push(&mut b.g, &rc);
    let r45 = b.res("merge_co_45.0", sum45, n, 28, 28, "");
    let feat_45 = b.conv("merge_co_45.1", r45, n, 28, 28, Act::None, "");
    let cm4 = b.conv("get_pred_4.pred.0", feat_45, n, 28, 28, Act::Sigmoid, "");
    b.probe("cosal_map_4", cm4);

    for (k, r) in parts.iter().enumerate() {
        let [c12, c22, c33] = skips[k];
        let f34 = b.decoder(
            "refine_3",
            k,
            r,
            c33,
            56,
            cm4,
            sism,
            (feat_45, r.start * 32 * 784, 28),
            None,
        );
        let f23 = b.decoder("refine_2", k, r, c22, 112, cm4, sism, (f34, 0, 56), None);
        b.decoder(
            "refine_1",
            k,
            r,
            c12,
            224,
            cm4,
            sism,
            (f23, 0, 112),
            Some(output),
        );
    }

    Network {
        graph: b.g,
        image_inputs,
        sism_input: sism,
        output,
        rank_inputs: b.rank_inputs,
        probes: b.probes,
    }
}

/// Bytes of the largest per-image tensor in the per-chunk phases (a
/// 96-channel 224x224 decoder activation); the chunk size is bounded so that
/// `chunk * this` fits one storage binding.
pub const LARGEST_PER_IMAGE_BYTES: u64 = 96 * SS as u64 * 4;

/// Approximate working set of one image in a chunk (decoder at 224x224:
/// cmprs 32 + maps 2 + resized old feats 32 + merge 96 + new 32 channels,
/// plus conv1 64 + 64): what a memory budget is divided by.
pub const CHUNK_BYTES_PER_IMAGE: u64 = (32 + 2 + 32 + 96 + 32 + 128) * SS as u64 * 4;
