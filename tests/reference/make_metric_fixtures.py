#!/usr/bin/env python3
"""Fixtures for the saliency metrics (engine/src/metrics.rs, `icnet eval`).

Writes into tests/golden/metrics/:

* gt/<group>/<stem>.png: 8-bit grey ground-truth masks; pred/<group>/<stem>.png:
  predictions (8-bit grey, one RGB). Three groups, 14 pairs of awkward sizes
  with the edge cases: empty and all-foreground ground truth, perfect, inverse,
  constant, all-black and random-noise predictions, blurred masks, a mask
  with grey edges (values 128 and 129 around the binarisation threshold), a
  one-row image, and L-shaped masks whose SSIM quadrants make S-measure depend
  on numpy's summation order (constant predictions 13 and 17).
* expected.json: pysodmetrics 1.6.2 scores (Smeasure alpha 0.5, Emeasure,
  Fmeasure beta 0.3, MAE; each class's `step(pred, gt)` with the maps read
  back from the PNGs with Pillow `convert('L')`):
  - "groups": per group, every pair fed to one set of evaluators in stem order;
  - "overall": all pairs, groups in name order, fed to one set of evaluators;
  - "images": "<group>/<stem>" -> the same numbers for that pair alone;
  - "singles": tiny cases stored inline (row-major uint8 lists) that are not
    in the PNG set because they make a mean NaN or huge: one-row and
    last-row foreground (S-measure NaN), a 1x1 image (E divided by eps).
  Each score set has s_measure, max_e, mean_e, adaptive_e, max_f, mean_f,
  adaptive_f, mae (max/mean over the 256-threshold curve averaged over the
  images); NaN is written as null.

Run: python3 tests/reference/make_metric_fixtures.py  (pysodmetrics 1.6.2,
numpy, Pillow; see requirements.txt). Deterministic: a rerun with the same
versions rewrites the same files.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import py_sod_metrics
from PIL import Image, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "golden" / "metrics"

# S-measure of an empty SSIM quadrant is NaN; numpy warns about the mean.
warnings.simplefilter("ignore", RuntimeWarning)
# Fmeasure (v1) is deprecated in favour of FmeasureV2 but still what
# published SOD tables use.
warnings.simplefilter("ignore", UserWarning)


def ellipse(w, h, cx, cy, rx, ry):
    y, x = np.mgrid[0:h, 0:w]
    return np.where(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1, 255, 0).astype(np.uint8)


def blur(a, radius):
    return np.array(Image.fromarray(a).filter(ImageFilter.GaussianBlur(radius)))


def l_shape(w, h, t):
    """A thin L along the top and left edges: the lower-right SSIM quadrant is
    pure background, where a constant prediction scores 1 or 0 depending on
    whether numpy's mean of the quadrant rounds back to the constant."""
    gt = np.zeros((h, w), np.uint8)
    gt[1 : 1 + t, 1 : w - 1] = 255
    gt[1 : h - 1, 1 : 1 + t] = 255
    return gt


def pairs(rng):
    """(group, stem, pred, gt); pred may be an (H, W, 3) RGB array."""
    out = []

    # alpha: ordinary shapes.
    gt = ellipse(64, 48, 30, 22, 18, 12)
    out.append(("alpha", "a01_blurred", blur(gt, 3), gt))
    gt = np.zeros((23, 17), np.uint8)
    gt[5:17, 4:12] = 255
    out.append(("alpha", "a02_perfect", gt.copy(), gt))
    gt = np.maximum(ellipse(100, 80, 30, 30, 15, 20), ellipse(100, 80, 70, 55, 20, 12))
    out.append(("alpha", "a03_noise", rng.integers(0, 256, gt.shape, dtype=np.uint8), gt))
    gt = ellipse(33, 31, 15, 17, 9, 11)
    out.append(("alpha", "a04_inverse", 255 - blur(gt, 2), gt))
    # Grey-edged mask: exactly 128 is background, 129 foreground.
    gt = blur(ellipse(40, 30, 20, 15, 12, 9), 1.5)
    gt[0, 0:6] = [127, 128, 129, 128, 129, 130]
    soft = blur(ellipse(40, 30, 22, 14, 12, 9), 2).astype(np.float64)
    grey = np.clip(40 + soft * (160 / 255) + rng.normal(0, 6, soft.shape), 0, 255).astype(np.uint8)
    rgb = np.stack([grey, (grey * 0.8).astype(np.uint8), 255 - grey], axis=-1)
    out.append(("alpha", "a05_rgb_pred", rgb, gt))

    # beta: ground-truth edge cases.
    out.append(("beta", "b01_empty_gt", rng.integers(0, 61, (15, 20), dtype=np.uint8),
                np.zeros((15, 20), np.uint8)))
    out.append(("beta", "b02_one_row", np.array([[0, 10, 200, 30, 0]], np.uint8),
                np.zeros((1, 5), np.uint8)))
    gradient = np.tile(np.linspace(20, 240, 24).astype(np.uint8), (18, 1))
    out.append(("beta", "b03_full_gt", gradient, np.full((18, 24), 255, np.uint8)))
    gt = l_shape(17, 23, 2)
    out.append(("beta", "b04_constant13", np.full(gt.shape, 13, np.uint8), gt))
    out.append(("beta", "b05_empty_perfect", np.zeros((16, 16), np.uint8),
                np.zeros((16, 16), np.uint8)))

    # gamma: network-like maps.
    gt = ellipse(128, 96, 70, 40, 30, 25)
    shifted = np.roll(blur(gt, 4), (3, -5), axis=(0, 1)).astype(np.float64)
    noisy = np.clip(shifted + rng.normal(0, 10, shifted.shape), 0, 255).astype(np.uint8)
    out.append(("gamma", "c01_shifted", noisy, gt))
    gt = np.zeros((37, 50), np.uint8)
    gt[17:20, 5:45] = 255
    gt[3:34, 23:26] = 255
    out.append(("gamma", "c02_black", np.zeros(gt.shape, np.uint8), gt))
    gt = ellipse(45, 60, 20, 33, 14, 18)
    sat = np.where(ellipse(45, 60, 23, 30, 14, 18) > 0, 255, 0).astype(np.uint8)
    sat[25:35] = (np.arange(45) * 5)[None, :].astype(np.uint8)
    out.append(("gamma", "c03_saturated", sat, gt))
    gt = l_shape(200, 150, 3)
    out.append(("gamma", "c04_constant17", np.full(gt.shape, 17, np.uint8), gt))
    return out


