"""Every name daskpar takes from dask's and distributed's internal modules, in one place.

daskpar builds its graphs from dask's task specification (``Task``, ``TaskRef``...) and array
layers, and computes them as dask's own collections do. Those modules are not dask's public
API (``dask``, ``dask.array``, ``dask.config``, ``dask.delayed``, ``distributed``), and a dask
release may move or change them: here is the one file such a release breaks, as
``_sklearn_compat.py`` is for scikit-learn's private API. Other modules import these names
from here, never from dask's internal modules (``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from dask.array.core import normalize_chunks
from dask.array.dispatch import concatenate_lookup
from dask.base import compute_as_if_collection, get_scheduler
from dask.core import flatten
from dask.layers import ArrayBlockIdDep, ArraySliceDep
from dask.local import get_sync
from dask.task_spec import DataNode, GraphNode, List, Task, TaskRef
from dask.utils import key_split

__all__ = [
    "ArrayBlockIdDep",
    "known_partition_lengths",
    "remember_partition_lengths",
    "sample_rows",
    "ArraySliceDep",
    "DataNode",
    "GraphNode",
    "List",
    "Task",
    "TaskRef",
    "compute_as_if_collection",
    "concatenate_lookup",
    "flatten",
    "get_scheduler",
    "get_sync",
    "key_split",
    "normalize_chunks",
]


#: Row counts that a pass learned, by the dask name of the frame it read (a name is the
#: token of the frame's expression: a file rewritten, or other data, gives another name).
_LEARNED: OrderedDict[str, tuple[int, ...]] = OrderedDict()
_LEARNED_LOCK = threading.Lock()
#: How many frames' row counts are remembered (the least recently used are forgotten).
LEARNED_FRAMES = 256


def remember_partition_lengths(frame: Any, lengths: tuple[int, ...]) -> None:
    """Remember the row counts of ``frame``'s partitions, learned in a pass that read them,
    so that a later call on the same frame (``score`` after ``fit``) needs no pass to count
    them. They are still checked: every task compares its rows with them."""
    name = getattr(frame, "_name", None)
    if not isinstance(name, str) or len(lengths) != getattr(frame, "npartitions", -1):
        return
    with _LEARNED_LOCK:
        _LEARNED[name] = tuple(int(n) for n in lengths)
        _LEARNED.move_to_end(name)
        while len(_LEARNED) > LEARNED_FRAMES:
            _LEARNED.popitem(last=False)


def known_partition_lengths(frame: Any) -> tuple[int, ...] | None:
    """The row count of each partition of a dask DataFrame, where known without a pass.

    They are known where a pass over the same frame learned them
    (:func:`remember_partition_lengths`), and where dask-expr knows them from a Parquet
    dataset's metadata (its row groups' sizes) when no filter applies; else ``None``: dask
    would have to read the data to count.
    """
    name = getattr(frame, "_name", None)
    with _LEARNED_LOCK:
        learned = _LEARNED.get(name) if isinstance(name, str) else None
    if learned is not None:
        return learned
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
