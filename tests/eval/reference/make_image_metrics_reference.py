#!/usr/bin/python3
"""Writes the reference data of tests/eval/test_image_metrics.cpp, test_npz.cpp and test_cli.cpp.

Run from anywhere with Debian's /usr/bin/python3 (python3-numpy, python3-scipy); it rewrites the files next to
this script. The expected values follow the public reference implementations, re-implemented here:
  - FID as pytorch-fid computes it (mseitzer/pytorch-fid, fid_score.py): mu = mean, sigma = np.cov(rowvar=False)
    (ddof 1), then |mu1 - mu2|^2 + Tr(s1) + Tr(s2) - 2 Tr(scipy.linalg.sqrtm(s1 @ s2)), retried with 1e-6 * I
    added to both covariances when that square root is not finite, real part taken when the imaginary part is
    small.
  - KID and IS as torch-fidelity computes them (toshas/torch-fidelity, metric_kid.py, metric_isc.py).
Features are float64 so that numpy computes every statistic in double, as the C++ side does.
"""
import json
import os

import numpy as np
import scipy.linalg

HERE = os.path.dirname(os.path.abspath(__file__))


def fid_statistics(x):
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


def pytorch_fid_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Returns (FID, whether the eps * I retry was needed)."""
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    retried = not np.isfinite(covmean).all()
    if retried:
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("imaginary component %g" % np.max(np.abs(covmean.imag)))
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)), bool(retried)


def exact_fid(a, b):
    """FID without any eps: Tr sqrt(s1^1/2 s2 s1^1/2) is the nuclear norm of A1 A2^T / sqrt((n1-1)(n2-1)), with
    A the centered feature rows (the non-zero eigenvalues of s1 s2 are the squared singular values of that
    product). An independent route (SVD of an n1 x n2 matrix) that stays exact when N < D."""
    a0, b0 = a - a.mean(axis=0), b - b.mean(axis=0)
    mu1, s1 = fid_statistics(a)
    mu2, s2 = fid_statistics(b)
    tr_sqrt = np.linalg.svd(a0 @ b0.T, compute_uv=False).sum() / np.sqrt((len(a) - 1) * (len(b) - 1))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def polynomial_mmd2_unbiased(x, y):
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m = x.shape[0]
    sum_xx = kxx.sum() - np.trace(kxx)
    sum_yy = kyy.sum() - np.trace(kyy)
    return (sum_xx + sum_yy) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)


def torch_fidelity_kid(x, y, subsets, subset_size, seed):
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        # same draws, in the same order, as torch-fidelity: x's subset, then y's
        ix = rng.choice(len(x), subset_size, replace=False)
        iy = rng.choice(len(y), subset_size, replace=False)
        mmds[i] = polynomial_mmd2_unbiased(x[ix], y[iy])
    return float(np.mean(mmds)), float(np.std(mmds))


def inception_score(logits, splits, shuffle_seed=None):
    if shuffle_seed is not None:  # torch-fidelity's default (isc_samples_shuffle, rng_seed 2020)
        logits = logits[np.random.RandomState(shuffle_seed).permutation(len(logits))]
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    n = len(logits)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        log_q = np.log(p[lo:hi].mean(axis=0, keepdims=True))
        scores.append(np.exp((p[lo:hi] * (log_p[lo:hi] - log_q)).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def main():
    rng = np.random.default_rng(20261205)
    d = 16
    # well conditioned: correlated Gaussians with different means and covariances
    a = rng.standard_normal((200, d)) @ (np.eye(d) + 0.3 * rng.standard_normal((d, d))) + 0.5
    b = rng.standard_normal((200, d)) @ (0.8 * np.eye(d) + 0.2 * rng.standard_normal((d, d))) - 0.25
    # singular: fewer samples than dimensions on both sides (ranks 9 and 11 in 32-D)
    sa = rng.standard_normal((10, 32)) * 2.0
    sb = rng.standard_normal((12, 32)) + 0.3
    # logits: 100 samples, 10 classes, peaked enough for an IS well above 1
    logits = 3.0 * rng.standard_normal((100, 10))
    files = {"fid_a.npy": a, "fid_b.npy": b, "singular_a.npy": sa, "singular_b.npy": sb, "logits.npy": logits}
    for name, x in files.items():
        np.save(os.path.join(HERE, name), x)

    mu_a, s_a = fid_statistics(a)
    mu_b, s_b = fid_statistics(b)
    np.savez(os.path.join(HERE, "stats_a.npz"), mu=mu_a, sigma=s_a)
    np.savez_compressed(os.path.join(HERE, "stats_a_compressed.npz"), mu=mu_a, sigma=s_a)

    fid, fid_retried = pytorch_fid_distance(mu_a, s_a, mu_b, s_b)
    fid_singular, singular_retried = pytorch_fid_distance(*fid_statistics(sa), *fid_statistics(sb))
    kid = torch_fidelity_kid(a, b, subsets=10, subset_size=50, seed=2020)
    kid_seed7 = torch_fidelity_kid(a, b, subsets=25, subset_size=37, seed=7)
    kid_full = torch_fidelity_kid(a, b, subsets=3, subset_size=200, seed=2020)
    ref = {
        "generator": "tests/eval/reference/make_image_metrics_reference.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "fid": {"a": "fid_a.npy", "b": "fid_b.npy", "pytorch_fid": fid, "eps_retry": fid_retried,
                "exact": exact_fid(a, b), "trace_sigma_a": float(np.trace(s_a))},
        "fid_singular": {"a": "singular_a.npy", "b": "singular_b.npy", "pytorch_fid": fid_singular,
                         "eps_retry": singular_retried, "exact": exact_fid(sa, sb)},
        "kid": [
            {"subsets": 10, "subset_size": 50, "seed": 2020, "mean": kid[0], "std": kid[1]},
            {"subsets": 25, "subset_size": 37, "seed": 7, "mean": kid_seed7[0], "std": kid_seed7[1]},
            {"subsets": 3, "subset_size": 200, "seed": 2020, "mean": kid_full[0], "std": kid_full[1]},
        ],
        "inception_score": [
            {"splits": 10, "mean": inception_score(logits, 10)[0], "std": inception_score(logits, 10)[1]},
            {"splits": 7, "mean": inception_score(logits, 7)[0], "std": inception_score(logits, 7)[1]},
            {"splits": 10, "shuffle_seed": 2020, "mean": inception_score(logits, 10, 2020)[0],
             "std": inception_score(logits, 10, 2020)[1]},
        ],
        # numpy's legacy RandomState draws, which the C++ side reproduces to pick torch-fidelity's subsets
        "random_state": [
            {"seed": 2020, "n": 10, "permutation": np.random.RandomState(2020).permutation(10).tolist()},
            {"seed": 7, "n": 1000, "permutation_head": np.random.RandomState(7).permutation(1000)[:20].tolist()},
        ],
    }
    with open(os.path.join(HERE, "image_metrics_reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(json.dumps(ref, indent=2))


if __name__ == "__main__":
    main()
