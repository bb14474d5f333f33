#!/usr/bin/env bash
# Regenerates the README's quality tables: on each labelled set, the saliency maps alone, the
# training-free model (--model csa) and the default ICNet, for each saliency model.
#
#   tests/quality.sh [OUT] [SALIENCY...]      # defaults: eval/, u2netp u2net
#
# Every map is computed by the engine (`icnet run`, on whatever adapter it picks; set
# ICNET_FLAGS for --adapter etc.). A step whose scores already exist is skipped, so an
# interrupted run continues; delete OUT to start again. The tables go to OUT/tables.md.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${ICNET:-./target/release/icnet}
OUT=${1:-eval}
shift || true
SALIENCY=${*:-u2netp u2net}
FLAGS=${ICNET_FLAGS:-}

# name | photos | masks
SETS="categories|tests/heldout/categories/images|tests/heldout/categories/masks
heldout|tests/heldout/images|tests/heldout/masks
evalset|tests/evalset/images|tests/evalset/masks"

score() { # PRED MASKS JSON
    [ -s "$3" ] || "$B" eval "$1" "$2" --json "$3" >/dev/null
}

while IFS='|' read -r name photos masks; do
    for sal in $SALIENCY; do
        d="$OUT/$name/$sal"
        mkdir -p "$d"
        # The SISMs once per saliency model (with the training-free model, which needs nothing
        # else), then the default model on the same SISMs: feeding back the maps that
        # --save-sisms wrote gives exactly what a plain `icnet run` computes.
        if [ ! -s "$d/csa.json" ]; then
            echo "== $name, $sal: saliency maps and the training-free model" >&2
            rm -rf "$d/sism" "$d/csa"
            # shellcheck disable=SC2086
            "$B" run "$photos" --saliency "$sal" --save-sisms "$d/sism" --model csa --out "$d/csa" $FLAGS
            score "$d/csa" "$masks" "$d/csa.json"
        fi
        score "$d/sism" "$masks" "$d/sism.json"
        if [ ! -s "$d/icnet.json" ]; then
            echo "== $name, $sal: the default model" >&2
            rm -rf "$d/icnet"
            # shellcheck disable=SC2086
            "$B" run "$photos" --sisms "$d/sism" --out "$d/icnet" $FLAGS
            score "$d/icnet" "$masks" "$d/icnet.json"
        fi
    done
done <<< "$SETS"

python3 - "$OUT" $SALIENCY <<'EOF' | tee "$OUT/tables.md"
import json, os, sys
out, sals = sys.argv[1], sys.argv[2:]
titles = {"categories": "Held-out categories (tests/heldout/categories)",
          "heldout": "Held-out groups windmill/multimeter (tests/heldout)",
          "evalset": "Labelled set of part 2 (tests/evalset)"}
rows = [("sism", "saliency maps alone"), ("csa", "training-free model (`--model csa`)"),
        ("icnet", "**ICNet, trained by this project (default)**")]
keys = [("s_measure", "S"), ("max_e", "max E"), ("mean_e", "mean E"), ("max_f", "max F"),
        ("mean_f", "mean F"), ("mae", "MAE")]
for name, title in titles.items():
    n = None
    lines = []
    for sal in sals:
        for what, label in rows:
            p = os.path.join(out, name, sal, what + ".json")
            if not os.path.exists(p):
                continue
            o = json.load(open(p))["overall"]
            n = o["images"]
            lines.append(f"| {label}, {sal} | " + " | ".join(f"{o[k]:.3f}" for k, _ in keys) + " |")
    if lines:
        print(f"\n{title}, {n} images:\n")
        print("| | " + " | ".join(h for _, h in keys) + " |")
        print("|---|" + "---|" * len(keys))
        print("\n".join(lines))
EOF
