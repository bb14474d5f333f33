//! `icnet make-test-weights`: the deterministic "scaled" test weights (the
//! ones the goldens and the Python reference use) as a `.safetensors` file, so
//! the whole pipeline can be tried without the official checkpoint. The maps
//! they give are not meaningful co-saliency.

use std::process::ExitCode;

use icnet_engine::models::testweights;

use crate::cli::MakeTestWeightsArgs;
use crate::text::mib;

pub fn make_test_weights(a: &MakeTestWeightsArgs) -> Result<ExitCode, String> {
    let tensors = testweights::scaled_tensors(a.seed);
    let bytes = testweights::to_safetensors(&tensors, "imagenet");
    crate::atomic::write_or_say(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({} tensors, {:.1} MiB, seed {}; test weights, not the trained model)",
        a.out.display(),
        tensors.len(),
        mib(bytes.len() as u64),
        a.seed
    );
    Ok(ExitCode::SUCCESS)
}
