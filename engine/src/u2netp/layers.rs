//! The U²-Netp architecture as data: every convolution in forward order, with
//! the name its tensors carry in `models/u2netp.safetensors`.
//!
//! The order is the order in which PyTorch executes the convolutions (and so
//! the order of the Conv nodes in the exported ONNX graph): the model fetch
//! uses it to name the ONNX graph's anonymous, BatchNorm-folded weights, and
//! the graph builder uses it to find them again.

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

/// Channels inside every RSU block of U²-Netp (the "p" model: 16 mid, 64 out).
pub const MID: usize = 16;
pub const OUT: usize = 64;

/// An RSU block: `height` is L in RSU-L (7, 6, 5, 4); `dilated` is RSU-4F,
/// which replaces pooling by dilations 1, 2, 4, 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub name: &'static str,
    pub height: usize,
    pub dilated: bool,
    pub cin: usize,
}

/// The eleven RSU blocks in forward order: six encoder stages, five decoder stages.
pub const BLOCKS: [Block; 11] = [
    Block {
        name: "stage1",
        height: 7,
        dilated: false,
        cin: 3,
    },
    Block {
        name: "stage2",
        height: 6,
        dilated: false,
        cin: OUT,
    },
    Block {
        name: "stage3",
        height: 5,
        dilated: false,
        cin: OUT,
    },
    Block {
        name: "stage4",
        height: 4,
        dilated: false,
        cin: OUT,
    },
    Block {
        name: "stage5",
        height: 4,
        dilated: true,
        cin: OUT,
    },
    Block {
        name: "stage6",
        height: 4,
        dilated: true,
        cin: OUT,
    },
    Block {
        name: "stage5d",
        height: 4,
        dilated: true,
        cin: 2 * OUT,
    },
    Block {
        name: "stage4d",
        height: 4,
        dilated: false,
        cin: 2 * OUT,
    },
    Block {
        name: "stage3d",
        height: 5,
        dilated: false,
        cin: 2 * OUT,
    },
    Block {
        name: "stage2d",
        height: 6,
        dilated: false,
        cin: 2 * OUT,
    },
    Block {
        name: "stage1d",
        height: 7,
        dilated: false,
        cin: 2 * OUT,
    },
];

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
        let l = self.height;
        let conv = |layer: String, cin, cout, dilation| ConvSpec {
            name: format!("{}.{layer}", self.name),
            cin,
            cout,
            k: 3,
            dilation,
        };
        let mut v = vec![conv("rebnconvin".into(), self.cin, OUT, 1)];
        for i in 1..=l {
            let cin = if i == 1 { OUT } else { MID };
            v.push(conv(format!("rebnconv{i}"), cin, MID, self.enc_dilation(i)));
        }
        for i in (1..l).rev() {
            let cout = if i == 1 { OUT } else { MID };
            v.push(conv(
                format!("rebnconv{i}d"),
                2 * MID,
                cout,
                self.dec_dilation(i),
            ));
        }
        v
    }
}

/// All 119 convolutions in forward order: the blocks, `side1..side6` (3x3,
/// 64 -> 1) and `outconv` (1x1, 6 -> 1).
pub fn convs() -> Vec<ConvSpec> {
    let mut v: Vec<ConvSpec> = BLOCKS.iter().flat_map(|b| b.convs()).collect();
    for i in 1..=6 {
        v.push(ConvSpec {
            name: format!("side{i}"),
            cin: OUT,
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

    #[test]
    fn counts_match_the_published_model() {
        let c = convs();
        assert_eq!(c.len(), 119);
        let params: usize = c.iter().map(|s| s.cout * s.cin * s.k * s.k + s.cout).sum();
        // U²-Netp has 1.13 M parameters once BatchNorm is folded into the convs.
        assert!((1_120_000..1_140_000).contains(&params), "{params}");
        let mut names: Vec<&str> = c.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 119, "names are unique");
    }
}
