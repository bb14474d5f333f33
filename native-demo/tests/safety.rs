//! Part 6: `icnet run` never loses a user's file and never gives a silent
//! wrong answer. Each test here is a case that lost data or returned a wrong
//! result with exit 0 before (see the README, "Safety and limits"). The
//! checks that need no GPU come first; the others run the network on tiny
//! photos with the test weights and given SISMs.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    assert_clean_failure, icnet_run, s, stderr, test_weights, write, write_photo, write_sism,
};

const VARIANT: [&str; 2] = ["--conv-variant", "direct-8x16"];

fn run(root: &Path, sisms: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--sisms", s(sisms), "--weights", s(test_weights())];
    args.extend_from_slice(&VARIANT);
    args.extend_from_slice(extra);
    icnet_run(root, out, &args)
}

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// A group `g` of two photos with their SISMs.
fn group(t: &Path) -> (PathBuf, PathBuf) {
    let (root, sisms) = (t.join("in"), t.join("sisms"));
    for n in ["a", "b"] {
        write_photo(&root.join(format!("g/{n}.png")), 64, 48);
        write_sism(&sisms.join(format!("g/{n}.png")));
    }
    (root, sisms)
}

fn no_gpu(e: &str) {
    assert!(!e.contains("adapter:"), "the GPU was opened:\n{e}");
}

#[test]
fn an_output_folder_is_never_an_input_folder() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = group(t.path());
    let before = std::fs::read(root.join("g/a.png")).unwrap();
    // Before: `--out` = the input folder overwrote in/g/a.png with its map.
    let e = assert_clean_failure(&run(&root, &sisms, &root, &[]));
    assert!(
        e.contains("is the image folder") && e.contains("itself"),
        "{e}"
    );
    no_gpu(&e);
    let e = assert_clean_failure(&run(&root, &sisms, &root.join("out"), &[]));
    assert!(e.contains("is inside the image folder"), "{e}");
    assert!(
        !root.join("out").exists(),
        "nothing is created inside the input"
    );
    let e = assert_clean_failure(&run(&root, &sisms, &sisms, &[]));
    assert!(e.contains("is the SISM folder"), "{e}");
    // The single group "g", written next to itself.
    let e = assert_clean_failure(&run(&root.join("g"), &sisms, &root, &[]));
    assert!(e.contains("which holds"), "{e}");
    assert_eq!(std::fs::read(root.join("g/a.png")).unwrap(), before);
}

#[test]
fn two_outputs_never_share_a_folder() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = group(t.path());
    let out = t.path().join("out");
    for flag in ["--save-sisms", "--pictures"] {
        // Before: the maps were silently replaced by the SISMs or pictures.
        let e = assert_clean_failure(&run(&root, &sisms, &out, &[flag, s(&out)]));
        assert!(
            e.contains(&format!("--out and {flag} are the same folder")),
            "{e}"
        );
        no_gpu(&e);
    }
    let e = assert_clean_failure(&run(
        &root,
        &sisms,
        &out,
        &["--pictures", s(&out.join("p"))],
    ));
    assert!(
        e.contains("--pictures") && e.contains("is inside --out"),
        "{e}"
    );
}

#[test]
fn photos_that_share_an_output_name_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("in");
    write_photo(&root.join("g/a.png"), 32, 24);
    write_photo(&root.join("g/a.jpg"), 32, 24);
    write_photo(&root.join("h/B.png"), 32, 24);
    write_photo(&root.join("h/b.webp"), 32, 24);
    let out = t.path().join("out");
    // Before: without --sisms, one of the two maps was lost and exit was 0.
    let o = icnet_run(
        &root,
        &out,
        &["--weights", s(test_weights()), "--models", s(&models())],
    );
    let e = assert_clean_failure(&o);
    assert!(
        e.contains("the photos a.jpg and a.png would both be written as a.png"),
        "{e}"
    );
    assert!(
        e.contains("the photos B.png and b.webp") && e.contains("case-insensitive"),
        "{e}"
    );
    assert!(e.contains("0 of 2 groups done"), "{e}");
    no_gpu(&e);
    assert!(!out.join("g").exists());
}

