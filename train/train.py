#!/usr/bin/env python3
"""Train ICNet's head (everything but the frozen VGG16) on online composites, cached features or an image pack.

    python3 train/train.py POOLS CKPT_DIR --online ...   # fresh composites every step (train/compose.py)
    python3 train/features.py DATA CACHE                 # CPU path: VGG16 features once
    python3 train/train.py CACHE CKPT_DIR [--epochs 20 --lr 1e-4 ...]
    python3 train/pack.py DATA PACK                      # any device: VGG16 on every batch
    python3 train/train.py PACK CKPT_DIR --device cuda --augment --epochs 36 --batch-size 8 --lr 3e-5
    python3 train/train.py ... --resume                  # continue exactly where it stopped

Recipe (SPEC §7, official train.py/solver.py/loss.py, with the departures marked *):
* Model: tests/reference/icnet_ref.ICNet with the official parameter names. VGG16 weights come
  from models/vgg16-imagenet.safetensors (caffe-bgr input) and are *frozen*: their features
  are read from the cache (train/features.py), or computed without gradients on every batch
  from a pack (train/pack.py), where --augment can first zoom and colour-jitter the photos.
* Init: every non-VGG conv W ~ N(0, 0.01), b = 0; BN gamma = 1, beta = 0 (official weights_init).
* Batches: up to --batch-size (10) images of ONE group; indices shuffled within the group, the
  group cut into consecutive chunks, the list of chunks shuffled; chunks of 1 image are skipped
  (train-mode BatchNorm, batch statistics, momentum 0.1, as in the official code).
* Flip: each training image is flipped with p = 0.5 (photo, SISM and mask together) by reading
  the cached features of the flipped photo (CACHE/<g>/<name>.flip.safetensors).
* Loss: IoU loss over the 4 side outputs at 224 (cosal_map_4/3/2 upsampled with
  align_corners=True, and cosal_map_1): L = 1 - mean_{n,side} sum(min(p,g)) / sum(max(p,g)).
* Optimiser: Adam (default betas), weight_decay 1e-4 (as official). *lr: default 1e-4 (official
  1e-5) with a linear warm-up over --warmup-steps and a cosine decay to --lr-final-ratio * lr:
  the official run makes ~70k Adam steps (9213 images, 60 epochs); a small data set on 2 cores
  gets a few thousand, so the step size is raised 10x and warmed up to keep the randomly
  initialised BN/IoU start stable. All of it is set by flags.
* *Validation after every epoch on --val-groups (training groups set aside) and, for the log
  only, on the held-out groups: eval mode (running BN statistics), each group as ONE batch (as
  at inference), cosal_map_1 against the 224x224 mask: max F (as icnet eval), MAE, binary IoU
  (pred > 0.5) and soft IoU. best.pt keeps the epoch with the best validation max F.

Online (--online, part 5; not yet the recipe of a shipped head): SOURCE is the artwork pools folder of
train/artwork.py; every batch is one new group made by train/compose.py (a category of the
training split, 4..--batch-size composites, each with a simulated SISM or, with probability
--real-sism-p, a real U²-Netp / full U²-Net map), seeded by (seed, epoch, index), so --resume
stays exact. An epoch is --groups-per-epoch groups. Validation: fixed groups of the validation
categories with real U²-Netp SISMs (CKPT_DIR/val_groups.npz); best.pt maximises max F - MAE
(MAE as icnet eval computes it, on the min-max normalised map). --init-head starts from a
shipped head; --bf16 runs the training steps under bfloat16 autocast (CPU).

Checkpoints (CKPT_DIR): last.pt (model + optimizer + epoch + batch position + RNG states + step),
written every --ckpt-minutes, at the end of the last epoch and on Ctrl-C / SIGTERM (the running step
is finished first; a second Ctrl-C aborts without saving); epoch_NNN.pt (trained weights, BN
statistics and validation numbers of that epoch) and best.pt. The batch plan of an epoch is a
pure function of (--seed, epoch), so --resume continues with the same batches, flips and
optimiser state: the losses are bit-identical to an uninterrupted run (same thread count).
Log: stdout and CKPT_DIR/train.log.
"""

import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import features  # noqa: E402  (also puts tests/reference on sys.path)
import icnet_ref  # noqa: E402
from icnet_ref import resize  # noqa: E402

SIDES = ("cosal_map_4", "cosal_map_3", "cosal_map_2", "cosal_map_1")
# Training groups set aside for early stopping: one whole category and two single objects, so
# that validation, like the held-out test, asks about targets the training never showed as targets.
VAL_GROUPS = ("screwdriver_", "inst_pan_", "inst_sideCutter_")


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------

