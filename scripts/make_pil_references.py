#!/usr/bin/python3
"""Writes tests/data/pil_reference/: what torchvision 0.14 on PIL images (the released code's
pipeline) makes of a few deterministic, natural-looking images, for test_data_pil_reference.

  /usr/bin/python3 scripts/make_pil_references.py [--no-stats] [OUT_DIR]   # Debian: apt-get install python3-torchvision

Outputs (all small, committed, so that the C++ test needs no Python):
  src_*.png       the inputs (gradients + edges + noise; RGB and gray; CIFAR and ImageNet sizes)
  out_*.png       torchvision's results, uint8, before ToTensor/Normalize
  manifest.txt    one line per case:  name src op interp top left height width out_h out_w flip out
                  op resized_crop: F.resized_crop(img, top, left, height, width, (out_h, out_w), interp)
                  op resize_center: Resize(height) (bilinear, torchvision's default) + CenterCrop(out)
                  flip 1: F.hflip afterwards
  rrc_stats.txt   RandomResizedCrop.get_params(scale 0.5-1, ratio 3/4-4/3) over 100,000 draws per
                  image size: mean and quantiles of the area fraction and of log(w/h) (the
                  150x300 and 100x400 sizes reach the centre-crop fallback).
"""
import math
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F

args = [a for a in sys.argv[1:] if a != "--no-stats"]  # --no-stats: the images only (a quick check)
OUT = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "pil_reference")
os.makedirs(OUT, exist_ok=True)


