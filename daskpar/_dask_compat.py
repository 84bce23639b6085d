"""Every name daskpar takes from dask's and distributed's internal modules, in one place.

daskpar builds its graphs from dask's task specification (``Task``, ``TaskRef``...) and array
layers, and computes them as dask's own collections do. Those modules are not dask's public
API (``dask``, ``dask.array``, ``dask.config``, ``dask.delayed``, ``distributed``), and a dask
release may move or change them: here is the one file such a release breaks, as
``_sklearn_compat.py`` is for scikit-learn's private API. Other modules import these names
from here, never from dask's internal modules (``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

from dask.array.core import normalize_chunks
from dask.base import compute_as_if_collection, get_scheduler
from dask.core import flatten
from dask.layers import ArrayBlockIdDep, ArraySliceDep
from dask.local import get_sync
from dask.task_spec import DataNode, GraphNode, List, Task, TaskRef
from dask.utils import key_split

__all__ = [
    "ArrayBlockIdDep",
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
