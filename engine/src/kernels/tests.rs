//! Every kernel against its CPU reference on awkward shapes: channel counts
//! that are not multiples of 4, sizes that are not multiples of any tile, one
//! image, an all-zero SISM, tied sort keys. Tolerances: results are f32 sums
//! over at most a few thousand terms compared with f64 references, so 1e-5
//! absolute plus 1e-5 relative leaves a margin of ~10x over the rounding we
//! measured; exact ops (pool, rank) are compared exactly.

use super::conv::{self, Act, ConvCall, ConvInput, ConvVariant};
use super::cosal;
use super::gemm::{self, ALoad, GemmCall};
use super::pool;
use super::resize::{self, Coords, ResizeCall};
use super::testutil::{assert_close, data, run};
use crate::plan::{Graph, Role};
use crate::weights::ConvWeights;

fn conv_weights(seed: u64, cout: usize, cin: usize, k: usize) -> ConvWeights {
    let fan = (cin * k * k) as f32;
    ConvWeights {
        out_ch: cout,
        in_ch: cin,
        k,
        weight: data(seed, cout * cin * k * k, -1.0, 1.0)
            .iter()
            .map(|v| v / fan.sqrt())
            .collect(),
        bias: data(seed + 1, cout, -0.5, 0.5),
    }
}

const VARIANTS: &[ConvVariant] = &[
    ConvVariant::Direct { tn: 16, r: 8 },
    ConvVariant::Direct { tn: 4, r: 2 },
    ConvVariant::Direct { tn: 1, r: 1 },
    ConvVariant::Direct { tn: 8, r: 1 },
    ConvVariant::Tiled,
];

#[test]
fn conv_matches_cpu_on_awkward_shapes() {
    // (images, cin, cout, h, w, k, act, residual)
    let cases = [
        (2, 5, 7, 9, 13, 3, Act::Relu, false),
        (1, 3, 64, 11, 6, 3, Act::None, true),
        (3, 17, 1, 5, 5, 1, Act::Sigmoid, false),
        (1, 70, 33, 7, 7, 1, Act::Relu, true),
        (1, 20, 130, 3, 67, 3, Act::Relu, false),
    ];
    for &variant in VARIANTS {
        for (ci, &(n, cin, cout, h, w, k, act, has_res)) in cases.iter().enumerate() {
            let cw = conv_weights(ci as u64 * 10, cout, cin, k);
            let x = data(ci as u64 * 10 + 2, n * cin * h * w, -1.0, 1.0);
            let r = data(ci as u64 * 10 + 3, n * cout * h * w, -1.0, 1.0);
            let mut g = Graph::new();
            let tx = g.tensor("x", x.len(), Role::Input);
            let tr = g.tensor("r", r.len(), Role::Input);
            let ty = g.tensor("y", n * cout * h * w, Role::Output);
            let layer = conv::upload(&mut g, &cw);
            let mut call = ConvCall::simple(layer, n, h, w, tx, ty, act);
            if has_res {
                call.residual = Some((tr, 0, cout * h * w));
            }
            conv::push(&mut g, variant, &call);
            let got = run(g, &[(tx, &x), (tr, &r)], &[ty]).remove(0);
            let want = conv::cpu_conv(&x, n, h, w, &cw, has_res.then_some(&r[..]), act);
            assert_close(
                &got,
                &want,
                1e-5,
                1e-5,
                &format!("conv case {ci} {variant:?}"),
            );
        }
    }
}

