"""Graph builders: per-partition tasks and the tree that merges their states.

This is where the tree is built. ``map_partitions`` puts one task per row block; because it is
a blockwise layer, dask fuses it with the blockwise layers that read (or generate, split,
transform) the block, so reading a block and fitting it is one task on one worker and blocks
never travel. ``tree_combine`` then merges the states ``split_every`` at a time; the grouping
depends only on partition indices, never on which task finished first, so the merged bits are
the same on any scheduler and any number of workers.

Every key is ``<stage>-<token>``, and the stage is what the Dask dashboard shows (its
``key_split``): :func:`stage_name` builds and checks them all, so that each shows whole in the
dashboard's progress bars (which cut labels over 15 characters) with its distinctive word
first. A reduction's three stages are ``<stage>-block``, ``<stage>-merge`` and
``<stage>-final``. :func:`compute_blocks` optimizes a graph here, in the calling process, and
sends it as it is, so that a scheduler in another process (which would apply its own
optimizations, linear fusion among them) runs tasks under these names too.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from numbers import Integral
from operator import getitem
from typing import Any

import dask.array as da
import numpy as np
from dask import config
from dask.base import tokenize
from dask.delayed import delayed
from dask.highlevelgraph import HighLevelGraph
from threadpoolctl import threadpool_limits

from ._cluster_check import ensure_cluster_ready
from ._dask_compat import (
    ArrayBlockIdDep,
    ArraySliceDep,
    DataNode,
    GraphNode,
    List,
    Task,
    TaskRef,
    compute_as_if_collection,
    concatenate_lookup,
    flatten,
    get_scheduler,
    get_sync,
    key_split,
    known_partition_lengths,
    remember_partition_lengths,
)
from ._sklearn_compat import Interval
from ._states import combine_states
from .errors import InputError, PartitionError, SchedulerLostError, WorkerKilledError

__all__ = [
    "MAX_STAGE_LENGTH",
    "REDUCTION_STEPS",
    "SPLIT_EVERY",
    "arrays_from_pair_tasks",
    "broadcast",
    "compute_blocks",
    "compute_one",
    "fan_in",
    "map_frame_partitions",
    "map_partitions",
    "map_rows",
    "merge_row_blocks",
    "frame_lengths",
    "reduce_frame_partitions",
    "reduce_partitions",
    "renamed",
    "stage_name",
    "task_retries",
    "tree_combine",
]


#: The fan-in of the trees when ``split_every`` is None and dask's ``split_every`` setting is
#: not set.
DEFAULT_SPLIT_EVERY = 8
#: The scikit-learn parameter constraint of every ``split_every``.
SPLIT_EVERY: list[Any] = [Interval(Integral, 2, None, closed="left"), None]


#: The longest stage name the dashboard's progress bars show whole (longer ones are cut to
#: 12 characters and "...", see ``distributed/diagnostics/progress_stream.py``).
MAX_STAGE_LENGTH = 15
#: The stages of a reduction, after its own name: map, tree-combine, finalize.
REDUCTION_STEPS = ("block", "merge", "final")


def stage_name(stage: str, *steps: str) -> str:
    """The key prefix of a stage: ``stage`` and ``steps`` joined by "-", checked.

    The dashboard labels a task by ``dask.utils.key_split`` of its key, which stops at the
    first word that is not made of letters (so ``read-hdf5`` would show as ``read``) and,
    after the first word, drops any word of eight letters starting with a to f, taking it for
    a hash (so ``-finalize`` cannot be used). A name that would not show whole, as itself, is
    refused here, when the graph is built.

    Parameters
    ----------
    stage : str
        The stage's distinctive word(s) first, such as ``"fit"`` or ``"read-zarr"``.
    *steps : str
        Words that follow, such as a reduction's ``"block"``.

    Returns
    -------
    name : str
        At most :data:`MAX_STAGE_LENGTH` characters, equal to its own ``key_split``.

    Raises
    ------
    ValueError
        If the name is longer, or ``key_split`` would show it otherwise.

    Examples
    --------
    >>> stage_name("fit", "block")
    'fit-block'
    >>> stage_name("read-hdf5", "X")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The stage name 'read-hdf5-X' would show as 'read' on the dashboard; ...
    """
    name = "-".join((stage, *steps))
    shown = key_split(f"{name}-{'0' * 32}")  # as a key with a token
    if shown != name:
        raise ValueError(
            f"The stage name {name!r} would show as {shown!r} on the dashboard; use words of "
            "letters only, and after the first none of eight letters starting with a to f."
        )
    if len(name) > MAX_STAGE_LENGTH:
        raise ValueError(
            f"The stage name {name!r} has {len(name)} characters; the dashboard shows "
            f"{MAX_STAGE_LENGTH} at most."
        )
    return name


def fan_in(split_every: int | None) -> int:
    """``split_every``, else dask's ``split_every`` setting (an int), else 8."""
    if split_every is not None:
        return int(split_every)
    configured = config.get("split_every", None)
    return configured if isinstance(configured, int) else DEFAULT_SPLIT_EVERY


