#!/usr/bin/env python3
"""Export trained ICNet weights for the engine, and check the engine's output against PyTorch.

    # the trained part only (every parameter and BN buffer except vgg.*, official names)
    python3 train/export.py export CKPT_DIR/best.pt trained.safetensors
    # trained part + models/vgg16-imagenet.safetensors -> full checkpoint the engine loads
    python3 train/export.py combine trained.safetensors icnet-trained.safetensors \
        [--vgg models/vgg16-imagenet.safetensors]
    # both at once
    python3 train/export.py export CKPT_DIR/best.pt trained.safetensors --combined icnet-trained.safetensors
    # compare `icnet run --raw` maps with the PyTorch model (eval mode) on one group
    python3 train/export.py compare icnet-trained.safetensors IMG_GROUP_DIR SISM_GROUP_DIR ENGINE_OUT_GROUP_DIR

* `export` reads a train.py checkpoint (last.pt, best.pt or epoch_NNN.pt), checks every name
  and shape against tests/reference/icnet_ref.ICNet, and writes 164 tensors: 148 float32
  parameters/BN statistics (3,717,380 parameters + 4,192 BN running values) and the 16 int64
  `num_batches_tracked` counters (the engine accepts and ignores them). Metadata:
  icnet.preprocess=caffe-bgr, icnet.part=head, icnet.recipe (JSON), icnet.epoch, icnet.val.
* `combine` adds the 26 vgg.vgg.* tensors and writes the 174 float32 tensors of the official
  state_dict in official order (tests/reference/convert_checkpoint.py's checks), without the
  counters, with icnet.preprocess=caffe-bgr (the VGG file's convention; both files must say so).
* `compare` runs tests/reference/icnet_ref.ICNet in eval mode on the group (the whole group as one
  batch, the same Pillow resize and caffe-bgr input as the engine) and prints the largest
  difference from the engine's OUT/<stem>.npy (float) and OUT/<stem>.png-equivalent 8-bit maps.
"""

import argparse
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import features  # noqa: E402  (puts tests/reference on sys.path)
import convert_checkpoint  # noqa: E402  (tests/reference/convert_checkpoint.py)
import icnet_ref  # noqa: E402


def head_keys():
    """OrderedDict name -> (shape, is_counter) of the non-VGG state_dict entries."""
    with torch.device("meta"):
        model = icnet_ref.ICNet()
    return OrderedDict((k, (tuple(v.shape), k.endswith(".num_batches_tracked")))
                       for k, v in model.state_dict().items() if not k.startswith("vgg."))


