#!/usr/bin/env python3
"""Pack a dataset's network inputs (224x224 photo, SISM, mask) into a small folder, losslessly.

    python3 train/pack.py DATA PACK

The feature cache of train/features.py is 8 GB; a pack of the same data is ~25 MB (WebP
lossless photos, PNG SISMs and masks, all already resized to 224x224 exactly as the engine
does it), small enough to copy to a faster machine, where `train.py PACK ...` computes the
frozen VGG16 features on the fly (and can augment the images first, --augment).

PACK/index.json: {"preprocess": "caffe-bgr", "train": {group: [stem...]}, "heldout": {...}}
PACK/<group>/<stem>.webp (RGB), <stem>.sism.png, <stem>.mask.png (L), all 224x224 uint8.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import features  # noqa: E402


def pack(data, out, log=print):
    from PIL import Image
    train, heldout = features.read_split(data)
    index = {"preprocess": features.PREPROCESS, "size": features.SIZE, "train": {}, "heldout": {}}
    for part, groups in (("train", train), ("heldout", heldout)):
        for g in groups:
            os.makedirs(os.path.join(out, g), exist_ok=True)
            stems = []
            for stem, fn in features.list_group(data, g):
                rgb = features.load_photo_224(os.path.join(data, "images", g, fn))
                Image.fromarray(rgb).save(os.path.join(out, g, stem + ".webp"),
                                          format="WEBP", lossless=True, quality=100, method=4)
                for kind, sub in (("sism", "sisms"), ("mask", "masks")):
                    a = features.load_grey_224(os.path.join(data, sub, g, stem + ".png"))
                    Image.fromarray(a).save(os.path.join(out, g, f"{stem}.{kind}.png"), optimize=True)
                stems.append(stem)
            index[part][g] = stems
            log(f"pack: {part} {g}: {len(stems)} images")
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return index


def load(pack_dir):
    """-> (index, {(group, stem): (rgb uint8 [224,224,3], sism uint8 [224,224], mask uint8 [224,224])}).
    Checks that the WebP decodes to exactly 224x224 RGB (lossless, so bit-exact)."""
    from PIL import Image
    with open(os.path.join(pack_dir, "index.json")) as f:
        index = json.load(f)
    if index.get("preprocess") != features.PREPROCESS:
        raise SystemExit(f"{pack_dir}: preprocess {index.get('preprocess')!r}, expected {features.PREPROCESS!r}")
    items = {}
    for part in ("train", "heldout"):
        for g, stems in index[part].items():
            for stem in stems:
                base = os.path.join(pack_dir, g, stem)
                with Image.open(base + ".webp") as im:
                    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
                grey = []
                for kind in ("sism", "mask"):
                    with Image.open(f"{base}.{kind}.png") as im:
                        grey.append(np.asarray(im.convert("L"), dtype=np.uint8).copy())
                if rgb.shape != (features.SIZE, features.SIZE, 3):
                    raise SystemExit(f"{base}.webp: {rgb.shape}, expected 224x224 RGB")
                items[(g, stem)] = (rgb, grey[0], grey[1])
    return index, items


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="dataset root (images/, masks/, sisms/, split.json)")
    ap.add_argument("out", help="pack folder to write")
    args = ap.parse_args(argv)
    index = pack(args.data, args.out)
    n = sum(len(v) for p in ("train", "heldout") for v in index[p].values())
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    print(f"pack: {n} images, {size / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
