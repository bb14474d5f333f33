#!/usr/bin/env bash
# The browser tests, as CI runs them (after `cargo test`; needs the models of
# `icnet fetch-models` and the tools listed in web/README.md):
#
#   1. builds web/dist (web/build.sh);
#   2. runs the engine's kernel conformance cases inside headless Chromium
#      (web/tests/selftest.mjs, on the browser's WebGPU adapter);
#   3. computes reference maps with `icnet run` for two photos of
#      examples/windmills and web/tests/windmill-exif6.jpg (stored 64x48 with
#      EXIF Orientation 6, which `icnet run` applies by default: its maps are
#      48x64) with its default model, the ICNet trained by this project, with
#      the saliency maps it computed, then `--model csa` on those saliency
#      maps; then drops the same photos (plus a file that is not an image) on
#      the page and compares its default maps and saliency maps with them,
#      loses the GPU device while idle and in the middle of a second run
#      (the page replaces it; the maps after it must be the same bytes),
#      switches the page to the training-free model and compares its csa
#      maps, and checks the error cases, ICNet weights uploaded and the model
#      cache on a second visit (web/tests/smoke.mjs).
#
# Screenshots: web/test-results/selftest.png and web/test-results/smoke.png.
# Honours CARGO_TARGET_DIR. Options are passed on to smoke.mjs (e.g. --variant V).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

"$here/build.sh"

echo "== kernel conformance in the browser"
node "$here/tests/selftest.mjs"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/photos/windmills"
cp examples/windmills/windmill1.webp examples/windmills/windmill2.webp "$here/tests/windmill-exif6.jpg" \
  "$work/photos/windmills/"

echo "== reference maps from icnet run (the default model, then --model csa)"
icnet=(cargo run --release -q -p icnet-cli --)
"${icnet[@]}" run "$work/photos" --out "$work/native" --save-sisms "$work/sisms"
# On the saliency maps of the first run, as the page's csa run is (it gives
# its own back; smoke.mjs compares them with these too).
"${icnet[@]}" run "$work/photos" --model csa --sisms "$work/sisms" --out "$work/native-csa"
"${icnet[@]}" make-test-weights "$work/icnet-test.safetensors"

echo "== the page in the browser"
node "$here/tests/smoke.mjs" --expect "$work/native/windmills" \
  --expect-sisms "$work/sisms/windmills" --expect-csa "$work/native-csa/windmills" \
  --weights "$work/icnet-test.safetensors" --revisit "$@"
echo "browser tests passed"
