"""Randomized truncated SVD out of core: ``TruncatedSVD``, one pass per power iteration.

Halko, Martinsson and Tropp's randomized range finder (scikit-learn's ``randomized_svd``),
rearranged so that every product with the data is a sum over row blocks. With ``l =
n_components + n_oversamples`` and a ``d x l`` Gaussian test matrix ``Omega`` drawn on the
client from ``random_state`` (never per block)::

    power pass (n_iter times)
        blocks --tsvd-block--> Z_b = X_b^T (X_b Q) --tsvd-merge (sum)--> Z = X^T X Q
               --tsvd-final--> Q = normalizer(Z)                    (d x l, back to the client)
    range pass (once)
        blocks --tsvd-block--> Z_b, R factor of X_b Q, per-feature moments of X_b
               --tsvd-merge (sum, stacked QR, Chan)--> --tsvd-final--> SVD of B (below)
    variance pass (once)
        blocks --tsvdvar-block--> moments of X_b V^T --> explained_variance_

Why this is scikit-learn's algorithm: scikit-learn alternates ``Q = X Q`` and ``Q = X^T Q``
(normalizing each), then takes ``Q_n = orth(X Q)`` and the SVD of ``B = Q_n^T X``. One power
pass here applies ``X^T X`` to a ``d x l`` basis and normalizes on the client: the same
subspace, ``(X^T X)^q Omega``, after ``q`` passes. The range pass returns ``Z = X^T X Q`` and
the triangular factor ``R`` of ``X Q``; with ``R = U_r S_r W_r^T``, ``Q_n = X Q W_r S_r^{-1}``
is an orthonormal basis of the range of ``X Q``, and ``B = Q_n^T X = S_r^{-1} W_r^T Z^T``:
an ``l x d`` matrix formed from the merged state alone. Its SVD gives ``components_`` and
``singular_values_``; scikit-learn's sign rule (``svd_flip(..., u_based_decision=False)``)
reads the components only. In exact arithmetic this is scikit-learn's ``TruncatedSVD`` for the
same ``random_state`` (the test matrix is drawn as scikit-learn draws it when ``n_samples >=
n_features``); in floating point the singular values agree to about 1e-15 relative, the
components to 1e-12 wherever they are defined (the tests allow 1e-10 and 1e-9).
``explained_variance_`` is scikit-learn's ``var(X @ components_.T)``, which needs the
components: a last, cheap pass (``k`` columns per row) computes it exactly.

Passes: ``n_iter + 2``. State sizes: ``8 d l`` bytes for a power pass, plus ``8 l^2 + 8 (3 d
+ 1)`` in the range pass, ``8 (3 k + 1)`` in the variance pass, whatever the rows. The
normalization happens on the ``d x l`` basis, never on the ``n x l`` product (which exists
only block by block), so the ``l``-th direction of the sketch holds while ``sigma_l / sigma_1``
is above about ``1e-8`` (float64 squares the condition number of ``X Q`` once per pass); the
range pass drops directions of ``X Q`` below ``sqrt(eps)`` of the largest, which only matter
for components under that level.

Accuracy against the exact SVD (``numpy.linalg.svd`` of the same rows), measured on dense
``4000 x 300`` matrices in 1000-row blocks with ``n_components=10``, ``n_oversamples=10``,
worst of 5 seeds. Each cell: the largest relative error of the 10 singular values / the
subspace error (the 2-norm of the part of ``components_`` outside the exact leading
subspace; 1 means some component is orthogonal to it):

=============================================  ================  ================  ================
spectrum                                       n_iter=0          n_iter=2          n_iter=5
=============================================  ================  ================  ================
flat (Gaussian entries)                        1.6e-01 / 1.0     8.3e-02 / 1.0     3.8e-02 / 1.0
slow decay (``sigma_i = i^-0.5``)              3.4e-01 / 1.0     2.4e-02 / 4.0e-01 2.8e-04 / 2.5e-02
fast decay (``sigma_i = 0.8^i``)               1.2e-02 / 5.0e-02 3.4e-10 / 2.7e-06 4.6e-15 / 1.3e-12
rank 10 (10 to 5) plus noise ``1e-3``          1.5e-06 / 4.1e-07 2.3e-15 / 4.2e-15 2.7e-15 / 3.5e-15
=============================================  ================  ================  ================

With the default ``n_iter=5`` the singular values are within 4 % even of a flat spectrum
(where the components are not defined by the data: any 10 of 300 nearly equal directions
do), within 3e-4 on a slow decay, and to float rounding wherever the spectrum decays fast or
has a gap. The fits are scikit-learn's for the same seed to about 1e-15, so these are
scikit-learn's errors too. The same numbers hold under any chunking: the randomness is the
client's, and the sums merge in the tree's fixed order, so a fit is bit-identical on any
number of workers and equal to float rounding across chunkings.

Sparse data: scipy CSR blocks (:func:`daskpar.read_svmlight`) are never densified; every
product is a sparse-dense one and the uncentred algorithm needs no mean subtraction.
``transform`` and ``inverse_transform`` of a dask array are lazy, one task per block
(``tsvd-transform``, ``tsvd-inverse``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import dask.array as da
import numpy as np
import scipy.sparse as sp
from dask.base import is_dask_collection, tokenize
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot, svd_flip
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import audit
from ._columns import is_dask_table, is_table, match_feature_names
from ._graph import SPLIT_EVERY, broadcast, reduce_partitions, stage_name
from ._saving import SaveMixin
from ._sklearn_compat import (
    Interval,
    InvalidParameterError,
    StrOptions,
    get_output_config,
    validate_estimator_params,
)
from ._states import Moments, combine_all, r_factor
from ._validation import check_finite_block, check_X, refuse_text
from .errors import InputError

__all__ = [
    "RangeSketch",
    "TruncatedSVD",
    "component_moments_partition",
    "normalize_basis",
    "normalized_basis",
    "orthonormal_basis",
    "range_svd",
    "sketch_partition",
    "svd_float_dtype",
    "svd_project_partition",
    "svd_range_final",
    "svd_unproject_partition",
    "random_test_matrix",
]

#: The dashboard's names of TruncatedSVD's stages: the power and range passes (``tsvd-block``,
#: ``tsvd-merge``, ``tsvd-final``), the variance pass (``tsvdvar-...``), the broadcast basis
#: and model, and the two lazy maps.
SKETCH_STAGE = "tsvd"
VARIANCE_STAGE = "tsvdvar"
BASIS_STAGE = stage_name("tsvd", "basis")
MODEL_STAGE = stage_name("tsvd", "model")
TRANSFORM_STAGE = stage_name("tsvd", "transform")
INVERSE_STAGE = stage_name("tsvd", "inverse")

#: float64 values per temporary when a dense block is processed in row slabs (8 MiB).
_SLAB_VALUES = 1 << 20
#: Directions of ``X Q`` whose singular value is below this share of the largest are dropped
#: from the range: dividing the rounding of ``Z`` by them would add noise above their size.
RANGE_CUTOFF = math.sqrt(np.finfo(np.float64).eps)


def svd_float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """scikit-learn's dtype for the results of input of ``dtype``: float32 stays, else float64."""
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


