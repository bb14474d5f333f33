//! The WGSL kernels, one module per op. Each module owns the op's step
//! builder (shapes -> params, bindings, dispatch size, FLOPs) and a plain CPU
//! reference that [`selftest`] compares it against (natively under `cargo test`,
//! and in a browser on its WebGPU adapter).
//!
//! Shaders live in `shaders/*.wgsl` and are embedded at compile time. A few
//! values are template parameters (`{{NAME}}`), substituted before the module
//! is created: tile sizes, fused epilogues and input loaders. Everything else
//! (shapes, offsets, strides) is a uniform, so one pipeline serves all layers
//! of the same kind.

pub mod conv;
pub mod cosal;
pub mod gemm;
pub mod mul;
pub mod pool;
pub mod resize;
pub mod selftest;
pub mod winograd;

use crate::runtime::plan::Precision;

/// Every shader, by name. Tests validate each instantiation with naga.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "conv_direct",
        include_str!("../../../shaders/conv_direct.wgsl"),
    ),
    (
        "conv_tiled",
        include_str!("../../../shaders/conv_tiled.wgsl"),
    ),
    ("maxpool", include_str!("../../../shaders/maxpool.wgsl")),
    ("resize_ac", include_str!("../../../shaders/resize_ac.wgsl")),
    ("l2norm", include_str!("../../../shaders/l2norm.wgsl")),
    ("siv", include_str!("../../../shaders/siv.wgsl")),
    ("corr", include_str!("../../../shaders/corr.wgsl")),
    ("csa", include_str!("../../../shaders/csa.wgsl")),
    ("rank", include_str!("../../../shaders/rank.wgsl")),
    ("gemm", include_str!("../../../shaders/gemm.wgsl")),
    ("mul", include_str!("../../../shaders/mul.wgsl")),
    ("wino_in", include_str!("../../../shaders/wino_in.wgsl")),
    ("wino_out", include_str!("../../../shaders/wino_out.wgsl")),
];

/// A hash of every shader's source (FNV-1a), to tell whether measurements
/// of the kernels made by an earlier build still describe this one. The
/// convolution bodies are generated in Rust (`conv::kernel`), so the
/// generated kernels of every variant the tuner times are hashed too: a
/// change to the generator alone then also invalidates kept timings.
pub fn shaders_fingerprint() -> u64 {
    use crate::engine::{SUBGROUP_CANDIDATES, TUNE_CANDIDATES};
    let plain = conv::ConvInput::Plain {
        t: crate::runtime::plan::TensorId(0),
        off: 0,
        bs: 0,
    };
    let generated: Vec<String> = TUNE_CANDIDATES
        .iter()
        .chain(&SUBGROUP_CANDIDATES)
        .flat_map(|&v| {
            // The 3x3 and 1x1 bodies (a Winograd variant's are its direct kernel's).
            [3, 1]
                .map(|k| conv::kernel(v, k, &plain, conv::Residual::None, conv::Act::Relu).source())
        })
        .collect();
    let texts = SHADERS
        .iter()
        .flat_map(|(name, src)| [*name, *src])
        .chain([conv::COMMON])
        .chain(generated.iter().map(String::as_str));
    texts.fold(0xcbf29ce484222325u64, |h, text| {
        // A 0xff between texts (never in UTF-8) keeps "ab"+"c" apart from "a"+"bc".
        text.bytes()
            .chain([0xff])
            .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    })
}

/// A shader plus its template values: what a pipeline is made from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Kernel {
    pub shader: &'static str,
    pub defs: Vec<(&'static str, String)>,
    /// Storage precision of every float buffer the kernel binds (see
    /// [`Kernel::source`]); set from the graph's precision when a plan is compiled.
    pub precision: Precision,
}

impl Kernel {
    pub fn new(shader: &'static str, defs: Vec<(&'static str, String)>) -> Kernel {
        assert!(
            SHADERS.iter().any(|(n, _)| *n == shader),
            "unknown shader {shader}"
        );
        Kernel {
            shader,
            defs,
            precision: Precision::F32,
        }
    }

    pub fn name(&self) -> &'static str {
        self.shader
    }

    /// The WGSL text with every `{{NAME}}` replaced, after a header that
    /// names the storage type `st` of float buffers: `f32`, or `f16` with
    /// `enable f16;`. Shaders declare float storage as `array<st>` or
    /// `array<vec4<st>>`, convert every load to f32 and every store back to
    /// `st`: arithmetic, accumulators and workgroup memory are f32 in both.
    pub fn source(&self) -> String {
        let (_, src) = SHADERS
            .iter()
            .find(|(n, _)| *n == self.shader)
            .expect("known shader");
        let header = match self.precision {
            Precision::F32 => "alias st = f32;\n",
            Precision::F16 => "enable f16;\nalias st = f16;\n",
        };
        let mut out = format!("{header}{src}");
        for (k, v) in &self.defs {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        assert!(
            !out.contains("{{"),
            "shader {} has an unfilled template value",
            self.shader
        );
        out
    }

    #[cfg(test)]
    pub fn test_dummy() -> Kernel {
        Kernel::new("maxpool", vec![])
    }
}

/// Splits a 1-D dispatch of `n` invocations (workgroup size `wg`) over x and y,
/// since one dimension holds at most 65535 workgroups. Shaders recover the
/// index as `gid.x + gid.y * 65535 * wg`.
pub fn linear_groups(n: usize, wg: usize) -> [u32; 3] {
    let groups = n.div_ceil(wg);
    if groups <= 65535 {
        [groups.max(1) as u32, 1, 1]
    } else {
        [65535, groups.div_ceil(65535) as u32, 1]
    }
}

pub fn f(x: f32) -> u32 {
    x.to_bits()
}

/// Declares storage bindings `first..` as `var<storage, read> name: array<ty>`.
pub fn read_decls(first: u32, names: &[(&str, &str)]) -> String {
    names
        .iter()
        .enumerate()
        .map(|(i, (n, ty))| {
            format!(
                "@group(0) @binding({}) var<storage, read> {n}: array<{ty}>;\n",
                first + i as u32
            )
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