class TrainICNet(icnet_ref.ICNet):
    """icnet_ref.ICNet plus a differentiable head that starts from cached VGG features and
    returns the 4 side outputs of the official training path (is_training=True). The reference's
    `forward` is inference-only (no_grad, no side outputs); the modules themselves are used
    unchanged, so BatchNorm follows train()/eval() like in the official code."""

    def head(self, f, sism):
        """f: dict conv1_2..conv5_3 ([N,C,H,W] float32), sism [N,1,224,224].
        Returns [cosal_map_4, cosal_map_3, cosal_map_2 (all upsampled to 224), cosal_map_1]."""
        conv6_cmprs = self.conv6_cmprs(f["conv5_3"])
        conv5_cmprs = self.conv5_cmprs(f["conv5_3"])
        conv4_cmprs = self.conv4_cmprs(f["conv4_3"])
        cosal_feat_6 = self.Co6(conv6_cmprs, sism)
        cosal_feat_5 = self.Co5(conv5_cmprs, sism)
        cosal_feat_4 = self.Co4(conv4_cmprs, sism)
        feat_56 = self.merge_co_56(cosal_feat_5 + resize(cosal_feat_6, [14, 14]))
        feat_45 = self.merge_co_45(cosal_feat_4 + resize(feat_56, [28, 28]))
        cosal_map_4 = self.get_pred_4(feat_45)
        feat_34, cosal_map_3 = self.refine_3(f["conv3_3"], cosal_map_4, sism, feat_45)
        feat_23, cosal_map_2 = self.refine_2(f["conv2_2"], cosal_map_4, sism, feat_34)
        _, cosal_map_1 = self.refine_1(f["conv1_2"], cosal_map_4, sism, feat_23)
        s = [features.SIZE, features.SIZE]
        return [resize(cosal_map_4, s), resize(cosal_map_3, s), resize(cosal_map_2, s), cosal_map_1]

    def trained_state_dict(self):
        """Every parameter and BN buffer except vgg.* (official names)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("vgg.")}


def init_weights(model):
    """Official weights_init on everything but the VGG: conv N(0,0.01), b=0; BN gamma=1, beta=0."""
    for name, m in model.named_modules():
        if name == "vgg" or name.startswith("vgg."):
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(vgg_path):
    model = TrainICNet()
    init_weights(model)
    tensors, _ = features.load_vgg_tensors(vgg_path)
    missing = model.load_state_dict(tensors, strict=False)
    vgg_missing = [k for k in missing.missing_keys if k.startswith("vgg.")]
    if vgg_missing or missing.unexpected_keys:
        raise SystemExit(f"{vgg_path}: VGG keys do not match ({vgg_missing[:3]}, {missing.unexpected_keys[:3]})")
    for p in model.vgg.parameters():
        p.requires_grad_(False)
    return model


def trainable_parameters(model):
    return [p for n, p in model.named_parameters() if not n.startswith("vgg.")]


def iou_loss(preds, gt):
    """Official IoU loss: preds = list of [N,1,224,224], gt [N,1,224,224].
    Returns (loss, per-side losses [4])."""
    p = torch.cat(preds, dim=1)                                          # [N,4,H,W]
    n, c = p.shape[:2]
    g = gt.expand_as(p)
    mn = torch.where(p < g, p, g).reshape(n, c, -1).sum(dim=2)
    mx = torch.where(p > g, p, g).reshape(n, c, -1).sum(dim=2)
    ratio = mn / mx                                                      # [N,4]
    return 1.0 - ratio.mean(), (1.0 - ratio.mean(dim=0)).detach()


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def epoch_plan(train_groups, epoch, seed, batch_size, flip):
    """The batches of one epoch: list of (group, [stems], [flip flags]). A pure function of
    (seed, epoch) so that a resumed run sees the same plan."""
    rng = np.random.default_rng([seed, epoch])
    batches = []
    for g in sorted(train_groups):
        stems = list(train_groups[g])
        order = rng.permutation(len(stems))
        for k in range(0, len(order), batch_size):
            chunk = [stems[i] for i in order[k:k + batch_size]]
            if len(chunk) < 2:                   # BN needs > 1 sample (official: skipped)
                continue
            flips = (rng.random(len(chunk)) < 0.5).tolist() if flip else [False] * len(chunk)
            batches.append((g, chunk, flips))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


class FeatureCache:
    """Cached VGG16 features (train/features.py): the CPU recipe, nothing but the head runs."""

    def __init__(self, cache, device):
        path = os.path.join(cache, "manifest.json")
        with open(path) as f:
            manifest = json.load(f)
        self.cache, self.device = cache, device
        self.train, self.heldout = manifest["train"], manifest["heldout"]
        self.has_flips = bool(manifest.get("flip"))

    def batch(self, group, stems, flips, aug=None):
        fs, ss, ms = [], [], []
        for stem, fl in zip(stems, flips):
            f, s, m = features.load_entry(features.cache_path(self.cache, group, stem, fl))
            fs.append(f), ss.append(s), ms.append(m)
        feats = {k: torch.stack([f[k] for f in fs]).to(self.device) for k in features.STAGES}
        return feats, torch.stack(ss).to(self.device), torch.stack(ms).to(self.device)


class ImagePack:
    """224x224 inputs (train/pack.py); the frozen VGG16 runs on every batch (on --device), so the
    images can be augmented first. Flip: the same flip of the uint8 arrays as the cache's."""

    def __init__(self, pack_dir, vgg, device):
        import pack
        index, items = pack.load(pack_dir)
        self.train, self.heldout = index["train"], index["heldout"]
        self.has_flips = True
        self.vgg, self.device = vgg, device
        self.items = {k: tuple(torch.from_numpy(a).to(device) for a in v) for k, v in items.items()}
        self.val_cache = {}
        self.fixed_groups = set(self.heldout)     # groups whose un-augmented batches are cached

    def batch(self, group, stems, flips, aug=None):
        key = (group, tuple(stems), tuple(flips))
        if aug is None and key in self.val_cache:
            return self.val_cache[key]
        rgb, sism, mask = (torch.stack([self.items[(group, s)][i] for s in stems]) for i in range(3))
        feats, sism, mask = network_inputs(self.vgg, rgb, sism, mask, flips, aug)
        if aug is None and group in self.fixed_groups:
            self.val_cache[key] = (feats, sism, mask)                        # fixed inputs: once
        return feats, sism, mask


