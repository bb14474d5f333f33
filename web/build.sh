#!/usr/bin/env bash
# Builds the browser demo into web/dist/: a self-contained static site (the
# page, the wasm module and its JavaScript glue, and the models: U²-Netp,
# VGG16 and the head of the ICNet trained by this project, weights/, which the
# page joins with VGG16 itself, so VGG16 is served once for both models; and
# the full U²-Net when models/ has it, which the page downloads only when the
# user picks it: "on_demand" in models/manifest.json).
#
#   web/build.sh            # release build, wasm-opt -O3
#   web/build.sh --no-opt   # skip wasm-opt (faster, bigger module)
#
# Installs nothing by itself: it checks for what it needs and says how to get
# what is missing. Honours CARGO_TARGET_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dist="$here/dist"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen crate in Cargo.lock
opt=1
for a in "$@"; do
  case "$a" in
    --no-opt) opt=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

missing=()
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  missing+=("the wasm32 target: rustup target add wasm32-unknown-unknown")
fi
have_bindgen="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have_bindgen" != "$WASM_BINDGEN_VERSION" ]; then
  missing+=("wasm-bindgen-cli $WASM_BINDGEN_VERSION (found: ${have_bindgen:-none}): cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION   (about 2 minutes)")
fi
wasm_opt="$here/node_modules/.bin/wasm-opt"
if [ "$opt" = 1 ] && [ ! -x "$wasm_opt" ]; then
  missing+=("wasm-opt from npm binaryen (Debian's wasm-opt breaks wasm-bindgen output): (cd web && npm install)   or build with --no-opt")
fi
for m in vgg16-imagenet.safetensors u2netp.safetensors; do
  if [ ! -f "$root/models/$m" ]; then
    missing+=("models/$m: cargo run --release -p icnet-cli -- fetch-models")
    break
  fi
done
head_file="$root/weights/icnet-head.safetensors"
if [ ! -f "$head_file" ]; then
  missing+=("weights/icnet-head.safetensors (part of the repository: git checkout weights/)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "web/build.sh: missing tools or files; get them with:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi

echo "== cargo build (wasm32-unknown-unknown, release)"
(cd "$root" && cargo build --release --target wasm32-unknown-unknown -p icnet-web)
wasm="$target_dir/wasm32-unknown-unknown/release/icnet_web.wasm"

echo "== wasm-bindgen"
rm -rf "$dist"
mkdir -p "$dist/pkg" "$dist/models"
wasm-bindgen --target web --no-typescript --out-dir "$dist/pkg" "$wasm"
bg="$dist/pkg/icnet_web_bg.wasm"
raw_size=$(stat -c %s "$bg")
if [ "$opt" = 1 ]; then
  echo "== wasm-opt -O3"
  # The features rustc enables by default for wasm32-unknown-unknown.
  "$wasm_opt" -O3 \
    --enable-bulk-memory --enable-mutable-globals --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$bg" -o "$bg.opt"
  mv "$bg.opt" "$bg"
fi

echo "== page and models"
cp "$here/www/index.html" "$here/www/main.js" "$here/www/worker.js" "$here/www/style.css" "$here/www/selftest.html" "$here/www/selftest.js" "$dist/"
manifest="{"
sep=""
on_demand="$root/models/u2net.safetensors"
models=("$root/models/u2netp.safetensors" "$root/models/vgg16-imagenet.safetensors" "$head_file")
if [ -f "$on_demand" ]; then
  models+=("$on_demand")
else
  echo "note: no models/u2net.safetensors (an older fetch-models): the page offers U²-Netp only" >&2
fi
for src in "${models[@]}"; do
  m="$(basename "$src")"
  cp "$src" "$dist/models/"
  chmod 644 "$dist/models/$m"
  sum=$(sha256sum "$dist/models/$m" | awk '{print $1}')
  bytes=$(stat -c %s "$dist/models/$m")
  extra=""
  if [ "$src" = "$on_demand" ]; then extra=", \"on_demand\": true"; fi
  manifest+="$sep\"$m\": {\"bytes\": $bytes, \"sha256\": \"$sum\"$extra}"
  sep=", "
done
manifest+="}"
echo "$manifest" > "$dist/models/manifest.json"
if [ -f "$root/models/NOTICE" ]; then cp "$root/models/NOTICE" "$dist/models/NOTICE"; fi
if ! grep -qsx "icnet-head.safetensors" "$dist/models/NOTICE"; then
  cat >> "$dist/models/NOTICE" <<'EOF'

icnet-head.safetensors
----------------------
The layers of ICNet after VGG16, trained by the icnet-webgpu project
(weights/ in its repository; recipe and data in train/). Licensed under the
MIT license, like the project's code. The page joins them with
vgg16-imagenet.safetensors (CC BY 4.0, above) into the full ICNet.
EOF
fi

size=$(stat -c %s "$bg")
echo "web/dist is ready: wasm module $((raw_size / 1024)) KiB from wasm-bindgen, $((size / 1024)) KiB served;"
echo "models $(du -sh "$dist/models" | awk '{print $1}'). Serve it with web/serve.sh."
