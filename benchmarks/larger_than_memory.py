"""Larger than memory: 8,000,000 x 100 float32 (3.2 GB) on 2 workers of 1 GB each.

``ParallelIncremental(AdaptiveSGDClassifier())`` trains ``--epochs`` epochs on the demo's data
(``daskpar make-data``, 100,000-row zarr blocks, the last 10 % held out) on a LocalCluster of
2 workers x 1 thread with ``memory_limit="1GB"`` each: the data is more than three times the
memory of the whole cluster. The run must finish with no spilling to disk, no paused worker
and no worker restarted; the table records the workers' peak resident memory above an idle
worker's, the epoch times next to the floor (one read plus one matrix-vector product per
block) and the held-out quality.
"""

from __future__ import annotations

import numpy as np
from _common import (
    Section,
    WorkerHealth,
    WorkerMemory,
    command_line,
    dataset,
    floor_seconds,
    held_out_split,
    local_cluster,
    parser,
    quality,
)

import daskpar as dp


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=8_000_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--chunk-rows", type=int, default=100_000)
    p.add_argument("--memory-limit", default="1GB")
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    if args.smoke:
        args.rows, args.features, args.chunk_rows, args.repeats = 20_000, 10, 2_000, 1
        args.memory_limit = "1GB"
    store = dataset(args.data_dir, args.rows, args.features, args.chunk_rows)
    with local_cluster(workers=2, memory_limit=args.memory_limit) as client:
        memory = WorkerMemory(client)
        health = WorkerHealth(client)
        split = held_out_split(store)
        data_gb = split.X_train.nbytes / 1e9
        section = Section(
            f"Larger than memory: {split.X_train.shape[0]:,} training rows x {args.features} "
            f"float32 ({data_gb:.1f} GB); 2 workers x 1 thread, memory_limit={args.memory_limit}",
            command_line(),
            ["run", "epoch", "seconds", "x floor", "accuracy", "log-loss", "peak worker MB"],
        )
        print(section.title)
        floor = floor_seconds(split.X_train, split.y_train, args.repeats)
        section.row("floor: read + one matvec per block", "-", floor, 1.0, None, None, None)
        with memory.measure() as peak:
            model = dp.ParallelIncremental(
                dp.AdaptiveSGDClassifier(random_state=0), epochs=args.epochs, random_state=0
            ).fit(split.X_train, split.y_train, classes=[0, 1])
        q = quality(model, split)
        for record in model.history_:
            section.row(
                "daskpar AdaptiveSGDClassifier",
                record["epoch"],
                record["seconds"],
                record["seconds"] / floor,
                q["accuracy"] if record is model.history_[-1] else None,
                q["log_loss"] if record is model.history_[-1] else None,
                *peak,
            )
        state = health.report()
    epoch = float(np.median([r["seconds"] for r in model.history_]))
    chunk_mb = args.chunk_rows * args.features * 4 / 1e6
    section.target(
        "completes with no spilling, pausing or worker restart",
        f"spilled {state['spilled_bytes']} bytes, {state['paused']} paused, "
        f"{state['restarted']} restarted",
        not any(state.values()),
    )
    section.target(
        f"peak worker RSS above idle <= 6 chunks + 100 MB ({6 * chunk_mb + 100:.0f} MB)",
        f"{peak[0]:.0f} MB",
        peak[0] <= 6 * chunk_mb + 100,
    )
    section.notes.append(
        f"One fit of {args.epochs} epochs; epoch median {epoch:.1f} s = {epoch / floor:.2f} x "
        "the floor. Quality is that of the last epoch's model."
    )
    section.write(args.out, "larger_than_memory")


if __name__ == "__main__":
    main()
