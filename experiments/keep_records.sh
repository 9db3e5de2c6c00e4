#!/usr/bin/env bash
# Copy the finished runs of one part of the scale suite from runs/scale/PART to results/scale/PART, where they
# outlive the machine: run.json, history.csv, ledger.json and the saved test (or dev) outputs; no weights, no
# caches. A run already kept is left alone; run.json is copied last, so a cut copy does not look finished.
#   bash experiments/keep_records.sh glue        # from SRC=runs/scale to DEST=results/scale by default
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:?usage: experiments/keep_records.sh PART (tweets, grid, glue, imdb or multitask)}
src=${SRC:-runs/scale}/$part
dest=${DEST:-results/scale}/$part
[ -d "$src" ] || { echo "keep_records: no folder $src" >&2; exit 2; }
kept=0
for run in "$src"/*/; do
  name=$(basename "$run")
  [ -f "$run/run.json" ] && [ ! -f "$dest/$name/run.json" ] || continue
  mkdir -p "$dest/$name"
  for file in "$run"/history.csv "$run"/ledger.json "$run"/*.npy; do
    [ -f "$file" ] && cp "$file" "$dest/$name/"
  done
  cp "$run/run.json" "$dest/$name/"
  kept=$((kept + 1))
done
for summary in "$src"/*-seeds*.json; do  # the seed means the suites write beside the runs
  [ -f "$summary" ] && cp "$summary" "$dest/"
done
echo "keep_records: $kept new run(s) of $part kept in $dest ($(find "$dest" -name run.json | wc -l) in all)"
