#!/usr/bin/env python3
"""Fixtures for the engine's Pillow/OpenCV-exact pre- and post-processing.

Writes small files (under 1 MB in all) into tests/golden/resize/, read by the
`#[cfg(test)]` modules of engine/src/io/preprocess.rs and engine/src/io/postprocess.rs.
Full 224x224 outputs do not compress well, so most are checked through
per-row hashes: `*.rowfnv.npy` holds, for every row of an array (first axis),
the FNV-1a 64 of its little-endian bytes (see `fnv1a64`, mirrored in Rust).

* src_*.png/.jpg/.webp, sources.txt: synthetic sources with awkward sizes and
  modes (RGB, RGBA, L, LA, P with tRNS, 1-bit, 16-bit grey, 16-bit RGB/RGBA,
  JPEG, lossless and lossy WebP); sources.txt lists "file pillow_mode width height".
* <stem>.rgb224.rowfnv.npy / <stem>.l224.rowfnv.npy: Pillow's
  `Image.open(p).convert('RGB'|'L').resize((224, 224), Image.BILINEAR)`
  (SPEC section 4); for src_gray_97x150 also stored in full (.npy.gz).
* <stem>.decoded.npy.gz: Pillow's `convert('RGB')` before the resize (JPEG
  only), so the resampler can be checked apart from the JPEG decoder.
* rs_<case>.src.npy / rs_<case>.out.npy: the resampler on its own
  (Pillow BILINEAR on L/RGB/CMYK arrays, sizes that hit every pass order).
* norm_src.npy, norm_imagenet.npy, norm_caffe.npy: a 16x16 RGB image holding
  every byte value in every channel and its normalised CHW float32 tensor
  (torchvision ToTensor+Normalize semantics; Caffe BGR mean subtraction).
  norm_photo_fnv.npy: FNV-1a 64 of the full [3,224,224] tensors (imagenet,
  caffe) of src_rgb_260x300.webp after the Pillow resize.
* cv_<H>x<W>.*: `cv2.resize(map, (W, H))` (INTER_LINEAR, float32, default
  IPP setting) of the 224x224 map of `saliency_map` (integers and one float32
  division, rebuilt bit for bit by the Rust tests): row hashes for all sizes,
  the full output for small ones, rows `.rows.npy` of it (`.sel.npy`) for
  big ones. cv_tiny_*: sources with a side of 1 (OpenCV's non-IPP path).
* u8_in.npy / u8_out.npy: OpenCV `convertTo(CV_8U)` of `x*255` (float32),
  with 258 exact .5 cases, saturation, NaN, infinities and huge values.
* m2o_<H>x<W>.*: `cv2.imwrite` semantics of `cv2.resize(map, (W, H)) * 255`,
  SPEC section 5 end to end (uint8; full or row hashes).

Run: python3 tests/reference/make_resize_fixtures.py  (Pillow, numpy,
opencv-python-headless; torch optional, for a cross-check). A rerun with the
versions in the output README reproduces every file byte for byte.
"""

import gzip
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, features

import PIL

OUT = Path(__file__).resolve().parent.parent / "golden" / "resize"
SIZE = 224


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def row_fnv(arr: np.ndarray) -> np.ndarray:
    """FNV-1a 64 of every row's little-endian bytes (row = first axis)."""
    le = arr.astype(arr.dtype.newbyteorder("<"))
    return np.array([fnv1a64(r.tobytes()) for r in le], np.uint64)


