//! Writing a file so that it is never seen half-written: the bytes go to a
//! temporary sibling (same folder, so the rename cannot cross file systems),
//! are synced, and the temporary file is renamed over the target. A full disk,
//! a kill or a power cut leaves either the old file or the new one, never a
//! truncated map that looks like a result; a failed write removes its
//! temporary file. Every file `icnet` writes goes through here.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files start with this, so that they are hidden and easy to
/// recognise (and clean up) if a process is killed between write and rename.
pub const TEMP_PREFIX: &str = ".icnet-partial-";

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()))
}

/// Writes `bytes` to `path` atomically (see the module comment).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// Like [`write`], with the content produced by `fill` straight into the
/// temporary file (for encoders that write to a stream).
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` only if there is no file there yet, atomically:
/// the complete temporary file is hard-linked to `path`, which fails if
/// `path` exists, so of several processes racing to create it exactly one
/// wins and none sees half a file. Returns whether this call created it.
/// Where the file system has no hard links, falls back to a rename after a
/// check (a small window in which a racing writer's file can be replaced).
pub fn create_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(_) if path.exists() => Ok(false),
            Err(_) => fs::rename(&tmp, path).map(|()| true),
        }
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// [`write`] with the error as a clause that names the file.
pub fn write_or_say(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write(path, bytes).map_err(|e| format!("could not write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_new_never_replaces_a_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("tuning.json");
        assert!(create_new(&p, b"first").unwrap());
        assert!(!create_new(&p, b"second").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"first");
        let names: Vec<_> = fs::read_dir(t.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("map.png");
        fs::write(&p, b"old").unwrap();
        write(&p, b"new content").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new content");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("map.png");
        fs::write(&p, b"old").unwrap();
        let e = write_with(&p, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(t.path()).unwrap().count(),
            1,
            "temporary file left behind"
        );
        // A folder that does not exist: an error, nothing created.
        assert!(write(&t.path().join("nope/map.png"), b"x").is_err());
    }
}