#[test]
fn dilated_conv_with_residual_after_act_matches_cpu() {
    // U²-Netp's RSU layers: dilations 2/4/8 on maps smaller than the dilation
    // (most taps fall in the padding), 16-channel layers, relu(conv) + x.
    // (images, cin, cout, h, w, dilation, residual after act)
    let cases = [
        (2, 16, 16, 10, 10, 2, false),
        (1, 32, 64, 5, 7, 4, true),
        (1, 16, 16, 3, 9, 8, false),
        (3, 7, 5, 6, 13, 2, true),
    ];
    for &variant in VARIANTS {
        for (ci, &(n, cin, cout, h, w, dil, after)) in cases.iter().enumerate() {
            let cw = conv_weights(ci as u64 * 10 + 100, cout, cin, 3);
            let x = data(ci as u64 * 10 + 102, n * cin * h * w, -1.0, 1.0);
            let r = data(ci as u64 * 10 + 103, n * cout * h * w, -1.0, 1.0);
            let mut g = Graph::new();
            let tx = g.tensor("x", x.len(), Role::Input);
            let tr = g.tensor("r", r.len(), Role::Input);
            let ty = g.tensor("y", n * cout * h * w, Role::Output);
            let layer = conv::upload(&mut g, &cw).dilated(dil);
            let mut call = ConvCall::simple(layer, n, h, w, tx, ty, Act::Relu);
            call.residual = Some((tr, 0, cout * h * w));
            call.residual_after_act = after;
            conv::push(&mut g, variant, &call);
            let got = run(g, &[(tx, &x), (tr, &r)], &[ty]).remove(0);
            let want =
                conv::cpu_conv_dilated(&x, n, h, w, &cw, dil, Some((&r[..], after)), Act::Relu);
            assert_close(
                &got,
                &want,
                1e-5,
                1e-5,
                &format!("dilated case {ci} {variant:?}"),
            );
        }
    }
}

#[test]
fn conv_over_a_pair_matches_cpu_concat() {
    // U²-Netp's decoder reads cat([upsampled, skip]) from two tensors.
    let (n, ca, cb, cout, h, w) = (2, 16, 12, 9, 5, 11);
    let hw = h * w;
    let cw = conv_weights(300, cout, ca + cb, 3);
    let a = data(301, n * ca * hw, -1.0, 1.0);
    let b = data(302, n * cb * hw, -1.0, 1.0);
    let mut x = Vec::new();
    for img in 0..n {
        x.extend_from_slice(&a[img * ca * hw..(img + 1) * ca * hw]);
        x.extend_from_slice(&b[img * cb * hw..(img + 1) * cb * hw]);
    }
    let want = conv::cpu_conv(&x, n, h, w, &cw, None, Act::Relu);
    for &variant in VARIANTS {
        let mut g = Graph::new();
        let ta = g.tensor("a", a.len(), Role::Input);
        let tb = g.tensor("b", b.len(), Role::Input);
        let ty = g.tensor("y", n * cout * hw, Role::Output);
        let layer = conv::upload(&mut g, &cw);
        let mut call = ConvCall::simple(layer, n, h, w, ta, ty, Act::Relu);
        call.input = ConvInput::Pair {
            a: ta,
            b: tb,
            ca: ca as u32,
        };
        conv::push(&mut g, variant, &call);
        let got = run(g, &[(ta, &a), (tb, &b)], &[ty]).remove(0);
        assert_close(&got, &want, 1e-5, 1e-5, &format!("pair conv {variant:?}"));
    }
}

#[test]
fn conv_writes_and_reads_slices() {
    // Reads image 1..3 of a 4-image tensor and writes into channels 3.. of a wider output.
    let (cin, cout, h, w) = (6, 5, 4, 9);
    let hw = h * w;
    let cw = conv_weights(7, cout, cin, 3);
    let x = data(8, 4 * cin * hw, -1.0, 1.0);
    for &variant in VARIANTS {
        let mut g = Graph::new();
        let tx = g.tensor("x", x.len(), Role::Input);
        let ty = g.tensor("y", 2 * 9 * hw, Role::Output);
        let layer = conv::upload(&mut g, &cw);
        conv::push(
            &mut g,
            variant,
            &ConvCall {
                layer,
                images: 2,
                h,
                w,
                input: ConvInput::Plain {
                    t: tx,
                    off: (cin * hw) as u32,
                    bs: (cin * hw) as u32,
                },
                out: ty,
                out_off: 3 * hw,
                out_bs: 9 * hw,
                residual: None,
                residual_after_act: false,
                act: Act::None,
            },
        );
        let got = run(g, &[(tx, &x)], &[ty]).remove(0);
        let want = conv::cpu_conv(&x[cin * hw..3 * cin * hw], 2, h, w, &cw, None, Act::None);
        for n in 0..2 {
            let g_img = &got[n * 9 * hw + 3 * hw..n * 9 * hw + 8 * hw];
            assert_close(
                g_img,
                &want[n * cout * hw..(n + 1) * cout * hw],
                1e-5,
                1e-5,
                "slice",
            );
            assert!(
                got[n * 9 * hw..n * 9 * hw + 3 * hw]
                    .iter()
                    .all(|&v| v == 0.0),
                "wrote outside its slice"
            );
        }
    }
}

