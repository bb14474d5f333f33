//! End-to-end checks of the `icnet` binary on temporary folders: every bad
//! input gives one `error:` line and a non-zero exit code (never a panic), and
//! a bad group does not stop the others. Only one test runs the network (one
//! photo), because on a CPU Vulkan driver that takes minutes.

mod common;

use std::path::Path;
use std::process::Output;

use common::{
    assert_clean_failure, icnet, icnet_run, s, stderr, test_weights, write, write_photo, write_sism,
};

/// `icnet run ROOT --out OUT --sisms SISMS --weights W` plus `extra`.
fn run(root: &Path, sisms: &Path, weights: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--sisms", s(sisms), "--weights", s(weights)];
    args.extend_from_slice(extra);
    icnet_run(root, out, &args)
}

#[test]
fn nonexistent_root() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("no-such-folder");
    let o = run(
        &root,
        t.path(),
        &t.path().join("w.safetensors"),
        &t.path().join("out"),
        &[],
    );
    let e = assert_clean_failure(&o);
    assert_eq!(
        e.trim(),
        format!("error: the image folder {} does not exist", root.display())
    );
}

#[test]
fn missing_sism_names_photo_and_expected_path() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("imgs"), t.path().join("sisms"));
    write_photo(&root.join("g/a.png"), 32, 24);
    std::fs::create_dir_all(&sisms).unwrap();
    let o = run(&root, &sisms, test_weights(), &t.path().join("out"), &[]);
    let e = assert_clean_failure(&o);
    let photo = root.join("g/a.png");
    let expected = sisms.join("g/a.png");
    assert!(
        e.contains(&format!(
            "error: no SISM for photo {}: expected {}",
            photo.display(),
            expected.display()
        )),
        "{e}"
    );
    assert!(
        e.contains("0 of 1 groups done; failed: g (no SISM for a.png)"),
        "{e}"
    );
    assert!(
        !e.contains("adapter:"),
        "the GPU should not be opened when no group can run:\n{e}"
    );
}

/// A group whose only photo is bad fails; a bad photo next to a good one is
/// left out and named, and the good one runs (the network runs once here).
#[test]
fn corrupt_and_empty_images_are_left_out() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("imgs"), t.path().join("sisms"));
    write(&root.join("g/a.jpg"), b"this is not a JPEG");
    write_sism(&sisms.join("g/a.png"));
    write_photo(&root.join("h/a.png"), 20, 20);
    write(&root.join("h/b.png"), b"");
    write_sism(&sisms.join("h/a.png"));
    write_sism(&sisms.join("h/b.png"));
    let o = run(
        &root,
        &sisms,
        test_weights(),
        &t.path().join("out"),
        &["--conv-variant", "direct-4x8"],
    );
    let e = assert_clean_failure(&o);
    assert!(
        e.contains(&format!(
            "error: photo {}: ",
            root.join("g/a.jpg").display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "error: photo {}: the image file is empty",
            root.join("h/b.png").display()
        )),
        "{e}"
    );
    assert!(
        e.contains("1 of 2 groups done; failed: g (bad photo a.jpg); 1 photo left out: h/b.png (bad photo b.png)"),
        "{e}"
    );
    assert!(t.path().join("out/h/a.png").is_file() && !t.path().join("out/h/b.png").exists());
}

#[test]
fn bad_sism_is_named() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("imgs"), t.path().join("sisms"));
    write_photo(&root.join("g/a.png"), 20, 20);
    write(&sisms.join("g/a.png"), b"garbage");
    let o = run(&root, &sisms, test_weights(), &t.path().join("out"), &[]);
    let e = assert_clean_failure(&o);
    assert!(
        e.contains(&format!(
            "error: SISM {} (for photo {})",
            sisms.join("g/a.png").display(),
            root.join("g/a.png").display()
        )),
        "{e}"
    );
    assert!(e.contains("failed: g (bad SISM for a.png)"), "{e}");
}

#[test]
fn empty_group_folder() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("imgs");
    std::fs::create_dir_all(root.join("empty")).unwrap();
    write(&root.join("empty/notes.txt"), b"not a photo");
    let sisms = t.path().join("sisms");
    std::fs::create_dir_all(&sisms).unwrap();
    let o = run(&root, &sisms, test_weights(), &t.path().join("out"), &[]);
    let e = assert_clean_failure(&o);
    assert!(e.contains("error: group empty: the folder"), "{e}");
    assert!(e.contains("holds no photos"), "{e}");
    assert!(
        e.contains("0 of 1 groups done; failed: empty (no photos)"),
        "{e}"
    );
}

