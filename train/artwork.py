#!/usr/bin/env python3
"""Build the object-artwork pools for co-saliency training (see train/DATA.md, "Artwork pools").

Several independently drawn renditions (emoji sets + public-domain clip-art) of one kind of object form a
category; every image is RGBA with its exact alpha mask, trimmed to the alpha bounding box + 4 px.

    python3 train/artwork.py --out /work/pools [--cache DIR] [--workers 2]

Sources are fetched with `npm pack <pkg>@<ver>` (sha256 checked) and Debian `openclipart-png`
(apt-get install -y openclipart-png). Re-running skips renders already in the cache and rebuilds
art/, manifest.json and NOTICE from them. Category rules: train/emoji_categories.py.
"""
import argparse
import collections
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None   # a few public-domain clip-art PNGs are ~13000 px wide

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emoji_categories as EC  # noqa: E402

SEED = 20261201
HELDOUT_FRAC, VAL_FRAC = 0.12, 0.05
LONG = 256          # output long side (max)
MARGIN = 4          # px around the alpha bounding box
ALPHA_MIN = 4       # alpha >= this counts as "drawn" for the bounding box
CLIPART_ROOT = "/usr/share/openclipart/png"
CLIPART_MAX_PER_CAT = 8

# source -> npm package, version, licence, sha256 of the `npm pack` tarball (computed 2026-12-01)
NPM = {
    "noto": ("@iconify-json/noto", "1.2.9", "Apache-2.0",
             "3e918d88fc945c0bb3d468dbace6f88caef67f01c9f0e7bcae0915a042e8f1ad"),
    "twemoji": ("@iconify-json/twemoji", "1.2.5", "CC-BY-4.0",
                "19046dff7d8707ce96212ec86468b36ac5f8e60409629dd13f809265c6d0ebb7"),
    "fluent": ("@iconify-json/fluent-emoji", "1.2.7", "MIT",
               "8044210dbf11e016d4de85f15d01a243423bd832457e7e2491df1b751c0e272b"),
    "fluent-flat": ("@iconify-json/fluent-emoji-flat", "1.2.6", "MIT",
                    "7d064769dee690815f823bc5bcc511d957198caf9f5edd8dd9c1aa48a6aeb175"),
    "emojione": ("@iconify-json/emojione", "1.2.3", "CC-BY-4.0",
                 "26a14f44284407e8bcde91799388dca2bfd91dbcd55a97f425524a1c5b73610e"),
    "fluent-3d": ("@lobehub/fluent-emoji-3d", "1.1.0", "MIT",
                  "c1bb7eee7de090205a232518a9ab4adb3df458bfbe8a1f78232991194c8b2e58"),
}
# fluent, fluent-flat and fluent-3d are three renderings of one Microsoft design (3D and color look alike)
DESIGN = {"noto": "google-noto", "twemoji": "twitter", "fluent": "microsoft-fluent",
          "fluent-flat": "microsoft-fluent", "fluent-3d": "microsoft-fluent", "emojione": "emojione",
          "openclipart": "openclipart"}
ICONIFY = ["noto", "twemoji", "fluent", "fluent-flat", "emojione"]
ATTRIBUTION = {
    "noto": "Noto Emoji, © Google Inc., Apache License 2.0 (https://github.com/googlefonts/noto-emoji)",
    "twemoji": "Twemoji, © Twitter, Inc and other contributors, CC BY 4.0 "
               "(https://creativecommons.org/licenses/by/4.0/), https://github.com/jdecked/twemoji",
    "fluent": "Fluent Emoji (color), © Microsoft Corporation, MIT License (https://github.com/microsoft/fluentui-emoji)",
    "fluent-flat": "Fluent Emoji (flat), © Microsoft Corporation, MIT License (https://github.com/microsoft/fluentui-emoji)",
    "emojione": "EmojiOne 2, © Ranks.com / EmojiOne, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
    "fluent-3d": "Fluent Emoji 3D renders, © Microsoft Corporation, MIT License; packaged by LobeHub "
                 "(@lobehub/fluent-emoji-3d, https://github.com/lobehub/fluent-emoji)",
    "openclipart": "Open Clip Art Library drawings (Debian package openclipart-png), public domain",
}
CHANGES = ("Changes made: SVGs were rasterised to PNG (resvg) at <= 256 px on the long side; all images were "
           "trimmed to their alpha bounding box plus a 4 px transparent margin and, where larger, downscaled.")


