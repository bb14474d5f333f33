#!/usr/bin/env python3
"""Build a synthetic co-saliency TRAINING set (groups of composites + exact masks).

Objects are cut out of the shared public-domain/CC0 photos with U²-Netp
saliency masks (thresholded and cleaned; poor masks are rejected and logged),
then pasted onto unrelated backgrounds (scene photos of the shared set and
public-domain/CC0 images bundled with scikit-image).  Every composite holds
ONE target of its group's category and one or two distractors of other
categories, so only the target category is shared by all images of a group.
Same-instance training groups (inst_<object>_NN) show one single-object cut-out
in every image (stronger flip/scale/rotation/colour augmentation, different
backgrounds, distractors of other categories).  The ground truth is the
visible part of the target.

Usage (from the repository root):
    python train/make_dataset.py --photos <shared photos dir, with MANIFEST.tsv> --out <dir>
        [--seed 0] [--groups-per-category 8] [--instance-groups 2]
        [--sheet contact.png] [--cutouts cutouts.png]
        [--photo-sisms DIR]   # SISMs of the photos from `icnet run ... --save-sisms DIR`
    python train/make_dataset.py --composite-sisms DATA [GROUP ...]
        # SISMs of the composites with the built-in U²-Netp (= train/make_sisms.sh --torch)

Output (the contract with train/train.py):
    OUT/images/<group>/<group>_NN.png   320x240 or 240x320 RGB
    OUT/masks/<group>/<group>_NN.png    8-bit, 0/255, same size
    OUT/split.json   {"train": [...], "heldout": [...], "categories": {group: category}}
    OUT/NOTICE       credits and licences of every source image used
    OUT/records.json per-image provenance (background, target, distractors, areas)
    OUT/cutouts.tsv  every candidate photo: accepted as cut-out or why it was rejected
    OUT/photo_sisms/ cache of the photos' U²-Netp maps (computed once, reused on re-runs)
The SISMs of the composites are computed afterwards with train/make_sisms.sh
(`icnet run`) or --composite-sisms (same network in PyTorch, about 45x faster).

Deterministic: fixed seed; re-running with the same arguments (and the same
photo SISMs) rewrites every file byte for byte.
"""

import argparse
import json
import os
import re
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from scipy import ndimage as ndi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "evalset"))
import make_evalset as ev  # noqa: E402  (transform, place, read_manifest, SOURCES)

W_LAND, H_LAND = ev.W_LAND, ev.H_LAND  # 320 x 240

# ---------------------------------------------------------------------------
# Categories of the shared photos (path relative to --photos, without .webp).
# First matching rule wins.  "other:<name>" = a single object, used only as a
# distractor.  "bg" = a scene, used only as a background.
# ---------------------------------------------------------------------------
RULES = [
    (r"fishes/fish\d+$", "fish"),
    (r"renewable/windmill\d*$", "windmill"),
    (r"renewable/(solar\d+|dam\d+|geothermal)$", "bg"),
    (r"tools/hammer\d+$", "hammer"),
    (r"tools/measuringTape\d+$", "measuring_tape"),
    (r"tools/plier\d+$", "plier"),
    (r"tools/scissors\d+$", "scissors"),
    (r"tools/screwDriver\d+$", "screwdriver"),
    (r"tools/multimeter\d+$", "multimeter"),
    (r"monuments/.*$", "monument"),
    (r"(tools|others)/(\w+?)\d*$", "other:{2}"),
]

# Categories of the labelled evaluation set tests/evalset: never used here
# (neither target nor distractor), and neither are the photos that
# make_evalset.py cuts out, so that set stays independent of training.
EVALSET_CATEGORIES = {"hammer", "measuring_tape", "plier", "scissors"}
EVALSET_PHOTOS = set(ev.SOURCES)

# Target categories whose groups are held out (never seen in training, neither
# as target nor distractor nor background).
HELDOUT = ["windmill", "multimeter"]

# Photos that are single objects by name but fail as cut-outs or backgrounds
# are decided by the mask checks below; these scenes are also backgrounds.
EXTRA_BG = ["others/igloo", "others/blackslate", "others/pillow"]