#[test]
fn decoder_concat_is_read_from_its_sources() {
    let (n, h, w) = (2, 5, 7);
    let hw = h * w;
    let cw = conv_weights(11, 96, 96, 3);
    let c = data(12, n * 32 * hw, -1.0, 1.0);
    let cm = data(13, n * hw, 0.0, 1.0);
    let s = data(14, n * hw, 0.0, 1.0);
    let of = data(15, n * 32 * hw, -1.0, 1.0);
    for &variant in VARIANTS {
        let mut g = Graph::new();
        let ids: Vec<_> = [
            ("c", c.len()),
            ("cm", cm.len()),
            ("s", s.len()),
            ("of", of.len()),
        ]
        .iter()
        .map(|(nm, l)| g.tensor(*nm, *l, Role::Input))
        .collect();
        let ty = g.tensor("y", n * 96 * hw, Role::Output);
        let layer = conv::upload(&mut g, &cw);
        let call = ConvCall {
            layer,
            images: n,
            h,
            w,
            input: ConvInput::Concat {
                c: ids[0],
                cm: ids[1],
                s: ids[2],
                of: ids[3],
            },
            out: ty,
            out_off: 0,
            out_bs: 96 * hw,
            residual: None,
            residual_after_act: false,
            act: Act::Relu,
        };
        conv::push(&mut g, variant, &call);
        let got = run(
            g,
            &[(ids[0], &c), (ids[1], &cm), (ids[2], &s), (ids[3], &of)],
            &[ty],
        )
        .remove(0);
        let x = conv::cpu_concat(&c, &cm, &s, &of, n, hw);
        let want = conv::cpu_conv(&x, n, h, w, &cw, None, Act::Relu);
        assert_close(&got, &want, 1e-5, 1e-5, &format!("concat conv {variant:?}"));
    }
}

#[test]
fn maxpool_matches_cpu() {
    // Even sizes (VGG16), odd sizes in floor and ceil mode (U²-Netp), 1-pixel edges.
    for &(planes, h, w, ceil) in &[
        (3, 6, 10, false),
        (2, 7, 9, false),
        (2, 7, 9, true),
        (1, 1, 5, true),
        (4, 20, 20, true),
    ] {
        let x = data(20, planes * h * w, -2.0, 2.0);
        let (oh, ow) = (pool::out_size(h, ceil), pool::out_size(w, ceil));
        let mut g = Graph::new();
        let tx = g.tensor("x", x.len(), Role::Input);
        let ty = g.tensor("y", planes * oh * ow, Role::Output);
        pool::push(&mut g, tx, ty, planes, h, w, ceil);
        let got = run(g, &[(tx, &x)], &[ty]).remove(0);
        assert_eq!(
            got,
            pool::cpu_maxpool(&x, planes, h, w, ceil),
            "{h}x{w} ceil={ceil}"
        );
    }
}

#[test]
fn resize_matches_pytorch_semantics() {
    // (in, out): down, up, identity, to a single pixel, 224 -> 7 point sampling
    let cases = [
        ((9, 13), (4, 6)),
        ((5, 3), (17, 11)),
        ((7, 7), (7, 7)),
        ((6, 4), (1, 1)),
        ((224, 224), (7, 7)),
    ];
    for (ci, &(ih, oh)) in cases.iter().enumerate() {
        let planes = 2;
        let x = data(30 + ci as u64, planes * ih.0 * ih.1, 0.0, 1.0);
        let mut g = Graph::new();
        let tx = g.tensor("x", x.len(), Role::Input);
        let ty = g.tensor("y", planes * oh.0 * oh.1, Role::Output);
        resize::push(&mut g, &ResizeCall::simple(tx, ty, 1, planes, ih, oh));
        let got = run(g, &[(tx, &x)], &[ty]).remove(0);
        let want = resize::cpu_resize_ac(&x, planes, ih, oh);
        assert_close(&got, &want, 1e-6, 0.0, &format!("resize case {ci}"));
        // Half-pixel centres (U²-Netp), same cases.
        let mut g = Graph::new();
        let tx = g.tensor("x", x.len(), Role::Input);
        let ty = g.tensor("y", planes * oh.0 * oh.1, Role::Output);
        let call = ResizeCall {
            coords: Coords::HalfPixel,
            ..ResizeCall::simple(tx, ty, 1, planes, ih, oh)
        };
        resize::push(&mut g, &call);
        let got_hp = run(g, &[(tx, &x)], &[ty]).remove(0);
        let want_hp = resize::cpu_resize(&x, planes, ih, oh, Coords::HalfPixel);
        assert_close(
            &got_hp,
            &want_hp,
            1e-6,
            0.0,
            &format!("half-pixel resize case {ci}"),
        );
        if ih == oh {
            assert_eq!(got, x, "same-size resize must be the identity");
        }
    }
}