def _boxed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> np.ndarray:
    """Call ``func`` and put its result in a one-element object array (a dask array block)."""
    out = np.empty(1, dtype=object)
    out[0] = func(*args, **kwargs)
    return out


def _boxed_as_declared(
    func: Callable[..., Any],
    dtype: np.dtype[Any],
    with_position: bool,
    X: np.ndarray,
    *args: Any,
    **kwargs: Any,
) -> np.ndarray:
    """:func:`_boxed`, with the numeric block ``X`` cast to its array's declared ``dtype``.

    A dask array's blocks may have another dtype than the array says (a ``map_blocks`` or
    ``from_delayed`` given a wrong ``dtype=``); every block then reaches ``func`` as the array
    declares, so that a model's dtype does not depend on which block it met first. Free when
    they agree. A cast that would change values (floats declared as integers: 0.86 would
    become 0, NaN a large negative number) is refused instead.
    """
    if X.dtype != dtype and X.dtype.kind in "biuf" and dtype.kind in "biuf":
        if not np.can_cast(X.dtype, dtype, "same_kind"):
            where = "a block of X"
            if with_position:
                rows, block = args[-2][0], args[-1][0]
                where = f"partition {block} (rows {rows.start} to {rows.stop - 1}) of X"
            raise PartitionError(
                f"{where} has dtype {X.dtype}, but X says {dtype}: casting would change its "
                "values. The array was made with a wrong dtype= (in map_blocks or "
                f"from_delayed): give its blocks' dtype, {X.dtype}."
            )
        X = X.astype(dtype)
    _check_rows_line_up(X, args, with_position)
    return _boxed(func, X, *args, **kwargs)


def _check_rows_line_up(X: Any, args: tuple[Any, ...], with_position: bool) -> None:
    """Refuse a block whose row count is not what its array declares.

    Row counts can be declared rather than counted (a dask DataFrame's ``to_dask_array``
    takes them on trust); a task checks the rows it holds. Row-aligned blocks (labels,
    weights) are checked against X's in the tasks that use them
    (:func:`~daskpar._validation.check_training_block`).
    """
    n = X.shape[0] if X.ndim else None
    where = "a block"
    if with_position:
        rows, block = args[-2][0], args[-1][0]
        where = f"partition {block}"
        if n is not None and n != rows.stop - rows.start:
            raise PartitionError(
                f"{where} holds {n} rows, but its array's row chunks say "
                f"{rows.stop - rows.start}: the array was given wrong row counts. Labels or "
                "weights from a dask DataFrame take the features' row counts: give X, y and "
                "sample_weight the same partitions (columns of one DataFrame). An array made "
                "with to_dask_array(lengths=...) needs its partitions' true lengths."
            )


def _unboxed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> np.ndarray:
    """Call ``func`` on the contents of one-element object arrays, and box the result."""
    args = tuple([a.flat[0] for a in arg] if isinstance(arg, list) else arg.flat[0] for arg in args)
    return _boxed(func, *args, **kwargs)


