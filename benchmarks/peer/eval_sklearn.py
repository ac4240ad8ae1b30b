#!/usr/bin/python3
"""scikit-learn peer of bench_eval (structgan's evaluation protocol, SPEC §6), same .npy data.

    eval_sklearn.py kmeans X.npy Y.npy [--repeats 20] [--restarts 5] [--protocol spherical|euclidean]
    eval_sklearn.py svm TRAIN_X TRAIN_Y TEST_X TEST_Y [--c 1.0]

k-means (--protocol spherical, the default: structgan's protocol): rows L2-normalized, per start
scikit-learn's k-means++ seeding (kmeans_plusplus) then Lloyd steps with the centers re-normalized
(max 300, stop when Σ‖Δc‖² ≤ 1e-6 or no label changes), `restarts` starts, the lowest inertia kept.
--protocol euclidean: KMeans(n_clusters=K, n_init=restarts, max_iter=300, tol=1e-6, algorithm="lloyd")
on the normalized rows (centers not re-normalized: a different algorithm, kept for comparison).
Either repeated `repeats` times (random_state = repeat), clusters matched to classes with
scipy's linear_sum_assignment on the count matrix; mean/std (ddof 0) of the accuracy.
SVM: rows L2-normalized, LinearSVC(C) with its defaults (squared hinge, tol 1e-4, intercept); --solver picks
dual=True/False as structgan's SvmSolver does ("auto": the primal problem when samples outnumber features,
scikit-learn ≥ 1.3's dual="auto", spelled out for Debian's 1.2).
Threads: set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS in the environment (run_eval_bench.sh uses 2).
Prints one JSON line like bench_eval (seconds: wall; cpu_seconds: user+sys of all threads).
"""
import argparse
import json
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.svm import LinearSVC


def normalize(x):
    x = np.asarray(x)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cluster_accuracy(y, c):
    classes, yi = np.unique(y, return_inverse=True)
    clusters, ci = np.unique(c, return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)))
    np.add.at(counts, (ci, yi), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / len(y)


def spherical_kmeans(x, k, restarts, seed, max_iter=300, tol=1e-6):
    """Labels of the lowest-inertia start of spherical k-means on unit rows x (float32 BLAS)."""
    rng = np.random.RandomState(seed)
    x = x.astype(np.float32)
    best, best_inertia = None, np.inf
    for _ in range(restarts):
        c, _ = kmeans_plusplus(x, k, random_state=rng)
        labels = None
        for _ in range(max_iter):
            sims = x @ c.T
            new = sims.argmax(1)
            sums = np.zeros_like(c)
            np.add.at(sums, new, x)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            empty = norms[:, 0] == 0
            if empty.any():  # an empty cluster takes the point farthest from its center
                far = np.argsort(sims[np.arange(len(x)), new])[: empty.sum()]
                sums[empty], norms[empty] = x[far], 1.0
            moved = ((sums / norms - c) ** 2).sum()
            c = sums / norms
            changed = labels is None or (new != labels).any()
            labels = new
            if moved <= tol or not changed:
                break
        inertia = float((2 - 2 * (x @ c.T)[np.arange(len(x)), labels]).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["kmeans", "svm"])
    p.add_argument("files", nargs="+")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--restarts", type=int, default=5)
    p.add_argument("--c", type=float, default=1.0)
    p.add_argument("--solver", choices=["auto", "dual", "primal"], default="auto")
    p.add_argument("--protocol", choices=["spherical", "euclidean"], default="spherical")
    a = p.parse_args()
    info = {}
    try:
        from threadpoolctl import threadpool_info
        info = {d.get("internal_api", "?"): [d.get("num_threads"), d.get("architecture")] for d in threadpool_info()}
    except Exception:  # threadpoolctl is optional
        pass
    if a.mode == "kmeans":
        x = normalize(np.load(a.files[0]))
        y = np.load(a.files[1])
        k = len(np.unique(y))
        c0, t0 = time.process_time(), time.perf_counter()
        accs = []
        for r in range(a.repeats):
            if a.protocol == "spherical":
                accs.append(cluster_accuracy(y, spherical_kmeans(x, k, a.restarts, r)))
            else:
                km = KMeans(n_clusters=k, n_init=a.restarts, max_iter=300, tol=1e-6, algorithm="lloyd", random_state=r)
                accs.append(cluster_accuracy(y, km.fit_predict(x)))
        t1, c1 = time.perf_counter(), time.process_time()
        out = {"what": "kmeans_protocol", "side": "sklearn", "seconds": t1 - t0, "cpu_seconds": c1 - c0, "accuracy": float(np.mean(accs)),
               "accuracy_std": float(np.std(accs)), "repeats": a.repeats, "restarts": a.restarts,
               "protocol": a.protocol}
    else:
        trx, try_ = normalize(np.load(a.files[0])), np.load(a.files[1])
        tex, tey = normalize(np.load(a.files[2])), np.load(a.files[3])
        c0, t0 = time.process_time(), time.perf_counter()
        dual = a.solver == "dual" or (a.solver == "auto" and trx.shape[0] <= trx.shape[1])
        svm = LinearSVC(C=a.c, dual=dual).fit(trx, try_)
        acc = float((svm.predict(tex) == tey).mean())
        t1, c1 = time.perf_counter(), time.process_time()
        out = {"what": "svm", "side": "sklearn", "seconds": t1 - t0, "cpu_seconds": c1 - c0, "accuracy": acc,
               "solver": "dual" if dual else "primal"}
    out["threadpools"] = info
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
