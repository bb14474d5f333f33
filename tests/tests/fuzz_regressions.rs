//! Replays the fuzz regression corpus, tests/fuzz-regressions/{weights,image}/
//! (the ONNX inputs are replayed by the CLI's own tests): every file goes
//! through the checks of the fuzz target of its folder (fuzz/checks/,
//! see fuzz/README.md) and must give a result or a clean error, without a
//! panic, in bounded time. New crashes found by a fuzz run are added there.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// The checks of the fuzz targets themselves, so that a replayed input is
// judged exactly as the fuzzer judged it.
#[path = "../../fuzz/checks/image.rs"]
mod image;
#[path = "../../fuzz/checks/weights.rs"]
mod weights;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// The fuzzer's limit is 10 s per input in an optimised, instrumented build;
/// an unoptimised test build is given far longer.
fn time_limit() -> Duration {
    let base = Duration::from_secs(10);
    if cfg!(debug_assertions) {
        base * 20
    } else {
        base
    }
}

/// Runs `check` on every file of `target`, and fails listing every file that
/// panicked or took too long.
fn replay(target: &str, check: impl Fn(&[u8])) {
    let mut failed = Vec::new();
    for path in corpus(target) {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let start = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| check(&bytes)));
        let took = start.elapsed();
        match r {
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failed.push(format!("{name}: panicked: {msg}"));
            }
            Ok(()) if took > time_limit() => {
                failed.push(format!("{name}: took {took:?}"));
            }
            Ok(()) => {}
        }
    }
    assert!(failed.is_empty(), "{target}: {}", failed.join("; "));
}

/// fuzz/fuzz_targets/weights.rs.
#[test]
fn weights_regressions() {
    replay("weights", weights::check);
}

/// fuzz/fuzz_targets/image.rs.
#[test]
fn image_regressions() {
    replay("image", image::check);
}