#[test]
fn resize_one_minus_add_base_and_slices() {
    // Background branch: 1 - s, written to the odd slots of an interleaved [2N, hw].
    let (n, ih, oh) = (3, (8, 8), (3, 5));
    let ohw = oh.0 * oh.1;
    let s = data(40, n * 64, 0.0, 1.0);
    let base = data(41, n * ohw, -1.0, 1.0);
    let mut g = Graph::new();
    let ts = g.tensor("s", s.len(), Role::Input);
    let tb = g.tensor("base", base.len(), Role::Input);
    let ty = g.tensor("y", 2 * n * ohw, Role::Output);
    let mut call = ResizeCall::simple(ts, ty, n, 1, ih, oh);
    call.out_off = ohw;
    call.out_bs = 2 * ohw;
    call.one_minus = true;
    call.add_base = Some(tb);
    resize::push(&mut g, &call);
    let got = run(g, &[(ts, &s), (tb, &base)], &[ty]).remove(0);
    let inv: Vec<f32> = s.iter().map(|v| 1.0 - v).collect();
    let r = resize::cpu_resize_ac(&inv, n, ih, oh);
    for i in 0..n {
        let want: Vec<f32> = (0..ohw)
            .map(|p| base[i * ohw + p] + r[i * ohw + p])
            .collect();
        assert_close(
            &got[(2 * i + 1) * ohw..(2 * i + 2) * ohw],
            &want,
            1e-6,
            0.0,
            "odd slot",
        );
        assert!(got[2 * i * ohw..(2 * i + 1) * ohw]
            .iter()
            .all(|&v| v == 0.0));
    }
}

