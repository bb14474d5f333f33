#!/usr/bin/env bash
# Serves web/dist (built by web/build.sh) on http://127.0.0.1:PORT/ (default 8000).
# Loopback only: WebGPU and the Cache API need a secure context, which
# http://127.0.0.1 and http://localhost are. Python's http.server sends .wasm
# as application/wasm, which WebAssembly.instantiateStreaming requires.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:-8000}"
if [ ! -f "$here/dist/index.html" ]; then
  echo "web/dist is not built yet: run web/build.sh first" >&2
  exit 1
fi
echo "serving web/dist on http://127.0.0.1:$port/ (Ctrl-C to stop)"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$here/dist"
