"""Scaling: workers, rows and partitions, for ``AdaptiveSGDClassifier`` epochs.

On the demo's data (``daskpar make-data``), the median epoch time of
``ParallelIncremental(AdaptiveSGDClassifier())`` over ``--repeats`` fits of ``--epochs``
epochs, each next to the floor (one read plus one matrix-vector product per block) measured on
the same cluster, and the workers' peak resident memory above an idle worker's:

1. 1 worker against 2 workers (1 thread each), the same data;
2. the data 1x against 4x the rows, 100,000-row blocks: time about linear, memory flat;
3. the same rows in 100 against 1,000 partitions: the scheduler's cost per partition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from _common import (
    Section,
    WorkerMemory,
    command_line,
    dataset,
    floor_seconds,
    held_out_split,
    local_cluster,
    parser,
)

import daskpar as dp


def epoch_seconds(store: Any, repeats: int, epochs: int) -> float:
    split = held_out_split(store)
    times = []
    for _ in range(repeats):
        model = dp.ParallelIncremental(dp.AdaptiveSGDClassifier(random_state=0), epochs=epochs)
        model.fit(split.X_train, split.y_train, classes=[0, 1])
        times += [record["seconds"] for record in model.history_]
    return float(np.median(times))


def measure(client: Any, store: Any, repeats: int, epochs: int) -> tuple[float, float, float]:
    """(epoch seconds, floor seconds, peak worker MB above idle) on this client's cluster."""
    memory = WorkerMemory(client)
    split = held_out_split(store)
    floor = floor_seconds(split.X_train, split.y_train, repeats)
    with memory.measure() as peak:
        epoch = epoch_seconds(store, repeats, epochs)
    return epoch, floor, peak[0]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--chunk-rows", type=int, default=100_000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--partitions", type=int, nargs=2, default=[100, 1000])
    args = p.parse_args()
    if args.smoke:
        args.rows, args.features, args.chunk_rows, args.repeats = 8_000, 10, 1_000, 1
        args.epochs, args.partitions = 1, [10, 50]
    rows, d, chunk = args.rows, args.features, args.chunk_rows
    R, E = args.repeats, args.epochs
    chunk_mb = chunk * d * 4 / 1e6
    section = Section(
        f"Scaling: AdaptiveSGDClassifier epochs; {rows:,} x {d} float32 unless said",
        command_line(),
        ["run", "workers", "rows", "partitions", "epoch s", "floor s", "x floor",
         "peak worker MB"],
    )  # fmt: skip
    print(section.title)

    base = dataset(args.data_dir, rows, d, chunk)
    results: dict[str, tuple[float, float, float]] = {}
    for workers in (1, 2):
        with local_cluster(workers=workers) as client:
            results[f"{workers} workers"] = measure(client, base, R, E)
            if workers == 2:
                many = dataset(args.data_dir, 4 * rows, d, chunk)
                results["4x rows"] = measure(client, many, R, E)
                for n in args.partitions:
                    store = dataset(args.data_dir, rows, d, rows // n)
                    results[f"{n:,} partitions"] = measure(client, store, R, E)

    table = [
        ("1 worker", 1, rows, rows // chunk, results["1 workers"]),
        ("2 workers", 2, rows, rows // chunk, results["2 workers"]),
        ("4x rows", 2, 4 * rows, 4 * rows // chunk, results["4x rows"]),
    ]
    table += [
        (f"{n:,} partitions", 2, rows, n, results[f"{n:,} partitions"]) for n in args.partitions
    ]
    for name, workers, n, parts, (epoch, floor, peak) in table:
        section.row(name, workers, f"{n:,}", parts, epoch, floor, epoch / floor, peak)

    one, two = results["1 workers"][0], results["2 workers"][0]
    section.target("2 workers vs 1: speed-up >= 1.7", f"{one / two:.2f}", one / two >= 1.7)
    grow = results["4x rows"][0] / two
    section.target(
        "4x rows: epoch time about linear (<= 4.6 x the 1x epoch)",
        f"{grow:.2f} x the 1x epoch",
        grow <= 4.6,
    )
    limit = 6 * chunk_mb + 100
    peaks = results["2 workers"][2], results["4x rows"][2]
    section.target(
        f"peak worker RSS above idle <= 6 chunks + 100 MB ({limit:.0f} MB), flat from 1x to 4x",
        f"{peaks[0]:.0f} MB at 1x, {peaks[1]:.0f} MB at 4x",
        max(peaks) <= limit,
    )
    few, many = (f"{n:,} partitions" for n in args.partitions)
    ratio = results[many][0] / results[few][0]
    section.target(
        f"{many} <= 2 x the epoch time of {few}",
        f"{ratio:.2f} x",
        ratio <= 2.0,
    )
    section.notes.append(
        f"Epoch times are medians over {R} fits x {E} epochs; each floor is measured on the "
        "same cluster and data, just before. Peaks are the largest worker's, above the idle "
        "level of a fresh worker with daskpar imported."
    )
    section.write(args.out, "scaling")


if __name__ == "__main__":
    main()
