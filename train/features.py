#!/usr/bin/env python3
"""Input pre-processing (exactly as the engine does it) and the frozen-VGG16 feature cache.

    python3 train/features.py DATA CACHE [--vgg models/vgg16-imagenet.safetensors] [--no-flip]

Reads the dataset (DATA/images/<group>/<name>.png, DATA/masks/<group>/<name>.png,
DATA/sisms/<group>/<name>.png, DATA/split.json) and writes, for every image of the train and
held-out groups, CACHE/<group>/<name>.safetensors holding

    conv1_2 [64,224,224]  conv2_2 [128,112,112]  conv3_3 [256,56,56]
    conv4_3 [512,28,28]   conv5_3 [512,14,14]            (float16, post-ReLU VGG16 features)
    sism [224,224], mask [224,224]                       (uint8, the 224x224 network inputs)

and, unless --no-flip, CACHE/<group>/<name>.flip.safetensors with the same tensors for the
horizontally flipped 224x224 photo/SISM/mask (training uses it for the random flip; held-out
groups get no flipped copy). CACHE/manifest.json records the settings and the file list.
Existing files are kept (the run is resumable); --force rewrites them.

Pre-processing (must equal engine/src/io/preprocess.rs, so trained weights work in the engine):
* photo: Pillow `convert('RGB')`, `resize((224,224), BILINEAR)` (the engine reimplements this
  filter bit-exactly), then `caffe-bgr`: channels B,G,R, float32(v) - [103.939,116.779,123.68].
  That is the convention of models/vgg16-imagenet.safetensors (metadata icnet.preprocess).
* SISM: Pillow `convert('L')`, `resize((224,224), BILINEAR)`, v/255 (no binarisation).
* mask (ground truth, official training code): `convert('L')`, same resize, v/255 (soft at edges).
* flip: applied to the 224x224 uint8 arrays (after the resize), jointly to photo, SISM and mask.
"""

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))

import icnet_ref  # noqa: E402  (tests/reference/icnet_ref.py: the reference model)

SIZE = 224
CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)  # B, G, R
STAGES = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
PREPROCESS = "caffe-bgr"
DEFAULT_VGG = os.path.join("models", "vgg16-imagenet.safetensors")


# ---------------------------------------------------------------------------------------------
# Pre-processing
# ---------------------------------------------------------------------------------------------

def _load_224(path, mode):
    """uint8 array of the image at `path`: Pillow convert(mode) + resize((224,224), BILINEAR)."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert(mode)
        if im.size != (SIZE, SIZE):
            im = im.resize((SIZE, SIZE), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).copy()


def load_photo_224(path):
    """uint8 [224,224,3] RGB."""
    return _load_224(path, "RGB")


def load_grey_224(path):
    """uint8 [224,224] (SISMs and masks)."""
    return _load_224(path, "L")


def caffe_bgr(rgb_u8):
    """uint8 [N,224,224,3] RGB -> float32 [N,3,224,224] BGR minus the Caffe means (engine
    Preprocess::CaffeBgr: one float32 subtraction per value)."""
    x = rgb_u8[..., ::-1].astype(np.float32) - CAFFE_BGR_MEAN
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def grey_to_float(u8):
    """uint8 [...,224,224] -> float32 [...,1,224,224] v/255 (torchvision ToTensor)."""
    t = torch.from_numpy(np.ascontiguousarray(u8)).to(torch.float32) / 255.0
    return t.unsqueeze(-3)


# ---------------------------------------------------------------------------------------------
# VGG16
# ---------------------------------------------------------------------------------------------

def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_vgg_tensors(path):
    """The 26 vgg.vgg.N.{weight,bias} tensors (float32) and the file's metadata."""
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k).to(torch.float32) for k in f.keys()}
    pre = meta.get("icnet.preprocess", "imagenet")
    if pre != PREPROCESS:
        raise SystemExit(f"{path}: icnet.preprocess is {pre!r}; this pipeline is built for {PREPROCESS!r}")
    return tensors, meta


def load_vgg(path):
    """icnet_ref.VGG16 with the ImageNet weights, eval mode, frozen."""
    tensors, _ = load_vgg_tensors(path)
    vgg = icnet_ref.VGG16()
    sd = {k[len("vgg."):]: v for k, v in tensors.items() if k.startswith("vgg.vgg.")}
    vgg.load_state_dict(sd, strict=True)
    vgg.eval()
    for p in vgg.parameters():
        p.requires_grad_(False)
    return vgg


@torch.no_grad()
def vgg_features(vgg, x):
    """[N,3,224,224] caffe-bgr input -> dict of the five stage outputs (float32)."""
    out = {}
    for s in STAGES:
        x = vgg(x, s)
        out[s] = x
    return out


