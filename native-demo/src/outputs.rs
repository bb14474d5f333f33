//! Where `icnet run` writes, and the rules that keep it from losing a file.
//!
//! * Before any work: no output folder (maps, SISMs, pictures) is the image
//!   folder or the SISM folder, lies inside one, or coincides with another
//!   output; no group's output folder holds an input; the report file is
//!   not inside an input folder.
//! * Per group, before it is computed: its output folders are folders (or do
//!   not exist yet), and every file it would write either does not exist or
//!   was written by `icnet` for this group, as its record says. A file of the
//!   user's that happens to have a map's name is never replaced.
//! * The record (`OUT/<group>/.icnet-group.json`) is written as "started"
//!   before the first output and as "done" after the last, each time through
//!   a temporary file and a rename. A group whose record says "done" for the
//!   same settings and the same input files, with all its outputs present, is
//!   complete: `icnet run` skips it, so an interrupted run resumes where it
//!   stopped.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde_json::{json, Value};

use crate::atomic;
use crate::discover::{Group, Layout, Problem};

/// The record of a group, in the group's map folder.
pub const RECORD_FILE: &str = ".icnet-group.json";
const RECORD_FORMAT: &str = "icnet-group/1";

/// An absolute path with symbolic links resolved as far as it exists, and
/// the rest normalised lexically, so that two spellings of one folder
/// compare equal whether or not it exists yet.
pub fn resolve(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let comps: Vec<Component> = abs.components().collect();
    // The longest prefix that exists, canonicalised.
    for cut in (1..=comps.len()).rev() {
        let prefix: PathBuf = comps[..cut].iter().collect();
        if let Ok(mut base) = fs::canonicalize(&prefix) {
            for c in &comps[cut..] {
                match c {
                    Component::ParentDir => {
                        base.pop();
                    }
                    Component::CurDir => {}
                    other => base.push(other.as_os_str()),
                }
            }
            return base;
        }
    }
    abs
}

/// A folder the command reads or writes, named as the user gave it.
pub struct Folder<'a> {
    /// How the user names it: "--out", "the image folder", ...
    pub what: &'static str,
    pub given: &'a Path,
    pub resolved: PathBuf,
}

impl<'a> Folder<'a> {
    pub fn new(what: &'static str, given: &'a Path) -> Folder<'a> {
        Folder {
            what,
            given,
            resolved: resolve(given),
        }
    }
}

/// The whole-command folder rules (see the module comment). `outputs` are
/// the output folders, `inputs` the folders read, `report` the report file.
pub fn check_folders(
    inputs: &[Folder],
    outputs: &[Folder],
    report: Option<&Folder>,
    layout: &Layout,
) -> Result<(), String> {
    for o in outputs {
        for i in inputs {
            if o.resolved == i.resolved {
                return Err(format!(
                    "{} {} is {} itself: its maps would overwrite the photos or sit among them; choose a folder outside {}",
                    o.what,
                    o.given.display(),
                    i.what,
                    i.given.display()
                ));
            }
            if o.resolved.starts_with(&i.resolved) {
                return Err(format!(
                    "{} {} is inside {} {}: the next run would read its maps as inputs; choose a folder outside it",
                    o.what,
                    o.given.display(),
                    i.what,
                    i.given.display()
                ));
            }
        }
    }
    for (k, a) in outputs.iter().enumerate() {
        for b in &outputs[k + 1..] {
            if a.resolved == b.resolved {
                return Err(format!(
                    "{} and {} are the same folder ({}): one kind of output would replace the other; give each its own folder",
                    a.what,
                    b.what,
                    a.given.display()
                ));
            }
            let (inner, outer) = if a.resolved.starts_with(&b.resolved) {
                (a, b)
            } else if b.resolved.starts_with(&a.resolved) {
                (b, a)
            } else {
                continue;
            };
            return Err(format!(
                "{} {} is inside {} {}: its files could collide with the other's groups; give each its own folder, side by side",
                inner.what,
                inner.given.display(),
                outer.what,
                outer.given.display()
            ));
        }
    }
    // An input inside an output: only a problem where a group's output
    // folder is, or holds, something read (`icnet run photos --out .` with
    // the single group "photos" would write ./photos/<stem>.png).
    for o in outputs {
        for g in &layout.groups {
            let dest = o.resolved.join(&g.dir_name);
            let read: Vec<(String, PathBuf)> = inputs
                .iter()
                .map(|i| {
                    (
                        format!("{} {}", i.what, i.given.display()),
                        i.resolved.clone(),
                    )
                })
                .chain(std::iter::once((
                    format!("the photos of group {}", g.name),
                    resolve(&g.dir),
                )))
                .collect();
            for (name, path) in read {
                if path.starts_with(&dest) {
                    return Err(format!(
                        "{} {} would put group {}'s outputs in {}, which holds {name}; choose another folder",
                        o.what,
                        o.given.display(),
                        g.name,
                        dest.display()
                    ));
                }
            }
        }
    }
    if let Some(r) = report {
        for i in inputs {
            if r.resolved.starts_with(&i.resolved) {
                return Err(format!(
                    "--report {} is inside {} {}; write the report elsewhere",
                    r.given.display(),
                    i.what,
                    i.given.display()
                ));
            }
        }
        for o in outputs {
            if r.resolved.parent() == Some(o.resolved.as_path())
                && r.resolved
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                return Err(format!(
                    "--report {} is a hidden file in {} {}; give it a visible name",
                    r.given.display(),
                    o.what,
                    o.given.display()
                ));
            }
        }
    }
    Ok(())
}

