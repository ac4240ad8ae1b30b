#!/usr/bin/python3
"""structgan beside PyTorch, in one command (issue 8).

    benchmarks/run_all.py [--quick] [--json FILE] [--reps N] [--only REGEX] [--threads 2]
                          [--no-build] [--build-dir DIR] [--peer-blas openblas|system] [--no-eval]

1. Builds bench_core (and bench_eval when present) in Release with -march=native and assertions off
   (cmake + ninja -j2 into build-bench).
2. For every workload bench_core knows, runs structgan and its PyTorch peer (benchmarks/peer/*.py)
   alternately, A B A B ..., each run in a fresh process, `--reps` times; each run reports its own
   median-of-repetitions time per call, and the table shows the median over runs.
3. Prints one table: time per call of each side, the speed-up (PyTorch time / structgan time: above
   1 means structgan is faster), GFLOP/s where the FLOP count is known and, as a roofline column,
   that as a fraction of the FLOP/s machine_peak_fma measures in the same run (always run, even with
   --only), and the peak resident memory (ru_maxrss) of each side's processes for that workload.

Both sides run with OMP_NUM_THREADS = --threads (PyTorch also with torch.set_num_threads). PyTorch's
GEMM goes through the system BLAS; by default the peer runs with OpenBLAS (LD_LIBRARY_PATH to
Debian's openblas-pthread) so that it is the strongest PyTorch this machine has; --peer-blas system
uses whatever libblas.so.3 the alternatives point to. Convolutions in PyTorch use oneDNN either way.

The released code's full training step (../shared/peer/released_code_step.py beside the repository,
or --released-step FILE) is the peer of train_step when SAO_OFFICIAL points at an unpacked copy of the
released repository, or when --released-mirror DIR (default: the SAO_MIRROR environment variable)
names a bare git mirror of it (it is then unpacked into a temporary folder).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "benchmarks" / "peer"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
OPENBLAS_DIR = Path("/usr/lib/x86_64-linux-gnu/openblas-pthread")
RELEASED_STEP = ROOT.parent / "shared" / "peer" / "released_code_step.py"  # ../shared beside the repository

RT_PREFIX, GAP = [], 0.0  # set by --rt / --gap

# Workloads that take seconds per call get fewer in-process repetitions.
HEAVY = re.compile(r"^(d_|g_|train_step|sigma)")
# Workloads of well under a millisecond per call, whose median over 3 × 0.3 s moved by more than the
# differences measured: 9 repetitions of at least 1 s each, on both sides.
STABLE = re.compile(r"^(logdet|knn)")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- processes ---------------------------------------------------------------------------------
def run_process(cmd, env, timeout):
    """Runs cmd; returns (returncode, stdout, stderr, seconds, peak RSS in MiB of this process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        deadline = t0 + timeout
        status, usage = None, None
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                status, usage = st, ru
                break
            if time.perf_counter() > deadline:
                p.kill()
                _, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        secs = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), secs, \
            usage.ru_maxrss / 1024.0


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


# ---- build -------------------------------------------------------------------------------------
def build(build_dir, targets):
    cfg = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
           "-DSTRUCTGAN_CUDA=OFF", "-DSTRUCTGAN_NATIVE=ON", "-DSTRUCTGAN_ASSERTIONS=OFF"]
    log("configure:", " ".join(cfg))
    subprocess.run(cfg, check=True, stdout=subprocess.DEVNULL)
    have = subprocess.run(["ninja", "-C", str(build_dir), "-t", "targets", "all"], check=True, capture_output=True,
                          text=True).stdout
    wanted = [t for t in targets if re.search(rf"(^|/){re.escape(t)}:", have, re.M)]
    log("build:", " ".join(wanted))
    r = subprocess.run(["ninja", "-C", str(build_dir), "-j2"] + wanted, capture_output=True, text=True)
    if r.returncode != 0:
        log(r.stdout[-20000:], r.stderr[-5000:])
        sys.exit("build failed")


