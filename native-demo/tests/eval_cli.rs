//! `icnet eval` on the metric fixtures of `tests/golden/metrics/` (written by
//! `tests/reference/make_metric_fixtures.py` with pysodmetrics 1.6.2): the
//! JSON report must match pysodmetrics to 1e-4, and an image that cannot be
//! scored is one warning, leaves the others scored and fails the command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_icnet");
const FIELDS: [&str; 8] = icnet_engine::metrics::Scores::NAMES;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/metrics")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Runs `icnet eval PRED GT --json <tmp>/report.json`; returns the output and the report.
fn eval(pred: &Path, gt: &Path, tmp: &Path) -> (Output, Value) {
    let json = tmp.join("report.json");
    let o = Command::new(BIN)
        .args(["eval", s(pred), s(gt), "--json", s(&json)])
        .output()
        .expect("could not start icnet");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!e.contains("panicked"), "icnet panicked:\n{e}");
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|err| panic!("no JSON report ({err}); stderr:\n{e}"));
    (o, serde_json::from_str(&text).unwrap())
}

fn assert_scores(what: &str, got: &Value, want: &Value) {
    assert_eq!(got["images"], want["images"], "{what}: images");
    for f in FIELDS {
        let (g, w) = (got[f].as_f64(), want[f].as_f64());
        match (g, w) {
            (Some(g), Some(w)) => assert!(
                (g - w).abs() <= 1e-4,
                "{what}: {f} is {g}, pysodmetrics gives {w}"
            ),
            _ => assert_eq!(g, w, "{what}: {f}"),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn scores_match_pysodmetrics() {
    let tmp = tempfile::tempdir().unwrap();
    let (o, report) = eval(&fixtures().join("pred"), &fixtures().join("gt"), tmp.path());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want = expected();
    for (group, w) in want["groups"].as_object().unwrap() {
        assert_scores(group, &report["groups"][group], w);
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(group))
            .unwrap_or_else(|| panic!("no table row for {group}:\n{stdout}"));
        let s = format!("{:.3}", w["s_measure"].as_f64().unwrap());
        assert!(row.contains(&s), "row {row:?} lacks S = {s}");
    }
    assert_eq!(
        report["groups"].as_object().unwrap().len(),
        want["groups"].as_object().unwrap().len()
    );
    assert_scores("overall", &report["overall"], &want["overall"]);
    let overall = stdout
        .lines()
        .find(|l| l.starts_with("overall"))
        .expect("an overall row");
    let mae = format!("{:.3}", want["overall"]["mae"].as_f64().unwrap());
    assert!(overall.ends_with(&mae), "{overall:?} lacks MAE = {mae}");
}

#[test]
fn flat_folders_are_one_group() {
    let tmp = tempfile::tempdir().unwrap();
    let (pred, gt) = (fixtures().join("pred/gamma"), fixtures().join("gt/gamma"));
    let (o, report) = eval(&pred, &gt, tmp.path());
    assert!(o.status.success());
    let want = expected();
    assert_scores(
        "gamma",
        &report["groups"]["gamma"],
        &want["groups"]["gamma"],
    );
    assert_scores("overall", &report["overall"], &want["groups"]["gamma"]);
}

#[test]
fn missing_prediction_is_reported_and_the_rest_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fixtures");
    copy_dir(&fixtures(), &root);
    std::fs::remove_file(root.join("pred/beta/b03_full_gt.png")).unwrap();
    // A prediction of the wrong size is an error for that image too.
    image::GrayImage::new(7, 5)
        .save(root.join("pred/alpha/a02_perfect.png"))
        .unwrap();
    let (o, report) = eval(&root.join("pred"), &root.join("gt"), tmp.path());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "should fail; stderr:\n{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("no prediction") && l.contains("b03_full_gt.png")),
        "{stderr}"
    );
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("a02_perfect.png") && l.contains("7x5") && l.contains("17x23")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error: 2 of 14 ground-truth masks")),
        "{stderr}"
    );
    // The untouched group keeps its scores; the others lost one image each.
    let want = expected();
    assert_scores(
        "gamma",
        &report["groups"]["gamma"],
        &want["groups"]["gamma"],
    );
    assert_eq!(report["groups"]["alpha"]["images"], 4);
    assert_eq!(report["groups"]["beta"]["images"], 4);
    assert_eq!(report["overall"]["images"], 12);
    assert_eq!(report["not_scored"].as_array().unwrap().len(), 2);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("overall")), "{stdout}");
}

/// Every prediction of another size than its mask: the closing sentence
/// names that cause (before part 6 it blamed the prediction paths).
#[test]
fn maps_of_the_wrong_size_are_named_as_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fixtures");
    copy_dir(&fixtures(), &root);
    let pred = root.join("pred");
    for group in std::fs::read_dir(&pred).unwrap() {
        for map in std::fs::read_dir(group.unwrap().path()).unwrap() {
            image::GrayImage::new(7, 5)
                .save(map.unwrap().path())
                .unwrap();
        }
    }
    let o = Command::new(BIN)
        .args(["eval", s(&pred), s(&root.join("gt"))])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    let last = e.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: none of the 14 ground-truth masks could be scored: every one has a prediction of another size")
            && !last.contains("expected as"),
        "{e}"
    );
}

/// The JSON report never lands among the files that are read.
#[test]
fn the_report_is_not_written_into_an_input_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("fixtures");
    copy_dir(&fixtures(), &root);
    let inside = root.join("gt/alpha/report.json");
    let o = Command::new(BIN)
        .args([
            "eval",
            s(&root.join("pred")),
            s(&root.join("gt")),
            "--json",
            s(&inside),
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("is inside GT_ROOT"),
        "{e}"
    );
    assert!(!inside.exists());
}
