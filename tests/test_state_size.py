"""Every per-partition state is bounded by its formula, never by the rows of its block.

A state that grows with the rows is not out of core: the tree would carry the data to its root.
Each state class is built by the task body that makes it in a fit, on blocks of 500 and of
50,000 rows, and its pickled size (what travels between workers) must stay within the bytes
its formula allows, whatever the rows. ``test_every_state_class_is_bounded`` fails when a new
state class is added without a row here.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.naive_bayes import GaussianNB, MultinomialNB

import daskpar
from daskpar._decomposition import pca_fit_partition, pca_sketch_partition
from daskpar._encoders import count_partition_categories
from daskpar._families import family_for
from daskpar._kmeans import Centres, farthest_partition, lloyd_partition, weigh_partition
from daskpar._linear import least_squares_partition
from daskpar._pass import find_labels_partition
from daskpar._preprocessing import extrema_fit_partition, standard_scaler_fit_partition
from daskpar._states import Moments, MomentsByClass, StateTuple, TrialState, Weighted
from daskpar._text import count_partition_documents, count_partition_terms
from daskpar._truncated_svd import sketch_partition
from daskpar.audit import ContentHash
from daskpar.metrics._classification import Accuracy, LogLoss
from daskpar.metrics._ranking import RocAuc
from daskpar.metrics._regression import R2

D = 20  # features
K = 3  # classes
F8 = 8  # bytes per float64
#: Pickle's framing, class names and small scalars: a constant per object, not per row.
OVERHEAD = 2048
ROWS = (500, 50_000)


def block(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    labels = np.arange(n) % K  # every class in every block
    return X, labels, X @ rng.normal(size=D)


def position(n: int) -> tuple[tuple[slice, ...], tuple[int, ...]]:
    return (slice(0, n),), (0,)


def sgd_state(n: int) -> Any:
    X, labels, _ = block(n)
    return family_for(SGDClassifier()).partition_state(
        SGDClassifier(), X, labels, classes=np.arange(K), seed=0
    )


def averaged_sgd_state(n: int) -> Any:
    X, _, target = block(n)
    return family_for(SGDRegressor(average=True)).partition_state(
        SGDRegressor(average=True), X, target, classes=None, seed=0
    )


def adaptive_state(n: int) -> Any:
    X, labels, _ = block(n)
    return family_for(daskpar.AdaptiveSGDClassifier()).partition_state(
        daskpar.AdaptiveSGDClassifier(), X, labels, classes=np.arange(K), seed=0
    )


def multinomial_nb_state(n: int) -> Any:
    X, labels, _ = block(n)
    return family_for(MultinomialNB()).partition_state(
        MultinomialNB(), np.abs(X), labels, classes=np.arange(K), seed=0
    )


def gaussian_nb_state(n: int) -> Any:
    X, labels, _ = block(n)
    return family_for(GaussianNB()).partition_state(
        GaussianNB(), X, labels, classes=np.arange(K), seed=0
    )


def pca_state(n: int) -> Any:
    return pca_fit_partition(block(n)[0], *position(n))


#: The randomized SVD's directions in the state-size cases.
L = 5
SKETCH_BASIS = np.linalg.qr(np.random.default_rng(1).normal(size=(D, L)))[0]


def svd_sketch_state(n: int) -> Any:
    return sketch_partition(block(n)[0], *position(n), basis=SKETCH_BASIS, final=True)


def pca_sketch_state(n: int) -> Any:
    return pca_sketch_partition(block(n)[0], *position(n), basis=SKETCH_BASIS, final=True)


def least_squares_state(n: int) -> Any:
    X, _, target = block(n)
    return least_squares_partition(X, target, None, *position(n))


def moments_with_nan(n: int) -> Any:
    X = block(n)[0]
    X[::7, 3] = np.nan  # NaN keeps a count per feature
    return Moments.of(X)


def scaler_state(n: int) -> Any:
    X = block(n)[0]
    return standard_scaler_fit_partition(
        X, np.ones(n), *position(n), float_dtype=np.dtype(np.float64), weigh_moments=True
    )


def extrema_state(n: int) -> Any:
    return extrema_fit_partition(block(n)[0], *position(n), float_dtype=np.dtype(np.float64))


def labels_state(n: int) -> Any:
    return find_labels_partition(block(n)[1], *position(n))


def confusion_state(n: int) -> Any:
    _, labels, _ = block(n)
    return Accuracy().partition_state(labels, np.roll(labels, 1), None)


def weighted_confusion_state(n: int) -> Any:
    _, labels, _ = block(n)
    return Accuracy().partition_state(labels, labels, np.ones(n))


def log_loss_state(n: int) -> Any:
    _, labels, _ = block(n)
    proba = np.random.default_rng(1).dirichlet(np.ones(K), size=n)
    return LogLoss().partition_state(labels, proba, None)


def score_histogram_state(n: int) -> Any:
    # Continuous scores: every row is a distinct score, so only max_bins bounds the state.
    _, labels, target = block(n)
    return RocAuc(max_bins=256).partition_state(labels % 2, target, None)


def residual_state(n: int) -> Any:
    _, _, target = block(n)
    return R2().partition_state(target, target * 0.9, None)


def content_hash(n: int) -> Any:
    return ContentHash.of(block(n)[0])


def state_tuple(n: int) -> Any:
    return StateTuple((labels_state(n), None, extrema_state(n)))


def _table(n: int) -> pd.DataFrame:
    """K text categories (one letter each) and a column of numbers, n rows."""
    X, labels, _ = block(n)
    return pd.DataFrame({"c": np.array(list("abc"))[labels], "x": X[:, 0]})


def category_counts_state(n: int) -> Any:
    return count_partition_categories(_table(n)[["c"]], (slice(0, n),), (0,), cap=100)


def term_counts_state(n: int) -> Any:
    """K documents' worth of terms, over n rows: the distinct terms do not grow with n."""
    _, labels, _ = block(n)
    documents = np.array(["red fox", "blue fox", "the sky"])[labels]
    analyzer = CountVectorizer().build_analyzer()
    return count_partition_terms(documents, (slice(0, n),), (0,), analyzer=analyzer, cap=100)


