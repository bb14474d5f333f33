//! Every WGSL kernel the network emits (every template instantiation, for
//! every convolution variant) passes naga's validator: no GPU needed.

use std::collections::BTreeMap;

use icnet_engine::kernels::conv::ConvVariant;
use icnet_engine::models::icnet::{build, NetworkOptions};
use icnet_engine::models::testweights::scaled_weights;

#[test]
fn every_network_kernel_validates() {
    let weights = scaled_weights(0).unwrap();
    let mut sources = BTreeMap::new();
    for variant in [
        ConvVariant::Direct {
            tn: 4,
            r: 2,
            sg: false,
        },
        ConvVariant::Direct {
            tn: 2,
            r: 4,
            sg: false,
        },
        ConvVariant::Tiled,
        ConvVariant::Winograd {
            tn: 4,
            r: 2,
            sg: false,
        },
        ConvVariant::Direct {
            tn: 4,
            r: 2,
            sg: true,
        },
        ConvVariant::Winograd {
            tn: 4,
            r: 2,
            sg: true,
        },
    ] {
        for inject in [false, true] {
            let net = build(
                &weights,
                &NetworkOptions {
                    images: 3,
                    chunk: 2,
                    variant,
                    inject_ranks: inject,
                    keep_intermediates: true,
                },
            );
            for s in &net.graph.steps {
                for precision in icnet_engine::Precision::ALL {
                    let mut k = s.kernel.clone();
                    k.precision = precision;
                    sources.entry(k.source()).or_insert(k.name());
                }
            }
        }
    }
    assert!(
        sources.len() >= 15,
        "expected many distinct kernels, got {}",
        sources.len()
    );
    for (src, name) in &sources {
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
        // As a device with the SUBGROUP and SHADER_F16 features validates
        // (the `-sg-` variants, the f16 precision).
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SHADER_FLOAT16,
        )
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}
