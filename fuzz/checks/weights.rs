//! What the `weights` fuzz target checks on one input, shared by the target
//! (fuzz/fuzz_targets/weights.rs) and the replay of the regression corpus
//! (tests/tests/fuzz_regressions.rs), both of which include this file by path.
//!
//! The safetensors weights loaders: ICNet (`Weights`, one buffer and split in
//! two parts), U²-Netp (`ConvSet` with its real table) and a two-conv
//! `ConvSet` small enough that mutated files still pass the structural checks
//! and reach the value checks (NaN, infinity) and the copy into the set.
//! Any input must give `Ok` or `Err(Error::Weights)`, never a panic; an `Ok`
//! set must hold exactly its table, with finite values.

use std::sync::OnceLock;

use icnet_engine::io::weights::{ConvSet, ConvShape, Weights};
use icnet_engine::models::u2net::SaliencyModel;
use icnet_engine::Error;

/// The table of the small set; `fuzz/seeds/weights/small-*` are files for it.
fn small_shapes() -> Vec<ConvShape> {
    vec![("a".into(), 2, 1, 3), ("b".into(), 1, 2, 1)]
}

fn u2netp_shapes() -> &'static [ConvShape] {
    static SHAPES: OnceLock<Vec<ConvShape>> = OnceLock::new();
    SHAPES.get_or_init(|| SaliencyModel::U2Netp.shapes())
}

fn check_set(r: icnet_engine::Result<ConvSet>, shapes: &[ConvShape]) {
    match r {
        Ok(set) => {
            for (p, o, i, k) in shapes {
                let c = set.conv(p);
                assert_eq!((c.out_ch, c.in_ch, c.k), (*o, *i, *k));
                assert_eq!(c.weight.len(), o * i * k * k);
                assert_eq!(c.bias.len(), *o);
                assert!(c.weight.iter().chain(&c.bias).all(|v| v.is_finite()));
            }
            let _ = set.preprocess();
            let _ = set.preprocess_warning();
        }
        Err(Error::Weights(m)) => assert!(!m.is_empty()),
        Err(e) => panic!("not a weights error: {e:?}"),
    }
}

fn check_weights(r: icnet_engine::Result<Weights>) {
    match r {
        Ok(w) => {
            for p in w.conv_prefixes() {
                let c = w.conv(p);
                assert!(c.weight.iter().chain(&c.bias).all(|v| v.is_finite()));
            }
            let _ = w.preprocess_warning();
        }
        Err(Error::Weights(m)) => assert!(!m.is_empty()),
        Err(e) => panic!("not a weights error: {e:?}"),
    }
}

/// Runs every loader on `data`; panics on a wrong result.
pub fn check(data: &[u8]) {
    check_weights(Weights::from_bytes(data));
    check_set(
        ConvSet::from_bytes_named(data, "fuzz", "the U²-Netp weights", u2netp_shapes()),
        u2netp_shapes(),
    );
    let small = small_shapes();
    check_set(
        ConvSet::from_bytes_named(data, "fuzz", "the test convs", &small),
        &small,
    );
    // Two parts: the last byte says where to cut the rest.
    if let Some((&cut, rest)) = data.split_last() {
        let at = rest.len() * usize::from(cut) / 256;
        let (a, b) = rest.split_at(at);
        check_weights(Weights::from_parts(&[(a, "a"), (b, "b")]));
    }
}
