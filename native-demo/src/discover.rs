//! Finding the photo groups and their saliency maps (SPEC §4.1).
//!
//! The official code takes groups and files in `os.listdir` order, which
//! depends on the filesystem; we sort by name instead so that runs are
//! reproducible. A group is one batch (the co-saliency cues come from the
//! whole group), so everything wrong with a group is found per group and
//! reported with the photo it concerns, and the other groups still run.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// File extensions taken as photos (compared case-insensitively).
pub const PHOTO_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

#[derive(Debug, Clone)]
pub struct Photo {
    pub path: PathBuf,
    /// The file name up to the last '.', which names the SISM and the outputs.
    pub stem: OsString,
}

#[derive(Debug, Clone)]
pub struct Group {
    /// Shown in reports (lossy if the folder name is not UTF-8).
    pub name: String,
    /// The folder name, used for the SISM and output folders.
    pub dir_name: OsString,
    pub dir: PathBuf,
    /// Sorted by file name.
    pub photos: Vec<Photo>,
}

/// The groups under an image root.
#[derive(Debug)]
pub struct Layout {
    pub groups: Vec<Group>,
    /// IMG_ROOT held photos directly and is the only group.
    pub single: bool,
    /// Subfolders skipped because IMG_ROOT held photos directly.
    pub ignored_dirs: Vec<String>,
}

/// Why a group cannot run: `short` goes into the final summary, `detail` is
/// the full `error:` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub short: String,
    pub detail: String,
}

impl Problem {
    pub fn new(short: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem {
            short: short.into(),
            detail: detail.into(),
        }
    }
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|p| e.eq_ignore_ascii_case(p)))
}

fn hidden(name: &OsString) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Entries of a folder, sorted by name, without hidden ones (".DS_Store", ".git").
fn sorted_entries(dir: &Path) -> Result<Vec<(OsString, PathBuf)>, String> {
    let rd = fs::read_dir(dir)
        .map_err(|e| format!("could not list the folder {}: {e}", dir.display()))?;
    let mut entries = Vec::new();
    for entry in rd {
        let entry =
            entry.map_err(|e| format!("could not list the folder {}: {e}", dir.display()))?;
        let name = entry.file_name();
        if !hidden(&name) {
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    Ok(entries)
}

/// The photos directly inside `dir` (symbolic links followed).
fn photos_in(dir: &Path) -> Result<Vec<Photo>, String> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|(_, p)| is_photo(p) && p.is_file())
        .map(|(_, p)| Photo {
            stem: p.file_stem().unwrap_or_default().to_os_string(),
            path: p,
        })
        .collect())
}

fn display_name(dir: &Path) -> OsString {
    let name = dir.file_name().map(|n| n.to_os_string());
    name.or_else(|| {
        fs::canonicalize(dir)
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_os_string()))
    })
    .unwrap_or_else(|| "images".into())
}

/// Every subfolder of `root` is a group; if `root` holds photos itself, it is
/// the only group, named after the folder.
pub fn find_groups(root: &Path) -> Result<Layout, String> {
    if !root.exists() {
        return Err(format!(
            "the image folder {} does not exist",
            root.display()
        ));
    }
    if !root.is_dir() {
        return Err(format!(
            "{} is not a folder (IMG_ROOT must be a folder of groups or of photos)",
            root.display()
        ));
    }
    let direct = photos_in(root)?;
    let subdirs: Vec<(OsString, PathBuf)> = sorted_entries(root)?
        .into_iter()
        .filter(|(_, p)| p.is_dir())
        .collect();
    if !direct.is_empty() {
        let dir_name = display_name(root);
        let group = Group {
            name: dir_name.to_string_lossy().into_owned(),
            dir_name,
            dir: root.to_path_buf(),
            photos: direct,
        };
        let ignored_dirs = subdirs
            .iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect();
        return Ok(Layout {
            groups: vec![group],
            single: true,
            ignored_dirs,
        });
    }
    if subdirs.is_empty() {
        return Err(format!(
            "{} holds neither photos ({}) nor group folders",
            root.display(),
            PHOTO_EXTENSIONS.join(", ")
        ));
    }
    let mut groups = Vec::new();
    for (name, dir) in subdirs {
        let photos = photos_in(&dir)?;
        groups.push(Group {
            name: name.to_string_lossy().into_owned(),
            dir_name: name,
            dir,
            photos,
        });
    }
    Ok(Layout {
        groups,
        single: false,
        ignored_dirs: Vec::new(),
    })
}

/// The checks that need no decoding: the group has photos, no two photos
/// share an output name, and every photo has its SISM. Returns the SISM paths
/// in photo order.
/// Checks that a group has photos (when its SISMs are computed, not read).
pub fn check_photos(group: &Group) -> Result<(), Problem> {
    if group.photos.is_empty() {
        return Err(Problem::new(
            "no photos",
            format!(
                "group {}: the folder {} holds no photos ({})",
                group.name,
                group.dir.display(),
                PHOTO_EXTENSIONS.join(", ")
            ),
        ));
    }
    Ok(())
}

