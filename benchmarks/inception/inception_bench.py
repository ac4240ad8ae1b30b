#!/usr/bin/python3
"""PyTorch peer of bench_inception (issue #23): the same FID Inception-v3 on the same random weights.

    inception_bench.py make WEIGHTS.npz [--seed 0] [--width-divisor 1]
        builds scripts/inception_fid_torch.FidInceptionV3 with the seeded random weights of
        scripts/make_inception_reference.random_state and writes them with
        scripts/convert_inception_weights.convert_state_dict (the .npz train::load_inception_v3 reads)
    inception_bench.py torch WEIGHTS.npz [--batch 50] [--batches 4] [--size 32] [--threads 2]
        loads that file into FidInceptionV3 and times what bench_inception times: batches of
        batch x 3 x size x size images uniform in [-1, 1], F.interpolate to 299x299 (bilinear,
        align_corners=False: pytorch-fid's resize), the network under torch.no_grad(), float32;
        one untimed warm-up batch. Prints one JSON line like bench_inception's.

Written for Debian's python3-torch 1.13 (CPU, oneDNN convolutions); no torchvision.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
from convert_inception_weights import convert_state_dict  # noqa: E402
from inception_fid_torch import FidInceptionV3  # noqa: E402
from make_inception_reference import random_state  # noqa: E402


def cpu_seconds():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def make(args):
    model = FidInceptionV3(args.width_divisor)
    gen = torch.Generator().manual_seed(args.seed)
    convert_state_dict(random_state(model, gen), args.weights)
    print("wrote %s (width divisor %d, seed %d)" % (args.weights, args.width_divisor, args.seed))


def load(path):
    arrays = np.load(path)
    first = arrays["Conv2d_1a_3x3.conv.weight"]
    model = FidInceptionV3(32 // first.shape[0])
    state = {k: torch.from_numpy(np.asarray(arrays[k], dtype=np.float32)) for k in arrays.files}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit("%s: missing %s, unexpected %s" % (path, missing, unexpected))
    return model.eval()


def run_torch(args):
    torch.set_num_threads(args.threads)
    model = load(args.weights)
    gen = torch.Generator().manual_seed(1)

    def features(count):
        x = torch.rand((count, 3, args.size, args.size), generator=gen) * 2 - 1
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        pool3, _ = model(x)
        return pool3

    with torch.no_grad():
        features(args.batch)  # warm-up
        n = args.batch * args.batches
        t0, c0 = time.perf_counter(), cpu_seconds()
        pools = [features(args.batch) for _ in range(args.batches)]
        s, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    pool3 = torch.cat(pools)
    print(json.dumps({"side": "pytorch", "images_per_second": n / s, "seconds": s, "cpu_seconds": cpu, "images": n,
                      "batch": args.batch, "size": args.size, "resize": "pytorch", "threads": torch.get_num_threads(),
                      "feature_dim": pool3.shape[1], "pool3_mean": float(pool3.mean()), "torch": torch.__version__}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("weights")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--width-divisor", type=int, default=1)
    t = sub.add_parser("torch")
    t.add_argument("weights")
    t.add_argument("--batch", type=int, default=50)
    t.add_argument("--batches", type=int, default=4)
    t.add_argument("--size", type=int, default=32)
    t.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    make(args) if args.cmd == "make" else run_torch(args)


if __name__ == "__main__":
    main()
