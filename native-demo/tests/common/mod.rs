//! What the end-to-end tests of the `icnet` binary share (`mod common;` in
//! each test file): starting it, passing temporary paths, and checking that
//! a failure is a clean one.

use std::path::Path;
use std::process::{Command, Output};

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
