//! What the end-to-end tests of the `icnet` binary share (`mod common;` in
//! each test file): starting it, passing temporary paths, and checking that
//! a failure is a clean one.

#![allow(dead_code)] // each test file uses its own part of this

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_icnet");

/// Runs `icnet` with `args` and waits for it.
pub fn icnet(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("could not start icnet")
}

/// `icnet run ROOT --out OUT` plus `extra`.
pub fn icnet_run(root: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", s(root), "--out", s(out)];
    args.extend_from_slice(extra);
    icnet(&args)
}

/// [`icnet_run`] keeping its pipeline cache and variant timings in `cache`
/// (`ICNET_CACHE_DIR`) instead of the user's cache folder.
pub fn icnet_run_cached(root: &Path, out: &Path, cache: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", s(root), "--out", s(out)];
    args.extend_from_slice(extra);
    Command::new(BIN)
        .args(&args)
        .env("ICNET_CACHE_DIR", cache)
        .output()
        .expect("could not start icnet")
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure: non-zero exit, no panic, at least one `error:` line.
pub fn assert_clean_failure(o: &Output) -> String {
    let e = stderr(o);
    assert!(
        !o.status.success(),
        "icnet should have failed; stderr:\n{e}"
    );
    assert!(!e.contains("panicked"), "icnet panicked:\n{e}");
    assert!(
        e.lines().any(|l| l.starts_with("error: ")),
        "no `error:` line:\n{e}"
    );
    e
}

/// The seed-0 test weights, written once per test run by `icnet make-test-weights`.
pub fn test_weights() -> &'static Path {
    static W: OnceLock<PathBuf> = OnceLock::new();
    W.get_or_init(|| {
        let p =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("icnet-cli-test-weights.safetensors");
        let o = icnet(&["make-test-weights", s(&p)]);
        assert!(
            o.status.success(),
            "make-test-weights failed:\n{}",
            stderr(&o)
        );
        p
    })
}

pub fn write_photo(p: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    })
    .save(p)
    .unwrap();
}

pub fn write_sism(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    image::GrayImage::from_fn(40, 30, |x, _| image::Luma([(x * 6) as u8]))
        .save(p)
        .unwrap();
}

pub fn write(p: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}
