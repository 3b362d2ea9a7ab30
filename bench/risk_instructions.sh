#!/usr/bin/env bash
# Instructions per parse + score (bench/risk_latency.py --loop) under valgrind's callgrind, for
# each model file given, on one payload: counts do not depend on how loaded the machine is.
#   bench/risk_instructions.sh [-n 40] [-p "human, at the cap, v2"] MODEL.onnx [MODEL.onnx ...]
set -euo pipefail
n=40
payload="human, at the cap, v2"
while getopts "n:p:" opt; do
  case $opt in n) n=$OPTARG ;; p) payload=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
here=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$here/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
collected() {  # model loops -> total instructions (callgrind's "Collected")
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    "$py" "$here/bench/risk_latency.py" --model "$1" --loop "$2" --payload "$payload" \
    2>"$tmp/err" >/dev/null
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/err"
}
echo "payload: $payload; instructions per parse + score = (Ir(n=$n) - Ir(n=0)) / $n"
for model in "$@"; do
  base=$(collected "$model" 0)
  full=$(collected "$model" "$n")
  echo "$(basename "$model"): $(( (full - base) / n )) instructions per call (Ir $base at 0, $full at $n)"
done