# --------------------------------------------------------------------------------------------
# The client's side: the test matrix, the normalizers, the SVD of the projected problem


def random_test_matrix(
    random_state: Any, n_features: int, size: int, dtype: np.dtype[Any]
) -> np.ndarray:
    """The ``n_features x size`` Gaussian test matrix, drawn as scikit-learn draws it.

    ``random_state.normal(size=(n_features, size))``, rounded to float32 for float32 data
    (scikit-learn computes in float32 then), returned in float64. Drawn once, on the client:
    the same for every chunking and worker count.
    """
    omega = check_random_state(random_state).normal(size=(n_features, size))
    if dtype == np.float32:
        omega = omega.astype(np.float32).astype(np.float64)
    return np.asarray(omega)


def orthonormal_basis(basis: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of ``basis`` (economic QR)."""
    return np.asarray(linalg.qr(basis, mode="economic", check_finite=False)[0])


def normalize_basis(z: np.ndarray, normalizer: str) -> np.ndarray:
    """scikit-learn's power-iteration normalizer applied to the ``d x l`` product ``Z``.

    ``"QR"``: its orthonormal factor; ``"LU"``: the permuted unit-lower factor of its LU
    decomposition (cheaper, not orthonormal, as scikit-learn uses it); ``"none"``: ``Z``
    itself (the fastest, and liable to overflow after many iterations).
    """
    if normalizer == "QR":
        return orthonormal_basis(z)
    if normalizer == "LU":
        return np.asarray(linalg.lu(z, permute_l=True, check_finite=False)[0])
    return z


def range_svd(z: np.ndarray, r: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """The singular values and right vectors of ``B = Q_n^T X`` from ``Z = X^T X Q`` and the
    R factor of ``X Q``; signs by scikit-learn's rule (the largest entry of each row of
    ``Vt`` positive).

    ``R = U_r S_r W_r^T`` makes ``Q_n = X Q W_r S_r^{-1}`` orthonormal, so ``B = S_r^{-1}
    W_r^T Z^T``. Directions of ``S_r`` below :data:`RANGE_CUTOFF` of the largest are left
    out (their ``Q_n`` column would be rounding); ``B`` is padded with zero rows up to
    ``n_components``, whose components are then any orthonormal completion (zero singular
    values, as an exact SVD of rank-deficient data gives).
    """
    d = z.shape[0]
    if r.size:
        _, s_r, wt = linalg.svd(r, full_matrices=False, check_finite=False)
        keep = s_r > RANGE_CUTOFF * s_r[0] if s_r[0] > 0 else np.zeros(len(s_r), dtype=bool)
        b = (wt[keep] @ z.T) / s_r[keep][:, np.newaxis]
    else:
        b = np.zeros((0, d))
    if b.shape[0] < n_components:
        b = np.vstack([b, np.zeros((n_components - b.shape[0], d))])
    _, singular, vt = linalg.svd(b, full_matrices=False, check_finite=False)
    singular, vt = singular[:n_components], vt[:n_components]
    _, vt = svd_flip(None, vt, u_based_decision=False)
    return singular, vt


# --------------------------------------------------------------------------------------------
# The state and the task bodies


@dataclass(frozen=True, eq=False)
class RangeSketch:
    """``Z = X^T X Q`` for a ``d x l`` basis ``Q``, and in the range pass the triangular
    factor of ``X Q`` and X's per-feature moments: TruncatedSVD's state.

    ``combine`` adds ``Z``, stacks and re-factors ``R`` (TSQR: ``R^T R = (X Q)^T X Q``
    without forming that Gram matrix) and merges the moments by Chan et al.'s update. Its
    size is ``8 d l`` bytes in a power pass, ``8 (d l + l^2 + 3 d + 1)`` in the range pass,
    whatever the rows.
    """

    z: np.ndarray  # (d, l) float64
    r: np.ndarray | None = None  # (<= l, l), upper triangular
    moments: Moments | None = None  # X's per-feature count, mean, M2

    def combine(self, other: RangeSketch, /) -> RangeSketch:
        r = None
        if self.r is not None and other.r is not None:
            r = r_factor(np.vstack([self.r, other.r]))
        return RangeSketch(self.z + other.z, r, combine_all([self.moments, other.moments]))


def _slabs(n: int, width: int, least: int) -> list[slice]:
    step = max(least, _SLAB_VALUES // max(width, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def sketch_partition(
    X: Any, rows: tuple[slice, ...], block_id: tuple[int, ...], *, basis: np.ndarray, final: bool
) -> RangeSketch | None:
    """The ``tsvd-block`` task: ``X_b^T (X_b Q)`` of one block (:class:`RangeSketch`), and in
    the range pass (``final``) the R factor of ``X_b Q`` and the block's feature moments.

    Dense blocks go in row slabs of about 8 MiB of float64, so that a float32 or integer
    block is never copied whole; a CSR block takes sparse-dense products and is never
    densified. ``None`` for an empty block.
    """
    n, d = X.shape
    if n == 0:
        return None
    check_finite_block(X, "X", rows[0], block_id[0])
    ell = basis.shape[1]
    if sp.issparse(X):
        x = sp.csr_matrix(X, dtype=np.float64)
        y = np.asarray(x @ basis)
        z = np.asarray(x.T @ y)
        if not final:
            return RangeSketch(z)
        return RangeSketch(z, r_factor(y), Moments.of_sparse(x))
    z = np.zeros((d, ell))
    r = np.zeros((0, ell))
    for slab in _slabs(n, d, 2 * ell):
        x = np.asarray(X[slab], dtype=np.float64)
        y = x @ basis
        z += x.T @ y
        if final:
            r = r_factor(np.vstack([r, y]))
    if not final:
        return RangeSketch(z)
    return RangeSketch(z, r, Moments.of(np.asarray(X)))


def normalized_basis(state: RangeSketch | None, *, normalizer: str) -> np.ndarray:
    """The ``tsvd-final`` task of a power pass: the merged ``Z`` normalized, the next basis."""
    if state is None:
        raise InputError("Every partition of X is empty; there is nothing to fit.")
    return normalize_basis(state.z, normalizer)


def svd_range_final(state: RangeSketch | None, *, n_components: int) -> dict[str, Any]:
    """The ``tsvd-final`` task of the range pass: singular values, components (float64)
    and X's merged per-feature moments (:func:`range_svd`)."""
    if state is None or state.r is None:
        raise InputError("Every partition of X is empty; there is nothing to fit.")
    singular, vt = range_svd(state.z, state.r, n_components)
    return {"singular": singular, "components": vt, "moments": state.moments}


