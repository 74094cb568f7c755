#!/usr/bin/env python3
"""Same-run A/B of f8net builds: starts one bench/peers/f8net_time server per binary (or wrapper
script, e.g. one that sets an environment variable), then alternates blocks of 5 runs between
them, 50 ms apart, the order reversed every other block, and prints each one's median and min
latency and its ratio to the first. The first block is warm-up. This is how the commit messages'
"same-run A/B" ratios were measured.
  ab-time.py MODEL.f8 THREADS BLOCKS BIN_A BIN_B [BIN_C ...]
e.g. ab-time.py build/test/peers/resnet18-224.f8 2 60 /tmp/base/f8net_time build/test/bench/peers/f8net_time
"""
import json
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__.strip().splitlines()[-2].strip())
    model, threads, blocks, bins = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    procs = []
    for b in bins:
        try:
            p = subprocess.Popen([b, model, "--threads", threads], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        except OSError as e:
            sys.exit(f"ab-time: cannot start {b}: {e.strerror}")
        header = p.stdout.readline()
        if not header:
            sys.exit(f"ab-time: {b} did not start")
        json.loads(header)
        procs.append(p)
    times = [[] for _ in bins]
    for blk in range(blocks):
        order = range(len(bins)) if blk % 2 == 0 else reversed(range(len(bins)))
        for i in order:
            procs[i].stdin.write("run 5\n")
            procs[i].stdin.flush()
            ms = json.loads(procs[i].stdout.readline())["ms"]
            if blk > 0:
                times[i] += ms
            time.sleep(0.05)
    for p in procs:
        p.stdin.close()
        p.wait()
    med = [statistics.median(t) for t in times]
    mins = [min(t) for t in times]
    for b, m, n in zip(bins, med, mins):
        print(f"{b}: median {m:.3f} ms min {n:.3f} ms  ratio to the first: median "
              f"{m / med[0]:.3f} min {n / mins[0]:.3f}")


if __name__ == "__main__":
    main()
