"""Exact one-pass principal component analysis: ``PCA``.

One task per block computes the row count, the mean and the triangular QR factor of the
block's centred rows; the tree merges them exactly (the centred TSQR of least squares, with
X alone in place of ``[X, y]`` and a compensated mean), and the root takes the SVD of the
``d x d`` factor::

    blocks --pca-block--> CentredFactor --pca-merge (split_every)--> one state
           --pca-final--> SVD of R: components_, explained_variance_, ...

Why the SVD of R is the PCA of X: with the merged ``R`` (``R^T R`` is the co-moment matrix of
X) and ``R = U S Vt``, the centred data is ``X_c = Q R = (Q U) S Vt`` with ``Q U`` orthonormal,
so ``S`` and ``Vt`` are X_c's own singular values and right singular vectors. Only the
``d x d`` factor travels; the data is read once.

``transform`` and ``inverse_transform`` of a dask array are one lazy task per block
(``pca-transform``, ``pca-inverse``), so a model after the PCA in a ``Pipeline`` gets the
projection fused into its own tasks.

For wide data (``svd_solver="randomized"``, chosen by ``"auto"`` past
:data:`FULL_MAX_FEATURES` features), the ``d x d`` factor gives way to the randomized range
finder of :mod:`daskpar._truncated_svd` applied to the centred data, with ``l =
n_components + n_oversamples`` directions::

    power pass (iterated_power times)
        blocks --pcarand-block--> CentredSketch --pcarand-merge--> --pcarand-final--> next basis
    range pass (once)
        blocks --pcarand-block--> CentredSketch with R of X_c Q --> SVD: the attributes

Centring is exact and takes no pass of its own: each block centres its rows on its own
(compensated) mean and returns ``W^T W Q`` (``W`` the block's centred rows); two blocks'
products merge as their co-moment matrices do (Chan et al.), ``Z = Z_a + Z_b + (n_a n_b / n)
delta (delta^T Q)`` with ``delta`` the difference of their means, and their R factors of
``X_c Q`` as :class:`CentredFactor`'s do, with the row ``sqrt(n_a n_b / n) delta^T Q``
stacked. ``delta^T Q`` is the difference of the two means' projections, which each state
carries (``l`` numbers). ``iterated_power + 1`` passes in all, each state ``8 (d l + 3 d +
l^2 + l + 1)`` bytes at most. For the same ``random_state`` the fit is scikit-learn's
``PCA(svd_solver="randomized")`` (the same test matrix, the same subspace) to float rounding,
and against the exact path it inherits the randomized SVD's accuracy on the centred data.
Measured on ``4000 x 300`` data with means of about 10 (worst of 3 seeds), 10 components,
default parameters (``iterated_power="auto"``: 7 power passes here, so 8 passes in all;
``n_oversamples=10``):

==================================  ===========================  ===========================
spectrum of the centred data        largest relative error of    subspace error (norm of the
                                    ``explained_variance_``      components' part outside
                                                                 the exact ones)
==================================  ===========================  ===========================
fast decay (``sigma_i = 0.8^i``)    4.5e-15                      6.1e-15
slow decay (``sigma_i = i^-0.5``)   1.1e-05                      4.6e-03
flat (Gaussian entries)             5.3e-02                      (no gap: not defined)
==================================  ===========================  ===========================

The exact path is the default up to :data:`FULL_MAX_FEATURES` features; there it equals
scikit-learn's ``svd_solver="full"`` to about 1e-10 in one read.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar, Self

import dask.array as da
import numpy as np
from dask.base import is_dask_collection, tokenize
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.extmath import svd_flip
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import audit
from ._columns import is_dask_table, is_table, match_feature_names
from ._graph import SPLIT_EVERY, broadcast, reduce_partitions, stage_name
from ._saving import SaveMixin
from ._sklearn_compat import (
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
    get_output_config,
    validate_estimator_params,
)
from ._states import r_factor
from ._truncated_svd import normalize_basis, orthonormal_basis, random_test_matrix, range_svd
from ._validation import check_finite_block, check_X, is_sparse_array, refuse_text
from .errors import InputError

__all__ = [
    "FULL_MAX_FEATURES",
    "PCA",
    "CentredFactor",
    "CentredSketch",
    "Projection",
    "pca_attributes",
    "pca_fit_partition",
    "pca_float_dtype",
    "pca_from_state",
    "pca_randomized_attributes",
    "pca_sketch_partition",
    "centred_basis",
    "project_partition",
    "unproject_partition",
]

#: The dashboard's names of PCA's stages: the fit's reduction (``pca-block``, ``pca-merge``,
#: ``pca-final``), the randomized solver's passes (``pcarand-block``, ``-merge``, ``-final``)
#: and basis, the broadcast projection, and the two lazy maps.
FIT_STAGE = "pca"
RANDOMIZED_STAGE = "pcarand"
BASIS_STAGE = stage_name("pcarand", "basis")
MODEL_STAGE = "pca-model"
TRANSFORM_STAGE = "pca-transform"
INVERSE_STAGE = "pca-inverse"

#: ``svd_solver="auto"`` fits exactly (the ``d x d`` factor) up to this many features, and by
#: the randomized range finder past it when ``n_components`` is an int below 80 % of
#: ``min(n_samples, n_features)``. Measured CPU per row of the block tasks (one thread,
#: float64, 10 components and 20 directions, the randomized solver's 8 passes against the
#: exact solver's one): equal at 500 features, the exact pass 2.6 times dearer at 1,000 and
#: 5.2 times at 2,000 (it grows as ``d^2``). Up to 1,000 the exact pass, which reads the data
#: once where the randomized solver reads it 8 times, and whose state (8 MB at 1,000) is still
#: small, is the better default; scikit-learn switches at the same width.
FULL_MAX_FEATURES = 1000


# --------------------------------------------------------------------------------------------
# Task bodies: one block's state, the attributes at the root, one block's projection


def pca_float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """scikit-learn's PCA dtype for input of ``dtype``: float32 stays, all else is float64."""
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s = fl(a + b)`` and its rounding error ``e``: ``a + b == s + e`` exactly (Knuth)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


