#!/usr/bin/env python3
"""Online co-saliency compositor: fresh training groups, drawn from object pools at every step.

Why online: the last head saw 17 distinct target objects in a fixed set of 283 composites and
learnt that pool (its held-out scores from the same pool overstated how well it generalised).
Here every training group is made on demand from the pools below, from a seed that is a pure
function of (run seed, epoch, group index), so no two epochs see the same images and a resumed
run still sees exactly the images an uninterrupted run would.

Pools
* Objects (targets and distractors): the artwork pools of train/artwork.py (several independent
  renditions per category: emoji sets and public-domain clip art, RGBA, alpha = exact mask) and
  cut-outs of the shared public-domain/CC0 photos (train/make_dataset.py's cut-out rules), which
  join an artwork category of the same name or stand alone ("other:<name>": distractors only).
* Backgrounds: real scene photos (the shared photos' scenes, scikit-image's PD/CC0 images) and
  procedural ones (gradients, low-frequency colour noise, stripes).
* Splits: a category's split comes from the artwork manifest (train / val / heldout, chosen at
  random with a fixed seed by artwork.py). Held-out categories never appear in training in any
  role. A fixed share of the real backgrounds and of the single-object photo cut-outs is also
  reserved (RESERVED_*): the committed held-out set (make_heldout.py) draws its backgrounds and
  distractors only from there, so its scenes, distractors and their style are unseen too.

A composite: a background (landscape, portrait or square canvas), ONE target of the group's
category, 0-3 distractors of other categories (in front of or behind the target, so either
may occlude the other), random scale, rotation, flip and colour jitter per object, then what
makes artwork look less like artwork: a lighting gradient, blur, sensor noise, JPEG
re-encoding, a random crop. Ground truth: the visible part of the target (alpha >= 0.5).

The SISM (the single-image saliency map ICNet multiplies its features with): either a real one
(U²-Netp or the full U²-Net in PyTorch on the finished composite, as the engine computes it) or
a simulated one. Measured on composites of pasted objects, U²-Netp marks every pasted object
(target and distractors alike) almost exactly (S .976, max F .984, MAE .008 against the union of
the objects), so the simulation is the union of the visible objects' alphas, each with its own
gain, edge softness and holes, plus occasional false-positive blobs on the background and missed
(weak) objects: the failure modes the head must tolerate on real photos.
"""

import io
import json
import math
import os
import re
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage as ndi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIZE = 224

# Share of the real backgrounds and of the single-object photo cut-outs that training never
# uses: every RESERVED_EVERY-th in sorted order goes to the held-out set.
RESERVED_EVERY = 3

# Categories of the two earlier labelled sets (tests/evalset: hammer, measuring tape, plier,
# scissors; tests/heldout: windmill, multimeter) stay out of training in every role, so that
# those sets keep measuring unseen categories: artwork whose name matches is dropped.
EXCLUDED = re.compile(r"hammer|scissor|plier|measuring|tape|windmill|multimeter")

CANVASES = ((320, 240), (240, 320), (288, 288))
TARGET_AREA = (0.04, 0.35)      # share of the canvas covered by the target (log-uniform)
DISTRACTOR_AREA = (0.02, 0.25)
DISTRACTORS = (0, 1, 2, 3)
DISTRACTOR_P = (0.12, 0.35, 0.33, 0.20)
MAX_ANGLE = 30.0


# ---------------------------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------------------------