def network_inputs(vgg, rgb, sism, mask, flips, aug=None, bf16=False):
    """uint8 tensors on the device (rgb [N,224,224,3], sism and mask [N,224,224]) -> (VGG16
    features, sism [N,1,224,224] and mask in 0..1): the flips, the augmentation (a generator, or
    None), caffe-bgr and the frozen VGG16 (under bfloat16 autocast if bf16)."""
    dev = rgb.device
    rgb = rgb.permute(0, 3, 1, 2).float()                                    # [N,3,H,W] RGB 0..255
    sism, mask = sism[:, None].float() / 255.0, mask[:, None].float() / 255.0
    flip = torch.tensor(flips, device=dev).view(-1, 1, 1, 1)
    rgb, sism, mask = (torch.where(flip, t.flip(3), t) for t in (rgb, sism, mask))
    if aug is not None:
        rgb, sism, mask = augment(rgb, sism, mask, aug)
    bgr = rgb.flip(1) - torch.tensor(features.CAFFE_BGR_MEAN, device=dev).view(1, 3, 1, 1)
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        feats = features.vgg_features(vgg, bgr)
    return feats, sism, mask


def augment(rgb, sism, mask, gen):
    """Joint random zoom (a crop of 75-100 % of the side at a random place, resized back to 224 with
    bilinear sampling) and colour jitter of the photo (brightness, contrast, saturation x0.8-1.25),
    per image; `gen` is a CPU torch.Generator, so a batch's augmentation is a pure function of its
    seed (resume stays exact). SISM and mask follow the geometry; the SISM is not recomputed."""
    import torch.nn.functional as F
    n, dev = rgb.shape[0], rgb.device
    u = torch.rand(n, 6, generator=gen)
    side = 0.75 + 0.25 * u[:, 0]
    cx = (1 - side) * (2 * u[:, 1] - 1)                                     # crop centre in [-1,1]
    cy = (1 - side) * (2 * u[:, 2] - 1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = side, side, cx, cy
    grid = F.affine_grid(theta.to(dev), list(rgb.shape), align_corners=False)
    warp = lambda t: F.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    rgb, sism, mask = warp(rgb), warp(sism), warp(mask)
    jitter = (0.8 + 0.45 * u[:, 3:6]).to(dev)                                # brightness, contrast, saturation
    rgb = rgb * jitter[:, 0].view(n, 1, 1, 1)
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * jitter[:, 1].view(n, 1, 1, 1) + mean
    grey = (rgb * torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)).sum(1, keepdim=True)
    rgb = (rgb - grey) * jitter[:, 2].view(n, 1, 1, 1) + grey
    return rgb.clamp(0, 255).round(), sism, mask