def component_moments_partition(
    X: Any, rows: tuple[slice, ...], block_id: tuple[int, ...], *, components: np.ndarray
) -> Moments | None:
    """The ``tsvdvar-block`` task: the moments of the block's projection ``X_b V^T`` on the
    fitted components (scikit-learn's ``explained_variance_`` is their variance)."""
    if X.shape[0] == 0:
        return None
    return Moments.of(np.asarray(safe_sparse_dot(X, components.T), dtype=np.float64))


def _merged(state: Any) -> Any:
    """The ``tsvdvar-final`` task: the merged moments, for the client."""
    return state


def _position(X: Any, block_info: Any) -> tuple[slice, int | None]:
    """The block's rows and index from dask's ``block_info`` (none for in-memory X)."""
    if block_info is None:
        return slice(0, X.shape[0]), None
    start, stop = block_info[0]["array-location"][0]
    return slice(start, stop), int(block_info[0]["chunk-location"][0])


def _as_float(X: Any) -> Any:
    dtype = svd_float_dtype(X.dtype)
    if sp.issparse(X):
        return X.astype(dtype) if X.dtype != dtype else X
    return np.asarray(X, dtype=dtype)


def svd_project_partition(X: Any, *, components: np.ndarray, block_info: Any = None) -> np.ndarray:
    """The ``tsvd-transform`` task: ``X_b @ components_.T`` (dense, dense or CSR ``X_b``), as
    scikit-learn's ``TruncatedSVD.transform``; float32 stays float32."""
    rows, block = _position(X, block_info)
    check_finite_block(X, "X", rows, block)
    return np.asarray(safe_sparse_dot(_as_float(X), components.T))


