#!/usr/bin/env python3
"""ncu_summary.py NCU.csv: per-kernel time of an `ncu --csv` run with the metrics
gpu__time_duration.sum (and optionally dram__bytes_read.sum), as a table of
launches, total us, share of the summed kernel time and DRAM GB/s, heaviest
first (bench/gpu-check.sh, bench/gpu-profile.sh)."""
import collections
import csv
import sys

TIME = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1, "us": 1, "msecond": 1e3, "ms": 1e3}
BYTES = {"byte": 1, "B": 1, "Kbyte": 1e3, "KB": 1e3, "Mbyte": 1e6, "MB": 1e6, "Gbyte": 1e9, "GB": 1e9}


def main(path):
    rows = [line for line in open(path) if line.startswith('"')]
    t = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for r in csv.DictReader(rows):
        name = r["Kernel Name"].replace("(anonymous namespace)::", "")
        name = (name[5:] if name.startswith("void ") else name).split("(")[0][:60]
        v = float(r["Metric Value"].replace(",", ""))
        if r["Metric Name"] == "gpu__time_duration.sum":
            t[name][0] += 1
            t[name][1] += v * TIME.get(r["Metric Unit"], 1)
        else:
            t[name][2] += v * BYTES.get(r["Metric Unit"], 1)
    tot = sum(x[1] for x in t.values())
    print("kernel | launches | total us | share | DRAM GB/s")
    for k, (n, us, by) in sorted(t.items(), key=lambda kv: -kv[1][1]):
        gbs = by / (us * 1e-6) / 1e9 if us else 0
        print("%s | %d | %.1f | %.0f%% | %.0f" % (k, n, us, 100 * us / tot if tot else 0, gbs))
    print("sum of kernel time %.1f us over %d launches" % (tot, sum(x[0] for x in t.values())))


if __name__ == "__main__":
    main(sys.argv[1])
