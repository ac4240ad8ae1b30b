#!/usr/bin/env bash
# Builds ImageNet-10 (Chang et al. 2017; SPEC §7) from an ImageNet-1k (ILSVRC-2012) copy:
#
#   scripts/make_imagenet10.sh [--mode auto|hard|symlink|copy] [--val IMAGENET1K_VAL] IMAGENET1K_TRAIN OUT
#
# IMAGENET1K_TRAIN holds one folder per synset (n01440764/ ... with *.JPEG), as ImageNet's train
# archive unpacks; --val takes a val folder in the same per-synset layout (what the usual
# valprep.sh makes). OUT/train/<synset>/ then holds all 1,300 images of each of the ten synsets
# (13,000), and OUT/val/<synset>/ the 50 each (500) — what load_imagenet10(OUT) and
# `structgan-train --dataset imagenet10 --data-dir OUT` read.
#
# Files are hard links when OUT is on the source's file system (no space, survives moving the
# source), else symbolic links, else copies (--mode forces one). Everything is checked before
# anything is written: a missing synset folder or a count other than 1,300 (50) is reported for
# every synset concerned, and the script exits 1 having created nothing. Re-running over a
# complete OUT is harmless. Needs only bash and coreutils.
set -euo pipefail

SYNSETS=(n02056570 n02085936 n02128757 n02690373 n02692877 n03095699 n04254680 n04285008 n04467665 n07747607)
mode=auto
val=""
usage() { sed -n '4p' "$0" | sed 's/^#   /usage: /' >&2; exit 2; }
while (($#)); do
  case "$1" in
    --mode) mode="${2:-}"; shift 2 || usage ;;
    --val) val="${2:-}"; shift 2 || usage ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --*) echo "make_imagenet10: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# == 2)) || usage
train="$1"
out="$2"
case "$mode" in auto|hard|symlink|copy) ;; *) echo "make_imagenet10: --mode must be auto, hard, symlink or copy" >&2; exit 2 ;; esac

# The image files of a synset folder, one per line, sorted (ImageNet's are *.JPEG).
list_images() { find "$1" -maxdepth 1 \( -type f -o -type l \) \( -iname '*.jpeg' -o -iname '*.jpg' \) -printf '%f\n' | LC_ALL=C sort; }

# check SRC_ROOT SPLIT EXPECTED: reports every missing synset and wrong count; returns 1 if any.
check() {
  local root="$1" split="$2" want="$3" bad=0 s n
  if [[ ! -d "$root" ]]; then
    echo "make_imagenet10: $split folder '$root' does not exist" >&2
    return 1
  fi
  for s in "${SYNSETS[@]}"; do
    if [[ ! -d "$root/$s" ]]; then
      echo "make_imagenet10: missing synset $s: no folder '$root/$s'" >&2
      bad=1
      continue
    fi
    n=$(list_images "$root/$s" | wc -l)
    if ((n != want)); then
      echo "make_imagenet10: synset $s in '$root' has $n images, ImageNet-10's $split split needs $want" >&2
      bad=1
    fi
  done
  return $bad
}

# place SRC_DIR DST_DIR: all images of a synset with one cp (hard link -l, symbolic link -s, or a
# copy); auto tries them in that order on the first file and keeps the first that works.
place() {
  local src="$1" dst="$2" flag="" f
  local -a files=()
  while IFS= read -r f; do
    [[ -e "$dst/$f" ]] || files+=("$src/$f")  # re-running: what is there stays (cp refuses a file onto itself)
  done < <(list_images "$src")
  ((${#files[@]})) || return 0
  case "$mode" in
    hard) flag=-l ;;
    symlink) flag=-s ;;
    copy) flag="" ;;
    auto)
      f="$dst/$(basename "${files[0]}")"
      if [[ -z "${auto_flag+x}" ]]; then
        if cp -l -f "${files[0]}" "$f" 2>/dev/null; then auto_flag=-l
        elif cp -s -f "${files[0]}" "$f" 2>/dev/null; then auto_flag=-s
        else auto_flag=""; fi
      fi
      flag="$auto_flag" ;;
  esac
  cp $flag -f -- "${files[@]}" "$dst/"
}

# build SRC_ROOT SPLIT EXPECTED
build() {
  local root split="$2" want="$3" s n total=0
  root="$(cd "$1" && pwd)"  # absolute: symbolic links must not depend on OUT's place
  for s in "${SYNSETS[@]}"; do
    mkdir -p "$out/$split/$s"
    place "$root/$s" "$out/$split/$s"
  done
  # Verify what was built: every synset complete, nothing else in it.
  for s in "${SYNSETS[@]}"; do
    n=$(list_images "$out/$split/$s" | wc -l)
    if ((n != want)); then
      echo "make_imagenet10: '$out/$split/$s' holds $n images after building, expected $want" >&2
      exit 1
    fi
    total=$((total + n))
  done
  echo "make_imagenet10: $out/$split: ${#SYNSETS[@]} synsets, $total images ($(how "$out/$split/${SYNSETS[0]}"))"
}

# How the first file of a folder was placed, for the summary.
how() {
  local f
  f="$1/$(list_images "$1" | head -n 1)"
  if [[ -L "$f" ]]; then echo "symbolic links"; elif (($(stat -c %h "$f") > 1)); then echo "hard links"; else echo "copies"; fi
}

ok=1
check "$train" train 1300 || ok=0
if [[ -n "$val" ]]; then check "$val" val 50 || ok=0; fi
if ((!ok)); then
  echo "make_imagenet10: nothing written; '$train' must be an ImageNet-1k (ILSVRC-2012) train folder with one folder per synset" >&2
  exit 1
fi
build "$train" train 1300
if [[ -n "$val" ]]; then build "$val" val 50; fi