class Pools:
    """Object and background pools with their splits.

    art_root: the output folder of train/artwork.py (manifest.json, art/).
    photos: the shared photos folder (MANIFEST.tsv); its cut-outs need U²-Netp maps, cached in
    photo_cache (computed once with the PyTorch U²-Netp when missing).
    """

    def __init__(self, art_root, photos, photo_cache):
        with open(os.path.join(art_root, "manifest.json")) as f:
            manifest = json.load(f)
        self.art_root = art_root
        self.split = {}                     # category -> train | val | heldout
        self.items = {}                     # category -> list of item keys
        self.source = {}                    # item key -> source name
        self._files = {}                    # item key -> file path (artwork)
        self._arrays = {}                   # item key -> RGBA uint8 (loaded lazily)
        self.excluded = []
        for cat, entry in manifest["categories"].items():
            if EXCLUDED.search(cat):
                self.excluded.append(cat)
                continue
            self.split[cat] = entry["split"]
            for it in entry["items"]:
                key = "art:" + it["file"]
                self.items.setdefault(cat, []).append(key)
                self.source[key] = it["source"]
                self._files[key] = os.path.join(art_root, it["file"]) if not os.path.isabs(it["file"]) else it["file"]
        self._photo_pools(photos, photo_cache)
        for cat in self.items:
            self.items[cat].sort()

    # -- photos -------------------------------------------------------------------------------
    def _photo_pools(self, photos, cache):
        import make_dataset as md
        keys = md.list_photos(photos)
        net = []
        singles, scenes = [], []
        for k in keys:
            c = md.category_of(k)
            if c is None:
                continue
            if c in md.EVALSET_CATEGORIES or k in md.EVALSET_PHOTOS or c in md.HELDOUT:
                continue                    # tests/evalset and the first held-out groups
            if c == "bg" or k in md.EXTRA_BG:
                scenes.append(k)
                continue
            rgb = np.asarray(Image.open(os.path.join(photos, k + ".webp")).convert("RGB"))
            m, st = md.clean_mask(md.photo_sism(k, photos, cache, None, net))
            if md.judge(st) is not None:
                if c == "monument":
                    scenes.append(k)        # a monument that does not cut out is a scene
                continue
            r, mk = md.cut(rgb, m)
            rgba = np.dstack([r, mk.astype(np.uint8) * 255])
            key = "photo:" + k
            self._arrays[key] = rgba
            self.source[key] = "photo"
            if c.startswith("other:") or c == "monument":
                singles.append((c, key))
            else:
                name = c.replace("_", "-")
                cat = name if name in self.split else "photo:" + c
                self.split.setdefault(cat, "train")
                self.items.setdefault(cat, []).append(key)
        # Single objects (one photo each): distractors only; every RESERVED_EVERY-th is kept for
        # the held-out set.
        singles.sort()
        self.distractor_photos = {"train": [], "heldout": []}
        for i, (c, key) in enumerate(singles):
            self.distractor_photos["heldout" if i % RESERVED_EVERY == 0 else "train"].append(key)
        # Backgrounds: real scenes (photos and scikit-image's), split the same way.
        self.backgrounds = {"train": [], "heldout": []}
        reals = [("photo:" + k, os.path.join(photos, k + ".webp")) for k in sorted(set(scenes))]
        skd = md.skimage_dir()
        for f, (_lic, _author, gray) in sorted(md.SKIMAGE_BG.items()):
            p = os.path.join(skd, f)
            if os.path.exists(p) and not gray:
                reals.append(("skimage/" + f, p))
        textures = [("skimage/" + f, os.path.join(skd, f)) for f, (_l, _a, g) in sorted(md.SKIMAGE_BG.items())
                    if g and os.path.exists(os.path.join(skd, f))]
        for i, (k, p) in enumerate(reals):
            self.backgrounds["heldout" if i % RESERVED_EVERY == 0 else "train"].append((k, p))
        self.textures = textures            # grey textures, tinted: training only
        self._bg_cache = {}

    # -- access -------------------------------------------------------------------------------
    def rgba(self, key):
        a = self._arrays.get(key)
        if a is None:
            with Image.open(self._files[key]) as im:
                a = np.asarray(im.convert("RGBA")).copy()
            self._arrays[key] = a
        return a

    def categories(self, split):
        return sorted(c for c, s in self.split.items() if s == split and len(self.items.get(c, [])) >= 2)

    def background_image(self, path):
        im = self._bg_cache.get(path)
        if im is None:
            im = Image.open(path).convert("RGB")
            self._bg_cache[path] = im
        return im

    def summary(self):
        out = {}
        for s in ("train", "val", "heldout"):
            cats = self.categories(s)
            n = sum(len(self.items[c]) for c in cats)
            out[s] = {"categories": len(cats), "objects": n}
        srcs = {}
        for c in self.items:
            for k in self.items[c]:
                srcs[self.source[k]] = srcs.get(self.source[k], 0) + 1
        out["sources"] = dict(sorted(srcs.items()))
        out["distractor_photos"] = {k: len(v) for k, v in self.distractor_photos.items()}
        out["backgrounds"] = {k: len(v) for k, v in self.backgrounds.items()}
        out["excluded"] = sorted(self.excluded)
        return out


