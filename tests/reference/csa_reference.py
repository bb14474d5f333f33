"""PyTorch reference of the training-free co-saliency model (`--model csa`,
engine/src/models/csa.rs), written from ICNet's SPEC 2.5 steps 1-4, and the golden
that the engine is checked against.

    python tests/reference/csa_reference.py --vgg models/vgg16-imagenet.safetensors \
        --golden tests/golden/g2 --out tests/golden/csa_g2

map = SISM * (up(CSA(conv4_3)) + up(CSA(conv5_3))) / 2, all at 224x224, with
the Caffe-BGR VGG16 of `icnet fetch-models`.
"""
import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

BLOCKS = [[0, 2], [5, 7], [10, 12, 14], [17, 19, 21], [24, 26, 28]]
CAFFE_BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def vgg(w, x):
    out = []
    for b, convs in enumerate(BLOCKS):
        if b > 0:
            x = F.max_pool2d(x, 2)
        for i in convs:
            x = F.relu(F.conv2d(x, w[f"vgg.vgg.{i}.weight"], w[f"vgg.vgg.{i}.bias"], padding=1))
        out.append(x)
    return out[3], out[4]


def csa(feats, sisms):
    """ICNet's NMAP + CFM (SPEC 2.5 steps 1-4), foreground branch."""
    n, c, h, w = feats.shape
    s = F.interpolate(sisms, (h, w), mode="bilinear", align_corners=True)
    nf = F.normalize(feats, dim=1)
    siv = F.normalize((nf * s).mean(dim=3).mean(dim=2), dim=1)
    corr = F.conv2d(nf, siv.view(n, c, 1, 1))
    corr = F.normalize(corr.reshape(n, n, h * w), dim=2)
    g = corr @ corr.transpose(1, 2)
    wgt = F.softmax(g.sum(dim=2), dim=1)
    raw = torch.sum(corr * wgt.unsqueeze(-1), dim=1)
    lo = raw.min(dim=1, keepdim=True)[0]
    hi = raw.max(dim=1, keepdim=True)[0]
    return ((raw - lo) / (hi - lo + 1e-12)).view(n, 1, h, w)


def model(w, rgb_u8, sism_u8):
    """rgb_u8 [N,224,224,3], sism_u8 [N,224,224] -> maps [N,224,224]."""
    x = torch.from_numpy(rgb_u8[..., ::-1].copy()).permute(0, 3, 1, 2).float() - CAFFE_BGR_MEAN
    s = torch.from_numpy(sism_u8).float().unsqueeze(1) / 255.0
    with torch.no_grad():
        c4, c5 = vgg(w, x)
        up = lambda m: F.interpolate(m, (224, 224), mode="bilinear", align_corners=True)
        maps = s * (up(csa(c4, s)) + up(csa(c5, s))) * 0.5
    return maps[:, 0].numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vgg", required=True)
    ap.add_argument("--golden", required=True, help="a part-1 golden folder (input_rgb_u8.npy, sism_u8.npy)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    w = load_file(a.vgg)
    g = Path(a.golden)
    maps = model(w, np.load(g / "input_rgb_u8.npy"), np.load(g / "sism_u8.npy"))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "final.npy", maps.astype(np.float32))
    print("wrote", out / "final.npy", maps.shape, float(maps.min()), float(maps.max()))


if __name__ == "__main__":
    main()
