#!/usr/bin/env bash
# The committed tests/data/pil_reference/ is what scripts/make_pil_references.py makes: reruns it
# (images and manifest; --no-stats skips the 500,000 get_params draws) and compares the pixels.
# SKIPPED (exit 77) where python3-torchvision is missing: it is needed only to regenerate.
set -euo pipefail
script="$1" committed="$2"
py="${STRUCTGAN_PYTHON:-/usr/bin/python3}"  # Debian's, where apt puts torchvision
if ! "$py" -c "import torchvision, PIL" 2>/dev/null; then
  echo "SKIPPED: python3-torchvision is not installed (apt-get install python3-torchvision); the committed references were not regenerated"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" "$script" --no-stats "$tmp" > /dev/null
"$py" - "$committed" "$tmp" <<'PY'
import os, sys
import numpy as np
from PIL import Image
ref, new = sys.argv[1], sys.argv[2]
def body(p):  # the manifest without its version comment
    return [l for l in open(p) if not l.startswith("#")]
assert body(os.path.join(ref, "manifest.txt")) == body(os.path.join(new, "manifest.txt")), "manifest.txt differs"
names = sorted(f for f in os.listdir(new) if f.endswith(".png"))
assert names == sorted(f for f in os.listdir(ref) if f.endswith(".png")), "different PNG files"
for f in names:
    a, b = np.asarray(Image.open(os.path.join(ref, f))), np.asarray(Image.open(os.path.join(new, f)))
    assert a.shape == b.shape and (a == b).all(), f + " differs from the committed one"
print(f"{len(names)} PNGs and the manifest agree with the committed references")
PY
