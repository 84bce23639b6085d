"""k-means clustering out of core: ``KMeans``, Lloyd's iterations one read per iteration.

Every pass is daskpar's one reduction (map one task per block, merge the states through a
tree of fan-in ``split_every``, finalize); what changes between passes is the centres,
put in the graph once per pass (``kmeans-centres``)::

    init      "random":   blocks --kmpick-block--> TopRows (largest random keys) ---> k rows
              "k-means||": kmpick (1 pass), then each round one kmsample pass (cost phi of
                          the candidates and the next sample, together), then one kmweight
                          pass (rows nearest to each candidate); scikit-learn's k-means++ on
                          the weighted candidates, on the client
    Lloyd     blocks --kmeans-block--> ClusterSums --kmeans-merge--> --kmeans-final--> client:
              centres = sums / weights, empty clusters relocated (a kmfar pass), shift vs tol

All ``n_init`` runs share every pass: a block task assigns its rows to the centres of every
run still going (one matrix product against the stacked centres) and returns the sums of
each. The per-row random numbers of the initializations come from a counter-based hash of
the seed, the round and the global row index, so that the picks do not depend on the
chunking or the number of workers; the sums merge in the tree's fixed order, so the result
is bit-identical on any number of workers and equal to float rounding across chunkings
and ``split_every``.

A block task multiplies row slabs by the stacked centres (one BLAS product, in X's float
dtype as scikit-learn's), takes each row's nearest centre of each run (numpy's argmin), then
one compiled loop (numba) adds each row to its centre's sums in float64: no one-hot or
distance matrix, and the slabs' buffers are allocated once per task. With ``checkpoint``,
the runs' state is written after the initialization and after every Lloyd pass
(``daskpar._checkpoint``): a rerun resumes there, to the same bits.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import dask.array as da
import numba
import numpy as np
from dask.base import is_dask_collection, tokenize
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.cluster import KMeans as SKLearnKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import audit
from ._checkpoint import Checkpoint
from ._columns import is_dask_table, is_table, match_feature_names
from ._graph import SPLIT_EVERY, broadcast, reduce_partitions, stage_name
from ._pass import DataCheck, FirstPassCheck
from ._saving import SaveMixin
from ._sklearn_compat import (
    Interval,
    InvalidParameterError,
    StrOptions,
    get_output_config,
    validate_estimator_params,
)
from ._states import LabelSet, Moments, combine_all
from ._validation import (
    check_finite_block,
    check_sample_weight,
    check_weights_block,
    check_X,
    is_sparse_array,
    refuse_text,
)
from .errors import InputError

__all__ = [
    "CandidateWeights",
    "Centres",
    "ClusterSums",
    "KMeans",
    "TopRows",
    "assign_partition",
    "combine_digested",
    "digest_partition",
    "distance_partition",
    "farthest_partition",
    "lloyd_partition",
    "pick_partition",
    "row_uniforms",
    "sample_partition",
    "weigh_partition",
]

#: The dashboard's names of KMeans's stages. Reductions (``<stage>-block``, ``-merge``,
#: ``-final``): ``kmeans`` (a Lloyd pass, and ``score``), ``kmpick`` (random rows: the
#: "random" init and k-means||'s first centre), ``kmsample`` (a k-means|| round),
#: ``kmweight`` (the k-means|| candidates' weights), ``kmfar`` (the rows farthest from their
#: centres, for empty clusters). Broadcasts: ``kmeans-centres``. Lazy maps:
#: ``kmeans-predict`` (labels), ``kmeans-dist`` (transform).
LLOYD_STAGE = "kmeans"
PICK_STAGE = "kmpick"
SAMPLE_STAGE = "kmsample"
WEIGHT_STAGE = "kmweight"
FAR_STAGE = "kmfar"
CENTRES_STAGE = stage_name("kmeans", "centres")
PREDICT_STAGE = stage_name("kmeans", "predict")
DISTANCE_STAGE = stage_name("kmeans", "dist")
#: The reduction that only checks the blocks against a checkpoint (a finished fit's rerun).
VERIFY_STAGE = "verify"

#: float64 values per temporary when a block is processed in row slabs (2 MiB): large
#: enough for efficient matrix products, small enough that a block of any size adds little.
_SLAB_VALUES = 1 << 18
#: k-means|| rounds when ``init_max_iter`` is None: 2, as Spark MLlib since SPARK-17389 (Bahmani
#: et al.'s experiments use 5). Each round is a pass whose products grow with the candidates
#: (about ``2 k`` more per round): on 500,000 x 100 rows with k = 64, 5 rounds cost as much
#: as 30 Lloyd passes, and the best of 10 k-means++ runs on 2 rounds' candidates starts
#: Lloyd's iterations as well (30 iterations end at a lower inertia there, k = 8 and 64).
DEFAULT_INIT_ROUNDS = 2
#: scikit-learn's k-means++ runs on the weighted k-means|| candidates, the best kept: a few
#: hundred rows on the client, no pass.
CANDIDATE_INITS = 10


# --------------------------------------------------------------------------------------------
# Random numbers by global row position


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of uint64 that scrambles every bit."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_uniforms(seed: int, stream: int, start: int, n: int) -> np.ndarray:
    """Uniform numbers in (0, 1) for the rows ``start .. start + n - 1``.

    A counter-based generator (SplitMix64 of the seed, the stream and the global row index):
    a row's number depends on those three alone, never on the block that holds it, so the
    picks of the initializations are the same under any chunking and on any worker.
    """
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed, stream], dtype=np.uint64) * _GOLDEN + np.uint64(1))
        base = _mix(key[:1] ^ _mix(key[1:]))
        z = _mix(base + (np.arange(start, start + n, dtype=np.uint64) + np.uint64(1)) * _GOLDEN)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


# --------------------------------------------------------------------------------------------
# States


@dataclass(frozen=True, eq=False)
class ClusterSums:
    """One Lloyd pass's sums for ``R`` runs of ``k`` centres: KMeans's state.

    ``sums[r, j]`` is the weighted sum of the rows nearest to centre ``j`` of run ``r``
    (of the rows minus :attr:`Centres.shift`, a constant of the fit, for accuracy),
    ``weights[r, j]`` their total weight, ``counts[r, j]`` their number, ``inertia[r]`` the
    sum of weight times squared distance to the nearest centre. ``moments`` are the
    unweighted per-feature moments of X, kept in the first pass only (scikit-learn's
    tolerance is the mean of the feature variances times ``tol``). Every field adds up
    exactly (float64 sums, merged in the tree's fixed order: equal to float rounding across
    chunkings).

    Its size is ``8 R (k (d + 2) + 1)`` bytes for ``d`` features (plus ``8 (3 d + 1)``
    for the moments in the first pass), whatever the rows.
    """

    sums: np.ndarray  # (R, k, d) float64
    weights: np.ndarray  # (R, k) float64
    counts: np.ndarray  # (R, k) int64
    inertia: np.ndarray  # (R,) float64
    moments: Moments | None = None

    def combine(self, other: ClusterSums, /) -> ClusterSums:
        moments = combine_all([self.moments, other.moments])
        return ClusterSums(
            self.sums + other.sums,
            self.weights + other.weights,
            self.counts + other.counts,
            self.inertia + other.inertia,
            moments,
        )


def _top(keys: np.ndarray, index: np.ndarray, capacity: int) -> np.ndarray:
    """The positions of the ``capacity`` largest keys, largest first, ties to the lower row
    index: the keys at least the ``capacity``-th largest (a partition, linear), then those
    few sorted."""
    if len(keys) > capacity > 0 and not np.isnan(keys).any():  # NaN keys: the full sort's order
        kth = np.partition(keys, len(keys) - capacity)[len(keys) - capacity]
        few = np.flatnonzero(keys >= kth)
        return few[np.lexsort((index[few], -keys[few]))][:capacity]
    return np.lexsort((index, -keys))[:capacity]


@dataclass(frozen=True, eq=False)
class TopRows:
    """For each of ``R`` groups, the (at most) ``capacity[g]`` rows of the largest keys.

    The rows of the random picks (random keys), of the k-means|| samples (keys
    ``w d^2 / u``) and the rows farthest from their centres (keys: squared distances).
    ``combine`` keeps the largest keys of both, ties to the lower global row index: no
    arithmetic, so it is exact and independent of the tree. ``cost[g]`` adds up a float on
    the way (k-means||'s phi, the weighted squared distances to the candidates).

    Its size is about ``8 (d + 4) M + 8`` bytes per group of capacity ``M`` (the rows, their
    key, index, weight and label), whatever the rows.
    """

    capacity: tuple[int, ...]
    keys: tuple[np.ndarray, ...]  # (m,) float64 each
    index: tuple[np.ndarray, ...]  # (m,) int64: global row
    rows: tuple[np.ndarray, ...]  # (m, d) float64
    weights: tuple[np.ndarray, ...]  # (m,) float64
    labels: tuple[np.ndarray, ...]  # (m,) int64: nearest centre
    cost: np.ndarray  # (R,) float64

    def combine(self, other: TopRows, /) -> TopRows:
        fields: list[list[np.ndarray]] = [[], [], [], [], []]
        for g, capacity in enumerate(self.capacity):
            keys = np.concatenate([self.keys[g], other.keys[g]])
            index = np.concatenate([self.index[g], other.index[g]])
            keep = _top(keys, index, capacity)
            for out, mine, theirs in zip(
                fields,
                (self.keys, self.index, self.rows, self.weights, self.labels),
                (other.keys, other.index, other.rows, other.weights, other.labels),
                strict=True,
            ):
                out.append(np.concatenate([mine[g], theirs[g]])[keep])
        keys_, index_, rows_, weights_, labels_ = (tuple(f) for f in fields)
        return TopRows(
            self.capacity, keys_, index_, rows_, weights_, labels_, self.cost + other.cost
        )


@dataclass(frozen=True, eq=False)
class CandidateWeights:
    """For each run, the total weight of the rows nearest to each k-means|| candidate.

    Sums of the sample weights (float64): ``8 M`` bytes per run of ``M`` candidates.
    """

    weights: tuple[np.ndarray, ...]

    def combine(self, other: CandidateWeights, /) -> CandidateWeights:
        return CandidateWeights(
            tuple(a + b for a, b in zip(self.weights, other.weights, strict=True))
        )


@dataclass(frozen=True, eq=False)
class Centres:
    """The centres of every run of a pass, put in the graph once for all the blocks.

    ``centres`` is ``(R, k, d)`` (runs of equal size) or a tuple of ``(k_r, d)`` arrays
    (k-means|| candidate sets); ``shift`` is subtracted from the rows and the centres before
    any distance or sum (the mean of the initial centres: distances of data far from the
    origin lose fewer digits, as scikit-learn centres X for the same reason).
    """

    centres: np.ndarray | tuple[np.ndarray, ...]
    shift: np.ndarray  # (d,)

    def runs(self) -> list[np.ndarray]:
        return [np.asarray(c, dtype=np.float64) - self.shift for c in self.centres]


# --------------------------------------------------------------------------------------------
# Task bodies


def _slabs(n: int, width: int) -> list[slice]:
    step = max(64, _SLAB_VALUES // max(width, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


class _SlabBuffers:
    """The temporaries of a block's slabs against the centres ``runs``, allocated once per
    task and reused by every slab: the shifted rows (float64), the scores and the labels.

    The scores (what picks each row's nearest centre) are computed in ``dtype``, X's float
    dtype, as scikit-learn's Lloyd step computes them: float32 X's in float32, about twice
    the matrix product's speed, the rows rounded to float32 after the shift. The distances,
    sums and inertia are float64 from the float64 rows whatever the dtype.

    Workers run with a small ``MALLOC_TRIM_THRESHOLD_`` (distributed's nanny sets it), under
    which glibc maps every large allocation afresh and returns it on free, so a temporary
    allocated per slab costs its page faults every time: that doubled a Lloyd pass's CPU
    time.
    """

    def __init__(self, n: int, d: int, runs: _Stacked, dtype: Any = np.float64) -> None:
        width = len(runs.stacked)
        self.slabs = _slabs(n, max(d, width))
        step = self.slabs[0].stop if self.slabs else 0
        self.runs = runs
        self._x = np.empty((step, d))
        self._labels = np.empty((step, len(runs.offsets) - 1), dtype=np.intp)
        self._low: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if np.dtype(dtype) == np.float32:
            centres = runs.stacked.astype(np.float32)
            norms = np.einsum("ij,ij->i", centres, centres)
            self._low = (np.empty((step, d), dtype=np.float32), centres, norms)
        self._products = np.empty(
            (step, width), dtype=np.float64 if self._low is None else np.float32
        )

    def shifted(self, X: np.ndarray, slab: slice, shift: np.ndarray) -> np.ndarray:
        """The rows ``slab`` of ``X`` as float64, minus ``shift`` (valid until the next
        slab's)."""
        x = self._x[: slab.stop - slab.start]
        np.subtract(X[slab], shift, out=x, dtype=np.float64)
        return x

    def labels(self, x: np.ndarray) -> np.ndarray:
        """Each row of the slab ``x`` (shifted) labelled with its nearest centre of each run,
        ``(len(x), R)``, the index in the run (valid until the next slab's).

        scikit-learn's Lloyd step: the argmin of the scores ``|c|^2 - 2 x.c`` from one
        matrix product against every run's centres, in X's float dtype; numpy's ``argmin``:
        the first minimum, the first NaN.
        """
        scores = self._products[: len(x)]
        if self._low is None:
            np.matmul(x, self.runs.stacked.T, out=scores)
            norms = self.runs.norms
        else:
            rows, centres, norms = self._low
            rows = rows[: len(x)]
            rows[...] = x
            np.matmul(rows, centres.T, out=scores)
        np.multiply(scores, -2.0, out=scores)
        np.add(scores, norms, out=scores)
        offsets = self.runs.offsets
        labels = self._labels[: len(x)]
        sizes = np.diff(offsets)
        if (sizes == sizes[0]).all():
            # Runs of k centres each: one call over (rows, R, k) (each row's k contiguous)
            np.argmin(scores.reshape(len(x), len(sizes), sizes[0]), axis=2, out=labels)
        else:
            for r in range(len(sizes)):
                np.argmin(scores[:, offsets[r] : offsets[r + 1]], axis=1, out=labels[:, r])
        return labels


def _weights(sample_weight: np.ndarray | None, n: int, rows: slice, block: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    check_weights_block(w, rows, block)
    return w


#: The kernels below are compiled once per dtype and cached on disk, as the adaptive
#: learner's (``daskpar._adaptive._compiled``); no fastmath, so each sum is the loop's.
_jit = numba.njit(cache=True, nogil=True, fastmath=False)


@numba.njit(cache=True, nogil=True, fastmath=False, inline="always")
def _distance(x: np.ndarray, centre: np.ndarray) -> float:  # pragma: no cover - compiled
    """The squared distance of ``x`` to ``centre``, summed feature by feature in four
    interleaved sums (four independent chains of additions: twice one sum's speed, and the
    same bits on every CPU): exactly 0 for a row equal to its centre."""
    s0 = s1 = s2 = s3 = 0.0
    d = len(x)
    whole = d - d % 4
    for f in range(0, whole, 4):
        e0 = x[f] - centre[f]
        e1 = x[f + 1] - centre[f + 1]
        e2 = x[f + 2] - centre[f + 2]
        e3 = x[f + 3] - centre[f + 3]
        s0 += e0 * e0
        s1 += e1 * e1
        s2 += e2 * e2
        s3 += e3 * e3
    for f in range(whole, d):
        e = x[f] - centre[f]
        s0 += e * e
    return (s0 + s1) + (s2 + s3)


@_jit
def _nearest_rows(
    x: np.ndarray, stacked: np.ndarray, offsets: np.ndarray, labels: np.ndarray, dist: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Each row's squared distance to its nearest centre of each run (``labels[i, r]`` of
    the rows ``offsets[r]:offsets[r+1]`` of ``stacked``), in ``dist``."""
    for i in range(x.shape[0]):
        for r in range(len(offsets) - 1):
            dist[i, r] = _distance(x[i], stacked[offsets[r] + labels[i, r]])


@_jit
def _lloyd_rows(
    x: np.ndarray,
    labels: np.ndarray,
    stacked: np.ndarray,
    k: int,
    w: np.ndarray,
    update: bool,
    sums: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray,
    inertia: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """One slab's Lloyd sums for runs of ``k`` centres each, added to the zeroed ``sums``,
    ``weights``, ``counts`` and ``inertia``: each row added to its nearest centre's sums
    (``labels[i, r]``) at once (no one-hot matrix, no distance matrix). False if a squared
    distance is not finite (a value of X that is not, which the caller names)."""
    finite = True
    for i in range(x.shape[0]):
        wi = w[i]
        for r in range(sums.shape[0]):
            label = labels[i, r]
            total = _distance(x[i], stacked[r * k + label])
            if not np.isfinite(total):
                finite = False
            weights[r, label] += wi
            counts[r, label] += 1
            inertia[r] += wi * total
            if update:
                for f in range(x.shape[1]):
                    sums[r, label, f] += wi * x[i, f]
    return finite


@dataclass(frozen=True, eq=False)
class _Stacked:
    """Every run's centres as one matrix, their squared norms and where each run starts:
    what each slab's matrix product and assignment use, made once per task."""

    stacked: np.ndarray  # (sum k_r, d) float64, C order
    norms: np.ndarray  # (sum k_r,)
    offsets: np.ndarray  # (R + 1,) int64

    @classmethod
    def of(cls, centres: list[np.ndarray]) -> _Stacked:
        stacked = np.ascontiguousarray(np.vstack(centres), dtype=np.float64)
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in centres])]).astype(np.int64)
        return cls(stacked, np.einsum("ij,ij->i", stacked, stacked), offsets)


def _nearest(x: np.ndarray, buffers: _SlabBuffers) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(n, R)`` and squared distances ``(n, R)`` of the slab ``x`` (shifted) to each
    run's nearest centre of ``buffers.runs``.

    As scikit-learn's Lloyd step: the label is the argmin of ``|c|^2 - 2 x.c``
    (:meth:`_SlabBuffers.labels`); the distance to it is then summed feature by feature,
    exactly 0 for a row equal to its centre.
    """
    runs = buffers.runs
    dist = np.empty((len(x), len(runs.offsets) - 1))
    labels = buffers.labels(x)
    _nearest_rows(x, runs.stacked, runs.offsets, labels, dist)
    return labels, dist


def lloyd_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    centres: Centres,
    update: bool = True,
    with_moments: bool = False,
) -> ClusterSums | None:
    """The ``kmeans-block`` task: one block's Lloyd sums for every run (:class:`ClusterSums`).

    Assigns each row to the nearest centre of each run and adds up, per centre, the
    weighted rows (unless ``update`` is False, for ``score`` and final assignments), their
    weights and number, and the weighted squared distances (the inertia). ``None`` for an
    empty block.
    """
    n, d = X.shape
    if n == 0:
        return None
    w = _weights(sample_weight, n, rows[0], block_id[0])
    runs = centres.runs()
    n_runs, k = len(runs), len(runs[0])
    stacked = _Stacked.of(runs)
    sums = np.zeros((n_runs, k, d))
    weights = np.zeros((n_runs, k))
    counts = np.zeros((n_runs, k), dtype=np.int64)
    inertia = np.zeros(n_runs)
    # Each slab's sums apart, then added: shorter running sums than one per block.
    part = (np.empty_like(sums), np.empty_like(weights), np.empty_like(counts), np.empty(n_runs))
    buffers = _SlabBuffers(n, d, stacked, X.dtype)
    for slab in buffers.slabs:
        x = buffers.shifted(X, slab, centres.shift)
        labels = buffers.labels(x)
        for a in part:
            a.fill(0)
        finite = _lloyd_rows(x, labels, stacked.stacked, k, w[slab], update, *part)
        if not finite:
            # A squared distance that is not finite comes from a value of X that is not
            # (or from an overflow, which the check lets through): the check names it.
            check_finite_block(X, "X", rows[0], block_id[0])
        sums += part[0]
        weights += part[1]
        counts += part[2]
        inertia += part[3]
    moments = Moments.of(np.asarray(X)) if with_moments else None
    return ClusterSums(sums, weights, counts, inertia, moments)


def farthest_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    centres: Centres,
    capacity: tuple[int, ...],
) -> TopRows | None:
    """The ``kmfar-block`` task: for each run, the ``capacity[r]`` rows of the block farthest
    from their nearest centre (squared distance, unweighted, as scikit-learn's
    ``_relocate_empty_clusters``), with their weight and label.

    ``centres`` are those of the Lloyd pass that left clusters empty, all its runs, so the
    labels are computed exactly as that pass computed them.
    """
    n, d = X.shape
    if n == 0:
        return None
    w = _weights(sample_weight, n, rows[0], block_id[0])
    runs = centres.runs()
    stacked = _Stacked.of(runs)
    tops: TopRows | None = None
    start = rows[0].start
    buffers = _SlabBuffers(n, d, stacked, X.dtype)
    for slab in buffers.slabs:
        x = buffers.shifted(X, slab, centres.shift)
        labels, dist = _nearest(x, buffers)
        index = np.arange(start + slab.start, start + slab.stop, dtype=np.int64)
        part = _tops_of(
            capacity,
            [dist[:, r] for r in range(len(runs))],
            index,
            x,
            w[slab],
            [labels[:, r] for r in range(len(runs))],
            np.zeros(len(runs)),
        )
        tops = part if tops is None else tops.combine(part)
    return tops


def _tops_of(
    capacity: tuple[int, ...],
    keys: list[np.ndarray],
    index: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    labels: list[np.ndarray] | None,
    cost: np.ndarray,
) -> TopRows:
    fields: list[list[np.ndarray]] = [[], [], [], [], []]
    for g, m in enumerate(capacity):
        keep = _top(keys[g], index, m)
        lab = labels[g][keep] if labels is not None else np.zeros(len(keep), dtype=np.int64)
        values = (keys[g][keep], index[keep], np.asarray(x[keep], np.float64), w[keep], lab)
        for out, value in zip(fields, values, strict=True):
            out.append(value)
    k_, i_, r_, w_, l_ = (tuple(f) for f in fields)
    return TopRows(capacity, k_, i_, r_, w_, l_, cost)


def pick_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    seeds: tuple[int, ...],
    capacity: int,
) -> TopRows | None:
    """The ``kmpick-block`` task: for each run's seed, the ``capacity`` rows of the block with
    the largest keys ``log(u) / w`` (``u`` uniform by global row, :func:`row_uniforms`).

    The ``capacity`` largest keys over all of X are a sample without replacement with
    probabilities proportional to the weights (Efraimidis and Spirakis, 2006): uniform
    without ``sample_weight``, and never a row of weight 0.
    """
    n, _ = X.shape
    if n == 0:
        return None
    check_finite_block(X, "X", rows[0], block_id[0])
    w = _weights(sample_weight, n, rows[0], block_id[0])
    start = rows[0].start
    with np.errstate(divide="ignore"):
        keys = [np.log(row_uniforms(seed, 0, start, n)) / w for seed in seeds]
    index = np.arange(start, start + n, dtype=np.int64)
    return _tops_of((capacity,) * len(seeds), keys, index, X, w, None, np.zeros(len(seeds)))


def sample_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    centres: Centres,
    seeds: tuple[int, ...],
    round_: int,
    capacity: int,
) -> TopRows | None:
    """The ``kmsample-block`` task: one k-means|| round for every run, in one read.

    For each run's candidates ``C``: the cost ``phi = sum w d^2(x, C)`` and the rows of the
    largest keys ``w d^2(x, C) / u`` (``u`` uniform by seed, round and global row). A row
    belongs to the round's sample when ``u < l w d^2 / phi``, that is when its key exceeds
    ``phi / l``: the client applies that threshold once the tree has summed ``phi``, so the
    cost and the sample take one pass together. The sample holds at most ``capacity`` rows
    (the largest keys).
    """
    n, d = X.shape
    if n == 0:
        return None
    w = _weights(sample_weight, n, rows[0], block_id[0])
    runs = centres.runs()
    stacked = _Stacked.of(runs)
    start = rows[0].start
    buffers = _SlabBuffers(n, d, stacked, X.dtype)
    dist = np.empty((n, len(runs)))
    for slab in buffers.slabs:
        dist[slab] = _nearest(buffers.shifted(X, slab, centres.shift), buffers)[1]
    keys = [w * dist[:, r] / row_uniforms(seed, round_, start, n) for r, seed in enumerate(seeds)]
    index = np.arange(start, start + n, dtype=np.int64)
    return _tops_of((capacity,) * len(runs), keys, index, X, w, None, w @ dist)


def weigh_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    centres: Centres,
) -> CandidateWeights | None:
    """The ``kmweight-block`` task: for each run, the weight of the block's rows nearest to
    each k-means|| candidate."""
    n, d = X.shape
    if n == 0:
        return None
    w = _weights(sample_weight, n, rows[0], block_id[0])
    runs = centres.runs()
    totals = [np.zeros(len(c)) for c in runs]
    stacked = _Stacked.of(runs)
    buffers = _SlabBuffers(n, d, stacked, X.dtype)
    for slab in buffers.slabs:
        labels, _ = _nearest(buffers.shifted(X, slab, centres.shift), buffers)
        for r, c in enumerate(runs):
            totals[r] += np.bincount(labels[:, r], weights=w[slab], minlength=len(c))
    return CandidateWeights(tuple(totals))


def _merged(state: Any) -> Any:
    """The ``-final`` task of KMeans's reductions: the merged state, for the client."""
    return state


def assign_partition(X: np.ndarray, *, centres: Centres, block_info: Any = None) -> np.ndarray:
    """The ``kmeans-predict`` task: the index of each row's nearest centre (int32, as
    scikit-learn's labels), computed as the fit assigns rows."""
    rows, block = _position(X, block_info)
    check_finite_block(X, "X", rows, block)
    labels = np.empty(len(X), dtype=np.int32)
    runs = centres.runs()
    stacked = _Stacked.of(runs)
    buffers = _SlabBuffers(len(X), X.shape[1], stacked, X.dtype)
    for slab in buffers.slabs:
        x = buffers.shifted(X, slab, centres.shift)
        labels[slab] = _nearest(x, buffers)[0][:, 0]
    return labels


def distance_partition(X: np.ndarray, *, centres: np.ndarray, block_info: Any = None) -> np.ndarray:
    """The ``kmeans-dist`` task: each row's euclidean distance to each centre, as
    scikit-learn's ``KMeans.transform`` computes it (``euclidean_distances``)."""
    rows, block = _position(X, block_info)
    check_finite_block(X, "X", rows, block)
    X = np.asarray(X, dtype=centres.dtype)
    return np.asarray(euclidean_distances(X, centres))


def _position(X: np.ndarray, block_info: Any) -> tuple[slice, int | None]:
    if block_info is None:
        return slice(0, X.shape[0]), None
    start, stop = block_info[0]["array-location"][0]
    return slice(start, stop), int(block_info[0]["chunk-location"][0])


#: A checkpointed fit's first-pass result: the KMeans state, and the blocks' content digests
#: (a :class:`~daskpar._states.LabelSet`, see :class:`~daskpar._pass.DataCheck`), or None
#: when the pass checked the blocks against the checkpoint's instead of recording them.
Digested = tuple[Any, LabelSet | None]


def combine_digested(items: list[Digested]) -> Digested:
    """The ``-merge`` task of a checkpointed fit's first pass: the states merged as the
    pass merges them (empty blocks skipped), the digests by union."""
    return combine_all([s for s, _ in items]), combine_all([d for _, d in items])


def digest_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    task: Any,
    check: DataCheck,
    **kwargs: Any,
) -> Digested:
    """A checkpointed fit's first pass (any stage's ``-block`` task): the block's X and
    sample weights digested (recorded, or checked against the checkpoint's, raising before
    anything of the block is merged), then ``task`` on the block."""
    arrays = {"X": X, "sample_weight": sample_weight}
    digests = check.digests(arrays, rows[0], block_id[0])
    return task(X, sample_weight, rows, block_id, **kwargs), digests