def natural(h, w, channels, seed):
    """Smooth colour gradients, a disc and a bar with hard edges, fine texture and a little noise:
    exercises both the smooth parts of the kernels and their ringing at edges."""
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for k in range(channels):
        a, b, c = r.uniform(-1, 1, 3)
        g = 128 + 60 * np.sin(a * x / w * 3 + b * y / h * 4 + c * 6) + 30 * (x / w - y / h)
        cy, cx, rad = r.uniform(0.3, 0.7) * h, r.uniform(0.3, 0.7) * w, r.uniform(0.15, 0.3) * min(h, w)
        g = np.where((y - cy) ** 2 + (x - cx) ** 2 < rad ** 2, g * 0.4 + 150 * r.uniform(0, 1), g)
        x0 = int(r.uniform(0.1, 0.6) * w)
        g[:, x0:x0 + max(1, w // 12)] = 255 * r.randint(0, 2)
        g += 12 * np.sin(x * 1.7 + y * 0.9 + k)  # texture near the Nyquist rate: aliasing shows
        g += r.normal(0, 4, size=g.shape)
        planes.append(np.clip(np.rint(g), 0, 255).astype(np.uint8))
    arr = planes[0] if channels == 1 else np.stack(planes, axis=2)
    return Image.fromarray(arr, "L" if channels == 1 else "RGB")


sources = {  # name: (height, width, channels)
    "cifar_rgb": (32, 32, 3),
    "cifar_gray": (32, 32, 1),
    "in_rgb_wide": (180, 240, 3),
    "in_rgb_tall": (211, 158, 3),
    "in_gray_wide": (150, 201, 1),
    "in_gray_small": (120, 160, 1),
}
imgs = {}
for seed, (name, (h, w, c)) in enumerate(sources.items()):
    imgs[name] = natural(h, w, c, 1000 + seed)
    imgs[name].save(os.path.join(OUT, f"src_{name}.png"), optimize=True)

BIC, BIL = T.InterpolationMode.BICUBIC, T.InterpolationMode.BILINEAR
cases = [  # name, source, op, interp, top, left, height, width, out_h, out_w, flip
    ("cifar_up_bicubic", "cifar_rgb", "resized_crop", BIC, 3, 5, 24, 27, 32, 32, 0),
    ("cifar_whole_flip", "cifar_rgb", "resized_crop", BIC, 0, 0, 32, 32, 32, 32, 1),
    ("cifar_up_bilinear", "cifar_rgb", "resized_crop", BIL, 8, 2, 20, 29, 32, 32, 0),
    ("cifar_edge_flip", "cifar_rgb", "resized_crop", BIC, 1, 0, 31, 23, 32, 32, 1),
    ("cifar_gray", "cifar_gray", "resized_crop", BIC, 4, 4, 25, 22, 32, 32, 0),
    ("in_down_bicubic_flip", "in_rgb_wide", "resized_crop", BIC, 10, 20, 150, 170, 128, 128, 1),
    ("in_whole_bicubic", "in_rgb_wide", "resized_crop", BIC, 0, 0, 180, 240, 128, 128, 0),
    ("in_up_bicubic", "in_rgb_wide", "resized_crop", BIC, 40, 50, 100, 90, 128, 128, 0),
    ("in_down_bilinear", "in_rgb_wide", "resized_crop", BIL, 5, 7, 160, 200, 128, 128, 0),
    ("in_tall_bicubic", "in_rgb_tall", "resized_crop", BIC, 3, 1, 205, 150, 128, 128, 0),
    ("in_tall_bilinear_flip", "in_rgb_tall", "resized_crop", BIL, 60, 30, 111, 100, 128, 128, 1),
    ("in_gray_bicubic", "in_gray_wide", "resized_crop", BIC, 12, 33, 130, 150, 128, 128, 0),
    ("in_gray_bilinear", "in_gray_wide", "resized_crop", BIL, 0, 0, 150, 201, 128, 128, 0),
    ("in_small_bicubic", "in_gray_small", "resized_crop", BIC, 10, 10, 100, 120, 128, 128, 0),
    ("test_rgb_wide", "in_rgb_wide", "resize_center", BIL, 0, 0, 144, 0, 128, 128, 0),
    ("test_rgb_tall", "in_rgb_tall", "resize_center", BIL, 0, 0, 144, 0, 128, 128, 0),
    ("test_gray_wide", "in_gray_wide", "resize_center", BIL, 0, 0, 144, 0, 128, 128, 0),
    ("test_gray_small", "in_gray_small", "resize_center", BIL, 0, 0, 144, 0, 128, 128, 0),
]
with open(os.path.join(OUT, "manifest.txt"), "w") as m:
    m.write(f"# torchvision {torchvision.__version__}, Pillow {Image.__version__}; see scripts/make_pil_references.py\n")
    for name, src, op, interp, top, left, h, w, oh, ow, flip in cases:
        img = imgs[src]
        if op == "resized_crop":
            out = F.resized_crop(img, top, left, h, w, [oh, ow], interp)
        else:
            out = T.Compose([T.Resize(h), T.CenterCrop((oh, ow))])(img)
        if flip:
            out = F.hflip(out)
        assert out.size == (ow, oh)
        out.save(os.path.join(OUT, f"out_{name}.png"), optimize=True)
        iname = "bicubic" if interp == BIC else "bilinear"
        m.write(f"{name} src_{src}.png {op} {iname} {top} {left} {h} {w} {oh} {ow} {flip} out_{name}.png\n")

# Files load_image_folder must read although they are unusual: a CMYK JPEG (Adobe, inverted, as
# PIL and Photoshop write it) and what PIL decodes it to, for test_data_image_folder.
cmyk_src = natural(24, 32, 3, 77)
cmyk_src.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
Image.open(os.path.join(OUT, "cmyk.jpg")).convert("RGB").save(os.path.join(OUT, "cmyk_as_rgb.png"))

# RandomResizedCrop.get_params: torchvision's own sampler, seeded.
if "--no-stats" in sys.argv:
    print("wrote", OUT, "(no rrc_stats.txt)")
    sys.exit(0)
N = 100_000
QS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
torch.manual_seed(0)
with open(os.path.join(OUT, "rrc_stats.txt"), "w") as f:
    f.write(f"# RandomResizedCrop.get_params(scale=(0.5, 1), ratio=(3/4, 4/3)), torchvision {torchvision.__version__}\n")
    f.write(f"# draws {N}; quantiles {' '.join(map(str, QS))}\n")
    f.write("# size H W | area_mean  area_q... | logratio_mean  logratio_q...\n")
    # CIFAR; ImageNet-10 stored (shorter side 210); portrait; wide (some tries fail); extreme (all fail).
    for H, W in [(32, 32), (210, 280), (280, 210), (150, 300), (100, 400)]:
        img = torch.empty(1, H, W)  # get_params reads only the size
        area, logr = np.empty(N), np.empty(N)
        for n in range(N):
            i, j, h, w = T.RandomResizedCrop.get_params(img, [0.5, 1.0], [3.0 / 4.0, 4.0 / 3.0])
            assert 0 <= i <= H - h and 0 <= j <= W - w
            area[n], logr[n] = h * w / (H * W), math.log(w / h)
        def quant(v):  # the lower empirical quantile (an observed value: the C++ test brackets it)
            s = np.sort(v)
            return [s[int(math.floor(q * (N - 1)))] for q in QS]
        f.write(f"size {H} {W} | {area.mean():.9f} {' '.join(f'{q:.9f}' for q in quant(area))} | "
                f"{logr.mean():.9f} {' '.join(f'{q:.9f}' for q in quant(logr))}\n")
print("wrote", OUT)

