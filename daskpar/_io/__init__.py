"""Readers: files on disk to row-chunked ``(X, y)`` dask arrays, one module per format.

Every reader reads metadata only at call time (shapes, dtypes, row groups, chunk listings) and
returns arrays chunked along rows only, with known chunk sizes and ``y``'s blocks aligned with
``X``'s. The exceptions are :func:`read_csv` and :func:`read_json`: a text file has no row
index, so counting its rows takes one pass over the data. :func:`read_path` picks the reader
from what a path is (:func:`path_format`). The table readers (:func:`read_parquet`,
:func:`read_csv`, :func:`read_json`, and :func:`read_path` for them) return the table itself
with ``as_frame=True``: a lazy dask DataFrame of the feature columns, taken by name, and a
dask Series of the target, without any pass over the data.

The graphs never hold data: zarr arrays, numpy memory maps and h5py datasets are wrapped in
small picklable objects (:class:`ZarrArray`, :class:`NpyFile`, :class:`Hdf5Dataset`) that open
the file, by its absolute path, inside the task; Parquet row groups are read by the task that
needs them (:func:`read_parquet_row_group`).

Blocks are sized for parallelism as well as memory: unless told otherwise, a reader that can
choose its blocks (everything but zarr, whose blocks are the store's chunks) makes at least
``min_partitions`` of them, but none under ``MIN_BLOCK_ROWS`` rows, and none over about
``DEFAULT_BLOCK_BYTES`` of ``X``. A reader that ends up with more than ``MANY_BLOCKS`` blocks
of a median under ``MIN_BLOCK_ROWS`` rows warns: per-task overhead would dominate.

=================  ============================================================
module             reads
=================  ============================================================
``zarr.py``        zarr stores: :func:`read_zarr`, :class:`ZarrArray`
``npy.py``         ``.npy`` files: :func:`read_npy`, :class:`NpyFile`
``hdf5.py``        HDF5 files: :func:`read_hdf5`, :class:`Hdf5Dataset`
``parquet.py``     Parquet files: :func:`read_parquet`, :func:`read_parquet_row_group`
``csv.py``         CSV files: :func:`read_csv`, :func:`clean_target_partition`
``json.py``        JSON-lines files: :func:`read_json`, :func:`read_json_block`
``path.py``        any of them: :func:`path_format`, :func:`read_path`
``_common.py``     what they share: block sizes, shape checks, feature columns
=================  ============================================================
"""

from __future__ import annotations

from .csv import clean_target_partition, count_partition_rows, read_csv
from .hdf5 import Hdf5Dataset, read_hdf5
from .json import read_json
from .npy import NpyFile, read_npy
from .parquet import read_parquet, read_parquet_row_group
from .path import SUPPORTED_FORMATS, path_format, read_path
from .zarr import ZarrArray, read_zarr

__all__ = [
    "SUPPORTED_FORMATS",
    "Hdf5Dataset",
    "NpyFile",
    "ZarrArray",
    "clean_target_partition",
    "count_partition_rows",
    "path_format",
    "read_csv",
    "read_hdf5",
    "read_json",
    "read_npy",
    "read_parquet",
    "read_parquet_row_group",
    "read_path",
    "read_zarr",
]
