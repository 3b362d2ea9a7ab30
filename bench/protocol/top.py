"""Summarise py-spy collapsed stacks (run.py --pyspy DIR): the functions with the most samples.

python bench/protocol/top.py DIR/embedded-siteverify.txt [--self] [-n 30]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--self", action="store_true", help="self time instead of inclusive")
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument(
        "--thread", default="Server.run", help="count only stacks through this frame (the loop)"
    )
    args = parser.parse_args()
    total = 0
    counts: Counter[str] = Counter()
    for line in args.file.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        samples = int(n)
        total += samples
        frames = stack.split(";")
        if args.thread not in stack:
            continue
        if args.self:
            counts[frames[-1]] += samples
        else:
            for frame in set(frames):
                counts[frame] += samples
    for frame, n in counts.most_common(args.n):
        print(f"{100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