# Images bundled with scikit-image (skimage/data), public domain or CC0 by
# their docstrings (see train/DATA.md).  gray=True: tinted with a random colour.
SKIMAGE_BG = {
    "astronaut.png": ("Public Domain", "NASA (Eileen Collins, NASA Great Images)", False),
    "brick.png": ("CC0-1.0", "cc0textures.com Bricks25", True),
    "camera.png": ("CC0-1.0", "Lav Varshney", True),
    "chelsea.png": ("CC0-1.0", "Stefan van der Walt", False),
    "coffee.png": ("CC0-1.0", "Rachel Michetti", False),
    "grass.png": ("CC0-1.0", "linolafett (DeviantArt Grass-01)", True),
    "gravel.png": ("CC0-1.0", "cc0textures.com Gravel04", True),
    "hubble_deep_field.jpg": ("Public Domain", "NASA/ESA HubbleSite", False),
    "rocket.jpg": ("Public Domain", "SpaceX", False),
}

IMAGES_PER_GROUP = (6, 8)        # inclusive range
TARGET_FRAC = (0.06, 0.22)       # drawn area of the (unoccluded) target
ACCEPT_FRAC = (0.04, 0.26)       # accepted visible-target area
MAX_OCCLUDED = 0.10              # at most this much of the target hidden
MIN_TARGET_PHOTOS = 2            # a category needs this many good cut-outs
INSTANCE_ANGLE = 45.0            # same-instance groups: rotation range (deg)
INSTANCE_JITTER = 0.3            # same-instance groups: colour jitter


def category_of(key):
    for pat, cat in RULES:
        m = re.match(pat, key)
        if m:
            return cat.format(*([None] + list(m.groups()))) if "{" in cat else cat
    return None