/// The whole co-saliency chain on small shapes, including an all-zero SISM
/// (its SIV must be 0) and a zero feature vector (its NF must be 0).
fn cosal_chain(images: usize, channels: usize, h: usize, w: usize, seed: u64) {
    let hw = h * w;
    let mut feats = data(seed, images * channels * hw, -1.0, 1.0);
    for c in 0..channels {
        feats[c * hw + 2] = 0.0; // pixel 2 of image 0 is a zero vector
    }
    let mut s2 = data(seed + 1, 2 * images * hw, 0.0, 1.0);
    for v in &mut s2[..hw] {
        *v = 0.0; // image 0 foreground SISM is empty
    }
    let cout = 9;
    let wts = data(seed + 2, cout * hw, -0.3, 0.3);
    let bias = data(seed + 3, cout, -0.1, 0.1);

    let nf_ref = cosal::cpu_l2norm(&feats, images, channels, hw);
    let siv_ref = cosal::cpu_siv(&nf_ref, &s2, images, channels, hw);
    let corr_ref = cosal::cpu_corr(&nf_ref, &siv_ref, images, channels, hw);
    let csa_ref = cosal::cpu_csa(&corr_ref, images, hw);

    let mut g = Graph::new();
    let tf = g.tensor("f", feats.len(), Role::Input);
    let ts = g.tensor("s", s2.len(), Role::Input);
    let tnf = g.tensor("nf", feats.len(), Role::Output);
    let tsiv = g.tensor("siv", 2 * images * channels, Role::Output);
    let tcorr = g.tensor("corr", 2 * images * images * hw, Role::Output);
    let tcsa = g.tensor("csa", 2 * images * hw, Role::Output);
    let trank = g.tensor("rank", 2 * images * hw, Role::Output);
    let ta = g.tensor("a", 2 * images * cout * channels, Role::Transient);
    let tx = g.tensor("x", 2 * images * cout * hw, Role::Output);
    cosal::push_l2norm(&mut g, tf, 0, channels * hw, tnf, images, channels, hw);
    cosal::push_siv(&mut g, tnf, ts, tsiv, images, channels, h, w, 2);
    cosal::push_corr(&mut g, tnf, tsiv, tcorr, images, channels, hw, 2);
    cosal::push_csa(&mut g, tcorr, tcsa, images, hw, 2);
    cosal::push_rank(&mut g, tcsa, trank, 2 * images, hw);
    let wc = g.constant_f32(&wts);
    let bc = g.constant_f32(&bias);
    gemm::push(
        &mut g,
        &GemmCall {
            batches: 2 * images,
            m: cout,
            n: channels,
            k: hw,
            a: ALoad::Gather { w: wc, rank: trank },
            b: tnf,
            b_off: 0,
            b_div: 2,
            b_bs: channels * hw,
            b_ks: 1,
            b_js: hw,
            c: ta,
            scale: None,
            bias: None,
        },
    );
    gemm::push(
        &mut g,
        &GemmCall {
            batches: 2 * images,
            m: cout,
            n: hw,
            k: channels,
            a: ALoad::Plain {
                t: ta,
                off: 0,
                bs: cout * channels,
                is: channels,
                ks: 1,
            },
            b: tnf,
            b_off: 0,
            b_div: 2,
            b_bs: channels * hw,
            b_ks: hw,
            b_js: 1,
            c: tx,
            scale: Some(tcsa),
            bias: Some(bc),
        },
    );
    let out = run(
        g,
        &[(tf, &feats), (ts, &s2)],
        &[tnf, tsiv, tcorr, tcsa, trank, tx],
    );
    assert_close(&out[0], &nf_ref, 1e-6, 1e-5, "nf");
    assert!(
        (0..channels).all(|c| out[0][c * hw + 2] == 0.0),
        "zero vector must normalise to 0"
    );
    assert_close(&out[1], &siv_ref, 1e-6, 1e-5, "siv");
    assert!(
        out[1][..channels].iter().all(|&v| v == 0.0),
        "all-zero SISM must give SIV 0"
    );
    assert_close(&out[2], &corr_ref, 1e-6, 1e-5, "corr");
    assert_close(&out[3], &csa_ref, 1e-5, 0.0, "csa");

    // Ranks: exactly the stable descending sort of the GPU's own keys.
    let ranks: Vec<u32> = bytemuck::cast_slice(&out[4]).to_vec();
    let mut idx = Vec::new();
    for z in 0..2 * images {
        let order = cosal::cpu_argsort_desc(&out[3][z * hw..(z + 1) * hw]);
        assert_eq!(
            &ranks[z * hw..(z + 1) * hw],
            &cosal::ranks_from_argsort(&order)[..],
            "rank z={z}"
        );
        idx.push(order);
    }
    // The folded GEMM form equals the SPEC's explicit SCF/RSCF form.
    let x_ref = cosal::cpu_rscf_conv(
        &out[0], &out[3], &idx, &wts, &bias, images, channels, hw, cout,
    );
    assert_close(&out[5], &x_ref, 1e-5, 1e-5, "rscf conv");
}

#[test]
fn cosal_chain_one_image() {
    cosal_chain(1, 10, 5, 7, 50);
}

#[test]
fn cosal_chain_three_images() {
    cosal_chain(3, 13, 7, 7, 60);
}

#[test]
fn cosal_chain_co4_size() {
    cosal_chain(2, 6, 28, 28, 70);
}

