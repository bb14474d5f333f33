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
pub const PHOTO_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// Photo formats that are recognised but not read (no decoder in the
/// `image` crate that builds everywhere, the browser included): such files
/// are named as left out, never skipped silently.
pub const UNREAD_PHOTO_EXTENSIONS: [&str; 4] = ["heic", "heif", "avif", "jxl"];

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
    /// Files in the folder that are not read, with the reason (hidden files
    /// and subfolders are not listed).
    pub other_files: Vec<OtherFile>,
}

/// A file in a group folder that is not taken as a photo.
#[derive(Debug, Clone)]
pub struct OtherFile {
    pub name: String,
    /// A photo in a format that is not read (HEIC, AVIF): it counts as a
    /// photo left out, not as an unrelated file.
    pub unread_photo: bool,
}

impl OtherFile {
    pub fn reason(&self) -> String {
        if self.unread_photo {
            let ext = Path::new(&self.name)
                .extension()
                .map(|e| e.to_string_lossy().to_uppercase())
                .unwrap_or_default();
            format!("{ext} photos are not read (convert them to JPEG or PNG)")
        } else {
            format!("not a photo ({})", PHOTO_EXTENSIONS.join(", "))
        }
    }
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

fn has_extension(path: &Path, list: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.iter().any(|p| e.eq_ignore_ascii_case(p)))
}

fn is_photo(path: &Path) -> bool {
    has_extension(path, &PHOTO_EXTENSIONS)
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

/// The photos directly inside `dir` (symbolic links followed) and the other
/// (non-hidden) files.
fn files_in(dir: &Path) -> Result<(Vec<Photo>, Vec<OtherFile>), String> {
    let mut photos = Vec::new();
    let mut others = Vec::new();
    for (name, p) in sorted_entries(dir)? {
        if !p.is_file() {
            continue;
        }
        if is_photo(&p) {
            photos.push(Photo {
                stem: p.file_stem().unwrap_or_default().to_os_string(),
                path: p,
            });
        } else {
            others.push(OtherFile {
                name: name.to_string_lossy().into_owned(),
                unread_photo: has_extension(&p, &UNREAD_PHOTO_EXTENSIONS),
            });
        }
    }
    Ok((photos, others))
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
    let (direct, direct_others) = files_in(root)?;
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
            other_files: direct_others,
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
        let (photos, other_files) = files_in(&dir)?;
        groups.push(Group {
            name: name.to_string_lossy().into_owned(),
            dir_name: name,
            dir,
            photos,
            other_files,
        });
    }
    Ok(Layout {
        groups,
        single: false,
        ignored_dirs: Vec::new(),
    })
}