/// The kinds of output, as the record lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Maps,
    Sisms,
    Pictures,
}

impl Role {
    pub fn key(self) -> &'static str {
        match self {
            Role::Maps => "maps",
            Role::Sisms => "sisms",
            Role::Pictures => "pictures",
        }
    }
    const ALL: [Role; 3] = [Role::Maps, Role::Sisms, Role::Pictures];
}

/// A group's output folders and what its record says.
pub struct GroupOutputs {
    /// The folder of each role that this run writes.
    pub dirs: Vec<(Role, PathBuf)>,
    /// Files (per role, by name) that `icnet` wrote for this group, as far as
    /// the record knows: the files it may replace.
    owned: BTreeSet<(Role, String)>,
    previous: Option<Value>,
}

/// Size and modification time of a file, for the record's input list.
fn file_stamp(path: &Path) -> Value {
    match fs::metadata(path) {
        Ok(m) => {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            json!({"bytes": m.len(), "modified_ns": modified})
        }
        Err(_) => Value::Null,
    }
}

/// The input files of a group (photos and given SISMs), with their sizes and
/// times: the group is redone when any of them changes, is added or removed,
/// since every map depends on the whole group.
pub fn input_stamps(group: &Group, sisms: &[Option<PathBuf>]) -> Value {
    let mut list = Vec::new();
    for (k, p) in group.photos.iter().enumerate() {
        let mut e = json!({
            "photo": p.path.file_name().unwrap_or_default().to_string_lossy(),
            "stamp": file_stamp(&p.path),
        });
        if let Some(Some(s)) = sisms.get(k) {
            e["sism"] = json!(s.display().to_string());
            e["sism_stamp"] = file_stamp(s);
        }
        list.push(e);
    }
    Value::Array(list)
}

