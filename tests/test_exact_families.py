"""Naive Bayes through the tree equals one in-memory scikit-learn fit, for any partitioning."""

from __future__ import annotations

import numpy as np
import pytest
from daskpar_testing import as_dask
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB

import daskpar as dp

TOL = 1e-10
CHUNKINGS = [6000, 1000, 777, (1, 2999, 3000), (0, 2500, 0, 3500)]
FITTED = {
    GaussianNB: ("theta_", "var_", "class_count_", "class_prior_", "epsilon_"),
    MultinomialNB: ("feature_count_", "class_count_", "feature_log_prob_", "class_log_prior_"),
    BernoulliNB: ("feature_count_", "class_count_", "feature_log_prob_", "class_log_prior_"),
}


def _data(kind: type, X: np.ndarray) -> np.ndarray:
    # Multinomial NB needs counts-like non-negative features.
    return np.abs(X) * 3 if kind is MultinomialNB else X


def assert_same_model(ours: object, ref: object, names: tuple[str, ...]) -> None:
    for name in names:
        np.testing.assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=TOL, atol=TOL, err_msg=name
        )


@pytest.mark.parametrize("kind", list(FITTED), ids=lambda k: k.__name__)
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
@pytest.mark.parametrize("split_every", [2, 3, 8])
def test_naive_bayes_equals_in_memory_fit(
    kind: type, chunks: object, split_every: int, multiclass: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = multiclass
    X = _data(kind, X)
    Xd, yd = as_dask(X, y, chunks)  # type: ignore[arg-type]
    model = dp.ParallelIncremental(kind(), split_every=split_every).fit(Xd, yd)
    ref = kind().fit(X, y)
    assert_same_model(model.estimator_, ref, FITTED[kind])
    np.testing.assert_array_equal(model.predict(X), ref.predict(X))
    assert len(model.history_) == 1  # exact: one pass, whatever ``epochs`` says


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=600), min_size=0, max_size=12),
    split_every=st.integers(min_value=2, max_value=9),
)
def test_gaussian_nb_independent_of_partitioning(cuts: list[int], split_every: int) -> None:
    rng = np.random.default_rng(0)
    # Features on very different scales and far from zero stress the moment merging.
    X = rng.normal(loc=1e4, scale=[1e-3, 1.0, 1e3], size=(600, 3))
    y = rng.integers(0, 3, size=600)
    bounds = sorted({0, 600, *cuts})
    chunks = tuple(np.diff(bounds).tolist())
    Xd, yd = as_dask(X, y, chunks)
    model = dp.ParallelIncremental(GaussianNB(), split_every=split_every).fit(Xd, yd)
    ref = GaussianNB().fit(X, y)
    np.testing.assert_allclose(model.estimator_.theta_, ref.theta_, rtol=TOL)
    np.testing.assert_allclose(model.estimator_.var_, ref.var_, rtol=1e-8)


def test_gaussian_nb_priors_are_kept(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    model = dp.ParallelIncremental(GaussianNB(priors=[0.3, 0.7])).fit(*as_dask(X, y, 1000))
    np.testing.assert_allclose(model.estimator_.class_prior_, [0.3, 0.7])
    ref = GaussianNB(priors=[0.3, 0.7]).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), rtol=1e-9)


def test_classes_given_beyond_the_data_match_partial_fit(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = binary
    X = np.abs(X)
    model = dp.ParallelIncremental(MultinomialNB()).fit(*as_dask(X, y, 700), classes=[0, 1, 2])
    ref = MultinomialNB().partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert_same_model(model.estimator_, ref, FITTED[MultinomialNB])
