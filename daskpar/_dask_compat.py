"""Every name daskpar takes from dask's and distributed's internal modules, in one place.

daskpar builds its graphs from dask's task specification (``Task``, ``TaskRef``...) and array
layers, and computes them as dask's own collections do. Those modules are not dask's public
API (``dask``, ``dask.array``, ``dask.config``, ``dask.delayed``, ``distributed``), and a dask
release may move or change them: here is the one file such a release breaks, as
``_sklearn_compat.py`` is for scikit-learn's private API. Other modules import these names
from here, never from dask's internal modules (``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

from typing import Any

from dask.array.core import normalize_chunks
from dask.base import compute_as_if_collection, get_scheduler
from dask.core import flatten
from dask.layers import ArrayBlockIdDep, ArraySliceDep
from dask.local import get_sync
from dask.task_spec import DataNode, GraphNode, List, Task, TaskRef
from dask.utils import key_split

__all__ = [
    "ArrayBlockIdDep",
    "known_partition_lengths",
    "sample_rows",
    "ArraySliceDep",
    "DataNode",
    "GraphNode",
    "List",
    "Task",
    "TaskRef",
    "compute_as_if_collection",
    "flatten",
    "get_scheduler",
    "get_sync",
    "key_split",
    "normalize_chunks",
]


def known_partition_lengths(frame: Any) -> tuple[int, ...] | None:
    """The row count of each partition of a dask DataFrame, where dask knows it unread.

    dask-expr knows them from a Parquet dataset's metadata (its row groups' sizes) when no
    filter applies; ``None`` where it would have to read the data to count.
    """
    try:
        lengths = frame.expr.optimize()._get_lengths()
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None
    if lengths is None or len(lengths) != frame.npartitions:
        return None
    return tuple(int(n) for n in lengths)


def sample_rows(frame: Any) -> Any:
    """Two made-up rows of a dask DataFrame's columns and dtypes (no data is read): what
    dask itself runs functions on to learn their output's type."""
    return frame._meta_nonempty
