"""Instructions per function from a kwsq_icount profile (``-plugin ...,profile=FILE``).

    python3 profile_report.py FW.elf PROFILE [--nm aarch64-linux-gnu-nm] [--top 25]

Each profile line is one translated block: guest address, instructions, executions. Blocks
are attributed to the function symbol that contains their first instruction (from ``nm -n``).
"""

from __future__ import annotations

import argparse
import bisect
import subprocess
from collections import Counter


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elf")
    ap.add_argument("profile")
    ap.add_argument("--nm", default="aarch64-linux-gnu-nm")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    syms = []
    for line in subprocess.run([args.nm, "-n", args.elf], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    addrs = [a for a, _ in syms]
    per_fn: Counter[str] = Counter()
    total = 0
    with open(args.profile) as f:
        for line in f:
            vaddr, insns, execs = line.split()
            n = int(insns) * int(execs)
            i = bisect.bisect_right(addrs, int(vaddr, 16)) - 1
            per_fn[syms[i][1] if i >= 0 else "?"] += n
            total += n
    for name, n in per_fn.most_common(args.top):
        print(f"{n:>12,}  {100 * n / total:5.1f}%  {name}")
    print(f"{total:>12,}  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
