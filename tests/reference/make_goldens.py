#!/usr/bin/env python3
"""Golden data for the ICNet port: tests/golden/g2 (N=2) and tests/golden/g5 (N=5).

Weights: testweights seed 0. PyTorch CPU, float32, one thread.

    python3 tests/reference/make_goldens.py [--photos DIR]

With --photos DIR (the public-domain/CC0 photo folder with fishes/, renewable/, ...) the input
photos (images/*.png) and synthetic SISMs (sisms/*.png) are (re)created first; without it the
committed ones are reused. See tests/golden/README.md for the file list.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import testweights  # noqa: E402
from icnet_ref import ICNet, preprocess_rgb_u8, preprocess_sism_u8, CO_NAMES, BRANCHES  # noqa: E402

GOLDEN = os.path.normpath(os.path.join(HERE, "..", "golden"))

# group -> list of (stem, source photo relative to --photos, photo (W,H), SISM spec)
# SISM spec: (W, H, mode, rng seed); mode "L" or "RGB".
GROUPS = {
    "g2": [
        ("windmill12", "renewable/windmill12.webp", (224, 224), (224, 224, "L", 12)),
        ("windmill4", "renewable/windmill4.webp", (224, 224), (180, 200, "L", 4)),
    ],
    "g5": [
        ("fish9", "fishes/fish9.webp", (160, 120), (160, 120, "L", 9)),
        ("fish25", "fishes/fish25.webp", (97, 150), (97, 150, "RGB", 25)),
        ("fish1", "fishes/fish1.webp", (300, 200), (224, 224, "L", 1)),
        ("fish3", "fishes/fish3.webp", (224, 150), (150, 100, "L", 3)),
        ("fish6", "fishes/fish6.webp", (256, 192), (256, 192, "L", 6)),
    ],
}


# --------------------------------------------------------------------------------------------
# input creation (only with --photos)

def make_photo(src, size):
    """Centre-crop `src` to the aspect ratio of `size` (W,H), then resize (Lanczos)."""
    from PIL import Image
    im = Image.open(src).convert("RGB")
    w, h = im.size
    tw, th = size
    if w * th > h * tw:          # too wide
        cw, ch = round(h * tw / th), h
    else:
        cw, ch = w, round(w * th / tw)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    im = im.crop((x0, y0, x0 + cw, y0 + ch))
    if im.size != (tw, th):
        im = im.resize((tw, th), Image.LANCZOS)
    return im


def blob_map(w, h, rng, nblobs):
    """Sum of anisotropic Gaussian blobs, mostly near the centre, clipped to [0,1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yy, xx = (yy + 0.5) / h, (xx + 0.5) / w
    m = np.zeros((h, w))
    for b in range(nblobs):
        cx, cy = rng.uniform(0.3, 0.7, size=2) if b == 0 else rng.uniform(0.1, 0.9, size=2)
        sx, sy = rng.uniform(0.08, 0.25, size=2)
        amp = 1.0 if b == 0 else rng.uniform(0.3, 0.8)
        m += amp * np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
    return np.clip(m, 0.0, 1.0)


def make_sism(spec):
    from PIL import Image
    w, h, mode, seed = spec
    rng = np.random.default_rng(1000 + seed)
    if mode == "L":
        a = np.round(255 * blob_map(w, h, rng, int(rng.integers(1, 4)))).astype(np.uint8)
        return Image.fromarray(a, "L")
    # RGB: three different channels, so that the (19595R+38470G+7471B+0x8000)>>16 conversion matters
    base = blob_map(w, h, rng, 2)
    other = blob_map(w, h, rng, 3)
    r = np.round(255 * base)
    g = np.round(255 * np.clip(0.6 * base + 0.4 * other, 0, 1))
    b = np.round(255 * (1.0 - other))
    return Image.fromarray(np.stack([r, g, b], axis=-1).astype(np.uint8), "RGB")


def create_inputs(photos_dir):
    for group, items in GROUPS.items():
        gdir = os.path.join(GOLDEN, group)
        os.makedirs(os.path.join(gdir, "images"), exist_ok=True)
        os.makedirs(os.path.join(gdir, "sisms"), exist_ok=True)
        for stem, src, size, sspec in items:
            make_photo(os.path.join(photos_dir, src), size).save(
                os.path.join(gdir, "images", stem + ".png"), optimize=True)
            make_sism(sspec).save(os.path.join(gdir, "sisms", stem + ".png"), optimize=True)


# --------------------------------------------------------------------------------------------
# pre-processing exactly as SPEC section 4

def load_group(group):
    from PIL import Image
    gdir = os.path.join(GOLDEN, group)
    rgbs, sisms, sizes = [], [], []
    for stem, *_ in GROUPS[group]:
        im = Image.open(os.path.join(gdir, "images", stem + ".png")).convert("RGB")
        sizes.append([im.size[1], im.size[0]])  # [h, w]
        rgbs.append(np.asarray(im.resize((224, 224), Image.BILINEAR), dtype=np.uint8))
        sm = Image.open(os.path.join(gdir, "sisms", stem + ".png")).convert("L")
        sisms.append(np.asarray(sm.resize((224, 224), Image.BILINEAR), dtype=np.uint8))
    return np.stack(rgbs), np.stack(sisms), sizes


def save_map_png(path, pred224, hw):
    """SPEC section 5: optional cv2.resize INTER_LINEAR to (W,H), then cv2.imwrite(pred*255)."""
    import cv2
    h, w = hw
    pred = pred224
    if (h, w) != pred.shape:
        pred = cv2.resize(pred, (w, h))
    ok = cv2.imwrite(path, np.array(pred * 255))
    assert ok, path
    back = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    expect = np.clip(np.rint(pred * np.float32(255)), 0, 255).astype(np.uint8)
    assert back.dtype == np.uint8 and back.shape == (h, w) and np.array_equal(back, expect), path


def run_group(model, model64, group):
    gdir = os.path.join(GOLDEN, group)
    stems = [it[0] for it in GROUPS[group]]
    rgb_u8, sism_u8, sizes = load_group(group)
    img, sism = preprocess_rgb_u8(rgb_u8), preprocess_sism_u8(sism_u8)
    final, rec = model.forward_instrumented(img, sism)

    def save(name, t):
        arr = t.numpy() if isinstance(t, torch.Tensor) else t
        np.save(os.path.join(gdir, name), arr)

    save("input_rgb_u8.npy", rgb_u8)
    save("sism_u8.npy", sism_u8)
    save("conv6_cmprs.npy", rec["conv6_cmprs"])
    save("cosal_feat_6.npy", rec["cosal_feat_6"])
    save("cosal_feat_5.npy", rec["cosal_feat_5"])
    perms = {}
    for x in CO_NAMES:
        for b in BRANCHES:
            save(f"{x}.{b}.csa.npy", rec[f"{x}.{b}.csa"])
            idx = rec[f"{x}.{b}.argsort"].to(torch.int64)
            save(f"{x}.{b}.argsort.npy", idx)
            perms[f"{x}.{b}"] = idx
    save("cosal_map_4.npy", rec["cosal_map_4"][:, 0])
    final_np = final[:, 0].numpy()
    save("final.npy", final_np)
    os.makedirs(os.path.join(gdir, "out"), exist_ok=True)
    for n, stem in enumerate(stems):
        save_map_png(os.path.join(gdir, "out", stem + ".png"), final_np[n], tuple(sizes[n]))
    with open(os.path.join(gdir, "manifest.json"), "w") as f:
        json.dump({"stems": stems, "sizes": sizes, "preprocess": "imagenet",
                   "weights": "testweights seed 0"}, f, indent=1)
        f.write("\n")

    # ---- self-check (information only): fp64 reference with the same permutations injected
    img64, sism64 = img.double(), sism.double()
    f64_inj, _ = model64.forward_instrumented(img64, sism64, argsort_override=perms)
    f64_ind, rec64 = model64.forward_instrumented(img64, sism64)
    d_inj = (f64_inj.float() - final).abs().max().item()
    d_ind = (f64_ind.float() - final).abs().max().item()
    flips = {k: int((rec64[f"{k}.argsort"] != perms[k]).sum()) for k in perms}
    csa_d = max((rec64[f"{k}.csa"].float() - rec[f"{k}.csa"]).abs().max().item() for k in perms)
    print(f"[{group}] N={len(stems)} final range [{final.min().item():.4f}, {final.max().item():.4f}]")
    print(f"[{group}] fp32 vs fp64, same permutation injected: final max abs = {d_inj:.3e}")
    print(f"[{group}] fp32 vs fp64, independent sorts:        final max abs = {d_ind:.3e}; "
          f"CSA max abs = {csa_d:.3e}; argsort positions differing: "
          + ", ".join(f"{k}={v}" for k, v in flips.items()))
    return d_inj


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", help="photo folder; (re)creates images/ and sisms/ from it")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    if args.photos:
        create_inputs(args.photos)

    sd = testweights.make_state_dict(0)
    model = ICNet().float().eval()
    model.load_state_dict(sd, strict=True)
    model64 = ICNet().double().eval()
    model64.load_state_dict(sd, strict=True)  # float32 values copied into float64 parameters

    os.makedirs(GOLDEN, exist_ok=True)
    with open(os.path.join(GOLDEN, "testweights_probe.json"), "w") as f:
        json.dump(testweights.probe(0), f, indent=1)
        f.write("\n")

    for group in GROUPS:
        run_group(model, model64, group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