# ---------------------------------------------------------------------------------------------
# Dataset listing and the cache
# ---------------------------------------------------------------------------------------------

def read_split(data):
    with open(os.path.join(data, "split.json")) as f:
        split = json.load(f)
    return list(split.get("train", [])), list(split.get("heldout", []))


def list_group(data, group):
    """Sorted image stems of a group that have a photo, a mask and a SISM (warns about the rest)."""
    names = []
    for fn in sorted(os.listdir(os.path.join(data, "images", group))):
        stem, ext = os.path.splitext(fn)
        if ext.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            continue
        m = os.path.join(data, "masks", group, stem + ".png")
        s = os.path.join(data, "sisms", group, stem + ".png")
        if not (os.path.exists(m) and os.path.exists(s)):
            print(f"features: skipping {group}/{fn}: no mask or no SISM", file=sys.stderr)
            continue
        names.append((stem, fn))
    return names


def cache_path(cache, group, stem, flip=False):
    return os.path.join(cache, group, stem + (".flip" if flip else "") + ".safetensors")


def save_entry(path, feats, sism, mask, i):
    from safetensors.torch import save_file
    t = {s: feats[s][i].to(torch.float16).contiguous() for s in STAGES}
    t["sism"] = torch.from_numpy(np.ascontiguousarray(sism))
    t["mask"] = torch.from_numpy(np.ascontiguousarray(mask))
    tmp = path + ".tmp"
    save_file(t, tmp, metadata={"icnet.preprocess": PREPROCESS})
    os.replace(tmp, path)


def load_entry(path):
    """-> (dict stage -> float32 [C,H,W], sism float32 [1,224,224], mask float32 [1,224,224])."""
    from safetensors.torch import load_file
    t = load_file(path)
    feats = {s: t[s].to(torch.float32) for s in STAGES}
    return feats, grey_to_float(t["sism"].numpy()), grey_to_float(t["mask"].numpy())


def build_cache(data, cache, vgg_path, flip=True, force=False, batch=4, log=print):
    train, heldout = read_split(data)
    vgg = load_vgg(vgg_path)
    os.makedirs(cache, exist_ok=True)
    manifest = {"preprocess": PREPROCESS, "dtype": "float16", "flip": bool(flip),
                "vgg_sha256": file_sha256(vgg_path), "stages": list(STAGES),
                "train": {}, "heldout": {}}
    t0, done, seconds = time.time(), 0, 0.0
    for part, groups in (("train", train), ("heldout", heldout)):
        for g in groups:
            names = list_group(data, g)
            manifest[part][g] = [stem for stem, _ in names]
            os.makedirs(os.path.join(cache, g), exist_ok=True)
            variants = (False, True) if (flip and part == "train") else (False,)
            todo = [(stem, fn, v) for stem, fn in names for v in variants
                    if force or not os.path.exists(cache_path(cache, g, stem, v))]
            for k in range(0, len(todo), batch):
                chunk = todo[k:k + batch]
                rgbs, sisms, masks = [], [], []
                for stem, fn, v in chunk:
                    rgb = load_photo_224(os.path.join(data, "images", g, fn))
                    sism = load_grey_224(os.path.join(data, "sisms", g, stem + ".png"))
                    mask = load_grey_224(os.path.join(data, "masks", g, stem + ".png"))
                    if v:
                        rgb, sism, mask = rgb[:, ::-1], sism[:, ::-1], mask[:, ::-1]
                    rgbs.append(rgb), sisms.append(sism), masks.append(mask)
                ts = time.time()
                feats = vgg_features(vgg, caffe_bgr(np.stack(rgbs)))
                seconds += time.time() - ts
                for i, (stem, fn, v) in enumerate(chunk):
                    save_entry(cache_path(cache, g, stem, v), feats, sisms[i], masks[i], i)
                done += len(chunk)
            log(f"features: {part} {g}: {len(names)} images, {len(todo)} files written "
                f"({done} so far, {time.time() - t0:.0f} s)")
    with open(os.path.join(cache, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    if done:
        log(f"features: {done} files, VGG forward {seconds / done:.2f} s per image")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="dataset root (images/, masks/, sisms/, split.json)")
    ap.add_argument("cache", help="output folder of the feature cache")
    ap.add_argument("--vgg", default=DEFAULT_VGG, help="VGG16 weights (default: %(default)s)")
    ap.add_argument("--no-flip", action="store_true", help="do not cache flipped copies of the train images")
    ap.add_argument("--force", action="store_true", help="rewrite files that already exist")
    ap.add_argument("--batch", type=int, default=4, help="images per VGG forward (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    build_cache(args.data, args.cache, args.vgg, flip=not args.no_flip, force=args.force, batch=args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
