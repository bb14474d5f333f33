//! What the `onnx` fuzz target checks on one input, shared by the target
//! (fuzz/fuzz_targets/onnx.rs) and the replay of the regression corpus
//! (`onnx_fuzz_regressions` in native-demo/src/fetch_models/tests.rs), both
//! of which include this file by path inside a module that has the ONNX
//! reader (native-demo/src/fetch_models/onnx.rs) as `super::onnx`.
//!
//! `decode_graph`, then `float_tensor` on every initializer and `convs`
//! (which calls `float_tensor` on every Conv weight and bias): any input must
//! decode or be refused without a panic, and every tensor accepted must hold
//! exactly 4 bytes per value.

use super::onnx;

/// A tensor's bytes must be exactly its 4-byte values.
fn check_tensor(t: &onnx::Tensor) {
    let n = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    assert_eq!(
        n.and_then(|n| n.checked_mul(4)),
        Some(t.le_bytes.len()),
        "{} with shape {:?} holds {} bytes",
        t.name,
        t.shape,
        t.le_bytes.len()
    );
    if let Some(last) = (t.le_bytes.len() / 4).checked_sub(1) {
        let _ = t.value(last);
    }
}

/// Reads `data` as an ONNX model; panics on a wrong result.
pub fn check(data: &[u8]) {
    let Ok(graph) = onnx::decode_graph(data) else {
        return;
    };
    for t in &graph.initializer {
        if let Ok(t) = onnx::float_tensor(t) {
            check_tensor(&t);
        }
    }
    if let Ok(convs) = onnx::convs(graph) {
        for c in &convs {
            check_tensor(&c.weight);
            if let Some(b) = &c.bias {
                check_tensor(b);
            }
        }
    }
}
