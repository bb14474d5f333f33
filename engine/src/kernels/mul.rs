//! Elementwise product with a constant factor.

use super::{f, linear_groups, Kernel};
use crate::runtime::plan::{Graph, Res, TensorId};

/// `dst = a * b * scale` over `n` values.
pub fn push(g: &mut Graph, a: TensorId, b: TensorId, dst: TensorId, n: usize, scale: f32) {
    g.push(
        Kernel::new("mul", vec![]),
        vec![n as u32, f(scale), 0, 0],
        vec![Res::T(a), Res::T(b), Res::T(dst)],
        linear_groups(n, 256),
        2.0 * n as f64,
    );
}

/// CPU reference (same operation order as the shader).
pub fn cpu_mul(a: &[f32], b: &[f32], scale: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x * y * scale).collect()
}
