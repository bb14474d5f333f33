//! Writes the committed seed corpora, fuzz/seeds/{weights,image,onnx}/:
//! small real or hand-made inputs of every kind the targets read, plus
//! damaged variants (truncated, NaN values, huge declared shapes).
//!
//! `cargo run --example make_seeds` (from fuzz/, no sanitizer needed). The
//! image seeds copy a few small test images of the repository and add
//! GIF, BMP and TIFF files made here. Everything stays small (< 100 KB).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use icnet_engine::models::spec_keys::STATE_DICT;
use icnet_engine::models::u2net::SaliencyModel;
use prost::Message;
use safetensors::Dtype;

#[allow(dead_code)]
#[path = "../../native-demo/src/fetch_models/onnx.rs"]
mod onnx;

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn f32s(shape: &[usize], values: impl IntoIterator<Item = f32>) -> Raw {
    Raw {
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes: values.into_iter().flat_map(f32::to_le_bytes).collect(),
    }
}

fn st(tensors: &[(&str, Raw)], preprocess: Option<&str>) -> Vec<u8> {
    let meta: Option<HashMap<String, String>> =
        preprocess.map(|p| [("icnet.preprocess".to_string(), p.to_string())].into());
    safetensors::serialize(tensors.iter().map(|(n, r)| (*n, r)), meta).unwrap()
}

/// A file whose header is written by hand (for headers the serializer refuses).
fn st_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The small table of the weights target: a 2x1x3x3 and a 1x2x1x1 conv.
fn small(values: &[f32]) -> Vec<(&'static str, Raw)> {
    vec![
        (
            "a.weight",
            f32s(&[2, 1, 3, 3], values[..18].iter().copied()),
        ),
        ("a.bias", f32s(&[2], values[18..20].iter().copied())),
        (
            "b.weight",
            f32s(&[1, 2, 1, 1], values[20..22].iter().copied()),
        ),
        ("b.bias", f32s(&[1], values[22..23].iter().copied())),
    ]
}

fn weights(dir: &Path) {
    let good: Vec<f32> = (0..23).map(|i| (i as f32 - 11.0) / 8.0).collect();
    let valid = st(&small(&good), Some("imagenet"));
    write(dir, "small-valid", &valid);
    write(dir, "small-untagged", &st(&small(&good), None));
    write(dir, "small-caffe", &st(&small(&good), Some("caffe-bgr")));
    write(dir, "small-bad-tag", &st(&small(&good), Some("bgr-ish")));
    write(dir, "small-truncated", &valid[..valid.len() - 3]);
    write(dir, "small-header-only", &valid[..valid.len() - 23 * 4]);
    let mut bad = good.clone();
    bad[19] = f32::NAN;
    bad[3] = f32::INFINITY;
    write(dir, "small-nan-inf", &st(&small(&bad), None));
    let mut t = small(&good);
    t[3].1 = Raw {
        dtype: Dtype::F16,
        shape: vec![1],
        bytes: vec![0, 0x3c],
    };
    write(dir, "small-f16", &st(&t, None));
    // Huge declared shapes: the element count overflows, or needs terabytes.
    write(
        dir,
        "small-huge-shape",
        &st_raw(
            r#"{"a.weight":{"dtype":"F32","shape":[4294967296,4294967296,2,1],"data_offsets":[0,8]},"a.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            &[0; 16],
        ),
    );
    write(
        dir,
        "small-big-shape",
        &st_raw(
            r#"{"a.weight":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}"#,
            &[0; 16],
        ),
    );
    // Every ICNet and U²-Netp name, each a single value: all shapes wrong.
    let icnet: Vec<(&str, Raw)> = STATE_DICT
        .iter()
        .map(|(n, _)| (*n, f32s(&[1], [0.5])))
        .collect();
    write(
        dir,
        "icnet-names-wrong-shapes",
        &st(&icnet, Some("imagenet")),
    );
    let with_prefix: Vec<(String, Raw)> = STATE_DICT
        .iter()
        .take(20)
        .map(|(n, _)| (format!("module.{n}"), f32s(&[1], [0.5])))
        .collect();
    let refs: Vec<(&str, Raw)> = with_prefix
        .into_iter()
        .map(|(n, r)| (&*n.leak(), r))
        .collect();
    write(dir, "icnet-module-prefix", &st(&refs, None));
    let names: Vec<String> = SaliencyModel::U2Netp
        .shapes()
        .iter()
        .flat_map(|(p, ..)| [format!("{p}.weight"), format!("{p}.bias")])
        .collect();
    let u2: Vec<(&str, Raw)> = names
        .iter()
        .map(|n| (n.as_str(), f32s(&[1], [0.25])))
        .collect();
    write(dir, "u2netp-names-wrong-shapes", &st(&u2, None));
    // The first bytes of real ICNet test weights (the header is cut).
    let icnet_full: Vec<(&str, Raw)> = STATE_DICT
        .iter()
        .take(6)
        .map(|(n, s)| {
            (
                *n,
                f32s(s, (0..s.iter().product::<usize>()).map(|i| i as f32)),
            )
        })
        .collect();
    let bytes = st(&icnet_full, Some("imagenet"));
    write(
        dir,
        "icnet-first-tensors-truncated",
        &bytes[..4096.min(bytes.len())],
    );
    write(dir, "empty", b"");
    write(
        dir,
        "not-safetensors",
        b"PK\x03\x04 this is a zip, not weights",
    );
}