# ---------------------------------------------------------------------------------------------
# Drawing one composite
# ---------------------------------------------------------------------------------------------

def loguniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def jitter_rgb(rgb, rng, strength):
    """Brightness, contrast and saturation x (1 +- strength), float32 HxWx3 in 0..255."""
    x = rgb * rng.uniform(1 - strength, 1 + strength)
    m = x.mean()
    x = (x - m) * rng.uniform(1 - strength, 1 + strength) + m
    g = (x * np.array([0.299, 0.587, 0.114], np.float32)).sum(-1, keepdims=True)
    x = (x - g) * rng.uniform(1 - strength, 1 + strength) + g
    return np.clip(x, 0, 255)


def procedural_background(rng, W, H):
    """A gradient, plus low-frequency colour noise, plus (sometimes) stripes or blobs."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    t = (np.cos(a) * xx / W + np.sin(a) * yy / H)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    g = int(rng.integers(3, 9))
    noise = rng.normal(0, rng.uniform(5, 40), (g, g, 3)).astype(np.float32)
    noise = np.asarray(Image.fromarray(np.uint8(np.clip(noise + 128, 0, 255))).resize((W, H), Image.BICUBIC),
                       np.float32) - 128
    img = img + noise
    if rng.random() < 0.3:
        period = rng.uniform(8, 60)
        b = rng.uniform(0, 2 * np.pi)
        s = 0.5 + 0.5 * np.sin((np.cos(b) * xx + np.sin(b) * yy) * 2 * np.pi / period)
        img = img * (1 - 0.25 * s[..., None]) + 0.25 * s[..., None] * rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.float32)


def real_background(pools, rng, W, H, split):
    if split == "train" and pools.textures and rng.random() < 0.15:
        _, path = pools.textures[int(rng.integers(len(pools.textures)))]
        im = pools.background_image(path).convert("L")
        tint = rng.uniform(0.5, 1.2, 3)
        base = np.asarray(im, np.float32)
        img = Image.fromarray(np.uint8(np.clip(base[..., None] * tint, 0, 255)))
        key = "texture:" + os.path.basename(path)
    else:
        key, path = pools.backgrounds[split][int(rng.integers(len(pools.backgrounds[split])))]
        img = pools.background_image(path)
    s = max(W / img.width, H / img.height) * rng.uniform(1.0, 1.6)
    w, h = max(W, int(round(img.width * s))), max(H, int(round(img.height * s)))
    im = img.resize((w, h), Image.BILINEAR)
    x, y = int(rng.integers(0, w - W + 1)), int(rng.integers(0, h - H + 1))
    im = im.crop((x, y, x + W, y + H))
    if rng.random() < 0.5:
        im = ImageOps.mirror(im)
    return jitter_rgb(np.asarray(im, np.float32), rng, 0.15), key


def prepare_object(rgba, rng, W, H, area, max_angle=MAX_ANGLE, strength=0.2):
    """Flip, rotate, scale so that the alpha covers about `area` of the canvas (and fits in it),
    colour-jitter. Returns (rgb float32, alpha float32 0..1), cropped to the alpha's box."""
    im = Image.fromarray(rgba, "RGBA")
    if rng.random() < 0.5:
        im = ImageOps.mirror(im)
    if rng.random() < 0.7:
        im = im.rotate(float(rng.uniform(-max_angle, max_angle)), resample=Image.BICUBIC, expand=True)
    a = np.asarray(im)[..., 3]
    cover = max(float((a >= 128).sum()), 1.0)
    s = math.sqrt(area * W * H / cover)
    s = min(s, 0.95 * W / im.width, 0.95 * H / im.height)
    w, h = max(2, int(round(im.width * s))), max(2, int(round(im.height * s)))
    arr = np.asarray(im.resize((w, h), Image.LANCZOS), np.float32)
    alpha = np.clip(arr[..., 3] / 255.0, 0, 1)
    ys, xs = np.nonzero(alpha > 0.02)
    if len(ys) == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = jitter_rgb(arr[y0:y1, x0:x1, :3], rng, strength)
    return rgb, alpha[y0:y1, x0:x1]


