"""Join the benchmark sections into ``benchmarks/RESULTS.md``, under the machine's description.

``make bench`` runs every benchmark script (each writes ``benchmarks/results/<name>.md``) and
then this. The hand-written reading of the numbers, ``benchmarks/analysis.md``, follows the
tables: what each missed target misses by, the measured reason, and what would meet it.

A section that one script re-ran replaces its old text; the others are carried over from the
previous ``RESULTS.md`` unchanged, with the day and machine they were measured on (kept in a
comment before each section), so that a partial run never attributes old numbers to today's
machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from _common import HERE, RESULTS, machine

#: The sections in the order RESULTS.md shows them.
SECTIONS = [
    "codecs",
    "learners",
    "scaling",
    "partitions",
    "decomposition",
    "larger_than_memory",
    "search",
    "tables",
    "clicklogs",
    "text",
]


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
    texts = {name: (args.results / f"{name}.md").read_text() for name in SECTIONS}
    now = (str(dt.date.today()), machine())
    measured = provenance(args.out, texts, now)
    places = list(dict.fromkeys(measured.values()))
    if len(places) == 1:
        where = f"Written by `make bench` on {places[0][0]}. Machine: {places[0][1]}."
    else:
        where = "Written by `make bench`; sections measured on different days or machines:\n\n"
        where += "\n".join(
            f"- {day} ({', '.join(n for n in SECTIONS if measured[n] == (day, m))}): {m}."
            for day, m in places
        )
    parts = [
        "# Benchmark results",
        "",
        where,
        "",
        "Every table is one run of one script on one cluster: times are medians over "
        "repeated runs in that run, and ratios compare numbers measured minutes apart on the "
        "same machine. Timings on this shared 2-core machine vary by 10-20 % between runs; "
        "read the ratios, not the seconds. Each section starts with the command that "
        "reproduces it.",
        "",
    ]
    for name in SECTIONS:
        day, where_measured = measured[name]
        parts.append(f"<!-- measured: {name} | {day} | {where_measured} -->\n{texts[name]}")
    if args.analysis.exists():
        parts.append(args.analysis.read_text())
    args.out.write_text("\n".join(parts))
    print(f"wrote {args.out}")


def provenance(
    previous: Path, texts: dict[str, str], now: tuple[str, str]
) -> dict[str, tuple[str, str]]:
    """Each section's (day, machine): the previous report's, if it holds the section's text
    unchanged; else ``now``. Reports written before the comments existed have one header."""
    old = previous.read_text() if previous.exists() else ""
    comments = {
        m["name"]: (m["day"], m["machine"])
        for m in re.finditer(
            r"^<!-- measured: (?P<name>\w+) \| (?P<day>[\d-]+) \| (?P<machine>.*) -->$", old, re.M
        )
    }
    header = re.search(r"^Written by `make bench` on ([\d-]+)\. Machine: (.*)\.$", old, re.M)
    out = {}
    for name, text in texts.items():
        if text in old and name in comments:
            out[name] = comments[name]
        elif text in old and header is not None:
            out[name] = (header[1], header[2])
        else:
            out[name] = now
    return out


if __name__ == "__main__":
    main()
