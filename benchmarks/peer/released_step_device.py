"""The released code's training step (as ../../../shared/peer/released_code_step.py times it on the
CPU) on any PyTorch device, e.g. a GPU: the peer of `fashion_mnist_train --device cuda` step times.

usage: SAO_OFFICIAL=DIR python3 released_step_device.py [--device cuda] [--batch 64] [--size 32] [--reps 5]

DIR is an unpacked copy of github xiao7199/structural-adversarial-objectives. Its modules and loss
functions run unchanged; one iteration is the D step (with the Jacobian regularizer, S = 1) and
the G step, as in its main_cls.py. Prints one JSON line of median seconds per phase.
"""
import argparse, json, os, statistics, sys, time, types

import torch
import torch.nn.functional as F

if not hasattr(torch, "func"):  # PyTorch 1.13: the same functions live in functorch
    import functorch
    torch.func = types.SimpleNamespace(jvp=functorch.jvp, vmap=functorch.vmap)
sys.path.insert(0, os.environ["SAO_OFFICIAL"])
saved_argv, sys.argv = sys.argv, [sys.argv[0]]
from model import Discriminator, Generator_model  # noqa: E402
from utils import compute_adv_loss, compute_knn_loss  # noqa: E402
import main_cls  # noqa: E402
sys.argv = saved_argv

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="cuda")
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--size", type=int, default=32)
ap.add_argument("--reps", type=int, default=5)
a = ap.parse_args()
dev = torch.device(a.device)
torch.manual_seed(0)
opts = types.SimpleNamespace(gn_channel_per_group=16, project_dim=128, cov_queue_len=10240)
D, Dm, G = Discriminator(opts, 10).to(dev), Discriminator(opts, 10).to(dev), Generator_model().to(dev)
optD = torch.optim.AdamW(D.parameters(), lr=2e-4, betas=(0.5, 0.999), weight_decay=0.1)
optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
x0 = torch.rand(a.batch, 3, a.size, a.size, device=dev) * 2 - 1
labels = torch.randint(0, 10, (a.batch,), device=dev)


def clock():
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


times = {"jac_reg": [], "d_step": [], "g_step": [], "step": []}
for rep in range(a.reps + 1):
    t_step = clock()
    for train_d in (True, False):
        x = x0.clone().requires_grad_(True)
        ne, e, logit, _ = D(x)
        gen = G(torch.randn(a.batch, 128, device=dev))
        if train_d:
            gen = gen.detach().requires_grad_(True)
            gne, ge, _, _ = D(gen)
            t = clock()
            sig = main_cls.compute_jac_sig(types.SimpleNamespace(module=D), x, gen, e, ge, iter_num=1)
            jac = (sig - 1).pow(2).mean()
            t_jac = clock() - t
            hinge = ((e.norm(dim=-1) - 1) * (e.norm(dim=-1) < 1).float()).pow(2).mean()
        else:
            gne, ge, _, _ = D(gen)
        adv, _, _ = compute_adv_loss(ne, gne)
        with torch.no_grad():
            bg, gbg = F.normalize(Dm.encoder(torch.cat([x, gen], 0)), dim=-1).chunk(2)
        fs, rs = compute_knn_loss(bg, ne, gbg, gne, D.queue.clone(), D.bg_queue.clone(), 1)
        if train_d:
            loss = adv + 3 * (-fs + rs) + 5 * jac + 20 * hinge + F.cross_entropy(logit, labels)
            optD.zero_grad(); loss.backward(); optD.step()
            t_d = clock() - t_step
            t_g0 = clock()
        else:
            loss = -adv + 3 * (-rs)
            optG.zero_grad(); loss.backward(); optG.step()
            t_g = clock() - t_g0
    t_all = clock() - t_step
    if rep > 0:  # the first iteration warms up
        for k, v in zip(times, (t_jac, t_d, t_g, t_all)):
            times[k].append(v)
print(json.dumps({"peer": f"released-code-pytorch-{torch.__version__}-{a.device}", "batch": a.batch, "size": a.size,
                  **{k: round(statistics.median(v), 5) for k, v in times.items()}}))
