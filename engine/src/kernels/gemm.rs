//! Batched strided GEMM with the co-saliency epilogues (see gemm.wgsl).

use super::Kernel;
use crate::runtime::plan::{ConstId, Graph, Res, TensorId};

/// How the A operand is read.
#[derive(Clone, Copy, Debug)]
pub enum ALoad {
    /// `a[a_off + b*a_bs + i*a_is + k*a_ks]`.
    Plain {
        t: TensorId,
        off: usize,
        bs: usize,
        is: usize,
        ks: usize,
    },
    /// A 1x1 conv weight [m, k] whose input channels are permuted per batch:
    /// `w[i*k + rank[b*k + kk]]` (RSCF folded into the weights).
    Gather { w: ConstId, rank: TensorId },
}

/// `C[b][i][j] = scale[b][j] * sum_k A[b][i][k] B[b/b_div][k][j] + bias[i]`.
#[derive(Clone, Copy, Debug)]
pub struct GemmCall {
    pub batches: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: ALoad,
    pub b: TensorId,
    pub b_off: usize,
    pub b_div: usize,
    pub b_bs: usize,
    pub b_ks: usize,
    pub b_js: usize,
    pub c: TensorId,
    /// Per-batch scale of column j, contiguous [batches, n].
    pub scale: Option<TensorId>,
    pub bias: Option<ConstId>,
}

pub fn push(g: &mut Graph, c: &GemmCall) {
    let (a_load, a_binding, mut extra, a_params) = match c.a {
        ALoad::Plain { t, off, bs, is, ks } => (
            "    return f32(a[P.a_off + b * P.a_bs + i * P.a_is + k * P.a_ks]);",
            Res::T(t),
            vec![],
            [off, bs, is, ks],
        ),
        ALoad::Gather { w, rank } => (
            "    return f32(a[i * P.k + rank[b * P.k + k]]);",
            Res::C(w),
            vec![(Res::T(rank), "rank", "u32")],
            [0, 0, c.k, 1],
        ),
    };
    if let Some(s) = c.scale {
        extra.push((Res::T(s), "scale", "st"));
    }
    if let Some(b) = c.bias {
        extra.push((Res::C(b), "bias", "st"));
    }
    let mut epilogue = String::from("    var v = v0;\n");
    if c.scale.is_some() {
        epilogue += "    v = v * f32(scale[b * P.sc_bs + j]);\n";
    }
    if c.bias.is_some() {
        epilogue += "    v = v + f32(bias[i]);\n";
    }
    epilogue += "    return v;";
    let names: Vec<(&str, &str)> = extra.iter().map(|(_, n, t)| (*n, *t)).collect();
    let kernel = Kernel::new(
        "gemm",
        vec![
            ("EPILOGUE", epilogue),
            ("EXTRA_DECL", super::read_decls(4, &names)),
            ("A_LOAD", a_load.to_string()),
        ],
    );
    let params: Vec<u32> = [
        c.m,
        c.n,
        c.k,
        c.b_div,
        a_params[0],
        a_params[1],
        a_params[2],
        a_params[3],
        c.b_off,
        c.b_bs,
        c.b_ks,
        c.b_js,
        0,
        c.m * c.n,
        c.n,
        c.n,
    ]
    .iter()
    .map(|&v| v as u32)
    .collect();
    let mut bindings = vec![a_binding, Res::T(c.b), Res::T(c.c)];
    bindings.extend(extra.iter().map(|(r, _, _)| *r));
    let groups = [
        (c.n as u32).div_ceil(4 * 16),
        (c.m as u32).div_ceil(4 * 8),
        c.batches as u32,
    ];
    g.push(
        kernel,
        params,
        bindings,
        groups,
        2.0 * (c.batches * c.m * c.n * c.k) as f64,
    );
}