#[test]
fn root_without_photos_or_groups() {
    let t = tempfile::tempdir().unwrap();
    write(&t.path().join("imgs/readme.txt"), b"x");
    let o = run(
        &t.path().join("imgs"),
        t.path(),
        test_weights(),
        &t.path().join("out"),
        &[],
    );
    let e = assert_clean_failure(&o);
    assert!(e.contains("holds neither photos"), "{e}");
}

#[test]
fn bad_weights_files() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("imgs"), t.path().join("sisms"));
    write_photo(&root.join("g/a.png"), 20, 20);
    write_sism(&sisms.join("g/a.png"));
    let out = t.path().join("out");

    let missing = t.path().join("missing.safetensors");
    let e = assert_clean_failure(&run(&root, &sisms, &missing, &out, &[]));
    assert!(e.contains(&missing.display().to_string()), "{e}");

    let garbage = t.path().join("garbage.safetensors");
    write(&garbage, b"definitely not safetensors");
    let e = assert_clean_failure(&run(&root, &sisms, &garbage, &out, &[]));
    assert!(e.contains("is not a valid safetensors file"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");

    // A valid safetensors file that is not ICNet: one float tensor "x".
    let header = br#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(header);
    st.extend_from_slice(&1.0f32.to_le_bytes());
    let wrong = t.path().join("wrong.safetensors");
    write(&wrong, &st);
    let e = assert_clean_failure(&run(&root, &sisms, &wrong, &out, &[]));
    assert!(
        e.contains(&wrong.display().to_string()),
        "the message should name the file:\n{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

/// `--saliency`: an unknown model is one sentence that lists the choices;
/// the full U²-Net without its file says how to get it, as for U²-Netp.
#[test]
fn saliency_choice_errors() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("imgs");
    write_photo(&root.join("g/a.png"), 20, 20);
    let out = t.path().join("out");
    let e = assert_clean_failure(&icnet_run(&root, &out, &["--saliency", "u2"]));
    assert!(
        e.contains("\"u2\" is not a saliency model; use u2netp (U²-Netp) or u2net (U²-Net)"),
        "{e}"
    );
    let empty = t.path().join("no-models");
    let o = icnet_run(
        &root,
        &out,
        &[
            "--weights",
            s(test_weights()),
            "--models",
            s(&empty),
            "--saliency",
            "u2net",
        ],
    );
    let e = assert_clean_failure(&o);
    let want = empty.join("u2net.safetensors").display().to_string();
    assert!(
        e.contains("computing saliency maps with U²-Net (--saliency u2net")
            && e.contains(&want)
            && e.contains("run `icnet fetch-models`"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn unwritable_output_folder() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("imgs"), t.path().join("sisms"));
    write_photo(&root.join("g/a.png"), 20, 20);
    write_sism(&sisms.join("g/a.png"));
    // A folder below a regular file cannot be created, even by root.
    let file = t.path().join("file.txt");
    write(&file, b"x");
    let out = file.join("out");
    let e = assert_clean_failure(&run(&root, &sisms, test_weights(), &out, &[]));
    assert!(
        e.starts_with(&format!(
            "error: could not write to the output folder {}",
            out.display()
        )),
        "{e}"
    );
}

#[test]
fn unknown_adapter() {
    let t = tempfile::tempdir().unwrap();
    let (root, sisms) = (t.path().join("imgs"), t.path().join("sisms"));
    write_photo(&root.join("g/a.png"), 20, 20);
    write_sism(&sisms.join("g/a.png"));
    let o = run(
        &root,
        &sisms,
        test_weights(),
        &t.path().join("out"),
        &["--adapter", "no-such-adapter-xyz"],
    );
    let e = assert_clean_failure(&o);
    assert!(
        e.contains("no-such-adapter-xyz") || e.contains("no GPU adapter"),
        "{e}"
    );
}

#[test]
fn make_test_weights_into_missing_folder() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("no/such/dir/w.safetensors");
    let e = assert_clean_failure(&icnet(&["make-test-weights", s(&p)]));
    assert!(
        e.contains(&format!("could not write {}", p.display())),
        "{e}"
    );
}

#[test]
fn info_lists_adapters_or_says_why_not() {
    let o = icnet(&["info"]);
    if o.status.success() {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("max storage binding"), "{text}");
    } else {
        let e = assert_clean_failure(&o);
        assert!(e.contains("no GPU adapter"), "{e}");
    }
}

/// One runnable group of one photo between a group with a missing SISM and an
/// empty group: the good group's maps are written, the command still fails
/// with a summary naming the bad groups.
#[test]
fn one_bad_group_does_not_stop_the_others() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/g2");
    let t = tempfile::tempdir().unwrap();
    let (root, sisms, out) = (
        t.path().join("imgs"),
        t.path().join("sisms"),
        t.path().join("out"),
    );
    write_photo(&root.join("a_bad/x.png"), 20, 20);
    std::fs::create_dir_all(root.join("b_good")).unwrap();
    std::fs::create_dir_all(sisms.join("b_good")).unwrap();
    std::fs::copy(
        golden.join("images/windmill12.png"),
        root.join("b_good/windmill12.png"),
    )
    .unwrap();
    std::fs::copy(
        golden.join("sisms/windmill12.png"),
        sisms.join("b_good/windmill12.png"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("c_empty")).unwrap();

    // A fixed conv variant skips the start-up measurement (slow on CPU drivers).
    let o = run(
        &root,
        &sisms,
        test_weights(),
        &out,
        &["--raw", "--conv-variant", "direct-4x8"],
    );
    let e = stderr(&o);
    assert_clean_failure(&o);
    assert!(
        e.contains("adapter: ") && e.contains("conv variant: direct-4x8"),
        "{e}"
    );
    assert!(e.contains("[2/3] b_good: 1 photo ..."), "{e}");
    assert!(
        e.contains("1 of 3 groups done; failed: a_bad (no SISM for x.png), c_empty (no photos)"),
        "{e}"
    );

    let png = image::open(out.join("b_good/windmill12.png")).unwrap();
    assert_eq!((png.width(), png.height()), (224, 224));
    assert_eq!(png.color(), image::ColorType::L8);
    let bytes = std::fs::read(out.join("b_good/windmill12.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[224, 224]);
    let map: Vec<f32> = npy.into_vec().unwrap();
    assert!(map.iter().all(|v| *v > 0.0 && *v < 1.0));
    // The PNG is the map at the original size (here 224x224), times 255, rounded.
    let luma = png.to_luma8();
    for (p, v) in luma.as_raw().iter().zip(&map) {
        assert_eq!(*p, (v * 255.0).round_ties_even() as u8);
    }
    assert!(!out.join("a_bad").exists() && !out.join("c_empty").exists());
}

/// `icnet run` end to end on the golden group of five photos of assorted
/// sizes (one with an RGB SISM): the raw maps match the PyTorch reference
/// within the own-sort tolerance of the conformance tests (1e-3), and the
/// PNGs at the original sizes match the reference's to one grey level (a
/// 2e-4 difference in the map flips a value that sits on a rounding edge).
#[test]
fn run_reproduces_the_reference_maps() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/g5");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let o = run(
        &golden.join("images"),
        &golden.join("sisms"),
        test_weights(),
        &out,
        // The official code ignores EXIF orientation (these PNGs have none).
        &[
            "--raw",
            "--conv-variant",
            "direct-16x32",
            "--exif-orientation",
            "ignore",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: String = std::fs::read_to_string(golden.join("manifest.json")).unwrap();
    let want_all: Vec<f32> =
        npyz::NpyFile::new(&std::fs::read(golden.join("final.npy")).unwrap()[..])
            .unwrap()
            .into_vec()
            .unwrap();
    let stems: Vec<&str> = ["fish9", "fish25", "fish1", "fish3", "fish6"].to_vec();
    for (i, stem) in stems.iter().enumerate() {
        assert!(manifest.contains(stem));
        let bytes = std::fs::read(out.join(format!("images/{stem}.npy"))).unwrap();
        let got: Vec<f32> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
        let want = &want_all[i * 224 * 224..(i + 1) * 224 * 224];
        let d = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            d <= 1e-3,
            "{stem}: raw map differs from the reference by {d}"
        );
        let ours = image::open(out.join(format!("images/{stem}.png")))
            .unwrap()
            .to_luma8();
        let theirs = image::open(golden.join(format!("out/{stem}.png")))
            .unwrap()
            .to_luma8();
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{stem}: size");
        let diffs: Vec<i32> = ours
            .as_raw()
            .iter()
            .zip(theirs.as_raw())
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .collect();
        let off = diffs.iter().filter(|&&d| d > 0).count();
        assert!(
            diffs.iter().all(|&d| d <= 1) && off * 100 <= diffs.len(),
            "{stem}: {off} pixels differ"
        );
    }
}
