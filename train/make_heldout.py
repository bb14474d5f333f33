#!/usr/bin/env python3
"""Build the committed held-out set of unseen categories: tests/heldout/categories/.

    python3 train/make_heldout.py --pools POOLS --photos <shared photos> [--out tests/heldout/categories]

Targets: artwork of categories that artwork.py held out (chosen at random with a fixed seed);
training never uses them in any role (asserted below against the pools' splits). Everything
else is chosen to be as unlike the training pool as this machine's sources allow:
* backgrounds: only real scenes, and only the share of them that training never draws from
  (compose.RESERVED_EVERY: every third real scene, in sorted order);
* distractors: only real-photo cut-outs of single objects, again from the reserved share
  (training's distractors are mostly artwork of other categories);
* at least one distractor per image, so that every image has something salient that is not
  the answer.
Each group: GROUP_SIZE composites of one held-out category, each target a different rendition
(emoji sets, clip art) where the category has enough. Ground truth: the visible target.
Output: images/<group>/<n>.png, masks/<group>/<n>.png (0/255), records.json, NOTICE.
Deterministic for a given pools folder (fixed seed).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compose  # noqa: E402

SEED = 20261201
GROUPS = 8
GROUP_SIZE = 5


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pools", required=True, help="train/artwork.py output")
    ap.add_argument("--photos", required=True, help="the shared photos (MANIFEST.tsv)")
    ap.add_argument("--photo-cache", default="/tmp/photo_sisms", help="cache of the photos' U²-Netp maps")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "heldout", "categories"))
    a = ap.parse_args(argv)

    pools = compose.Pools(a.pools, a.photos, a.photo_cache)
    held = pools.categories("heldout")
    train_cats = set(pools.categories("train")) | set(pools.categories("val"))
    assert not set(held) & train_cats
    # Every key training can draw (targets, distractors, backgrounds) must be disjoint from the
    # keys this set uses.
    train_keys = {k for c in train_cats for k in pools.items[c]} | set(pools.distractor_photos["train"]) \
        | {k for k, _ in pools.backgrounds["train"]}
    rng = np.random.default_rng(SEED)
    rich = [c for c in held if len(pools.items[c]) >= GROUP_SIZE]
    chosen = sorted(rng.choice(rich, size=GROUPS, replace=False).tolist())
    comp = compose.Compositor(pools)
    if os.path.exists(a.out):
        # Rebuilt from scratch, but only a folder this script made (it holds records.json):
        # never delete a folder someone passed by mistake.
        if not os.path.exists(os.path.join(a.out, "records.json")):
            raise SystemExit(f"--out {a.out} exists and is not a held-out set made by this script; "
                             "pass a new folder")
        shutil.rmtree(a.out)
    records = []
    for gi, cat in enumerate(chosen):
        group = cat.replace("-", "_")
        out = comp.full_size(cat, GROUP_SIZE, [SEED, gi], "heldout")
        assert len(out) == GROUP_SIZE, cat
        for d in ("images", "masks"):
            os.makedirs(os.path.join(a.out, d, group), exist_ok=True)
        for i, (photo, _sism, mask, rec) in enumerate(out):
            used = [rec["target"], rec["background"]] + rec["distractors"]
            assert not set(used) & train_keys, used
            assert rec["background"].startswith(("photo:", "skimage/")), rec
            assert all(d.startswith("photo:") for d in rec["distractors"]), rec
            stem = f"{group}_{i + 1:02d}"
            photo.save(os.path.join(a.out, "images", group, stem + ".png"), optimize=True)
            mask.save(os.path.join(a.out, "masks", group, stem + ".png"), optimize=True)
            records.append(dict(group=group, image=stem, category=cat, **rec))
        print(f"{group}: {GROUP_SIZE} images", flush=True)
    with open(os.path.join(a.out, "records.json"), "w") as f:
        json.dump(records, f, indent=1)
    write_notice(a, pools, records)
    print(f"{len(records)} images in {len(chosen)} groups -> {a.out}")


def write_notice(a, pools, records):
    with open(os.path.join(a.pools, "manifest.json")) as f:
        manifest = json.load(f)
    origin = {"art:" + it["file"]: it for e in manifest["categories"].values() for it in e["items"]}
    sources = manifest.get("sources", {})
    photos = {}
    with open(os.path.join(a.photos, "MANIFEST.tsv")) as f:
        rows = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    head = rows[0]
    for r in rows[1:]:
        d = dict(zip(head, r))
        photos[d.get(head[0], "")] = d
    lines = ["Held-out co-saliency groups of unseen categories (tests/heldout/categories), made by",
             "train/make_heldout.py: composites of the works below; the masks are derived from the",
             "artwork's alpha channel. Changes: rasterised, trimmed, scaled, rotated, colour-jittered,",
             "composited onto photo backgrounds.", ""]
    used_src = sorted({origin[r["target"]]["source"] for r in records if r["target"] in origin})
    lines.append("Artwork (targets):")
    for s in used_src:
        info = sources.get(s, {})
        lines.append(f"  {s}: {info.get('package', '')}@{info.get('version', '')}, {info.get('licence', '')}. "
                     f"{info.get('attribution', '')}".rstrip())
    for r in records:
        it = origin.get(r["target"])
        if it:
            lines.append(f"  {r['image']}: {it['origin']} ({it['licence']})")
    lines += ["", "Photos (backgrounds and distractors; public domain or CC0, from Debian's gcompris-qt-data,",
              "see the shared photos' MANIFEST.tsv):"]
    keys = sorted({k for r in records for k in [r["background"]] + r["distractors"]})
    for k in keys:
        if k.startswith("photo:"):
            p = k[len("photo:"):]
            d = next((v for kk, v in photos.items() if kk.endswith("/" + p + ".webp")), None)
            lines.append(f"  {p}: " + ("; ".join(f"{x}={d[x]}" for x in head[1:] if x in d) if d else "see MANIFEST.tsv"))
        else:
            lines.append(f"  {k}: scikit-image data (public domain / CC0, see train/DATA.md)")
    with open(os.path.join(a.out, "NOTICE"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