@dataclass(frozen=True, eq=False)
class CentredFactor:
    """Row count, mean and the triangular factor of the centred rows of X: PCA's state.

    ``r`` is an upper-triangular ``R`` with ``R^T R = sum_i (x_i - mean)(x_i - mean)^T``,
    the co-moment matrix kept as a QR factor (the singular values of ``R`` are those of the
    centred X, not their squares). ``combine`` is Chan et al.'s pairwise update in factored
    form, as :class:`~daskpar._states.LeastSquaresState` merges: stacking ``R_a``, ``R_b``
    and ``sqrt(n_a n_b / n) (mean_b - mean_a)`` and re-factoring gives the merged factor, so
    centring needs no second pass.

    The mean is carried as an unevaluated sum ``mean + mean_lo``, as
    :class:`~daskpar._states.Moments` carries it: for features far from zero relative to
    their spread (mean 1e6, standard deviation 1), a float64 mean keeps too few digits of
    the difference of two partial means, and the factor would lose about 1e-11 of relative
    accuracy at every merge, while the low-order part keeps it near 1e-15. (``R`` is
    centred on ``mean`` alone; the co-moment about ``mean + mean_lo`` differs by
    ``n mean_lo mean_lo^T``, below rounding since ``|mean_lo| <= ulp(mean) / 2``.)

    Its size is ``d^2 + 2 d + 1`` numbers for ``d`` features, ``8 (d + 1)^2`` bytes in
    float64 (the ``d x d`` factor, the two parts of the mean, the row count), whatever the
    rows.
    """

    n_samples: int
    mean: np.ndarray  # (d,)
    mean_lo: np.ndarray  # (d,)
    r: np.ndarray  # (<= d, d), upper triangular

    @classmethod
    def of(cls, X: np.ndarray) -> CentredFactor:
        """The state of the rows of ``X`` (at least one), read twice in row slabs.

        The first read sums the rows; the second centres them on that mean, sums the
        deviations (the mean's low-order part) and stacks each slab's factor under the
        running one (TSQR within the block). The float64 temporaries stay a few times
        ``d^2`` however many rows the block has.
        """
        n, d = X.shape
        # Slabs of about 2 MiB, at least 2 d rows (as LeastSquaresState.of takes them).
        step = max(2 * d, (1 << 18) // max(d, 1))
        slabs = [slice(i, min(i + step, n)) for i in range(0, n, step)]
        total = np.zeros(d)
        for rows in slabs:
            total += np.asarray(X[rows], dtype=np.float64).sum(axis=0)
        mean = total / n
        correction = np.zeros(d)
        r = np.zeros((0, d))
        for rows in slabs:
            z = np.asarray(X[rows], dtype=np.float64) - mean
            correction += z.sum(axis=0)
            r = r_factor(np.vstack([r, z]))
        mean, mean_lo = _two_sum(mean, correction / n)
        return cls(n, mean, mean_lo, r)

    def combine(self, other: CentredFactor, /) -> CentredFactor:
        n = self.n_samples + other.n_samples
        share = other.n_samples / n
        # delta = other's mean - self's mean, from the two-part means without losing digits.
        delta_hi, delta_err = _two_sum(other.mean, -self.mean)
        delta_lo = delta_err + (other.mean_lo - self.mean_lo)
        mean, err = _two_sum(self.mean, delta_hi * share)
        mean, mean_lo = _two_sum(mean, err + self.mean_lo + delta_lo * share)
        shift = np.sqrt(self.n_samples * other.n_samples / n) * (delta_hi + delta_lo)
        return CentredFactor(n, mean, mean_lo, r_factor(np.vstack([self.r, other.r, shift])))


def pca_fit_partition(
    X: np.ndarray, rows: tuple[slice, ...], block_id: tuple[int, ...]
) -> CentredFactor | None:
    """The ``pca-block`` task: the row count, mean and R factor of one block's centred rows.

    ``None`` for an empty block. The sums run in float64 whatever X's dtype.
    """
    if X.shape[0] == 0:
        return None
    check_finite_block(X, "X", rows[0], block_id[0])
    return CentredFactor.of(X)


def pca_attributes(
    state: CentredFactor | None,
    *,
    n_components: int | float | None,
    float_dtype: np.dtype[Any],
) -> dict[str, Any]:
    """The ``pca-final`` task: scikit-learn's fitted attributes from the merged factor.

    Follows ``sklearn.decomposition.PCA(svd_solver="full")`` step by step, with the SVD of
    the ``d x d`` factor in place of that of the centred data (the same ``S`` and ``Vt``),
    and its sign rule: ``svd_flip(U, Vt, u_based_decision=False)`` makes the largest entry of
    each row of ``Vt`` positive. That decision reads ``Vt`` only, which the factor gives
    exactly; scikit-learn's rule before 1.5 read the left vectors of X, which the factor does
    not have. The arithmetic runs in float64; the arrays are then cast to ``float_dtype``.
    """
    if state is None:
        # The client refuses empty X before any task runs; this guards direct use.
        raise InputError("Every partition of X is empty; there is nothing to fit.")
    n_samples, n_features = state.n_samples, state.mean.shape[0]
    most = min(n_samples, n_features)
    r = state.r
    if r.shape[0] < most:
        r = np.vstack([r, np.zeros((most - r.shape[0], n_features))])
    _, singular, vt = linalg.svd(r, full_matrices=False)
    # The factor may have more rows than samples (a few blocks of very few rows); X_c has
    # min(n, d) singular values, and the ones past its rank are zero in both.
    singular, vt = singular[:most], vt[:most]
    _, vt = svd_flip(None, vt, u_based_decision=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        # All-constant X has no variance: 0 / 0, NaN ratios, as in scikit-learn.
        explained = singular**2 / (n_samples - 1)
        ratio = explained / explained.sum()
    if n_components is None:
        k = most
    elif isinstance(n_components, Integral):
        k = int(n_components)
    else:
        # The fewest components whose cumulated ratio exceeds n_components (scikit-learn's
        # rule, side="right"); at most all of them, should rounding leave the sum below 1.
        k = min(int(np.searchsorted(np.cumsum(ratio), n_components, side="right")) + 1, most)
    dtype = float_dtype.type
    noise: Any = dtype(np.mean(explained[k:])) if k < most else 0.0
    return {
        "components_": vt[:k].astype(float_dtype),
        "explained_variance_": explained[:k].astype(float_dtype),
        "explained_variance_ratio_": ratio[:k].astype(float_dtype),
        "singular_values_": singular[:k].astype(float_dtype),
        "mean_": state.mean.astype(float_dtype),
        "noise_variance_": noise,
        "n_components_": k,
        "n_samples_": n_samples,
    }


def pca_from_state(params: PCA, state: CentredFactor | None, *, float_dtype: np.dtype[Any]) -> PCA:
    """A copy of ``params`` (unfitted, its parameters only) fitted from the merged
    :class:`CentredFactor` of its rows: what ``params.fit`` gives on those rows with the
    exact solver, without reading them again.

    The factor does not depend on ``n_components`` or ``whiten``, so one pass gives the
    state from which a search finalizes every candidate's PCA (``float_dtype``: the dtype
    of the rows, see :func:`pca_float_dtype`).
    """
    pca = clone(params)
    for name, value in pca_attributes(
        state, n_components=pca.n_components, float_dtype=float_dtype
    ).items():
        setattr(pca, name, value)
    pca.n_features_in_ = int(pca.mean_.shape[0])
    return pca


@dataclass(frozen=True, eq=False)
class CentredSketch:
    """Row count, mean, and the centred data's product ``X_c^T X_c Q`` with a ``d x l``
    basis ``Q``; in the range pass also the R factor of ``X_c Q`` and the per-feature sums of
    squared deviations: the randomized PCA's state.

    ``combine`` merges co-moment matrices in product form (Chan et al.'s update, as
    :class:`CentredFactor` merges factors): ``Z = Z_a + Z_b + (n_a n_b / n) delta (delta^T
    Q)`` and the R factors stacked with ``sqrt(n_a n_b / n) delta^T Q``, where ``delta`` is
    the difference of the means (two-part, as :class:`CentredFactor` keeps them) and
    ``delta^T Q`` the difference of their projections ``proj = mean^T Q``. Its size is
    ``8 (d l + 2 d + l + 1)`` bytes in a power pass, ``8 (l^2 + d)`` more in the range pass,
    whatever the rows.
    """

    n_samples: int
    mean: np.ndarray  # (d,)
    mean_lo: np.ndarray  # (d,)
    proj: np.ndarray  # (l,) the mean's projection on the basis
    z: np.ndarray  # (d, l)
    r: np.ndarray | None = None  # (<= l, l)
    m2: np.ndarray | None = None  # (d,)

    @classmethod
    def of(cls, X: np.ndarray, basis: np.ndarray, *, final: bool) -> CentredSketch:
        """The state of the rows of ``X`` (at least one): centred on their own mean, read in
        row slabs of about 2 MiB of float64 (three reads: sum, deviations, products)."""
        n, d = X.shape
        ell = basis.shape[1]
        step = max(2 * ell, (1 << 18) // max(d, 1))
        slabs = [slice(i, min(i + step, n)) for i in range(0, n, step)]
        total = np.zeros(d)
        for rows in slabs:
            total += np.asarray(X[rows], dtype=np.float64).sum(axis=0)
        mean = total / n
        correction = np.zeros(d)
        z = np.zeros((d, ell))
        r = np.zeros((0, ell))
        m2 = np.zeros(d)
        for rows in slabs:
            w = np.asarray(X[rows], dtype=np.float64) - mean
            correction += w.sum(axis=0)
            y = w @ basis
            z += w.T @ y
            if final:
                r = r_factor(np.vstack([r, y]))
                m2 += np.einsum("ij,ij->j", w, w)
        mean, mean_lo = _two_sum(mean, correction / n)
        proj = mean @ basis + mean_lo @ basis
        if not final:
            return cls(n, mean, mean_lo, proj, z)
        # About mean + mean_lo rather than mean: less n mean_lo^2, below rounding.
        return cls(n, mean, mean_lo, proj, z, r, m2)

    def combine(self, other: CentredSketch, /) -> CentredSketch:
        n = self.n_samples + other.n_samples
        share = other.n_samples / n
        cross = self.n_samples * other.n_samples / n
        delta_hi, delta_err = _two_sum(other.mean, -self.mean)
        delta_lo = delta_err + (other.mean_lo - self.mean_lo)
        mean, err = _two_sum(self.mean, delta_hi * share)
        mean, mean_lo = _two_sum(mean, err + self.mean_lo + delta_lo * share)
        delta = delta_hi + delta_lo
        moved = other.proj - self.proj  # delta^T Q
        z = self.z + other.z + cross * np.outer(delta, moved)
        proj = self.proj + share * moved
        r = m2 = None
        if self.r is not None and other.r is not None:
            r = r_factor(np.vstack([self.r, other.r, np.sqrt(cross) * moved]))
        if self.m2 is not None and other.m2 is not None:
            m2 = self.m2 + other.m2 + cross * delta * delta
        return CentredSketch(n, mean, mean_lo, proj, z, r, m2)


def pca_sketch_partition(
    X: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    basis: np.ndarray,
    final: bool,
) -> CentredSketch | None:
    """The ``pcarand-block`` task: one block's :class:`CentredSketch` (``None`` if empty)."""
    if X.shape[0] == 0:
        return None
    check_finite_block(X, "X", rows[0], block_id[0])
    return CentredSketch.of(X, basis, final=final)


def centred_basis(state: CentredSketch | None, *, normalizer: str) -> np.ndarray:
    """The ``pcarand-final`` task of a power pass: the merged ``X_c^T X_c Q``, normalized."""
    if state is None:
        raise InputError("Every partition of X is empty; there is nothing to fit.")
    return normalize_basis(state.z, normalizer)


def pca_randomized_attributes(
    state: CentredSketch | None, *, n_components: int, float_dtype: np.dtype[Any]
) -> dict[str, Any]:
    """The ``pcarand-final`` task of the range pass: scikit-learn's attributes of
    ``PCA(svd_solver="randomized")`` from the merged sketch (see
    :func:`~daskpar._truncated_svd.range_svd`)."""
    if state is None or state.r is None or state.m2 is None:
        raise InputError("Every partition of X is empty; there is nothing to fit.")
    n_samples, n_features = state.n_samples, state.mean.shape[0]
    singular, vt = range_svd(state.z, state.r, n_components)
    explained = singular**2 / (n_samples - 1)
    total = state.m2.sum() / (n_samples - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = explained / total
    k, most = n_components, min(n_samples, n_features)
    dtype = float_dtype.type
    noise: Any = dtype((total - explained.sum()) / (most - k)) if k < most else 0.0
    return {
        "components_": vt.astype(float_dtype),
        "explained_variance_": explained.astype(float_dtype),
        "explained_variance_ratio_": ratio.astype(float_dtype),
        "singular_values_": singular.astype(float_dtype),
        "mean_": state.mean.astype(float_dtype),
        "noise_variance_": noise,
        "n_components_": k,
        "n_samples_": n_samples,
    }


@dataclass(frozen=True, eq=False)
class Projection:
    """What ``transform`` and ``inverse_transform`` need of a fitted PCA, put in the graph
    once for all the blocks (:func:`~daskpar._graph.broadcast`).

    ``scale`` divides the projected values (the whitening scale, clipped at the dtype's
    epsilon as scikit-learn clips it) and multiplies them back; ``None`` without whitening.
    """

    components: np.ndarray  # (k, d)
    mean: np.ndarray  # (d,)
    scale: np.ndarray | None  # (k,)


def _position(X: np.ndarray, block_info: Any) -> tuple[slice, int | None]:
    """The block's rows and index from dask's ``block_info`` (none for in-memory X)."""
    if block_info is None:
        return slice(0, X.shape[0]), None
    start, stop = block_info[0]["array-location"][0]
    return slice(start, stop), int(block_info[0]["chunk-location"][0])


def project_partition(
    X: np.ndarray, *, projection: Projection, block_info: Any = None
) -> np.ndarray:
    """The ``pca-transform`` task: scikit-learn's PCA ``transform`` of one block.

    ``X @ components.T - mean @ components.T`` (centring after the projection, without a
    centred copy of the block), divided by the whitening scale; in X's dtype if float32,
    else float64.
    """
    rows, block = _position(X, block_info)
    check_finite_block(X, "X", rows, block)
    X = np.asarray(X, dtype=pca_float_dtype(X.dtype))
    components = projection.components
    out = X @ components.T
    out -= projection.mean.reshape(1, -1) @ components.T
    if projection.scale is not None:
        out /= projection.scale
    return np.asarray(out)


def unproject_partition(
    X: np.ndarray, *, projection: Projection, block_info: Any = None
) -> np.ndarray:
    """The ``pca-inverse`` task: scikit-learn's PCA ``inverse_transform`` of one block."""
    rows, block = _position(X, block_info)
    check_finite_block(X, "X", rows, block)
    X = np.asarray(X, dtype=pca_float_dtype(X.dtype))
    components = projection.components
    if projection.scale is not None:
        components = projection.scale[:, np.newaxis] * components
    return np.asarray(X @ components + projection.mean)


# --------------------------------------------------------------------------------------------
# The estimator


def _is_dask_input(X: Any, method: str) -> bool:
    """True for a dask array or DataFrame; an error for other dask collections."""
    if isinstance(X, da.Array) or is_dask_table(X):
        return True
    if is_dask_collection(X):
        raise InputError(f"PCA.{method} takes a dask array or DataFrame, not a {type(X).__name__}.")
    return False


class PCA(SaveMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis, exact, in one pass over partitioned data.

    Each block contributes its row count, mean and the triangular QR factor of its centred
    rows; these merge exactly through a tree of fan-in ``split_every`` (the factor of the
    merged co-moment matrix, with the shift of the means folded in, so centring needs no
    second pass), and the root takes the SVD of the ``n_features x n_features`` factor. The
    result equals ``sklearn.decomposition.PCA(svd_solver="full")`` on the same rows to float
    rounding, signs included, for any partitioning. ``transform`` and ``inverse_transform``
    of a dask array are lazy, one task per block; in-memory input gives in-memory output.

    The per-block state (:class:`CentredFactor`) holds ``d^2 + 2 d + 1`` float64 numbers for
    ``d`` features, ``8 (d + 1)^2`` bytes, whatever the rows: the ``d x d`` factor, the two
    parts of the mean and the row count.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of components to keep: an int in ``[0, min(n_samples, n_features)]``; a
        float in (0, 1), the fewest components whose explained variance ratios add up to
        more than it; None, ``min(n_samples, n_features)``. scikit-learn's ``"mle"``
        (Minka's estimate) is not offered.
    whiten : bool, default=False
        Divide the projected values by the square root of ``explained_variance_``, so that
        each component has unit variance (as scikit-learn does).
    svd_solver : {"auto", "full", "randomized"}, default="auto"
        ``"full"``: exact, in one pass (the ``d x d`` factor). ``"randomized"``: the
        randomized range finder on the centred data, ``iterated_power + 1`` passes of state
        ``d x (n_components + n_oversamples)``, for wide data; ``n_components`` must then be
        an int (or None). ``"auto"``: ``"full"`` up to :data:`FULL_MAX_FEATURES` features or
        when ``n_components`` is a float, None or at least 80 % of ``min(n_samples,
        n_features)``, else ``"randomized"``. scikit-learn's ``"arpack"`` (one pass per
        matrix-vector product) is refused; its ``"covariance_eigh"`` is ``"full"`` here,
        exact in one pass and more accurate.
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized solver, one pass each; ``"auto"`` is 7 if
        ``n_components < 0.1 * min(n_samples, n_features)``, else 4 (scikit-learn's rule).
    n_oversamples : int, default=10
        Extra directions of the randomized solver beyond ``n_components``.
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        How the randomized solver's ``d x l`` basis is normalized on the client after each
        power pass (``"auto"``: ``"none"`` if ``iterated_power <= 2``, else ``"LU"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized solver's test matrix, drawn on the client as scikit-learn draws
        it: the same fit for any chunking and number of workers.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-block factors (at least 2; None uses dask's
        ``split_every`` setting if set, else 8). It changes the grouping, not the result
        beyond float rounding.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        Principal axes, rows sorted by decreasing explained variance; each row's entry of
        largest absolute value is positive (scikit-learn's sign rule).
    explained_variance_ : ndarray of shape (n_components_,)
        Variance along each component: ``singular_values_ ** 2 / (n_samples_ - 1)``.
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Share of the total variance along each component.
    singular_values_ : ndarray of shape (n_components_,)
        Singular values of the centred data along the components.
    mean_ : ndarray of shape (n_features,)
        Per-feature mean.
    n_components_ : int
        Number of components kept.
    n_samples_ : int
        Number of samples in the training data.
    noise_variance_ : float
        Mean of the variances of the components left out (0 when none is), the noise of
        the probabilistic PCA model.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for DataFrames with string column names.

    See Also
    --------
    sklearn.decomposition.PCA : The in-memory estimator whose results this one gives.

    Notes
    -----
    The randomized solver equals ``sklearn.decomposition.PCA(svd_solver="randomized")`` with
    the same ``random_state`` to float rounding when ``n_samples >= n_features`` (where
    scikit-learn draws the same test matrix); its accuracy against the exact solver is
    measured in this module's documentation. Signs follow scikit-learn's rule since its
    1.5 (``svd_flip(..., u_based_decision=False)``: the largest entry of each component is
    positive), which needs only the components.
    Where singular values are equal or zero (repeated variances, rank-deficient X), the
    components are any orthonormal basis of their subspace, in scikit-learn as here, and
    the two need not pick the same one. A dask DataFrame whose partition lengths dask does
    not know is counted in a first, short pass (as every daskpar estimator counts it).

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> from daskpar._decomposition import PCA
    >>> X = da.from_array(np.array([[-1.0, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]]),
    ...                   chunks=(2, -1))
    >>> pca = PCA(n_components=2).fit(X)
    >>> pca.explained_variance_ratio_.round(5)
    array([0.99244, 0.00756])
    >>> pca.singular_values_.round(5)
    array([6.30061, 0.5498 ])
    >>> Xt = pca.transform(X)  # lazy: one task per block, run when computed
    >>> Xt.name.startswith("pca-transform-"), Xt.chunks
    (True, ((2, 2, 2), (2,)))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
            None,
        ],
        "whiten": ["boolean"],
        "svd_solver": [StrOptions({"auto", "full", "randomized", "covariance_eigh", "arpack"})],
        "iterated_power": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "n_oversamples": [Interval(Integral, 1, None, closed="left")],
        "power_iteration_normalizer": [StrOptions({"auto", "QR", "LU", "none"})],
        "random_state": ["random_state"],
        "split_every": SPLIT_EVERY,
    }

    n_components_: int
    n_features_in_: int
    components_: np.ndarray
    explained_variance_: np.ndarray
    mean_: np.ndarray

    def __init__(
        self,
        n_components: int | float | None = None,
        *,
        whiten: bool = False,
        svd_solver: str = "auto",
        iterated_power: int | str = "auto",
        n_oversamples: int = 10,
        power_iteration_normalizer: str = "auto",
        random_state: Any = None,
        split_every: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.split_every = split_every

    def _check_params(self) -> None:
        if isinstance(self.n_components, str) and self.n_components == "mle":
            raise InvalidParameterError(
                "The 'n_components' parameter of PCA must be an int in the range [0, inf), a "
                "float in the range (0, 1) or None. Got 'mle' instead: daskpar's PCA does "
                "not estimate the dimension by Minka's MLE. Give the share of the variance to "
                "keep instead, such as n_components=0.95."
            )
        validate_estimator_params(self)
        if self.svd_solver == "arpack":
            raise InvalidParameterError(
                "The 'svd_solver' parameter of PCA must be 'auto', 'full' or 'randomized'. Got "
                "'arpack' instead: ARPACK's Lanczos iterations take one pass over the data per "
                "matrix-vector product, hundreds of passes out of core. Use "
                "svd_solver='randomized' (iterated_power + 1 passes) for wide data, or "
                "svd_solver='full' (exact, one pass)."
            )

    def _solver(self, n_samples: int, n_features: int) -> str:
        """The solver that fits: ``"full"`` or ``"randomized"`` (see ``svd_solver``)."""
        if self.svd_solver in ("full", "covariance_eigh"):
            return "full"
        if self.svd_solver == "randomized":
            return "randomized"
        k = self.n_components
        if (
            n_features > FULL_MAX_FEATURES
            and isinstance(k, Integral)
            and 1 <= k < 0.8 * min(n_samples, n_features)
        ):
            return "randomized"
        return "full"

    def _check_fit_X(self, X: da.Array) -> None:
        """Refuse, before any task runs, what PCA cannot fit: sparse, empty, too few rows
        for ``n_components``."""
        if is_sparse_array(X):
            raise InputError(
                "PCA cannot fit sparse X: it centres the data, which would make every block "
                "dense. Densify narrow blocks first (X.map_blocks(lambda b: b.toarray())), "
                "or reduce sparse data with scikit-learn's TruncatedSVD, which does not centre."
            )
        n_samples, n_features = X.shape
        for axis, what in enumerate(("sample", "feature")):
            if X.shape[axis] == 0:
                raise InputError(
                    f"Found array with 0 {what}(s) (shape={X.shape}) while a minimum of 1 is "
                    "required by PCA."
                )
        if n_samples == 1:
            raise InputError(
                "X has n_samples = 1, but PCA needs at least 2 samples: the explained "
                "variance divides by n_samples - 1."
            )
        most = min(n_samples, n_features)
        if isinstance(self.n_components, Integral) and self.n_components > most:
            raise InputError(
                f"n_components={self.n_components} must be between 0 and "
                f"min(n_samples, n_features)={most} (X has {n_samples} samples and "
                f"{n_features} features). Choose n_components <= {most}, a float in (0, 1) "
                "or None."
            )
        if self.svd_solver == "randomized" and not (
            self.n_components is None or isinstance(self.n_components, Integral)
        ):
            raise InputError(
                f"n_components={self.n_components} must be an int between 1 and "
                f"min(n_samples, n_features)={most} with svd_solver='randomized': the "
                "randomized solver does not see the whole spectrum, so it cannot choose the "
                "components by their share of the variance. Give an int, or use "
                "svd_solver='full'."
            )
        if self.svd_solver == "randomized" and self.n_components == 0:
            raise InputError(
                f"n_components=0 must be between 1 and min(n_samples, n_features)={most} with "
                "svd_solver='randomized'."
            )

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit the principal axes in one parallel pass over ``X``.

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data: dense, finite, partitioned along rows only with known chunk sizes
            (in-memory input is split into blocks).
        y : None
            Ignored.

        Returns
        -------
        self : PCA
            The fitted estimator.
        """
        _is_dask_input(X, "fit")
        with audit.operation("fit", estimator=self, X=X):
            self._check_params()
            X = check_X(X, estimator=self, reset=True)
            self._check_fit_X(X)
            if self._solver(*X.shape) == "randomized":
                attributes = self._fit_randomized(X)
            else:
                attributes = reduce_partitions(
                    pca_fit_partition,
                    X,
                    finalize=pca_attributes,
                    stage=FIT_STAGE,
                    split_every=self.split_every,
                    finalize_kwargs={
                        "n_components": self.n_components,
                        "float_dtype": pca_float_dtype(X.dtype),
                    },
                )
            for name, value in attributes.items():
                setattr(self, name, value)
            self.n_features_in_ = int(X.shape[1])
            return self

    def _fit_randomized(self, X: da.Array) -> dict[str, Any]:
        """The randomized solver: ``iterated_power`` power passes, then the range pass."""
        n_samples, n_features = (int(v) for v in X.shape)
        most = min(n_samples, n_features)
        k = most if self.n_components is None else int(self.n_components)
        n_iter = self.iterated_power
        if n_iter == "auto":
            n_iter = 7 if k < 0.1 * most else 4
        normalizer = self.power_iteration_normalizer
        if normalizer == "auto":
            normalizer = "none" if int(n_iter) <= 2 else "LU"
        float_dtype = pca_float_dtype(X.dtype)
        basis = random_test_matrix(
            self.random_state, n_features, k + int(self.n_oversamples), float_dtype
        )

        def sketch(basis: np.ndarray, final: bool) -> Any:
            return reduce_partitions(
                pca_sketch_partition,
                X,
                finalize=pca_randomized_attributes if final else centred_basis,
                stage=RANDOMIZED_STAGE,
                split_every=self.split_every,
                task_kwargs={"basis": broadcast(basis, BASIS_STAGE), "final": final},
                finalize_kwargs=(
                    {"n_components": k, "float_dtype": float_dtype}
                    if final
                    else {"normalizer": normalizer}
                ),
            )

        for _ in range(int(n_iter)):
            basis = sketch(basis, False)
        # The range pass starts from an orthonormal basis (the span is the same).
        attributes: dict[str, Any] = sketch(orthonormal_basis(basis), True)
        return attributes

    def _projection(self) -> Projection:
        scale = None
        if self.whiten:
            # scikit-learn's clip: a component of (nearly) no variance is divided by eps.
            scale = np.sqrt(self.explained_variance_)
            scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
        return Projection(self.components_, self.mean_, scale)

    def _map_blocks(self, X: da.Array, *, inverse: bool) -> da.Array:
        """The projection (or its inverse) lazily on every block of ``X``: one task each."""
        projection = self._projection()
        func = unproject_partition if inverse else project_partition
        stage = INVERSE_STAGE if inverse else TRANSFORM_STAGE
        width = self.n_features_in_ if inverse else self.n_components_
        dtype = np.result_type(pca_float_dtype(X.dtype), self.components_.dtype)
        out: da.Array = da.map_blocks(
            func,
            X,
            projection=broadcast(projection, MODEL_STAGE),
            chunks=(X.chunks[0], (width,)),
            dtype=dtype,
            meta=np.empty((0, width), dtype=dtype),
            name=f"{stage_name(stage)}-{tokenize(*vars(projection).values(), X)}",
        )
        return out

    def _check_dask_output(self) -> None:
        if get_output_config("transform", self)["dense"] != "default":
            raise InputError(
                "PCA returns a dask array for dask input; set_output(transform=...) applies "
                "to in-memory input only."
            )

    def transform(self, X: Any) -> Any:
        """Project ``X`` on the principal axes: lazily, block by block, for dask input.

        Parameters
        ----------
        X : dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            The data to project.

        Returns
        -------
        X_new : dask array or ndarray of shape (n_samples, n_components_)
            The projection; a lazy dask array for dask input, else numpy.
        """
        check_is_fitted(self)
        if is_table(X):  # its columns by name, in the fitted order
            X = match_feature_names(self, X, reset=False)
        if _is_dask_input(X, "transform"):
            self._check_dask_output()
            X = check_X(X, n_features=self.n_features_in_)
            return self._map_blocks(X, inverse=False)
        refuse_text(X, "X")
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, ensure_all_finite=False
        )
        return project_partition(X, projection=self._projection())

    def inverse_transform(self, X: Any) -> Any:
        """Map projected data back to the original space: lazily, block by block, for dask
        input.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_components_)
            Projected data.

        Returns
        -------
        X_original : dask array or ndarray of shape (n_samples, n_features_in_)
            ``X @ components_ + mean_`` (undoing the whitening too); a lazy dask array for
            dask input, else numpy.
        """
        check_is_fitted(self)
        if _is_dask_input(X, "inverse_transform"):
            X = check_X(X)
        else:
            refuse_text(X, "X")
            X = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False)
        if X.shape[1] != self.n_components_:
            raise InputError(
                f"X has {X.shape[1]} columns, but PCA.inverse_transform expects one per "
                f"component: n_components_ = {self.n_components_}."
            )
        if isinstance(X, da.Array):
            return self._map_blocks(X, inverse=True)
        return unproject_partition(X, projection=self._projection())

    @property
    def _n_features_out(self) -> int:
        """Number of transformed output features (for ``get_feature_names_out``)."""
        return int(self.components_.shape[0])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
