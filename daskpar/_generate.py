"""Lazy, chunked synthetic data: :func:`make_classification` and :func:`make_regression`.

Both follow scikit-learn's generators of the same name, split in two:

* the *problem* (cluster centroids, covariance transforms, redundant-feature mixing, shift,
  scale, feature order, ground-truth coefficients) is small and drawn once, on the client;
* the *rows* are drawn inside the tasks, one task per chunk, each from its own seeds.

Rows are drawn in seed blocks of :data:`SEED_BLOCK_ROWS` rows; seed block ``b`` is drawn from
``SeedSequence(seed, spawn_key=(stream, b))`` whatever the chunking, and a chunk draws the seed
blocks it overlaps and keeps its rows. So the data depend on ``random_state`` only: the same
call gives bit-identical data on any scheduler, with any number of workers, and with any
``chunks``. A task holds its own chunk plus at most two partial seed blocks.

One task per chunk draws both ``X`` and ``y`` and returns the pair; ``X`` and ``y`` are two
``getitem`` layers over it, so computing them together draws each chunk once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal, overload

import dask.array as da
import numpy as np
from dask.base import tokenize
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._dask_compat import GraphNode, Task, TaskRef
from ._graph import arrays_from_pair_tasks, stage_name
from ._sklearn_compat import Interval, InvalidParameterError, validate_params

__all__ = [
    "RANDOM_STATE",
    "SEED_BLOCK_ROWS",
    "ClassificationProblem",
    "RegressionProblem",
    "generate_classification_block",
    "generate_regression_block",
    "make_classification",
    "make_regression",
    "resolve_seed",
    "seed_sequence",
]

RandomStateLike = int | np.integer[Any] | np.random.RandomState | np.random.Generator | None
Chunks = int | Sequence[int] | None

#: Rows drawn from one seed. A multiple of every "round" chunk size (10_000, 250_000, ...), so
#: that such chunks start and end on seed-block boundaries and draw no row they do not keep.
SEED_BLOCK_ROWS = 1000
#: Default rows per chunk.
DEFAULT_CHUNK_ROWS = 100_000

# Independent random streams under one seed: spawn_key[0] of every SeedSequence daskpar makes.
STREAM_CLASSIFICATION_PROBLEM = 0
STREAM_CLASSIFICATION_ROWS = 1
STREAM_REGRESSION_PROBLEM = 2
STREAM_REGRESSION_ROWS = 3
STREAM_TRAIN_TEST_SPLIT = 4

#: The parameter constraint of every ``random_state``: scikit-learn's, and numpy ``Generator``\s.
RANDOM_STATE: list[Any] = ["random_state", np.random.Generator]
_CHUNKS: list[Any] = [Interval(Integral, 1, None, closed="left"), tuple, list, None]


# --------------------------------------------------------------------------------------------
# Seeds


def resolve_seed(random_state: RandomStateLike) -> int:
    """Turn ``random_state`` into one integer seed, drawn once, on the client.

    ``None`` draws fresh OS entropy; a ``RandomState`` or ``Generator`` is advanced by 16 bytes.
    Everything random in a call then derives from this seed through :func:`seed_sequence`, so
    the tasks of one call agree with each other (``X`` with ``y``, train with test).
    """
    if random_state is None:
        entropy = np.random.SeedSequence().entropy
        return int(entropy)  # type: ignore[arg-type]
    if isinstance(random_state, np.random.RandomState | np.random.Generator):
        return int.from_bytes(random_state.bytes(16), "little")
    return int(random_state)


def seed_sequence(seed: int, stream: int, index: int = 0) -> np.random.SeedSequence:
    """The seed of block ``index`` of random ``stream`` under ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(stream, index))


def normalize_row_chunks(
    chunks: Chunks, n_rows: int, *, caller: str, default: int
) -> tuple[int, ...]:
    """Normalize ``chunks`` (rows per chunk, or every chunk's rows) to a tuple of row counts."""
    if chunks is None:
        chunks = min(n_rows, default)
    if isinstance(chunks, int | np.integer):
        size = int(chunks)
        full, rest = divmod(n_rows, size)
        return (size,) * full + ((rest,) if rest else ())
    sizes = tuple(chunks)
    if not all(isinstance(c, Integral) and c >= 1 for c in sizes) or sum(sizes) != n_rows:
        raise InvalidParameterError(
            f"The 'chunks' parameter of {caller} must be an int (rows per chunk) or a tuple of "
            f"positive ints adding up to n_samples={n_rows}. Got {chunks!r} instead."
        )
    return tuple(int(c) for c in sizes)