def log(*a):
    print(*a, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


# ---------------------------------------------------------------- fetching
def fetch_packages(cache):
    os.makedirs(cache, exist_ok=True)
    dirs = {}
    for src, (pkg, ver, _lic, digest) in NPM.items():
        tgz = os.path.join(cache, pkg.lstrip("@").replace("/", "-") + f"-{ver}.tgz")
        if not os.path.exists(tgz):
            log(f"npm pack {pkg}@{ver}")
            subprocess.run(["npm", "pack", f"{pkg}@{ver}", "--silent", "--pack-destination", cache],
                           check=True, stdout=subprocess.DEVNULL)
        got = sha256(tgz)
        if got != digest:
            sys.exit(f"sha256 mismatch for {tgz}: {got} != {digest}")
        dest = os.path.join(cache, "extract", src)
        if not os.path.exists(os.path.join(dest, ".done")):
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            with tarfile.open(tgz) as t:
                t.extractall(dest, filter="data")
            open(os.path.join(dest, ".done"), "w").close()
        dirs[src] = os.path.join(dest, "package")
    return dirs


# ---------------------------------------------------------------- iconify
def iconify_svg(data, name):
    """Iconify icon (or alias) -> (svg text, width, height), or None."""
    icons, aliases = data["icons"], data.get("aliases", {})
    hflip = vflip = False
    rot = 0
    props = {}
    seen = 0
    while name not in icons:
        a = aliases.get(name)
        if a is None or seen > 8:
            return None
        hflip ^= bool(a.get("hFlip"))
        vflip ^= bool(a.get("vFlip"))
        rot += int(a.get("rotate", 0))
        for k in ("left", "top", "width", "height"):
            if k in a and k not in props:
                props[k] = a[k]
        name, seen = a["parent"], seen + 1
    ic = icons[name]
    hflip ^= bool(ic.get("hFlip"))
    vflip ^= bool(ic.get("vFlip"))
    rot += int(ic.get("rotate", 0))
    left = props.get("left", ic.get("left", data.get("left", 0)))
    top = props.get("top", ic.get("top", data.get("top", 0)))
    w = props.get("width", ic.get("width", data.get("width", 16)))
    h = props.get("height", ic.get("height", data.get("height", 16)))
    body = ic["body"]
    tr = []
    if hflip:
        tr.append(f"translate({2 * left + w} 0) scale(-1 1)")
    if vflip:
        tr.append(f"translate(0 {2 * top + h}) scale(1 -1)")
    if rot % 4:
        tr.insert(0, f"rotate({90 * (rot % 4)} {left + w / 2} {top + h / 2})")
    if tr:
        body = f'<g transform="{" ".join(tr)}">{body}</g>'
    return body, (left, top, w, h)


def svg_doc(body, box, scale):
    left, top, w, h = box
    W, H = max(1, round(w * scale)), max(1, round(h * scale))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{left} {top} {w} {h}" width="{W}" height="{H}">{body}</svg>')


def rasterise(svg):
    try:
        import resvg_py
        return Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True))))
    except ImportError:
        import cairosvg
        return Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg.encode())))


# ---------------------------------------------------------------- image ops
def bbox(im):
    a = np.asarray(im.getchannel("A"))
    ys, xs = np.nonzero(a >= ALPHA_MIN)
    if len(xs) == 0:
        return None
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def trim(im):
    """Crop to the alpha bbox, downscale (premultiplied) so that long side + 2*MARGIN <= LONG, pad."""
    b = bbox(im)
    if b is None:
        return None
    im = im.crop(b)
    inner = LONG - 2 * MARGIN
    if max(im.size) > inner:
        s = inner / max(im.size)
        size = (max(1, round(im.width * s)), max(1, round(im.height * s)))
        im = im.convert("RGBa").resize(size, Image.LANCZOS).convert("RGBA")
    out = Image.new("RGBA", (im.width + 2 * MARGIN, im.height + 2 * MARGIN), (0, 0, 0, 0))
    out.paste(im, (MARGIN, MARGIN))
    return out