def skip_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
) -> None:
    """Nothing: the ``verify-block`` task's work is :func:`digest_partition`'s check."""
    return None


# --------------------------------------------------------------------------------------------
# The client's side of Lloyd's iterations


@dataclass(eq=False)
class _Run:
    """One initialization's progress: its centres, iterations, and once known its final
    inertia and the rows per cluster."""

    centres: np.ndarray  # (k, d)
    n_iter: int = 0
    converged: bool = False
    inertia: float | None = None
    counts: np.ndarray | None = None


#: A later run is kept only if its inertia is lower than the kept one's by more than this
#: (relative): runs that found the same clustering differ by rounding.
SAME_INERTIA = 1e-10


def _best_run(runs: list[_Run]) -> _Run:
    """The run of lowest inertia, the earliest of those equal to rounding.

    scikit-learn keeps a later run only if its inertia is lower and its clustering is not the
    same up to a permutation of the labels; two runs with the same clustering have the same
    centres, in another order, and inertias equal to float rounding: a relative margin of
    :data:`SAME_INERTIA` keeps the earlier, under any chunking.
    """
    best = runs[0]
    for run in runs[1:]:
        assert run.inertia is not None
        assert best.inertia is not None
        if run.inertia < best.inertia * (1.0 - SAME_INERTIA):
            best = run
    return best


