#!/usr/bin/python3
"""Writes tests/nn/data/inception/: a reference for the C++ FID Inception-v3 and its input path
(tests/nn/test_inception.cpp), with random weights, so that no test needs the real ones.

  /usr/bin/python3 scripts/make_inception_reference.py [OUT_DIR]     # needs torch and numpy only

Outputs (small, committed):
  weights.npz          the FID Inception-v3 at width divisor 16 with seeded random weights (BatchNorm
                       statistics random too, variances positive), float32, written by
                       convert_inception_weights.convert_state_dict (the converter's own code path)
  reference.npz        float64:
    images, pool3, logits              2 images 3x40x33 in [-1, 1] -> F.interpolate(299x299, bilinear,
                                       align_corners=False) -> the network in float64
    images_u8, pool3_u8, logits_u8     2 images 3x37x50 of bytes (stored as float64) -> x/255 ->
                                       F.interpolate -> 2x - 1 -> the network (pytorch-fid's order)
    pt_mh, pt_mw                       F.interpolate's per-axis matrices for 40 -> 299 and 33 -> 299,
                                       read off by resizing one-hot images
    pt_299_sub, pt_17x13               F.interpolate of images[0] to 299x299 (every 7th row, 5th
                                       column kept) and to 17x13 (all of it)
    tf1_mh, tf1_mw, tf1_299_sub, tf1_17x13   the same for TensorFlow 1.x's resize_bilinear
                                       (align_corners=False) as torch-fidelity computes it
                                       (interpolate_bilinear_2d_like_tensorflow1x, method 'slow'),
                                       restated here with gathers: source coordinate i*scale in
                                       float32, floor, upper neighbour clamped
  full_size_tensors.json  the full-size network's state_dict names and shapes (no
                       num_batches_tracked) and its parameter count as PyTorch reports it
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_inception_weights import convert_state_dict  # noqa: E402
from inception_fid_torch import FidInceptionV3  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                                          "nn", "data", "inception")
DIVISOR = 16


def random_state(model, gen):
    """Seeded random weights: He-scaled convolutions, BatchNorm gamma/beta/mean and positive variances."""
    sd = {}
    for k, v in model.state_dict().items():
        if k.endswith(".num_batches_tracked"):
            sd[k] = v
            continue
        shape = tuple(v.shape)
        if k.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            t = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif k.endswith("bn.weight"):
            t = 0.5 + torch.rand(shape, generator=gen)
        elif k.endswith("bn.bias"):
            t = 0.2 * torch.randn(shape, generator=gen)
        elif k.endswith("bn.running_mean"):
            t = 0.1 * torch.randn(shape, generator=gen)
        elif k.endswith("bn.running_var"):
            t = 0.5 + 1.5 * torch.rand(shape, generator=gen)
        elif k == "fc.weight":
            t = torch.randn(shape, generator=gen) / shape[1] ** 0.5
        elif k == "fc.bias":
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            raise KeyError(k)
        sd[k] = t.float()  # float32 values, exact in double too
    return sd


def tf1_matrix(n_in, n_out):
    """TF1 resize_bilinear (align_corners=False) as a matrix, via the gather formula."""
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.arange(n_out, dtype=np.float32) * scale  # float32, as TF1 and torch-fidelity on float32
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (src - lo.astype(np.float32)).astype(np.float64)
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m, lo, hi, frac


def tf1_resize(x, oh, ow):
    """x (C x H x W, float64) resized the TF1 way with gathers, torch-fidelity's 'slow' method."""
    _, ylo, yhi, dy = tf1_matrix(x.shape[1], oh)
    _, xlo, xhi, dx = tf1_matrix(x.shape[2], ow)
    top = x[:, ylo, :]
    bottom = x[:, yhi, :]
    t0, t1 = top[:, :, xlo], top[:, :, xhi]
    b0, b1 = bottom[:, :, xlo], bottom[:, :, xhi]
    t = t0 + (t1 - t0) * dx[None, None, :]
    b = b0 + (b1 - b0) * dx[None, None, :]
    return t + (b - t) * dy[None, :, None]


def pt_matrix(n_in, n_out):
    """F.interpolate's matrix along one axis: resize one-hot columns (height n_in, width 1)."""
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 1, n_in, 1)
    out = F.interpolate(eye, size=(n_out, 1), mode="bilinear", align_corners=False)  # width 1 -> 1: identity
    return out.reshape(n_in, n_out).T.numpy().copy()


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261205)

    full = FidInceptionV3(1)
    shapes = [[k, list(v.shape)] for k, v in full.state_dict().items() if not k.endswith(".num_batches_tracked")]
    count = sum(p.numel() for p in full.parameters())
    with open(os.path.join(OUT, "full_size_tensors.json"), "w") as f:
        # One tensor a line (valid JSON; the C++ test reads it with a regular expression).
        f.write('{"parameter_count": %d,\n "tensors": [\n' % count)
        f.write(",\n".join("  " + json.dumps(e) for e in shapes))
        f.write("\n ]}\n")

    model = FidInceptionV3(DIVISOR).eval()
    sd = random_state(model, gen)
    model.load_state_dict(sd)
    convert_state_dict(sd, os.path.join(OUT, "weights.npz"))
    model = model.double()

    images = torch.rand((2, 3, 40, 33), generator=gen, dtype=torch.float64) * 2 - 1
    images_u8 = torch.randint(0, 256, (2, 3, 37, 50), generator=gen).to(torch.float64)
    with torch.no_grad():
        pool3, logits = model(F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False))
        x = F.interpolate(images_u8 / 255, size=(299, 299), mode="bilinear", align_corners=False)
        pool3_u8, logits_u8 = model(2 * x - 1)
    assert pool3.abs().max() > 1e-3 and torch.isfinite(logits).all(), "degenerate reference activations"

    src = images[0]
    pt_299 = F.interpolate(src[None], size=(299, 299), mode="bilinear", align_corners=False)[0]
    pt_17x13 = F.interpolate(src[None], size=(17, 13), mode="bilinear", align_corners=False)[0]
    pt_mh, pt_mw = pt_matrix(40, 299), pt_matrix(33, 299)
    # The matrices read off F.interpolate reproduce it (a self-check of pt_matrix).
    assert np.allclose(np.einsum("ih,chw,jw->cij", pt_mh, src.numpy(), pt_mw), pt_299.numpy(), rtol=0, atol=1e-12)

    s = src.numpy()
    tf1_mh, tf1_mw = tf1_matrix(40, 299)[0], tf1_matrix(33, 299)[0]
    tf1_299, tf1_17x13 = tf1_resize(s, 299, 299), tf1_resize(s, 17, 13)
    assert np.allclose(np.einsum("ih,chw,jw->cij", tf1_mh, s, tf1_mw), tf1_299, rtol=0, atol=1e-12)

    arrays = dict(images=images.numpy(), pool3=pool3.numpy(), logits=logits.numpy(),
             images_u8=images_u8.numpy(), pool3_u8=pool3_u8.numpy(), logits_u8=logits_u8.numpy(),
             pt_mh=pt_mh, pt_mw=pt_mw, pt_299_sub=pt_299.numpy()[:, ::7, ::5].copy(), pt_17x13=pt_17x13.numpy(),
             tf1_mh=tf1_mh, tf1_mw=tf1_mw, tf1_299_sub=tf1_299[:, ::7, ::5], tf1_17x13=tf1_17x13)
    # C order throughout (structgan's .npy reader rejects Fortran order)
    np.savez(os.path.join(OUT, "reference.npz"), **{k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %s: %d bytes; full-size parameter count %d" % (OUT, total, count))


if __name__ == "__main__":
    main()