def find_binary(build_dir, name):
    for p in [build_dir / "benchmarks" / "core" / name, build_dir / "benchmarks" / "eval" / name]:
        if p.exists():
            return p
    return None


# ---- one side of one workload ------------------------------------------------------------------
class Side:
    """How to run one side of a workload and read its time per call (seconds) and FLOP count."""

    def __init__(self, label, cmd, parse, env, timeout):
        self.label, self.cmd, self.parse, self.env, self.timeout = label, cmd, parse, env, timeout
        self.times, self.cpu, self.rss, self.flop, self.error, self.extra = [], [], [], None, None, {}

    def run_once(self):
        if GAP:
            time.sleep(GAP)
        rc, out, err, secs, rss = run_process(RT_PREFIX + self.cmd, self.env, self.timeout)
        self.rss.append(rss)
        if rc != 0:
            self.error = f"exit {rc}: " + (err.strip().splitlines() or ["?"])[-1][:200]
            return
        try:
            t, flop, extra = self.parse(out)
        except Exception as e:  # noqa: BLE001  (a broken side is a row with an error, not a crash)
            self.error = f"unreadable output ({e})"
            return
        self.times.append(t)
        self.flop = flop if flop else self.flop
        extra = dict(extra or {})
        if extra.get("cpu_seconds") is not None:
            self.cpu.append(extra.pop("cpu_seconds"))
        self.extra.update(extra)

    def summary(self):
        if not self.times:
            return None
        return {"seconds": statistics.median(self.times), "runs": self.times, "peak_rss_mib": max(self.rss),
                "cpu_seconds": statistics.median(self.cpu) if self.cpu else None, "flop": self.flop, **self.extra}


def parse_gbench(name):
    def parse(out):
        data = json.loads(out)
        runs = [b for b in data["benchmarks"] if b["name"].split("/")[0] == name]
        if any(b.get("error_occurred") for b in runs):
            raise ValueError(next(b.get("error_message") for b in runs if b.get("error_occurred")))
        per_rep = [b for b in runs if b.get("run_type") == "iteration"]
        med = [b for b in runs if b.get("aggregate_name") == "median"]
        row = med[0] if med else per_rep[0]
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[row.get("time_unit", "ns")]
        return row["real_time"] * scale, row.get("flop"), {"cpu_seconds": row["cpu_time"] * scale}
    return parse


def parse_peer(out):
    d = last_json_line(out)
    return d["seconds"], d.get("flop"), {"cpu_seconds": d.get("cpu_seconds")}


def parse_released(out):
    d = last_json_line(out)
    return d["step"], None, {"released_phases": {k: d[k] for k in ("d_fwd_bwd", "jac_reg", "d_step", "g_step", "step")}}


# ---- the table ---------------------------------------------------------------------------------
def fmt_time(s):
    if s is None:
        return "—"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def add_peak_fractions(rows):
    """The roofline column: each side's GFLOP/s as a fraction of the FLOP/s machine_peak_fma measured
    in the same run with the same threads (independent FMAs on every core: the ceiling a GEMM- or
    convolution-bound workload can approach; a Winograd convolution counts the direct convolution's
    FLOPs, so it can exceed it)."""
    peak = next((r.get("structgan_gflops") for r in rows if r["workload"] == "machine_peak_fma"), None)
    if not peak:
        return
    for r in rows:
        if r["workload"] == "machine_peak_fma":
            continue
        for side in ("structgan", "peer"):
            if r.get(f"{side}_gflops"):
                r[f"{side}_peak_fraction"] = r[f"{side}_gflops"] / peak


