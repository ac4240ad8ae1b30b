"""PyTorch versions of structgan's networks for the benchmark peers, written from SPEC §1.

Discriminator: the CIFAR ResNet-18 of SPEC §1 (ELU, GroupNorm with 16 channels per group, no stem
normalization, avg-pool-then-conv downsampling, projection head, linear probe on the detached
backbone feature). Generator: unconditional BigGAN-deep at 32×32 (conditional BatchNorm driven by
z' = SNLinear(z), every conv and linear spectrally normalized with one power iteration per training
forward, eps 1e-6). `check_counts()` asserts the parameter counts SPEC §1 gives.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm


def _conv(cin, cout, k):
    c = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
    nn.init.kaiming_normal_(c.weight, mode="fan_out", nonlinearity="relu")
    return c


class Block(nn.Module):
    """h = GN(conv3×3(ELU(conv3×3(avgpool_s(x))))); skip = x or GN(conv1×1(avgpool_s(x))); ELU(h + skip)."""

    def __init__(self, cin, cout, stride, cpg=16):
        super().__init__()
        self.stride = stride
        self.conv1, self.conv2 = _conv(cin, cout, 3), _conv(cout, cout, 3)
        self.gn2 = nn.GroupNorm(max(1, cout // cpg), cout, eps=1e-5)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(_conv(cin, cout, 1), nn.GroupNorm(max(1, cout // cpg), cout, eps=1e-5))

    def forward(self, x):
        xp = F.avg_pool2d(x, self.stride) if self.stride > 1 else x
        h = self.gn2(self.conv2(F.elu(self.conv1(xp))))
        return F.elu(h + (self.shortcut(xp) if self.shortcut is not None else x))


class Discriminator(nn.Module):
    def __init__(self, classes=10, embed_dim=128):
        super().__init__()
        self.stem = _conv(3, 64, 3)
        blocks, cin = [], 64
        for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            for b in range(2):
                blocks.append(Block(cin, width, stride if b == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(512, 512), nn.ELU(), nn.Linear(512, embed_dim))
        self.probe = nn.Linear(512, classes)

    def backbone(self, x):
        return self.blocks(F.elu(self.stem(x))).mean(dim=(2, 3))

    def embed(self, x):
        """f̃: the unnormalized embedding (what the Jacobian regularizer differentiates)."""
        return self.head(self.backbone(x))

    def forward(self, x):
        fb = self.backbone(x)
        ft = self.head(fb)
        return ft, F.normalize(ft, dim=-1), fb, self.probe(fb.detach())


def _sn(m):
    return spectral_norm(m, eps=1e-6)


class CBN(nn.Module):
    """BatchNorm (no affine) · (1 + gain(y)) + bias(y), gain and bias SNLinear without bias."""

    def __init__(self, c, ydim):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, affine=False, eps=1e-5, momentum=0.1)
        self.gain, self.bias = _sn(nn.Linear(ydim, c, bias=False)), _sn(nn.Linear(ydim, c, bias=False))

    def forward(self, x, y):
        return self.bn(x) * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


class GBlock(nn.Module):
    def __init__(self, cin, cout, up, ydim):
        super().__init__()
        mid, self.cout, self.up = cin // 4, cout, up
        self.cbn1, self.cbn2, self.cbn3, self.cbn4 = CBN(cin, ydim), CBN(mid, ydim), CBN(mid, ydim), CBN(mid, ydim)
        self.conv1 = _sn(nn.Conv2d(cin, mid, 1))
        self.conv2 = _sn(nn.Conv2d(mid, mid, 3, padding=1))
        self.conv3 = _sn(nn.Conv2d(mid, mid, 3, padding=1))
        self.conv4 = _sn(nn.Conv2d(mid, cout, 1))

    def forward(self, x, y):
        h = self.conv1(F.relu(self.cbn1(x, y)))
        h = F.relu(self.cbn2(h, y))
        skip = x[:, :self.cout]
        if self.up:
            h, skip = F.interpolate(h, scale_factor=2, mode="nearest"), F.interpolate(skip, scale_factor=2, mode="nearest")
        h = self.conv2(h)
        h = self.conv3(F.relu(self.cbn3(h, y)))
        h = self.conv4(F.relu(self.cbn4(h, y)))
        return h + skip


class Generator(nn.Module):
    def __init__(self, ch=128, zdim=128, bottom=4):
        super().__init__()
        c = 4 * ch
        self.c, self.bottom = c, bottom
        self.first_linear = _sn(nn.Linear(zdim, zdim))
        self.linear = _sn(nn.Linear(zdim, c * bottom * bottom))
        self.blocks = nn.ModuleList([GBlock(c, c, up, zdim) for _ in range(3) for up in (False, True)])
        self.out_bn = nn.BatchNorm2d(c, eps=1e-5)
        self.out_conv = _sn(nn.Conv2d(c, 3, 3, padding=1))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight_orig if hasattr(m, "weight_orig") else m.weight, mode="fan_out")

    def forward(self, z):
        y = self.first_linear(z)
        h = self.linear(y).view(z.shape[0], self.c, self.bottom, self.bottom)
        for b in self.blocks:
            h = b(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


def count(m):
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def check_counts():
    d = Discriminator()
    stem_blocks = count(d.stem) + count(d.blocks)
    assert stem_blocks == 11_164_864, stem_blocks
    assert count(d.head) == 328_320 and count(d.probe) == 5_130
    g = Generator()
    assert count(g) == 5_025_667, count(g)
    return True


if __name__ == "__main__":
    print("parameter counts match SPEC §1:", check_counts())
