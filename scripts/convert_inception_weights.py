#!/usr/bin/python3
"""Converts pytorch-fid's Inception weights (a PyTorch state_dict) into the .npz file structgan reads
(train::load_inception_v3, include/structgan/train/inception.hpp).

  /usr/bin/python3 scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth inception.npz

The input is https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
(pytorch-fid, Apache 2.0; the weights are TensorFlow's Inception of 2015-12-05, see docs/image_metrics.md).
Nothing is downloaded: fetch the file yourself. Needs only torch and numpy (Debian: python3-torch).

The output holds every tensor as float32 under its state_dict name ("Conv2d_1a_3x3.conv.weight",
"Mixed_5b.branch_pool.bn.running_var", "fc.weight", ...), BatchNorm's num_batches_tracked dropped. The
keys and shapes are checked against the architecture (inception_fid_torch.py); the width divisor is
read from Conv2d_1a_3x3.conv.weight (32 output channels at full width). The file is written to a
temporary name beside the output and renamed into place.
"""
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inception_fid_torch import VALID_DIVISORS, expected_shapes  # noqa: E402


def width_divisor_of(state_dict):
    w = state_dict.get("Conv2d_1a_3x3.conv.weight")
    if w is None:
        raise ValueError("not an Inception state_dict: no tensor Conv2d_1a_3x3.conv.weight")
    if w.ndim != 4 or w.shape[0] < 1 or 32 % w.shape[0] or 32 // w.shape[0] not in VALID_DIVISORS:
        raise ValueError("Conv2d_1a_3x3.conv.weight has shape %s, expected [32/d, 3, 3, 3]" % (tuple(w.shape),))
    return 32 // w.shape[0]


def checked_arrays(state_dict):
    """name -> float32 array, after checking names and shapes against the architecture."""
    d = width_divisor_of(state_dict)
    expected = expected_shapes(d)
    got = {k: v for k, v in state_dict.items() if not k.endswith(".num_batches_tracked")}
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing:
        raise ValueError("missing tensors: %s" % ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    if extra:
        raise ValueError("unexpected tensors: %s" % ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else ""))
    out = {}
    for k, shape in expected.items():
        v = got[k]
        if tuple(v.shape) != shape:
            raise ValueError("tensor %s has shape %s, expected %s" % (k, tuple(v.shape), shape))
        a = v.detach().cpu().numpy().astype(np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError("tensor %s holds NaN or Inf" % k)
        out[k] = a
    return out


def write_npz_atomically(path, arrays):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".convert_inception_", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; the output gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def convert_state_dict(state_dict, out_path):
    """Checks a state_dict and writes it as float32 .npz (the path the reference script uses too)."""
    arrays = checked_arrays(state_dict)
    write_npz_atomically(out_path, arrays)
    return arrays


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    state_dict = torch.load(argv[1], map_location="cpu")
    if not isinstance(state_dict, dict):
        sys.stderr.write("%s: expected a state_dict (a dict of tensors), got %s\n" % (argv[1], type(state_dict).__name__))
        return 1
    try:
        arrays = convert_state_dict(state_dict, argv[2])
    except ValueError as e:
        sys.stderr.write("%s: %s\n" % (argv[1], e))
        return 1
    n = sum(a.size for k, a in arrays.items() if "running_" not in k)
    print("wrote %s: %d tensors, %d parameters, width divisor %d" % (argv[2], len(arrays), n, width_divisor_of(state_dict)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
