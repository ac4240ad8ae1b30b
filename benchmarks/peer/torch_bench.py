#!/usr/bin/python3
"""PyTorch peers of bench_core's workloads: same names, shapes, dtype (float32) and thread count.

    torch_bench.py WORKLOAD [--quick] [--threads 2] [--reps 3] [--min-time 0.5]
    torch_bench.py --list
    torch_bench.py --baseline          (imports torch and exits: the process's memory floor)

Timing follows Google Benchmark's rules so both sides are measured alike: one untimed warm-up call,
then `reps` repetitions, each running the workload until `min-time` seconds have passed (at least
once); a repetition's time is its mean per call, and the reported time is the median repetition.
Prints one JSON line: {"workload", "seconds", "reps": [...], "cpu_seconds", "flop", "threads", "shapes"}
(cpu_seconds: the process's CPU time per call, all threads, median repetition).

Written for Debian's python3-torch 1.13 (CPU, oneDNN convolutions) and its bundled functorch.
benchmarks/run_all.py runs it beside bench_core, alternating, in a fresh process per run.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

WORKLOADS = {}


def workload(fn):
    WORKLOADS[fn.__name__] = fn
    return fn


def conv_case(quick):
    return (4, 32, 8) if quick else (64, 128, 16)  # batch, channels, spatial size


def conv_flop(n, o, c, k, ho, wo):
    return 2.0 * n * o * c * k * k * ho * wo


def normal(shape, seed, std=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * std


@workload
def gemm(quick):
    n = 256 if quick else 1024
    a, b = normal((n, n), 1), normal((n, n), 2)
    return (lambda: torch.mm(a, b)), 2.0 * n ** 3


@workload
def conv2d_fwd(quick):
    n, c, hw = conv_case(quick)
    x, w = normal((n, c, hw, hw), 1), normal((c, c, 3, 3), 2, 0.03)

    def step():
        with torch.no_grad():
            return F.conv2d(x, w, padding=1)
    return step, conv_flop(n, c, c, 3, hw, hw)


@workload
def conv2d_fwd_bwd(quick):
    n, c, hw = conv_case(quick)
    x, w = normal((n, c, hw, hw), 1), normal((c, c, 3, 3), 2, 0.03)
    dy = normal((n, c, hw, hw), 3)

    def step():
        xv, wv = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
        F.conv2d(xv, wv, padding=1).backward(dy)
        return xv.grad, wv.grad
    return step, 3.0 * conv_flop(n, c, c, 3, hw, hw)


@workload
def group_norm_fwd_bwd(quick):
    n, c, hw = conv_case(quick)
    x, dy = normal((n, c, hw, hw), 1), normal((n, c, hw, hw), 3)
    gw, gb = normal((c,), 4), normal((c,), 5)

    def step():
        xv = x.detach().requires_grad_(True)
        wv, bv = gw.detach().requires_grad_(True), gb.detach().requires_grad_(True)
        F.group_norm(xv, c // 16, wv, bv, 1e-5).backward(dy)
        return xv.grad
    return step, None


@workload
def avg_pool_fwd_bwd(quick):
    n, c, hw = conv_case(quick)
    x, dy = normal((n, c, hw, hw), 1), normal((n, c, hw // 2, hw // 2), 3)

    def step():
        xv = x.detach().requires_grad_(True)
        F.avg_pool2d(xv, 2).backward(dy)
        return xv.grad
    return step, None


@workload
def group_norm_elu_fwd_bwd(quick):
    n, c, hw = conv_case(quick)
    x, dy = normal((n, c, hw, hw), 1), normal((n, c, hw, hw), 3)
    gw, gb = normal((c,), 4), normal((c,), 5)

    def step():
        xv = x.detach().requires_grad_(True)
        wv, bv = gw.detach().requires_grad_(True), gb.detach().requires_grad_(True)
        F.elu(F.group_norm(xv, c // 16, wv, bv, 1e-5)).backward(dy)
        return xv.grad
    return step, None


@workload
def conv_block_jvp(quick):
    import functorch
    n, c, hw = conv_case(quick)
    w1, w2 = normal((c, c, 3, 3), 2, 0.03), normal((c, c, 3, 3), 3, 0.03)
    gw, gb = torch.ones(c), torch.zeros(c)
    x, v = normal((n, c, hw, hw), 1), normal((n, c, hw, hw), 4)

    def block(inp):  # D's stride-1 residual block, SPEC §1
        h = F.elu(F.conv2d(inp, w1, padding=1))
        h = F.group_norm(F.conv2d(h, w2, padding=1), c // 16, gw, gb, 1e-5)
        return F.elu(h + inp)

    def step():
        return functorch.jvp(block, (x,), (v,))
    return step, 4.0 * conv_flop(n, c, c, 3, hw, hw)


def images(b, s, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, s, s, generator=g) * 2 - 1


@workload
def d_fwd_bwd(quick):
    from torch_nets import Discriminator
    b, s = (2, 16) if quick else (32, 32)
    d, x = Discriminator(), images(b, s, 1)

    def step():
        d.zero_grad()
        ft, f, _, _ = d(x)
        (ft.sum() + f.sum()).backward()
    return step, None


@workload
def g_fwd_bwd(quick):
    from torch_nets import Generator
    b = 2 if quick else 32
    g, z = Generator(ch=16 if quick else 128), normal((b, 128), 2)

    def step():
        g.zero_grad()
        g(z).mean().backward()
    return step, None


@workload
def sigma_grad(quick):
    """σ and its parameter gradient the released code's way (main_cls.compute_jac_sig, SPEC §4)
    for the 64 images of a step (32 real + 32 generated):
    D's forward with the graph kept, a no-grad VJP, a per-sample JVP batched with functorch.vmap,
    then a create_graph VJP giving σ = vᵀ(Jᵀu), and the backward of mean((σ − 1)²)."""
    import functorch
    from torch_nets import Discriminator
    b, s = (2, 16) if quick else (64, 32)  # 32 real + 32 generated images (issue 4)
    d, x0 = Discriminator(), images(b, s, 1)

    def embed_one(xi):
        return d.embed(xi[None])[0]

    def jvp_one(xi, vi):
        return functorch.jvp(embed_one, (xi,), (vi,))[1]

    def step():
        d.zero_grad()
        x = x0.clone().requires_grad_(True)
        feat = d.embed(x)
        u = torch.randn_like(feat)
        with torch.no_grad():
            v, = torch.autograd.grad(feat, x, u, retain_graph=True)
            v = F.normalize(v.flatten(1), dim=-1).reshape(x.shape)
            u = F.normalize(functorch.vmap(jvp_one)(x, v), dim=-1)
        vt, = torch.autograd.grad(feat, x, u, create_graph=True)
        sigma = torch.einsum("nchw,nchw->n", vt, v)
        ((sigma - 1) ** 2).mean().backward()
    return step, None


def unit_rows(n, p, seed):
    return F.normalize(normal((n, p), seed), dim=-1)


@workload
def logdet_distance(quick):
    """d = ½(L([f; f^g]) − ½(L(f) + L(f^g))), L(X) = logdet(I + (p/ε)Σ), Σ around the re-normalized
    mean with divisor n + 1e-5, ε = 0.5 (SPEC §2); log det through a Cholesky factor."""
    n, p = (64, 16) if quick else (512, 128)
    f0, g0 = unit_rows(n, p, 1), unit_rows(n, p, 2)
    eye = torch.eye(p)

    def L(x):
        mu = F.normalize(x.mean(0, keepdim=True), dim=-1)
        xc = x - mu
        cov = xc.t() @ xc / (x.shape[0] + 1e-5)
        chol = torch.linalg.cholesky(eye + (p / 0.5) * cov)
        return 2 * torch.log(torch.diagonal(chol)).sum()

    def step():
        f, g = f0.clone().requires_grad_(True), g0.clone().requires_grad_(True)
        (0.5 * (L(torch.cat([f, g])) - 0.5 * (L(f) + L(g)))).backward()
        return f.grad, g.grad
    return step, None


@workload
def knn_search(quick):
    """Top-(k+1) minus the first of [batch keys; bank keys] by dot product (SPEC §3), k = 1."""
    m, length, q = (32, 1024, 64) if quick else (512, 10240, 512)
    queries, bank = unit_rows(m, q, 1), unit_rows(length, q, 2)
    # The keys [batch; bank] live in one buffer with the bank in place, as structgan's memory bank
    # does: a call writes only the batch's rows (no per-call copy of the bank).
    keys = torch.empty(m + length, q)
    keys[m:] = bank

    def step():
        with torch.no_grad():
            keys[:m].copy_(queries)
            sims = queries @ keys.t()
            return sims.topk(2, dim=1).indices[:, 1:]
    return step, 2.0 * m * (m + length) * q


def run(step, reps, min_time):
    """Per repetition: (wall seconds per call, process CPU seconds per call)."""
    step()  # warm-up: allocations, oneDNN primitive creation
    times, cpu = [], []
    for _ in range(reps):
        calls, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            step()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
        times.append(elapsed / calls)
        cpu.append((time.process_time() - c0) / calls)
    return times, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", nargs="?")
    ap.add_argument("--quick", action="store_true", help="tiny shapes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--baseline", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.list:
        print("\n".join(WORKLOADS))
        return 0
    if a.baseline:
        print(json.dumps({"workload": "baseline", "threads": a.threads, "torch": torch.__version__}))
        return 0
    if a.workload not in WORKLOADS:
        print(f"unknown workload {a.workload!r}; one of: {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    step, flop = WORKLOADS[a.workload](a.quick)
    times, cpu = run(step, a.reps, a.min_time)
    print(json.dumps({"workload": a.workload, "seconds": statistics.median(times), "reps": times,
                      "cpu_seconds": statistics.median(cpu), "flop": flop,
                      "threads": a.threads, "shapes": "quick" if a.quick else "full", "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