def document_frequencies_state(n: int) -> Any:
    X, _, _ = block(n)
    counts = sparse.csr_array(np.maximum(np.round(X), 0.0))
    return count_partition_documents(counts, (slice(0, n),), (0,))


def trial_state(n: int) -> Any:
    return TrialState(sgd_state(n), StateTuple((confusion_state(n),)), 0.1, 0.2)


KMEANS_CENTRES = Centres(np.random.default_rng(1).normal(size=(2, K, D)), np.zeros(D))


def kmeans_state(n: int) -> Any:
    """A first Lloyd pass (with X's moments) for R = 2 runs of K centres."""
    X, _, _ = block(n)
    return lloyd_partition(X, None, *position(n), centres=KMEANS_CENTRES, with_moments=True)


def kmeans_top_rows_state(n: int) -> Any:
    """The K and 1 rows farthest from their centres, for the two runs."""
    X, _, _ = block(n)
    return farthest_partition(X, None, *position(n), centres=KMEANS_CENTRES, capacity=(K, 1))


def kmeans_candidate_weights_state(n: int) -> Any:
    X, _, _ = block(n)
    return weigh_partition(X, None, *position(n), centres=KMEANS_CENTRES)


#: Every state class -> (a task that makes one, its size in bytes by formula).
CASES: dict[str, tuple[Callable[[int], Any], int]] = {
    # coef_ and intercept_ sums, and the prototype estimator (coef_, intercept_ again).
    "SumState": (sgd_state, 4 * F8 * K * (D + 1) + 8 * OVERHEAD),
    "SumState (average=True)": (averaged_sgd_state, 12 * F8 * (D + 1) + 8 * OVERHEAD),
    "SumState (naive Bayes counts)": (multinomial_nb_state, 8 * F8 * K * (D + 1) + 8 * OVERHEAD),
    # Weights, intercepts, squared gradients and counters (2 + D), twice with the prototype
    # estimator (plus its scale_ and mean_), and the scale.
    "AdaptiveState": (adaptive_state, F8 * (2 * K * (2 * D + 2) + 5 * D + 2) + 2 * OVERHEAD),
    "MomentsByClass": (gaussian_nb_state, F8 * (K + 1) * (4 * D + 1) + 2 * OVERHEAD),
    "LeastSquaresState": (least_squares_state, F8 * ((D + 2) ** 2 + D + 2) + OVERHEAD),
    # PCA: the count, the mean in two parts and the d x d R factor.
    "CentredFactor": (pca_state, F8 * (D + 1) ** 2 + OVERHEAD),
    # TruncatedSVD's range pass: X^T X Q (d x l), the l x l factor of X Q, X's moments.
    "RangeSketch": (svd_sketch_state, F8 * (D * L + L * L + 3 * D + 1) + 2 * OVERHEAD),
    # The randomized PCA's: the count, the mean in two parts, its projection, Z, R, M2.
    "CentredSketch": (pca_sketch_state, F8 * (D * L + 3 * D + L * L + L + 1) + OVERHEAD),
    "Moments": (moments_with_nan, F8 * 4 * D + OVERHEAD),
    "Weighted (scaler moments)": (scaler_state, F8 * 4 * D + OVERHEAD),
    "Extrema": (extrema_state, F8 * 2 * D + OVERHEAD),
    "LabelSet": (labels_state, F8 * K + OVERHEAD),
    "ConfusionState": (confusion_state, F8 * (K + 3 * K * K) + 2 * K + OVERHEAD),
    "Weighted (confusion counts)": (
        weighted_confusion_state,
        F8 * (K + 3 * K * K) + 2 * K + 2 * OVERHEAD,
    ),
    "LogLossState": (log_loss_state, F8 * K * (K + 1) + OVERHEAD),
    "ScoreHistogram": (score_histogram_state, F8 * 3 * 256 + OVERHEAD),
    "ResidualState": (residual_state, F8 * 8 + OVERHEAD),
    # A row count and four hash lanes.
    "ContentHash": (content_hash, F8 * 5 + OVERHEAD),
    # KMeans: 8 R (k (d + 2) + 1) for R = 2 runs, and the first pass's moments 8 (3 d + 1).
    "ClusterSums": (kmeans_state, F8 * 2 * (K * (D + 2) + 1) + F8 * (3 * D + 1) + 2 * OVERHEAD),
    # Per group of capacity M: M rows, keys, indices, weights and labels; and the costs.
    "TopRows": (kmeans_top_rows_state, F8 * ((D + 4) * (K + 1) + 2) + 2 * OVERHEAD),
    "CandidateWeights": (kmeans_candidate_weights_state, F8 * 2 * K + OVERHEAD),
    "StateTuple": (state_tuple, F8 * (K + 2 * D) + 3 * OVERHEAD),
    # Per column, each distinct value (a 1-letter string here) and its int64 count.
    "CategoryCounts": (category_counts_state, K * (F8 + 64) + 2 * OVERHEAD),
    # Per distinct term (5 words here), a pointer, its string, and two int64 counts.
    "TermCounts": (term_counts_state, 5 * (3 * F8 + 64) + 2 * OVERHEAD),
    # An int64 count of stored values per column, and the row count.
    "DocumentFrequencies": (document_frequencies_state, F8 * (D + 1) + OVERHEAD),
    "TrialState": (
        trial_state,
        4 * F8 * K * (D + 1) + F8 * (K + 3 * K * K) + 12 * OVERHEAD,
    ),
}