def check_float_dtype(dtype: DTypeLike, caller: str) -> np.dtype[Any]:
    """Return ``dtype`` as a numpy floating dtype, or raise InvalidParameterError."""
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = np.dtype(object)
    if out.kind != "f":
        raise InvalidParameterError(
            f"The 'dtype' parameter of {caller} must be a floating-point dtype such as "
            f"np.float64 or np.float32. Got {dtype!r} instead."
        )
    return out


def _seed_block_slices(start: int, stop: int) -> list[tuple[int, slice]]:
    """The seed blocks overlapping rows ``[start, stop)`` and the part of each to keep."""
    out = []
    for b in range(start // SEED_BLOCK_ROWS, (stop - 1) // SEED_BLOCK_ROWS + 1):
        lo = b * SEED_BLOCK_ROWS
        out.append((b, slice(max(start, lo) - lo, min(stop, lo + SEED_BLOCK_ROWS) - lo)))
    return out


def _seed_block_rows(n_samples: int, block: int) -> int:
    return min(SEED_BLOCK_ROWS, n_samples - block * SEED_BLOCK_ROWS)


# --------------------------------------------------------------------------------------------
# make_classification


@dataclass(frozen=True, eq=False)
class ClassificationProblem:
    """Everything shared by the chunks of one :func:`make_classification` call.

    Attributes follow scikit-learn's algorithm: cluster ``k`` belongs to class
    ``k % n_classes``; its informative features are ``N(0, I) @ transforms[k] + centroids[k]``;
    redundant features are ``informative @ redundant``; repeated features copy columns
    ``repeated``; then ``X = (X + shift) * scale`` and columns are put in ``feature_order``.
    """

    seed: int
    n_samples: int
    n_features: int
    n_informative: int
    n_redundant: int
    n_repeated: int
    n_classes: int
    n_clusters_per_class: int
    class_probabilities: NDArray[np.float64]
    flip_y: float
    centroids: NDArray[np.float64]
    transforms: NDArray[np.float64]
    redundant: NDArray[np.float64]
    repeated: NDArray[np.intp]
    shift: NDArray[np.float64]
    scale: NDArray[np.float64]
    feature_order: NDArray[np.intp]
    dtype: np.dtype[Any]


def _sample_without_replacement(
    n_population: int, n_samples: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """``n_samples`` distinct ints in ``range(n_population)``, in scikit-learn's order.

    The rule of :func:`sklearn.utils.random.sample_without_replacement` with its default
    ``method="auto"``, on a numpy ``Generator``. The order matters, since cluster ``k`` goes
    to class ``k % n_classes``:

    * ``n_samples / n_population < 0.99``: a uniformly random sample in random order (where
      scikit-learn takes a prefix of a permutation, or draws with rejection);
    * ``n_samples / n_population >= 0.99``: reservoir sampling, which starts from
      ``0, 1, ..., n_samples - 1`` and lets each later ``i`` overwrite slot ``U{0, i}`` when
      that slot exists. So a sample of the whole population is ``0, 1, ..., n - 1``, in order,
      with no draw at all.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> _sample_without_replacement(4, 4, rng).tolist()  # the whole population: in order
    [0, 1, 2, 3]
    >>> codes = _sample_without_replacement(128, 127, rng)  # one candidate may take a slot
    >>> int((codes != np.arange(127)).sum()) <= 1
    True
    """
    if n_samples / n_population < 0.99:
        codes: NDArray[np.int64] = rng.choice(n_population, size=n_samples, replace=False)
        return codes
    codes = np.arange(n_samples, dtype=np.int64)
    # Reservoir sampling, vectorized: later candidates overwrite earlier ones, so each slot
    # keeps the largest candidate that drew it (candidates increase, and exceed every slot).
    candidates = np.arange(n_samples, n_population, dtype=np.int64)
    slots = rng.integers(0, candidates + 1)
    kept = slots < n_samples
    np.maximum.at(codes, slots[kept], candidates[kept])
    return codes


def _hypercube_vertices(n_vertices: int, dimensions: int, rng: np.random.Generator) -> NDArray[Any]:
    """Distinct vertices of the unit hypercube, chosen as scikit-learn's ``_generate_hypercube``.

    Vertex codes come from :func:`_sample_without_replacement`, so scikit-learn's layouts
    follow: when the vertices fill the hypercube (``n_vertices == 2**dimensions``, the
    defaults of :func:`make_classification`), vertex ``k`` is ``k`` in binary, most
    significant bit first, and class ``k % n_classes`` is a face of the hypercube whenever
    ``n_classes`` is a power of two: the problem is linearly separable up to cluster spread.
    A random order would give XOR layouts as often as not.

    Examples
    --------
    >>> _hypercube_vertices(4, 2, np.random.default_rng(0)).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    if dimensions > 30:
        # Vertices differ in their last 30 coordinates already; the others are free bits.
        free = rng.integers(2, size=(n_vertices, dimensions - 30))
        return np.hstack([free, _hypercube_vertices(n_vertices, 30, rng)])
    codes = _sample_without_replacement(2**dimensions, n_vertices, rng)
    bits = np.arange(dimensions - 1, -1, -1)
    return (codes[:, None] >> bits) & 1


def _class_probabilities(weights: ArrayLike | None, n_classes: int) -> NDArray[np.float64]:
    if weights is None:
        return np.full(n_classes, 1.0 / n_classes)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) not in (n_classes, n_classes - 1):
        raise InvalidParameterError(
            f"The 'weights' parameter of make_classification must have n_classes={n_classes} "
            f"or n_classes - 1={n_classes - 1} entries. Got {len(w)} entries instead."
        )
    if len(w) == n_classes - 1:
        w = np.append(w, 1.0 - w.sum())
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InvalidParameterError(
            "The 'weights' parameter of make_classification must hold non-negative class "
            f"proportions (with n_classes - 1 entries, adding up to at most 1). Got {weights!r} "
            "instead."
        )
    probabilities: NDArray[np.float64] = w / w.sum()
    return probabilities


def _feature_vector(
    value: float | ArrayLike, n_features: int, name: str, caller: str
) -> NDArray[np.float64]:
    out = np.asarray(value, dtype=np.float64)
    if out.ndim == 0:
        return np.full(n_features, float(out))
    if out.shape != (n_features,):
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller} must be a float or an array of shape "
            f"(n_features,) = ({n_features},). Got an array of shape {out.shape} instead."
        )
    return out


def generate_classification_block(
    problem: ClassificationProblem, start: int, stop: int
) -> tuple[NDArray[np.floating[Any]], NDArray[np.int64]]:
    """Draw rows ``[start, stop)`` of a classification problem: the task body.

    Returns ``(X_block, y_block)``; the rows do not depend on how the data set is chunked.
    """
    slices = _seed_block_slices(start, stop)
    parts = [_classification_seed_block(problem, block) for block, _ in slices]
    X = np.concatenate([x[s] for (x, _), (_, s) in zip(parts, slices, strict=True)])
    y = np.concatenate([y[s] for (_, y), (_, s) in zip(parts, slices, strict=True)])
    return X.astype(problem.dtype, copy=False), y


def _classification_seed_block(
    p: ClassificationProblem, block: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    n = _seed_block_rows(p.n_samples, block)
    rng = np.random.default_rng(seed_sequence(p.seed, STREAM_CLASSIFICATION_ROWS, block))
    n_inf, n_red, n_rep = p.n_informative, p.n_redundant, p.n_repeated
    n_random = p.n_features - n_inf - n_red - n_rep
    # The draws, always in this order and for the whole seed block.
    classes = rng.choice(p.n_classes, size=n, p=p.class_probabilities)
    clusters = classes + p.n_classes * rng.integers(p.n_clusters_per_class, size=n)
    informative = rng.standard_normal((n, n_inf))
    useless = rng.standard_normal((n, n_random))
    flip = rng.random(n) < p.flip_y
    flipped = rng.integers(p.n_classes, size=n)

    X = np.empty((n, p.n_features))
    order = np.argsort(clusters, kind="stable")
    bounds = np.cumsum(np.bincount(clusters, minlength=len(p.centroids)))
    for k, (lo, hi) in enumerate(zip(np.r_[0, bounds[:-1]], bounds, strict=True)):
        rows = order[lo:hi]
        X[rows, :n_inf] = informative[rows] @ p.transforms[k] + p.centroids[k]
    if n_red:
        X[:, n_inf : n_inf + n_red] = X[:, :n_inf] @ p.redundant
    if n_rep:
        X[:, n_inf + n_red : n_inf + n_red + n_rep] = X[:, p.repeated]
    if n_random:
        X[:, p.n_features - n_random :] = useless
    X += p.shift
    X *= p.scale
    y = np.where(flip, flipped, classes).astype(np.int64)
    return X[:, p.feature_order], y


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_informative": [Interval(Integral, 1, None, closed="left")],
        "n_redundant": [Interval(Integral, 0, None, closed="left")],
        "n_repeated": [Interval(Integral, 0, None, closed="left")],
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        "n_clusters_per_class": [Interval(Integral, 1, None, closed="left")],
        "weights": ["array-like", None],
        "flip_y": [Interval(Real, 0, 1, closed="both")],
        "class_sep": [Interval(Real, 0, None, closed="neither")],
        "hypercube": ["boolean"],
        "shift": [Interval(Real, None, None, closed="neither"), "array-like", None],
        "scale": [Interval(Real, 0, None, closed="neither"), "array-like", None],
        "chunks": _CHUNKS,
        "random_state": RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def make_classification(
    n_samples: int = 100,
    n_features: int = 20,
    *,
    n_informative: int = 2,
    n_redundant: int = 2,
    n_repeated: int = 0,
    n_classes: int = 2,
    n_clusters_per_class: int = 2,
    weights: ArrayLike | None = None,
    flip_y: float = 0.01,
    class_sep: float = 1.0,
    hypercube: bool = True,
    shift: float | ArrayLike | None = 0.0,
    scale: float | ArrayLike | None = 1.0,
    chunks: Chunks = None,
    random_state: RandomStateLike = None,
    dtype: DTypeLike = np.float64,
) -> tuple[da.Array, da.Array]:
    """Generate a random n-class classification problem, lazily, chunk by chunk.

    The algorithm and parameters are those of :func:`sklearn.datasets.make_classification`:
    gaussian clusters around the vertices of an ``n_informative``-dimensional hypercube with
    sides ``2 * class_sep``, ``n_clusters_per_class`` clusters per class, each with its own
    random covariance; then redundant (linear combinations), repeated and useless features,
    ``flip_y`` label noise, shift and scale, and a random feature order. Differences, all
    forced by drawing the rows chunk by chunk:

    * each row draws its class (with probabilities ``weights``) and then one of its class's
      clusters uniformly, so class counts are random rather than exact;
    * rows are not shuffled (there is no ``shuffle`` parameter): they come out in random
      class order already, and features are always permuted;
    * the values differ from scikit-learn's for the same ``random_state``.

    Parameters
    ----------
    n_samples : int, default=100
        The number of rows.
    n_features : int, default=20
        The number of features: informative, redundant, repeated and useless ones.
    n_informative : int, default=2
        The number of informative features.
    n_redundant : int, default=2
        The number of random linear combinations of the informative features.
    n_repeated : int, default=0
        The number of copies of informative or redundant features.
    n_classes : int, default=2
        The number of classes.
    n_clusters_per_class : int, default=2
        The number of gaussian clusters per class.
    weights : array-like of shape (n_classes,) or (n_classes - 1,), default=None
        Class proportions (normalized to sum to 1). With ``n_classes - 1`` entries the last
        class gets ``1 - sum(weights)``. None means balanced classes.
    flip_y : float in [0, 1], default=0.01
        The fraction of rows whose label is replaced by a random class.
    class_sep : float, default=1.0
        Half the side of the hypercube; larger values make the problem easier.
    hypercube : bool, default=True
        If False, the clusters sit on the vertices of a random polytope instead.
    shift : float, array of shape (n_features,) or None, default=0.0
        Added to the features; None draws each feature's shift in ``[-class_sep, class_sep]``.
    scale : float, array of shape (n_features,) or None, default=1.0
        Multiplies the features after shifting; None draws each feature's scale as
        ``1 + 100 * U(0, 1)``, i.e. in ``[1, 101)``, as scikit-learn does.
    chunks : int or tuple of int, default=None
        Rows per chunk, or the rows of every chunk. None means ``min(n_samples, 100_000)``.
        The data do not depend on ``chunks``.
    random_state : int, RandomState, Generator or None, default=None
        Seed of the whole data set. None draws a fresh seed once, at call time, so ``X`` and
        ``y`` always agree.
    dtype : floating dtype, default=np.float64
        The dtype of ``X``; float32 data are the float64 data rounded.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Chunked along rows only.
    y : dask array of int64 and shape (n_samples,)
        Labels in ``range(n_classes)``, with the same row chunks as ``X``.

    Examples
    --------
    >>> from daskpar.data import make_classification
    >>> X, y = make_classification(1000, 10, chunks=250, random_state=0)
    >>> X.chunks
    ((250, 250, 250, 250), (10,))
    >>> sorted(set(y.compute().tolist()))
    [0, 1]
    """
    caller = "make_classification"
    # scikit-learn's own consistency checks, with its messages.
    if n_informative + n_redundant + n_repeated > n_features:
        raise InvalidParameterError(
            "Number of informative, redundant and repeated features must sum to less than the "
            f"number of total features: {n_informative} + {n_redundant} + {n_repeated} > "
            f"n_features={n_features}."
        )
    if n_informative < math.log2(n_classes * n_clusters_per_class):
        raise InvalidParameterError(
            f"n_classes({n_classes}) * n_clusters_per_class({n_clusters_per_class}) must be "
            f"smaller or equal 2**n_informative({n_informative})={2**n_informative}"
        )
    out_dtype = check_float_dtype(dtype, caller)
    chunk_rows = normalize_row_chunks(chunks, n_samples, caller=caller, default=DEFAULT_CHUNK_ROWS)
    probabilities = _class_probabilities(weights, n_classes)

    # The problem: drawn once, here, from its own stream.
    seed = resolve_seed(random_state)
    rng = np.random.default_rng(seed_sequence(seed, STREAM_CLASSIFICATION_PROBLEM))
    n_clusters = n_classes * n_clusters_per_class
    centroids = _hypercube_vertices(n_clusters, n_informative, rng).astype(np.float64)
    centroids = centroids * (2 * class_sep) - class_sep
    if not hypercube:
        centroids *= rng.uniform(size=(n_clusters, 1))
        centroids *= rng.uniform(size=(1, n_informative))
    transforms = 2 * rng.uniform(size=(n_clusters, n_informative, n_informative)) - 1
    redundant = 2 * rng.uniform(size=(n_informative, n_redundant)) - 1
    n_useful = n_informative + n_redundant
    repeated = ((n_useful - 1) * rng.uniform(size=n_repeated) + 0.5).astype(np.intp)
    shift_vec = (
        (2 * rng.uniform(size=n_features) - 1) * class_sep
        if shift is None
        else _feature_vector(shift, n_features, "shift", caller)
    )
    scale_vec = (
        1 + 100 * rng.uniform(size=n_features)
        if scale is None
        else _feature_vector(scale, n_features, "scale", caller)
    )
    problem = ClassificationProblem(
        seed=seed,
        n_samples=int(n_samples),
        n_features=int(n_features),
        n_informative=int(n_informative),
        n_redundant=int(n_redundant),
        n_repeated=int(n_repeated),
        n_classes=int(n_classes),
        n_clusters_per_class=int(n_clusters_per_class),
        class_probabilities=probabilities,
        flip_y=float(flip_y),
        centroids=centroids,
        transforms=transforms,
        redundant=redundant,
        repeated=repeated,
        shift=shift_vec,
        scale=scale_vec,
        feature_order=rng.permutation(n_features).astype(np.intp),
        dtype=out_dtype,
    )
    token = tokenize(
        caller, seed, n_samples, n_features, n_informative, n_redundant, n_repeated, n_classes,
        n_clusters_per_class, probabilities, flip_y, class_sep, hypercube, shift_vec, scale_vec,
        chunk_rows, out_dtype.str,
    )  # fmt: skip
    return _build(
        f"{stage_name('make-data')}-{token}",
        generate_classification_block,
        problem,
        chunk_rows,
        n_features,
        out_dtype,
        np.dtype(np.int64),
    )


def _build(
    name: str,
    func: Any,
    problem: ClassificationProblem | RegressionProblem,
    chunk_rows: tuple[int, ...],
    n_features: int,
    x_dtype: np.dtype[Any],
    y_dtype: np.dtype[Any],
) -> tuple[da.Array, da.Array]:
    token = name.rpartition("-")[2]
    problem_key = f"{stage_name('make-problem')}-{token}"
    bounds = np.r_[0, np.cumsum(chunk_rows)].tolist()
    tasks: dict[tuple[str, int], GraphNode] = {
        (name, i): Task((name, i), func, TaskRef(problem_key), bounds[i], bounds[i + 1])
        for i in range(len(chunk_rows))
    }
    return arrays_from_pair_tasks(
        name,
        tasks,
        row_chunks=chunk_rows,
        n_columns=n_features,
        x_dtype=x_dtype,
        y_dtype=y_dtype,
        shared={problem_key: problem},
    )


# --------------------------------------------------------------------------------------------
# make_regression


@dataclass(frozen=True, eq=False)
class RegressionProblem:
    """Everything shared by the chunks of one :func:`make_regression` call.

    A row is ``x = z`` (or ``x = z @ mixing`` for a low-rank input) with ``z ~ N(0, I)``, and
    ``y = x @ coef + bias + noise * N(0, 1)``.
    """

    seed: int
    n_samples: int
    n_features: int
    coef: NDArray[np.float64]
    bias: float
    noise: float
    mixing: NDArray[np.float64] | None
    dtype: np.dtype[Any]


def generate_regression_block(
    problem: RegressionProblem, start: int, stop: int
) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]:
    """Draw rows ``[start, stop)`` of a regression problem: the task body.

    Returns ``(X_block, y_block)``; the rows do not depend on how the data set is chunked.
    """
    slices = _seed_block_slices(start, stop)
    parts = [_regression_seed_block(problem, block) for block, _ in slices]
    X = np.concatenate([x[s] for (x, _), (_, s) in zip(parts, slices, strict=True)])
    y = np.concatenate([y[s] for (_, y), (_, s) in zip(parts, slices, strict=True)])
    return X.astype(problem.dtype, copy=False), y.astype(problem.dtype, copy=False)


def _regression_seed_block(
    p: RegressionProblem, block: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    n = _seed_block_rows(p.n_samples, block)
    rng = np.random.default_rng(seed_sequence(p.seed, STREAM_REGRESSION_ROWS, block))
    width = p.n_features if p.mixing is None else p.mixing.shape[0]
    X = rng.standard_normal((n, width))
    if p.mixing is not None:
        X = X @ p.mixing
    y = X @ p.coef + p.bias
    if p.noise > 0:
        y += p.noise * rng.standard_normal(n)
    return X, y


@overload
def make_regression(
    n_samples: int = ...,
    n_features: int = ...,
    *,
    n_informative: int = ...,
    n_targets: int = ...,
    bias: float = ...,
    effective_rank: int | None = ...,
    tail_strength: float = ...,
    noise: float = ...,
    coef: Literal[False] = ...,
    chunks: Chunks = ...,
    random_state: RandomStateLike = ...,
    dtype: DTypeLike = ...,
) -> tuple[da.Array, da.Array]: ...


@overload
def make_regression(
    n_samples: int = ...,
    n_features: int = ...,
    *,
    n_informative: int = ...,
    n_targets: int = ...,
    bias: float = ...,
    effective_rank: int | None = ...,
    tail_strength: float = ...,
    noise: float = ...,
    coef: Literal[True],
    chunks: Chunks = ...,
    random_state: RandomStateLike = ...,
    dtype: DTypeLike = ...,
) -> tuple[da.Array, da.Array, NDArray[np.float64]]: ...


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_informative": [Interval(Integral, 0, None, closed="left")],
        "n_targets": [Interval(Integral, 1, None, closed="left")],
        "bias": [Interval(Real, None, None, closed="neither")],
        "effective_rank": [Interval(Integral, 1, None, closed="left"), None],
        "tail_strength": [Interval(Real, 0, 1, closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "coef": ["boolean"],
        "chunks": _CHUNKS,
        "random_state": RANDOM_STATE,
    },
    prefer_skip_nested_validation=True,
)
def make_regression(
    n_samples: int = 100,
    n_features: int = 100,
    *,
    n_informative: int = 10,
    n_targets: int = 1,
    bias: float = 0.0,
    effective_rank: int | None = None,
    tail_strength: float = 0.5,
    noise: float = 0.0,
    coef: bool = False,
    chunks: Chunks = None,
    random_state: RandomStateLike = None,
    dtype: DTypeLike = np.float64,
) -> tuple[da.Array, da.Array] | tuple[da.Array, da.Array, NDArray[np.float64]]:
    """Generate a random linear regression problem, lazily, chunk by chunk.

    As :func:`sklearn.datasets.make_regression`: gaussian features, a ground-truth linear
    model with ``n_informative`` non-zero coefficients ``100 * U(0, 1)`` on randomly chosen
    features, ``bias`` and gaussian noise of standard deviation ``noise``. The coefficients
    are drawn once on the client; the rows chunk by chunk.

    Parameters
    ----------
    n_samples : int, default=100
        The number of rows.
    n_features : int, default=100
        The number of features.
    n_informative : int, default=10
        The number of features with a non-zero coefficient (at most ``n_features``).
    n_targets : int, default=1
        Only 1 is supported: daskpar's models take a single target.
    bias : float, default=0.0
        The intercept of the ground-truth model.
    effective_rank : int or None, default=None
        None gives well-conditioned standard normal features. An int gives features with
        scikit-learn's low-rank, fat-tail singular profile (see
        :func:`sklearn.datasets.make_low_rank_matrix`): ``X = Z @ diag(s) @ V.T /
        sqrt(n_samples)`` with ``Z`` standard normal rows, drawn chunk by chunk, in place of
        scikit-learn's exactly orthonormal left singular vectors (orthonormal in expectation).
    tail_strength : float in [0, 1], default=0.5
        The weight of the fat tail of the singular profile; only used with ``effective_rank``.
    noise : float, default=0.0
        The standard deviation of the gaussian noise added to ``y``.
    coef : bool, default=False
        If True, also return the ground-truth coefficients.
    chunks : int or tuple of int, default=None
        Rows per chunk, or the rows of every chunk. None means ``min(n_samples, 100_000)``.
        The data do not depend on ``chunks``.
    random_state : int, RandomState, Generator or None, default=None
        Seed of the whole data set; None draws a fresh seed once, at call time.
    dtype : floating dtype, default=np.float64
        The dtype of ``X`` and ``y``.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Chunked along rows only.
    y : dask array of shape (n_samples,)
        The targets, with the same row chunks as ``X``.
    coef : numpy array of shape (n_features,)
        The ground-truth coefficients; only if ``coef=True``.

    Examples
    --------
    >>> from daskpar.data import make_regression
    >>> X, y, w = make_regression(1000, 5, n_informative=2, coef=True, chunks=500, random_state=0)
    >>> X.chunks, y.chunks
    (((500, 500), (5,)), ((500, 500),))
    >>> int((w != 0).sum())
    2
    """
    caller = "make_regression"
    if n_targets != 1:
        raise InvalidParameterError(
            f"The 'n_targets' parameter of make_regression must be 1: daskpar's models take a "
            f"single target per row. Got {n_targets!r} instead; call make_regression once per "
            "target if you need several."
        )
    out_dtype = check_float_dtype(dtype, caller)
    chunk_rows = normalize_row_chunks(chunks, n_samples, caller=caller, default=DEFAULT_CHUNK_ROWS)
    n_informative = min(n_features, n_informative)

    seed = resolve_seed(random_state)
    rng = np.random.default_rng(seed_sequence(seed, STREAM_REGRESSION_PROBLEM))
    ground_truth = np.zeros(n_features)
    ground_truth[:n_informative] = 100 * rng.uniform(size=n_informative)
    ground_truth = ground_truth[rng.permutation(n_features)]
    mixing = None
    if effective_rank is not None:
        # make_low_rank_matrix's singular profile and right singular vectors.
        n = min(n_samples, n_features)
        v, _ = np.linalg.qr(rng.standard_normal((n_features, n)))
        i = np.arange(n, dtype=np.float64)
        low_rank = (1 - tail_strength) * np.exp(-1.0 * (i / effective_rank) ** 2)
        tail = tail_strength * np.exp(-0.1 * i / effective_rank)
        mixing = (low_rank + tail)[:, None] * v.T / math.sqrt(n_samples)
    problem = RegressionProblem(
        seed=seed,
        n_samples=int(n_samples),
        n_features=int(n_features),
        coef=ground_truth,
        bias=float(bias),
        noise=float(noise),
        mixing=mixing,
        dtype=out_dtype,
    )
    token = tokenize(
        caller, seed, n_samples, n_features, ground_truth, bias, noise, effective_rank,
        tail_strength, chunk_rows, out_dtype.str,
    )  # fmt: skip
    X, y = _build(
        f"{stage_name('make-data')}-{token}",
        generate_regression_block,
        problem,
        chunk_rows,
        n_features,
        out_dtype,
        out_dtype,
    )
    if coef:
        return X, y, ground_truth.copy()
    return X, y
