"""Codecs: what each compression of the zarr chunks costs to read, and how large it stores.

The learners' floor (read every block, one matrix-vector product) is mostly decompression:
this measures it codec by codec, so that the default that ``write_zarr`` and ``daskpar
make-data`` use is chosen by measurement. The data are ``daskpar make-data``'s (float32
features on scales from 0.001 to 1000 around offsets up to 100, ``--rows`` x 100 in chunks
of ``--chunk-rows`` rows), written once per codec with zarr's own codecs. Each row reads the
whole array back, chunk by chunk, on one thread (the median of ``--repeats`` reads after a
warm-up read, so the files are in the page cache: decompression, not the disk, is timed).

Columns: the codec, bytes on disk per byte of data, GB of data per second per core
(uncompressed bytes read / seconds), and seconds per read; then the floor (read + one
matrix-vector product per chunk) both ways, with the default codec and with none.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from _common import Section, command_line, parser
from zarr.codecs import BloscCodec, ZstdCodec

import daskpar as dp

#: The candidates: zarr's default (zstd level 0, which is zstd's level 3), other zstd levels,
#: Blosc with LZ4 and with zstd, with and without byte shuffling, and no compression.
CODECS: dict[str, Any] = {
    "none": None,
    "zstd level 0 (zarr's default)": ZstdCodec(level=0),
    "zstd level 1": ZstdCodec(level=1),
    "zstd level 9": ZstdCodec(level=9),
    "blosc lz4, no shuffle": BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle"),
    "blosc lz4, byte shuffle": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
    "blosc lz4, bit shuffle": BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle"),
    "blosc zstd 1, byte shuffle": BloscCodec(cname="zstd", clevel=1, shuffle="shuffle"),
}


#: What ``write_zarr`` and ``daskpar make-data`` write numeric arrays with (chosen by this
#: benchmark; zarr's own default was zstd level 0).
DEFAULT = "blosc lz4, byte shuffle"
ZSTD = "zstd level 0 (zarr's default)"


def data(rows: int, chunk_rows: int) -> np.ndarray:
    X, _ = dp.make_classification(
        n_samples=rows,
        n_features=100,
        n_informative=20,
        n_redundant=10,
        n_clusters_per_class=2,
        flip_y=0.05,
        class_sep=0.8,
        shift=np.linspace(-100.0, 100.0, 100),
        scale=np.logspace(-3, 3, 100),
        chunks=chunk_rows,
        random_state=0,
        dtype=np.float32,
    )
    out: np.ndarray = X.compute(scheduler="threads")
    return out


def size_on_disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def read_all(array: Any, chunk_rows: int, w: np.ndarray | None = None) -> float:
    """Read every chunk (and, given ``w``, one matrix-vector product with each)."""
    total = 0.0
    for start in range(0, array.shape[0], chunk_rows):
        block = array[start : start + chunk_rows]
        total += float(block[0, 0]) if w is None else float((block @ w).sum())
    return total


def cpu_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """The median CPU seconds of this process (all its threads: zarr's and Blosc's too) and
    the median wall seconds of ``repeats`` runs."""
    cpu, wall = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--chunk-rows", type=int, default=100_000)
    args = p.parse_args()
    if args.smoke:
        args.rows, args.chunk_rows, args.repeats = 20_000, 5_000, 1
    numcodecs.blosc.set_nthreads(1)  # one core per read, as on a worker of one thread
    X = data(args.rows, args.chunk_rows)
    raw = X.nbytes
    section = Section(
        f"Codecs: {args.rows:,} x 100 float32 ({raw / 1e9:.2f} GB) in chunks of "
        f"{args.chunk_rows:,} rows, read on one thread from the page cache",
        command_line(),
        ["codec", "size / data", "read GB/s per core", "CPU seconds per read", "wall seconds"],
    )
    print(section.title)
    folder = args.data_dir / "codecs"
    shutil.rmtree(folder, ignore_errors=True)
    speed: dict[str, float] = {}
    stored: dict[str, float] = {}
    arrays: dict[str, Any] = {}
    for name, codec in CODECS.items():
        path = folder / f"{len(speed)}.zarr"
        array = zarr.create_array(
            str(path),
            shape=X.shape,
            chunks=(args.chunk_rows, X.shape[1]),
            dtype=X.dtype,
            compressors=codec,
        )
        array[:] = X
        read_all(array, args.chunk_rows)  # warm-up: the files into the page cache
        cpu, wall = cpu_seconds(lambda a=array: read_all(a, args.chunk_rows), args.repeats)
        stored[name] = size_on_disk(path) / raw
        speed[name] = raw / cpu / 1e9
        arrays[name] = array
        section.row(name, stored[name], speed[name], cpu, wall)
    w = np.random.default_rng(0).standard_normal(X.shape[1]).astype(np.float32)
    for name in ("none", ZSTD, DEFAULT):
        cpu, wall = cpu_seconds(
            lambda a=arrays[name]: read_all(a, args.chunk_rows, w), args.repeats
        )
        section.row(f"floor (read + matvec), {name}", stored[name], raw / cpu / 1e9, cpu, wall)
    # The choice: within 10 % of the fastest read per core among the codecs that store no
    # more than zstd does (the timings' noise), the smallest.
    small = [n for n in CODECS if n != "none" and stored[n] <= stored[ZSTD]]
    fastest = max(small, key=lambda n: speed[n])
    section.target(
        "the default codec reads within 10 % of the fastest per core that stores no more "
        "than zstd's",
        f"{DEFAULT}: {speed[DEFAULT]:.2f} GB/s per core, {stored[DEFAULT]:.2f} of the data; "
        f"fastest {fastest}: {speed[fastest]:.2f}; zstd level 0: {speed[ZSTD]:.2f} GB/s, "
        f"{stored[ZSTD]:.2f}",
        stored[DEFAULT] <= stored[ZSTD] and speed[DEFAULT] >= 0.9 * speed[fastest],
    )
    section.notes.append(
        f"One read of the uncompressed array: {raw / speed['none'] / 1e9:.3f} s; the files "
        "are read from the page cache, so the differences are decompression."
    )
    shutil.rmtree(folder, ignore_errors=True)
    section.write(args.out, "codecs")


if __name__ == "__main__":
    main()
