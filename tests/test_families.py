"""The conformance suite every model family runs.

A family (:mod:`daskpar._families`) turns a block into a state with ``partition_state`` and the
merged state back into a scikit-learn estimator with ``finalize``. Every family registered in
``_FAMILIES`` is run here through one or more example estimators, mostly through the public
``daskpar.ParallelIncremental``, and must keep these promises:

- ``partition_state`` never mutates the model it starts from (unfitted, or the model of an
  earlier epoch), and neither does ``finalize``; ``finalize`` gives an estimator of the
  model's class that predicts;
- **exact** families (``family.exact``) give the model one in-memory scikit-learn ``fit`` gives,
  to 1e-10, whatever the chunking (empty blocks included) and ``split_every``;
- the same data, seed and ``split_every`` give the same model to the bit, run twice and on
  the threaded scheduler as on the synchronous one;
- ``sample_weight`` of ones gives the unweighted model to the bit, and a block whose rows all
  weigh zero contributes nothing: replacing its rows with garbage leaves the model's bits alone
  (an estimator whose ``partial_fit`` cannot weigh rows must get an ``InputError`` instead;
  GaussianNB's garbage is in y only, since scikit-learn takes its ``epsilon_`` from the
  variance of every row of X, whatever its weight);
- **inexact** families (averaged SGD) score on held-out data at most ``SCORE_GAP`` below
  scikit-learn's in-memory ``fit`` with as many passes (``max_iter=epochs, tol=None``), on
  standardised data.

**Adding a family**: register it in ``_FAMILIES`` and add its example estimators to
``EXAMPLES`` (one line each); ``test_every_family_has_an_example`` fails, naming the family,
until it has one. A case that fails because of a known bug in daskpar is a strict xfail that
says what the bug is (for the example cases, a line of ``KNOWN_BUGS``); fixing the bug makes
the case pass, and strictness then asks for the mark to go.
"""

from __future__ import annotations

import copy
import functools
import inspect
import numbers
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import dask
import numpy as np
import pytest
from daskpar_testing import as_dask
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    PassiveAggressiveClassifier,
    Perceptron,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from sklearn.preprocessing import StandardScaler

import daskpar as dp
from daskpar._families import _FAMILIES, Family, family_for

N_TRAIN, N_TEST = 3000, 1000
EPOCHS = 3
BLOCK = 700  # rows per partition where the chunking is not the point: 5 partitions
TOL = 1e-10  # exact families against scikit-learn
#: How far below scikit-learn's held-out accuracy or R² an inexact family may score.
SCORE_GAP = 0.03

Data = Literal["binary", "multiclass", "counts", "regression"]