/// Checks that a group has photos.
pub fn check_photos(group: &Group) -> Result<(), Problem> {
    if group.photos.is_empty() {
        let unread: Vec<&str> = group
            .other_files
            .iter()
            .filter(|f| f.unread_photo)
            .map(|f| f.name.as_str())
            .collect();
        let extra = if unread.is_empty() {
            String::new()
        } else {
            format!(
                " that are read; HEIC/AVIF photos are not read: {}",
                unread.join(", ")
            )
        };
        return Err(Problem::new(
            "no photos",
            format!(
                "group {}: the folder {} holds no photos ({}){extra}",
                group.name,
                group.dir.display(),
                PHOTO_EXTENSIONS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A name as it collides on a case-insensitive file system (macOS, Windows):
/// `A.png` and `a.png` are the same file there.
pub fn fold_case(name: &std::ffi::OsStr) -> String {
    name.to_string_lossy().to_lowercase()
}

/// Every output of a photo is named after its stem, so two photos whose
/// stems are equal, or equal but for case, would overwrite each other's map
/// (`a.jpg` and `a.png` both give `a.png`; `A.jpg` and `a.png` collide on
/// macOS and Windows). Such a group is refused before any work.
pub fn check_output_names(group: &Group) -> Result<(), Problem> {
    let mut seen: HashMap<String, &Photo> = HashMap::new();
    for p in &group.photos {
        if let Some(first) = seen.insert(fold_case(&p.stem), p) {
            let same = first.stem == p.stem;
            let a = first.path.file_name().unwrap_or_default().to_string_lossy();
            let b = p.path.file_name().unwrap_or_default().to_string_lossy();
            let why = if same {
                format!("would both be written as {}.png", p.stem.to_string_lossy())
            } else {
                format!(
                    "would be written as {}.png and {}.png, the same file on case-insensitive file systems (macOS, Windows)",
                    first.stem.to_string_lossy(),
                    p.stem.to_string_lossy()
                )
            };
            return Err(Problem::new(
                format!("{a} and {b} share an output name"),
                format!(
                    "group {}: the photos {a} and {b} {why}; rename one of them",
                    group.name
                ),
            ));
        }
    }
    Ok(())
}

/// Groups whose output folders would be the same on a case-insensitive file
/// system: for each group, the earlier group it collides with.
pub fn folded_group_collisions(groups: &[Group]) -> Vec<Option<String>> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    groups
        .iter()
        .map(|g| {
            seen.get(&fold_case(&g.dir_name))
                .map(|first| first.to_string())
                .or_else(|| {
                    seen.insert(fold_case(&g.dir_name), &g.name);
                    None
                })
        })
        .collect()
}

/// Each photo's SISM under `sism_root`, or the paths where it was looked for.
pub fn find_sisms(group: &Group, sism_root: &Path, single: bool) -> Vec<Result<PathBuf, String>> {
    group
        .photos
        .iter()
        .map(|p| {
            let mut file = p.stem.clone();
            file.push(".png");
            let mut candidates = Vec::new();
            if single {
                candidates.push(sism_root.join(&file));
            }
            candidates.push(sism_root.join(&group.dir_name).join(&file));
            candidates
                .iter()
                .find(|c| c.is_file())
                .cloned()
                .ok_or_else(|| {
                    let expected: Vec<String> =
                        candidates.iter().map(|c| c.display().to_string()).collect();
                    format!("no SISM: expected {}", expected.join(" or "))
                })
        })
        .collect()
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
        let p = check_photos(&l.groups[2]).unwrap_err();
        assert_eq!(p.short, "no photos");
        let others: Vec<_> = l.groups[1]
            .other_files
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(others, ["notes.txt"], "hidden files are not listed");
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
        let s = find_sisms(&l.groups[0], &sisms, true);
        assert_eq!(
            s,
            [
                Ok(sisms.join("w1.png")),
                Ok(sisms.join("windmills/w2.photo.png"))
            ]
        );
        // Multi-group lookup does not use SISM_ROOT/<stem>.png.
        let s = find_sisms(&l.groups[0], &sisms, false);
        let e = s[0].as_ref().unwrap_err();
        assert!(
            e.contains("windmills/w1.png") && e.contains("expected"),
            "{e}"
        );
        assert!(s[1].is_ok());
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
        let s = find_sisms(&l.groups[0], &t.path().join("s"), false);
        assert_eq!(
            s[0],
            Err(format!(
                "no SISM: expected {}",
                t.path().join("s/g/a.png").display()
            ))
        );
        assert!(s[1].is_ok() && s[2].is_err());
        assert!(check_output_names(&l.groups[0]).is_ok());
        // Same stem, another extension: refused with or without SISMs.
        touch(&r.join("g/a.png"));
        let l = find_groups(&r).unwrap();
        let p = check_output_names(&l.groups[0]).unwrap_err();
        assert_eq!(p.short, "a.jpg and a.png share an output name");
        assert!(
            p.detail.contains("would both be written as a.png"),
            "{}",
            p.detail
        );
        // Names that differ only in case collide on macOS and Windows.
        fs::remove_file(r.join("g/a.png")).unwrap();
        touch(&r.join("g/B.webp"));
        let l = find_groups(&r).unwrap();
        let p = check_output_names(&l.groups[0]).unwrap_err();
        assert!(
            p.detail.contains("B.webp and b.jpg") && p.detail.contains("case-insensitive"),
            "{}",
            p.detail
        );
    }

    #[test]
    fn unread_formats_are_named_and_group_names_fold() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        touch(&r.join("Fish/IMG_1.HEIC"));
        touch(&r.join("Fish/a.gif"));
        touch(&r.join("fish/b.tif"));
        touch(&r.join("heic-only/x.heic"));
        let l = find_groups(r).unwrap();
        let names: Vec<&str> = l.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Fish", "fish", "heic-only"]);
        assert_eq!(l.groups[0].photos.len(), 1, "GIF is a photo");
        assert!(l.groups[0].other_files[0].unread_photo);
        assert!(l.groups[0].other_files[0]
            .reason()
            .contains("HEIC photos are not read"));
        let p = check_photos(&l.groups[2]).unwrap_err();
        assert!(
            p.detail.contains("HEIC/AVIF photos are not read: x.heic"),
            "{}",
            p.detail
        );
        assert_eq!(
            folded_group_collisions(&l.groups),
            [None, Some("Fish".to_string()), None]
        );
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