class OnlineSource:
    """Fresh composites at every step (train/compose.py): an epoch is --groups-per-epoch groups,
    their categories taken in turn from a seeded permutation of all training categories (a new
    permutation per pass), each group a pure function of (seed, epoch, index), so --resume is
    exact. Validation: fixed groups of the validation categories (never targets in training)
    with real U²-Netp SISMs, made once and kept in CKPT_DIR/val_groups.npz. Held-out (logged
    only): the committed tests/heldout groups (real photos, the SISMs training used)."""

    def __init__(self, args, vgg, device):
        import compose
        self.args, self.vgg, self.device = args, vgg, device
        self.pools = compose.Pools(args.source, args.photos, args.photo_cache)
        import make_dataset as md
        u2netp = md.U2Netp(os.path.join(compose.ROOT, "models", "u2netp.safetensors"))
        nets = [("u2netp", u2netp, 1.0 - args.u2net_share)]
        if args.u2net_share > 0:
            if not os.path.exists(args.u2net):
                raise SystemExit(f"--u2net-share: {args.u2net} not found (icnet fetch-models)")
            nets.append(("u2net", md.U2Netp(args.u2net), args.u2net_share))
        self.comp = compose.Compositor(self.pools, nets, args.real_sism_p)
        self.cats = self.pools.categories("train")
        self.has_flips = True
        self.train = {c: self.pools.items[c] for c in self.cats}
        self.val_cache = {}
        self.fixed_groups = set()
        self.val_arrays = {}
        self.val = self._validation_groups(args, u2netp)
        self.heldout = self._committed_heldout()

    def _validation_groups(self, args, u2netp):
        path = os.path.join(args.ckpt_dir, "val_groups.npz")
        if not os.path.exists(path):
            import compose
            comp = compose.Compositor(self.pools, [("u2netp", u2netp, 1.0)], 1.0)   # real maps only
            arrays = {}
            for i, c in enumerate(self.pools.categories("val")):
                rgb, sism, mask, _ = comp.group(c, 5, [args.seed, 777, i], "train")
                arrays[c + "/rgb"], arrays[c + "/sism"], arrays[c + "/mask"] = rgb, sism, mask
                print(f"validation group {i + 1}: {c}", flush=True)
            tmp = path + ".tmp.npz"
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, path)
        z = np.load(path)
        groups = {}
        for k in z.files:
            c, what = k.rsplit("/", 1)
            self.val_arrays[(c, what)] = z[k]
            groups.setdefault(c, [str(i) for i in range(len(z[k]))])
        return groups

    def _committed_heldout(self):
        root = os.path.join(HERE, "..", "tests", "heldout")
        groups = {}
        for g in sorted(os.listdir(os.path.join(root, "images"))):
            d = os.path.join(root, "images", g)
            if not os.path.isdir(d):
                continue
            stems = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".png"))
            rgb = np.stack([features.load_photo_224(os.path.join(d, s + ".png")) for s in stems])
            sism = np.stack([features.load_grey_224(os.path.join(root, "sisms", g, s + ".png")) for s in stems])
            mask = np.stack([features.load_grey_224(os.path.join(root, "masks", g, s + ".png")) for s in stems])
            self.val_arrays[(g, "rgb")], self.val_arrays[(g, "sism")], self.val_arrays[(g, "mask")] = rgb, sism, mask
            groups[g] = [str(i) for i in range(len(stems))]
        return groups

    def plan(self, epoch, seed, batch_size, flip):
        g_per = self.args.groups_per_epoch
        out = []
        for i in range(g_per):
            j = (epoch - 1) * g_per + i
            cycle, k = divmod(j, len(self.cats))
            cat = self.cats[int(np.random.default_rng([seed, 31337, cycle]).permutation(len(self.cats))[k])]
            rng = np.random.default_rng([seed, epoch, i])
            n = int(rng.integers(self.args.group_min, batch_size + 1))
            flips = (rng.random(n) < 0.5).tolist() if flip else [False] * n
            out.append((f"{cat}@{epoch}.{i}", [str(x) for x in range(n)], flips))
        return out

    def batch(self, group, stems, flips, aug=None):
        key = (group, tuple(stems), tuple(flips))
        if aug is None and key in self.val_cache:
            return self.val_cache[key]
        if "@" in group:
            cat, ei = group.rsplit("@", 1)
            epoch, i = (int(x) for x in ei.split("."))
            rgb, sism, mask, _ = self.comp.group(cat, len(stems), [self.args.seed, epoch, i, 1], "train")
            idx = list(range(len(rgb)))
        else:
            rgb, sism, mask = (self.val_arrays[(group, w)] for w in ("rgb", "sism", "mask"))
            idx = [int(s) for s in stems]
        rgb, sism, mask = (torch.from_numpy(np.ascontiguousarray(a[idx])).to(self.device) for a in (rgb, sism, mask))
        feats, sism, mask = network_inputs(self.vgg, rgb, sism, mask, flips[:len(idx)], aug,
                                           bf16=self.args.bf16 and "@" in group)
        if aug is None and "@" not in group:
            self.val_cache[key] = (feats, sism, mask)
        return feats, sism, mask


