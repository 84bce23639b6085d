"""``ParallelIncremental.fit(..., sample_weight=...)``: weights reach every partition's fit and
the merge, exactly for the naive Bayes models and by the weighted average for SGD."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from daskpar_testing import as_dask
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB

import daskpar as dp
from daskpar._families import family_for


def fit(estimator: object, X: da.Array, y: da.Array, w: object, **kwargs: object) -> object:
    model = dp.ParallelIncremental(estimator, random_state=0, **kwargs)
    return model.fit(X, y, sample_weight=w).estimator_


@pytest.mark.parametrize("estimator", [MultinomialNB(), BernoulliNB(), GaussianNB()])
@pytest.mark.parametrize("chunks", [6000, 1000, 777])
def test_naive_bayes_equals_a_weighted_in_memory_fit(
    estimator: object, chunks: int, multiclass: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = multiclass
    X = np.abs(X)
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(y))
    ours = fit(estimator, *as_dask(X, y, chunks), w)
    ref = clone(estimator).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.class_count_, ref.class_count_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-9, atol=1e-12)
    # And the weights matter: the unweighted fit is another model.
    assert not np.allclose(clone(estimator).fit(X, y).class_count_, ref.class_count_)


@pytest.mark.parametrize(
    "estimator", [SGDClassifier(), SGDClassifier(average=True), SGDRegressor()]
)
def test_rows_of_weight_zero_do_not_matter(
    estimator: object, binary: tuple[np.ndarray, np.ndarray]
) -> None:
    """Whatever the rows of weight zero hold, the model is the same to the bit."""
    X, y = binary
    if isinstance(estimator, SGDRegressor):
        y = X @ np.linspace(-1, 1, X.shape[1])
    w = np.ones(len(y))
    w[1500:2500] = 0.0  # inside partitions 1 and 2, and all of neither
    garbage_X, garbage_y = X.copy(), y.copy()
    garbage_X[1500:2500] *= -50.0
    garbage_y[1500:2500] = garbage_y[1500:2500][::-1]
    a = fit(estimator, *as_dask(X, y, 1000), w, epochs=2)
    b = fit(estimator, *as_dask(garbage_X, garbage_y, 1000), w, epochs=2)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    # Without the weights, the garbage changes the model.
    c = fit(estimator, *as_dask(garbage_X, garbage_y, 1000), None, epochs=2)
    assert not np.array_equal(a.coef_, c.coef_)


def test_partitions_are_averaged_by_their_weights(binary: tuple[np.ndarray, np.ndarray]) -> None:
    """The merged model is the mean of the partitions' models weighted by their weight sums."""
    X, y = binary
    family = family_for(SGDClassifier())
    w = np.random.default_rng(1).uniform(0.0, 2.0, len(y))
    w[3000:] *= 5.0  # the second half weighs about five times the first
    classes = np.array([0, 1])
    halves = [slice(0, 3000), slice(3000, 6000)]
    states = [
        family.partition_state(
            SGDClassifier(), X[h], y[h], classes=classes, seed=7, sample_weight=w[h]
        )
        for h in halves
    ]
    merged = family.finalize(
        states[0].combine(states[1]), SGDClassifier(), classes=classes, epoch=0
    )
    coefs = [clone(SGDClassifier(random_state=7)) for _ in halves]
    for est, h in zip(coefs, halves, strict=True):
        est.partial_fit(X[h], y[h], classes=classes, sample_weight=w[h])
    weights = [w[h].sum() for h in halves]
    expected = sum(wt * est.coef_ for wt, est in zip(weights, coefs, strict=True)) / sum(weights)
    np.testing.assert_allclose(merged.coef_, expected, rtol=1e-12)
    # A uniform weight of one is the unweighted fit, to the bit.
    Xd, yd = as_dask(X, y, 1000)
    np.testing.assert_array_equal(
        fit(SGDClassifier(), Xd, yd, np.ones(len(y))).coef_,
        fit(SGDClassifier(), Xd, yd, None).coef_,
    )


def test_weights_are_checked(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    Xd, yd = as_dask(X, y, 1000)
    w = np.ones(len(y))
    w[4321] = -1.0
    with pytest.raises(dp.PartitionError, match=r"negative values in partition 4.*row 4321"):
        fit(SGDClassifier(), Xd, yd, w)
    with pytest.raises(dp.InputError, match="sample_weight's row chunks do not match"):
        fit(SGDClassifier(), Xd, yd, da.from_array(np.ones(len(y)), chunks=1500))
    with pytest.raises(dp.InputError, match=r"sum to\s+zero"):
        fit(SGDClassifier(), Xd, yd, np.zeros(len(y)))
