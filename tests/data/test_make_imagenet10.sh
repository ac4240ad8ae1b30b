#!/usr/bin/env bash
# Tests scripts/make_imagenet10.sh on a fake ImageNet-1k tree of tiny files: the complete build
# (13,000 train + 500 val, links to the sources' bytes), re-running, each --mode, and the errors
# for a missing synset and a short count (nothing written, every problem named).
set -euo pipefail
script="$1"
tmp="$(mktemp -d -p "$( [[ -w /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")"  # tmpfs: 60,000 tiny files
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
SYNSETS=(n02056570 n02085936 n02128757 n02690373 n02692877 n03095699 n04254680 n04285008 n04467665 n07747607)

# Fake ImageNet-1k: the ten synsets with 1,300 train images each, one other synset, stray files.
for s in "${SYNSETS[@]}" n01440764; do
  mkdir -p "$tmp/in1k/train/$s" "$tmp/in1k/val/$s"
  (cd "$tmp/in1k/train/$s" && for i in $(seq 1 1300); do echo "$s $i" > "${s}_$i.JPEG"; done)
  (cd "$tmp/in1k/val/$s" && for i in $(seq 1 50); do echo "val $s $i" > "ILSVRC2012_val_${s}_$i.JPEG"; done)
done
echo "not an image" > "$tmp/in1k/train/n02056570/README.txt"

out="$tmp/out"
"$script" --val "$tmp/in1k/val" "$tmp/in1k/train" "$out" > "$tmp/log" || fail "build failed: $(cat "$tmp/log")"
grep -q "10 synsets, 13000 images (hard links)" "$tmp/log" || fail "train summary: $(cat "$tmp/log")"
grep -q "10 synsets, 500 images" "$tmp/log" || fail "val summary: $(cat "$tmp/log")"
[[ ! -e "$out/train/n01440764" ]] || fail "a synset outside ImageNet-10 was copied"
[[ ! -e "$out/train/n02056570/README.txt" ]] || fail "a non-image file was copied"
n=$(find "$out/train" -name '*.JPEG' | wc -l); ((n == 13000)) || fail "$n train files"
n=$(find "$out/val" -name '*.JPEG' | wc -l); ((n == 500)) || fail "$n val files"
[[ "$out/train/n07747607/n07747607_1300.JPEG" -ef "$tmp/in1k/train/n07747607/n07747607_1300.JPEG" ]] || fail "not a hard link"
"$script" "$tmp/in1k/train" "$out" > /dev/null || fail "re-running over a complete folder failed"

for mode in symlink copy; do
  "$script" --mode "$mode" "$tmp/in1k/train" "$tmp/$mode" > "$tmp/log" || fail "--mode $mode failed"
  f="$tmp/$mode/train/n02085936/n02085936_7.JPEG"
  [[ "$(cat "$f")" == "n02085936 7" ]] || fail "--mode $mode: wrong content"
  if [[ $mode == symlink ]]; then [[ -L "$f" ]] || fail "not a symbolic link"; else [[ ! -L "$f" && ! "$f" -ef "$tmp/in1k/train/n02085936/n02085936_7.JPEG" ]] || fail "not a copy"; fi
done

# Errors: one synset missing, two short; every one named, nothing written.
mv "$tmp/in1k/train/n04254680" "$tmp/moved"
rm "$tmp/in1k/train/n02128757/n02128757_5.JPEG" "$tmp/in1k/train/n02690373/n02690373_9.JPEG"
if "$script" "$tmp/in1k/train" "$tmp/bad" 2> "$tmp/err"; then fail "a missing synset was accepted"; fi
grep -q "missing synset n04254680" "$tmp/err" || fail "missing synset not named: $(cat "$tmp/err")"
grep -q "n02128757 .* has 1299 images, .* needs 1300" "$tmp/err" || fail "short count not named: $(cat "$tmp/err")"
grep -q "n02690373 .* has 1299 images" "$tmp/err" || fail "second short count not named"
[[ ! -e "$tmp/bad" ]] || fail "something was written despite the errors"
if "$script" "$tmp/nowhere" "$tmp/bad" 2> "$tmp/err"; then fail "a missing source was accepted"; fi
grep -q "does not exist" "$tmp/err" || fail "missing source not named"
echo "test_make_imagenet10: all checks passed"
