"""Partitions: the same rows in few, many and very many blocks, as stored and coalesced.

``ParallelIncremental(AdaptiveSGDClassifier())`` epochs on the demo's data (``daskpar
make-data``) written with 100, 1,000 and ``--many`` (20,000) row chunks, on 2 workers x 1
thread. Each store is trained twice: with its blocks as stored (coalescing off, the dask
setting ``daskpar.target-block-bytes: 0``), and with the default, which merges adjacent small
blocks up to the target. For each run: the median epoch, the floor (one read and one
matrix-vector product per training block, on the same blocks), the training tasks per epoch
(every task the fit submitted, divided by its epochs), and the scheduler's CPU per task (its
event loop thread's CPU time over the fit, divided by those tasks).
"""

from __future__ import annotations

import time
from typing import Any

import dask
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
from dask.utils import parse_bytes

import daskpar as dp
from daskpar._coalesce import TARGET_KEY, coalesce_blocks, target_block_bytes

PLUGIN = "daskpar-bench-task-count"


def _count_tasks(dask_scheduler: Any) -> None:
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Count(SchedulerPlugin):  # type: ignore[misc]
        def __init__(self) -> None:
            self.tasks = 0

        def update_graph(self, scheduler: Any, *, tasks: Any = (), **kwargs: Any) -> None:
            self.tasks += len(tasks)

    dask_scheduler.add_plugin(Count(), name=PLUGIN)


def _read_counter(dask_scheduler: Any) -> tuple[int, float]:
    return dask_scheduler.plugins[PLUGIN].tasks, time.thread_time()


def measure(
    client: Any, store: Any, repeats: int, epochs: int, *, target: int
) -> tuple[int, float, float, float, float, float]:
    """(training blocks, epoch s, floor s, peak worker MB, tasks per epoch, scheduler ms per
    task) of ``repeats`` fits of ``epochs`` epochs, coalescing up to ``target`` bytes (0:
    the blocks as stored)."""
    with dask.config.set({TARGET_KEY: target}):
        split = held_out_split(store)
        X, y = coalesce_blocks(split.X_train, split.y_train)
        floor = floor_seconds(X, y, repeats)
        memory = WorkerMemory(client)
        tasks0, cpu0 = client.run_on_scheduler(_read_counter)
        times = []
        with memory.measure() as peak:
            for _ in range(repeats):
                model = dp.ParallelIncremental(
                    dp.AdaptiveSGDClassifier(random_state=0), epochs=epochs
                )
                model.fit(split.X_train, split.y_train, classes=[0, 1])
                times += [record["seconds"] for record in model.history_]
        tasks1, cpu1 = client.run_on_scheduler(_read_counter)
    tasks = tasks1 - tasks0
    per_task_ms = 1e3 * (cpu1 - cpu0) / max(tasks, 1)
    return (
        X.numblocks[0],
        float(np.median(times)),
        floor,
        peak[0],
        tasks / (repeats * epochs),
        per_task_ms,
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--partitions", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--many", type=int, default=20_000, help="The row of very many partitions.")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument(
        "--targets",
        nargs="+",
        default=["8 MiB", "32 MiB", "128 MiB"],
        help="Coalescing targets compared on the store of the most partitions.",
    )
    args = p.parse_args()
    if args.smoke:
        args.rows, args.features, args.repeats, args.epochs = 8_000, 10, 1, 1
        args.partitions, args.many = [10, 50], 400
        args.targets = ["64 KiB", "256 KiB"]
    rows, d, R, E = args.rows, args.features, args.repeats, args.epochs
    target = target_block_bytes()
    section = Section(
        f"Partitions: AdaptiveSGDClassifier epochs, {rows:,} x {d} float32, 2 workers",
        command_line(),
        ["stored partitions", "blocks", "trained", "training blocks", "epoch s", "floor s",
         "x floor", "peak worker MB", "tasks / epoch", "scheduler ms / task"],
    )  # fmt: skip
    print(section.title)
    results: dict[tuple[int, bool], tuple[int, float, float, float, float, float]] = {}
    targets: dict[str, float] = {}
    with local_cluster(workers=2) as client:
        client.run_on_scheduler(_count_tasks)
        for n in [*args.partitions, args.many]:
            store = dataset(args.data_dir, rows, d, rows // n)
            # Very many blocks as stored: one fit of one epoch, which is minutes already.
            r, e = (1, 1) if n == args.many else (R, E)
            for coalesce in (False, True):
                results[n, coalesce] = result = measure(
                    client, store, r, e, target=target if coalesce else 0
                )
                blocks, epoch, floor, peak, tasks, ms = result
                how = "coalesced" if coalesce else "as stored"
                section.row(f"{n:,}", how, f"{r} x {e} epochs", blocks, epoch, floor,
                            epoch / floor, peak, tasks, ms)  # fmt: skip

        # The default target, chosen by measurement: other targets on the store of most
        # partitions (the default's own row is above).
        store = dataset(args.data_dir, rows, d, rows // args.partitions[-1])
        for text in args.targets:
            other = parse_bytes(text)
            if other == target:
                continue
            result = measure(client, store, R, E, target=other)
            blocks, epoch, floor, peak, tasks, ms = result
            targets[text] = epoch
            section.row(f"{args.partitions[-1]:,}", f"coalesced to {text}", f"{R} x {E} epochs",
                        blocks, epoch, floor, epoch / floor, peak, tasks, ms)  # fmt: skip

    few, many = args.partitions[0], args.partitions[-1]
    stored = results[many, False][1] / results[few, False][1]
    section.target(
        f"{many:,} partitions <= 1.5 x the epoch time of {few:,} (as stored)",
        f"{stored:.2f} x",
        stored <= 1.5,
    )
    coalesced = results[many, True][1] / results[few, True][1]
    section.target(
        f"{many:,} partitions <= 1.5 x the epoch time of {few:,} (coalesced, the default)",
        f"{coalesced:.2f} x",
        coalesced <= 1.5,
    )
    very = results[args.many, True][1] / results[few, True][1]
    section.target(
        f"{args.many:,} partitions <= 1.5 x the epoch time of {few:,} (coalesced)",
        f"{very:.2f} x",
        very <= 1.5,
    )
    default = results[many, True][1]
    for text, epoch in targets.items():
        section.notes.append(
            f"Coalescing to {text} instead of the default: {epoch / default:.2f} x the "
            f"default's epoch time on {many:,} partitions."
        )
    ms = results[args.many, False][5]
    section.notes.append(
        f"Coalescing target: {target / 2**20:.0f} MiB (the default of "
        f"'{TARGET_KEY}'). The scheduler's CPU per task is measured on its event loop thread "
        f"(TLS, as the CLI's cluster): {ms:.2f} ms per task with {args.many:,} blocks as stored."
    )
    section.write(args.out, "partitions")


if __name__ == "__main__":
    main()