def signature(im):
    """16x16 grey-on-white + alpha signature for near-duplicate detection."""
    small = im.convert("RGBa").resize((16, 16), Image.BILINEAR).convert("RGBA")
    a = np.asarray(small, np.float32) / 255
    grey = a[..., :3].mean(-1) * a[..., 3] + (1 - a[..., 3])
    return np.round(np.concatenate([grey.ravel(), a[..., 3].ravel()]) * 255).astype(int).tolist()


def render_job(job):
    """job = (kind, src, key, payload, out_png). Writes out_png + out_png.json; returns (status, meta)."""
    kind, src, key, payload, out = job
    meta_path = out + ".json"
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            return "skip", json.load(f)
    meta = {"src": src, "key": key, "ok": False}
    try:
        if kind == "svg":
            body, box = payload
            s0 = LONG / max(box[2], box[3])
            im = rasterise(svg_doc(body, box, s0))
            b = bbox(im)
            if b is not None:
                long_ = max(b[2] - b[0], b[3] - b[1])
                if long_ > LONG - 2 * MARGIN:   # re-render so the drawing itself fits exactly
                    im = rasterise(svg_doc(body, box, s0 * (LONG - 2 * MARGIN) / long_ * 0.999))
            res = trim(im.convert("RGBA"))
        else:   # raster (webp, clip-art png)
            im = Image.open(payload)
            im.load()
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            im = im.convert("RGBA")
            a = np.asarray(im.getchannel("A"))
            cov = float((a >= 128).mean())
            meta.update(coverage=round(cov, 4), has_alpha=bool(has_alpha and a.min() < 255))
            if kind == "clipart" and (not meta["has_alpha"] or cov < 0.03 or cov > 0.90):
                meta["reason"] = "no usable alpha" if not meta["has_alpha"] else f"alpha coverage {cov:.3f}"
                res = None
            else:
                res = trim(im)
        if res is not None:
            tmp = out + ".tmp.png"
            res.save(tmp, optimize=False)
            os.replace(tmp, out)
            meta.update(ok=True, size=list(res.size), sig=signature(res))
        elif "reason" not in meta:
            meta["reason"] = "empty"
    except Exception as e:  # noqa: BLE001 - record and go on
        meta["reason"] = f"error: {e}"
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f)
    os.replace(meta_path + ".tmp", meta_path)
    return ("ok" if meta["ok"] else "rejected"), meta


# ---------------------------------------------------------------- categories
def emoji_candidates(noto_dir):
    cats = json.load(open(os.path.join(noto_dir, "metadata.json")))["categories"]
    pats = [re.compile(p) for p in EC.DROP_PATTERNS]
    keep, dropped = [], collections.Counter()
    for g, names in cats.items():
        for n in names:
            if g not in EC.KEEP_GROUPS:
                dropped[f"group {g}"] += 1
            elif n in EC.DROP_NAMES:
                dropped["DROP_NAMES"] += 1
            elif any(p.search(n) for p in pats):
                dropped["DROP_PATTERNS"] += 1
            else:
                keep.append(n)
    return sorted(set(keep)), dropped


def tokens(stem):
    toks = [t for t in re.split(r"[_\s.]+", stem.lower()) if t]
    toks = [re.sub(r"(?<=[a-z])\d+$", "", t) for t in toks]
    toks = [t.strip("-") for t in toks if t.strip("-")]
    while toks and (toks[0] in EC.CLIPART_STOP_TOKENS):
        toks = toks[1:]
    return toks