def singles(rng):
    """(name, pred, gt) kept out of the PNG set."""
    return [
        ("one_row_mixed", np.array([[9, 250, 40, 7, 128]], np.uint8),
         np.array([[0, 255, 255, 0, 0]], np.uint8)),
        ("fg_on_last_row", rng.integers(0, 256, (6, 7), dtype=np.uint8),
         np.pad(np.full((1, 3), 255, np.uint8), ((5, 0), (2, 2)))),
        ("one_pixel_empty_gt", np.array([[0]], np.uint8), np.array([[0]], np.uint8)),
        ("one_column", np.array([[3], [200], [90], [255]], np.uint8),
         np.array([[0], [255], [0], [0]], np.uint8)),
    ]


def evaluate(items):
    sm = py_sod_metrics.Smeasure(alpha=0.5)
    em = py_sod_metrics.Emeasure()
    fm = py_sod_metrics.Fmeasure(beta=0.3)
    mae = py_sod_metrics.MAE()
    for pred, gt in items:
        for m in (sm, em, fm, mae):
            m.step(pred=pred, gt=gt)
    e = em.get_results()["em"]
    f = fm.get_results()["fm"]
    scores = {
        "images": len(items),
        "s_measure": sm.get_results()["sm"],
        "max_e": e["curve"].max(),
        "mean_e": e["curve"].mean(),
        "adaptive_e": e["adp"],
        "max_f": f["curve"].max(),
        "mean_f": f["curve"].mean(),
        "adaptive_f": f["adp"],
        "mae": mae.get_results()["mae"],
    }
    return {k: (None if np.isnan(v) else float(v)) if k != "images" else v for k, v in scores.items()}


def main():
    rng = np.random.default_rng(20240607)
    for sub in ("gt", "pred"):
        for old in (OUT / sub).glob("*/*.png"):
            old.unlink()
    loaded = {}
    for group, stem, pred, gt in pairs(rng):
        for sub, a in (("pred", pred), ("gt", gt)):
            path = OUT / sub / group / f"{stem}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(a, "RGB" if a.ndim == 3 else "L").save(path, optimize=True)
        # Score what the files hold, as an evaluator reading them would.
        read = [np.asarray(Image.open(OUT / sub / group / f"{stem}.png").convert("L"))
                for sub in ("pred", "gt")]
        loaded.setdefault(group, []).append((stem, read[0], read[1]))

    expected = {
        "versions": {"pysodmetrics": "1.6.2", "numpy": np.__version__, "pillow": Image.__version__},
        "groups": {},
        "overall": None,
        "images": {},
        "singles": [],
    }
    everything = []
    for group in sorted(loaded):
        items = [(p, g) for _, p, g in sorted(loaded[group], key=lambda x: x[0])]
        expected["groups"][group] = evaluate(items)
        everything += items
        for stem, p, g in loaded[group]:
            expected["images"][f"{group}/{stem}"] = evaluate([(p, g)])
    expected["overall"] = evaluate(everything)
    for name, pred, gt in singles(rng):
        expected["singles"].append({
            "name": name,
            "width": int(gt.shape[1]),
            "height": int(gt.shape[0]),
            "pred": pred.ravel().tolist(),
            "gt": gt.ravel().tolist(),
            "expected": evaluate([(pred, gt)]),
        })
    with open(OUT / "expected.json", "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({size} bytes)")
    for group, s in expected["groups"].items():
        print(group, {k: v if not isinstance(v, float) else round(v, 4) for k, v in s.items()})


if __name__ == "__main__":
    main()