#[test]
fn a_file_of_the_users_is_never_replaced() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = group(t.path());
    let out = t.path().join("out");
    write(&out.join("g/a.png"), b"my own file");
    let e = assert_clean_failure(&run(&root, &sisms, &out, &[]));
    assert!(
        e.contains("already exists and was not written by icnet"),
        "{e}"
    );
    assert_eq!(std::fs::read(out.join("g/a.png")).unwrap(), b"my own file");
    no_gpu(&e);
    // OUT/<group> is a file: found before the group is computed.
    let out2 = t.path().join("out2");
    write(&out2.join("g"), b"a file");
    let e = assert_clean_failure(&run(&root, &sisms, &out2, &[]));
    assert!(e.contains("exists and is not a folder"), "{e}");
    no_gpu(&e);
}

/// The test weights with one value of `tensor` replaced.
fn weights_with(t: &Path, tensor: &str, value: f32) -> PathBuf {
    let mut bytes = std::fs::read(test_weights()).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = header[tensor]["data_offsets"][0]
        .as_u64()
        .expect("tensor in the test weights") as usize;
    bytes[8 + n + start..8 + n + start + 4].copy_from_slice(&value.to_le_bytes());
    let p = t.join(format!("{tensor}-{value}.safetensors"));
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn non_finite_weights_are_refused_by_name() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = group(t.path());
    for (tensor, value) in [
        ("Co4.conv.0.weight", f32::NAN),
        ("vgg.vgg.2.weight", f32::INFINITY),
    ] {
        let bad = weights_with(t.path(), tensor, value);
        // Before: accepted, plausible-looking maps, exit 0.
        let o = icnet_run(
            &root,
            &t.path().join("out"),
            &["--sisms", s(&sisms), "--weights", s(&bad)],
        );
        let e = assert_clean_failure(&o);
        assert!(e.contains(tensor), "{tensor}: {e}");
        no_gpu(&e);
    }
}

/// A real 16x16 JPEG whose frame header says 23000x23000: a few hundred
/// bytes (the case was a 4 KB file) that decoded to 529 megapixels.
fn jpeg_bomb() -> Vec<u8> {
    let mut small = Cursor::new(Vec::new());
    image::RgbImage::from_pixel(16, 16, image::Rgb([128, 128, 128]))
        .write_to(&mut small, image::ImageFormat::Jpeg)
        .unwrap();
    let mut b = small.into_inner();
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    b[sof + 5..sof + 9].copy_from_slice(&[0x59, 0xD8, 0x59, 0xD8]);
    b
}