@dataclass(frozen=True)
class Example:
    """An estimator a family trains, the data it fits, and warnings its class raises."""

    id: str
    make: Callable[[], BaseEstimator]
    data: Data
    marks: tuple[Any, ...] = ()

    @property
    def takes_sample_weight(self) -> bool:
        """Whether the estimator's own ``partial_fit`` weighs rows."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return "sample_weight" in inspect.signature(self.make().partial_fit).parameters


#: scikit-learn 1.8 deprecated the class (its replacement is an SGDClassifier setting).
_PA_DEPRECATED = pytest.mark.filterwarnings(
    "ignore:Class PassiveAggressiveClassifier is deprecated:FutureWarning"
)

#: Every registered family -> example estimators it trains.
EXAMPLES: dict[str, tuple[Example, ...]] = {
    "SGDFamily": (
        Example("SGDClassifier-log_loss", lambda: SGDClassifier(loss="log_loss"), "multiclass"),
        Example("SGDClassifier-average", lambda: SGDClassifier(average=True), "binary"),
        Example("SGDRegressor", SGDRegressor, "regression"),
        Example("Perceptron", Perceptron, "multiclass"),
        Example(
            "PassiveAggressiveClassifier",
            PassiveAggressiveClassifier,
            "binary",
            marks=(_PA_DEPRECATED,),
        ),
    ),
    "DiscreteNBFamily": (
        Example("MultinomialNB", MultinomialNB, "counts"),
        Example("BernoulliNB", BernoulliNB, "multiclass"),
    ),
    "GaussianNBFamily": (Example("GaussianNB", GaussianNB, "multiclass"),),
    "AdaptiveFamily": (
        Example("AdaptiveSGDClassifier", dp.AdaptiveSGDClassifier, "multiclass"),
        Example("AdaptiveSGDClassifier-hinge", lambda: dp.AdaptiveSGDClassifier("hinge"), "binary"),
        Example("AdaptiveSGDRegressor", dp.AdaptiveSGDRegressor, "regression"),
    ),
}

_REGISTERED: dict[str, type[Family]] = {f.__name__: f for f in _FAMILIES}


def example_named(name: str) -> Example:
    (found,) = (e for family_examples in EXAMPLES.values() for e in family_examples if e.id == name)
    return found


#: Cases that fail because of a bug in daskpar, not in the test: (test, example) -> the bug.
KNOWN_BUGS: dict[tuple[str, str], Any] = {}


def examples(*, exact: bool | None = None, test: str = "") -> list[Any]:
    """The examples as pytest parameters (of exact or inexact families only, if asked), with
    the xfail marks of the ``KNOWN_BUGS`` of ``test``."""
    return [
        pytest.param(e, id=e.id, marks=(*e.marks, *bugs))
        for family, family_examples in EXAMPLES.items()
        for e in family_examples
        if exact is None or (family in _REGISTERED and _REGISTERED[family].exact is exact)
        for bugs in [[KNOWN_BUGS[test, e.id]] if (test, e.id) in KNOWN_BUGS else []]
    ]


# --------------------------------------------------------------------------------------------
# Data, fitting, comparing


@functools.cache
def data(kind: Data) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised training (``N_TRAIN`` rows) and held-out (``N_TEST``) data."""
    n = N_TRAIN + N_TEST
    if kind == "regression":
        X, y = make_regression(n_samples=n, n_features=8, noise=40.0, random_state=0)
        y = (y - y.mean()) / y.std()
    else:
        X, y = make_classification(
            n_samples=n,
            n_features=8,
            n_informative=5,
            n_classes=2 if kind == "binary" else 3,
            n_clusters_per_class=1,
            random_state=0,
        )
    X = StandardScaler().fit_transform(X)
    if kind == "counts":
        X = np.round(np.abs(X) * 3)  # non-negative counts, as MultinomialNB needs
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def fit(
    example: Example,
    X: np.ndarray,
    y: np.ndarray,
    *,
    chunks: int | tuple[int, ...] = BLOCK,
    split_every: int = 3,
    sample_weight: np.ndarray | None = None,
) -> BaseEstimator:
    """The estimator ``ParallelIncremental`` fits in ``EPOCHS`` passes (seed 0)."""
    model = dp.ParallelIncremental(
        example.make(), epochs=EPOCHS, split_every=split_every, random_state=0
    )
    return model.fit(*as_dask(X, y, chunks), sample_weight=sample_weight).estimator_


def classes_of(model: BaseEstimator, y: np.ndarray) -> np.ndarray | None:
    return np.unique(y) if is_classifier(model) else None


def fitted_attributes(est: BaseEstimator, *, public: bool = False) -> dict[str, Any]:
    """The arrays and numbers fitting set on ``est`` (with private ones unless ``public``)."""
    params = est.get_params()
    return {
        k: v
        for k, v in vars(est).items()
        if k not in params
        and isinstance(v, np.ndarray | numbers.Number | str)
        and not (public and (k.startswith("_") or not k.endswith("_")))
    }


def assert_same_bits(a: BaseEstimator, b: BaseEstimator) -> None:
    """Every fitted attribute of ``a`` and ``b`` is the same, to the bit."""
    fa, fb = fitted_attributes(a), fitted_attributes(b)
    assert fa.keys() == fb.keys(), f"attributes {sorted(fa)} != {sorted(fb)}"
    for name in fa:
        x, y = np.asarray(fa[name]), np.asarray(fb[name])
        assert (x.dtype, x.shape) == (y.dtype, y.shape), name
        assert x.tobytes() == y.tobytes(), f"{name} differs: {x} != {y}"


def snapshot(model: BaseEstimator) -> dict[str, Any]:
    """A deep copy of everything that makes ``model``: its parameters and attributes."""
    return {"get_params()": copy.deepcopy(model.get_params()), **copy.deepcopy(vars(model))}