def save_npy(name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    if name.endswith(".gz"):
        buf = io.BytesIO()
        np.save(buf, arr)
        # mtime=0 keeps the files byte-for-byte reproducible
        with open(OUT / name, "wb") as f:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as gz:
                gz.write(buf.getvalue())
    else:
        np.save(OUT / name, arr)


def smooth_rgb(w: int, h: int, seed: int, noise: int = 0) -> np.ndarray:
    """Smooth gradients, hard-edged stripes, optional noise: small files that
    still exercise the rounding."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 120 * np.sin(x / max(w, 1) * 5.1 + y / max(h, 1) * 1.3)
    g = 127.5 + 120 * np.cos(y / max(h, 1) * 4.2 - x / max(w, 1) * 2.0)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / 9.0)
    img = np.stack([r, g, b], axis=-1)
    if noise:
        img += rng.integers(-noise, noise + 1, img.shape)
    # a few hard edges and saturated pixels
    img[(x.astype(int) // 11 + y.astype(int) // 13) % 7 == 0] = [255, 0, 255]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_sources() -> list[str]:
    srcs = []

    def put(name, im, **kw):
        im.save(OUT / name, **kw)
        srcs.append(name)

    put("src_rgb_1x1.png", Image.fromarray(np.array([[[200, 17, 99]]], np.uint8), "RGB"))
    put("src_rgb_7x300.png", Image.fromarray(smooth_rgb(7, 300, 1, noise=6)))
    rgba = np.concatenate(
        [smooth_rgb(225, 224, 2), np.full((224, 225, 1), 255, np.uint8)], axis=-1
    )
    rgba[::3, :, 3] = 0  # transparent rows keep their colour; convert drops alpha
    rgba[:, ::5, 3] = 77
    put("src_rgba_225x224.png", Image.fromarray(rgba, "RGBA"))
    put("src_gray_97x150.png", Image.fromarray(smooth_rgb(97, 150, 3, noise=6)[:, :, 0], "L"))
    put(
        "src_rgb_120x90.jpg",
        Image.fromarray(smooth_rgb(120, 90, 4, noise=6)),
        quality=90,
        subsampling=2,
    )
    put("src_rgb_260x300.webp", Image.fromarray(smooth_rgb(260, 300, 5)), lossless=True)
    put("src_rgb_64x48_lossy.webp", Image.fromarray(smooth_rgb(64, 48, 16, noise=6)), quality=80)
    rgba_lossy = np.concatenate(
        [smooth_rgb(50, 40, 17, noise=6), smooth_rgb(50, 40, 18)[:, :, :1]], axis=-1
    )
    put("src_rgba_50x40_lossy.webp", Image.fromarray(rgba_lossy, "RGBA"), quality=80)
    put("src_rgb_224x224.png", Image.fromarray(smooth_rgb(224, 224, 6)))
    put("src_rgb_320x240.png", Image.fromarray(smooth_rgb(320, 240, 7)))
    put("src_rgb_240x320.png", Image.fromarray(smooth_rgb(240, 320, 8)))
    put("src_rgb_2000x30.png", Image.fromarray(smooth_rgb(2000, 30, 9)))
    put("src_rgb_40x30.png", Image.fromarray(smooth_rgb(40, 30, 10, noise=6)))
    # 16-bit grey opens as 'I;16'; values above 255 clip when converted.
    g16 = (np.arange(60 * 40, dtype=np.uint32).reshape(40, 60) * 37 % 700).astype(np.uint16)
    put("src_gray16_60x40.png", Image.fromarray(g16))
    # 16-bit RGB/RGBA: Pillow keeps the high byte. cv2 writes BGR(A) order.
    rgb16 = (smooth_rgb(50, 30, 11, noise=6).astype(np.uint16) * 257) ^ np.uint16(0x5A)
    cv2.imwrite(str(OUT / "src_rgb16_50x30.png"), rgb16[:, :, ::-1])
    srcs.append("src_rgb16_50x30.png")
    rgba16 = np.concatenate([rgb16[:20, :40], np.full((20, 40, 1), 4000, np.uint16)], -1)
    cv2.imwrite(str(OUT / "src_rgba16_40x20.png"), rgba16[:, :, [2, 1, 0, 3]])
    srcs.append("src_rgba16_40x20.png")
    pal = Image.fromarray(smooth_rgb(33, 20, 12, noise=6)).quantize(colors=23)
    put("src_p_33x20.png", pal, transparency=3)
    la = np.stack([smooth_rgb(20, 25, 13, noise=6)[:, :, 1], smooth_rgb(20, 25, 14, noise=6)[:, :, 2]], -1)
    put("src_la_20x25.png", Image.fromarray(la, "LA"))
    put("src_bilevel_31x17.png", Image.fromarray(smooth_rgb(31, 17, 15, noise=6)[:, :, 0] > 128))
    return srcs


# sources whose 224x224 outputs are also stored in full (the rest: row hashes)
FULL_OUTPUTS = {"src_gray_97x150.png"}


def pillow_fixtures(srcs: list[str]) -> None:
    lines = []
    for name in srcs:
        stem = name.rsplit(".", 1)[0]
        with Image.open(OUT / name) as im:
            im.load()
            rgb = im.convert("RGB")
            lum = im.convert("L")
        out_rgb = np.asarray(rgb.resize((SIZE, SIZE), Image.BILINEAR))
        out_l = np.asarray(lum.resize((SIZE, SIZE), Image.BILINEAR))
        assert out_rgb.shape == (SIZE, SIZE, 3) and out_l.shape == (SIZE, SIZE)
        save_npy(f"{stem}.rgb224.rowfnv.npy", row_fnv(out_rgb))
        save_npy(f"{stem}.l224.rowfnv.npy", row_fnv(out_l))
        lines.append(f"{name} {im.mode} {im.width} {im.height}")
        if name in FULL_OUTPUTS:
            save_npy(f"{stem}.rgb224.npy.gz", out_rgb)
            save_npy(f"{stem}.l224.npy.gz", out_l)
        if name.endswith(".jpg"):
            save_npy(f"{stem}.decoded.npy.gz", np.asarray(rgb))
    # "file pillow_mode width height", one source per line
    (OUT / "sources.txt").write_text("\n".join(lines) + "\n")


def resampler_fixtures() -> None:
    rng = np.random.default_rng(77)
    # (name, h, w, channels (1 -> 'L', 3 -> 'RGB', 4 -> 'CMYK'), out_h, out_w)
    cases = [
        ("l_5x3_to_17x11", 5, 3, 1, 17, 11),
        ("rgb_30x40_to_7x13", 30, 40, 3, 7, 13),
        ("l_91x37_to_20x50", 91, 37, 1, 20, 50),  # vertical pass first
        ("l_108x123_to_2x70", 108, 123, 1, 2, 70),  # tie: horizontal first
        ("l_107x123_to_2x70", 107, 123, 1, 2, 70),  # just below the tie
        ("l_109x123_to_2x70", 109, 123, 1, 2, 70),  # just above it: vertical first
        ("rgb_64x3_to_64x29", 64, 3, 3, 64, 29),  # horizontal only
        ("rgb_3x64_to_29x64", 3, 64, 3, 29, 64),  # vertical only
        ("cmyk_19x23_to_31x5", 19, 23, 4, 31, 5),
        ("l_1x1_to_3x4", 1, 1, 1, 3, 4),
        ("l_400x9_to_1x1", 400, 9, 1, 1, 1),
    ]
    for name, h, w, c, oh, ow in cases:
        src = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        mode = {1: "L", 3: "RGB", 4: "CMYK"}[c]
        im = Image.fromarray(src[:, :, 0] if c == 1 else src, mode)
        out = np.asarray(im.resize((ow, oh), Image.BILINEAR)).reshape(oh, ow, c)
        save_npy(f"rs_{name}.src.npy", src)
        save_npy(f"rs_{name}.out.npy", out)


MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
CAFFE_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def imagenet(rgb: np.ndarray) -> np.ndarray:
    # torchvision: ToTensor = img.float().div(255) in CHW; Normalize = sub_(mean).div_(std)
    t = rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    return (t - MEAN[:, None, None]) / STD[:, None, None]


def caffe(rgb: np.ndarray) -> np.ndarray:
    t = rgb[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)
    return t - CAFFE_BGR[:, None, None]


def normalise_fixtures() -> None:
    v = np.arange(256, dtype=np.int64).reshape(16, 16)
    src = np.stack([v, 255 - v, (v * 37 + 11) % 256], -1).astype(np.uint8)
    save_npy("norm_src.npy", src)
    save_npy("norm_imagenet.npy", imagenet(src))
    save_npy("norm_caffe.npy", caffe(src))
    with Image.open(OUT / "src_rgb_260x300.webp") as im:
        rgb = np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR))
    hashes = [fnv1a64(f(rgb).astype("<f4").tobytes()) for f in (imagenet, caffe)]
    save_npy("norm_photo_fnv.npy", np.array(hashes, np.uint64))
    try:  # cross-check against the real torch ops when torch is around
        import torch

        t = torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous().float().div(255)
        t = t.sub_(torch.as_tensor(MEAN)[:, None, None]).div_(torch.as_tensor(STD)[:, None, None])
        assert np.array_equal(t.numpy(), imagenet(rgb)), "numpy and torch disagree"
        print("normalise: numpy == torch ToTensor+Normalize")
    except ImportError:
        pass


def saliency_map(h: int = SIZE, w: int = SIZE) -> np.ndarray:
    """A smooth blob with a small ripple, built from integers and ONE float32
    division so the Rust tests rebuild it bit for bit."""
    i, j = np.mgrid[0:h, 0:w].astype(np.int64)
    d2 = (i - 100) ** 2 + (j - 120) ** 2
    num = 10000 - np.minimum(d2, 10000) + ((i * 7 + j * 13) % 17) * 5
    return num.astype(np.float32) / np.float32(10085)


def cv_fixtures() -> None:
    src = saliency_map()
    # (H, W): every output row is checked through its hash; small outputs are
    # stored in full and big ones as a few selected rows, to measure ulps.
    targets = [(150, 97), (1, 1), (224, 224), (112, 112), (200, 300), (375, 500), (448, 448), (7, 3000)]
    for h, w in targets:
        out = cv2.resize(src, (w, h))
        assert out.shape == (h, w) and out.dtype == np.float32
        save_npy(f"cv_{h}x{w}.rowfnv.npy", row_fnv(out))
        if h * w <= 150 * 97:
            save_npy(f"cv_{h}x{w}.npy", out)
        elif h >= 100:
            rows = [0, 1, h // 2, h - 2, h - 1]
            save_npy(f"cv_{h}x{w}.rows.npy", np.array(rows, np.int64))
            save_npy(f"cv_{h}x{w}.sel.npy", out[rows])

    # sources with a side of 1: OpenCV's own (non-IPP) path
    rng = np.random.default_rng(5)
    tiny = [(1, 5, 7, 9), (3, 1, 4, 6), (1, 1, 5, 3), (1, 224, 3, 300), (224, 1, 200, 2), (2, 1, 9, 1)]
    for ih, iw, oh, ow in tiny:
        s = rng.random((ih, iw), dtype=np.float32)
        save_npy(f"cv_tiny_{ih}x{iw}_to_{oh}x{ow}.src.npy", s)
        save_npy(f"cv_tiny_{ih}x{iw}_to_{oh}x{ow}.out.npy", cv2.resize(s, (ow, oh)))


def _convert_to_u8(m: np.ndarray) -> np.ndarray:
    """What cv2.imwrite does with a float32 image (convertTo(CV_8U)), through the
    real encoder path: imencode to PNG, then decode the 8-bit result."""
    assert m.dtype == np.float32
    ok, buf = cv2.imencode(".png", m)
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(m.shape)


def u8_fixtures() -> None:
    vals = []
    # exact .5 after *255 (found by stepping floats around (k+0.5)/255)
    for k in list(range(0, 256)) + [-1, -2]:
        x = np.float32((k + 0.5) / 255)
        for _ in range(64):
            p = x * np.float32(255)
            if p == np.float32(k + 0.5):
                vals.append(x)
                break
            x = np.nextafter(x, np.float32(np.inf) if p < k + 0.5 else np.float32(-np.inf))
    rng = np.random.default_rng(3)
    vals += list(rng.random(1500, dtype=np.float32))
    vals += list((rng.random(200, dtype=np.float32) * 3 - 1))
    vals += [0.0, 1.0, -0.0, 1e-30, -1e-30, 0.99999994, 1.0000001, 8.0, -8.0, 1e10, -1e10,
             np.float32(2147483520.0) / np.float32(255), 3e38, -3e38, np.inf, -np.inf, np.nan]
    x = np.array(vals, np.float32).reshape(1, -1)
    y = _convert_to_u8(x * np.float32(255))
    save_npy("u8_in.npy", x[0])
    save_npy("u8_out.npy", y[0])
    n_half = sum(1 for v in x[0] if np.isfinite(v) and (v * np.float32(255)) % 1 == 0.5)
    print(f"u8: {x.size} values, {n_half} exact .5 cases")

    src = saliency_map()
    for h, w in [(200, 300), (375, 500), (1, 1), (224, 224), (150, 97)]:
        out = _convert_to_u8(cv2.resize(src, (w, h)) * np.float32(255))
        if h * w <= 200 * 300:
            save_npy(f"m2o_{h}x{w}.npy.gz", out)
        else:
            save_npy(f"m2o_{h}x{w}.rowfnv.npy", row_fnv(out))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    assert features.check("webp"), "Pillow without WebP support"
    srcs = make_sources()
    pillow_fixtures(srcs)
    resampler_fixtures()
    normalise_fixtures()
    cv_fixtures()
    u8_fixtures()
    (OUT / "README.md").write_text(
        "# Resize fixtures\n\n"
        "Generated by `tests/reference/make_resize_fixtures.py` (see its docstring for the\n"
        "meaning of every file). Read by the unit tests of `engine/src/io/preprocess.rs` and\n"
        "`engine/src/io/postprocess.rs`.\n\n"
        f"Versions: Pillow {PIL.__version__}, opencv-python-headless {cv2.__version__}, "
        f"numpy {np.__version__}.\n"
        "OpenCV's float resize depends on its IPP build (x86-64 wheels use IPP with FMA).\n"
    )
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(list(OUT.iterdir()))} files, {total / 1024:.0f} KiB in {OUT.name}/")


if __name__ == "__main__":
    main()
