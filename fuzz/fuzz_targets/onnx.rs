//! The ONNX reader of `icnet fetch-models` (hand-written prost messages):
//! `decode_graph`, then `convs` (which calls `float_tensor` on every Conv
//! weight and bias), and `float_tensor` on every initializer. The module is
//! included from the CLI crate by path, so the fuzzer tests the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../native-demo/src/fetch_models/onnx.rs"]
mod onnx;

/// A tensor's bytes must be exactly its 4-byte values.
fn check(t: &onnx::Tensor) {
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

fuzz_target!(|data: &[u8]| {
    let Ok(graph) = onnx::decode_graph(data) else {
        return;
    };
    for t in &graph.initializer {
        if let Ok(t) = onnx::float_tensor(t) {
            check(&t);
        }
    }
    if let Ok(convs) = onnx::convs(graph) {
        for c in &convs {
            check(&c.weight);
            if let Some(b) = &c.bias {
                check(b);
            }
        }
    }
});
