"""Reference trajectories for tests/nn/test_optim.cpp, computed with PyTorch's torch.optim.Adam and
torch.optim.AdamW in float64 (run: python3 optim_reference.py). The gradient at step t is
g = 2·(p − c) + 0.1·t, a function of the current parameters, so the trajectory depends on every update."""
import torch

p0 = [0.5, -1.0, 2.0, 0.0]
c = torch.tensor([1.0, 2.0, -1.0, 0.5], dtype=torch.float64)
configs = [
    ("adam", torch.optim.Adam, dict(lr=0.1, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0)),
    ("adam_l2", torch.optim.Adam, dict(lr=0.05, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1)),
    ("adamw", torch.optim.AdamW, dict(lr=0.1, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.1)),
]
for name, cls, kw in configs:
    p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **kw)
    for t in range(1, 6):
        opt.zero_grad()
        p.grad = (2 * (p.detach() - c) + 0.1 * t)
        opt.step()
    st = opt.state[p]
    print(name, "p", [repr(float(x)) for x in p.detach()])
    print(name, "m", [repr(float(x)) for x in st["exp_avg"]])
    print(name, "v", [repr(float(x)) for x in st["exp_avg_sq"]])