def broadcast(obj: Any, stage: str = "model") -> Any:
    """Put ``obj`` (a model, class list) in the graph once, for every task to depend on."""
    return delayed(obj, pure=True, name=f"{stage_name(stage)}-{tokenize(obj)}")


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
    :func:`broadcast`) become dependencies. A numeric block of ``X`` whose dtype is not
    ``X.dtype`` is cast to it first.
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
    name = f"{stage_name(stage)}-{tokenize(func, X, others, with_position, kwargs)}"
    return da.blockwise(
        partial(_boxed_as_declared, func, X.dtype, with_position),
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


def arrays_from_pair_tasks(
    name: str,
    tasks: Mapping[tuple[str, int], GraphNode],
    *,
    row_chunks: tuple[int, ...],
    n_columns: int,
    x_dtype: np.dtype[Any],
    y_dtype: np.dtype[Any],
    shared: Mapping[str, Any] | None = None,
) -> tuple[da.Array, da.Array]:
    """Wrap per-chunk tasks returning ``(X_block, y_block)`` as two row-aligned dask arrays.

    ``tasks`` maps ``(name, i)`` to the task making chunk ``i``; ``shared`` holds values that
    every task refers to by key (stored once in the graph, sent once to the scheduler). The
    arrays are named ``<stage>-X-<token>`` and ``<stage>-y-<token>`` for ``name`` =
    ``<stage>-<token>``.
    """
    stage, _, token = name.rpartition("-")
    x_name, y_name = f"{stage_name(stage, 'X')}-{token}", f"{stage_name(stage, 'y')}-{token}"
    shared = shared or {}
    # One layer per shared value, named by its key, then the layer of per-chunk tasks.
    layers: dict[str, Mapping[Any, Any]] = {k: {k: DataNode(k, v)} for k, v in shared.items()}
    deps: dict[str, set[str]] = {key: set() for key in shared}
    layers[name] = dict(tasks)
    deps[name] = set(shared)
    n_blocks = len(row_chunks)
    x_layer: dict[Any, GraphNode] = {
        (x_name, i, 0): Task((x_name, i, 0), getitem, TaskRef((name, i)), 0)
        for i in range(n_blocks)
    }
    y_layer: dict[Any, GraphNode] = {
        (y_name, i): Task((y_name, i), getitem, TaskRef((name, i)), 1) for i in range(n_blocks)
    }
    x_graph = HighLevelGraph({**layers, x_name: x_layer}, {**deps, x_name: {name}})
    y_graph = HighLevelGraph({**layers, y_name: y_layer}, {**deps, y_name: {name}})
    x_meta, y_meta = np.empty((0, 0), x_dtype), np.empty((0,), y_dtype)
    X = da.Array(x_graph, x_name, (row_chunks, (n_columns,)), meta=x_meta)
    y = da.Array(y_graph, y_name, (row_chunks,), meta=y_meta)
    return X, y


def renamed(arr: da.Array, stage: str) -> da.Array:
    """``arr`` with the tasks of its own layer named ``<stage>-<token>``.

    For arrays whose tasks dask names itself from what they do, such as those of a dask
    dataframe (``read-_to_string_dtype-astype-values``), which the dashboard would show
    cut or as a bare ``read``. The tasks are the same; only their keys change. (A graph in
    dask's older tuple format is left as it is.)
    """
    name = f"{stage_name(stage)}-{tokenize(arr.name, stage)}"

    def new(key: Any) -> Any:
        return (name, *key[1:]) if isinstance(key, tuple) and key[0] == arr.name else key

    graph = dict(arr.__dask_graph__())
    if not all(isinstance(node, GraphNode) for node in graph.values()):
        return arr
    layer = {
        new(key): node.substitute({dep: new(dep) for dep in node.dependencies}, key=new(key))
        for key, node in graph.items()
    }
    out = da.Array(
        HighLevelGraph.from_collections(name, layer, dependencies=()),
        name,
        arr.chunks,
        meta=arr._meta,
    )
    return out


def map_rows(
    func: Callable[..., np.ndarray],
    X: da.Array,
    *,
    stage: str,
    meta: np.ndarray,
    token: Any,
    **kwargs: Any,
) -> da.Array:
    """``func(X_block, rows, block_id, **kwargs)`` lazily on every block: same chunks as ``X``.

    A blockwise layer named ``<stage>-<token>``, so dask fuses it with the layers that read
    the block and with the tasks that use it (a scaler's transform runs inside the training
    task that reads the block).
    """
    out: da.Array = da.blockwise(
        func,
        "ij",
        X,
        "ij",
        ArraySliceDep(X.chunks),
        "ij",
        ArrayBlockIdDep(X.chunks),
        "ij",
        name=f"{stage_name(stage)}-{tokenize(token, X)}",
        dtype=meta.dtype,
        meta=meta,
        align_arrays=False,
        **kwargs,
    )
    return out


def tree_combine(
    parts: da.Array,
    combine: Callable[[list[Any]], Any],
    finalize: Callable[..., Any],
    *,
    split_every: int | None,
    stage: str = "merge",
    finalize_stage: str = "final",
    **finalize_kwargs: Any,
) -> da.Array:
    """Merge the per-partition results of ``parts`` through a tree of fan-in ``split_every``.

    Level ``l`` groups the nodes of level ``l - 1`` into consecutive runs of at most
    ``split_every``; the root goes through ``finalize(root, **finalize_kwargs)``. Returns a
    one-element object array; see :func:`compute_one`.
    """
    split_every = fan_in(split_every)
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}.")
    token = tokenize(parts, combine, split_every, finalize, finalize_kwargs)
    name, fname = f"{stage_name(stage)}-{token}", f"{stage_name(finalize_stage)}-{token}"
    combine_layer: dict[Any, Any] = {}
    keys: list[Any] = [(parts.name, i) + (0,) * (parts.ndim - 1) for i in range(parts.numblocks[0])]
    depth = 0
    # Always at least one level, so that a single partition takes the same path as many.
    while len(keys) > 1 or depth == 0:
        groups = [keys[i : i + split_every] for i in range(0, len(keys), split_every)]
        keys = []
        for j, group in enumerate(groups):
            key = (name, depth, j)
            refs = List(*(TaskRef(k) for k in group))
            combine_layer[key] = Task(key, partial(_unboxed, combine), refs)
            keys.append(key)
        depth += 1
    root = (fname, 0)
    finalize_layer = {
        root: Task(root, partial(_unboxed, finalize, **finalize_kwargs), TaskRef(keys[0]))
    }
    layers = {**parts.dask.layers, name: combine_layer, fname: finalize_layer}
    dependencies = {**parts.dask.dependencies, name: {parts.name}, fname: {name}}
    graph = HighLevelGraph(layers, dependencies)
    return da.Array(graph, fname, ((1,),), meta=np.empty((0,), dtype=object))