def pickled_size(state: Any) -> int:
    return len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_size_is_bounded_by_its_formula(case: str) -> None:
    make, bound = CASES[case]
    small, large = (pickled_size(make(n)) for n in ROWS)
    assert large <= bound, f"{case}: {large} bytes from {ROWS[1]} rows; its formula allows {bound}"
    # 100x the rows may add a few bytes (larger integers), not a share of the rows.
    assert large <= small + 256, (
        f"{case}: {small} bytes from {ROWS[0]} rows, {large} from {ROWS[1]}"
    )


def test_least_squares_state_is_square_whatever_the_rows() -> None:
    """The triangular factor is (d + 1) x (d + 1), not rows x (d + 1)."""
    state = least_squares_state(50_000)
    assert state.r.shape == (D + 1, D + 1)
    # And the factor is right: R^T R is the co-moment matrix of the centred [X, y].
    X, _, target = block(50_000)
    Z = np.column_stack([X, target])
    Z -= Z.mean(axis=0)
    np.testing.assert_allclose(state.r.T @ state.r, Z.T @ Z, rtol=1e-9, atol=1e-6)


def state_classes() -> set[str]:
    """Every class of every daskpar module that has a ``combine``: a mergeable state."""
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(daskpar.__path__, prefix="daskpar.")
    ]
    return {
        name
        for module in modules
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and obj.__module__ == module.__name__
        and callable(getattr(obj, "combine", None))
        and not getattr(obj, "_is_protocol", False)
    }


def test_every_state_class_is_bounded() -> None:
    covered = {case.split(" ")[0] for case in CASES}
    assert state_classes() - covered == set(), "add a row to CASES for each new state class"
    assert {"LeastSquaresState", "Moments", "SumState"} <= state_classes()
    # The wrapped states really are of their classes.
    assert isinstance(gaussian_nb_state(10), MomentsByClass)
    assert isinstance(weighted_confusion_state(10), Weighted)
    assert isinstance(scaler_state(10), Weighted)