#[test]
fn rank_is_stable_on_ties() {
    let hw = 49;
    let mut keys: Vec<f32> = (0..2 * hw).map(|i| ((i * 7) % 5) as f32 / 4.0).collect();
    keys[3] = 1.0;
    keys[60] = 0.0;
    let mut g = Graph::new();
    let tk = g.tensor("k", keys.len(), Role::Input);
    let tr = g.tensor("r", keys.len(), Role::Output);
    cosal::push_rank(&mut g, tk, tr, 2, hw);
    let got = run(g, &[(tk, &keys)], &[tr]).remove(0);
    let ranks: Vec<u32> = bytemuck::cast_slice(&got).to_vec();
    for z in 0..2 {
        let order = cosal::cpu_argsort_desc(&keys[z * hw..(z + 1) * hw]);
        assert_eq!(
            &ranks[z * hw..(z + 1) * hw],
            &cosal::ranks_from_argsort(&order)[..]
        );
        // Equal keys keep ascending index order.
        for c in 1..hw {
            let (a, b) = (order[c - 1], order[c]);
            assert!(keys[z * hw + a] > keys[z * hw + b] || a < b);
        }
    }
}

#[test]
fn every_shader_instantiation_passes_naga() {
    // The network's own kernels are validated in the conformance crate; here,
    // every template combination the engine can emit.
    use super::Kernel;
    let mut kernels: Vec<Kernel> = Vec::new();
    let dummy = crate::plan::TensorId(0);
    for &v in VARIANTS {
        for k in [1, 3] {
            for input in [
                ConvInput::Plain {
                    t: dummy,
                    off: 0,
                    bs: 0,
                },
                ConvInput::Concat {
                    c: dummy,
                    cm: dummy,
                    s: dummy,
                    of: dummy,
                },
                ConvInput::Pair {
                    a: dummy,
                    b: dummy,
                    ca: 16,
                },
            ] {
                for res in [
                    conv::Residual::None,
                    conv::Residual::BeforeAct,
                    conv::Residual::AfterAct,
                ] {
                    for act in [Act::None, Act::Relu, Act::Sigmoid] {
                        for dil in [1, 2] {
                            kernels.push(conv::kernel(v, k, dil, &input, res, act));
                        }
                    }
                }
            }
        }
    }
    for k in &kernels {
        validate(&k.source(), k.name());
    }
}

pub fn validate(src: &str, name: &str) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}

#[test]
fn foreground_only_cosal_ops_match_the_foreground_branch() {
    // The training-free model runs SIV/corr/CSA with one branch per image;
    // each result must equal the foreground (even) branch of the pair layout.
    let (images, channels, h, w) = (3, 37, 5, 7);
    let hw = h * w;
    let feats = data(700, images * channels * hw, -1.0, 1.0);
    let s2 = data(701, 2 * images * hw, 0.0, 1.0);
    let fore: Vec<f32> = (0..images)
        .flat_map(|n| s2[2 * n * hw..(2 * n + 1) * hw].to_vec())
        .collect();
    let nf_ref = cosal::cpu_l2norm(&feats, images, channels, hw);
    let siv_ref = cosal::cpu_siv(&nf_ref, &s2, images, channels, hw);
    let corr_ref = cosal::cpu_corr(&nf_ref, &siv_ref, images, channels, hw);
    let csa_ref = cosal::cpu_csa(&corr_ref, images, hw);

    let mut g = Graph::new();
    let tf = g.tensor("f", feats.len(), Role::Input);
    let ts = g.tensor("s", fore.len(), Role::Input);
    let tnf = g.tensor("nf", feats.len(), Role::Transient);
    let tsiv = g.tensor("siv", images * channels, Role::Transient);
    let tcorr = g.tensor("corr", images * images * hw, Role::Transient);
    let tcsa = g.tensor("csa", images * hw, Role::Output);
    cosal::push_l2norm(&mut g, tf, 0, channels * hw, tnf, images, channels, hw);
    cosal::push_siv(&mut g, tnf, ts, tsiv, images, channels, h, w, 1);
    cosal::push_corr(&mut g, tnf, tsiv, tcorr, images, channels, hw, 1);
    cosal::push_csa(&mut g, tcorr, tcsa, images, hw, 1);
    let got = run(g, &[(tf, &feats), (ts, &fore)], &[tcsa]).remove(0);
    for n in 0..images {
        assert_close(
            &got[n * hw..(n + 1) * hw],
            &csa_ref[2 * n * hw..(2 * n + 1) * hw],
            1e-5,
            1e-4,
            &format!("foreground-only csa, image {n}"),
        );
    }
}
