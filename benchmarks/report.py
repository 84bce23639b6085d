"""Join the benchmark sections into ``benchmarks/RESULTS.md``, under the machine's description.

``make bench`` runs every benchmark script (each writes ``benchmarks/results/<name>.md``) and
then this. The hand-written reading of the numbers, ``benchmarks/analysis.md``, follows the
tables: what each missed target misses by, the measured reason, and what would meet it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from _common import HERE, RESULTS, machine

#: The sections in the order RESULTS.md shows them.
SECTIONS = ["learners", "scaling", "larger_than_memory", "search"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--analysis", type=Path, default=HERE / "analysis.md")
    args = p.parse_args()
    missing = [name for name in SECTIONS if not (args.results / f"{name}.md").exists()]
    if missing:
        raise SystemExit(
            f"no results for {', '.join(missing)} in {args.results}: run "
            + ", ".join(f"benchmarks/{name}.py" for name in missing)
            + " first (make bench runs them all)"
        )
    parts = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {dt.date.today()}. Machine: {machine()}.",
        "",
        "Every table is one run of one script on one cluster: times are medians over "
        "repeated runs in that run, and ratios compare numbers measured minutes apart on the "
        "same machine. Timings on this shared 2-core machine vary by 10-20 % between runs; "
        "read the ratios, not the seconds. Each section starts with the command that "
        "reproduces it.",
        "",
    ]
    parts += [(args.results / f"{name}.md").read_text() for name in SECTIONS]
    if args.analysis.exists():
        parts.append(args.analysis.read_text())
    args.out.write_text("\n".join(parts))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
