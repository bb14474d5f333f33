#!/usr/bin/env python3
"""Deterministic "scaled" test weights for ICNet (SPEC section 10).

A counter-based generator (splitmix64 finaliser over the element index), so that the
Rust twin (engine/src/models/testweights.rs) produces bit-identical float32 values:

* GOLDEN = 0x9E3779B97F4A7C15, all u64 arithmetic wraps mod 2^64.
* mix(z): z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31).
* stream s = fnv1a64(key utf-8 bytes) ^ seed.
* u(s, c) = float64(mix(s + (c + 1) * GOLDEN) >> 40) / 2**24, in [0, 1), exact in f64.
* normal(s, i) = (u(s,12i) + ... + u(s,12i+11), left to right from 0.0) - 6.0  (Irwin-Hall, exact).
* i is the row-major flat element index. Every value is computed in f64, then rounded to f32.
* conv weight [O,I,kh,kw]: normal(s,i) * sqrt(g2 / (I*kh*kw)), g2 = 2.0 for keys "vgg.*", else 1.0.
* conv bias (1-D, sibling ".weight" is 4-D): (2u - 1) * 0.05.
* BatchNorm: weight 0.8 + 0.4u; bias (2u - 1) * 0.1; running_mean (2u - 1) * 0.1;
  running_var 0.8 + 0.4u.
* num_batches_tracked: int64 scalar 0.

CLI:  python3 testweights.py OUT.safetensors [--seed S]
      python3 testweights.py --probe tests/golden/testweights_probe.json [--seed S]
"""

import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_CHUNK = 1 << 20  # elements per vectorised chunk


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def stream(key: str, seed: int = 0) -> int:
    return fnv1a64(key.encode("utf-8")) ^ (seed & MASK64)


def _mix(z):
    """splitmix64 finaliser on a uint64 array (wrapping)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _u_from_counters(s: int, c):
    """u(s, c) for a uint64 counter array c, as float64."""
    z = np.uint64(s) + (c + np.uint64(1)) * np.uint64(GOLDEN)
    return (_mix(z) >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def uniform(s: int, start: int, count: int) -> np.ndarray:
    """u(s, i) for i in [start, start+count), float64."""
    with np.errstate(over="ignore"):
        c = np.arange(start, start + count, dtype=np.uint64)
        return _u_from_counters(s, c)


def normal(s: int, start: int, count: int) -> np.ndarray:
    """normal(s, i) for i in [start, start+count), float64 (exact Irwin-Hall sum of 12)."""
    with np.errstate(over="ignore"):
        base = np.arange(start, start + count, dtype=np.uint64) * np.uint64(12)
        acc = np.zeros(count, dtype=np.float64)
        for j in range(12):
            acc = acc + _u_from_counters(s, base + np.uint64(j))
        return acc - 6.0


def _chunked(fn, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.float32)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        out[a:b] = fn(a, b - a).astype(np.float32)
    return out


def classify(key: str, shapes: "dict[str, tuple]") -> str:
    """One of conv_weight, conv_bias, bn_weight, bn_bias, bn_mean, bn_var, bn_count."""
    shape = shapes[key]
    prefix, _, leaf = key.rpartition(".")
    is_bn = (prefix + ".running_mean") in shapes
    if leaf == "num_batches_tracked":
        return "bn_count"
    if is_bn:
        return {"weight": "bn_weight", "bias": "bn_bias", "running_mean": "bn_mean",
                "running_var": "bn_var"}[leaf]
    if leaf == "weight" and len(shape) == 4:
        return "conv_weight"
    if leaf == "bias" and len(shape) == 1 and len(shapes.get(prefix + ".weight", ())) == 4:
        return "conv_bias"
    raise ValueError(f"cannot classify state_dict key {key!r} with shape {shape}")


def generate_tensor(key: str, shape, kind: str, seed: int = 0) -> np.ndarray:
    """float32 numpy array for one float tensor (row-major)."""
    s = stream(key, seed)
    n = int(np.prod(shape)) if len(shape) else 1
    if kind == "conv_weight":
        _, i, kh, kw = shape
        g2 = 2.0 if key.startswith("vgg.") else 1.0
        std = math.sqrt(g2 / (i * kh * kw))
        flat = _chunked(lambda a, m: normal(s, a, m) * std, n)
    elif kind == "conv_bias":
        flat = _chunked(lambda a, m: (2.0 * uniform(s, a, m) - 1.0) * 0.05, n)
    elif kind in ("bn_weight", "bn_var"):
        flat = _chunked(lambda a, m: 0.8 + 0.4 * uniform(s, a, m), n)
    elif kind in ("bn_bias", "bn_mean"):
        flat = _chunked(lambda a, m: (2.0 * uniform(s, a, m) - 1.0) * 0.1, n)
    else:
        raise ValueError(kind)
    return flat.reshape(shape)


def reference_shapes() -> "OrderedDict[str, tuple]":
    """Key -> shape of the reference model's state_dict (official order)."""
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from icnet_ref import ICNet
    with torch.device("meta"):
        model = ICNet()
    return OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())


def make_numpy_state_dict(seed: int = 0) -> "OrderedDict[str, np.ndarray]":
    shapes = reference_shapes()
    out = OrderedDict()
    for key, shape in shapes.items():
        kind = classify(key, shapes)
        if kind == "bn_count":
            out[key] = np.array(0, dtype=np.int64)
        else:
            out[key] = generate_tensor(key, shape, kind, seed)
    return out


def make_state_dict(seed: int = 0):
    """OrderedDict[str, torch.Tensor] in official state_dict order (190 entries)."""
    import torch
    return OrderedDict((k, torch.from_numpy(v)) for k, v in make_numpy_state_dict(seed).items())


def write_safetensors(path: str, seed: int = 0) -> None:
    from safetensors.numpy import save_file
    sd = make_numpy_state_dict(seed)
    tensors = OrderedDict((k, np.ascontiguousarray(v)) for k, v in sd.items()
                          if not k.endswith(".num_batches_tracked"))
    save_file(tensors, path, metadata={"icnet.preprocess": "imagenet"})


def probe(seed: int = 0) -> "OrderedDict[str, dict]":
    """first 3 values, last value, and the sequential (left-to-right) float64 sum of the
    float32 values, for every float tensor."""
    out = OrderedDict()
    for key, v in make_numpy_state_dict(seed).items():
        if v.dtype != np.float32:
            continue
        flat = v.reshape(-1)
        seq_sum = float(np.cumsum(flat.astype(np.float64))[-1])  # cumsum is strictly sequential
        out[key] = {"first": [float(x) for x in flat[:3]], "last": float(flat[-1]), "sum": seq_sum}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", help="output .safetensors path")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--probe", metavar="JSON", help="write the probe JSON instead/as well")
    args = ap.parse_args(argv)
    if not args.out and not args.probe:
        ap.error("give an output path and/or --probe JSON")
    if args.out:
        write_safetensors(args.out, args.seed)
        print(f"wrote {args.out}")
    if args.probe:
        with open(args.probe, "w") as f:
            json.dump(probe(args.seed), f, indent=1)
            f.write("\n")
        print(f"wrote {args.probe}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