def open_source(path, model, device, args=None):
    if args is not None and args.online:
        return OnlineSource(args, model.vgg, device)
    if os.path.exists(os.path.join(path, "index.json")):
        return ImagePack(path, model.vgg, device)
    if os.path.exists(os.path.join(path, "manifest.json")):
        return FeatureCache(path, device)
    raise SystemExit(f"{path}: neither a feature cache (train/features.py) nor a pack (train/pack.py)")


# ---------------------------------------------------------------------------------------------
# Schedule, validation, checkpoints
# ---------------------------------------------------------------------------------------------

def lr_at(step, total, args):
    """Linear warm-up to args.lr over warmup_steps, then constant or cosine to lr*lr_final_ratio."""
    if args.warmup_steps > 0 and step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    if args.schedule == "constant":
        return args.lr
    t = (step - args.warmup_steps) / max(1, total - args.warmup_steps)
    t = min(max(t, 0.0), 1.0)
    lo = args.lr * args.lr_final_ratio
    return lo + (args.lr - lo) * 0.5 * (1.0 + math.cos(math.pi * t))


def max_f_curve(pred, mask, beta2=0.3):
    """F-measure curve of one batch over 256 thresholds, as the evaluation defines it (icnet eval,
    pysodmetrics): pred min-max normalised per image and quantised to 0..255, foreground where
    mask > 0.5; returns [N,256] F values for thresholds 255..0."""
    n = pred.shape[0]
    p = pred.reshape(n, -1)
    lo, hi = p.min(dim=1, keepdim=True)[0], p.max(dim=1, keepdim=True)[0]
    q = torch.where(hi > lo, (p - lo) / (hi - lo).clamp(min=1e-12), p).mul(255).round().long().clamp(0, 255)
    fg = (mask.reshape(n, -1) > 0.5).float()
    bins = torch.zeros(n, 2, 256, device=pred.device)
    bins[:, 0].scatter_add_(1, q, fg)
    bins[:, 1].scatter_add_(1, q, 1.0 - fg)
    tp, fp = bins[:, 0].flip(1).cumsum(1), bins[:, 1].flip(1).cumsum(1)
    precision = tp / (tp + fp).clamp(min=1)
    recall = tp / fg.sum(dim=1, keepdim=True).clamp(min=1)
    return (1 + beta2) * precision * recall / (beta2 * precision + recall).clamp(min=1e-12)


@torch.no_grad()
def validate(model, source, groups, max_group=None):
    """Eval mode (running BN statistics), each group as ONE batch as at inference; metrics of
    cosal_map_1 at 224 against the mask: max F (the headline metric of the README's table),
    MAE, binary IoU at 0.5 and soft IoU; mean over images."""
    was_training = model.training
    model.eval()
    maes, raw_maes, ious, sious, curves = [], [], [], [], []
    per_group = {}
    for g in sorted(groups):
        stems = list(groups[g])[:max_group] if max_group else list(groups[g])
        if not stems:
            continue
        feats, sism, mask = source.batch(g, stems, [False] * len(stems))
        pred = model.head(feats, sism)[-1]
        raw_mae = (pred - mask).abs().mean(dim=(1, 2, 3))
        # MAE as icnet eval (pysodmetrics) scores it: the map min-max normalised per image
        lo = pred.amin(dim=(1, 2, 3), keepdim=True)
        hi = pred.amax(dim=(1, 2, 3), keepdim=True)
        norm = torch.where(hi > lo, (pred - lo) / (hi - lo).clamp(min=1e-12), pred)
        mae = (norm - mask).abs().mean(dim=(1, 2, 3))
        pb, gb = pred > 0.5, mask > 0.5
        inter = (pb & gb).sum(dim=(1, 2, 3)).float()
        union = (pb | gb).sum(dim=(1, 2, 3)).float()
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
        siou = torch.minimum(pred, mask).sum(dim=(1, 2, 3)) / torch.maximum(pred, mask).sum(dim=(1, 2, 3)).clamp(min=1e-12)
        curve = max_f_curve(pred, mask)
        maes += mae.tolist()
        raw_maes += raw_mae.tolist()
        ious += iou.tolist()
        sious += siou.tolist()
        curves.append(curve)
        per_group[g] = {"max_f": float(curve.mean(0).max()), "mae": float(mae.mean()), "iou": float(iou.mean())}
    model.train(was_training)
    if not maes:
        return None
    return {"max_f": float(torch.cat(curves).mean(0).max()), "mae": float(np.mean(maes)),
            "raw_mae": float(np.mean(raw_maes)),
            "iou": float(np.mean(ious)), "soft_iou": float(np.mean(sious)), "images": len(maes),
            "groups": per_group}