def assert_equal_values(a: Any, b: Any, path: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            assert_equal_values(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path, strict=True)
    elif a is None or isinstance(a, numbers.Number | str | tuple | list):
        assert type(a) is type(b), f"{path}: {a!r} != {b!r}"
        assert a == b, f"{path}: {a!r} != {b!r}"
    else:
        # Objects without a value equality (scikit-learn's Cython loss functions): their state.
        assert pickle.dumps(a) == pickle.dumps(b), f"{path}: {a!r} changed"


def assert_unchanged(model: BaseEstimator, before: dict[str, Any], after_what: str) -> None:
    assert_equal_values(snapshot(model), before, f"the model after {after_what}")


def start_model(example: Example, start: str) -> BaseEstimator:
    """A fresh estimator (first epoch), or one a first epoch fitted (later epochs)."""
    if start == "unfitted":
        return clone(example.make())
    X, y, _, _ = data(example.data)
    one_epoch = dp.ParallelIncremental(example.make(), epochs=1, random_state=0)
    return one_epoch.fit(*as_dask(X, y, 1000)).estimator_


# --------------------------------------------------------------------------------------------
# The registry


def test_every_family_has_an_example() -> None:
    missing = sorted(set(_REGISTERED) - set(EXAMPLES))
    assert not missing, f"registered families without an example: {missing}; add to EXAMPLES"
    assert not (stale := sorted(set(EXAMPLES) - set(_REGISTERED))), f"not registered: {stale}"
    for family, family_examples in EXAMPLES.items():
        assert family_examples, f"{family} has no example; add one to EXAMPLES"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            found = {e.id: type(family_for(e.make())).__name__ for e in family_examples}
        assert set(found.values()) == {family}, f"EXAMPLES[{family!r}] holds {found}"


# --------------------------------------------------------------------------------------------
# partition_state and finalize


@pytest.mark.parametrize("start", ["unfitted", "fitted"])
@pytest.mark.parametrize("example", examples())
def test_partition_state_never_mutates_the_model(example: Example, start: str) -> None:
    X, y, _, _ = data(example.data)
    model = start_model(example, start)
    family, classes = family_for(model), classes_of(model, y)
    before = snapshot(model)
    weights = np.random.default_rng(0).uniform(0.0, 2.0, BLOCK)
    for w in (None, weights) if example.takes_sample_weight else (None,):
        state = family.partition_state(
            model, X[:BLOCK], y[:BLOCK], classes=classes, seed=7, sample_weight=w
        )
        assert_unchanged(model, before, "partition_state")
        family.finalize(state, model, classes=classes, epoch=1)
        assert_unchanged(model, before, "finalize")


@pytest.mark.parametrize("example", examples())
def test_finalize_gives_a_fitted_estimator_of_the_same_class(example: Example) -> None:
    X, y, _, _ = data(example.data)
    model = clone(example.make())
    family, classes = family_for(model), classes_of(model, y)
    Xb, yb = X[:BLOCK], y[:BLOCK]
    state = family.partition_state(model, Xb, yb, classes=classes, seed=7)
    est = family.finalize(state, model, classes=classes, epoch=0)
    assert type(est) is type(model)
    assert est is not model
    pred = est.predict(Xb)
    assert pred.shape == (BLOCK,)
    if classes is None:
        assert est.score(Xb, yb) > 0.5  # R²: it learned from the block
    else:
        np.testing.assert_array_equal(est.classes_, classes)
        majority = np.max(np.unique(yb, return_counts=True)[1]) / BLOCK
        assert est.score(Xb, yb) > majority + 0.1  # better than always the majority class


# --------------------------------------------------------------------------------------------
# Exact families: one in-memory fit, whatever the partitioning


@pytest.mark.parametrize("split_every", [2, 3, 8])
@pytest.mark.parametrize("chunks", [N_TRAIN, 1000, 777, (0, 1200, 0, 1, 1799)], ids=str)
@pytest.mark.parametrize("example", examples(exact=True))
def test_exact_family_equals_one_in_memory_fit(
    example: Example, chunks: int | tuple[int, ...], split_every: int
) -> None:
    X, y, X_test, _ = data(example.data)
    ours = fit(example, X, y, chunks=chunks, split_every=split_every)
    ref = example.make().fit(X, y)
    expected = fitted_attributes(ref, public=True)
    assert expected, "scikit-learn's fit set no attributes to compare"
    got = fitted_attributes(ours, public=True)
    for name, value in expected.items():
        assert name in got, f"the fitted model lacks {name}"
        np.testing.assert_allclose(got[name], value, rtol=TOL, atol=TOL, err_msg=name)
    np.testing.assert_array_equal(ours.predict(X_test), ref.predict(X_test))


# --------------------------------------------------------------------------------------------
# Every family: deterministic, and weights as scikit-learn's


@pytest.mark.parametrize("example", examples())
def test_same_data_and_seed_give_the_same_bits(example: Example) -> None:
    """Twice, and on threads as in the test's thread: the tree's shape fixes the rounding."""
    X, y, _, _ = data(example.data)
    first = fit(example, X, y)
    assert_same_bits(fit(example, X, y), first)
    with dask.config.set(scheduler="threads", num_workers=2):
        assert_same_bits(fit(example, X, y), first)


def assert_weights_refused(example: Example, X: np.ndarray, y: np.ndarray) -> None:
    """An estimator that cannot weigh rows gets its weights refused before any task."""
    with pytest.raises(dp.InputError, match="sample_weight"):
        fit(example, X, y, sample_weight=np.ones(len(y)))


@pytest.mark.parametrize("example", examples(test="weights_of_one"))
def test_weights_of_one_are_no_weights(example: Example) -> None:
    X, y, _, _ = data(example.data)
    if not example.takes_sample_weight:
        assert_weights_refused(example, X, y)
        return
    assert_same_bits(fit(example, X, y, sample_weight=np.ones(len(y))), fit(example, X, y))


@pytest.mark.parametrize("example", examples(test="zero_weights"))
def test_a_block_of_zero_weights_contributes_nothing(example: Example) -> None:
    """Whatever the rows of a block whose weights are all zero hold, the model's bits stay."""
    X, y, _, _ = data(example.data)
    if not example.takes_sample_weight:
        assert_weights_refused(example, X, y)
        return
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, len(y))
    block = slice(2 * BLOCK, 3 * BLOCK)  # the third partition
    w[block] = 0.0
    garbage_X, garbage_y = X.copy(), y.copy()
    # GaussianNB's epsilon_ is var_smoothing times the largest variance of all of X, every
    # row counted whatever its weight, as in scikit-learn: its rows of X are not garbage.
    if not isinstance(example.make(), GaussianNB):
        garbage_X[block] = np.abs(rng.normal(0.0, 50.0, garbage_X[block].shape))
    if example.data == "regression":
        garbage_y[block] = -10.0 * y[block] + 5.0
    else:
        labels = np.unique(y)
        garbage_y[block] = labels[(np.searchsorted(labels, y[block]) + 1) % len(labels)]
    weighted = fit(example, X, y, sample_weight=w)
    assert_same_bits(fit(example, garbage_X, garbage_y, sample_weight=w), weighted)
    # The garbage is not harmless: with weight, it changes the model.
    counted = fit(example, garbage_X, garbage_y, sample_weight=np.where(w == 0, 1.0, w))
    with pytest.raises(AssertionError):
        assert_same_bits(counted, weighted)


