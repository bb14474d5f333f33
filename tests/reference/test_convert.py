#!/usr/bin/env python3
"""Tests for convert_checkpoint.py.  Run with `python3 tests/reference/test_convert.py` or pytest."""

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict

import torch
from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import convert_checkpoint as cc  # noqa: E402
import testweights  # noqa: E402
from icnet_ref import ICNet  # noqa: E402

_SD = None


def reference_state_dict():
    """state_dict of the reference model loaded with test weights (190 entries)."""
    global _SD
    if _SD is None:
        model = ICNet()
        model.load_state_dict(testweights.make_state_dict(0), strict=True)
        _SD = model.state_dict()
    return _SD


def run_main(args):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cc.main(args)
    return rc, err.getvalue()


def check_output(path, sd, preprocess="imagenet"):
    want = [k for k in sd if not k.endswith(".num_batches_tracked")]
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == {"icnet.preprocess": preprocess}, f.metadata()
        keys = list(f.keys())
        assert sorted(keys) == sorted(want), "key set differs"
        for k in want:
            t = f.get_tensor(k)
            assert t.dtype == torch.float32, k
            assert torch.equal(t, sd[k]), k
    # the result loads into the reference model (only num_batches_tracked may be reported missing)
    from safetensors.torch import load_file
    model = ICNet()
    res = model.load_state_dict(load_file(path), strict=False)
    assert not res.unexpected_keys, res.unexpected_keys
    assert all(k.endswith(".num_batches_tracked") for k in res.missing_keys), res.missing_keys


def test_plain_and_prefixed():
    sd = reference_state_dict()
    with tempfile.TemporaryDirectory() as d:
        variants = {
            "plain": {"state_dict": OrderedDict(sd), "optimizer": {}},
            "module": {"state_dict": OrderedDict(("module." + k, v) for k, v in sd.items()),
                       "optimizer": {}},
            "bare": OrderedDict(sd),
        }
        for name, ckpt in variants.items():
            src, dst = os.path.join(d, name + ".pth"), os.path.join(d, name + ".safetensors")
            torch.save(ckpt, src)
            rc, err = run_main([src, dst])
            assert rc == 0, (name, err)
            check_output(dst, sd)


def test_preprocess_caffe_bgr():
    sd = reference_state_dict()
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "c.pth"), os.path.join(d, "c.safetensors")
        torch.save({"state_dict": sd}, src)
        rc, err = run_main([src, dst, "--preprocess", "caffe-bgr"])
        assert rc == 0, err
        check_output(dst, sd, "caffe-bgr")


def test_half_precision_is_upcast():
    sd = reference_state_dict()
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "h.pth"), os.path.join(d, "h.safetensors")
        half = OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
        torch.save({"state_dict": half}, src)
        rc, err = run_main([src, dst])
        assert rc == 0, err
        check_output(dst, OrderedDict((k, v.float()) for k, v in half.items()))


def _expect_failure(ckpt, needle):
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "bad.pth"), os.path.join(d, "bad.safetensors")
        torch.save(ckpt, src)
        rc, err = run_main([src, dst])
        assert rc != 0, "conversion should fail"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], err
        assert not os.path.exists(dst), "no output on failure"


def test_missing_key_fails():
    sd = OrderedDict(reference_state_dict())
    del sd["Co4.cosal_feat.conv.0.weight"]
    _expect_failure({"state_dict": sd, "optimizer": {}}, "missing keys: Co4.cosal_feat.conv.0.weight")
    # the command line itself exits non-zero too
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "bad.pth")
        torch.save({"state_dict": sd}, src)
        p = subprocess.run([sys.executable, os.path.join(HERE, "convert_checkpoint.py"), src,
                            os.path.join(d, "o.safetensors")], capture_output=True, text=True)
        assert p.returncode != 0 and "missing keys" in p.stderr, (p.returncode, p.stderr)


def test_unexpected_key_fails():
    sd = OrderedDict(reference_state_dict())
    sd["extra.weight"] = torch.zeros(3)
    _expect_failure({"state_dict": sd}, "unexpected keys: extra.weight")


def test_wrong_shape_fails():
    sd = OrderedDict(reference_state_dict())
    sd["get_pred_4.pred.0.weight"] = torch.zeros(1, 16, 1, 1)
    _expect_failure({"state_dict": sd}, "get_pred_4.pred.0.weight: shape [1, 16, 1, 1], expected [1, 32, 1, 1]")


def test_missing_file_fails():
    with tempfile.TemporaryDirectory() as d:
        rc, err = run_main([os.path.join(d, "nope.pth"), os.path.join(d, "o.safetensors")])
        assert rc != 0 and "no such file" in err and len(err.strip().splitlines()) == 1, err


if __name__ == "__main__":
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    for name, fn in tests:
        fn()
        print(f"ok  {name}")
    print(f"{len(tests)} tests passed")
