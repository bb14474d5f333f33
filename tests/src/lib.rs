//! Helpers for the conformance tests: reading the goldens that
//! `tests/reference/make_goldens.py` wrote with the PyTorch reference.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use icnet_engine::io::preprocess::{self, Preprocess};
use icnet_engine::kernels::cosal::ranks_from_argsort;

pub fn golden_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(case)
}

/// Reads `golden/<case>/<name>` as a flat vector of `T`.
pub fn npy<T: npyz::Deserialize>(case: &str, name: &str) -> Vec<T> {
    let bytes =
        std::fs::read(golden_dir(case).join(name)).unwrap_or_else(|e| panic!("{case}/{name}: {e}"));
    npyz::NpyFile::new(&bytes[..])
        .and_then(|f| f.into_vec::<T>())
        .unwrap_or_else(|e| panic!("{case}/{name}: {e}"))
}

pub fn npy_f32(case: &str, name: &str) -> Vec<f32> {
    npy(case, name)
}

pub fn npy_u8(case: &str, name: &str) -> Vec<u8> {
    npy(case, name)
}

pub fn npy_i64(case: &str, name: &str) -> Vec<i64> {
    npy(case, name)
}

/// One golden group.
pub struct Golden {
    pub case: String,
    pub stems: Vec<String>,
    /// Original (height, width) of each photo.
    pub sizes: Vec<(u32, u32)>,
}

impl Golden {
    pub fn load(case: &str) -> Golden {
        let text =
            std::fs::read_to_string(golden_dir(case).join("manifest.json")).expect("manifest");
        let m: serde_json::Value = serde_json::from_str(&text).expect("manifest json");
        let stems = m["stems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        let sizes = m["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s[0].as_u64().unwrap() as u32, s[1].as_u64().unwrap() as u32))
            .collect();
        Golden {
            case: case.to_string(),
            stems,
            sizes,
        }
    }

    pub fn n(&self) -> usize {
        self.stems.len()
    }

    /// Network input from the golden's Pillow-resized pixels: [N,3,224,224].
    pub fn images(&self) -> Vec<f32> {
        let rgb = npy_u8(&self.case, "input_rgb_u8.npy");
        rgb.chunks(224 * 224 * 3)
            .flat_map(|im| preprocess::normalize(im, Preprocess::Imagenet))
            .collect()
    }

    /// [N,224,224] SISMs in [0,1].
    pub fn sisms(&self) -> Vec<f32> {
        preprocess::sism_to_f32(&npy_u8(&self.case, "sism_u8.npy"))
    }

    /// The reference's permutations as engine ranks, z = 2n + (0 fore, 1 back).
    pub fn ranks(&self) -> HashMap<String, Vec<u32>> {
        let mut out = HashMap::new();
        for (name, hw) in [("Co6", 49), ("Co5", 196), ("Co4", 784)] {
            let fore = npy_i64(&self.case, &format!("{name}.fore.argsort.npy"));
            let back = npy_i64(&self.case, &format!("{name}.back.argsort.npy"));
            let mut r = Vec::with_capacity(2 * self.n() * hw);
            for n in 0..self.n() {
                for idx in [&fore, &back] {
                    let row: Vec<usize> = idx[n * hw..(n + 1) * hw]
                        .iter()
                        .map(|&v| v as usize)
                        .collect();
                    r.extend(ranks_from_argsort(&row));
                }
            }
            out.insert(name.to_string(), r);
        }
        out
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|x| x.abs()).fold(0.0, f32::max)
}

/// A model file made by `icnet fetch-models`, e.g. `u2netp.safetensors`.
///
/// The weights are downloaded, not committed, so tests that need them fail
/// with the command that makes them (the README's test command runs it first).
pub fn model_path(file: &str) -> PathBuf {
    let dir = std::env::var_os("ICNET_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    let p = dir.join(file);
    assert!(
        p.exists(),
        "{} is missing: run `cargo run --release -p icnet-cli -- fetch-models` first \
         (or point ICNET_MODELS at a folder that has it)",
        p.display()
    );
    p
}