pub fn check_group(group: &Group, sism_root: &Path, single: bool) -> Result<Vec<PathBuf>, Problem> {
    check_photos(group)?;
    let mut seen: HashMap<&OsString, &Path> = HashMap::new();
    for p in &group.photos {
        if let Some(first) = seen.insert(&p.stem, &p.path) {
            return Err(Problem::new(
                format!("two photos named {}", p.stem.to_string_lossy()),
                format!(
                    "group {}: {} and {} would share the SISM and output name {}.png",
                    group.name,
                    first.display(),
                    p.path.display(),
                    p.stem.to_string_lossy()
                ),
            ));
        }
    }
    let mut sisms = Vec::with_capacity(group.photos.len());
    let mut missing: Vec<(&Photo, Vec<PathBuf>)> = Vec::new();
    for p in &group.photos {
        let mut file = p.stem.clone();
        file.push(".png");
        let mut candidates = Vec::new();
        if single {
            candidates.push(sism_root.join(&file));
        }
        candidates.push(sism_root.join(&group.dir_name).join(&file));
        match candidates.iter().find(|c| c.is_file()) {
            Some(c) => sisms.push(c.clone()),
            None => missing.push((p, candidates)),
        }
    }
    if let Some((photo, expected)) = missing.first() {
        let expected: Vec<String> = expected.iter().map(|c| c.display().to_string()).collect();
        let more = match missing.len() {
            1 => String::new(),
            n => format!(" ({} more photos of this group have none)", n - 1),
        };
        let name = photo.path.file_name().unwrap_or_default().to_string_lossy();
        return Err(Problem::new(
            format!("no SISM for {name}"),
            format!(
                "no SISM for photo {}: expected {}{more}",
                photo.path.display(),
                expected.join(" or ")
            ),
        ));
    }
    Ok(sisms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }

    #[test]
    fn groups_sorted_and_filtered() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for f in [
            "b/2.JPG",
            "b/1.png",
            "b/notes.txt",
            "b/.hidden.png",
            "a/x.webp",
            "a/y.jpeg",
            "c/readme",
        ] {
            touch(&r.join(f));
        }
        touch(&r.join("loose.txt"));
        let l = find_groups(r).unwrap();
        assert!(!l.single);
        let names: Vec<&str> = l.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let stems: Vec<_> = l.groups[1]
            .photos
            .iter()
            .map(|p| p.stem.to_string_lossy().into_owned())
            .collect();
        assert_eq!(stems, ["1", "2"]);
        assert!(l.groups[2].photos.is_empty());
        let p = check_group(&l.groups[2], r, false).unwrap_err();
        assert_eq!(p.short, "no photos");
    }

    #[test]
    fn single_group_and_sism_lookup() {
        let t = tempfile::tempdir().unwrap();
        let imgs = t.path().join("windmills");
        touch(&imgs.join("w1.png"));
        touch(&imgs.join("w2.photo.jpg"));
        fs::create_dir_all(imgs.join("sub")).unwrap();
        let sisms = t.path().join("sisms");
        touch(&sisms.join("w1.png"));
        touch(&sisms.join("windmills/w2.photo.png"));
        let l = find_groups(&imgs).unwrap();
        assert!(l.single);
        assert_eq!(l.groups[0].name, "windmills");
        assert_eq!(l.ignored_dirs, ["sub"]);
        let s = check_group(&l.groups[0], &sisms, true).unwrap();
        assert_eq!(
            s,
            [sisms.join("w1.png"), sisms.join("windmills/w2.photo.png")]
        );
        // Multi-group lookup does not use SISM_ROOT/<stem>.png.
        let p = check_group(&l.groups[0], &sisms, false).unwrap_err();
        assert!(
            p.detail.contains("w1.png") && p.detail.contains("expected"),
            "{}",
            p.detail
        );
    }

    #[test]
    fn missing_sism_and_duplicates() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("imgs");
        touch(&r.join("g/a.jpg"));
        touch(&r.join("g/b.jpg"));
        touch(&r.join("g/c.jpg"));
        touch(&t.path().join("s/g/b.png"));
        let l = find_groups(&r).unwrap();
        let p = check_group(&l.groups[0], &t.path().join("s"), false).unwrap_err();
        assert_eq!(p.short, "no SISM for a.jpg");
        assert!(
            p.detail.contains(&format!(
                "expected {}",
                t.path().join("s/g/a.png").display()
            )),
            "{}",
            p.detail
        );
        assert!(p.detail.contains("1 more"), "{}", p.detail);
        touch(&r.join("g/a.png"));
        let l = find_groups(&r).unwrap();
        let p = check_group(&l.groups[0], &t.path().join("s"), false).unwrap_err();
        assert_eq!(p.short, "two photos named a");
    }

    #[test]
    fn root_errors() {
        let t = tempfile::tempdir().unwrap();
        assert!(find_groups(&t.path().join("nope"))
            .unwrap_err()
            .contains("does not exist"));
        assert!(find_groups(t.path())
            .unwrap_err()
            .contains("neither photos"));
        touch(&t.path().join("f.png"));
        assert!(find_groups(&t.path().join("f.png"))
            .unwrap_err()
            .contains("is not a folder"));
    }
}