def clipart_category(folder, stem, emoji_names):
    """-> (category or None, own-group key or None)."""
    if folder in EC.CLIPART_FOLDER_CATEGORY:
        return EC.CLIPART_FOLDER_CATEGORY[folder], None
    toks = tokens(stem)
    if not toks:
        return None, None
    over = {"computer/hardware": {"mouse": "computer-mouse"},
            "recreation/music": {"keyboard": "musical-keyboard"}}
    for k in ([toks[0] + "-" + toks[1]] if len(toks) > 1 else []) + [toks[0]]:
        if k in over.get(folder, {}):
            return over[folder][k], None
        if k in EC.CLIPART_SYNONYMS:
            return EC.CLIPART_SYNONYMS[k], None   # None = explicitly not an object category
        if k in emoji_names:
            return k, None
    t = toks[0]
    if len(t) >= 3 and t.isalpha():
        return None, (folder, t)
    return None, None


def clipart_files():
    keep = []
    for root, _dirs, files in os.walk(CLIPART_ROOT):
        folder = os.path.relpath(root, CLIPART_ROOT)
        if not any(folder == k or folder.startswith(k + "/") for k in EC.CLIPART_KEEP_FOLDERS):
            continue
        if any(folder == k or folder.startswith(k + "/") for k in EC.CLIPART_DROP_FOLDERS):
            continue
        stems = {f[:-4] for f in files if f.endswith(".png")}
        for f in sorted(files):
            if not f.endswith(".png"):
                continue
            stem = f[:-4]
            parts = stem.split("_")
            if "bw" in parts and "_".join(p for p in parts if p != "bw") in stems:
                continue    # black-and-white copy of a colour drawing
            keep.append((folder, stem))
    return keep


