#!/usr/bin/env python3
"""Build the synthetic co-saliency evaluation set in tests/evalset/.

Objects photographed on a white background are cut out (flood fill of the
near-white background from the image border), then pasted onto unrelated
background photos.  Every composite holds ONE object of its group's category
(the ground truth) and ONE distractor object of another category, so that
only the group's category is shared by all images of a group.

Usage:
    python tests/evalset/make_evalset.py --photos <dir of shared photos> --out tests/evalset
    (optional: --sheet some.png writes a contact sheet for visual checking,
               --cutouts some.png writes a sheet of the cut-out masks)

Deterministic: fixed seed, numpy + Pillow + scipy.ndimage only.
"""

import argparse
import csv
import os
import sys

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

SEED = 20261126
W_LAND, H_LAND = 320, 240
IMAGES_PER_GROUP = 6
# Fraction of the image covered by the *visible* target, accepted range.
TARGET_FRAC = (0.08, 0.25)

# ---------------------------------------------------------------------------
# Cut-out sources: photo (relative to --photos, without .webp) -> category and
# flood-fill parameters.
#   white: a pixel with min(R,G,B) >= white is background-white.
#   floor/sat/step: the fill may also grow into light grey shadow pixels
#       (min(R,G,B) >= floor and max-min <= sat) as long as neighbouring pixels
#       differ by at most `step` per channel (a smooth shadow gradient, not an
#       object edge).  floor=None disables shadow growth.
#   hole: enclosed near-white regions (not reached from the border) of at
#       least this many pixels are treated as background seen through the
#       object (scissor handles); smaller ones stay object.  Off (None) by
#       default: for most objects enclosed white is a highlight or white paint.
#   keep: (y, x) points of enclosed near-white regions that stay object even
#       if large (a specular blade in scissors4).
# ---------------------------------------------------------------------------
D = dict(white=235, floor=None, sat=0, step=0, hole=None, keep=())


def P(**kw):
    d = dict(D)
    d.update(kw)
    return d


SOURCES = {
    "tools/hammer5": ("hammer", P()),
    "tools/hammer8": ("hammer", P()),
    "tools/hammer9": ("hammer", P()),
    "tools/measuringTape1": ("measuring_tape", P()),
    "tools/measuringTape2": ("measuring_tape", P(white=238, floor=165, sat=18, step=6)),
    "tools/measuringTape3": ("measuring_tape", P()),
    "tools/measuringTape4": ("measuring_tape", P(white=250, hole=80)),  # cream tape
    "tools/plier1": ("plier", P()),
    "tools/plier2": ("plier", P()),
    "tools/plier3": ("plier", P()),
    "tools/scissors1": ("scissors", P(hole=300)),
    "tools/scissors4": ("scissors", P(white=243, hole=150, keep=((96, 169),))),
    "tools/screwDriver3": ("screwdriver", P()),
    "tools/spray": ("spray_bottle", P(floor=200, sat=10, step=4)),
    "tools/tweezer1": ("tweezers", P()),
    "tools/wrench": ("wrench", P(white=240, floor=215, sat=8, step=3)),
    "tools/cuttingTool": ("cutting_pliers", P()),
    "others/volleyball": ("volleyball", P(white=245)),
}

GROUPS = ["hammer", "measuring_tape", "plier", "scissors"]
# Distractor categories that would be ambiguous for a group (look alike).
EXCLUDE_DISTRACTOR = {"plier": {"cutting_pliers"}}

# Background photos (none of them on a white background).  Each group gets
# one dam, one solar and four others, so no background kind is shared.
BG_DAM = ["renewable/dam1", "renewable/dam2", "renewable/dam3", "renewable/dam4", "renewable/dam5"]
BG_SOLAR = ["renewable/solar2", "renewable/solar3", "renewable/solar4", "renewable/solar5",
            "renewable/solar6", "renewable/solar7", "renewable/solar8"]
BG_OTHER = ["renewable/geothermal", "monuments/colosseum", "monuments/greatWall",
            "monuments/operaHouse", "monuments/tajMahal", "monuments/parthenon",
            "monuments/mountRushmore", "monuments/brandenburgGate", "monuments/IndiaGate",
            "monuments/usCapitol", "monuments/leMusee", "monuments/greatPyramid",
            "monuments/christTheRedeemer", "others/igloo", "others/pillow", "others/pan"]