def svd_unproject_partition(
    X: np.ndarray, *, components: np.ndarray, block_info: Any = None
) -> np.ndarray:
    """The ``tsvd-inverse`` task: ``X_b @ components_``, as scikit-learn's
    ``inverse_transform``."""
    rows, block = _position(X, block_info)
    check_finite_block(X, "X", rows, block)
    return np.asarray(_as_float(X) @ components)


# --------------------------------------------------------------------------------------------
# The estimator


def _is_dask_input(X: Any, method: str) -> bool:
    """True for a dask array or DataFrame; an error for other dask collections."""
    if isinstance(X, da.Array) or is_dask_table(X):
        return True
    if is_dask_collection(X):
        raise InputError(
            f"TruncatedSVD.{method} takes a dask array or DataFrame, not a {type(X).__name__}."
        )
    return False


class TruncatedSVD(SaveMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Truncated SVD (latent semantic analysis) of partitioned data, dense or sparse, by a
    randomized range finder with one pass per power iteration.

    scikit-learn's ``TruncatedSVD(algorithm="randomized")`` out of core: ``n_iter`` power
    passes each apply ``X^T X`` to a ``d x (n_components + n_oversamples)`` basis (summed
    over the blocks through a tree of fan-in ``split_every``, normalized on the client); a
    range pass merges the triangular factor of ``X Q``, whose small SVD gives the
    components; a last pass measures the variance along them. ``n_iter + 2`` passes in all.
    The data is not centred (so CSR blocks stay sparse); for centred components use
    :class:`~daskpar.PCA`. The accuracy against the exact SVD is measured in the module's
    documentation: to float rounding wherever the spectrum decays, within a few percent for
    the last components of a flat one.

    Parameters
    ----------
    n_components : int, default=2
        Number of components, in ``[1, n_features]``.
    algorithm : {"randomized"}, default="randomized"
        scikit-learn's ``"arpack"`` is refused: its Lanczos iterations take one pass over
        the data per matrix-vector product, hundreds of passes.
    n_iter : int, default=5
        Power iterations: one pass over the data each.
    n_oversamples : int, default=10
        Extra directions sampled beyond ``n_components`` (``l = n_components +
        n_oversamples``): more cost a little more per pass and improve the accuracy.
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        How the ``d x l`` basis is normalized on the client after each power pass, as
        scikit-learn's (``"auto"``: ``"none"`` if ``n_iter <= 2``, else ``"LU"``). The range
        pass always starts from an orthonormal basis.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``d x l`` Gaussian test matrix, drawn on the client as scikit-learn draws
        it: the same result for any chunking and number of workers.
    tol : float, default=0.0
        ARPACK's tolerance in scikit-learn; ignored by the randomized solver, as there.
    split_every : int or None, default=None
        Fan-in of the trees that merge the per-block states (at least 2; None uses dask's
        ``split_every`` setting if set, else 8).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The right singular vectors of X; each row's entry of largest absolute value is
        positive (scikit-learn's sign rule).
    explained_variance_ : ndarray of shape (n_components,)
        The variance of the training data projected on each component (``ddof=0``).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        That variance over the total variance of X (the sum of its features' variances).
    singular_values_ : ndarray of shape (n_components,)
        The singular values of X along the components.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for DataFrames with string column names.

    See Also
    --------
    sklearn.decomposition.TruncatedSVD : The in-memory estimator whose algorithm this is.
    daskpar.PCA : Centred, exact in one pass (or randomized for wide data).

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from daskpar._truncated_svd import TruncatedSVD
    >>> rng = np.random.default_rng(0)
    >>> mixing = [[3.0, 0, 0, 1], [0, 2, 0, 1], [0, 0, 1, 1]]
    >>> X = da.from_array(rng.normal(size=(100, 3)) @ mixing, chunks=(30, -1))
    >>> svd = TruncatedSVD(n_components=2, random_state=0).fit(X)
    >>> svd.singular_values_.round(3)
    array([35.197, 22.683])
    >>> np.linalg.svd(X.compute(), compute_uv=False)[:2].round(3)
    array([35.197, 22.683])
    >>> Xt = svd.transform(X)  # lazy: one task per block
    >>> Xt.name.startswith("tsvd-transform-"), Xt.chunks
    (True, ((30, 30, 30, 10), (2,)))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"arpack", "randomized"})],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "n_oversamples": [Interval(Integral, 1, None, closed="left")],
        "power_iteration_normalizer": [StrOptions({"auto", "QR", "LU", "none"})],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "split_every": SPLIT_EVERY,
    }

    n_features_in_: int
    components_: np.ndarray
    explained_variance_: np.ndarray
    explained_variance_ratio_: np.ndarray
    singular_values_: np.ndarray

    def __init__(
        self,
        n_components: int = 2,
        *,
        algorithm: str = "randomized",
        n_iter: int = 5,
        n_oversamples: int = 10,
        power_iteration_normalizer: str = "auto",
        random_state: Any = None,
        tol: float = 0.0,
        split_every: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.tol = tol
        self.split_every = split_every

    def _check_params(self) -> None:
        validate_estimator_params(self)
        if self.algorithm == "arpack":
            raise InvalidParameterError(
                "The 'algorithm' parameter of TruncatedSVD must be 'randomized'. Got 'arpack' "
                "instead: ARPACK's Lanczos iterations take one pass over the data per "
                "matrix-vector product, hundreds of passes out of core. Use "
                "algorithm='randomized' (n_iter + 2 passes) and raise n_iter for more "
                "accuracy."
            )

    def _check_fit_X(self, X: da.Array) -> None:
        """Refuse, before any task runs, what cannot be fitted: empty X, one feature, more
        components than features."""
        n_samples, n_features = X.shape
        if n_samples == 0:
            raise InputError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                "required by TruncatedSVD."
            )
        if n_features < 2:
            raise InputError(
                f"Found array with {n_features} feature(s) (shape={X.shape}) while a minimum "
                "of 2 is required by TruncatedSVD."
            )
        if self.n_components > n_features:
            raise InputError(
                f"n_components({self.n_components}) must be <= n_features({n_features}): "
                f"X has {n_features} features. Choose n_components <= {n_features}."
            )

    def _normalizer(self) -> str:
        if self.power_iteration_normalizer == "auto":
            return "none" if self.n_iter <= 2 else "LU"
        return str(self.power_iteration_normalizer)

    def _sketch(self, X: da.Array, basis: np.ndarray, *, final: bool) -> Any:
        normalizer = self._normalizer()
        return reduce_partitions(
            sketch_partition,
            X,
            finalize=svd_range_final if final else normalized_basis,
            stage=SKETCH_STAGE,
            split_every=self.split_every,
            task_kwargs={"basis": broadcast(basis, BASIS_STAGE), "final": final},
            finalize_kwargs=(
                {"n_components": int(self.n_components)} if final else {"normalizer": normalizer}
            ),
        )

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit the components in ``n_iter + 2`` parallel passes over ``X``.

        Parameters
        ----------
        X : dask array (dense or CSR blocks) or DataFrame, or array-like or sparse matrix, \
                of shape (n_samples, n_features)
            The data: finite, partitioned along rows only with known chunk sizes (in-memory
            input is split into blocks).
        y : None
            Ignored.

        Returns
        -------
        self : TruncatedSVD
            The fitted estimator.
        """
        _is_dask_input(X, "fit")
        with audit.operation("fit", estimator=self, X=X):
            self._check_params()
            X = check_X(X, estimator=self, reset=True)
            self._check_fit_X(X)
            n_samples, n_features = (int(s) for s in X.shape)
            float_dtype = svd_float_dtype(X.dtype)
            size = int(self.n_components) + int(self.n_oversamples)
            basis = random_test_matrix(self.random_state, n_features, size, float_dtype)
            for _ in range(self.n_iter):
                basis = self._sketch(X, basis, final=False)
            # The range pass starts from an orthonormal basis (the span is the same).
            found = self._sketch(X, orthonormal_basis(basis), final=True)
            components = found["components"]
            projected: Moments = reduce_partitions(
                component_moments_partition,
                X,
                finalize=_merged,
                stage=VARIANCE_STAGE,
                split_every=self.split_every,
                task_kwargs={"components": broadcast(components, MODEL_STAGE)},
            )
            explained = projected.m2[0] / n_samples
            with np.errstate(invalid="ignore", divide="ignore"):
                # X of no variance at all: 0 / 0, NaN ratios, as in scikit-learn.
                ratio = explained / found["moments"].variance().sum()
            self.components_ = components.astype(float_dtype)
            self.explained_variance_ = explained.astype(float_dtype)
            self.explained_variance_ratio_ = ratio.astype(float_dtype)
            self.singular_values_ = found["singular"].astype(float_dtype)
            self.n_features_in_ = n_features
            return self

    def _map_blocks(self, X: da.Array, *, inverse: bool) -> da.Array:
        """``X @ components_.T`` (or ``X @ components_``) lazily: one task per block."""
        components = self.components_
        func = svd_unproject_partition if inverse else svd_project_partition
        stage = INVERSE_STAGE if inverse else TRANSFORM_STAGE
        width = self.n_features_in_ if inverse else int(components.shape[0])
        dtype = np.result_type(svd_float_dtype(X.dtype), components.dtype)
        out: da.Array = da.map_blocks(
            func,
            X,
            components=broadcast(components, MODEL_STAGE),
            chunks=(X.chunks[0], (width,)),
            dtype=dtype,
            meta=np.empty((0, width), dtype=dtype),
            name=f"{stage}-{tokenize(components, X)}",
        )
        return out

    def transform(self, X: Any) -> Any:
        """Project ``X`` on the components: lazily, block by block, for dask input.

        Parameters
        ----------
        X : dask array (dense or CSR blocks) or DataFrame, or array-like or sparse matrix, \
                of shape (n_samples, n_features)
            The data to project.

        Returns
        -------
        X_new : dask array or ndarray of shape (n_samples, n_components)
            ``X @ components_.T``; a lazy dask array for dask input, else numpy.
        """
        check_is_fitted(self)
        if is_table(X):  # its columns by name, in the fitted order
            X = match_feature_names(self, X, reset=False)
        if _is_dask_input(X, "transform"):
            if get_output_config("transform", self)["dense"] != "default":
                raise InputError(
                    "TruncatedSVD returns a dask array for dask input; "
                    "set_output(transform=...) applies to in-memory input only."
                )
            X = check_X(X, n_features=self.n_features_in_)
            return self._map_blocks(X, inverse=False)
        refuse_text(X, "X")
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
            ensure_all_finite=False,
        )
        return svd_project_partition(X, components=self.components_)

    def inverse_transform(self, X: Any) -> Any:
        """Map projected data back to the original space: ``X @ components_``, lazily,
        block by block, for dask input.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_components)
            Projected data.

        Returns
        -------
        X_original : dask array or ndarray of shape (n_samples, n_features_in_)
            A lazy dask array for dask input, else numpy.
        """
        check_is_fitted(self)
        if _is_dask_input(X, "inverse_transform"):
            X = check_X(X)
        else:
            refuse_text(X, "X")
            X = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False)
        if X.shape[1] != self.components_.shape[0]:
            raise InputError(
                f"X has {X.shape[1]} columns, but TruncatedSVD.inverse_transform expects one "
                f"per component: n_components = {self.components_.shape[0]}."
            )
        if isinstance(X, da.Array):
            return self._map_blocks(X, inverse=True)
        return svd_unproject_partition(X, components=self.components_)

    @property
    def _n_features_out(self) -> int:
        """Number of transformed output features (for ``get_feature_names_out``)."""
        return int(self.components_.shape[0])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