def split_validation(train_groups, prefixes):
    """Move the training groups whose names start with one of `prefixes` into a validation set
    (early stopping); the held-out groups stay untouched for the final measurement."""
    prefixes = [p for p in prefixes if p]
    val = {g: v for g, v in train_groups.items() if any(g.startswith(p) for p in prefixes)}
    train = {g: v for g, v in train_groups.items() if g not in val}
    unused = [p for p in prefixes if not any(g.startswith(p) for g in val)]
    if unused:
        raise SystemExit(f"--val-groups: no training group starts with {unused}")
    return train, val


def selection_score(m):
    """What best.pt maximises: max F minus MAE. Max F alone chose heads whose maps rank the
    object first but leave the background grey (MAE 0.19 on the held-out groups); a mask needs
    both."""
    return m["max_f"] - m["mae"]


def load_head(model, path, log):
    """Warm start: every trained (non-VGG) tensor from a head file (train/export.py's format,
    official names); anything missing or extra is an error."""
    from safetensors.torch import load_file
    t = load_file(path)
    own = model.trained_state_dict()
    missing = sorted(set(own) - set(t))
    extra = sorted(set(t) - set(own))
    if extra or [k for k in missing if not k.endswith("num_batches_tracked")]:
        raise SystemExit(f"--init-head {path}: tensors do not match (missing {missing[:3]}, extra {extra[:3]})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in t.items()}, strict=False)
    log(f"initialised the head from {path} ({len(t)} tensors)")


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def recipe(args):
    keys = ["epochs", "batch_size", "lr", "schedule", "warmup_steps", "lr_final_ratio", "weight_decay",
            "seed", "flip", "augment", "val_groups"]
    if args.online:
        keys += ["online", "groups_per_epoch", "group_min", "real_sism_p", "u2net_share", "init_head", "bf16"]
    return {k: getattr(args, k) for k in keys}


class Logger:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, msg):
        line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
        print(line, flush=True)
        self.f.write(line + "\n")


