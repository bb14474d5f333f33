#!/usr/bin/env python3
"""Convert the released ICNet checkpoint (ICNet_vgg16.pth) to .safetensors for the WebGPU engine.

    python3 tests/reference/convert_checkpoint.py ICNet_vgg16.pth icnet_vgg16.safetensors
        [--preprocess imagenet|caffe-bgr] [--unsafe-pickle]

* torch.load(path, map_location='cpu'); takes ['state_dict'] when present; strips a 'module.'
  prefix (DataParallel); drops num_batches_tracked.
* Every key and shape is checked against the reference model (icnet_ref.ICNet) state_dict.
* Writes float32, contiguous tensors in official key order, with metadata
  {"icnet.preprocess": <imagenet|caffe-bgr>}.
Errors are one line on stderr, with a non-zero exit status.
"""

import argparse
import os
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PREPROCESS = ("imagenet", "caffe-bgr")


class ConvertError(Exception):
    pass


def expected_shapes():
    import torch
    from icnet_ref import ICNet
    with torch.device("meta"):
        model = ICNet()
    return OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items()
                       if not k.endswith(".num_batches_tracked"))


def _short(keys, limit=5):
    keys = sorted(keys)
    s = ", ".join(keys[:limit])
    return s + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_checkpoint(path, unsafe_pickle=False):
    import torch
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not unsafe_pickle)
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file")
    except Exception as e:  # noqa: BLE001 - one-line report of whatever torch raised
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = "" if unsafe_pickle else " (if the file is trusted, retry with --unsafe-pickle)"
        raise ConvertError(f"{path}: cannot load checkpoint: {msg}{hint}")
    return ckpt


def extract_state_dict(ckpt):
    import torch
    if isinstance(ckpt, dict) and "state_dict" in ckpt:
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict):
        raise ConvertError(f"checkpoint is a {type(ckpt).__name__}, not a state_dict")
    sd = OrderedDict()
    for k, v in ckpt.items():
        if not isinstance(k, str):
            raise ConvertError(f"non-string key {k!r} in state_dict")
        if k.startswith("module."):
            k = k[len("module."):]
        if k.endswith(".num_batches_tracked"):
            continue
        if not isinstance(v, torch.Tensor):
            raise ConvertError(f"{k}: value is a {type(v).__name__}, not a tensor")
        if k in sd:
            raise ConvertError(f"{k}: duplicate key (with and without 'module.' prefix)")
        sd[k] = v
    return sd


def check_and_convert(sd):
    import torch
    exp = expected_shapes()
    missing = [k for k in exp if k not in sd]
    unexpected = [k for k in sd if k not in exp]
    if missing:
        raise ConvertError(f"missing keys: {_short(missing)}")
    if unexpected:
        raise ConvertError(f"unexpected keys: {_short(unexpected)}")
    out = OrderedDict()
    for k, shape in exp.items():
        v = sd[k]
        if tuple(v.shape) != shape:
            raise ConvertError(f"{k}: shape {list(v.shape)}, expected {list(shape)}")
        if not v.is_floating_point():
            raise ConvertError(f"{k}: dtype {v.dtype}, expected a floating-point tensor")
        v = v.detach().to(torch.float32).contiguous()
        if not torch.isfinite(v).all():
            raise ConvertError(f"{k}: contains non-finite values")
        out[k] = v
    return out


def convert(src, dst, preprocess="imagenet", unsafe_pickle=False):
    from safetensors.torch import save_file
    if preprocess not in PREPROCESS:
        raise ConvertError(f"--preprocess must be one of {', '.join(PREPROCESS)}")
    tensors = check_and_convert(extract_state_dict(load_checkpoint(src, unsafe_pickle)))
    save_file(tensors, dst, metadata={"icnet.preprocess": preprocess})
    return tensors


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="checkpoint .pth (e.g. ICNet_vgg16.pth)")
    ap.add_argument("dst", help="output .safetensors")
    ap.add_argument("--preprocess", choices=PREPROCESS, default="imagenet",
                    help="pre-processing the weights expect (metadata icnet.preprocess)")
    ap.add_argument("--unsafe-pickle", action="store_true",
                    help="torch.load with weights_only=False (only for trusted files)")
    args = ap.parse_args(argv)
    try:
        tensors = convert(args.src, args.dst, args.preprocess, args.unsafe_pickle)
    except ConvertError as e:
        print(f"convert_checkpoint: error: {e}", file=sys.stderr)
        return 1
    n = sum(t.numel() for t in tensors.values())
    print(f"wrote {args.dst}: {len(tensors)} tensors, {n} float32 values, preprocess={args.preprocess}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