# ---------------------------------------------------------------------------
# Cutting out
# ---------------------------------------------------------------------------
def _shift(m, dy, dx):
    """out[y, x] = m[y - dy, x - dx], False outside."""
    out = np.zeros_like(m)
    h, w = m.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        m[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def background_fill(a, white, floor, sat, step):
    """Pixels reached by a flood fill from the border through near-white
    pixels (and, optionally, smooth light-grey shadow gradients)."""
    a = a.astype(np.int16)
    mn = a.min(2)
    wh = mn >= white
    if floor is None:
        cand = wh
    else:
        cand = wh | ((mn >= floor) & (a.max(2) - mn <= sat))
    border = np.zeros_like(wh)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    reached = wh & border
    # allowed[d][y, x]: a step from the neighbour in direction d into (y, x).
    allowed = []
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = np.roll(a, (dy, dx), axis=(0, 1))  # nb[y, x] = a[y-dy, x-dx]
        smooth = np.abs(a - nb).max(2) <= step
        nbwh = _shift(wh, dy, dx)
        allowed.append(((dy, dx), cand & ((wh & nbwh) | smooth)))
    while True:
        new = reached.copy()
        for (dy, dx), ok in allowed:
            new |= _shift(reached, dy, dx) & ok
        if new.sum() == reached.sum():
            return reached
        reached = new


def cut_out(rgb, prm):
    """Binary object mask of a photo whose object stands on white."""
    bg = background_fill(rgb, prm["white"], prm["floor"], prm["sat"], prm["step"])
    obj = ~bg
    # Enclosed near-white regions: large ones are background seen through the
    # object, small ones (highlights, printed digits' paper) stay object.
    wh = rgb.min(2) >= prm["white"]
    lab, n = ndi.label(wh & obj)
    if n and prm["hole"] is not None:
        sizes = ndi.sum(np.ones_like(lab), lab, np.arange(1, n + 1))
        big = set((np.nonzero(sizes >= prm["hole"])[0] + 1).tolist())
        big -= {int(lab[y, x]) for y, x in prm["keep"]}
        obj &= ~np.isin(lab, sorted(big))
    # Drop the one-pixel anti-aliased rim that is mostly white.
    obj = ndi.binary_erosion(obj, iterations=1)
    # Keep the main component(s): everything >= 5% of the largest.
    lab, n = ndi.label(obj)
    sizes = ndi.sum(np.ones_like(lab), lab, np.arange(1, n + 1))
    keep = np.nonzero(sizes >= 0.05 * sizes.max())[0] + 1
    obj = np.isin(lab, keep)
    # Fill small holes (speckle left inside the object).
    holes = ndi.binary_fill_holes(obj) & ~obj
    lab, n = ndi.label(holes)
    if n:
        sizes = ndi.sum(np.ones_like(lab), lab, np.arange(1, n + 1))
        small = np.nonzero(sizes < 30)[0] + 1
        obj |= np.isin(lab, small)
    ys, xs = np.nonzero(obj)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return rgb[y0:y1, x0:x1].copy(), obj[y0:y1, x0:x1].copy()


# ---------------------------------------------------------------------------
# Augmenting and compositing
# ---------------------------------------------------------------------------
def transform(rgb, mask, flip, angle, scale):
    """Flip, rotate (mask: nearest, stays binary) and scale (mask: bilinear
    then threshold at 0.5, stays binary); crop to the mask's bounding box."""
    im = Image.fromarray(rgb)
    mk = Image.fromarray(mask.astype(np.uint8) * 255)
    if flip:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
        mk = mk.transpose(Image.FLIP_LEFT_RIGHT)
    if angle:
        im = im.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
        mk = mk.rotate(angle, resample=Image.NEAREST, expand=True, fillcolor=0)
    w = max(1, int(round(im.width * scale)))
    h = max(1, int(round(im.height * scale)))
    im = im.resize((w, h), Image.LANCZOS)
    mk = np.asarray(mk.resize((w, h), Image.BILINEAR)) >= 128
    r = np.asarray(im)
    ys, xs = np.nonzero(mk)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return r[y0:y1, x0:x1], mk[y0:y1, x0:x1]


def place(mask, W, H, y, x):
    full = np.zeros((H, W), bool)
    h, w = mask.shape
    full[y:y + h, x:x + w] = mask
    return full


def load_background(path, rng):
    im = Image.open(path).convert("RGB")
    W, H = (W_LAND, H_LAND) if im.width >= im.height else (H_LAND, W_LAND)
    s = max(W / im.width, H / im.height)
    w, h = max(W, int(round(im.width * s))), max(H, int(round(im.height * s)))
    im = im.resize((w, h), Image.LANCZOS)
    x = int(rng.integers(0, w - W + 1))
    y = int(rng.integers(0, h - H + 1))
    return np.asarray(im.crop((x, y, x + W, y + H))).copy()


def sized_object(rgb, mask, rng, W, H, frac):
    """Random flip/rotation; scale so the mask covers about `frac` of W*H,
    capped so the object fits into 92% of the canvas."""
    flip = bool(rng.integers(0, 2))
    angle = float(rng.choice([0.0, 15.0, -15.0]))
    r1, m1 = transform(rgb, mask, flip, angle, 1.0)
    s = np.sqrt(frac * W * H / m1.sum())
    s = min(s, 0.92 * W / m1.shape[1], 0.92 * H / m1.shape[0])
    return transform(rgb, mask, flip, angle, s), dict(flip=flip, angle=angle, scale=round(s, 3))


def compose(bg, tgt, dis, rng, margin=4, tries=300):
    """Paste target, then distractor (pasted later, so it occludes).
    Positions are drawn at random; the first pair whose masks keep `margin`
    pixels apart is taken, else the pair with the least overlap.
    Returns image, ground truth (visible target pixels), distractor mask,
    unoccluded target mask."""
    H, W = bg.shape[:2]
    (tr, tm), (dr, dm) = tgt, dis
    best = None
    for _ in range(tries):
        ty = int(rng.integers(0, H - tm.shape[0] + 1))
        tx = int(rng.integers(0, W - tm.shape[1] + 1))
        dy = int(rng.integers(0, H - dm.shape[0] + 1))
        dx = int(rng.integers(0, W - dm.shape[1] + 1))
        tfull = place(tm, W, H, ty, tx)
        dfull = place(dm, W, H, dy, dx)
        near = int((ndi.binary_dilation(tfull, iterations=margin) & dfull).sum())
        ov = int((tfull & dfull).sum())
        key = (ov, near)
        if best is None or key < best[0]:
            best = (key, ty, tx, dy, dx)
        if near == 0:
            break
    _, ty, tx, dy, dx = best
    tfull = place(tm, W, H, ty, tx)
    dfull = place(dm, W, H, dy, dx)
    img = bg.copy()
    img[ty:ty + tm.shape[0], tx:tx + tm.shape[1]][tm] = tr[tm]
    img[dy:dy + dm.shape[0], dx:dx + dm.shape[1]][dm] = dr[dm]
    gt = tfull & ~dfull
    return img, gt, dfull, tfull


# ---------------------------------------------------------------------------
def read_manifest(photos):
    rows = {}
    with open(os.path.join(photos, "MANIFEST.tsv"), newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            key = r["path_inside_categorization.rcc"]
            key = key.split("categorization/resource/images/", 1)[1].rsplit(".", 1)[0]
            rows[key] = r
    return rows


def build(photos, out, sheet=None, cutouts=None):
    rng = np.random.default_rng(SEED)
    manifest = read_manifest(photos)
    cut = {}
    for name, (cat, prm) in SOURCES.items():
        rgb = np.asarray(Image.open(os.path.join(photos, name + ".webp")).convert("RGB"))
        cut[name] = cut_out(rgb, prm)

    by_cat = {}
    for name, (cat, _) in SOURCES.items():
        by_cat.setdefault(cat, []).append(name)

    dams = list(rng.permutation(BG_DAM))
    solars = list(rng.permutation(BG_SOLAR))
    others = list(rng.permutation(BG_OTHER))

    used = set()
    records = []
    for gi, group in enumerate(GROUPS):
        os.makedirs(os.path.join(out, "images", group), exist_ok=True)
        os.makedirs(os.path.join(out, "masks", group), exist_ok=True)
        bgs = [dams[gi], solars[gi]] + others[4 * gi:4 * gi + 4]
        bgs = [str(b) for b in rng.permutation(bgs)]
        srcs = by_cat[group]
        tsrc = [srcs[i % len(srcs)] for i in range(IMAGES_PER_GROUP)]
        tsrc = [str(t) for t in rng.permutation(tsrc)]
        dcats = sorted(c for c in by_cat if c != group and c not in EXCLUDE_DISTRACTOR.get(group, ()))
        dcats = [str(c) for c in rng.permutation(dcats)[:IMAGES_PER_GROUP]]
        for i in range(IMAGES_PER_GROUP):
            dsrc = str(rng.choice(by_cat[dcats[i]]))
            for attempt in range(50):
                bg = load_background(os.path.join(photos, bgs[i] + ".webp"), rng)
                H, W = bg.shape[:2]
                frac = float(rng.uniform(0.09, 0.16))
                tgt, tinfo = sized_object(*cut[tsrc[i]], rng, W, H, frac)
                dfrac = frac * float(rng.uniform(0.7, 1.2))
                dis, dinfo = sized_object(*cut[dsrc], rng, W, H, dfrac)
                img, gt, dfull, tfull = compose(bg, tgt, dis, rng)
                f = gt.mean()
                occl = 1.0 - gt.sum() / tfull.sum()
                if TARGET_FRAC[0] <= f <= TARGET_FRAC[1] and occl <= 0.03:
                    break
            else:
                sys.exit("could not place %s %d" % (group, i))
            stem = "%s_%02d" % (group, i + 1)
            Image.fromarray(img).save(os.path.join(out, "images", group, stem + ".png"), optimize=True)
            Image.fromarray(gt.astype(np.uint8) * 255).save(
                os.path.join(out, "masks", group, stem + ".png"), optimize=True)
            used.update([bgs[i], tsrc[i], dsrc])
            rec = dict(group=group, image=stem, background=bgs[i], target=tsrc[i],
                       distractor=dsrc, target_frac=round(float(f), 3),
                       distractor_frac=round(float(dfull.mean()), 3),
                       occluded=round(float(occl), 3), t=tinfo, d=dinfo)
            records.append(rec)
            print("%-20s bg=%-28s target=%-22s (%.3f, occl %.3f)  distractor=%-22s (%.3f)" % (
                group + "/" + stem, bgs[i], tsrc[i], f, occl, dsrc, dfull.mean()))

    write_notice(os.path.join(out, "NOTICE"), sorted(used), manifest)
    if sheet:
        write_sheet(out, records, sheet)
    if cutouts:
        write_cutouts(cut, cutouts)
    return records


def write_notice(path, used, manifest):
    lines = [
        "Photos used in tests/evalset (cut-out objects and backgrounds of the composites).",
        "Originals: Debian package gcompris-qt-data 3.1-2 (GCompris 'categorization' activity",
        "images), which lists for each photo its licence, author and source below.",
        "The composites (images/, masks/) were derived from them by make_evalset.py.",
        "",
        "file\tlicence\tauthor\tsource",
    ]
    for k in used:
        r = manifest[k]
        lines.append("%s.webp\t%s\t%s\t%s" % (k, r["license"], r["author"], r["source"]))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_sheet(out, records, path):
    cell_w, cell_h = 330, 250
    cols = 4
    rows = (len(records) + 1) // 2
    S = Image.new("RGB", (cols * cell_w, rows * (cell_h + 14)), (60, 60, 60))
    d = ImageDraw.Draw(S)
    for i, r in enumerate(records):
        img = np.asarray(Image.open(os.path.join(out, "images", r["group"], r["image"] + ".png")))
        gt = np.asarray(Image.open(os.path.join(out, "masks", r["group"], r["image"] + ".png"))) > 0
        ov = img.astype(float).copy()
        ov[~gt] *= 0.35
        edge = gt ^ ndi.binary_erosion(gt)
        ov[edge] = (0, 255, 0)
        for j, a in enumerate((img, ov.astype(np.uint8))):
            im = Image.fromarray(a)
            im.thumbnail((cell_w - 10, cell_h - 10))
            x = ((2 * i + j) % cols) * cell_w
            y = ((2 * i + j) // cols) * (cell_h + 14)
            S.paste(im, (x, y + 14))
            d.text((x + 2, y), "%s %s | %s" % (r["image"], r["target"].split("/")[-1],
                                              r["distractor"].split("/")[-1]), fill=(255, 255, 0))
    S.save(path)


def write_cutouts(cut, path):
    cell = 330
    names = list(cut)
    cols = 3
    rows = (len(names) + cols - 1) // cols
    S = Image.new("RGB", (cols * cell, rows * (cell + 14)), (128, 128, 128))
    d = ImageDraw.Draw(S)
    for i, n in enumerate(names):
        rgb, m = cut[n]
        ov = rgb.astype(float).copy()
        ov[~m] = ov[~m] * 0.3 + np.array([255, 0, 255]) * 0.7
        im = Image.fromarray(ov.astype(np.uint8))
        im.thumbnail((cell - 10, cell - 10))
        x, y = (i % cols) * cell, (i // cols) * (cell + 14)
        S.paste(im, (x, y + 14))
        d.text((x + 2, y), n, fill=(255, 255, 0))
    S.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", required=True, help="directory of the shared photos (has MANIFEST.tsv)")
    ap.add_argument("--out", required=True, help="output directory, e.g. tests/evalset")
    ap.add_argument("--sheet", help="optional: write a contact sheet PNG here (for checking)")
    ap.add_argument("--cutouts", help="optional: write a sheet of the cut-out masks here")
    a = ap.parse_args()
    build(a.photos, a.out, a.sheet, a.cutouts)


if __name__ == "__main__":
    main()