/// A 64x48 JPEG with EXIF Orientation=6: viewers show it 48x64.
fn rotated_jpeg() -> Vec<u8> {
    let mut jpeg = Cursor::new(Vec::new());
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    })
    .write_to(&mut jpeg, image::ImageFormat::Jpeg)
    .unwrap();
    let jpeg = jpeg.into_inner();
    let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.append(&mut tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn size(p: &Path) -> (u32, u32) {
    image::image_dimensions(p).unwrap()
}

/// Bad photos are left out and named, the others run; `--strict` fails the
/// group; GIF is read; HEIC is named; EXIF orientation is applied; the log
/// shows progress with elapsed times although stderr is not a terminal.
#[test]
fn bad_photos_are_left_out_and_named() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("in"), t.path().join("sisms"));
    write_photo(&root.join("g/a.png"), 64, 48);
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 30])
    })
    .save(root.join("g/c.gif"))
    .unwrap();
    write(&root.join("g/bomb.jpg"), &jpeg_bomb());
    write(&root.join("g/phone.jpg"), &rotated_jpeg());
    write(
        &root.join("g/IMG_0001.HEIC"),
        b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
    );
    write(&root.join("g/notes.txt"), b"not a photo");
    for n in ["a", "c", "bomb", "phone", "IMG_0001"] {
        write_sism(&sisms.join(format!("g/{n}.png")));
    }
    let out = t.path().join("out");

    // --strict: the group fails before the GPU is opened.
    let o = run(&root, &sisms, &out, &["--strict"]);
    let e = assert_clean_failure(&o);
    assert!(e.contains("--strict: the whole group fails"), "{e}");
    no_gpu(&e);
    assert!(!out.join("g/a.png").exists());

    let started = Instant::now();
    let o = run(&root, &sisms, &out, &[]);
    let e = assert_clean_failure(&o);
    assert!(
        e.contains("23000x23000 pixels (529 megapixels), more than the limit of 100 megapixels"),
        "{e}"
    );
    assert!(e.contains("IMG_0001.HEIC: HEIC photos are not read"), "{e}");
    assert!(
        e.contains("note: group g: not photos, not read: notes.txt"),
        "{e}"
    );
    assert!(e.contains("[1/1] g: 3 photos ..."), "{e}");
    assert!(e.contains("2 photos left out: g/IMG_0001.HEIC (IMG_0001.HEIC is not read), g/bomb.jpg (bad photo bomb.jpg)"), "{e}");
    // Progress in a log: stage lines with the elapsed time.
    assert!(
        e.lines()
            .any(|l| l.starts_with("[1/1] g: reading photos (0/3), ") && l.ends_with(" elapsed")),
        "{e}"
    );
    assert!(
        e.lines()
            .any(|l| l.starts_with("[1/1] g: vgg conv1 (") && l.ends_with(" elapsed")),
        "{e}"
    );
    eprintln!("{e}\n({:.1} s)", started.elapsed().as_secs_f64());
    assert_eq!(size(&out.join("g/a.png")), (64, 48));
    assert_eq!(size(&out.join("g/c.png")), (40, 30), "GIF photos are read");
    assert_eq!(
        size(&out.join("g/phone.png")),
        (48, 64),
        "the map is in the orientation viewers show"
    );
    assert!(!out.join("g/bomb.png").exists() && !out.join("g/IMG_0001.png").exists());

    // The official behaviour: orientation ignored.
    let single = t.path().join("phone");
    write(&single.join("phone.jpg"), &rotated_jpeg());
    let o = run(
        &single,
        &sisms.join("g"),
        &t.path().join("out-ignore"),
        &["--exif-orientation", "ignore"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(size(&t.path().join("out-ignore/phone/phone.png")), (64, 48));
}

/// A write that fails half-way (here: a file-size limit, as a full disk
/// would) leaves the previous map intact and no temporary file behind.
#[test]
fn a_failed_write_keeps_the_earlier_maps() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = group(t.path());
    let out = t.path().join("out");
    let o = run(&root, &sisms, &out, &["--raw"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let npy = std::fs::read(out.join("g/a.npy")).unwrap();
    let png = std::fs::read(out.join("g/a.png")).unwrap();
    assert_eq!(npy.len(), 224 * 224 * 4 + 128);

    // The shell ignores SIGXFSZ, so writes past 64 KiB fail with EFBIG
    // instead of killing the process; the .npy maps are 196 KiB.
    let mut args: Vec<String> = [
        "run",
        s(&root),
        "--out",
        s(&out),
        "--sisms",
        s(&sisms),
        "--weights",
        s(test_weights()),
        "--raw",
        "--redo",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(VARIANT.iter().map(|a| a.to_string()));
    let o = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 128; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_icnet"))
        .args(&args)
        .output()
        .unwrap();
    let e = assert_clean_failure(&o);
    assert!(e.contains("could not write") && e.contains("a.npy"), "{e}");
    // Before: the maps were written in place, leaving broken files.
    assert_eq!(std::fs::read(out.join("g/a.npy")).unwrap(), npy);
    assert_eq!(std::fs::read(out.join("g/a.png")).unwrap(), png);
    let leftovers: Vec<String> = std::fs::read_dir(out.join("g"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `--report` lines of a run, by group: the statuses in order.
fn statuses(report: &Path) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let text = std::fs::read_to_string(report).unwrap_or_default();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("whole JSON lines");
        m.entry(v["group"].as_str().unwrap().to_string())
            .or_default()
            .push(v["status"].as_str().unwrap().to_string());
    }
    m
}

fn collection(t: &Path, groups: &[&str]) -> (PathBuf, PathBuf) {
    let (root, sisms) = (t.join("coll"), t.join("coll-sisms"));
    for g in groups {
        write_photo(&root.join(format!("{g}/p.png")), 48, 40);
        write_sism(&sisms.join(format!("{g}/p.png")));
    }
    (root, sisms)
}

/// Two shards cover a collection between them, each group once; a run
/// killed half-way resumes where it stopped, and nothing is done twice.
#[test]
fn shards_and_an_interrupted_run_do_every_group_exactly_once() {
    let t = tempfile::tempdir().unwrap();
    let names = ["apples", "boats", "cats", "dogs", "eggs"];
    let (root, sisms) = collection(t.path(), &names);

    let out = t.path().join("out");
    let reports: Vec<PathBuf> = (0..2)
        .map(|k| t.path().join(format!("shard{k}.jsonl")))
        .collect();
    for (k, report) in reports.iter().enumerate() {
        let shard = format!("{k}/2");
        let o = run(
            &root,
            &sisms,
            &out,
            &["--shard", &shard, "--report", s(report)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("shard {k}/2: ")),
            "{}",
            stderr(&o)
        );
    }
    let (a, b) = (statuses(&reports[0]), statuses(&reports[1]));
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both shards have work: {a:?} {b:?}"
    );
    for g in names {
        let runs: Vec<&String> = a.get(g).into_iter().chain(b.get(g)).flatten().collect();
        assert_eq!(runs, ["done"], "{g}");
        assert!(out.join(g).join("p.png").is_file());
    }
    // Run again without a shard: everything is complete already.
    let again = t.path().join("again.jsonl");
    let o = run(&root, &sisms, &out, &["--report", s(&again)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        statuses(&again).values().all(|v| v == &["already-done"]),
        "{:?}",
        statuses(&again)
    );
    no_gpu(&stderr(&o));

    // Killed after its first group, then resumed.
    let out2 = t.path().join("out2");
    let first = t.path().join("first.jsonl");
    let mut args: Vec<String> = vec![
        "run".into(),
        s(&root).into(),
        "--out".into(),
        s(&out2).into(),
    ];
    for a in [
        "--sisms",
        s(&sisms),
        "--weights",
        s(test_weights()),
        "--report",
        s(&first),
    ] {
        args.push(a.into());
    }
    args.extend(VARIANT.iter().map(|a| a.to_string()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_icnet"))
        .args(&args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !statuses(&first)
        .values()
        .any(|v| v.contains(&"done".to_string()))
    {
        assert!(Instant::now() < deadline, "no group finished");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let second = t.path().join("second.jsonl");
    let o = run(&root, &sisms, &out2, &["--report", s(&second)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (statuses(&first), statuses(&second));
    let mut resumed = 0;
    for g in names {
        let runs: Vec<&String> = a.get(g).into_iter().chain(b.get(g)).flatten().collect();
        let done = runs.iter().filter(|s| s.as_str() == "done").count();
        assert_eq!(done, 1, "{g}: {runs:?}");
        resumed += b.get(g).is_some_and(|v| v == &["already-done"]) as usize;
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out2.join(g).join(".icnet-group.json")).unwrap())
                .unwrap();
        assert_eq!(record["state"], "done", "{g}");
    }
    assert!(resumed >= 1, "the resumed run skipped nothing: {a:?} {b:?}");
    let leftovers: Vec<String> = walk(&out2)
        .into_iter()
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            v.extend(walk(&e.path()));
        } else {
            v.push(e.path().display().to_string());
        }
    }
    v
}
