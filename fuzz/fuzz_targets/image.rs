//! The `image` target: see fuzz/checks/image.rs, which the ordinary test suite
//! also runs on every file of tests/fuzz-regressions/image/.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/image.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
