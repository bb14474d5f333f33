#!/usr/bin/env bash
# Compute the SISMs (U²-Netp single-image saliency maps) of a data set built by
# train/make_dataset.py with the project's own `icnet run`, so that training and
# inference see the same kind of SISM:
#
#     train/make_sisms.sh DATASET [GROUP ...]
#     train/make_sisms.sh --torch DATASET [GROUP ...]
#
# --torch: use the PyTorch port of U²-Netp in train/make_dataset.py instead
# (same weights and pre/post-processing, within 1 grey level of `icnet run`,
# about 0.7 s per image on 2 cores; resumable per image).
#
# writes DATASET/sisms/<group>/<name>.png (8-bit, size of the image) for every
# group in DATASET/images (or only the GROUPs named).  Resumable: a group whose
# sisms/<group>/ already holds a map for every image is skipped; a group is
# computed in DATASET/sisms/.partial/ and moved into place only when complete.
# Slow on a CPU adapter (about 35 s per image with llvmpipe, because `icnet run`
# also computes the co-saliency maps, which are thrown away).
#
# Environment: PYTHON = the python for --torch (default python3),
# ICNET = the icnet binary (default: cargo run --release -p icnet-cli --),
# ICNET_ARGS = extra arguments for `icnet run` (e.g. --adapter NAME).
set -euo pipefail

if [ $# -lt 1 ] || { [ "$1" = --torch ] && [ $# -lt 2 ]; }; then
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
if [ "$1" = --torch ]; then
    shift
    exec "${PYTHON:-python3}" "$(dirname "$0")/make_dataset.py" --composite-sisms "$@"
fi
data=$(cd "$1" && pwd)
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${ICNET:-}" ]; then
    read -r -a icnet <<< "$ICNET"
else
    icnet=(cargo run --quiet --release --manifest-path "$repo/Cargo.toml" -p icnet-cli --)
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    export XDG_RUNTIME_DIR=$(mktemp -d)
fi

if [ $# -gt 0 ]; then
    groups=("$@")
else
    groups=()
    for d in "$data"/images/*/; do groups+=("$(basename "$d")"); done
fi

mkdir -p "$data/sisms"
total=${#groups[@]}
i=0
for g in "${groups[@]}"; do
    i=$((i + 1))
    n_img=$(find "$data/images/$g" -maxdepth 1 -name '*.png' | wc -l)
    if [ -d "$data/sisms/$g" ]; then
        n_done=$(find "$data/sisms/$g" -maxdepth 1 -name '*.png' | wc -l)
        if [ "$n_done" -ge "$n_img" ]; then
            echo "[$i/$total] $g: done already"
            continue
        fi
    fi
    tmp="$data/sisms/.partial"
    rm -rf "$tmp"
    mkdir -p "$tmp/root" "$tmp/maps" "$tmp/sisms"
    ln -s "$data/images/$g" "$tmp/root/$g"
    start=$(date +%s)
    "${icnet[@]}" run "$tmp/root" --out "$tmp/maps" --save-sisms "$tmp/sisms" \
        --models "$repo/models" ${ICNET_ARGS:-} > "$tmp/log.txt" 2>&1 || {
        cat "$tmp/log.txt" >&2
        echo "icnet run failed on group $g" >&2
        exit 1
    }
    n_new=$(find "$tmp/sisms/$g" -maxdepth 1 -name '*.png' | wc -l)
    if [ "$n_new" -ne "$n_img" ]; then
        echo "group $g: $n_new SISMs for $n_img images" >&2
        exit 1
    fi
    rm -rf "$data/sisms/$g"
    mv "$tmp/sisms/$g" "$data/sisms/$g"
    rm -rf "$tmp"
    echo "[$i/$total] $g: $n_img images in $(( $(date +%s) - start )) s"
done