def paste_alpha(alpha, W, H, y, x):
    full = np.zeros((H, W), np.float32)
    h, w = alpha.shape
    full[y:y + h, x:x + w] = alpha
    return full


def layout(objs, rng, W, H, tries=30):
    """Positions for objs[0] (target) and the distractors: the target may be at most 40%
    hidden by the distractors in front of it; the best of `tries` random placements."""
    best = None
    for _ in range(tries):
        pos = [(int(rng.integers(0, H - a.shape[0] + 1)), int(rng.integers(0, W - a.shape[1] + 1)))
               for _, a, _ in objs]
        t = paste_alpha(objs[0][1], W, H, *pos[0]) >= 0.5
        cover = np.zeros((H, W), bool)
        for (_, a, front), p in zip(objs[1:], pos[1:]):
            if front:
                cover |= paste_alpha(a, W, H, *p) >= 0.5
        hidden = float((t & cover).sum()) / max(float(t.sum()), 1.0)
        if best is None or hidden < best[0]:
            best = (hidden, pos)
        if hidden <= 0.4 and rng.random() < 0.7:
            break
    return best[1]


def degrade(img, rng):
    """Lighting gradient, blur, noise (float32 image); JPEG is applied by the caller."""
    H, W = img.shape[:2]
    if rng.random() < 0.4:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        a = rng.uniform(0, 2 * np.pi)
        t = np.cos(a) * xx / W + np.sin(a) * yy / H
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        lo, hi = rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.3)
        img = img * (lo + (hi - lo) * t)[..., None]
    if rng.random() < 0.25:
        img = ndi.gaussian_filter(img, (rng.uniform(0.3, 1.2),) * 2 + (0,))
    if rng.random() < 0.3:
        img = img + rng.normal(0, rng.uniform(2, 8), img.shape).astype(np.float32)
    return np.clip(img, 0, 255)


def jpeg(u8, rng):
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, "JPEG", quality=int(rng.integers(35, 91)))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def simulate_sism(layers, rng, W, H):
    """A U²-Netp-like map from the visible alphas of all objects (target first): each object with
    its own gain and edge softness, sometimes holes, a missed object or false-positive blobs on
    the background; min-max normalised like rembg's output. uint8 HxW."""
    s = np.zeros((H, W), np.float32)
    for i, v in enumerate(layers):
        if i == 0:
            gain = rng.uniform(0.75, 1.0) if rng.random() > 0.08 else rng.uniform(0.25, 0.6)
        else:
            gain = rng.uniform(0.5, 1.0) if rng.random() > 0.2 else rng.uniform(0.0, 0.4)
        m = v.copy()
        if rng.random() < 0.15:             # a hole: part of the object is missed
            m *= 1.0 - blob(rng, W, H, v)
        sigma = rng.uniform(0.3, 2.5)
        s = np.maximum(s, gain * ndi.gaussian_filter(m, sigma))
    if rng.random() < 0.35:                 # false positives on the background
        for _ in range(int(rng.integers(1, 3))):
            s = np.maximum(s, rng.uniform(0.1, 0.6) * blob(rng, W, H, None))
    if rng.random() < 0.3:
        s = s + rng.uniform(0.0, 0.08) * ndi.gaussian_filter(rng.random((H, W)).astype(np.float32), 4)
    lo, hi = float(s.min()), float(s.max())
    s = (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)
    return (s * 255).astype(np.uint8)


def blob(rng, W, H, inside):
    """A soft ellipse: inside an object's alpha when given, anywhere otherwise."""
    if inside is not None and (inside > 0.5).any():
        ys, xs = np.nonzero(inside > 0.5)
        j = int(rng.integers(len(ys)))
        cy, cx = ys[j], xs[j]
        r = math.sqrt(max(len(ys), 1)) * rng.uniform(0.15, 0.45)
    else:
        cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        r = math.sqrt(W * H) * rng.uniform(0.04, 0.15)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    e = rng.uniform(0.5, 2.0)
    d = ((yy - cy) / (r * e)) ** 2 + ((xx - cx) * e / r) ** 2
    return ndi.gaussian_filter((d <= 1).astype(np.float32), r * 0.2 + 0.5)


