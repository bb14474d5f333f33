//! The `weights` target: see fuzz/checks/weights.rs, which the ordinary test suite
//! also runs on every file of tests/fuzz-regressions/weights/.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/weights.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