def reduce_partitions(
    task: Callable[..., Any],
    X: da.Array,
    *others: da.Array | None,
    finalize: Callable[..., Any],
    stage: str,
    split_every: int | None,
    combine: Callable[[list[Any]], Any] | None = None,
    task_kwargs: Mapping[str, Any] | None = None,
    finalize_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """The one reduction of daskpar, as dask has ``reduction``: map, tree-combine, finalize.

    ``task(X_block, *other_blocks, rows, block_id, **task_kwargs)`` gives each block's state;
    the states merge through a tree of fan-in ``split_every`` (``combine`` takes a list of
    neighbouring states; by default their ``combine`` method, skipping ``None``); the root
    goes through ``finalize(root, **finalize_kwargs)``, whose result is computed and returned.
    The dashboard shows the three stages as ``<stage>-block``, ``<stage>-merge`` and
    ``<stage>-final`` (:data:`REDUCTION_STEPS`), so ``stage`` has at most nine characters.
    """
    block, merge, final = (stage_name(stage, step) for step in REDUCTION_STEPS)
    parts = map_partitions(task, X, *others, stage=block, with_position=True, **(task_kwargs or {}))
    root = tree_combine(
        parts,
        combine or combine_states,
        finalize,
        split_every=split_every,
        stage=merge,
        finalize_stage=final,
        **(finalize_kwargs or {}),
    )
    return compute_one(root, partitions={parts.name: X.chunks[0]})


def _frame_block_state(
    task: Callable[..., Any], task_kwargs: Mapping[str, Any], partition: Any, index: int
) -> np.ndarray:
    """``task`` on one partition of a dask DataFrame, boxed with the partition's row count."""
    n = len(partition)
    out = np.empty(1, dtype=object)
    out[0] = (task(partition, slice(0, n), (index,), **task_kwargs), (n,))
    return out


def _combine_with_lengths(
    combine: Callable[[list[Any]], Any], items: list[tuple[Any, tuple[int, ...]]]
) -> tuple[Any, tuple[int, ...]]:
    """Merge neighbouring ``(state, lengths)`` pairs: the states by ``combine``, the row
    counts by concatenation, in partition order."""
    return combine([state for state, _ in items]), tuple(n for _, ns in items for n in ns)


def _finalize_with_lengths(
    finalize: Callable[..., Any], item: tuple[Any, tuple[int, ...]], **kwargs: Any
) -> tuple[Any, tuple[int, ...]]:
    state, lengths = item
    return finalize(state, **kwargs), lengths


def reduce_frame_partitions(
    task: Callable[..., Any],
    frame: Any,
    *,
    finalize: Callable[..., Any],
    stage: str,
    split_every: int | None,
    task_kwargs: Mapping[str, Any] | None = None,
    finalize_kwargs: Mapping[str, Any] | None = None,
    combine: Callable[[list[Any]], Any] | None = None,
) -> tuple[Any, tuple[int, ...]]:
    """:func:`reduce_partitions` over the partitions of a dask DataFrame, in the same one pass.

    ``task(partition, rows, block_id, **task_kwargs)`` gives each pandas partition's state,
    with ``rows`` = ``slice(0, len(partition))`` (the partition's own rows: where it starts is
    not known without counting the rows before it) and ``block_id`` = ``(i,)``. The states
    merge through the tree of :func:`tree_combine` and the root goes through ``finalize``, as
    in :func:`reduce_partitions`, under the same stage names. The row count of every partition
    is taken in the same tasks and travels up the tree with the states: no other pass counts
    them.

    Returns
    -------
    result, lengths
        ``finalize``'s result and the row count of each partition, in partition order.
    """
    block, merge, final = (stage_name(stage, step) for step in REDUCTION_STEPS)
    # One delayed per partition, the frame's own graph optimized (its layers fused) first.
    parts = frame.to_delayed()
    kwargs = dict(task_kwargs or {})
    name = f"{block}-{tokenize(task, [p.key for p in parts], kwargs)}"
    layer: dict[Any, GraphNode] = {
        (name, i): Task((name, i), partial(_frame_block_state, task, kwargs), TaskRef(p.key), i)
        for i, p in enumerate(parts)
    }
    graph = HighLevelGraph.from_collections(name, layer, dependencies=parts)
    states = da.Array(graph, name, ((1,) * len(parts),), meta=np.empty((0,), dtype=object))
    root = tree_combine(
        states,
        partial(_combine_with_lengths, combine or combine_states),
        partial(_finalize_with_lengths, finalize),
        split_every=split_every,
        stage=merge,
        finalize_stage=final,
        **(finalize_kwargs or {}),
    )
    result, lengths = compute_one(root)
    lengths = tuple(int(n) for n in lengths)
    remember_partition_lengths(frame, lengths)
    return result, lengths


def _count_rows(partition: Any, rows: Any, block_id: tuple[int, ...]) -> None:
    """Nothing: the ``count-block`` task, whose partition's row count the reduction keeps."""
    return None


def _no_result(state: Any) -> None:
    return None


def frame_lengths(frame: Any) -> tuple[int, ...]:
    """The row count of each partition of a dask DataFrame or Series: known without a pass
    (:func:`~daskpar._dask_compat.known_partition_lengths`), else counted in one
    ``count`` pass."""
    known = known_partition_lengths(frame)
    if known is not None:
        return known
    _, lengths = reduce_frame_partitions(
        _count_rows, frame, finalize=_no_result, stage="count", split_every=None
    )
    return lengths


def map_frame_partitions(
    func: Callable[..., Any],
    frame: Any,
    *,
    width: int,
    lengths: tuple[int, ...],
    stage: str,
    token: Any,
    dtype: Any = np.float64,
    meta: Any = None,
    with_index: bool = False,
    **kwargs: Any,
) -> da.Array:
    """A dask array whose block ``i`` is ``func(partition_i[, i], **kwargs)`` of dask
    DataFrame ``frame``: one lazy ``stage`` task per partition, in one graph layer.

    ``lengths`` are the partitions' row counts (the blocks' rows) and ``width`` the blocks'
    columns; ``meta`` an empty block of their type (dense ``dtype`` by default);
    ``token`` identifies ``func`` and ``kwargs`` in the tasks' names. A keyword argument that
    is a dask ``Delayed`` (see :func:`broadcast`) is put in the graph once, for every task.
    """
    frame = frame.optimize()
    name = f"{stage_name(stage)}-{tokenize(token, frame._name)}"
    # The frame's partitions seen as the blocks of a 1-D dask array of the same keys, so that
    # this layer is a Blockwise one: dask fuses it into the tasks that consume its blocks
    # (``fit-block`` of a pipeline), and the transformed block never exists apart.
    partitions = da.Array(
        frame.__dask_graph__(),
        frame._name,
        chunks=(tuple(lengths),),
        dtype=object,
        meta=np.empty((0,), dtype=object),
    )
    args: list[Any] = [partitions, "i"]
    if with_index:
        args += [ArrayBlockIdDep(partitions.chunks), "i"]
    return da.blockwise(
        partial(_frame_block, func, with_index),
        "ij",
        *args,
        name=name,
        new_axes={"j": width},
        dtype=dtype if meta is None else meta.dtype,
        meta=np.empty((0, 0), dtype=dtype) if meta is None else meta,
        align_arrays=False,
        concatenate=None,
        **kwargs,
    )


def _frame_block(
    func: Callable[..., Any], with_index: bool, partition: Any, *rest: Any, **kwargs: Any
) -> Any:
    """``func`` on one partition (and its index, from dask's block id)."""
    if with_index:
        (block_id, *_) = rest
        return func(partition, block_id[0], **kwargs)
    return func(partition, **kwargs)


def compute_one(arr: da.Array, partitions: Mapping[str, tuple[int, ...]] | None = None) -> Any:
    """Compute a one-element object array from :func:`tree_combine` and return its element."""
    (out,) = compute_blocks(arr, partitions=partitions)
    return out.flat[0]


#: Dask's task retries for the computations started inside :func:`task_retries`.
_RETRIES: contextvars.ContextVar[int | None] = contextvars.ContextVar("retries", default=None)


@contextlib.contextmanager
def task_retries(retries: int | None) -> Iterator[None]:
    """Inside, every computation daskpar starts on a distributed cluster lets each task fail
    ``retries`` times before the failure counts (dask's own task retries, for flaky storage).
    ``None`` keeps what an enclosing call set."""
    if retries is None:
        yield
        return
    token = _RETRIES.set(retries)
    try:
        yield
    finally:
        _RETRIES.reset(token)


def _distributed_client(scheduler: Any) -> Any:
    """The ``distributed.Client`` whose ``get`` is ``scheduler``, else ``None``."""
    owner = getattr(scheduler, "__self__", None)
    return owner if type(owner).__name__ == "Client" else None


def _killed_worker_message(error: Any, partitions: Mapping[str, tuple[int, ...]]) -> str:
    """What a task that killed its workers was working on, and what to do about it."""
    key = error.task
    name = key[0] if isinstance(key, tuple) else str(key)
    what = f"the task {key!r}"
    if isinstance(key, tuple) and name in partitions and len(key) > 1:
        block = int(key[1])
        chunks = partitions[name]
        start = int(sum(chunks[:block]))
        what = f"partition {block} (rows {start} to {start + chunks[block] - 1})"
    failures = getattr(error, "allowed_failures", None)
    times = f" {failures + 1} times" if isinstance(failures, int) else ""
    return (
        f"{what} killed the worker running it{times}, so distributed gave up on it "
        f"({key_split(name)}; last on {getattr(error.last_worker, 'address', '?')}). A crash "
        "in native code or a worker out of memory does this: split the data into smaller "
        "chunks (X.rechunk({0: ...}), or chunks= of the reader), give each worker more "
        "memory (--memory-limit), or look for bad values in those rows. The cluster itself "
        "is fine: a nanny starts a new worker for each one killed."
    )


def compute_blocks(
    *arrays: da.Array, partitions: Mapping[str, tuple[int, ...]] | None = None
) -> list[Any]:
    """Compute the blocks of ``arrays`` under their stage names; returns them in key order.

    The graph is optimized here, in the calling process: blockwise fusion (one task reads a
    block and works on it, so blocks never travel) stays on, and dask's linear fusion is
    turned off, because it renames tasks to joined names (``make-data-X-store-map``) that
    the dashboard would show instead of the stages. The optimized graph then runs as it is.
    ``dask.compute`` would instead let the scheduler optimize the graph, which a scheduler in
    another process does with its own settings, fusion on; it would also add a task of its
    own (``finalize-hlgfinalizecompute``) after the root, once per call.
    """
    graph = HighLevelGraph.merge(*(a.__dask_graph__() for a in arrays))
    keys = [key for a in arrays for key in flatten(a.__dask_keys__())]
    options: dict[str, Any] = {}
    retries = _RETRIES.get()
    client = _distributed_client(get_scheduler())
    # Workers there, with the client's versions (once per client and set of workers).
    ensure_cluster_ready(client)
    if retries:
        if client is None:
            raise InputError(
                f"retries={retries} needs a distributed cluster (a distributed.Client): "
                "dask's local schedulers do not retry tasks. Connect a Client, or leave "
                "retries=None."
            )
        options["retries"] = retries
    try:
        with config.set({"optimization.fuse.active": False}), _one_blas_thread_per_task():
            return list(compute_as_if_collection(da.Array, graph, keys, **options))
    except Exception as error:
        if type(error).__name__ == "KilledWorker" and hasattr(error, "task"):
            raise WorkerKilledError(_killed_worker_message(error, partitions or {})) from error
        if client is not None and _scheduler_lost(error):
            raise SchedulerLostError(
                f"Lost the scheduler at {client.scheduler.address} in the middle of the "
                f"computation ({type(error).__name__}: {error}): its process died or the "
                "network to it dropped, and its workers stop with it. Start the scheduler again "
                "(the compose services restart by themselves) and rerun; a fit or search given "
                "checkpoint= (--checkpoint) goes on after its last epoch."
            ) from error
        raise


def _scheduler_lost(error: BaseException) -> bool:
    """Whether ``error`` is how distributed's client says that its scheduler went away."""
    name = type(error).__name__
    if name == "FutureCancelledError":
        return getattr(error, "reason", None) == "scheduler-connection-lost"
    return name in ("ClosedClientError", "CommClosedError")


def _one_blas_thread_per_task() -> Any:
    """One BLAS thread per task while dask's local thread pool runs the graph.

    The thread pool is the parallelism: a BLAS that also starts a thread per core in every
    task oversubscribes the cores, and OpenBLAS's spinning threads then make a QR-heavy fit
    5-10x slower (more on a busy machine). distributed's workers set the same limit through
    their environment (``OPENBLAS_NUM_THREADS=1``); this does it for the local schedulers. The
    limit is process-wide, so it is set and restored here, once, by the calling thread.
    """
    if get_scheduler() is get_sync:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------------------------
# Coalescing (daskpar._coalesce decides the groups)

#: The stage of a merged run of small blocks.
COALESCE_STAGE = "coalesce"


def _concatenate(*blocks: Any) -> Any:
    """The blocks stacked along rows: numpy's concatenate, or scipy's ``vstack`` for sparse
    blocks (whatever dask's ``concatenate_lookup`` knows for the block type)."""
    return concatenate_lookup.dispatch(type(blocks[0]))(list(blocks), axis=0)


def _same(block: Any) -> Any:
    return block


def merge_row_blocks(a: da.Array, groups: Sequence[int]) -> da.Array:
    """``a`` with its runs of ``groups[i]`` adjacent row blocks each merged into one block:
    one ``coalesce`` task per merged block, which takes the blocks it merges as they are (no
    rechunk plan, no intermediate steps), and is named in the dashboard as what it is."""
    if a.ndim > 1 and a.numblocks[1] != 1:
        a = a.rechunk({i: -1 for i in range(1, a.ndim)})
    name = f"{stage_name(COALESCE_STAGE)}-{tokenize(a, tuple(groups))}"
    tail = (0,) * (a.ndim - 1)
    layer: dict[Any, GraphNode] = {}
    start = 0
    for g, n in enumerate(groups):
        key = (name, g, *tail)
        refs = [TaskRef((a.name, i, *tail)) for i in range(start, start + n)]
        layer[key] = Task(key, _concatenate, *refs) if n > 1 else Task(key, _same, refs[0])
        start += n
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[a])  # type: ignore[list-item]
    ends = np.cumsum(groups)
    rows = tuple(int(sum(a.chunks[0][end - n : end])) for n, end in zip(groups, ends, strict=True))
    chunks = (rows, *a.chunks[1:])
    return da.Array(graph, name, chunks, meta=a._meta)
