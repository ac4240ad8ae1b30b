#!/usr/bin/env bash
# scripts/make_inception_reference.py reproduces the committed tests/nn/data/inception/, and
# scripts/convert_inception_weights.py converts a .pth state_dict (num_batches_tracked included) to
# the same arrays and rejects a missing or wrongly shaped tensor, naming it.
# SKIPPED (exit 77) where torch is missing: it is needed only to regenerate or convert.
set -euo pipefail
scripts="$1" committed="$2"
py="${STRUCTGAN_PYTHON:-/usr/bin/python3}"  # Debian's, where apt puts python3-torch
if ! "$py" -c "import torch, numpy" 2>/dev/null; then
  echo "SKIPPED: python3-torch is not installed (apt-get install python3-torch)"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" "$scripts/make_inception_reference.py" "$tmp/ref" > /dev/null
"$py" - "$committed" "$tmp" "$scripts" <<'PY'
import json, os, subprocess, sys
import numpy as np
import torch
committed, tmp, scripts = sys.argv[1:4]
for name in ("weights.npz", "reference.npz"):
    a, b = np.load(os.path.join(committed, name)), np.load(os.path.join(tmp, "ref", name))
    assert sorted(a.files) == sorted(b.files), name + ": different members"
    for k in a.files:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, name + ": " + k
        assert np.allclose(a[k], b[k], rtol=1e-12, atol=1e-14), name + ": " + k + " differs from the committed one"
assert json.load(open(os.path.join(committed, "full_size_tensors.json"))) == \
    json.load(open(os.path.join(tmp, "ref", "full_size_tensors.json")))

weights = np.load(os.path.join(committed, "weights.npz"))
sd = {k: torch.from_numpy(weights[k].astype(np.float64)) for k in weights.files}
sd["Conv2d_1a_3x3.bn.num_batches_tracked"] = torch.tensor(7)
def convert(state, out):
    torch.save(state, os.path.join(tmp, "in.pth"))
    return subprocess.run([sys.executable, os.path.join(scripts, "convert_inception_weights.py"),
                           os.path.join(tmp, "in.pth"), os.path.join(tmp, out)], capture_output=True, text=True)
r = convert(sd, "ok.npz")
assert r.returncode == 0, r.stderr
out = np.load(os.path.join(tmp, "ok.npz"))
assert sorted(out.files) == sorted(weights.files)
assert all(out[k].dtype == np.float32 and (out[k] == weights[k]).all() for k in weights.files)
bad = dict(sd); del bad["Mixed_6c.branch7x7dbl_4.bn.running_var"]
r = convert(bad, "missing.npz")
assert r.returncode == 1 and "Mixed_6c.branch7x7dbl_4.bn.running_var" in r.stderr, r.stderr
assert not os.path.exists(os.path.join(tmp, "missing.npz"))
bad = dict(sd); bad["fc.weight"] = bad["fc.weight"].T.contiguous()
r = convert(bad, "shape.npz")
assert r.returncode == 1 and "fc.weight" in r.stderr and "shape" in r.stderr, r.stderr
print("the reference script reproduces the committed data; the converter converts and rejects as expected")
PY