@pytest.mark.parametrize(
    "chunks",
    [
        N_TRAIN,
        BLOCK,
    ],
    ids=["one-block", "a-zero-weight-block"],
)
def test_rows_of_weight_zero_count_as_steps(chunks: int) -> None:
    """``t_`` counts every row of every pass, as scikit-learn's ``fit`` with zero weights does."""
    X, y, _, _ = data("regression")
    w = np.ones(len(y))
    w[2 * BLOCK : 3 * BLOCK] = 0.0  # with BLOCK-row chunks, the whole third partition
    ours = fit(example_named("SGDRegressor"), X, y, chunks=chunks, sample_weight=w)
    ref = SGDRegressor(max_iter=EPOCHS, tol=None, random_state=0).fit(X, y, sample_weight=w)
    assert ours.t_ == ref.t_ == 1 + EPOCHS * N_TRAIN


# --------------------------------------------------------------------------------------------
# Inexact families: near scikit-learn's in-memory fit


@pytest.mark.parametrize("example", examples(exact=False))
def test_held_out_score_is_near_in_memory_scikit_learn(example: Example) -> None:
    X, y, X_test, y_test = data(example.data)
    ours = fit(example, X, y).score(X_test, y_test)
    ref = example.make().set_params(max_iter=EPOCHS, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = ref.fit(X, y).score(X_test, y_test)
    assert ours >= theirs - SCORE_GAP, f"held-out score {ours:.4f}; scikit-learn's {theirs:.4f}"