impl GroupOutputs {
    /// Reads the group's record and checks its folders: each must be a
    /// folder or not exist yet.
    pub fn open(group: &Group, roots: &[(Role, &Path)]) -> Result<GroupOutputs, Problem> {
        let dirs: Vec<(Role, PathBuf)> = roots
            .iter()
            .map(|(r, d)| (*r, d.join(&group.dir_name)))
            .collect();
        for (_, d) in &dirs {
            if d.exists() && !d.is_dir() {
                return Err(Problem::new(
                    "its output folder is a file",
                    format!(
                        "group {}: {} exists and is not a folder; move it away or choose another output folder",
                        group.name,
                        d.display()
                    ),
                ));
            }
        }
        let maps = &dirs
            .iter()
            .find(|(r, _)| *r == Role::Maps)
            .expect("maps folder")
            .1;
        let previous = fs::read(maps.join(RECORD_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| v["format"] == RECORD_FORMAT);
        let mut owned = BTreeSet::new();
        if let Some(v) = &previous {
            for role in Role::ALL {
                for name in v["outputs"][role.key()].as_array().into_iter().flatten() {
                    if let Some(n) = name.as_str() {
                        owned.insert((role, n.to_string()));
                    }
                }
            }
        }
        Ok(GroupOutputs {
            dirs,
            owned,
            previous,
        })
    }

    pub fn dir(&self, role: Role) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, d)| d.as_path())
    }

    /// Whether the record says the group is complete for these settings and
    /// inputs, with every output still there.
    pub fn is_complete(&self, settings: &Value, inputs: &Value) -> bool {
        let Some(v) = &self.previous else {
            return false;
        };
        v["state"] == "done"
            && &v["settings"] == settings
            && &v["inputs"] == inputs
            && Role::ALL.iter().all(|&role| {
                v["outputs"][role.key()].as_array().into_iter().flatten().all(|n| {
                    n.as_str().is_some_and(|n| {
                        self.dir(role).is_some_and(|d| d.join(n).is_file())
                    })
                })
            })
            // A folder the record knows nothing of (say --pictures added): not complete.
            && self.dirs.iter().all(|(role, _)| v["outputs"][role.key()].is_array())
    }

    /// The photos a complete record says were done and left out.
    pub fn previous_counts(&self) -> (usize, usize) {
        let v = self.previous.as_ref();
        let n = |k: &str| v.and_then(|v| v[k].as_array()).map_or(0, Vec::len);
        (n("done_photos"), n("left_out"))
    }

    /// Refuses to replace a file that `icnet` did not write for this group.
    pub fn check_can_write(
        &self,
        group: &Group,
        planned: &[(Role, String)],
    ) -> Result<(), Problem> {
        for (role, name) in planned {
            let Some(dir) = self.dir(*role) else { continue };
            let path = dir.join(name);
            if path.symlink_metadata().is_ok() && !self.owned.contains(&(*role, name.clone())) {
                return Err(Problem::new(
                    format!("{} exists and is not ours", path.display()),
                    format!(
                        "group {}: {} already exists and was not written by icnet for this group \
                         (its record {} does not list it); move it away or choose another output folder",
                        group.name,
                        path.display(),
                        dir.join(RECORD_FILE).display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Creates the folders and writes the "started" record, which lists
    /// every file this run may write, so that a run killed half-way can
    /// still replace them.
    pub fn start(
        &mut self,
        group: &Group,
        settings: &Value,
        planned: &[(Role, String)],
    ) -> Result<(), Problem> {
        for (_, d) in &self.dirs {
            fs::create_dir_all(d).map_err(|e| write_problem(group, d, &e.to_string()))?;
            remove_temporaries(d);
        }
        for p in planned {
            self.owned.insert(p.clone());
        }
        let record = json!({
            "format": RECORD_FORMAT,
            "state": "started",
            "settings": settings,
            "outputs": self.owned_json(),
        });
        self.write_record(group, &record)
    }

    fn owned_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        for role in Role::ALL {
            if self.dir(role).is_some() || self.owned.iter().any(|(r, _)| *r == role) {
                let names: Vec<&str> = self
                    .owned
                    .iter()
                    .filter(|(r, _)| *r == role)
                    .map(|(_, n)| n.as_str())
                    .collect();
                o.insert(role.key().into(), json!(names));
            }
        }
        Value::Object(o)
    }

    fn write_record(&self, group: &Group, record: &Value) -> Result<(), Problem> {
        let path = self.dir(Role::Maps).expect("maps folder").join(RECORD_FILE);
        let text = serde_json::to_string_pretty(record).unwrap_or_default() + "\n";
        atomic::write(&path, text.as_bytes())
            .map_err(|e| write_problem(group, &path, &e.to_string()))
    }

    /// Writes the "done" record, last: `written` are the files of this run;
    /// files of earlier runs of this group that this run did not write (a
    /// photo removed or now left out) are deleted, so that no map is left
    /// that does not belong to the group as it is now.
    pub fn finish(
        &mut self,
        group: &Group,
        settings: &Value,
        inputs: &Value,
        written: &[(Role, String)],
        done_photos: &[String],
        left_out: &Value,
    ) -> Result<(), Problem> {
        let keep: BTreeSet<(Role, String)> = written.iter().cloned().collect();
        for (role, name) in self.owned.difference(&keep) {
            if let Some(d) = self.dir(*role) {
                let _ = fs::remove_file(d.join(name));
            }
        }
        self.owned = keep;
        let record = json!({
            "format": RECORD_FORMAT,
            "state": "done",
            "settings": settings,
            "inputs": inputs,
            "done_photos": done_photos,
            "left_out": left_out,
            "outputs": self.owned_json(),
        });
        self.write_record(group, &record)
    }
}

pub fn write_problem(group: &Group, path: &Path, e: &str) -> Problem {
    Problem::new(
        "could not write its outputs",
        format!(
            "group {}: could not write {}: {e}",
            group.name,
            path.display()
        ),
    )
}

/// Temporary files left by a killed run in one of our folders.
fn remove_temporaries(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(atomic::TEMP_PREFIX)
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::find_groups;

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }

    fn check(root: &Path, out: &Path, extra: &[(&'static str, &Path)]) -> Result<(), String> {
        let layout = find_groups(root).unwrap();
        let inputs = [Folder::new("the image folder", root)];
        let mut outputs = vec![Folder::new("--out", out)];
        outputs.extend(extra.iter().map(|(w, p)| Folder::new(w, p)));
        check_folders(&inputs, &outputs, None, &layout)
    }

    #[test]
    fn output_folders_never_touch_the_inputs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("in");
        touch(&r.join("g/p.png"));
        let e = check(&r, &r, &[]).unwrap_err();
        assert!(
            e.contains("is the image folder") && e.contains("itself"),
            "{e}"
        );
        // Another spelling of the same folder.
        let e = check(&r, &r.join("g/.."), &[]).unwrap_err();
        assert!(e.contains("itself"), "{e}");
        let e = check(&r, &r.join("out"), &[]).unwrap_err();
        assert!(e.contains("is inside the image folder"), "{e}");
        let e = check(&r, &r.join("g"), &[]).unwrap_err();
        assert!(e.contains("is inside"), "{e}");
        let out = t.path().join("out");
        assert!(check(&r, &out, &[]).is_ok());
        let e = check(&r, &out, &[("--pictures", &out)]).unwrap_err();
        assert!(
            e.contains("--out and --pictures are the same folder"),
            "{e}"
        );
        let e = check(&r, &out, &[("--save-sisms", &out.join("s"))]).unwrap_err();
        assert!(
            e.contains("--save-sisms") && e.contains("is inside --out"),
            "{e}"
        );
        assert!(check(&r, &out, &[("--pictures", &t.path().join("pics"))]).is_ok());
        // The single group "in", written next to itself: OUT/in is the input.
        let single = t.path().join("photos");
        touch(&single.join("a.jpg"));
        let e = check(&single, t.path(), &[]).unwrap_err();
        assert!(
            e.contains("would put group photos's outputs in") || e.contains("group photos"),
            "{e}"
        );
    }

    #[test]
    fn records_decide_what_may_be_replaced_and_what_is_done() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("in");
        touch(&r.join("g/a.png"));
        let layout = find_groups(&r).unwrap();
        let g = &layout.groups[0];
        let out = t.path().join("out");
        let planned = vec![(Role::Maps, "a.png".to_string())];
        let settings = json!({"model": "x"});
        let inputs = input_stamps(g, &[]);

        // A file of the user's with a map's name is never ours.
        touch(&out.join("g/a.png"));
        let o = GroupOutputs::open(g, &[(Role::Maps, &out)]).unwrap();
        let p = o.check_can_write(g, &planned).unwrap_err();
        assert!(
            p.detail.contains("was not written by icnet"),
            "{}",
            p.detail
        );
        fs::remove_file(out.join("g/a.png")).unwrap();

        let mut o = GroupOutputs::open(g, &[(Role::Maps, &out)]).unwrap();
        o.check_can_write(g, &planned).unwrap();
        o.start(g, &settings, &planned).unwrap();
        assert!(!o.is_complete(&settings, &inputs));
        // Killed here: the next run may replace what the started record lists.
        touch(&out.join("g/a.png"));
        let mut o = GroupOutputs::open(g, &[(Role::Maps, &out)]).unwrap();
        o.check_can_write(g, &planned).unwrap();
        assert!(!o.is_complete(&settings, &inputs));
        o.start(g, &settings, &planned).unwrap();
        o.finish(
            g,
            &settings,
            &inputs,
            &planned,
            &["a.png".into()],
            &json!([]),
        )
        .unwrap();
        let o = GroupOutputs::open(g, &[(Role::Maps, &out)]).unwrap();
        assert!(o.is_complete(&settings, &inputs));
        assert!(
            !o.is_complete(&json!({"model": "y"}), &inputs),
            "other settings"
        );
        // A folder the record does not cover (pictures asked for now).
        let o2 = GroupOutputs::open(
            g,
            &[(Role::Maps, &out), (Role::Pictures, &t.path().join("pics"))],
        )
        .unwrap();
        assert!(!o2.is_complete(&settings, &inputs));
        // A changed photo.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(r.join("g/a.png"), b"changed").unwrap();
        assert!(!o.is_complete(&settings, &input_stamps(g, &[])));
        // An output deleted by the user.
        fs::remove_file(out.join("g/a.png")).unwrap();
        assert!(!o.is_complete(&settings, &inputs));
        // The output folder of a group is a file.
        let out2 = t.path().join("out2");
        touch(&out2.join("g"));
        let p = GroupOutputs::open(g, &[(Role::Maps, &out2)]).err().unwrap();
        assert!(p.detail.contains("is not a folder"), "{}", p.detail);
    }
}