fn image(dir: &Path, root: &Path) {
    let header = |flags: u8, sism: usize| {
        let n = u16::try_from(sism).unwrap().to_le_bytes();
        vec![flags, n[0], n[1]]
    };
    let photo_only = |bytes: &[u8], official: bool| {
        let mut out = header(if official { 2 } else { 0 }, 0);
        out.extend_from_slice(bytes);
        out
    };
    for (name, path, official) in [
        (
            "png-bilevel",
            "tests/golden/resize/src_bilevel_31x17.png",
            false,
        ),
        (
            "png-gray16",
            "tests/golden/resize/src_gray16_60x40.png",
            false,
        ),
        ("png-la", "tests/golden/resize/src_la_20x25.png", true),
        ("png-palette", "tests/golden/resize/src_p_33x20.png", false),
        ("png-1x1", "tests/golden/resize/src_rgb_1x1.png", false),
        ("png-rgb", "tests/golden/resize/src_rgb_40x30.png", true),
        (
            "png-rgba16",
            "tests/golden/resize/src_rgba16_40x20.png",
            false,
        ),
        ("jpeg-rgb", "tests/golden/resize/src_rgb_120x90.jpg", false),
        ("jpeg-exif6", "web/tests/windmill-exif6.jpg", false),
        ("jpeg-exif6-official", "web/tests/windmill-exif6.jpg", true),
        (
            "webp-lossy",
            "tests/golden/resize/src_rgb_64x48_lossy.webp",
            false,
        ),
        (
            "webp-lossy-alpha",
            "tests/golden/resize/src_rgba_50x40_lossy.webp",
            false,
        ),
    ] {
        let bytes = std::fs::read(root.join(path)).unwrap();
        write(dir, name, &photo_only(&bytes, official));
        if name == "jpeg-rgb" {
            write(
                dir,
                "jpeg-truncated",
                &photo_only(&bytes[..bytes.len() / 2], false),
            );
        }
    }
    // A photo with a map of another size.
    let photo = std::fs::read(root.join("tests/golden/resize/src_rgb_40x30.png")).unwrap();
    let map = std::fs::read(root.join("tests/golden/resize/src_bilevel_31x17.png")).unwrap();
    let mut pair = header(1, map.len());
    pair.extend_from_slice(&photo);
    pair.extend_from_slice(&map);
    write(dir, "pair-png-png", &pair);

    // Formats made here.
    let img = image::RgbImage::from_fn(9, 7, |x, y| {
        image::Rgb([(x * 28) as u8, (y * 36) as u8, 77])
    });
    for (name, format) in [
        ("gif", image::ImageFormat::Gif),
        ("bmp", image::ImageFormat::Bmp),
        ("tiff", image::ImageFormat::Tiff),
        ("webp-lossless", image::ImageFormat::WebP),
    ] {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut out, format)
            .unwrap();
        write(dir, name, &photo_only(out.get_ref(), false));
    }
    // PNG headers declaring a large image with (almost) no pixel data: over
    // the 100 MP limit, and just under it.
    for (name, w, h) in [
        ("png-over-limit", 20_000u32, 20_000u32),
        ("png-under-limit", 10_000, 9_999),
    ] {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        // A tiny IDAT (an empty zlib stream) and IEND.
        let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
        png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
        png.extend_from_slice(idat);
        png.extend_from_slice(&crc32(idat).to_be_bytes());
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
        write(dir, name, &photo_only(&png, false));
    }
    write(dir, "empty", b"");
    write(dir, "text", &photo_only(b"not an image at all", false));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn ints(name: &str, v: Vec<i64>) -> onnx::AttributeProto {
    onnx::AttributeProto {
        name: name.into(),
        ints: v,
        r#type: 7,
        ..Default::default()
    }
}