def export(ckpt_path, out_path):
    from safetensors.torch import save_file
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    sd = ck["model"] if isinstance(ck, dict) and "model" in ck else ck
    keys = head_keys()
    missing = [k for k in keys if k not in sd]
    unexpected = [k for k in sd if k not in keys]
    if missing or unexpected:
        raise SystemExit(f"{ckpt_path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    out = OrderedDict()
    for k, (shape, counter) in keys.items():
        v = sd[k].detach()
        if tuple(v.shape) != shape:
            raise SystemExit(f"{k}: shape {list(v.shape)}, expected {list(shape)}")
        v = v.to(torch.int64 if counter else torch.float32).contiguous()
        if not counter and not torch.isfinite(v).all():
            raise SystemExit(f"{k}: non-finite values")
        out[k] = v
    n_params = sum(v.numel() for k, v in out.items()
                   if not (k.endswith(".running_mean") or k.endswith(".running_var") or keys[k][1]))
    meta = {"icnet.preprocess": features.PREPROCESS, "icnet.part": "head",
            "icnet.trained_parameters": str(n_params),
            "icnet.recipe": json.dumps(dict(ck.get("recipe", {}), frozen_backbone="vgg16-imagenet",
                                            loss="IoU over 4 side outputs", optimizer="Adam"))}
    if isinstance(ck, dict):
        if "epoch" in ck:
            meta["icnet.epoch"] = str(ck["epoch"])
        if ck.get("val"):
            meta["icnet.val"] = json.dumps({k: ck["val"][k] for k in ("max_f", "mae", "iou", "soft_iou", "images")
                                            if k in ck["val"]})
    meta["icnet.model"] = "icnet-head"
    meta["icnet.license"] = ("MIT (this project's training; the data are public-domain/CC0 photos, "
                             "train/DATA.md). Used with the VGG16 weights, CC BY 4.0 (Simonyan and Zisserman)")
    save_file(out, out_path, metadata=meta)
    print(f"wrote {out_path}: {len(out)} tensors, {n_params} trained parameters")
    return out, meta


def combine(head_path, out_path, vgg_path=features.DEFAULT_VGG):
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(head_path, "pt") as f:
        hmeta = f.metadata() or {}
        sd = {k: f.get_tensor(k) for k in f.keys()}
    vgg, vmeta = features.load_vgg_tensors(vgg_path)
    if hmeta.get("icnet.preprocess") != vmeta.get("icnet.preprocess"):
        raise SystemExit(f"preprocess mismatch: {head_path} {hmeta.get('icnet.preprocess')!r}, "
                         f"{vgg_path} {vmeta.get('icnet.preprocess')!r}")
    clash = [k for k in vgg if k in sd]
    if clash:
        raise SystemExit(f"{head_path} already holds VGG tensors ({clash[:3]})")
    sd.update(vgg)
    try:
        tensors = convert_checkpoint.check_and_convert(convert_checkpoint.extract_state_dict(sd))
    except convert_checkpoint.ConvertError as e:
        raise SystemExit(f"combine: {e}")
    meta = {k: v for k, v in hmeta.items() if k != "icnet.part"}
    meta["icnet.preprocess"] = hmeta["icnet.preprocess"]
    meta["icnet.backbone"] = vmeta.get("icnet.model", os.path.basename(vgg_path))
    save_file(tensors, out_path, metadata=meta)
    n = sum(t.numel() for t in tensors.values())
    print(f"wrote {out_path}: {len(tensors)} tensors, {n} float32 values")


def load_full_model(path):
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        sd = {k: f.get_tensor(k) for k in f.keys()}
    model = icnet_ref.ICNet()
    res = model.load_state_dict(sd, strict=False)
    bad = [k for k in res.missing_keys if not k.endswith("num_batches_tracked")] + res.unexpected_keys
    if bad:
        raise SystemExit(f"{path}: key mismatch {bad[:5]}")
    model.eval()
    return model, meta


def compare(weights, img_dir, sism_dir, engine_dir):
    model, meta = load_full_model(weights)
    assert meta.get("icnet.preprocess") == features.PREPROCESS, meta
    stems, rgbs, sisms = [], [], []
    for fn in sorted(os.listdir(img_dir)):
        stem = os.path.splitext(fn)[0]
        stems.append(stem)
        rgbs.append(features.load_photo_224(os.path.join(img_dir, fn)))
        sisms.append(features.load_grey_224(os.path.join(sism_dir, stem + ".png")))
    with torch.no_grad():
        pred = model(features.caffe_bgr(np.stack(rgbs)), features.grey_to_float(np.stack(sisms)))
    pred = pred[:, 0].numpy()
    worst_f, worst_u8 = 0.0, 0
    for i, stem in enumerate(stems):
        eng = np.load(os.path.join(engine_dir, stem + ".npy")).reshape(features.SIZE, features.SIZE)
        d = float(np.abs(eng - pred[i]).max())
        u8_t = np.clip(np.rint(pred[i] * 255), 0, 255).astype(np.int32)
        u8_e = np.clip(np.rint(eng * 255), 0, 255).astype(np.int32)
        du = int(np.abs(u8_t - u8_e).max())
        frac = float((u8_t != u8_e).mean())
        print(f"{stem}: max |engine - torch| {d:.2e} (float), 8-bit max diff {du}, "
              f"{100 * frac:.3f}% of pixels differ; torch map range [{pred[i].min():.3f}, {pred[i].max():.3f}]")
        worst_f, worst_u8 = max(worst_f, d), max(worst_u8, du)
    print(f"worst: {worst_f:.2e} float, {worst_u8} in 8-bit")
    return worst_f, worst_u8


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="train.py checkpoint -> trained-part .safetensors")
    e.add_argument("checkpoint")
    e.add_argument("out")
    e.add_argument("--combined", help="also write the full checkpoint (with VGG) here")
    e.add_argument("--vgg", default=features.DEFAULT_VGG)
    c = sub.add_parser("combine", help="trained part + VGG16 -> full checkpoint for the engine")
    c.add_argument("head")
    c.add_argument("out")
    c.add_argument("--vgg", default=features.DEFAULT_VGG)
    k = sub.add_parser("compare", help="engine --raw maps vs PyTorch (eval mode) on one group")
    k.add_argument("weights", help="full (combined) .safetensors")
    k.add_argument("img_dir")
    k.add_argument("sism_dir")
    k.add_argument("engine_dir", help="icnet run --raw output folder of this group")
    k.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(getattr(args, "threads", 2))
    if args.cmd == "export":
        export(args.checkpoint, args.out)
        if args.combined:
            combine(args.out, args.combined, args.vgg)
    elif args.cmd == "combine":
        combine(args.head, args.out, args.vgg)
    else:
        compare(args.weights, args.img_dir, args.sism_dir, args.engine_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