# ---------------------------------------------------------------------------
# U²-Netp (BatchNorm folded, models/u2netp.safetensors) with rembg's pre- and
# post-processing, as the engine does; used only when --photo-sisms is not
# given.  Its maps match `icnet run --save-sisms` to +-1 grey level.
# ---------------------------------------------------------------------------
class U2Netp:
    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, path):
        import torch
        import torch.nn.functional as F
        from safetensors.torch import load_file
        self.torch, self.F = torch, F
        self.w = load_file(path)

    def conv(self, name, x, dil=1, relu=True):
        w, b = self.w[name + ".weight"], self.w[name + ".bias"]
        y = self.F.conv2d(x, w, b, padding=dil * (w.shape[-1] // 2), dilation=dil)
        return self.F.relu(y) if relu else y

    def up(self, x, like):
        return self.F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)

    def pool(self, x):
        return self.F.max_pool2d(x, 2, 2, ceil_mode=True)

    def rsu(self, s, x, depth):
        cat = self.torch.cat
        hxin = self.conv(s + ".rebnconvin", x)
        enc = [self.conv(s + ".rebnconv1", hxin)]
        for i in range(2, depth):
            enc.append(self.conv(s + ".rebnconv%d" % i, self.pool(enc[-1])))
        hx = self.conv(s + ".rebnconv%d" % depth, enc[-1], dil=2)
        for i in range(depth - 1, 0, -1):
            hx = self.conv(s + ".rebnconv%dd" % i, cat([hx, enc[i - 1]], 1))
            if i > 1:
                hx = self.up(hx, enc[i - 2])
        return hx + hxin

    def rsu4f(self, s, x):
        cat = self.torch.cat
        hxin = self.conv(s + ".rebnconvin", x)
        h1 = self.conv(s + ".rebnconv1", hxin, 1)
        h2 = self.conv(s + ".rebnconv2", h1, 2)
        h3 = self.conv(s + ".rebnconv3", h2, 4)
        h4 = self.conv(s + ".rebnconv4", h3, 8)
        h3d = self.conv(s + ".rebnconv3d", cat([h4, h3], 1), 4)
        h2d = self.conv(s + ".rebnconv2d", cat([h3d, h2], 1), 2)
        return self.conv(s + ".rebnconv1d", cat([h2d, h1], 1), 1) + hxin

    def d0(self, x):
        cat = self.torch.cat
        with self.torch.no_grad():
            h1 = self.rsu("stage1", x, 7)
            h2 = self.rsu("stage2", self.pool(h1), 6)
            h3 = self.rsu("stage3", self.pool(h2), 5)
            h4 = self.rsu("stage4", self.pool(h3), 4)
            h5 = self.rsu4f("stage5", self.pool(h4))
            h6 = self.rsu4f("stage6", self.pool(h5))
            h5d = self.rsu4f("stage5d", cat([self.up(h6, h5), h5], 1))
            h4d = self.rsu("stage4d", cat([self.up(h5d, h4), h4], 1), 4)
            h3d = self.rsu("stage3d", cat([self.up(h4d, h3), h3], 1), 5)
            h2d = self.rsu("stage2d", cat([self.up(h3d, h2), h2], 1), 6)
            h1d = self.rsu("stage1d", cat([self.up(h2d, h1), h1], 1), 7)
            sides = [self.conv("side1", h1d, relu=False)]
            for i, h in zip(range(2, 7), (h2d, h3d, h4d, h5d, h6)):
                sides.append(self.up(self.conv("side%d" % i, h, relu=False), sides[0]))
            return self.torch.sigmoid(self.conv("outconv", cat(sides, 1), relu=False))[0, 0].numpy()

    def sism(self, img):
        a = np.asarray(img.resize((320, 320), Image.LANCZOS)).astype(np.float64)
        a = (a / max(a.max(), 1.0) - np.array(self.MEAN)) / np.array(self.STD)
        x = self.torch.from_numpy(a.transpose(2, 0, 1).astype(np.float32))[None]
        d = self.d0(x)
        lo, hi = d.min(), d.max()
        d = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
        return np.asarray(Image.fromarray((d * 255).astype(np.uint8)).resize(img.size, Image.LANCZOS))


def photo_sism(key, photos, cache, given, net_holder):
    """SISM of a photo: from --photo-sisms, else the cache, else computed."""
    folder, stem = key.split("/")
    if given:
        return np.asarray(Image.open(os.path.join(given, folder, stem + ".png")).convert("L"))
    path = os.path.join(cache, folder, stem + ".png")
    if not os.path.exists(path):
        if not net_holder:
            net_holder.append(load_u2netp())
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s = net_holder[0].sism(Image.open(os.path.join(photos, key + ".webp")).convert("RGB"))
        Image.fromarray(s).save(path)
        print("  U²-Netp: %s" % key, flush=True)
    return np.asarray(Image.open(path).convert("L"))


# ---------------------------------------------------------------------------
# Cut-outs from saliency maps
# ---------------------------------------------------------------------------
def clean_mask(sism):
    """Threshold at 0.5, keep the largest component, fill holes, smooth a
    little.  Returns (mask, stats)."""
    fg = sism >= 128
    lab, n = ndi.label(fg)
    if n == 0:
        return fg, dict(area=0.0)
    sizes = ndi.sum(np.ones_like(lab), lab, np.arange(1, n + 1))
    main = lab == (int(np.argmax(sizes)) + 1)
    main_share = float(sizes.max() / sizes.sum())
    m = ndi.binary_fill_holes(main)
    m = ndi.binary_opening(m, iterations=1)
    lab, n = ndi.label(m)
    if n > 1:
        sizes = ndi.sum(np.ones_like(lab), lab, np.arange(1, n + 1))
        m = lab == (int(np.argmax(sizes)) + 1)
    h, w = m.shape
    border = np.concatenate([m[0], m[-1], m[:, 0], m[:, -1]])
    sides = int(m[0].any()) + int(m[-1].any()) + int(m[:, 0].any()) + int(m[:, -1].any())
    s = sism.astype(np.float32) / 255
    # Uncertain pixels (0.2..0.8) relative to the object area: a poor map is mushy.
    mushy = float(((s > 0.2) & (s < 0.8)).sum() / max(m.sum(), 1))
    return m, dict(area=float(m.mean()), main_share=round(main_share, 3),
                   border=round(float(border.mean()), 3), sides=sides, mushy=round(mushy, 3),
                   inside=round(float(s[m].mean()) if m.any() else 0.0, 3),
                   outside=round(float(s[~m].mean()), 3))


def judge(st):
    """None if the mask is a usable cut-out, else the reason."""
    if st["area"] < 0.03:
        return "too small (%.3f of the photo)" % st["area"]
    if st["area"] > 0.70:
        return "too large (%.3f of the photo)" % st["area"]
    if st["main_share"] < 0.75:
        return "several salient parts (main component %.2f)" % st["main_share"]
    if st["sides"] >= 3 or st["border"] > 0.25:
        return "touches the border (%d sides, %.2f of it)" % (st["sides"], st["border"])
    if st["mushy"] > 0.5:
        return "uncertain map (%.2f mushy)" % st["mushy"]
    if st["inside"] - st["outside"] < 0.6:
        return "weak contrast (in %.2f, out %.2f)" % (st["inside"], st["outside"])
    return None


def cut(rgb, m):
    m = ndi.binary_erosion(m, iterations=1)  # drop the rim that still shows the old background
    ys, xs = np.nonzero(m)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return rgb[y0:y1, x0:x1].copy(), m[y0:y1, x0:x1].copy()


# ---------------------------------------------------------------------------
# Augmentation and compositing
# ---------------------------------------------------------------------------
def jitter(rgb, rng, strength=0.2):
    im = Image.fromarray(rgb)
    for enh in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        im = enh(im).enhance(float(rng.uniform(1 - strength, 1 + strength)))
    return np.asarray(im)


def sized_object(rgb, mask, rng, W, H, frac, max_angle=25.0, strength=0.2):
    """Random flip, rotation (-max_angle..max_angle deg, p = 0.7), colour
    jitter; scaled so that the mask covers about `frac` of W*H and fits into
    90% of the canvas."""
    flip = bool(rng.integers(0, 2))
    angle = float(np.round(rng.uniform(-max_angle, max_angle), 1)) if rng.random() < 0.7 else 0.0
    r1, m1 = ev.transform(rgb, mask, flip, angle, 1.0)
    s = np.sqrt(frac * W * H / m1.sum())
    s = min(s, 0.9 * W / m1.shape[1], 0.9 * H / m1.shape[0])
    r, m = ev.transform(rgb, mask, flip, angle, s)
    return (jitter(r, rng, strength), m), dict(flip=flip, angle=angle, scale=round(float(s), 3))


def load_bg(src, rng, portrait_ok):
    """A background crop at 320x240 (or 240x320 for portrait sources, with
    probability 0.3), random zoom 1-1.5x, flip and colour jitter."""
    im = src.copy()
    if portrait_ok and im.height > im.width and rng.random() < 0.3:
        W, H = H_LAND, W_LAND
    else:
        W, H = W_LAND, H_LAND
    s = max(W / im.width, H / im.height) * float(rng.uniform(1.0, 1.5))
    w, h = max(W, int(round(im.width * s))), max(H, int(round(im.height * s)))
    im = im.resize((w, h), Image.LANCZOS)
    x = int(rng.integers(0, w - W + 1))
    y = int(rng.integers(0, h - H + 1))
    im = im.crop((x, y, x + W, y + H))
    if rng.integers(0, 2):
        im = ImageOps.mirror(im)
    return jitter(np.asarray(im), rng, 0.15)


def compose(bg, tgt, dis, rng, tries=200):
    """Paste the target, then the distractors (which may occlude it).  The
    placement with the least target occlusion (ties: least distractor
    overlap) among `tries` random ones is used; stops at the first clean one."""
    H, W = bg.shape[:2]
    tr, tm = tgt
    best = None
    for _ in range(tries):
        ty = int(rng.integers(0, H - tm.shape[0] + 1))
        tx = int(rng.integers(0, W - tm.shape[1] + 1))
        tfull = ev.place(tm, W, H, ty, tx)
        grown = ndi.binary_dilation(tfull, iterations=3)
        pos, occ, near = [], 0, 0
        for dr, dm in dis:
            dy = int(rng.integers(0, H - dm.shape[0] + 1))
            dx = int(rng.integers(0, W - dm.shape[1] + 1))
            d = ev.place(dm, W, H, dy, dx)
            occ += int((d & tfull).sum())
            near += int((d & grown).sum())
            pos.append((dy, dx))
        key = (occ, near)
        if best is None or key < best[0]:
            best = (key, ty, tx, pos)
        if near == 0:
            break
    _, ty, tx, pos = best
    img = bg.copy()
    img[ty:ty + tm.shape[0], tx:tx + tm.shape[1]][tm] = tr[tm]
    tfull = ev.place(tm, W, H, ty, tx)
    gt = tfull.copy()
    dfrac = []
    for (dr, dm), (dy, dx) in zip(dis, pos):
        img[dy:dy + dm.shape[0], dx:dx + dm.shape[1]][dm] = dr[dm]
        d = ev.place(dm, W, H, dy, dx)
        gt &= ~d
        dfrac.append(round(float(d.mean()), 3))
    return img, gt, tfull, dfrac


# ---------------------------------------------------------------------------
def list_photos(photos):
    keys = []
    for d in sorted(os.listdir(photos)):
        if os.path.isdir(os.path.join(photos, d)):
            keys += [d + "/" + f[:-5] for f in sorted(os.listdir(os.path.join(photos, d)))
                     if f.endswith(".webp")]
    return keys


def skimage_dir():
    import skimage
    return os.path.join(os.path.dirname(skimage.__file__), "data")


def build(a):
    photos, out = a.photos, a.out
    manifest = ev.read_manifest(photos)
    cache = os.path.join(out, "photo_sisms")
    net = []
    keys = list_photos(photos)
    cat = {k: category_of(k) for k in keys}

    # -- cut-outs ---------------------------------------------------------
    cutouts, log = {}, []
    bg_keys = [k for k in keys if cat[k] == "bg"] + list(EXTRA_BG)
    for k in keys:
        c = cat[k]
        if c is None or c == "bg" or k in EXTRA_BG:
            continue
        if c in EVALSET_CATEGORIES or k in EVALSET_PHOTOS:
            log.append((k, c, "unused", "reserved for tests/evalset", {}))
            continue
        rgb = np.asarray(Image.open(os.path.join(photos, k + ".webp")).convert("RGB"))
        m, st = clean_mask(photo_sism(k, photos, cache, a.photo_sisms, net))
        why = judge(st)
        if why is None:
            cutouts[k] = cut(rgb, m)
            log.append((k, c, "cut-out", "", st))
        else:
            log.append((k, c, "rejected", why, st))
            if c == "monument" and st["area"] > 0.03:
                bg_keys.append(k)  # a monument scene still makes a background
    by_cat = {}
    for k in cutouts:
        by_cat.setdefault(cat[k], []).append(k)
    targets = sorted(c for c, v in by_cat.items()
                     if not c.startswith("other:") and len(v) >= MIN_TARGET_PHOTOS)
    heldout = [c for c in HELDOUT if c in targets]
    train = [c for c in targets if c not in heldout]

    # -- backgrounds: (key, PIL image, category, gray) ----------------------
    bgs = []
    for k in sorted(set(bg_keys)):
        bgs.append((k, Image.open(os.path.join(photos, k + ".webp")).convert("RGB"), cat[k], False))
    skd = skimage_dir()
    for f, (lic, author, gray) in sorted(SKIMAGE_BG.items()):
        p = os.path.join(skd, f)
        if os.path.exists(p):
            bgs.append(("skimage/" + f, Image.open(p).convert("RGB"), "bg", gray))

    # -- groups --------------------------------------------------------------
    # Distractor categories: single objects and the other training
    # categories; never a held-out or evalset category.
    def distractor_cats(target):
        pool = [c for c in by_cat if c != target and c not in heldout and c not in EVALSET_CATEGORIES]
        return sorted(pool)

    plan = []
    for ci, c in enumerate(train + heldout):
        # Training: N groups, but at most 2 per cut-out photo (a category of 2
        # photos gets 4 groups).  Held-out: about one group per 5 photos.
        n = len(by_cat[c])
        n_groups = min(a.groups_per_category, 2 * n) if c in train else max(1, -(-n // 5))
        tperm = list(np.random.default_rng([a.seed, ci, 999]).permutation(sorted(by_cat[c])))
        for gi in range(n_groups):
            plan.append((c, gi, tperm))
    # Same-instance groups: every image of the group shows the same single
    # object (an accepted 'other:' cut-out), with stronger augmentation
    # (rotation up to INSTANCE_ANGLE, colour jitter INSTANCE_JITTER), on
    # different backgrounds and with distractors of other categories.
    instance = sorted(c for c in by_cat if c.startswith("other:"))
    assert not set(instance) & (set(HELDOUT) | EVALSET_CATEGORIES), instance
    for c in instance:
        for gi in range(a.instance_groups):
            plan.append((c, gi, sorted(by_cat[c])))
    split = {"train": [], "heldout": [], "categories": {}}
    records, used = [], set()
    tcursor = {}
    for c, gi, tperm in plan:
        inst = c.startswith("other:")
        if inst:
            # own RNG stream (1000 + gi), so the category groups are unchanged
            group = "inst_%s_%02d" % (c.split(":", 1)[1], gi + 1)
            rng = np.random.default_rng([a.seed, sorted(by_cat).index(c), 1000 + gi])
            aug = dict(max_angle=INSTANCE_ANGLE, strength=INSTANCE_JITTER)
        else:
            group = "%s_%02d" % (c, gi + 1)
            rng = np.random.default_rng([a.seed, sorted(by_cat).index(c), gi])
            aug = {}
        n_img = int(rng.integers(IMAGES_PER_GROUP[0], IMAGES_PER_GROUP[1] + 1))
        # Targets: walk through the category's photos, so groups differ.
        start = tcursor.get(c, 0)
        tsrc = [tperm[(start + i) % len(tperm)] for i in range(n_img)]
        tcursor[c] = start + n_img
        # Distractors: each category at most once per group.
        dc = [str(x) for x in rng.permutation(distractor_cats(c))]
        n_dis = [1 + int(rng.random() < 0.5) for _ in range(n_img)]
        while sum(n_dis) > len(dc):
            n_dis[n_dis.index(2)] = 1
        # Backgrounds: each at most once per group, never showing the target
        # category; training groups never see held-out categories.
        bpool = [i for i, b in enumerate(bgs) if b[2] != c and b[2] not in heldout]
        bsel = [int(i) for i in rng.permutation(bpool)[:n_img]]
        dpos = 0
        os.makedirs(os.path.join(out, "images", group), exist_ok=True)
        os.makedirs(os.path.join(out, "masks", group), exist_ok=True)
        for i in range(n_img):
            dks = []
            for j in range(n_dis[i]):
                dks.append(str(rng.choice(sorted(by_cat[dc[dpos + j]]))))
            dpos += n_dis[i]
            bk, bim, _, gray = bgs[bsel[i]]
            for attempt in range(60):
                if gray:
                    g = np.asarray(bim.convert("L")).astype(np.float32)[..., None] / 255
                    tint = rng.uniform(0.45, 1.0, size=3)
                    src = Image.fromarray((g * tint * 255).astype(np.uint8))
                else:
                    src = bim
                bg = load_bg(src, rng, portrait_ok=True)
                H, W = bg.shape[:2]
                frac = float(rng.uniform(*TARGET_FRAC))
                tgt, tinfo = sized_object(*cutouts[tsrc[i]], rng, W, H, frac, **aug)
                dis, dinfo = [], []
                for dk in dks:
                    o, inf = sized_object(*cutouts[dk], rng, W, H, frac * float(rng.uniform(0.5, 1.3)))
                    dis.append(o)
                    dinfo.append(inf)
                img, gt, tfull, dfrac = compose(bg, tgt, dis, rng)
                f = float(gt.mean())
                occl = 1.0 - gt.sum() / max(tfull.sum(), 1)
                if ACCEPT_FRAC[0] <= f <= ACCEPT_FRAC[1] and occl <= MAX_OCCLUDED:
                    break
            else:
                sys.exit("could not place %s %d" % (group, i))
            stem = "%s_%02d" % (group, i + 1)
            Image.fromarray(img).save(os.path.join(out, "images", group, stem + ".png"))
            Image.fromarray(gt.astype(np.uint8) * 255).save(os.path.join(out, "masks", group, stem + ".png"))
            used.update([bk, tsrc[i]] + dks)
            records.append(dict(group=group, image=stem, background=bk, target=tsrc[i],
                                distractors=dks, target_frac=round(f, 3), occluded=round(float(occl), 3),
                                distractor_frac=dfrac, t=tinfo, d=dinfo))
        split["heldout" if c in heldout else "train"].append(group)
        split["categories"][group] = c
        print("%-16s %d images, targets %s" % (group, n_img, ",".join(sorted(set(
            t.split("/")[-1] for t in tsrc)))), flush=True)

    check_split(split, records, cat, heldout)
    n_inst = sum(1 for g in split["train"] if g.startswith("inst_"))
    with open(os.path.join(out, "split.json"), "w") as f:
        json.dump(split, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "records.json"), "w") as f:
        json.dump(records, f, indent=0, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "cutouts.tsv"), "w") as f:
        f.write("photo\tcategory\tuse\treason\tarea\tmain_share\tborder\tsides\tmushy\tinside\toutside\n")
        for k, c, use, why, st in log:
            f.write("\t".join([k, c, use, why] + [str(st.get(x, "")) for x in
                    ("area", "main_share", "border", "sides", "mushy", "inside", "outside")]) + "\n")
    write_notice(os.path.join(out, "NOTICE"), sorted(used), manifest)
    for k, c, use, why, st in log:
        if use == "rejected":
            print("rejected %-28s %s" % (k, why))
    n_tr = sum(1 for r in records if r["group"] in split["train"])
    print("train: %d groups (%d same-instance), %d images, categories %s + same-instance %s" % (
        len(split["train"]), n_inst, n_tr, train, [c.split(":", 1)[1] for c in instance]))
    print("held-out: %d groups, %d images, categories %s" % (
        len(split["heldout"]), len(records) - n_tr, heldout))
    print("cut-outs per category: %s" % {c: len(v) for c, v in sorted(by_cat.items())})
    if a.sheet:
        write_sheet(out, records, a.sheet)
    if a.cutouts:
        write_cutouts(photos, log, cutouts, a.cutouts)


def check_split(split, records, cat, heldout):
    """No held-out or evalset category may appear anywhere in a training
    group: as target, distractor or background."""
    forbidden = set(heldout) | EVALSET_CATEGORIES
    train = set(split["train"])
    assert not train & set(split["heldout"])
    for g in train:
        assert split["categories"][g] not in forbidden, g
    for r in records:
        if r["group"] in train:
            seen = {cat.get(k, "bg") for k in [r["target"], r["background"]] + r["distractors"]}
            assert not seen & forbidden, (r["image"], seen & forbidden)
        for k in [r["target"]] + r["distractors"]:
            assert k not in EVALSET_PHOTOS and cat[k] not in EVALSET_CATEGORIES, (r["image"], k)
        # only the target category is shared: distractor categories differ from it
        assert all(cat[k] != split["categories"][r["group"]] for k in r["distractors"]), r["image"]
    for g in train:  # same-instance groups: single objects only, one photo per group
        if g.startswith("inst_"):
            c = split["categories"][g]
            assert c.startswith("other:") and c not in forbidden, g
            assert len({r["target"] for r in records if r["group"] == g}) == 1, g
    train_cats = {split["categories"][g] for g in train}
    held_cats = {split["categories"][g] for g in split["heldout"]}
    assert not train_cats & held_cats, train_cats & held_cats
    assert len(split["heldout"]) >= 3, "fewer than 3 held-out groups"


def write_notice(path, used, manifest):
    skd = [k for k in used if k.startswith("skimage/")]
    lines = [
        "Source images of this synthetic co-saliency training set (cut-out objects and",
        "backgrounds of the composites), made by train/make_dataset.py.",
        "",
        "1. Photos from the Debian package gcompris-qt-data 3.1-2 (GCompris 'categorization'",
        "   activity images), which lists for each photo its licence, author and source:",
        "",
        "file\tlicence\tauthor\tsource",
    ]
    for k in used:
        if k.startswith("skimage/"):
            continue
        r = manifest[k]
        lines.append("%s.webp\t%s\t%s\t%s" % (k, r["license"], r["author"], r["source"]))
    lines += ["", "2. Images bundled with the Python package scikit-image (skimage/data; licences as",
              "   stated in the docstrings of skimage.data):", "", "file\tlicence\tauthor/source"]
    for k in skd:
        lic, author, _ = SKIMAGE_BG[k.split("/", 1)[1]]
        lines.append("%s\t%s\t%s" % (k, lic, author))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_sheet(out, records, path):
    cw, ch, cols = 170, 146, 8
    rows = (len(records) + cols - 1) // cols
    S = Image.new("RGB", (cols * cw, rows * ch), (60, 60, 60))
    d = ImageDraw.Draw(S)
    for i, r in enumerate(records):
        img = np.asarray(Image.open(os.path.join(out, "images", r["group"], r["image"] + ".png")))
        gt = np.asarray(Image.open(os.path.join(out, "masks", r["group"], r["image"] + ".png"))) > 0
        ov = img.copy()
        edge = gt ^ ndi.binary_erosion(gt, iterations=2)
        ov[edge] = (0, 255, 0)
        im = Image.fromarray(ov)
        im.thumbnail((cw - 6, ch - 16))
        x, y = (i % cols) * cw, (i // cols) * ch
        S.paste(im, (x + 2, y + 14))
        d.text((x + 2, y + 1), "%s %s" % (r["image"][-12:], r["target"].split("/")[-1]), fill=(255, 255, 0))
    S.save(path)


def write_cutouts(photos, log, cutouts, path):
    items = [(k, use, why) for k, c, use, why, st in log if use != "unused"]
    cw, ch, cols = 170, 146, 10
    rows = (len(items) + cols - 1) // cols
    S = Image.new("RGB", (cols * cw, rows * ch), (60, 60, 60))
    d = ImageDraw.Draw(S)
    for i, (k, use, why) in enumerate(items):
        rgb = np.asarray(Image.open(os.path.join(photos, k + ".webp")).convert("RGB"))
        if k in cutouts:
            r, m = cutouts[k]
            ov = r.astype(float)
            ov[~m] = ov[~m] * 0.3 + np.array([255, 0, 255]) * 0.7
            im = Image.fromarray(ov.astype(np.uint8))
        else:
            im = Image.fromarray((rgb * 0.5).astype(np.uint8))
        im.thumbnail((cw - 6, ch - 16))
        x, y = (i % cols) * cw, (i // cols) * ch
        S.paste(im, (x + 2, y + 14))
        d.text((x + 2, y + 1), k.split("/")[-1] + ("" if use == "cut-out" else " X " + why[:12]),
               fill=(255, 255, 0) if use == "cut-out" else (255, 80, 80))
    S.save(path)


def load_u2netp():
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return U2Netp(os.path.join(ROOT, "models", "u2netp.safetensors"))


def composite_sisms(data, groups):
    """SISMs of the composites with the built-in U²-Netp (same weights and
    rembg pre/post-processing as `icnet run --save-sisms`): writes
    DATA/sisms/<group>/<name>.png.  Resumable: each map is written atomically
    (tmp + rename) and existing maps are skipped."""
    import time
    groups = groups or sorted(os.listdir(os.path.join(data, "images")))
    net = None
    for gi, g in enumerate(groups):
        src = os.path.join(data, "images", g)
        dst = os.path.join(data, "sisms", g)
        names = sorted(f for f in os.listdir(src) if f.endswith(".png"))
        todo = [f for f in names if not os.path.exists(os.path.join(dst, f))]
        if not todo:
            print("[%d/%d] %s: done already" % (gi + 1, len(groups), g), flush=True)
            continue
        net = net or load_u2netp()
        os.makedirs(dst, exist_ok=True)
        t0 = time.time()
        for f in todo:
            s = net.sism(Image.open(os.path.join(src, f)).convert("RGB"))
            tmp = os.path.join(dst, ".tmp_" + f)
            Image.fromarray(s).save(tmp, format="PNG")
            os.replace(tmp, os.path.join(dst, f))
        print("[%d/%d] %s: %d images in %.1f s (%.2f s/image)" % (
            gi + 1, len(groups), g, len(todo), time.time() - t0, (time.time() - t0) / len(todo)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", help="directory of the shared photos (has MANIFEST.tsv)")
    ap.add_argument("--out", help="output directory (outside the repository)")
    ap.add_argument("--composite-sisms", metavar="DATA",
                    help="instead of building: compute the SISMs of DATA's composites with the built-in "
                    "U²-Netp into DATA/sisms/<group>/ (resumable; only the GROUPs named, if any)")
    ap.add_argument("groups", nargs="*", metavar="GROUP", help="with --composite-sisms: only these groups")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--groups-per-category", type=int, default=8,
                    help="groups per training category (at most 2 per cut-out photo); held-out categories get one group per 5 cut-out photos")
    ap.add_argument("--instance-groups", type=int, default=2,
                    help="same-instance training groups per accepted single-object cut-out (0: none)")
    ap.add_argument("--photo-sisms", help="use these SISMs of the photos (DIR/<folder>/<stem>.png, e.g. from "
                    "`icnet run PHOTOS --out X --save-sisms DIR`) instead of the built-in U²-Netp")
    ap.add_argument("--sheet", help="optional: contact sheet of the composites with the GT outlined")
    ap.add_argument("--cutouts", help="optional: sheet of the cut-outs (magenta = removed) and rejected photos")
    a = ap.parse_args()
    if a.composite_sisms:
        composite_sisms(a.composite_sisms, a.groups)
        return
    if not a.photos or not a.out or a.groups:
        ap.error("--photos and --out are required (GROUP only with --composite-sisms)")
    build(a)


if __name__ == "__main__":
    main()
