"""``daskpar make-data``: a synthetic data set, written block by block."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import click

from ._cluster import cluster
from ._context import user_errors
from ._options import URL_CREDENTIALS, PathOrURL, output_folder, scheduler_option


@click.command("make-data", epilog=URL_CREDENTIALS)
@click.argument("out", type=PathOrURL(file_okay=False), callback=output_folder)
@click.option("--rows", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--features", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--chunk-rows", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--classes", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@scheduler_option
def make_data_command(
    out: Path | str,
    rows: int,
    features: int,
    chunk_rows: int,
    classes: int,
    seed: int,
    overwrite: bool,
    scheduler: str | None,
) -> None:
    """Write a synthetic classification data set to the zarr store OUT (arrays X and y).

    The data is generated and written chunk by chunk, so OUT may be larger than memory.
    OUT may be a local folder or an object store's URL (s3://bucket/data.zarr), written by
    the workers (with --scheduler) or by this process.
    """
    with user_errors():
        if _exists(out) and not overwrite:
            raise click.ClickException(f"{out} exists; pass --overwrite to replace it.")
        with cluster(scheduler, None) if scheduler else contextlib.nullcontext():
            seconds = write_dataset(out, rows, features, chunk_rows, classes, seed)
        click.echo(
            f"wrote {rows:,} x {features} to {out} ({_size(out) / 1e6:,.0f} MB) in {seconds:.1f} s"
        )


def _exists(out: Path | str) -> bool:
    if isinstance(out, Path):
        return out.exists()
    from daskpar._io._remote import filesystem, remote_location

    fs, inner = filesystem(*remote_location(out, None, "make-data"))
    return bool(fs.exists(inner))


def _size(out: Path | str) -> int:
    """The bytes written to OUT (one listing of an object store's)."""
    if isinstance(out, Path):
        return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    from daskpar._io._remote import filesystem, remote_location

    fs, inner = filesystem(*remote_location(out, None, "make-data"))
    fs.invalidate_cache()  # listed before the write
    return int(fs.du(inner, total=True))


def write_dataset(
    out: Path | str, rows: int, features: int, chunk_rows: int, classes: int, seed: int
) -> float:
    import numpy as np

    import daskpar as dp

    start = time.perf_counter()
    n_informative = max(2, features // 5)
    X, y = dp.make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=n_informative,
        n_redundant=features // 10,
        n_classes=classes,
        # Few informative features with several clusters per class put the classes in an
        # XOR pattern that no linear model separates; keep small data sets learnable.
        n_clusters_per_class=2 if n_informative >= 8 else 1,
        weights=None,
        flip_y=0.05,
        class_sep=0.8,
        # Features on scales from 0.001 to 1000, around offsets up to 100, as raw measurements
        # come: SGD needs them standardised first.
        shift=np.linspace(-100.0, 100.0, features),
        scale=np.logspace(-3, 3, features),
        chunks=chunk_rows,
        random_state=seed,
        dtype=np.float32,
    )
    dp.write_zarr(out, X, y, overwrite=True)
    return time.perf_counter() - start