class Compositor:
    """Makes groups: compositor.group(category, n, seed, split) -> (rgb [n,224,224,3] uint8,
    sism [n,224,224] uint8, mask [n,224,224] uint8, records)."""

    def __init__(self, pools, sism_nets=(), real_sism_p=0.0):
        self.pools = pools
        self.sism_nets = list(sism_nets)    # [(name, net with .sism(PIL) -> uint8 HxW, p)]
        self.real_sism_p = real_sism_p
        self.distractor_categories = pools.categories("train")

    def distractor(self, rng, target_cat, split, used):
        """A distractor object (category, key) that this group has not shown yet: an object
        repeated across a group's images would be a second shared object."""
        p = self.pools
        if split == "heldout" or rng.random() < 0.15:
            keys = [k for k in p.distractor_photos["heldout" if split == "heldout" else "train"] if k not in used]
            if keys:
                k = keys[int(rng.integers(len(keys)))]
                used.add(k)
                return "photo-single", k
            if split == "heldout":
                return None
        # Artwork distractors always come from the training categories (held-out composites use
        # the reserved photo cut-outs above, never artwork).
        cats = self.distractor_categories
        for _ in range(20):
            c = cats[int(rng.integers(len(cats)))]
            if c != target_cat and c not in used:
                used.add(c)
                items = p.items[c]
                return c, items[int(rng.integers(len(items)))]
        return None

    def image(self, cat, target_key, rng, split, used=None):
        """One composite; `used` collects the distractors (categories, photo keys) already shown
        in this group."""
        p = self.pools
        W, H = CANVASES[int(rng.choice(3, p=(0.5, 0.25, 0.25)))]
        if split == "heldout" or rng.random() < 0.7:
            bg, bg_key = real_background(p, rng, W, H, "heldout" if split == "heldout" else "train")
        else:
            bg, bg_key = procedural_background(rng, W, H), "procedural"
        n_d = int(rng.choice(DISTRACTORS, p=DISTRACTOR_P))
        if split == "heldout":
            n_d = int(rng.integers(1, 3))   # 1-2: the reserved photo cut-outs must not repeat
        used = set() if used is None else used
        objs, names = [], []
        t = prepare_object(p.rgba(target_key), rng, W, H, loguniform(rng, *TARGET_AREA))
        if t is None:
            return None
        objs.append((t[0], t[1], True))
        names.append(target_key)
        for _ in range(n_d):
            d = self.distractor(rng, cat, split, used)
            if d is None:
                continue
            o = prepare_object(p.rgba(d[1]), rng, W, H, loguniform(rng, *DISTRACTOR_AREA))
            if o is not None:
                objs.append((o[0], o[1], bool(rng.random() < 0.6)))
                names.append(d[1])
        pos = layout(objs, rng, W, H)
        # paint: distractors behind the target, the target, distractors in front
        order = [i for i in range(1, len(objs)) if not objs[i][2]] + [0] + \
                [i for i in range(1, len(objs)) if objs[i][2]]
        img = bg
        full = [paste_alpha(objs[i][1], W, H, *pos[i]) for i in range(len(objs))]
        visible = [a.copy() for a in full]
        for k, i in enumerate(order):
            rgb = np.zeros((H, W, 3), np.float32)
            y, x = pos[i]
            h, w = objs[i][1].shape
            rgb[y:y + h, x:x + w] = objs[i][0]
            a = full[i][..., None]
            img = img * (1 - a) + rgb * a
            for j in order[:k]:             # what this object hides of the ones below it
                visible[j] *= 1 - full[i]
        img = degrade(img, rng)
        u8 = np.uint8(np.round(img))
        if rng.random() < 0.4:
            u8 = jpeg(u8, rng)
        gt = visible[0]
        sim = simulate_sism(visible, rng, W, H)
        # random crop (keeps at least 60% of the visible target)
        if rng.random() < 0.3:
            for _ in range(5):
                cw, ch = int(W * rng.uniform(0.7, 1.0)), int(H * rng.uniform(0.7, 1.0))
                x0, y0 = int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1))
                kept = gt[y0:y0 + ch, x0:x0 + cw].sum() / max(float(gt.sum()), 1e-6)
                if kept >= 0.6:
                    u8, gt, sim = u8[y0:y0 + ch, x0:x0 + cw], gt[y0:y0 + ch, x0:x0 + cw], sim[y0:y0 + ch, x0:x0 + cw]
                    break
        if (gt >= 0.5).sum() < 16:
            return None
        sism_from = "simulated"
        photo = Image.fromarray(np.ascontiguousarray(u8))
        if self.sism_nets and rng.random() < self.real_sism_p:
            weights = np.array([w for _, _, w in self.sism_nets], np.float64)
            name, net, _ = self.sism_nets[int(rng.choice(len(self.sism_nets), p=weights / weights.sum()))]
            sim = net.sism(photo)
            sism_from = name
        mask = np.uint8(gt >= 0.5) * 255
        return photo, Image.fromarray(np.ascontiguousarray(sim)), Image.fromarray(mask), \
            {"target": names[0], "distractors": names[1:], "background": bg_key, "sism": sism_from, "size": [photo.width, photo.height]}

    def group(self, cat, n, seed, split="train"):
        """n composites of category `cat` from the generator seeded by `seed` (a list of ints):
        the group is a pure function of its arguments."""
        rng = np.random.default_rng(seed)
        items = self.pools.items[cat]
        order = list(rng.permutation(len(items)))
        while len(order) < n:
            order += list(rng.permutation(len(items)))
        rgb, sism, mask, recs = [], [], [], []
        k = 0
        attempts = 0
        used = set()
        while len(rgb) < n and attempts < 3 * n:
            attempts += 1
            r = self.image(cat, items[order[k % len(order)]], rng, split, used)
            k += 1
            if r is None:
                continue
            photo, s, m, rec = r
            rgb.append(np.asarray(photo.resize((SIZE, SIZE), Image.BILINEAR)))
            sism.append(np.asarray(s.resize((SIZE, SIZE), Image.BILINEAR)))
            mask.append(np.asarray(m.resize((SIZE, SIZE), Image.BILINEAR)))
            recs.append(rec)
        return np.stack(rgb), np.stack(sism), np.stack(mask), recs

    def full_size(self, cat, n, seed, split):
        """Like group, but the composites at their own size (for the committed held-out set)."""
        rng = np.random.default_rng(seed)
        items = self.pools.items[cat]
        order = list(rng.permutation(len(items)))
        out, k, used = [], 0, set()
        while len(out) < n and k < 4 * n:
            r = self.image(cat, items[order[k % len(order)]], rng, split, used)
            k += 1
            if r is not None:
                out.append(r)
        return out


def main(argv=None):
    """Writes a contact sheet of a few training groups (to look at what training sees)."""
    import argparse
    ap = argparse.ArgumentParser(description="contact sheet of online composites")
    ap.add_argument("pools")
    ap.add_argument("photos")
    ap.add_argument("out_png")
    ap.add_argument("--cache", default="/tmp/photo_sisms")
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--split", default="train")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    sys.path.insert(0, HERE)
    pools = Pools(a.pools, a.photos, a.cache)
    print(json.dumps(pools.summary()))
    comp = Compositor(pools)
    cats = pools.categories(a.split)
    rng = np.random.default_rng(a.seed)
    rows = []
    for gi in range(a.groups):
        c = cats[int(rng.integers(len(cats)))]
        rgb, s, m, recs = comp.group(c, 6, [a.seed, gi], a.split)
        row = np.concatenate([np.concatenate([r, np.repeat(ss[..., None], 3, 2), np.repeat(mm[..., None], 3, 2)], 0)
                              for r, ss, mm in zip(rgb, s, m)], 1)
        rows.append(row)
        print(c, [r["target"] for r in recs])
    Image.fromarray(np.concatenate(rows, 0)).save(a.out_png)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
