//! The kernel conformance cases of [`super::selftest`] (every kernel against
//! its CPU reference on awkward shapes; tolerances are explained there), one
//! `#[test]` each, on the test binary's shared device; and every shader
//! template instantiation validated with naga.

use super::conv::{self, Act, ConvInput};
use super::selftest::{self, VARIANTS};
use super::testutil::gpu;

/// Runs the self-test case `name` and fails with its message.
fn check(name: &str) {
    match pollster::block_on(selftest::run_case(gpu(), name)) {
        Ok(detail) => println!("{name}: {detail}"),
        Err(e) => panic!("{name}: {e}"),
    }
}

macro_rules! case_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
        /// The cases that have a `#[test]` above.
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

case_tests!(
    conv_matches_cpu_on_awkward_shapes,
    dilated_conv_with_residual_after_act_matches_cpu,
    conv_over_a_pair_matches_cpu_concat,
    conv_writes_and_reads_slices,
    winograd_conv_matches_cpu_on_awkward_shapes_and_in_passes,
    decoder_concat_is_read_from_its_sources,
    maxpool_matches_cpu,
    resize_matches_pytorch_semantics,
    resize_one_minus_add_base_and_slices,
    cosal_chain_one_image,
    cosal_chain_three_images,
    cosal_chain_co4_size,
    rank_is_stable_on_ties,
    foreground_only_cosal_ops_match_the_foreground_branch,
    mul_matches_cpu,
    f16_storage_conv_matches_cpu_on_rounded_operands,
);

#[test]
fn every_selftest_case_has_a_test() {
    let mut cases: Vec<&str> = selftest::cases().iter().map(|c| c.name).collect();
    let mut tested = TESTED.to_vec();
    cases.sort_unstable();
    tested.sort_unstable();
    assert_eq!(cases, tested, "add a line to case_tests! for each new case");
}

#[test]
fn every_shader_has_a_selftest_case() {
    // A case name mentions each kernel it checks, except the GEMM and the
    // co-saliency ops, which the cosal chain runs together.
    let names: Vec<&str> = selftest::cases().iter().map(|c| c.name).collect();
    for (shader, _) in super::SHADERS {
        let covered_by = match *shader {
            "conv_direct" | "conv_tiled" => "conv",
            "wino_in" | "wino_out" => "winograd",
            "resize_ac" => "resize",
            "l2norm" | "siv" | "corr" | "csa" | "gemm" => "cosal_chain",
            "rank" => "rank",
            s => s,
        };
        assert!(
            names.iter().any(|n| n.contains(covered_by)),
            "no self-test case covers the {shader} shader"
        );
    }
}

#[test]
fn checks_name_the_worst_element() {
    let want = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(
        selftest::check_close(&[1.0, 2.0, 3.0, 4.0], &want, 0.0, 0.0, "x"),
        Ok(0.0)
    );
    let e = selftest::check_close(&[1.0, 2.5, 3.1, 4.0], &want, 0.2, 0.0, "x").unwrap_err();
    assert_eq!(e, "x: element 1 is 2.5 but should be 2 (atol 0.2, rtol 0).");
    let e = selftest::check_close(&[1.0, 2.0, f32::NAN, 4.0], &want, 1.0, 1.0, "x").unwrap_err();
    assert!(e.starts_with("x: element 2 is NaN"), "{e}");
    assert!(selftest::check_close(&[1.0], &want, 1.0, 1.0, "x").is_err());
    assert_eq!(
        selftest::check_exact(&[1u32, 2, 4], &[1, 2, 3], "r").unwrap_err(),
        "r: element 2 is 4 but should be 3 (exact)."
    );
}

#[test]
fn unknown_case_is_an_error() {
    let e = pollster::block_on(selftest::run_case(gpu(), "no_such_case")).unwrap_err();
    assert!(e.contains("no_such_case"), "{e}");
}

#[test]
fn subgroup_variants_broadcast_their_weights() {
    // The conformance cases cannot tell a subgroup kernel that lost its
    // broadcasts from the plain one (they compute the same sums), so check
    // the generated code: the `-sg-` body reads one weight vector per tap
    // and broadcasts it, the plain body broadcasts nothing.
    let plain = ConvInput::Plain {
        t: crate::runtime::plan::TensorId(0),
        off: 0,
        bs: 0,
    };
    for v in VARIANTS
        .iter()
        .filter(|v| v.with_subgroups().uses_subgroups())
    {
        for k in [1, 3] {
            let sg = v.with_subgroups();
            let src = conv::kernel(sg, k, &plain, conv::Residual::None, Act::Relu).source();
            let broadcasts = src.matches("subgroupBroadcast(").count();
            let r = sg.subgroup_lanes_needed() as usize;
            assert_eq!(broadcasts, k * k * r, "{} {k}x{k}", sg.label());
            let plain_src = conv::kernel(*v, k, &plain, conv::Residual::None, Act::Relu).source();
            assert!(!plain_src.contains("subgroup"), "{} {k}x{k}", v.label());
        }
    }
}

#[test]
fn every_shader_instantiation_passes_naga() {
    // The network's own kernels are validated in the conformance crate; here,
    // every template combination the engine can emit.
    use super::Kernel;
    let mut kernels: Vec<Kernel> = Vec::new();
    let dummy = crate::runtime::plan::TensorId(0);
    let with_twins = VARIANTS.iter().flat_map(|&v| [v, v.with_subgroups()]);
    for v in with_twins {
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
            kernels.push(super::winograd::input_kernel(&input));
            for res in [
                conv::Residual::None,
                conv::Residual::BeforeAct,
                conv::Residual::AfterAct,
            ] {
                for act in [Act::None, Act::Relu, Act::Sigmoid] {
                    for k in [1, 3] {
                        kernels.push(conv::kernel(v, k, &input, res, act));
                    }
                    kernels.push(super::winograd::output_kernel(res, act));
                }
            }
        }
    }
    // The Winograd GEMM: a 1x1 direct kernel with one weight matrix per image.
    let plain = ConvInput::Plain {
        t: dummy,
        off: 0,
        bs: 0,
    };
    kernels.push(conv::kernel_with(
        conv::ConvVariant::Direct {
            tn: 4,
            r: 2,
            sg: false,
        },
        1,
        &plain,
        conv::Residual::None,
        Act::None,
        true,
    ));
    for k in &mut kernels {
        for precision in crate::Precision::ALL {
            k.precision = precision;
            validate(&k.source(), k.name());
        }
    }
}

pub fn validate(src: &str, name: &str) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    // Subgroup operations as a device with the SUBGROUP feature has them
    // (the `-sg-` variants), f16 as one with SHADER_F16 (the f16 precision).
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SHADER_FLOAT16,
    )
    .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
    .subgroup_operations(naga::valid::SubgroupOperationSet::all())
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}
