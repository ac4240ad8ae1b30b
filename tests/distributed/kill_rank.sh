#!/usr/bin/env bash
# One rank of a 2-process training run (double_spiral under mpirun) is killed with SIGKILL once the
# run has written a checkpoint: mpirun must end the other rank and exit non-zero within 60 s (no
# rank left waiting in a collective), and the last checkpoint must load (a resumed run on one
# process reads it and stops at once).
# Usage: kill_rank.sh MPIEXEC DOUBLE_SPIRAL WORKDIR
set -u
mpiexec=$1
program=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
out=$work/run
common=(--set batch_size=16 --set mlp_hidden=16 --set mlp_depth=1 --set embed_dim=8 --set z_dim=4
        --set objective.bank_size=40 --set sample_every=0 --set log_every=1 --set eval_at_end=false
        --set output_dir="$out" --progress lines)

"$mpiexec" -np 2 --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 "$program" "${common[@]}" \
  --set iterations=1000000 --set checkpoint_every=3 >"$work/mpirun.log" 2>&1 &
launcher=$!

# Wait (≤ 120 s) for the first checkpoint and a few more iterations.
for _ in $(seq 1 240); do
  [ -f "$out/checkpoint.ckpt" ] && break
  sleep 0.5
done
if [ ! -f "$out/checkpoint.ckpt" ]; then
  echo "FAIL: no checkpoint after 120 s"; cat "$work/mpirun.log"; kill -9 "$launcher"; exit 1
fi
sleep 1

# The ranks are mpirun's children running the program; kill the last one (not the writer, rank 0,
# when mpirun starts them in rank order; either way one rank dies).
ranks=$(pgrep -P "$launcher" -f "$(basename "$program")")
victim=$(echo "$ranks" | tail -n 1)
if [ -z "$victim" ]; then
  echo "FAIL: no rank process under mpirun $launcher"; kill -9 "$launcher"; exit 1
fi
echo "ranks: $(echo $ranks); killing $victim with SIGKILL"
start=$(date +%s)
kill -9 "$victim"

# mpirun must end within 60 s, non-zero.
status=""
for _ in $(seq 1 120); do
  if ! kill -0 "$launcher" 2>/dev/null; then
    wait "$launcher"
    status=$?
    break
  fi
  sleep 0.5
done
elapsed=$(( $(date +%s) - start ))
if [ -z "$status" ]; then
  echo "FAIL: mpirun still running ${elapsed} s after the kill"
  pkill -9 -P "$launcher"; kill -9 "$launcher"; exit 1
fi
echo "mpirun exited with status $status ${elapsed} s after the kill"
if [ "$status" -eq 0 ]; then
  echo "FAIL: mpirun exited 0 after a rank was killed"; cat "$work/mpirun.log"; exit 1
fi

# The last checkpoint loads: one process resumes from it (iterations=1: nothing left to train).
if ! OMP_NUM_THREADS=1 "$program" "${common[@]}" --set iterations=1 --set checkpoint_every=3 --resume >"$work/resume.log" 2>&1; then
  echo "FAIL: the last checkpoint does not load"; cat "$work/resume.log"; exit 1
fi
echo "the last checkpoint loads: $(grep -o 'iterations [0-9]* → [0-9]*' "$work/resume.log")"
rm -rf "$work"
echo PASS