fn conv(name: &str, inputs: &[&str]) -> onnx::NodeProto {
    onnx::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        name: name.into(),
        op_type: "Conv".into(),
        attribute: vec![
            ints("dilations", vec![2, 2]),
            ints("pads", vec![1, 1, 1, 1]),
            ints("strides", vec![1, 1]),
            onnx::AttributeProto {
                name: "group".into(),
                i: 1,
                r#type: 2,
                ..Default::default()
            },
        ],
    }
}

fn raw_init(name: &str, dims: &[i64], n: usize) -> onnx::TensorProto {
    onnx::TensorProto {
        dims: dims.to_vec(),
        data_type: onnx::FLOAT,
        name: name.into(),
        raw_data: (0..n)
            .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
            .collect(),
        ..Default::default()
    }
}

fn model(node: Vec<onnx::NodeProto>, initializer: Vec<onnx::TensorProto>) -> Vec<u8> {
    onnx::ModelProto {
        graph: Some(onnx::GraphProto {
            node,
            initializer,
            input: vec![onnx::ValueInfoProto { name: "x".into() }],
            output: vec![onnx::ValueInfoProto {
                name: "c2_out".into(),
            }],
        }),
    }
    .encode_to_vec()
}

fn onnx_seeds(dir: &Path) {
    let float_init = onnx::TensorProto {
        dims: vec![1, 2, 1, 1],
        data_type: onnx::FLOAT,
        name: "w2".into(),
        float_data: vec![0.25, -1.5],
        ..Default::default()
    };
    let relu = onnx::NodeProto {
        input: vec!["c1_out".into()],
        output: vec!["r".into()],
        name: "relu".into(),
        op_type: "Relu".into(),
        attribute: vec![],
    };
    let good = model(
        vec![
            conv("c1", &["x", "w1", "b1"]),
            relu,
            conv("c2", &["r", "w2"]),
        ],
        vec![
            raw_init("w1", &[2, 1, 3, 3], 18),
            raw_init("b1", &[2], 2),
            float_init.clone(),
        ],
    );
    write(dir, "two-convs", &good);
    write(dir, "two-convs-truncated", &good[..good.len() * 2 / 3]);
    let mut ext = raw_init("w1", &[2, 1, 3, 3], 18);
    ext.data_location = 1;
    write(
        dir,
        "external-data",
        &model(vec![conv("c1", &["x", "w1"])], vec![ext]),
    );
    let mut int = raw_init("w1", &[2, 1, 3, 3], 18);
    int.data_type = 7;
    write(
        dir,
        "int64-weight",
        &model(vec![conv("c1", &["x", "w1"])], vec![int]),
    );
    write(
        dir,
        "negative-dim",
        &model(
            vec![conv("c1", &["x", "w1"])],
            vec![raw_init("w1", &[-1, 4], 4)],
        ),
    );
    write(
        dir,
        "wrong-data-length",
        &model(
            vec![conv("c1", &["x", "w1"])],
            vec![raw_init("w1", &[2, 3], 5)],
        ),
    );
    let mut same = conv("c1", &["x", "w1"]);
    same.attribute.push(onnx::AttributeProto {
        name: "auto_pad".into(),
        s: b"SAME_UPPER".to_vec(),
        r#type: 3,
        ..Default::default()
    });
    write(
        dir,
        "auto-pad",
        &model(vec![same], vec![raw_init("w1", &[1, 1, 1, 1], 1)]),
    );
    write(
        dir,
        "missing-initializer",
        &model(vec![conv("c1", &["x", "w9"])], vec![]),
    );
    write(dir, "empty", b"");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz.parent().unwrap().to_path_buf();
    for (target, make) in [
        ("weights", &(|d: &Path| weights(d)) as &dyn Fn(&Path)),
        ("image", &|d: &Path| image(d, &root)),
        ("onnx", &|d: &Path| onnx_seeds(d)),
    ] {
        let dir = fuzz.join("seeds").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        make(&dir);
    }
    println!("seeds written under {}", fuzz.join("seeds").display());
}
