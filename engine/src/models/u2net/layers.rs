//! The two U²-Net architectures as data: every convolution in forward order,
//! with the name its tensors carry in `models/u2netp.safetensors` and
//! `models/u2net.safetensors`.
//!
//! The order is the order in which PyTorch executes the convolutions (and so
//! the order of the Conv nodes in the exported ONNX graph): the model fetch
//! uses it to name the ONNX graph's anonymous, BatchNorm-folded weights, and
//! the graph builder uses it to find them again.
//!
//! Both models are the same eleven RSU blocks with the same names, pools and
//! upsamplings; they differ only in channels. U²-Netp has 16 mid and 64 out
//! channels everywhere; U²-Net widens them with depth (the official
//! `u2net.py`). So a model is its block table, and everything else (the
//! convolutions, the graph, the checks of `icnet fetch-models`) follows from
//! it.

/// One 3x3 (or the final 1x1) convolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Tensor name prefix: `<name>.weight` `[cout,cin,k,k]`, `<name>.bias` `[cout]`.
    pub name: String,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub dilation: usize,
}

/// An RSU block: `height` is L in RSU-L (7, 6, 5, 4); `dilated` is RSU-4F,
/// which replaces pooling by dilations 1, 2, 4, 8. `mid` channels inside,
/// `out` channels for `hxin` and the block's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub name: &'static str,
    pub height: usize,
    pub dilated: bool,
    pub cin: usize,
    pub mid: usize,
    pub out: usize,
}

const fn rsu(name: &'static str, height: usize, cin: usize, mid: usize, out: usize) -> Block {
    Block {
        name,
        height,
        dilated: false,
        cin,
        mid,
        out,
    }
}

const fn rsu4f(name: &'static str, cin: usize, mid: usize, out: usize) -> Block {
    Block {
        dilated: true,
        ..rsu(name, 4, cin, mid, out)
    }
}

/// U²-Netp's blocks in forward order (six encoder stages, five decoder
/// stages): the "p" model, 16 mid and 64 out channels in every block.
pub const U2NETP_BLOCKS: [Block; 11] = [
    rsu("stage1", 7, 3, 16, 64),
    rsu("stage2", 6, 64, 16, 64),
    rsu("stage3", 5, 64, 16, 64),
    rsu("stage4", 4, 64, 16, 64),
    rsu4f("stage5", 64, 16, 64),
    rsu4f("stage6", 64, 16, 64),
    rsu4f("stage5d", 128, 16, 64),
    rsu("stage4d", 4, 128, 16, 64),
    rsu("stage3d", 5, 128, 16, 64),
    rsu("stage2d", 6, 128, 16, 64),
    rsu("stage1d", 7, 128, 16, 64),
];

/// U²-Net's blocks in forward order: `(in_ch, mid_ch, out_ch)` as in the
/// official `u2net.py` (`U2NET.__init__`).
pub const U2NET_BLOCKS: [Block; 11] = [
    rsu("stage1", 7, 3, 32, 64),
    rsu("stage2", 6, 64, 32, 128),
    rsu("stage3", 5, 128, 64, 256),
    rsu("stage4", 4, 256, 128, 512),
    rsu4f("stage5", 512, 256, 512),
    rsu4f("stage6", 512, 256, 512),
    rsu4f("stage5d", 1024, 256, 512),
    rsu("stage4d", 4, 1024, 128, 256),
    rsu("stage3d", 5, 512, 64, 128),
    rsu("stage2d", 6, 256, 32, 64),
    rsu("stage1d", 7, 128, 16, 64),
];

/// The block whose output side output `i` (1..=6) reads: `stage{i}d`, and
/// the encoder's `stage6` for side 6 (the bottom has no decoder block).
pub fn side_source(i: usize) -> usize {
    assert!((1..=6).contains(&i), "side{i}");
    if i == 6 {
        5
    } else {
        11 - i
    }
}

impl Block {
    /// Dilation of encoder layer `i` (1-based; layer `height` is the bottom).
    pub fn enc_dilation(&self, i: usize) -> usize {
        if self.dilated {
            1 << (i - 1)
        } else if i == self.height {
            2
        } else {
            1
        }
    }

    /// Dilation of decoder layer `i`d (1-based, i < height).
    pub fn dec_dilation(&self, i: usize) -> usize {
        if self.dilated {
            1 << (i - 1)
        } else {
            1
        }
    }

