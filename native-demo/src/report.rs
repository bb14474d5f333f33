//! `--report FILE`: one JSON object per line and per group (JSON Lines), for
//! scripts and schedulers. Lines are appended, so that the runs of an
//! interrupted and resumed job, or of several shards given one file each,
//! read as one history; each line is written with a single `write` call and
//! flushed, so a killed run leaves whole lines only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub struct Report {
    file: File,
    path: PathBuf,
}

impl Report {
    /// Opens FILE for appending (creating it, but not its folder).
    pub fn open(path: &Path) -> Result<Report, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("could not open the report file {}: {e}", path.display()))?;
        Ok(Report {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn line(&mut self, v: &Value) -> Result<(), String> {
        let mut text = serde_json::to_string(v).unwrap_or_default();
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| {
                format!(
                    "could not write the report file {}: {e}",
                    self.path.display()
                )
            })
    }
}
