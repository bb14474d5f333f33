//! The `onnx` target: see fuzz/checks/onnx.rs, which the CLI's tests also run
//! on every file of tests/fuzz-regressions/onnx/. The ONNX reader of `icnet
//! fetch-models` is included from the CLI crate by path, so the fuzzer tests
//! the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../native-demo/src/fetch_models/onnx.rs"]
mod onnx;

#[path = "../checks/onnx.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