    /// The block's convolutions in forward order:
    /// `rebnconvin`, `rebnconv1..L`, `rebnconv(L-1)d..1d`.
    pub fn convs(&self) -> Vec<ConvSpec> {
        let (l, mid, out) = (self.height, self.mid, self.out);
        let conv = |layer: String, cin, cout, dilation| ConvSpec {
            name: format!("{}.{layer}", self.name),
            cin,
            cout,
            k: 3,
            dilation,
        };
        let mut v = vec![conv("rebnconvin".into(), self.cin, out, 1)];
        for i in 1..=l {
            let cin = if i == 1 { out } else { mid };
            v.push(conv(format!("rebnconv{i}"), cin, mid, self.enc_dilation(i)));
        }
        for i in (1..l).rev() {
            let cout = if i == 1 { out } else { mid };
            v.push(conv(
                format!("rebnconv{i}d"),
                2 * mid,
                cout,
                self.dec_dilation(i),
            ));
        }
        v
    }
}

/// All 119 convolutions of a model in forward order: the blocks,
/// `side1..side6` (3x3, the channels of the block each reads -> 1) and
/// `outconv` (1x1, 6 -> 1).
pub fn convs(blocks: &[Block; 11]) -> Vec<ConvSpec> {
    let mut v: Vec<ConvSpec> = blocks.iter().flat_map(|b| b.convs()).collect();
    for i in 1..=6 {
        v.push(ConvSpec {
            name: format!("side{i}"),
            cin: blocks[side_source(i)].out,
            cout: 1,
            k: 3,
            dilation: 1,
        });
    }
    v.push(ConvSpec {
        name: "outconv".into(),
        cin: 6,
        cout: 1,
        k: 1,
        dilation: 1,
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &[ConvSpec]) -> usize {
        c.iter().map(|s| s.cout * s.cin * s.k * s.k + s.cout).sum()
    }

    /// The parameter counts are those of the ONNX files' initializers
    /// (BatchNorm folded: one weight and one bias per conv, nothing else).
    #[test]
    fn counts_match_the_onnx_files() {
        for (blocks, want) in [(&U2NETP_BLOCKS, 1_125_485), (&U2NET_BLOCKS, 43_981_069)] {
            let c = convs(blocks);
            assert_eq!(c.len(), 119);
            assert_eq!(params(&c), want);
            let mut names: Vec<&str> = c.iter().map(|s| s.name.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), 119, "names are unique");
        }
        // Same names in the same order: only the shapes tell the files apart.
        let names = |b| convs(b).into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(&U2NETP_BLOCKS), names(&U2NET_BLOCKS));
    }

    /// Each block reads what the forward pass feeds it: the photo, the
    /// previous stage (pooled), or `cat([upsampled deeper, skip])`.
    #[test]
    fn channels_chain_through_the_network() {
        for blocks in [&U2NETP_BLOCKS, &U2NET_BLOCKS] {
            assert_eq!(blocks[0].cin, 3);
            for i in 1..6 {
                assert_eq!(blocks[i].cin, blocks[i - 1].out, "{}", blocks[i].name);
            }
            // stage5d reads cat(stage6, stage5); stage4d cat(stage5d, stage4); ...
            for k in 0..5 {
                let (blk, deeper, skip) = (blocks[6 + k], blocks[5 + k], blocks[4 - k]);
                assert_eq!(blk.cin, deeper.out + skip.out, "{}", blk.name);
                assert_eq!(blk.name, format!("{}d", skip.name));
            }
            assert_eq!(blocks[10].out, 64, "side1 and the full-size tensors");
        }
    }

    #[test]
    fn u2net_layers_have_the_published_shapes() {
        let c = convs(&U2NET_BLOCKS);
        let get = |n: &str| c.iter().find(|s| s.name == n).unwrap().clone();
        let shape = |n: &str| {
            let s = get(n);
            (s.cout, s.cin, s.k, s.dilation)
        };
        assert_eq!(shape("stage1.rebnconvin"), (64, 3, 3, 1));
        assert_eq!(shape("stage1.rebnconv1"), (32, 64, 3, 1));
        assert_eq!(shape("stage1.rebnconv7"), (32, 32, 3, 2));
        assert_eq!(shape("stage1.rebnconv1d"), (64, 64, 3, 1));
        assert_eq!(shape("stage5.rebnconv4"), (256, 256, 3, 8));
        assert_eq!(shape("stage5d.rebnconvin"), (512, 1024, 3, 1));
        assert_eq!(shape("stage5d.rebnconv3d"), (256, 512, 3, 4));
        assert_eq!(shape("stage1d.rebnconv1"), (16, 64, 3, 1));
        assert_eq!(shape("side5"), (1, 512, 3, 1));
        assert_eq!(shape("side3"), (1, 128, 3, 1));
        assert_eq!(shape("outconv"), (1, 6, 1, 1));
        // U²-Netp: every side reads 64 channels.
        let p = convs(&U2NETP_BLOCKS);
        assert!(p
            .iter()
            .filter(|s| s.name.starts_with("side"))
            .all(|s| s.cin == 64));
    }
}