def split_of(cats, seed):
    n = len(cats)
    n_held, n_val = math.ceil(HELDOUT_FRAC * n), math.ceil(VAL_FRAC * n)
    rank = sorted(cats, key=lambda c: (hashlib.sha256(f"{seed}:{c}".encode()).hexdigest(), c))
    split = {c: "train" for c in cats}
    for c in rank[:n_held]:
        split[c] = "heldout"
    for c in rank[n_held:n_held + n_val]:
        split[c] = "val"
    return split


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=None, help="download/render cache (default OUT/cache)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    t0 = time.time()
    out = os.path.abspath(args.out)
    cache = os.path.abspath(args.cache or os.path.join(out, "cache"))
    if not os.path.isdir(CLIPART_ROOT):
        sys.exit(f"{CLIPART_ROOT} missing: apt-get install -y openclipart-png")
    clip_ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "openclipart-png"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    dirs = fetch_packages(cache)

    names, dropped = emoji_candidates(dirs["noto"])
    name_set = set(names)
    log(f"emoji candidates: {len(names)} kept by the rule; dropped: " +
        ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())))

    # --- jobs
    rdir = os.path.join(cache, "render")
    jobs = []
    for src in ICONIFY:
        data = json.load(open(os.path.join(dirs[src], "icons.json")))
        os.makedirs(os.path.join(rdir, src), exist_ok=True)
        for n in names:
            r = iconify_svg(data, n)
            if r is not None:
                jobs.append(("svg", src, n, r, os.path.join(rdir, src, n + ".png")))
    cp = {}
    for src in ("fluent-flat", "noto"):
        for k, v in json.load(open(os.path.join(dirs[src], "chars.json"))).items():
            cp.setdefault(v, k)
    assets = os.path.join(dirs["fluent-3d"], "assets")
    have = {f[:-5] for f in os.listdir(assets) if f.endswith(".webp")}
    os.makedirs(os.path.join(rdir, "fluent-3d"), exist_ok=True)
    threed_file = {}
    for n in names:
        c = cp.get(n)
        if c is None:
            continue
        for v in (c, c + "-fe0f", c.replace("-fe0f", "")):
            if v in have:
                threed_file[n] = v + ".webp"
                jobs.append(("webp", "fluent-3d", n, os.path.join(assets, v + ".webp"),
                             os.path.join(rdir, "fluent-3d", n + ".png")))
                break
    clip = clipart_files()
    os.makedirs(os.path.join(rdir, "openclipart"), exist_ok=True)
    clip_meta = {}
    for folder, stem in clip:
        cat, group = clipart_category(folder, stem, name_set)
        if cat is None and group is None:
            continue
        cid = (folder.replace("/", "-") + "-" + stem).replace(" ", "_")
        clip_meta[cid] = (folder, stem, cat, group)
        jobs.append(("clipart", "openclipart", cid, os.path.join(CLIPART_ROOT, folder, stem + ".png"),
                     os.path.join(rdir, "openclipart", cid + ".png")))
    log(f"{len(jobs)} render jobs ({len(clip_meta)} clip-art), workers {args.workers}")

    # --- render
    results = {}
    cnt = collections.Counter()
    last = time.time()
    with Pool(max(1, args.workers)) as pool:
        for job, (st, meta) in zip(jobs, pool.imap(render_job, jobs, chunksize=8)):
            results[(job[1], job[2])] = meta
            cnt[st] += 1
            if time.time() - last > 5:
                last = time.time()
                log(f"  {sum(cnt.values())}/{len(jobs)}  new {cnt['ok']}  cached {cnt['skip']}  "
                    f"rejected {cnt['rejected']}  {time.time() - t0:.0f}s")
    log(f"render done: {dict(cnt)}")

    # --- categories
    items = collections.defaultdict(list)   # cat -> [(src, key)]
    for (src, key), m in results.items():
        if m["ok"] and src != "openclipart":
            items[key].append((src, key))
    groups = collections.defaultdict(list)
    for cid, (folder, stem, cat, group) in sorted(clip_meta.items()):
        m = results[("openclipart", cid)]
        if not m["ok"]:
            continue
        if cat is not None:
            items[cat].append(("openclipart", cid))
        else:
            groups[group].append(("openclipart", cid))
    for (folder, tok), lst in sorted(groups.items()):
        if len(lst) >= EC.MIN_CLIPART_GROUP and tok not in items:
            items[tok] = lst
    # near-duplicate clip-art (same drawing recoloured/renumbered), cap per category
    n_dup = 0
    for cat, lst in items.items():
        kept, sigs = [], []
        for it in lst:
            if it[0] == "openclipart":
                s = np.array(results[it]["sig"])
                if any(np.abs(s - o).mean() < 6 for o in sigs):
                    n_dup += 1
                    continue
                if len(sigs) >= CLIPART_MAX_PER_CAT:
                    continue
                sigs.append(s)
            kept.append(it)
        items[cat] = kept
    small = {c for c, l in items.items() if len(l) < EC.MIN_RENDITIONS}
    cats = sorted(c for c in items if c not in small)
    split = split_of(cats, args.seed)

    # --- write art/, manifest, NOTICE
    art = os.path.join(out, "art")
    os.makedirs(art, exist_ok=True)
    wanted = set()
    manifest = {"categories": {}, "sources": {}, "seed": args.seed,
                "split_rule": f"categories ranked by sha256('{args.seed}:'+name); first ceil({HELDOUT_FRAC}*N) "
                              f"heldout, next ceil({VAL_FRAC}*N) val, rest train",
                "category_rule": "train/emoji_categories.py"}
    for c in cats:
        recs = []
        os.makedirs(os.path.join(art, c), exist_ok=True)
        for src, key in sorted(items[c]):
            rel = f"art/{c}/{src}__{key}.png"
            dst = os.path.join(out, rel)
            wanted.add(dst)
            srcf = os.path.join(rdir, src, key + ".png")
            if not os.path.exists(dst) or os.path.getsize(dst) != os.path.getsize(srcf):
                shutil.copyfile(srcf, dst)
            if src == "openclipart":
                folder, stem = clip_meta[key][:2]
                origin = f"openclipart-png@{clip_ver}:{CLIPART_ROOT}/{folder}/{stem}.png"
                lic = "public-domain"
            elif src == "fluent-3d":
                pkg, ver, lic, _ = NPM[src]
                origin = f"{pkg}@{ver}:assets/{threed_file[key]}"
            else:
                pkg, ver, lic, _ = NPM[src]
                origin = f"{pkg}@{ver}:{key}"
            recs.append({"file": rel, "source": src, "licence": lic, "origin": origin, "design": DESIGN[src]})
        manifest["categories"][c] = {"split": split[c], "items": recs}
    for root, _d, files in os.walk(art, topdown=False):   # remove stale files from earlier runs
        for f in files:
            p = os.path.join(root, f)
            if p not in wanted:
                os.remove(p)
        if root != art and not os.listdir(root):
            os.rmdir(root)
    for src, (pkg, ver, lic, digest) in NPM.items():
        manifest["sources"][src] = {"package": pkg, "version": ver, "licence": lic, "sha256": digest,
                                    "attribution": ATTRIBUTION[src]}
    manifest["sources"]["openclipart"] = {"package": "openclipart-png (Debian)", "version": clip_ver,
                                          "licence": "public-domain", "sha256": None,
                                          "attribution": ATTRIBUTION["openclipart"]}
    with open(os.path.join(out, "manifest.json.tmp"), "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(os.path.join(out, "manifest.json.tmp"), os.path.join(out, "manifest.json"))
    per_src = collections.Counter(it["source"] for c in manifest["categories"].values() for it in c["items"])
    with open(os.path.join(out, "NOTICE"), "w") as f:
        f.write("Object-artwork pools built by icnet-webgpu train/artwork.py. Third-party artwork; "
                "not part of the repository.\n\n")
        for src, s in manifest["sources"].items():
            f.write(f"* {src}: {s['package']} {s['version']} — licence {s['licence']} — "
                    f"{per_src.get(src, 0)} images\n  {s['attribution']}\n")
        f.write("\nAttribution (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/):\n"
                "  Twemoji graphics © Twitter, Inc and other contributors, licensed under CC BY 4.0.\n"
                "  EmojiOne graphics © Ranks.com / EmojiOne, licensed under CC BY 4.0.\n"
                f"  {CHANGES}\n\nApache-2.0 (Noto Emoji): {CHANGES}\n"
                "MIT (Fluent Emoji): Copyright (c) Microsoft Corporation. Permission is hereby granted, free of "
                "charge, to any person obtaining a copy of this software and associated documentation files, to "
                "deal in the Software without restriction, subject to including the copyright notice and this "
                "permission notice in all copies (full text: https://github.com/microsoft/fluentui-emoji/blob/main/LICENSE).\n"
                "Per-image origin and licence: manifest.json.\n")

    # --- summary
    rej = collections.Counter(m.get("reason", "?").split(":")[0] if not m.get("reason", "").startswith("alpha")
                              else "alpha coverage <3% or >90%"
                              for (s, _k), m in results.items() if not m["ok"])
    sp = collections.Counter(split.values())
    hist = collections.Counter(len(manifest["categories"][c]["items"]) for c in cats)
    dh = collections.Counter(len({DESIGN[s] for s, _ in items[c]} - {"openclipart"}) +
                             sum(s == "openclipart" for s, _ in items[c]) for c in cats)
    ncl = sum(1 for c in cats if all(s == "openclipart" for s, _ in items[c]))
    log("\n=== summary ===")
    log(f"categories: {len(cats)} (train {sp['train']}, val {sp['val']}, heldout {sp['heldout']}); "
        f"{ncl} clip-art-only; {len(small)} dropped with < {EC.MIN_RENDITIONS} renditions")
    log("images per source: " + ", ".join(f"{s} {n}" for s, n in sorted(per_src.items())) +
        f"; total {sum(per_src.values())}")
    log("renditions per category: " + ", ".join(f"{k}:{v}" for k, v in sorted(hist.items())))
    log("distinct designs per category (the 3 Fluent sources count once, each clip-art drawing once): " +
        ", ".join(f"{k}:{v}" for k, v in sorted(dh.items())))
    log(f"rejected renders: {dict(rej)}; clip-art near-duplicates dropped: {n_dup}")
    log(f"wall time {time.time() - t0:.0f}s; output {out}")


if __name__ == "__main__":
    main()
