"""Graph builders: per-partition tasks and the tree that merges their states.

This is where the tree is built. ``map_partitions`` puts one task per row block; because it is
a blockwise layer, dask fuses it with the blockwise layers that read (or generate, split,
transform) the block, so reading a block and fitting it is one task on one worker and blocks
never travel. ``tree_combine`` then merges the states ``split_every`` at a time; the grouping
depends only on partition indices, never on which task finished first, so the merged bits are
the same on any scheduler and any number of workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any

import dask
import dask.array as da
import dask.local
import numpy as np
from dask import config
from dask.base import compute, get_scheduler, tokenize
from dask.delayed import delayed
from dask.highlevelgraph import HighLevelGraph
from dask.layers import ArrayBlockIdDep, ArraySliceDep
from threadpoolctl import threadpool_limits

__all__ = ["broadcast", "compute_one", "map_partitions", "tree_combine"]


def _boxed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> np.ndarray:
    """Call ``func`` and put its result in a one-element object array (a dask array block)."""
    out = np.empty(1, dtype=object)
    out[0] = func(*args, **kwargs)
    return out


def _unboxed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> np.ndarray:
    """Call ``func`` on the contents of one-element object arrays, and box the result."""
    args = tuple([a.flat[0] for a in arg] if isinstance(arg, list) else arg.flat[0] for arg in args)
    return _boxed(func, *args, **kwargs)


def broadcast(obj: Any, stage: str = "daskpar-model") -> Any:
    """Put ``obj`` (a model, class list) in the graph once, for every task to depend on."""
    return delayed(obj, pure=True, name=f"{stage}-{tokenize(obj)}")


def map_partitions(
    func: Callable[..., Any],
    X: da.Array,
    *others: da.Array | None,
    stage: str,
    with_position: bool = False,
    **kwargs: Any,
) -> da.Array:
    """One ``stage`` task per row block: ``func(X_block, *other_blocks[, rows, block_id], **kw)``.

    Returns an object array with one element (the task's result) per row block. ``X`` may be
    1-D or 2-D; every array in ``others`` (1-D or 2-D with one column block) must share its row
    chunks, and a ``None`` among them is passed to ``func`` as ``None`` (an optional array such
    as ``sample_weight``). With ``with_position``, ``func`` also gets the block's row slice and
    index (for seeds and error messages). Keyword arguments that are dask collections (see
    :func:`broadcast`) become dependencies.
    """
    # The output keeps X's column index (X has one column block), so that no index is
    # contracted and dask can fuse this layer with the layers that produce the blocks.
    out_ind = "ij"[: X.ndim]
    args: list[Any] = [X, out_ind]
    contracted = False
    for other in others:
        if other is None:
            args += [None, None]
        elif other.ndim == 1 or X.ndim == 2:
            args += [other, "ij"[: other.ndim]]
        else:
            # A 2-D array next to a 1-D X (probabilities next to labels): its single column
            # block is handed over whole.
            args += [other, "ik"]
            contracted = True
    if with_position:
        args += [ArraySliceDep(X.chunks), out_ind, ArrayBlockIdDep(X.chunks), out_ind]
    name = f"{stage}-{tokenize(func, X, others, with_position, kwargs)}"
    return da.blockwise(
        partial(_boxed, func),
        out_ind,
        *args,
        name=name,
        dtype=object,
        adjust_chunks=dict.fromkeys(out_ind, 1),
        align_arrays=False,
        concatenate=contracted or None,
        meta=np.empty((0,) * X.ndim, dtype=object),
        **kwargs,
    )


def tree_combine(
    parts: da.Array,
    combine: Callable[[list[Any]], Any],
    finalize: Callable[..., Any],
    *,
    split_every: int,
    stage: str = "daskpar-combine",
    finalize_stage: str = "daskpar-result",
    **finalize_kwargs: Any,
) -> da.Array:
    """Merge the per-partition results of ``parts`` through a tree of fan-in ``split_every``.

    Level ``l`` groups the nodes of level ``l - 1`` into consecutive runs of at most
    ``split_every``; the root goes through ``finalize(root, **finalize_kwargs)``. Returns a
    one-element object array; see :func:`compute_one`.
    """
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}.")
    token = tokenize(parts, combine, split_every, finalize, finalize_kwargs)
    name, fname = f"{stage}-{token}", f"{finalize_stage}-{token}"
    combine_layer: dict[Any, Any] = {}
    keys: list[Any] = [(parts.name, i) + (0,) * (parts.ndim - 1) for i in range(parts.numblocks[0])]
    depth = 0
    # Always at least one level, so that a single partition takes the same path as many.
    while len(keys) > 1 or depth == 0:
        groups = [keys[i : i + split_every] for i in range(0, len(keys), split_every)]
        keys = []
        for j, group in enumerate(groups):
            combine_layer[(name, depth, j)] = (partial(_unboxed, combine), group)
            keys.append((name, depth, j))
        depth += 1
    finalize_layer = {(fname, 0): (partial(_unboxed, finalize, **finalize_kwargs), keys[0])}
    layers = {**parts.dask.layers, name: combine_layer, fname: finalize_layer}
    dependencies = {**parts.dask.dependencies, name: {parts.name}, fname: {name}}
    graph = HighLevelGraph(layers, dependencies)
    return da.Array(graph, fname, ((1,),), meta=np.empty((0,), dtype=object))


def compute_one(arr: da.Array, **compute_kwargs: Any) -> Any:
    """Compute a one-element object array from :func:`tree_combine` and return its element."""
    # Blockwise fusion (one task reads a block and works on it) stays on; dask's extra linear
    # fusion is turned off because it renames tasks to joined names ("getitem-daskpar-...")
    # and the dashboard would no longer show daskpar's stage names.
    with config.set({"optimization.fuse.active": False}), _one_blas_thread_per_task():
        (out,) = compute(arr, **compute_kwargs)
    return out.flat[0]


def _one_blas_thread_per_task() -> Any:
    """One BLAS thread per task while dask's local thread pool runs the graph.

    The thread pool is the parallelism: a BLAS that also starts a thread per core in every
    task oversubscribes the cores, and OpenBLAS's spinning threads then make a QR-heavy fit
    5-10x slower (more on a busy machine). distributed's workers set the same limit through
    their environment (``OPENBLAS_NUM_THREADS=1``); this does it for the local schedulers. The
    limit is process-wide, so it is set and restored here, once, by the calling thread.
    """
    if get_scheduler() is dask.local.get_sync:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