def render(rows, title):
    head = ["workload", "structgan", "PyTorch", "speed-up", "structgan GFLOP/s", "PyTorch GFLOP/s",
            "structgan / peak", "PyTorch / peak", "structgan RSS MiB", "PyTorch RSS MiB"]
    pct = lambda x: "—" if x is None else f"{100 * x:.0f}%"  # noqa: E731
    lines = [title, "", "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        o, p = r.get("structgan"), r.get("peer")
        cells = [r["workload"] + (f" ({r['peer_label']})" if r.get("peer_label") not in (None, "pytorch") else ""),
                 fmt_time(o and o["seconds"]) if o else ("error" if r.get("structgan_error") else "—"),
                 fmt_time(p and p["seconds"]) if p else ("error" if r.get("peer_error") else "—"),
                 fmt(r.get("speedup"), ".2f") + ("×" if r.get("speedup") else ""),
                 fmt(r.get("structgan_gflops"), ".1f"), fmt(r.get("peer_gflops"), ".1f"),
                 pct(r.get("structgan_peak_fraction")), pct(r.get("peer_peak_fraction")),
                 fmt(o and o["peak_rss_mib"], ".0f"), fmt(p and p["peak_rss_mib"], ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- main --------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny shapes, one run per side: a fast check of the harness")
    ap.add_argument("--json", metavar="FILE", help="also write the table (and the raw runs) as JSON")
    ap.add_argument("--reps", type=int, help="alternating runs per side (default 3; 1 with --quick)")
    ap.add_argument("--only", metavar="REGEX", help="only workloads whose name matches")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--build-dir", default=str(ROOT / "build-bench"))
    ap.add_argument("--peer-blas", choices=["openblas", "system"], default="openblas")
    ap.add_argument("--no-eval", action="store_true", help="skip the evaluation-protocol rows (bench_eval)")
    ap.add_argument("--released-step", default=str(RELEASED_STEP),
                    help="the released code's step script (default: ../shared/peer/released_code_step.py)")
    ap.add_argument("--released-mirror", default=os.environ.get("SAO_MIRROR"),
                    help="a bare git mirror of the released repository, unpacked when SAO_OFFICIAL is not set")
    ap.add_argument("--rt", action="store_true",
                    help="run every measured process under SCHED_FIFO (chrt -f 10; needs root) so that a shared, "
                         "busy machine's other jobs do not share its cores; both sides alike")
    ap.add_argument("--gap", type=float, default=None,
                    help="seconds to pause between measured processes (default 0; 1 with --rt, so that the other "
                         "jobs on the machine are not starved for long)")
    a = ap.parse_args()
    reps = a.reps or (1 if a.quick else 3)
    global RT_PREFIX, GAP
    RT_PREFIX = ["chrt", "-f", "10"] if a.rt else []
    GAP = a.gap if a.gap is not None else (1.0 if a.rt else 0.0)
    build_dir = Path(a.build_dir)
    t_start = time.perf_counter()
    machine = machine_info()  # the load average before anything of ours runs

    if not a.no_build:
        build(build_dir, ["bench_core", "bench_eval"])
    core = find_binary(build_dir, "bench_core")
    if core is None:
        sys.exit(f"bench_core not found in {build_dir} (is libbenchmark-dev installed?)")

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               MKL_NUM_THREADS=str(a.threads))
    env.pop("STRUCTGAN_BENCH_QUICK", None)
    peer_env = dict(env)
    if a.peer_blas == "openblas" and OPENBLAS_DIR.exists():
        peer_env["LD_LIBRARY_PATH"] = str(OPENBLAS_DIR) + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    quick = ["--quick"] if a.quick else []

    names = subprocess.run([str(core), "--benchmark_list_tests=true"], capture_output=True, text=True,
                           env=env, check=True).stdout.split()
    names = list(dict.fromkeys(n.split("/")[0] for n in names))
    peer_names = set(subprocess.run([PYTHON, str(PEER / "torch_bench.py"), "--list"], capture_output=True, text=True,
                                    env=peer_env, check=True).stdout.split())
    if a.only:
        selected = [n for n in names if re.search(a.only, n)]
        # the roofline column needs the machine's measured peak in the same run (a few ms)
        if "machine_peak_fma" in names and "machine_peak_fma" not in selected:
            selected.append("machine_peak_fma")
        names = selected

    # the released code's step as the peer of train_step
    released_dir, tmp_released = os.environ.get("SAO_OFFICIAL"), None
    released_step, mirror = Path(a.released_step), Path(a.released_mirror) if a.released_mirror else None
    if not released_step.exists():
        released_dir = None
    elif any(n.startswith("train_step") for n in names) and not released_dir and mirror and mirror.exists():
        tmp_released = tempfile.mkdtemp(prefix="sao_official_")
        arch = subprocess.run(["git", f"--git-dir={mirror}", "archive", "HEAD"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp_released], input=arch.stdout, check=True)
        released_dir = tmp_released

    rows = []
    for name in names:
        heavy = bool(HEAVY.match(name))
        min_time = 0.01 if a.quick else (0.2 if heavy else 0.3)
        in_reps = 1 if (a.quick or heavy) else 3
        if STABLE.match(name) and not a.quick:  # sub-millisecond calls: repeated until the median is stable
            min_time, in_reps = 1.0, 9
        timeout = 120 if a.quick else 300
        ours = Side("structgan", [str(core), *quick, "--threads", str(a.threads), f"--benchmark_filter=^{name}(/|$)",
                                  "--benchmark_format=json", f"--benchmark_min_time={min_time}",
                                  f"--benchmark_repetitions={in_reps}"], parse_gbench(name), env, timeout)
        peer, label = None, None
        if name in peer_names:
            label = "pytorch"
            peer = Side(label, [PYTHON, str(PEER / "torch_bench.py"), name, *quick, "--threads", str(a.threads),
                                "--reps", str(in_reps), "--min-time", str(min_time)], parse_peer, peer_env, timeout)
        elif name.startswith("train_step") and released_dir:
            label = "released code"
            full = 64 if name.endswith("_b64") else 32
            batch = str(full // 16 if a.quick else full)  # the same batch as bench_core
            peer = Side(label, [PYTHON, str(released_step), "--batch", batch, "--reps", "1", "--threads",
                                str(a.threads)], parse_released, dict(peer_env, SAO_OFFICIAL=released_dir), 600)
        # 8-35 s per step on each side: one run each (still A B) unless --reps asks for more
        runs = 1 if name.startswith("train_step") and not a.reps else reps
        log(f"{name}: {runs} × ({'structgan' + (', ' + label if label else '')})")
        for _ in range(runs):  # A B A B ...
            ours.run_once()
            if peer:
                peer.run_once()
        row = {"workload": name, "structgan": ours.summary(), "peer": peer.summary() if peer else None,
               "peer_label": label, "structgan_error": ours.error, "peer_error": peer.error if peer else None}
        o, p = row["structgan"], row["peer"]
        if o and p:
            row["speedup"] = p["seconds"] / o["seconds"]
        flop = (o and o.get("flop")) or (p and p.get("flop"))
        if flop:
            row["structgan_gflops"] = flop / o["seconds"] / 1e9 if o else None
            row["peer_gflops"] = flop / p["seconds"] / 1e9 if p else None
        for side in ("structgan", "peer"):
            if row[f"{side}_error"]:
                log(f"  {side} error: {row[side + '_error']}")
        rows.append(row)

    add_peak_fractions(rows)
    if not a.no_eval and not a.quick and not a.only:
        rows += eval_rows(build_dir, env, peer_env, a.threads)

    if tmp_released:
        shutil.rmtree(tmp_released, ignore_errors=True)
    baseline = run_process([PYTHON, str(PEER / "torch_bench.py"), "--baseline"], peer_env, 120)[4]
    title = (f"structgan vs PyTorch {torch_version(peer_env)} — {machine['model']}, {a.threads} threads, "
             f"{'quick' if a.quick else 'full'} shapes, median of {reps} alternating runs per side; "
             f"speed-up = PyTorch time / structgan time (> 1: structgan faster); "
             f"PyTorch RSS includes ~{baseline:.0f} MiB for importing torch; load average at start "
             f"{machine['load']}" + ("; every measured process under SCHED_FIFO (--rt)" if a.rt else ""))
    print(render(rows, title))
    elapsed = time.perf_counter() - t_start
    print(f"\n(total {elapsed:.0f} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"title": title, "machine": machine, "threads": a.threads, "quick": a.quick, "reps": reps,
                       "rt": a.rt,
                       "peer_blas": a.peer_blas, "torch_import_rss_mib": baseline, "seconds_total": elapsed,
                       "rows": rows}, f, indent=1)
    failed = [r["workload"] for r in rows if r.get("structgan_error")]
    return 1 if failed else 0


def eval_rows(build_dir, env, peer_env, threads):
    """The evaluation protocol (bench_eval) beside scikit-learn (eval_sklearn.py), one run each, on
    bench_eval's synthetic data (10,000×512 for k-means, 3 repeats × 5 restarts here; 60,000×512 →
    10,000 for the linear SVM). benchmarks/eval/run_eval_bench.sh runs the full 20 repeats."""
    exe, peer = find_binary(build_dir, "bench_eval"), PEER / "eval_sklearn.py"
    if exe is None or not peer.exists():
        return []
    rows = []
    with tempfile.TemporaryDirectory(prefix="structgan_eval_") as d:
        rc, _, err, _, _ = run_process([str(exe), "gen", d], env, 300)
        if rc != 0:
            log("bench_eval gen failed:", err.strip()[-200:])
            return []
        f = lambda n: f"{d}/{n}.npy"  # noqa: E731
        svm = ["svm", f("svm_train_x"), f("svm_train_y"), f("svm_test_x"), f("svm_test_y")]
        # (row, arguments, threads): LIBLINEAR's LinearSVC is single-threaded, so the SVM is also
        # compared with structgan on one thread; the peer's k-means is the same spherical protocol.
        cases = [("eval_kmeans", ["kmeans", f("kmeans_x"), f("kmeans_y"), "--repeats", "3"], threads),
                 ("eval_svm", svm, threads)]
        if threads != 1:
            cases.append(("eval_svm_1thread", svm, 1))
        for name, args, nt in cases:
            one = {"OMP_NUM_THREADS": str(nt), "OPENBLAS_NUM_THREADS": str(nt), "MKL_NUM_THREADS": str(nt)}
            parse = lambda out: (last_json_line(out)["seconds"], None,  # noqa: E731
                                 {"accuracy": last_json_line(out).get("accuracy")})
            ours = Side("structgan", [str(exe), *args, "--threads", str(nt)], parse, dict(env, **one), 300)
            sk = Side("scikit-learn", [PYTHON, str(peer), *args], parse, dict(peer_env, **one), 300)
            log(f"{name}: 1 × (structgan, scikit-learn)")
            ours.run_once()
            sk.run_once()
            o, p = ours.summary(), sk.summary()
            rows.append({"workload": name, "structgan": o, "peer": p, "peer_label": "scikit-learn",
                         "structgan_error": ours.error, "peer_error": sk.error,
                         "speedup": p["seconds"] / o["seconds"] if o and p else None})
    return rows


def machine_info():
    info = {"model": "?", "cpus": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key, field in [("model", "Model name"), ("family", "CPU family"), ("model_number", "Model"),
                           ("flags", "Flags")]:
            m = re.search(rf"^{field}:\s*(.+)$", out, re.M)
            if m:
                info[key] = m.group(1).strip()
        flags = info.pop("flags", "").split()
        info["isa"] = "avx512f" if "avx512f" in flags else ("avx2+fma" if "fma" in flags else "?")
    except OSError:
        pass
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def torch_version(env):
    r = subprocess.run([PYTHON, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, env=env)
    return r.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