def _relocate(sums: np.ndarray, weights: np.ndarray, far: TopRows, run: int) -> None:
    """scikit-learn's ``_relocate_empty_clusters_dense`` on merged sums, in place.

    The ``m`` empty clusters (weight 0) take, in order, the ``m`` rows farthest from their
    centres, farthest first (scikit-learn's ``argpartition`` orders all but its first two
    arbitrarily: the same rows, in an order that may differ for three or more empty
    clusters); each such row leaves its cluster's sums. Nothing moves when every row sits
    on its centre.
    """
    empty = np.flatnonzero(weights == 0)
    keys = far.keys[run]
    if len(keys) == 0 or keys.max() == 0:
        return
    for new, x, w, old in zip(
        empty, far.rows[run], far.weights[run], far.labels[run], strict=False
    ):
        sums[old] -= x * w  # the rows in TopRows are already shifted
        sums[new] = x * w
        weights[new] = w
        weights[old] -= w


def _average(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """scikit-learn's ``_average_centers``: sums times ``1 / weight``; a cluster of no weight
    takes the centre of the heaviest one (scikit-learn copies that cluster's row before
    averaging it when it comes later; here always its centre)."""
    out = sums.copy()
    present = weights > 0
    out[present] *= (1.0 / weights[present])[:, None]
    if not present.all():
        out[~present] = out[int(np.argmax(weights))]
    return out


def _checkpoint_state(
    runs: list[_Run], shift: np.ndarray, tol: float | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where a fit is, for its checkpoint: JSON values and arrays (exact float64)."""
    state = {
        "n_iter": [r.n_iter for r in runs],
        "converged": [r.converged for r in runs],
        "inertia": [r.inertia for r in runs],  # None until the run's final assignment
        "tol": tol,  # None until the first Lloyd pass has measured X's variances
    }
    k = len(runs[0].centres)
    counts = np.stack([np.full(k, -1) if r.counts is None else r.counts for r in runs])
    objects = {
        "centres": np.stack([r.centres for r in runs]),
        "counts": counts.astype(np.int64),
        "shift": np.asarray(shift, dtype=np.float64),
    }
    return state, objects


def _restored(saved: dict[str, Any]) -> tuple[list[_Run], np.ndarray, float | None]:
    """The runs, shift and tolerance that :func:`_checkpoint_state` wrote."""
    objects = saved["objects"]
    runs = []
    for i, centres in enumerate(objects["centres"]):
        inertia = saved["inertia"][i]
        runs.append(
            _Run(
                np.array(centres, dtype=np.float64),
                int(saved["n_iter"][i]),
                bool(saved["converged"][i]),
                None if inertia is None else float(inertia),
                None if inertia is None else np.array(objects["counts"][i], dtype=np.int64),
            )
        )
    tol = saved["tol"]
    return runs, np.array(objects["shift"], dtype=np.float64), None if tol is None else float(tol)


# --------------------------------------------------------------------------------------------
# The estimator


def _all_zero_weights() -> InputError:
    return InputError(
        "Sample weights must contain at least one non-zero number: every row of X weighs 0, "
        "so there is nothing to cluster."
    )


def _is_dask_input(X: Any, method: str) -> bool:
    if isinstance(X, da.Array) or is_dask_table(X):
        return True
    if is_dask_collection(X):
        raise InputError(
            f"KMeans.{method} takes a dask array or DataFrame, not a {type(X).__name__}."
        )
    return False


class KMeans(
    SaveMixin, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator
):
    """k-means clustering of partitioned data: Lloyd's iterations, one read per iteration.

    Each iteration is one pass: every block assigns its rows to the nearest centre of every
    run and returns per-centre weighted sums, weights and the inertia (:class:`ClusterSums`);
    these merge exactly through a tree of fan-in ``split_every`` and the client divides
    them into the new centres. Given the same initial centres, the centres after each
    iteration, the final ``cluster_centers_``, ``labels_``, ``inertia_`` and ``n_iter_`` equal
    scikit-learn's ``KMeans(algorithm="lloyd")`` to float rounding, whatever the
    partitioning. The ``n_init`` runs train together: one read of each block per iteration
    serves every run still going, and the run of lowest inertia is kept.

    The per-block state holds ``8 R (k (d + 2) + 1)`` bytes for ``R`` runs of ``k`` centres
    in ``d`` features, whatever the rows.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters (centres).
    init : {"k-means||", "random"} or array-like of shape (n_clusters, n_features), \
            default="k-means||"
        How the centres start:

        - ``"k-means||"`` (Bahmani et al., 2012): a first row picked at random, then
          ``init_max_iter`` rounds, each one pass in which every row joins the candidates
          with probability ``min(1, l w d^2(x, C) / phi(C))`` (``l = oversampling_factor *
          n_clusters``), then one pass that weighs each candidate by the rows nearest to
          it; scikit-learn's KMeans (k-means++, the best of 10 runs) reduces the weighted
          candidates to ``n_clusters`` centres on the client. ``init_max_iter + 2`` passes.
        - ``"random"``: ``n_clusters`` rows picked at random (in proportion to
          ``sample_weight``), in one pass.
        - an array: the initial centres themselves (one run: ``n_init`` is then 1).

        scikit-learn's ``"k-means++"`` takes ``n_clusters`` passes over the data and is
        refused: ``"k-means||"`` is its parallel version.
    n_init : int, default=1
        The number of runs from different initializations; they share every pass, and the
        one of lowest inertia is kept.
    max_iter : int, default=300
        The most Lloyd iterations (passes) of a run.
    tol : float, default=1e-4
        A run has converged when the squared Frobenius norm of its centres' move is at most
        ``tol`` times the mean of the per-feature variances of X (scikit-learn's rule).
    random_state : int, RandomState instance or None, default=None
        Seeds the initializations. The picks depend on it and on the global row positions
        only: the same on any chunking and any number of workers.
    oversampling_factor : float, default=2
        k-means||'s ``l / n_clusters``: the expected rows added per round.
    init_max_iter : int or None, default=None
        k-means||'s rounds (passes); None is 2, as in Spark MLlib (SPARK-17389).
    split_every : int or None, default=None
        Fan-in of the trees that merge the per-block states (at least 2; None uses dask's
        ``split_every`` setting if set, else 8). It changes the grouping of the sums, not
        the result beyond float rounding.
    checkpoint : str or path-like, default=None
        A folder where ``fit`` writes its state after the initialization and after every
        Lloyd iteration (one file, replaced atomically; the centres, iterations and
        convergence of every run, the tolerance and the shift): calling ``fit`` again with
        the same parameters on the same data resumes after the last iteration written and
        ends with the same bits as an uninterrupted fit. As for
        :class:`~daskpar.ParallelIncremental`'s ``checkpoint``: a checkpoint made by other
        parameters or from data of another shape, chunking or dtype is refused before any
        task; the content of X and ``sample_weight`` is known by a digest of every block,
        taken by the first pass's tasks (recorded, or checked when resuming: a block changed
        since is refused, naming it); a finished fit's checkpoint stays, and fitting again
        returns its centres after one read of every block to check it. Checkpoints are
        model files (skops), signed when the model key is set.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres, in X's float dtype.
    labels_ : dask array or ndarray of shape (n_samples,)
        Each training row's nearest centre: lazy (one task per block) for dask input.
    inertia_ : float
        The sum of the weighted squared distances of the training rows to their nearest
        final centre.
    n_iter_ : int
        The Lloyd iterations of the kept run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for DataFrames with string column names.

    See Also
    --------
    sklearn.cluster.KMeans : The in-memory estimator whose Lloyd steps this one takes.

    Notes
    -----
    Passes per fit: the initialization's (0 for an array, 1 for ``"random"``,
    ``init_max_iter + 2`` for ``"k-means||"``), one per Lloyd iteration of the longest run,
    one more for the final assignment unless the last iteration moved no centre, and one
    per iteration that left a cluster empty (the rows farthest from their centres, merged
    as a top-m reduction). Each row's nearest centre is picked in X's float dtype, as
    scikit-learn picks it (float32 X: a float32 matrix product, about twice as fast, on rows
    shifted before they are rounded); the distances, sums, inertia and centres are computed
    in float64 whatever the dtype. Of runs whose inertias are equal to a relative 1e-10,
    the first is kept: runs that found the same clustering (with the centres in another
    order) differ by rounding only, and scikit-learn keeps the earlier of those too.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from daskpar._kmeans import KMeans
    >>> X = da.from_array(np.array([[1.0, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]]),
    ...                   chunks=(2, -1))
    >>> km = KMeans(2, init=np.array([[0.0, 0], [9, 9]])).fit(X)
    >>> km.cluster_centers_
    array([[ 1.,  2.],
           [10.,  2.]])
    >>> km.labels_.compute()
    array([0, 0, 0, 1, 1, 1], dtype=int32)
    >>> float(km.inertia_), km.n_iter_
    (16.0, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means||", "random", "k-means++"}), "array-like"],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "oversampling_factor": [Interval(Real, 0, None, closed="neither")],
        "init_max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "split_every": SPLIT_EVERY,
        "checkpoint": [str, os.PathLike, None],
    }

    cluster_centers_: np.ndarray
    labels_: Any
    inertia_: float
    n_iter_: int
    n_features_in_: int

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | Any = "k-means||",
        n_init: int = 1,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: Any = None,
        oversampling_factor: float = 2,
        init_max_iter: int | None = None,
        split_every: int | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.oversampling_factor = oversampling_factor
        self.init_max_iter = init_max_iter
        self.split_every = split_every
        self.checkpoint = checkpoint

    # ---------------------------------------------------------------- checks

    def _check_params(self) -> None:
        validate_estimator_params(self)
        if isinstance(self.init, str) and self.init == "k-means++":
            raise InvalidParameterError(
                "The 'init' parameter of KMeans must be 'k-means||', 'random' or an array of "
                "initial centres. Got 'k-means++' instead: k-means++ takes one pass over the "
                "data per centre. Use init='k-means||', its parallel version (Bahmani et al. "
                "2012), which takes init_max_iter + 2 passes."
            )

    def _check_fit_X(self, X: da.Array) -> None:
        if is_sparse_array(X):
            raise InputError(
                "KMeans cannot fit sparse X: its centres are dense and its sums would make "
                "every block dense. Densify narrow blocks first "
                "(X.map_blocks(lambda b: b.toarray())), or reduce the dimension first "
                "(TruncatedSVD)."
            )
        for axis, what in enumerate(("sample", "feature")):
            if X.shape[axis] == 0:
                raise InputError(
                    f"Found array with 0 {what}(s) (shape={X.shape}) while a minimum of 1 is "
                    "required by KMeans."
                )
        if X.shape[0] < self.n_clusters:
            raise InputError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")

    def _initial_array(self, n_features: int) -> np.ndarray | None:
        if isinstance(self.init, str):
            return None
        refuse_text(self.init, "init")
        centres = check_array(self.init, dtype=np.float64, copy=True)
        if centres.shape[0] != self.n_clusters:
            raise InputError(
                f"The shape of the initial centers {centres.shape} does not match the number "
                f"of clusters {self.n_clusters}."
            )
        if centres.shape[1] != n_features:
            raise InputError(
                f"The shape of the initial centers {centres.shape} does not match the number "
                f"of features of the data {n_features}."
            )
        if self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in KMeans "
                f"instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return np.asarray(centres)

    # ---------------------------------------------------------------- passes

    #: A checkpointed fit's data check, for its first pass only (set during ``fit``).
    _data_check: FirstPassCheck | None = None

    def _reduce(self, task: Any, X: da.Array, w: da.Array | None, stage: str, **kwargs: Any) -> Any:
        check = self._data_check.take() if self._data_check is not None else None
        if check is None:
            return reduce_partitions(
                task,
                X,
                w,
                finalize=_merged,
                stage=stage,
                split_every=self.split_every,
                task_kwargs=kwargs,
            )
        # The fit's first pass also digests (or checks) every block it reads.
        state, digests = reduce_partitions(
            digest_partition,
            X,
            w,
            finalize=_merged,
            stage=stage,
            split_every=self.split_every,
            combine=combine_digested,
            task_kwargs={"task": task, "check": check, **kwargs},
        )
        if digests is not None:
            assert self._data_check is not None
            assert self._data_check.record is not None  # a checkpoint's
            self._data_check.record(DataCheck.decoded(digests))
        return state

    def _pick(self, X: da.Array, w: da.Array | None, seeds: tuple[int, ...], m: int) -> TopRows:
        tops: TopRows = self._reduce(pick_partition, X, w, PICK_STAGE, seeds=seeds, capacity=m)
        if not np.isfinite(tops.keys[0][0]):  # the largest key is log(u) / 0
            raise _all_zero_weights()
        return tops

    def _kmeans_parallel(
        self, X: da.Array, w: da.Array | None, seeds: tuple[int, ...]
    ) -> list[np.ndarray]:
        """k-means|| for every run: ``init_max_iter + 2`` passes shared by the runs."""
        k = self.n_clusters
        rounds = DEFAULT_INIT_ROUNDS if self.init_max_iter is None else self.init_max_iter
        ell = self.oversampling_factor * k
        # At most this many rows join per round; the expected number is at most l, and a
        # Poisson-binomial count passes 2 l + 32 with a vanishing probability.
        capacity = math.ceil(2 * ell) + 32
        first = self._pick(X, w, seeds, k)
        candidates = [first.rows[r][:1] for r in range(len(seeds))]
        indices = [set(first.index[r][:1].tolist()) for r in range(len(seeds))]
        shift = np.mean([c[0] for c in candidates], axis=0)
        for round_ in range(1, rounds + 1):
            centres = broadcast(Centres(tuple(candidates), shift), CENTRES_STAGE)
            tops: TopRows = self._reduce(
                sample_partition,
                X,
                w,
                SAMPLE_STAGE,
                centres=centres,
                seeds=seeds,
                round_=round_,
                capacity=capacity,
            )
            for r in range(len(seeds)):
                phi = tops.cost[r]
                if phi <= 0:
                    continue  # every row sits on a candidate
                chosen = tops.keys[r] > phi / ell
                new = [i for i, c in enumerate(chosen) if c and tops.index[r][i] not in indices[r]]
                indices[r].update(int(tops.index[r][i]) for i in new)
                candidates[r] = np.vstack([candidates[r], tops.rows[r][new]])
        for r in range(len(seeds)):
            # Too few distinct candidates (duplicated rows, tiny data): add the random rows.
            extra = [i for i, j in enumerate(first.index[r]) if int(j) not in indices[r]]
            short = k - len(candidates[r])
            if short > 0:
                candidates[r] = np.vstack([candidates[r], first.rows[r][extra[:short]]])
        centres = broadcast(Centres(tuple(candidates), shift), CENTRES_STAGE)
        weighted: CandidateWeights = self._reduce(
            weigh_partition, X, w, WEIGHT_STAGE, centres=centres
        )
        out = []
        for r, seed in enumerate(seeds):
            with warnings.catch_warnings():
                # Fewer distinct candidates than clusters: the Lloyd runs say so if it lasts.
                warnings.simplefilter("ignore", ConvergenceWarning)
                reducer = SKLearnKMeans(
                    k, init="k-means++", n_init=CANDIDATE_INITS, random_state=seed % (2**32)
                ).fit(candidates[r], sample_weight=weighted.weights[r])
            out.append(np.asarray(reducer.cluster_centers_, dtype=np.float64))
        return out

    def _initial_centres(self, X: da.Array, w: da.Array | None, n_runs: int) -> list[np.ndarray]:
        rng = check_random_state(self.random_state)
        seeds = tuple(int(s) for s in rng.randint(0, np.iinfo(np.int32).max, size=n_runs))
        if self.init == "random":
            tops = self._pick(X, w, seeds, self.n_clusters)
            return [tops.rows[r] for r in range(n_runs)]
        return self._kmeans_parallel(X, w, seeds)

    def _lloyd(
        self,
        X: da.Array,
        w: da.Array | None,
        runs: list[_Run],
        shift: np.ndarray,
        tol: float | None,
        save: Any = None,
    ) -> tuple[list[_Run], float]:
        """Lloyd's iterations of every run, one pass each, until each has converged or run
        ``max_iter`` iterations; then the final assignments, folded into the passes of the
        runs still going. ``save(runs, shift, tol)`` after every pass (a checkpoint).
        Returns the runs and the absolute tolerance."""
        while True:
            active = [r for r in runs if not r.converged and r.n_iter < self.max_iter]
            pending = [r for r in runs if r.inertia is None and r not in active]
            if not active and not pending:
                break
            evaluated = active + pending
            stacked = np.stack([r.centres for r in evaluated])
            model = Centres(stacked, shift)
            centres = broadcast(model, CENTRES_STAGE)
            state: ClusterSums = self._reduce(
                lloyd_partition,
                X,
                w,
                LLOYD_STAGE,
                centres=centres,
                with_moments=tol is None,
                update=bool(active),
            )
            if tol is None:
                if not state.weights[0].sum() > 0:
                    raise _all_zero_weights()
                tol = self._tolerance(state.moments)
            for i, run in enumerate(evaluated):
                if run in pending:
                    run.inertia, run.counts = float(state.inertia[i]), state.counts[i]
            empty = [i for i, run in enumerate(active) if (state.weights[i] == 0).any()]
            far = None
            if empty:
                m = tuple(
                    int((state.weights[i] == 0).sum()) if i in empty else 0
                    for i in range(len(evaluated))
                )
                far = self._reduce(farthest_partition, X, w, FAR_STAGE, centres=centres, capacity=m)
            for i, run in enumerate(active):
                sums, weights = state.sums[i].copy(), state.weights[i].copy()
                relocated = far is not None and i in empty
                if far is not None and relocated:
                    _relocate(sums, weights, far, i)
                new = _average(sums, weights) + shift
                moved = float((np.sqrt(((new - run.centres) ** 2).sum(axis=1)) ** 2).sum())
                run.n_iter += 1
                if moved == 0.0 and not relocated:
                    # No row changed cluster: the pass's assignment is the final one.
                    run.inertia, run.counts = float(state.inertia[i]), state.counts[i]
                    run.converged = True
                elif moved <= tol:
                    run.converged = True
                run.centres = new
            if save is not None:
                save(runs, shift, tol)
        assert tol is not None
        return runs, tol

    def _fit_runs(
        self,
        X: da.Array,
        w: da.Array | None,
        initial: np.ndarray | None,
        checkpoint: Checkpoint | None,
        saved: dict[str, Any] | None,
    ) -> list[_Run]:
        """Every run fitted: initialized (or taken from a checkpoint), then Lloyd's."""
        save = None
        if checkpoint is not None:

            def save(runs: list[_Run], shift: np.ndarray, tol: float | None) -> None:
                state, objects = _checkpoint_state(runs, shift, tol)
                checkpoint.save(state, objects)

        if saved is not None:
            runs, shift, tol = _restored(saved)
        else:
            if initial is not None:
                starts = [initial]
            else:
                starts = self._initial_centres(X, w, int(self.n_init))
            runs = [_Run(c.copy()) for c in starts]
            shift, tol = np.mean(np.vstack(starts), axis=0), None
            if save is not None and initial is None:
                save(runs, shift, tol)  # the initialization's passes, not to be run again
        runs, _ = self._lloyd(X, w, runs, shift, tol, save)
        if self._data_check is not None and self._data_check.check is not None:
            # No pass was left to run (a finished fit's rerun): one read checks the blocks.
            self._reduce(skip_partition, X, w, VERIFY_STAGE)
        return runs

    def _tolerance(self, moments: Moments | None) -> float:
        if self.tol == 0 or moments is None:
            return 0.0
        count = moments.count.reshape(-1)[0]
        return float(np.mean(moments.m2[0] / count) * self.tol)

    # ---------------------------------------------------------------- API

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> Self:
        """Cluster ``X``: the initialization's passes, then one pass per Lloyd iteration.

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data: dense, finite, partitioned along rows only with known chunk sizes
            (in-memory input is split into blocks).
        y : None
            Ignored.
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Non-negative weights, in X's row blocks (in-memory weights are split so).

        Returns
        -------
        self : KMeans
            The fitted estimator.
        """
        in_memory = not _is_dask_input(X, "fit")
        with audit.operation("fit", estimator=self, X=X):
            self._check_params()
            if in_memory:
                refuse_text(X, "X")
            X = check_X(X, estimator=self, reset=True)
            self._check_fit_X(X)
            if sample_weight is not None and not is_dask_collection(sample_weight):
                weights = np.asarray(sample_weight)
                if weights.dtype.kind in "biuf" and weights.size and not weights.any():
                    raise _all_zero_weights()  # seen before any task runs
            w = check_sample_weight(sample_weight, X)
            initial = self._initial_array(int(X.shape[1]))
            checkpoint, saved = None, None
            if self.checkpoint is not None:
                checkpoint = Checkpoint.of(self.checkpoint, self, X, None, w)
                saved = checkpoint.load()  # before any task: refused if another run's
                self._data_check = FirstPassCheck(checkpoint.data_check(), checkpoint.record)
            try:
                runs = self._fit_runs(X, w, initial, checkpoint, saved)
            finally:
                self.__dict__.pop("_data_check", None)
            best = _best_run(runs)
            dtype = np.float32 if X.dtype == np.float32 else np.float64
            self.cluster_centers_ = best.centres.astype(dtype)
            self.inertia_ = float(best.inertia)  # type: ignore[arg-type]
            self.n_iter_ = best.n_iter
            self.n_features_in_ = int(X.shape[1])
            assert best.counts is not None
            distinct = int((best.counts > 0).sum())
            if distinct < self.n_clusters:
                warnings.warn(
                    f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                    f"({self.n_clusters}). Possibly due to duplicate points in X.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
            labels = self._labels(X)
            self.labels_ = labels.compute() if in_memory else labels
            return self

    def _model(self) -> Centres:
        centres = np.asarray(self.cluster_centers_, dtype=np.float64)
        return Centres(centres[np.newaxis], centres.mean(axis=0))

    def _labels(self, X: da.Array) -> da.Array:
        model = self._model()
        out: da.Array = da.map_blocks(
            assign_partition,
            X,
            centres=broadcast(model, CENTRES_STAGE),
            chunks=(X.chunks[0],),
            drop_axis=1,
            dtype=np.int32,
            meta=np.empty((0,), dtype=np.int32),
            name=f"{PREDICT_STAGE}-{tokenize(model.centres, model.shift, X)}",
        )
        return out

    def _check_test_X(self, X: Any, method: str) -> tuple[Any, bool]:
        check_is_fitted(self)
        if is_table(X):
            X = match_feature_names(self, X, reset=False)
        if _is_dask_input(X, method):
            X = check_X(X, n_features=self.n_features_in_)
            if is_sparse_array(X):
                raise InputError(f"KMeans.{method} takes dense X; densify the blocks first.")
            return X, True
        refuse_text(X, "X")
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, ensure_all_finite=False
        )
        return X, False

    def predict(self, X: Any) -> Any:
        """The nearest centre of each row: lazily, block by block, for dask input.

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data.

        Returns
        -------
        labels : dask array or ndarray of shape (n_samples,)
            int32 cluster indices; a lazy dask array for dask input, else numpy.
        """
        X, lazy = self._check_test_X(X, "predict")
        if lazy:
            return self._labels(X)
        return assign_partition(X, centres=self._model())

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """Fit, then return ``labels_`` (lazy for dask input).

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data.
        y : None
            Ignored.
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        labels : dask array or ndarray of shape (n_samples,)
            Each row's cluster.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X: Any) -> Any:
        """The euclidean distance of each row to each centre: lazily for dask input.

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data.

        Returns
        -------
        X_new : dask array or ndarray of shape (n_samples, n_clusters)
            Distances; a lazy dask array for dask input, else numpy.
        """
        X, lazy = self._check_test_X(X, "transform")
        centres = self.cluster_centers_
        if not lazy:
            return distance_partition(X, centres=centres)
        if get_output_config("transform", self)["dense"] != "default":
            raise InputError(
                "KMeans returns a dask array for dask input; set_output(transform=...) "
                "applies to in-memory input only."
            )
        k = int(centres.shape[0])
        out: da.Array = da.map_blocks(
            distance_partition,
            X,
            centres=broadcast(centres, CENTRES_STAGE),
            chunks=(X.chunks[0], (k,)),
            dtype=centres.dtype,
            meta=np.empty((0, k), dtype=centres.dtype),
            name=f"{DISTANCE_STAGE}-{tokenize(centres, X)}",
        )
        return out

    def fit_transform(self, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """Fit, then return the distances of X to the centres (lazy for dask input).

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data.
        y : None
            Ignored.
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        X_new : dask array or ndarray of shape (n_samples, n_clusters)
            Distances.
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Minus the inertia of ``X`` on the centres (one pass for dask input).

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data.
        y : None
            Ignored.
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        score : float
            ``-sum w ||x - nearest centre||^2``.
        """
        X, lazy = self._check_test_X(X, "score")
        if not lazy:
            X = da.from_array(X, chunks=(max(1, X.shape[0]), -1))
        w = check_sample_weight(sample_weight, X)
        state: ClusterSums | None = self._reduce(
            lloyd_partition,
            X,
            w,
            LLOYD_STAGE,
            centres=broadcast(self._model(), CENTRES_STAGE),
            update=False,
        )
        return -float(state.inertia[0]) if state is not None else -0.0

    @property
    def _n_features_out(self) -> int:
        return int(self.cluster_centers_.shape[0])

    def __getstate__(self) -> dict[str, Any]:
        """The state that pickle and model files keep: all of it but a lazy ``labels_``.

        A dask ``labels_`` is a view over the training data, which a model file does not
        hold; ``predict`` of that data recomputes it. In-memory labels are kept.
        """
        state: dict[str, Any] = super().__getstate__()
        if isinstance(state.get("labels_"), da.Array):
            state = {k: v for k, v in state.items() if k != "labels_"}
        return state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