# ---------------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="feature cache (train/features.py) or image pack (train/pack.py)")
    ap.add_argument("ckpt_dir", help="checkpoint and log folder")
    ap.add_argument("--resume", action="store_true", help="continue from CKPT_DIR/last.pt")
    ap.add_argument("--vgg", default=features.DEFAULT_VGG, help="VGG16 weights (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=10, help="max images per batch, one group (official 10)")
    ap.add_argument("--lr", type=float, default=1e-4, help="peak Adam lr (official 1e-5)")
    ap.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--lr-final-ratio", type=float, default=0.1, help="cosine end lr / lr")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--no-flip", dest="flip", action="store_false", help="no random horizontal flip")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-minutes", type=float, default=10.0, help="checkpoint period (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default: %(default)s)")
    ap.add_argument("--augment", action="store_true",
                    help="random zoom and colour jitter of the training photos (image packs only)")
    ap.add_argument("--time-budget-min", type=float, default=0.0,
                    help="lower --epochs so that the run ends within this many minutes, from the speed "
                         "of the first two epochs (the chosen number is logged: pass it as --epochs to repeat)")
    ap.add_argument("--log-every", type=int, default=1, help="log every K-th step (default: %(default)s)")
    ap.add_argument("--save-every", type=int, default=1,
                    help="write epoch_NNN.pt every K epochs (the last epoch always; default: %(default)s)")
    ap.add_argument("--val-groups", default=",".join(VAL_GROUPS),
                    help="comma-separated prefixes of training groups set aside for validation (early "
                         "stopping: best.pt); '' for none (default: %(default)s)")
    ap.add_argument("--val-max-group", type=int, default=0, help="use at most K images per validation group (0: all)")
    ap.add_argument("--stop-after-steps", type=int, default=0,
                    help="save and stop after this many optimiser steps in total (testing resume)")
    ap.add_argument("--online", action="store_true",
                    help="SOURCE is the artwork pools folder (train/artwork.py): composites are made on the fly "
                         "(train/compose.py)")
    ap.add_argument("--photos", default=os.path.join(HERE, "..", "..", "shared", "data", "photos"),
                    help="--online: the shared photos (cut-outs and backgrounds)")
    ap.add_argument("--photo-cache", default=None, help="--online: cache of the photos' U²-Netp maps (default CKPT_DIR/photo_sisms)")
    ap.add_argument("--groups-per-epoch", type=int, default=60, help="--online: groups per epoch")
    ap.add_argument("--group-min", type=int, default=4, help="--online: smallest group (largest: --batch-size)")
    ap.add_argument("--real-sism-p", type=float, default=0.2,
                    help="--online: share of composites whose SISM is a real U²-Netp map (the rest simulated)")
    ap.add_argument("--u2net-share", type=float, default=0.0,
                    help="--online: share of the real SISMs that come from the full U²-Net (models/u2net.safetensors)")
    ap.add_argument("--bf16", action="store_true",
                    help="training steps (VGG16 and the head's forward) under bfloat16 autocast: 2-3x faster on "
                         "CPUs with AVX-512 BF16; weights, optimiser and validation stay float32")
    ap.add_argument("--u2net", default=os.path.join("models", "u2net.safetensors"),
                    help="--online: the full U²-Net weights (BatchNorm folded, as icnet fetch-models writes them)")
    ap.add_argument("--init-head", default="", help="start from this head (.safetensors, train/export.py)")
    args = ap.parse_args(argv)
    if args.online and not args.photo_cache:
        args.photo_cache = os.path.join(args.ckpt_dir, "photo_sisms")

    torch.set_num_threads(args.threads)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    log = Logger(os.path.join(args.ckpt_dir, "train.log"))
    last = os.path.join(args.ckpt_dir, "last.pt")
    device = torch.device(args.device)

    torch.manual_seed(args.seed)
    model = build_model(args.vgg).to(device)
    model.train()
    if args.init_head:
        load_head(model, args.init_head, log)
    source = open_source(args.source, model, device, args)
    if args.augment and not isinstance(source, (ImagePack, OnlineSource)):
        raise SystemExit("--augment needs images, not cached features: train from a pack (train/pack.py)")
    if args.flip and not source.has_flips:
        raise SystemExit("the cache has no flipped copies (made with --no-flip): pass --no-flip")
    if isinstance(source, OnlineSource):
        train_groups, val_groups = source.train, source.val
        log(f"pools: {json.dumps(source.pools.summary())}")
    else:
        train_groups, val_groups = split_validation(source.train, args.val_groups.split(","))
    heldout = source.heldout
    if hasattr(source, "fixed_groups"):
        source.fixed_groups |= set(val_groups)
    params = trainable_parameters(model)
    n_params = sum(p.numel() for p in params)
    opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    epoch, pos, step, best = 1, 0, 0, None
    history = []
    if args.resume:
        if not os.path.exists(last):
            raise SystemExit(f"--resume: {last} not found")
        ck = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"], strict=False)
        opt.load_state_dict(ck["optimizer"])
        epoch, pos, step, best, history = ck["epoch"], ck["pos"], ck["step"], ck["best"], ck["history"]
        torch.set_rng_state(ck["torch_rng"].cpu())
        np.random.set_state(ck["numpy_rng"])
        if args.time_budget_min:
            args.epochs = ck["recipe"]["epochs"]          # as fixed by the budget when it started
        if ck["recipe"] != recipe(args):
            log(f"warning: recipe differs from the checkpoint's: {ck['recipe']} -> {recipe(args)}")
        log(f"resumed from {last}: epoch {epoch}, batch {pos}, step {step}")
    elif os.path.exists(last):
        raise SystemExit(f"{last} exists: pass --resume to continue, or use an empty CKPT_DIR")

    def make_plan(ep):
        if isinstance(source, OnlineSource):
            return source.plan(ep, args.seed, args.batch_size, args.flip)
        return epoch_plan(train_groups, ep, args.seed, args.batch_size, args.flip)

    plan_len = len(make_plan(1))
    total_steps = plan_len * args.epochs
    log(f"train: {sum(len(v) for v in train_groups.values())} images in {len(train_groups)} groups, "
        f"{plan_len} batches/epoch, {args.epochs} epochs = {total_steps} steps; "
        f"validation: {sum(len(v) for v in val_groups.values())} images in {len(val_groups)} groups; "
        f"held-out: {sum(len(v) for v in heldout.values())} images in {len(heldout)} groups; "
        f"{n_params} trained parameters; device {device}; recipe {json.dumps(recipe(args))}")
    budget_fixed = not args.time_budget_min or args.resume

    stop = {"flag": False}

    def on_signal(signum, _frame):
        if stop["flag"]:
            raise KeyboardInterrupt
        stop["flag"] = True
        print(f"\nsignal {signum}: finishing the current step, then saving (again to abort)", flush=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def checkpoint(why):
        atomic_save({"model": model.trained_state_dict(), "optimizer": opt.state_dict(),
                     "epoch": epoch, "pos": pos, "step": step, "best": best, "history": history,
                     "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(),
                     "recipe": recipe(args), "n_params": n_params}, last)
        log(f"checkpoint ({why}): epoch {epoch}, batch {pos}, step {step} -> {last}")

    last_ckpt = t_start = time.time()
    t_steps = {}
    while epoch <= args.epochs:
        plan = make_plan(epoch)
        t_epoch, imgs, loss_sum = time.time(), 0, 0.0
        while pos < len(plan):
            g, stems, flips = plan[pos]
            t0 = time.time()
            aug = torch.Generator().manual_seed(args.seed * 1_000_003 + step) if args.augment else None
            feats, sism, mask = source.batch(g, stems, flips, aug)
            t_load = time.time() - t0
            lr = lr_at(step, total_steps, args)
            for pg in opt.param_groups:
                pg["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                preds = model.head(feats, sism)
            loss, sides = iou_loss([p.float() for p in preds], mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            pos += 1
            step += 1
            imgs += len(stems)
            loss_sum += loss.item() * len(stems)
            dt = time.time() - t0
            if step % args.log_every == 0 or pos == len(plan):
                log(f"epoch {epoch} batch {pos}/{len(plan)} step {step} group {g} n={len(stems)} "
                    f"loss {loss.item():.6f} sides {' '.join(f'{v:.4f}' for v in sides.tolist())} "
                    f"lr {lr:.3g} {dt:.3f}s ({dt / len(stems):.3f} s/img, load {t_load:.3f}s)")
            calib = (10, 10 + 2 * plan_len)             # two epoch ends (validation) included
            if not budget_fixed and step in calib:
                t_steps[step] = time.time()
                if step == calib[1]:
                    per_step = (t_steps[calib[1]] - t_steps[10]) / (calib[1] - 10)
                    left = args.time_budget_min * 60 * 0.9 - (time.time() - t_start)
                    fit = max(1, int((left / per_step + step) // plan_len))
                    log(f"time budget {args.time_budget_min} min: {per_step:.4f} s/step -> --epochs "
                        f"{min(fit, args.epochs)} (was {args.epochs})")
                    args.epochs = min(fit, args.epochs)
                    total_steps = plan_len * args.epochs
                    budget_fixed = True
            if stop["flag"] or (args.stop_after_steps and step >= args.stop_after_steps):
                checkpoint("stop")
                return 0
            if time.time() - last_ckpt > args.ckpt_minutes * 60:
                checkpoint("timer")
                last_ckpt = time.time()
        # end of epoch
        t_train = time.time() - t_epoch
        t0 = time.time()
        val = validate(model, source, val_groups, args.val_max_group or None)
        test = validate(model, source, heldout)
        t_val = time.time() - t0
        rec = {"epoch": epoch, "train_loss": loss_sum / max(imgs, 1), "images": imgs,
               "train_s": t_train, "val_s": t_val, "val": val, "heldout": test}
        history.append(rec)

        def txt(name, m):
            return f"{name} max F {m['max_f']:.4f} MAE {m['mae']:.4f} (raw {m.get('raw_mae', 0):.4f}) IoU {m['iou']:.4f} ({m['images']})" if m else f"no {name} images"
        log(f"epoch {epoch} done: train loss {rec['train_loss']:.5f}, {t_train:.0f} s "
            f"({t_train / max(imgs, 1):.3f} s/img), validation {t_val:.0f} s: {txt('val', val)}; "
            f"{txt('held-out', test)}")
        snap = {"model": model.trained_state_dict(), "epoch": epoch, "step": step, "val": val,
                "heldout": test, "recipe": recipe(args), "n_params": n_params}
        if epoch % args.save_every == 0 or epoch == args.epochs:
            atomic_save(snap, os.path.join(args.ckpt_dir, f"epoch_{epoch:03d}.pt"))
        # best.pt: chosen on the validation groups only, never on the held-out ones
        if val and (best is None or selection_score(val) > selection_score(best)):
            best = {"epoch": epoch, "max_f": val["max_f"], "mae": val["mae"]}
            atomic_save(snap, os.path.join(args.ckpt_dir, "best.pt"))
            log(f"epoch {epoch}: new best on validation (max F {val['max_f']:.4f}, MAE {val['mae']:.4f}, "
                f"score {selection_score(val):.4f}) -> best.pt")
        epoch += 1
        pos = 0
        if stop["flag"] or epoch > args.epochs or time.time() - last_ckpt > args.ckpt_minutes * 60:
            checkpoint("epoch end")
            last_ckpt = time.time()
        with open(os.path.join(args.ckpt_dir, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
        if stop["flag"]:
            return 0
    log(f"finished: {args.epochs} epochs, {step} steps; best {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
