"""Property tests against scikit-learn: generated inputs, not listed cases.

For every estimator, transformer and metric daskpar exports, on inputs drawn by
``tests/daskpar_strategies.py`` (shapes, chunkings with empty, 1-row and ragged blocks, numpy
or dask, every dtype users pass, NaN and infinity anywhere, labels of every type, odd
weights):

- **Agreement**: daskpar's result is scikit-learn's on the same rows (the exact families, the
  scalers and the metrics to a stated tolerance), or both refuse the input and daskpar's error
  is a :class:`daskpar.DaskparError` naming the argument (and, for values in the blocks, the
  partition and rows). A raw exception from a dependency fails the property. Where daskpar
  refuses what scikit-learn accepts, the refusal must be one docs/bad-input.md lists.
- **Invariance**: the same model under any chunking where the family is exact; the same bits
  on the synchronous and the threaded scheduler.
- **Round trips**: ``daskpar.save`` / ``daskpar.load`` give the same predictions.

The number of examples comes from the hypothesis profile (``tests/conftest.py``): "ci" by
default, "deep" under ``make test-slow``. Every failure found is pinned as an ``@example``.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import daskpar_strategies as s
import numpy as np
import pytest
import sklearn.metrics as skm
from daskpar_strategies import Data
from daskpar_testing import interrupted_then_resumed
from hypothesis import HealthCheck, Phase, assume, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import linear_model as sklm
from sklearn import preprocessing as skp
from sklearn.base import clone
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from sklearn.utils._param_validation import InvalidParameterError

import daskpar as dp
from daskpar import metrics as dpm

#: scikit-learn's naive Bayes takes the log of (or divides by) a zero prior or variance (a
#: class of zero weight, a constant feature) and warns; the model is its own, so the warning
#: is too.
#: Likewise its scalers' transform divides float16 X by a scale_ that float16 rounds to 0.
pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning:sklearn.naive_bayes"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning:sklearn.preprocessing._data"),
]

#: Health checks that flag slow data generation, not wrong tests: each example runs dask graphs.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Properties that fail for a known bug (strict xfails): stop at the first failure, unshrunk.
KNOWN_BUG = settings(PROPERTY, phases=[Phase.explicit, Phase.generate])

#: Tolerances of "equal to scikit-learn to float rounding", per kind of result.
EXACT_RTOL = 1e-9  # sums of sufficient statistics (naive Bayes, scalers)
METRIC_RTOL = 1e-10  # metrics: counts and sums
LSTSQ_RTOL = 1e-6  # least squares: QR of the merged factor against scikit-learn's lstsq

#: What daskpar refuses although scikit-learn accepts it: the documented refusals
#: (docs/bad-input.md and the metrics' module docstring), by a phrase of their message.
DOCUMENTED_REFUSALS = (
    "holds strings",  # B13: numeric strings are not converted
    "must have a numeric dtype",  # B12: dask arrays of object dtype
    "holds negative values",  # B22
    "sum to zero",  # B22
    "rank",  # LinearRegression: rank-deficient X is an error, not a minimum-norm answer
    "as many samples as unknowns",
    "absent from y_true",  # metrics: predicted labels missing from y_true
    "never occur in y_true",
    "row chunks do not match",  # B04: y chunked unlike X; the message gives the rechunk
    "one class",  # roc_auc_score with one class in y_true
    "every sample weight is zero",  # as scikit-learn's other metrics refuse it
    "Only one class",
)


# --------------------------------------------------------------------------------------------
# Helpers


def run(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``call()``'s result, or the exception it raised (warnings do not count)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call(), None
        except Exception as error:  # the property inspects every exception
            return None, error


def assert_clear_error(
    error: BaseException, names: tuple[str, ...], *, partition: bool = False
) -> None:
    """``error`` is daskpar's own (or scikit-learn's parameter error), names one of ``names``
    and, with ``partition``, the partition and rows of the bad value."""
    message = str(error)
    if isinstance(error, InvalidParameterError):
        return
    assert isinstance(error, dp.DaskparError), (
        f"raw {type(error).__module__}.{type(error).__name__} from a dependency: {message}"
    )
    # "sample weights" names sample_weight as well as "sample_weight" does.
    spelled = [re.escape(n).replace("_", "[_ ]") for n in names]
    assert any(re.search(rf"\b{n}s?\b", message, re.IGNORECASE) for n in spelled), (
        f"the message does not name {' or '.join(names)}: {message}"
    )
    if partition and isinstance(error, dp.PartitionError):
        assert re.search(r"partition \d+ \(rows \d+ to \d+\)", message), message


def agree_or_both_refuse(
    ours: Callable[[], Any],
    theirs: Callable[[], Any],
    compare: Callable[[Any, Any], None],
    names: tuple[str, ...],
) -> tuple[Any, Any]:
    """Run both; compare results, or check that daskpar's refusal is a clear, documented one."""
    ref, ref_error = run(theirs)
    got, error = run(ours)
    event(f"daskpar: {type(error).__name__ if error else 'result'}")
    if error is not None:
        assert_clear_error(error, names, partition=True)
        if ref_error is None:
            assert any(p in str(error) for p in DOCUMENTED_REFUSALS), (
                f"daskpar refuses what scikit-learn accepts, and no documented rule says so: "
                f"{type(error).__name__}: {error}"
            )
        return None, None
    assert ref_error is None, (
        f"scikit-learn refuses this input ({type(ref_error).__name__}: {ref_error}), "
        f"but daskpar returned a result: {got!r}"
    )
    with warnings.catch_warnings():
        # scikit-learn's own warnings (log of a zero prior, ...) come on both sides.
        warnings.simplefilter("ignore", RuntimeWarning)
        compare(got, ref)
    return got, ref


def per_row(weights: Any, n: int) -> np.ndarray | None:
    """Metric weights as one float per row: scikit-learn's metrics take no object array of
    numbers (their ``bincount`` refuses it) and no scalar."""
    if weights is None:
        return None
    return np.broadcast_to(np.asarray(weights, dtype=np.float64), (n,)).copy()


def computed(a: Any) -> Any:
    return a.compute() if isinstance(a, da.Array) else a


def assert_close(got: Any, ref: Any, rtol: float, atol: float = 0.0, what: str = "") -> None:
    got, ref = np.asarray(computed(got)), np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


@contextmanager
def scheduler(name: str) -> Iterator[None]:
    with dask.config.set(scheduler=name):
        yield


def same_bits(a: Any, b: Any, names: tuple[str, ...]) -> None:
    for name in names:
        x, y = getattr(a, name, None), getattr(b, name, None)
        x, y = np.asarray(x), np.asarray(y)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def reference_X(X: np.ndarray) -> np.ndarray:
    """What scikit-learn is given for comparison: daskpar trains on float64 (B16), except
    float32, which both keep."""
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def round_trip(model: Any) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.dp"
        dp.save(model, path)
        return dp.load(path, allow_unsigned=True)


@pytest.fixture(autouse=True)
def _no_model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # save / load round trips here are unsigned, whatever the environment holds.
    monkeypatch.delenv("DASKPAR_MODEL_KEY", raising=False)
    monkeypatch.delenv("DASKPAR_MODEL_KEY_FILE", raising=False)


# --------------------------------------------------------------------------------------------
# Exact families: naive Bayes through ParallelIncremental

NB_ATTRIBUTES = {
    GaussianNB: ("theta_", "var_", "class_count_", "class_prior_", "epsilon_"),
    MultinomialNB: ("feature_count_", "class_count_", "feature_log_prob_", "class_log_prior_"),
    BernoulliNB: ("feature_count_", "class_count_", "feature_log_prob_", "class_log_prior_"),
}


def _ill_conditioned(X: np.ndarray, theta: np.ndarray, var: np.ndarray) -> bool:
    """Whether one ulp of ``theta`` moves GaussianNB's joint log-likelihood of a row of ``X``
    by more than 1e-9: ``|x - theta| ulp(theta) / var``, large where ``var`` is only the
    smoothing epsilon and a row lies many of its deviations away."""
    ulp = np.spacing(np.abs(theta) + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.abs(X[:, None, :] - theta[None]) * ulp[None] / var[None]
    return bool(np.nanmax(moved, initial=0.0) > 1e-9)


@PROPERTY
@given(
    data=st.data(),
    kind=st.sampled_from(list(NB_ATTRIBUTES)),
    dtype=s.feature_dtypes(),
    split_every=s.split_every(),
)
def test_naive_bayes_agrees_with_scikit_learn(
    data: st.DataObject, kind: type, dtype: str, split_every: int | None
) -> None:
    d: Data = data.draw(s.datasets(non_negative=kind is MultinomialNB))
    X = s.cast_features(d.X, dtype)
    weights = data.draw(s.sample_weights(len(d.y)))
    if kind is GaussianNB and weights is not None:
        # scikit-learn's GaussianNB leaves a class's mean and variance unset (zero) when its
        # weights sum to np.isclose(0) but not 0 (_update_mean_variance); daskpar weighs them.
        sums = [np.sum(np.broadcast_to(weights, d.y.shape)[d.y == c]) for c in np.unique(d.y)]
        assume(not any(t > 0.0 and np.isclose(t, 0.0) for t in sums))
    est = kind()
    model = dp.ParallelIncremental(est, split_every=split_every)
    Xin = s.as_input(X, d.chunks)

    def compare(got: dp.ParallelIncremental, ref: Any) -> None:
        np.testing.assert_array_equal(got.classes_, ref.classes_)
        for name in NB_ATTRIBUTES[kind]:
            assert_close(getattr(got.estimator_, name), getattr(ref, name), EXACT_RTOL, 1e-12, name)
        Xf = X.astype(np.float64)
        if kind is GaussianNB and _ill_conditioned(Xf, ref.theta_, ref.var_):
            # A last-bit difference in theta_ (scikit-learn's running mean against daskpar's
            # exact merge) moves the class log-likelihoods by more than the tolerance below:
            # the attributes, compared above, are what can be compared.
            return
        assert_close(got.predict_proba(Xf), ref.predict_proba(Xf), 1e-7, 1e-9, "predict_proba")

    got, _ = agree_or_both_refuse(
        lambda: model.fit(Xin, d.dask_y, sample_weight=weights),
        # daskpar's exact merge is in float64 whatever X's dtype (B16).
        lambda: clone(est).fit(X.astype(np.float64), d.y, sample_weight=weights),
        compare,
        ("X", "y", "sample_weight"),
    )
    if got is None or d.chunks is None:
        return
    # Invariance: another chunking of the same rows, another tree, the threaded scheduler.
    other = data.draw(s.chunkings(len(d.y)))
    with scheduler("threads"):
        again = dp.ParallelIncremental(est, split_every=data.draw(s.split_every())).fit(
            s.as_input(X, other), s.as_input(d.y, other), sample_weight=weights
        )
    for name in NB_ATTRIBUTES[kind]:
        assert_close(getattr(again.estimator_, name), getattr(got.estimator_, name), 1e-12, 1e-14)
    # Round trip.
    loaded = round_trip(got)
    np.testing.assert_array_equal(loaded.predict(reference_X(X)), got.predict(reference_X(X)))


@pytest.mark.parametrize("chunks", [(1, 1), (0, 1, 1), (1, 1, 0)])
def test_gaussian_nb_with_a_block_of_zero_weights(chunks: tuple[int, ...]) -> None:
    X, y, w = np.array([[0.0], [1.0]]), np.array([0, 1]), np.array([0.0, 1.0])
    model = dp.ParallelIncremental(GaussianNB()).fit(
        s.as_input(X, chunks), s.as_input(y, chunks), sample_weight=w
    )
    ref = GaussianNB().fit(X, y, sample_weight=w)
    assert_close(model.estimator_.var_, ref.var_, EXACT_RTOL, 1e-15, "var_")
    assert_close(model.estimator_.epsilon_, ref.epsilon_, EXACT_RTOL, 1e-15, "epsilon_")


# --------------------------------------------------------------------------------------------
# Exact least squares


@PROPERTY
@given(
    data=st.data(),
    alpha=st.sampled_from([0.0, 0.1, 1.0, 10.0]),
    fit_intercept=st.booleans(),
    dtype=s.feature_dtypes(),
    split_every=s.split_every(),
)
def test_least_squares_agrees_with_scikit_learn(
    data: st.DataObject, alpha: float, fit_intercept: bool, dtype: str, split_every: int | None
) -> None:
    d: Data = data.draw(s.datasets(task="regression", min_rows=1, max_rows=25))
    X = s.cast_features(d.X, dtype)
    weights = data.draw(s.sample_weights(len(d.y)))
    if alpha == 0.0:
        ours: Any = dp.LinearRegression(fit_intercept=fit_intercept, split_every=split_every)
        theirs: Any = sklm.LinearRegression(fit_intercept=fit_intercept)
    else:
        ours = dp.Ridge(alpha, fit_intercept=fit_intercept, split_every=split_every)
        theirs = sklm.Ridge(alpha, fit_intercept=fit_intercept, solver="svd")

    def compare(got: Any, ref: Any) -> None:
        Xf = reference_X(X).astype(np.float64)
        scale = 1.0 + np.abs(d.y).max()
        assert_close(got.predict(Xf), ref.predict(Xf), LSTSQ_RTOL, LSTSQ_RTOL * scale, "predict")

    got, _ = agree_or_both_refuse(
        lambda: ours.fit(s.as_input(X, d.chunks), d.dask_y, sample_weight=weights),
        lambda: theirs.fit(reference_X(X), d.y, sample_weight=weights),
        compare,
        ("X", "y", "sample_weight"),
    )
    if got is None or d.chunks is None:
        return
    other = data.draw(s.chunkings(len(d.y)))
    with scheduler("threads"):
        again = clone(got).fit(s.as_input(X, other), s.as_input(d.y, other), sample_weight=weights)
    assert_close(again.coef_, got.coef_, 1e-8, 1e-8 * (1 + np.abs(got.coef_).max()), "coef_")
    loaded = round_trip(got)
    np.testing.assert_array_equal(loaded.predict(d.X), got.predict(d.X))


# --------------------------------------------------------------------------------------------
# Scalers

SCALERS: dict[type, tuple[type, tuple[str, ...]]] = {
    dp.StandardScaler: (skp.StandardScaler, ("mean_", "var_", "scale_", "n_samples_seen_")),
    dp.MinMaxScaler: (skp.MinMaxScaler, ("data_min_", "data_max_", "scale_", "min_")),
    dp.MaxAbsScaler: (skp.MaxAbsScaler, ("max_abs_", "scale_", "n_samples_seen_")),
}


@PROPERTY
@given(
    data=st.data(),
    kind=st.sampled_from(list(SCALERS)),
    dtype=s.feature_dtypes(),
    n_bad=st.integers(0, 3),
    split_every=s.split_every(),
)
def test_scalers_agree_with_scikit_learn(
    data: st.DataObject, kind: type, dtype: str, n_bad: int, split_every: int | None
) -> None:
    d: Data = data.draw(s.datasets(task="regression"))
    X = s.cast_features(d.X, dtype)
    for _ in range(n_bad):  # NaN (ignored, as scikit-learn does) or infinity (refused)
        if X.dtype.kind == "f":
            X, _row = data.draw(s.with_non_finite(X))
            X = X.astype(np.float64)
    sk_kind, names = SCALERS[kind]
    weights = data.draw(s.sample_weights(len(d.y))) if kind is dp.StandardScaler else None
    kw = {} if weights is None else {"sample_weight": weights}
    ours = kind().set_params(split_every=split_every)
    Xin = s.as_input(X, d.chunks)

    def compare(got: Any, ref: Any) -> None:
        for name in names:
            if hasattr(ref, name):
                assert_close(getattr(got, name), getattr(ref, name), EXACT_RTOL, 1e-12, name)
        Xf = X.astype(np.float64) if X.dtype.kind not in "f" else X
        assert_close(got.transform(s.as_input(Xf, d.chunks)), ref.transform(Xf), 1e-7, 1e-9)

    # The scalers keep X's float dtype, as scikit-learn's do: the reference sees X as given.
    got, _ = agree_or_both_refuse(
        lambda: ours.fit(Xin, **kw),
        lambda: sk_kind().fit(X, **kw),
        compare,
        ("X", "sample_weight"),
    )
    if got is not None and d.chunks is not None:
        other = data.draw(s.chunkings(len(d.y)))
        with scheduler("threads"):
            again = kind().fit(s.as_input(X, other), **kw)
        for name in names:
            assert_close(getattr(again, name), getattr(got, name), 1e-12, 1e-14, name)
        Xf = X.astype(np.float64) if X.dtype.kind != "f" else X
        loaded = round_trip(got)
        np.testing.assert_array_equal(loaded.transform(Xf), got.transform(Xf))


@PROPERTY
@given(
    X=hnp.arrays(np.float64, (3, 2), elements=s.finite_floats()),
    kind=st.sampled_from(list(SCALERS)),
    case=st.sampled_from(["infinity", "zero weights"]),
)
@example(X=np.zeros((1, 1)), kind=dp.MinMaxScaler, case="infinity")
@example(X=np.zeros((1, 1)), kind=dp.StandardScaler, case="zero weights")
def test_scalers_refuse_in_memory_input(X: np.ndarray, kind: type, case: str) -> None:
    kw = {}
    if case == "infinity":
        X[-1, 0] = np.inf
    elif kind is dp.StandardScaler:
        kw["sample_weight"] = np.zeros(len(X))
    else:
        return
    _, error = run(lambda: kind().fit(X, **kw))
    assert error is not None
    assert_clear_error(error, ("X", "sample_weight"))


# --------------------------------------------------------------------------------------------
# Metrics

LABEL_METRICS: list[tuple[str, dict[str, Any]]] = [
    ("accuracy_score", {}),
    ("balanced_accuracy_score", {}),
    ("confusion_matrix", {}),
    ("precision_score", {"average": "macro", "zero_division": 0}),
    ("recall_score", {"average": "weighted", "zero_division": 0}),
    ("f1_score", {"average": "micro"}),
    ("f1_score", {"average": "binary", "zero_division": 0}),
]
REGRESSION_METRICS = ["r2_score", "mean_squared_error", "mean_absolute_error"]


@PROPERTY
@given(
    data=st.data(),
    metric=st.sampled_from(LABEL_METRICS),
    kind=st.sampled_from(s.LABEL_KINDS),
    split_every=s.split_every(),
)
def test_label_metrics_agree_with_scikit_learn(
    data: st.DataObject, metric: tuple[str, dict[str, Any]], kind: str, split_every: int | None
) -> None:
    name, kw = metric
    n = data.draw(st.integers(1, 30))
    k = data.draw(st.integers(2, 4))
    y_true = data.draw(s.label_arrays(n, kind, k))
    y_pred = data.draw(s.label_arrays(n, kind, k))
    weights = data.draw(s.sample_weights(n))
    weights = per_row(weights, n)
    chunks = data.draw(st.one_of(st.none(), s.chunkings(n)))
    fn = getattr(dpm, name)
    agree_or_both_refuse(
        lambda: fn(
            s.as_input(y_true, chunks),
            s.as_input(y_pred, chunks),
            sample_weight=weights,
            split_every=split_every,
            **kw,
        ),
        lambda: getattr(skm, name)(y_true, y_pred, sample_weight=weights, **kw),
        lambda got, ref: assert_close(got, ref, METRIC_RTOL, 1e-12, name),
        ("y_true", "y_pred", "sample_weight", "labels", "pos_label", "average"),
    )


@PROPERTY
@given(
    data=st.data(),
    name=st.sampled_from(REGRESSION_METRICS),
    n_bad=st.integers(0, 1),
    split_every=s.split_every(),
)
def test_regression_metrics_agree_with_scikit_learn(
    data: st.DataObject, name: str, n_bad: int, split_every: int | None
) -> None:
    n = data.draw(st.integers(1, 30))
    y_true = data.draw(hnp.arrays(np.float64, n, elements=s.finite_floats(100.0)))
    y_pred = data.draw(hnp.arrays(np.float64, n, elements=s.finite_floats(100.0)))
    if n_bad:
        which = data.draw(st.sampled_from(["y_true", "y_pred"]))
        bad, _ = data.draw(s.with_non_finite(y_true if which == "y_true" else y_pred))
        y_true, y_pred = (bad, y_pred) if which == "y_true" else (y_true, bad)
    weights = data.draw(s.sample_weights(n))
    weights = per_row(weights, n)
    chunks = data.draw(st.one_of(st.none(), s.chunkings(n)))
    agree_or_both_refuse(
        lambda: getattr(dpm, name)(
            s.as_input(y_true, chunks),
            s.as_input(y_pred, chunks),
            sample_weight=weights,
            split_every=split_every,
        ),
        lambda: getattr(skm, name)(y_true, y_pred, sample_weight=weights),
        lambda got, ref: assert_close(got, ref, 1e-9, 1e-9, name),
        ("y_true", "y_pred", "sample_weight"),
    )


@PROPERTY
@given(data=st.data(), n_classes=st.integers(2, 3), split_every=s.split_every())
def test_probability_metrics_agree_with_scikit_learn(
    data: st.DataObject, n_classes: int, split_every: int | None
) -> None:
    n = data.draw(st.integers(1, 30))
    y_true = data.draw(s.label_arrays(n, "int", n_classes))
    raw = data.draw(hnp.arrays(np.float64, (n, n_classes), elements=st.floats(0.01, 1.0)))
    proba = raw / raw.sum(axis=1, keepdims=True)
    weights = data.draw(s.sample_weights(n))
    weights = per_row(weights, n)
    chunks = data.draw(st.one_of(st.none(), s.chunkings(n)))
    labels = list(range(n_classes))
    score = proba[:, 1] if n_classes == 2 else proba
    cases: list[tuple[str, Any, dict[str, Any]]] = [
        ("log_loss", proba, {"labels": labels}),
        ("roc_auc_score", score, {"multi_class": "ovr"} if n_classes > 2 else {}),
    ]
    for name, pred, kw in cases:
        if name == "roc_auc_score" and n_classes > 2:
            continue  # binary only here
        agree_or_both_refuse(
            lambda name=name, pred=pred, kw=kw: getattr(dpm, name)(
                s.as_input(y_true, chunks),
                s.as_input(pred, chunks),
                sample_weight=weights,
                split_every=split_every,
                **kw,
            ),
            lambda name=name, pred=pred, kw=kw: getattr(skm, name)(
                y_true, pred, sample_weight=weights, **kw
            ),
            lambda got, ref, name=name: assert_close(got, ref, 1e-9, 1e-12, name),
            ("y_true", "y_pred", "y_score", "y_prob", "sample_weight", "labels"),
        )


# --------------------------------------------------------------------------------------------
# Non-finite values anywhere, for every estimator


def _classifiers() -> list[Any]:
    return [
        sklm.SGDClassifier(random_state=0),
        sklm.Perceptron(random_state=0),
        sklm.SGDClassifier(
            loss="hinge", penalty=None, learning_rate="pa1", eta0=1.0, random_state=0
        ),
        GaussianNB(),
        BernoulliNB(),
        dp.AdaptiveSGDClassifier(random_state=0),
    ]


def _regressors() -> list[Any]:
    return [
        sklm.SGDRegressor(random_state=0),
        sklm.SGDRegressor(loss="epsilon_insensitive", learning_rate="pa1", eta0=1.0),
        dp.AdaptiveSGDRegressor(random_state=0),
    ]


INCREMENTAL = _classifiers() + _regressors()


def fit_with_a_non_finite_value(
    data: st.DataObject, estimator: Any, where: str, split_every: int | None, aligned: bool
) -> tuple[BaseException | None, int]:
    """Fit ``estimator`` with NaN or infinity at a drawn place of ``where`` (X, y,
    sample_weight, or the X_val / y_val of validation_data, chunked as X with ``aligned``);
    the error raised, and the row of the bad value."""
    regression = estimator in _regressors()
    d: Data = data.draw(
        s.datasets(
            task="regression" if regression else "classification",
            min_rows=2,
            label_kinds=("int", "float"),
            numpy_input=False,
        )
    )
    X, y = d.X, d.y.astype(np.float64)
    arrays = {"X": X, "y": y, "sample_weight": np.ones(len(y)), "X_val": X, "y_val": y}
    arrays[where], row = data.draw(s.with_non_finite(arrays[where]))
    chunks = d.chunks
    assert chunks is not None
    val_chunks = chunks if aligned else data.draw(s.chunkings(len(y)))
    model = dp.ParallelIncremental(clone(estimator), split_every=split_every, random_state=0)
    kw: dict[str, Any] = {}
    if where in ("X_val", "y_val"):
        kw["validation_data"] = (
            s.as_input(arrays["X_val"], val_chunks),
            s.as_input(arrays["y_val"], val_chunks),
        )
    if "sample_weight" in _partial_fit_parameters(estimator):
        kw["sample_weight"] = s.as_input(arrays["sample_weight"], chunks)
    _, error = run(
        lambda: model.fit(s.as_input(arrays["X"], chunks), s.as_input(arrays["y"], chunks), **kw)
    )
    return error, row


@PROPERTY
@given(
    data=st.data(),
    estimator=st.sampled_from(INCREMENTAL),
    where=st.sampled_from(["X", "y", "sample_weight"]),
    split_every=s.split_every(),
)
def test_non_finite_values_are_named_for_every_incremental_model(
    data: st.DataObject, estimator: Any, where: str, split_every: int | None
) -> None:
    if where == "sample_weight" and "sample_weight" not in _partial_fit_parameters(estimator):
        return
    error, row = fit_with_a_non_finite_value(data, estimator, where, split_every, aligned=True)
    assert error is not None, f"{where} holds a non-finite value, yet the fit went through"
    assert_clear_error(error, (where,), partition=True)
    assert f"first at row {row}" in str(error), str(error)


@PROPERTY
@given(
    data=st.data(),
    estimator=st.sampled_from(INCREMENTAL),
    where=st.sampled_from(["X_val", "y_val"]),
    aligned=st.booleans(),
)
def test_non_finite_validation_data_is_named(
    data: st.DataObject, estimator: Any, where: str, aligned: bool
) -> None:
    error, _ = fit_with_a_non_finite_value(data, estimator, where, None, aligned)
    assert error is not None, f"{where} holds a non-finite value, yet the fit went through"
    assert_clear_error(error, ("validation_data",), partition=True)


@pytest.mark.parametrize("where", ["X_val", "y_val"])
def test_non_finite_validation_data_in_other_blocks_is_named(where: str) -> None:
    """Found: validation_data in other row blocks than X is scored by a pass of its own,
    whose checks called y_val "y_true" and left NaN in X_val to scikit-learn's predict."""
    X, y = np.arange(12.0).reshape(6, 2), np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    val = {"X_val": X.copy(), "y_val": y.copy()}
    val[where][4] = np.nan
    model = dp.ParallelIncremental(sklm.SGDClassifier(random_state=0))
    with pytest.raises(dp.PartitionError) as raised:
        model.fit(
            da.from_array(X, chunks=(2, 2)),
            da.from_array(y, chunks=2),
            validation_data=(
                da.from_array(val["X_val"], chunks=(3, 2)),
                da.from_array(val["y_val"], chunks=3),
            ),
        )
    name = "X" if where == "X_val" else "y"
    assert (
        f"validation_data's {name} holds NaN in partition 1 (rows 3 to 5), first at row 4"
        in str(raised.value)
    )
    assert_clear_error(raised.value, ("validation_data",), partition=True)


def _partial_fit_parameters(estimator: Any) -> set[str]:
    import inspect

    return set(inspect.signature(estimator.partial_fit).parameters)


# --------------------------------------------------------------------------------------------
# Labels and weights for the incremental models


@PROPERTY
@given(
    data=st.data(),
    estimator=st.sampled_from(_classifiers()),
    epochs=s.epochs(),
    split_every=s.split_every(),
)
def test_classes_and_predictions_follow_scikit_learn(
    data: st.DataObject, estimator: Any, epochs: int, split_every: int | None
) -> None:
    d: Data = data.draw(s.datasets(min_rows=2, n_classes=(2, 4)))
    weights = data.draw(s.sample_weights(len(d.y), bad=True))
    model = dp.ParallelIncremental(
        clone(estimator), epochs=epochs, split_every=split_every, random_state=0
    )

    def compare(got: dp.ParallelIncremental, ref: Any) -> None:
        np.testing.assert_array_equal(got.classes_, ref.classes_)
        assert got.classes_.dtype.kind == ref.classes_.dtype.kind or (
            got.classes_.dtype == object and ref.classes_.dtype.kind == "U"  # B23
        )
        predicted = computed(got.predict(s.as_input(d.X, d.chunks)))
        assert set(predicted.tolist()) <= set(ref.classes_.tolist())

    got, _ = agree_or_both_refuse(
        lambda: model.fit(d.dask_X, d.dask_y, sample_weight=weights),
        lambda: clone(estimator).fit(d.X, d.y, sample_weight=weights),
        compare,
        ("X", "y", "sample_weight"),
    )
    if got is None or d.chunks is None:
        return
    # The same bits on the threaded scheduler.
    with scheduler("threads"):
        again = clone(model).fit(d.dask_X, d.dask_y, sample_weight=weights)
    same_bits(got.estimator_, again.estimator_, ("coef_", "intercept_", "theta_", "var_"))
    loaded = round_trip(got)
    np.testing.assert_array_equal(loaded.predict(d.X), got.predict(d.X))


@PROPERTY
@given(
    data=st.data(),
    estimator=st.sampled_from(_regressors()),
    epochs=s.epochs(),
    split_every=s.split_every(),
)
def test_regressors_train_and_round_trip(
    data: st.DataObject, estimator: Any, epochs: int, split_every: int | None
) -> None:
    d: Data = data.draw(s.datasets(task="regression", min_rows=2, other_y_chunks=True))
    dtype = data.draw(s.feature_dtypes())
    X = s.cast_features(d.X, dtype)
    model = dp.ParallelIncremental(
        clone(estimator), epochs=epochs, split_every=split_every, random_state=0
    )
    got, _ = agree_or_both_refuse(
        lambda: model.fit(s.as_input(X, d.chunks), d.dask_y),
        lambda: clone(estimator).fit(reference_X(X), d.y),
        lambda got, ref: None,
        ("X", "y"),
    )
    if got is None or d.chunks is None:
        return
    with scheduler("threads"):
        again = clone(model).fit(s.as_input(X, d.chunks), d.dask_y)
    same_bits(got.estimator_, again.estimator_, ("coef_", "intercept_"))
    # Another tree over the same blocks: the same model to float rounding (B10).
    wide = clone(model).set_params(split_every=2).fit(s.as_input(X, d.chunks), d.dask_y)
    for name in ("coef_", "intercept_"):
        ref = getattr(got.estimator_, name)
        assert_close(getattr(wide.estimator_, name), ref, 1e-9, 1e-9 * (1 + np.abs(ref).max()))
    Xf = reference_X(X)
    loaded = round_trip(got)
    np.testing.assert_array_equal(loaded.predict(Xf), got.predict(Xf))


@PROPERTY
@given(data=st.data(), estimator=st.sampled_from(_classifiers()), aligned=st.booleans())
def test_validation_score_is_the_models_score(
    data: st.DataObject, estimator: Any, aligned: bool
) -> None:
    """The last ``validation_score`` is scikit-learn's accuracy of ``estimator_`` on the
    validation rows, whether they are read beside X's blocks or in a pass of their own."""
    d: Data = data.draw(s.datasets(min_rows=2, numpy_input=False))
    assert d.chunks is not None
    X_val = data.draw(hnp.arrays(np.float64, (len(d.y), d.X.shape[1]), elements=s.finite_floats()))
    y_val = np.array(data.draw(st.permutations(d.y.tolist())), dtype=d.y.dtype)
    val_chunks = d.chunks if aligned else data.draw(s.chunkings(len(y_val)))
    model = dp.ParallelIncremental(clone(estimator), epochs=2, random_state=0)
    got, error = run(
        lambda: model.fit(
            d.dask_X,
            d.dask_y,
            validation_data=(s.as_input(X_val, val_chunks), s.as_input(y_val, val_chunks)),
        )
    )
    if error is not None:
        assert_clear_error(error, ("X", "y", "validation_data", "y_val", "X_val"))
        return
    expected = skm.accuracy_score(y_val, got.estimator_.predict(X_val))
    assert got.history_[-1]["validation_score"] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Agreement of the SGD family with one in-memory partial_fit


@PROPERTY
@given(
    data=st.data(),
    estimator=st.sampled_from([sklm.SGDClassifier(shuffle=False), sklm.Perceptron(shuffle=False)]),
)
def test_one_partition_is_one_partial_fit(data: st.DataObject, estimator: Any) -> None:
    """With one non-empty block and no shuffling, the model is scikit-learn's ``partial_fit``
    on those rows, to float rounding."""
    d: Data = data.draw(s.datasets(min_rows=2, label_kinds=("int", "str")))
    n = len(d.y)
    zeros = data.draw(st.integers(0, 2))
    chunks = (0,) * zeros + (n,)
    model = dp.ParallelIncremental(clone(estimator), shuffle=False, random_state=0).fit(
        s.as_input(d.X, chunks), s.as_input(d.y, chunks)
    )
    ref = clone(estimator).partial_fit(d.X, d.y, classes=np.unique(d.y))
    assert_close(model.estimator_.coef_, ref.coef_, 1e-9, 1e-12, "coef_")
    assert_close(model.estimator_.intercept_, ref.intercept_, 1e-9, 1e-12, "intercept_")


# --------------------------------------------------------------------------------------------
# Search


@settings(PROPERTY, max_examples=min(10, settings().max_examples))
@given(data=st.data(), split_every=s.split_every())
def test_search_is_scikit_learns_on_the_same_folds(
    data: st.DataObject, split_every: int | None
) -> None:
    """GaussianNB is exact, so a grid search over whole-block folds scores what scikit-learn's
    GridSearchCV scores on the same folds; and the threaded scheduler gives the same bits."""
    from sklearn.model_selection import GridSearchCV

    d: Data = data.draw(s.datasets(min_rows=12, max_rows=30, numpy_input=False, n_classes=(2, 2)))
    blocks = data.draw(s.chunkings(len(d.y), allow_empty=False).filter(lambda c: len(c) >= 4))
    grid = {"estimator__var_smoothing": [1e-9, 1e-2]}
    model = dp.ParallelIncremental(GaussianNB(), split_every=split_every)
    X, y = s.as_input(d.X, blocks), s.as_input(d.y, blocks)
    ours, error = run(lambda: dp.GridSearchCV(model, grid, cv=2, split_every=split_every).fit(X, y))
    if error is not None:
        assert_clear_error(error, ("X", "y", "cv"))
        return
    starts = np.cumsum((0, *blocks))
    folds = []
    for train_blocks, test_blocks in ours.folds_ if hasattr(ours, "folds_") else []:
        train = np.concatenate([np.arange(starts[b], starts[b + 1]) for b in train_blocks])
        test = np.concatenate([np.arange(starts[b], starts[b + 1]) for b in test_blocks])
        folds.append((train, test))
    # A fold that lacks a class trains a model that knows it, with no samples (classes are
    # found on all of y, as partial_fit(classes=...) does); scikit-learn's fit on the fold
    # knows only the fold's classes. Compare where the two coincide.
    n_classes = len(np.unique(d.y))
    # A feature whose variance in a fold is tiny but not zero (values near 1e-8) is decided by
    # float rounding: the merged and the one-pass variances differ in their last bits there,
    # and so may the predictions. Compare scores where the variances are well above rounding.
    tiny = [
        v
        for train, _ in folds
        for v in np.var(np.asarray(d.X[train], dtype=np.float64), axis=0)
        if 0.0 < v < 1e-12
    ]
    if folds and not tiny and all(len(np.unique(d.y[train])) == n_classes for train, _ in folds):
        ref = GridSearchCV(
            GaussianNB(), {"var_smoothing": grid["estimator__var_smoothing"]}, cv=folds
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a fold with a constant feature: NaN, as ours
            ref.fit(d.X, d.y)
        assert_close(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], 1e-12)
    with scheduler("threads"):
        again = dp.GridSearchCV(model, grid, cv=2, split_every=split_every).fit(X, y)
    np.testing.assert_array_equal(
        ours.cv_results_["mean_test_score"], again.cv_results_["mean_test_score"]
    )


# --------------------------------------------------------------------------------------------
# train_test_split


@PROPERTY
@given(
    data=st.data(),
    size=st.one_of(st.floats(0.05, 0.95), st.integers(1, 29)),
    shuffle=st.booleans(),
)
def test_train_test_split_partitions_the_rows(
    data: st.DataObject, size: float | int, shuffle: bool
) -> None:
    """Every row lands in exactly one part, with its label; the test part has scikit-learn's
    number of rows; X's and y's parts keep aligned blocks; or a clear refusal, when
    scikit-learn refuses too."""
    from sklearn.model_selection import train_test_split as sk_split

    d: Data = data.draw(s.datasets(min_rows=1, numpy_input=False, label_kinds=("int",)))
    X = np.column_stack([np.arange(len(d.y)), d.X])  # column 0: the row's identity
    ref, ref_error = run(lambda: sk_split(X, d.y, test_size=size, random_state=0))
    got, error = run(
        lambda: dp.train_test_split(
            s.as_input(X, d.chunks),
            s.as_input(d.y, d.chunks),
            test_size=size,
            random_state=0,
            shuffle=shuffle,
        )
    )
    if error is not None:
        assert ref_error is not None, f"scikit-learn splits these rows; daskpar: {error}"
        assert_clear_error(error, ("test_size", "train_size", "X"))
        return
    assert ref_error is None, f"scikit-learn refuses ({ref_error}); daskpar split the rows"
    X_train, X_test, y_train, y_test = got
    assert X_train.chunks[0] == y_train.chunks[0]
    assert X_test.chunks[0] == y_test.chunks[0]
    assert len(X_test) == len(ref[1])
    rows = np.concatenate([X_train[:, 0].compute(), X_test[:, 0].compute()]).astype(int)
    assert sorted(rows.tolist()) == list(range(len(d.y)))
    labels = np.concatenate([y_train.compute(), y_test.compute()])
    np.testing.assert_array_equal(labels, d.y[rows])


# --------------------------------------------------------------------------------------------
# Failures the properties found, pinned (the properties draw through st.data(), which
# @example cannot replay, so each is a test of its own)


def test_found_linear_regression_on_too_few_rows_names_X() -> None:
    # test_least_squares_agrees_with_scikit_learn: X=[[0.]], y=[0.], chunks (1,). The message
    # said "n_samples = 1" without naming X.
    with pytest.raises(dp.InputError, match=r"X has n_samples = 1, but LinearRegression needs"):
        dp.LinearRegression().fit(da.zeros((1, 1), chunks=1), da.zeros(1, chunks=1))


@pytest.mark.parametrize(
    "estimator", [GaussianNB(), sklm.SGDClassifier(random_state=0)], ids=lambda e: str(e)
)
def test_found_object_sample_weight_is_numbers(estimator: Any) -> None:
    # test_naive_bayes_agrees_with_scikit_learn with weights as a pandas object column gives
    # them: refused as "must have a numeric dtype ... Encode categorical or text columns",
    # where scikit-learn (and daskpar, for X) reads numbers in an object array as numbers.
    X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 1])
    w = np.array([1.0, 2, 3], dtype=object)
    model = dp.ParallelIncremental(clone(estimator), random_state=0).fit(
        s.as_input(X, (2, 1)), s.as_input(y, (2, 1)), sample_weight=w
    )
    same = dp.ParallelIncremental(clone(estimator), random_state=0).fit(
        s.as_input(X, (2, 1)), s.as_input(y, (2, 1)), sample_weight=w.astype(np.float64)
    )
    same_bits(model.estimator_, same.estimator_, ("coef_", "theta_", "var_", "class_count_"))
    with pytest.raises(dp.InputError, match="sample_weight holds strings"):
        dp.ParallelIncremental(clone(estimator)).fit(X, y, sample_weight=w.astype(str))


# --------------------------------------------------------------------------------------------
# The deep run: every property again, with the "deep" profile's examples (`make test-slow`
# sets HYPOTHESIS_PROFILE=deep, which conftest.py loads before this module builds its tests).

PROPERTIES = [
    test_naive_bayes_agrees_with_scikit_learn,
    test_least_squares_agrees_with_scikit_learn,
    test_scalers_agree_with_scikit_learn,
    test_label_metrics_agree_with_scikit_learn,
    test_regression_metrics_agree_with_scikit_learn,
    test_probability_metrics_agree_with_scikit_learn,
    test_non_finite_values_are_named_for_every_incremental_model,
    test_classes_and_predictions_follow_scikit_learn,
    test_regressors_train_and_round_trip,
    test_one_partition_is_one_partial_fit,
    test_validation_score_is_the_models_score,
    test_train_test_split_partitions_the_rows,
    test_search_is_scikit_learns_on_the_same_folds,
]


@pytest.mark.slow
@pytest.mark.parametrize("prop", PROPERTIES, ids=lambda f: f.__name__.removeprefix("test_"))
def test_deep(prop: Callable[[], None]) -> None:
    prop()


SEARCHES = {
    "grid": lambda model, grid, **kw: dp.GridSearchCV(model, grid, cv=2, **kw),
    "randomized": lambda model, grid, **kw: dp.RandomizedSearchCV(
        model, grid, n_iter=2, cv=2, random_state=0, **kw
    ),
    "halving": lambda model, grid, **kw: dp.HalvingSearchCV(model, grid, cv=2, **kw),
}


@settings(PROPERTY, max_examples=min(6, settings().max_examples))
@given(data=st.data(), kind=st.sampled_from(list(SEARCHES)))
def test_searches_round_trip_through_files_and_checkpoints(data: st.DataObject, kind: str) -> None:
    """Every search, saved and loaded, predicts what it predicted; interrupted in its second
    pass (the first checkpoint is written after the first) and resumed from its checkpoint,
    it finds the same candidates' scores and the same model."""
    d: Data = data.draw(s.datasets(min_rows=16, max_rows=40, numpy_input=False, n_classes=(2, 3)))
    blocks = data.draw(s.chunkings(len(d.y), allow_empty=False).filter(lambda c: len(c) >= 4))
    X, y = s.as_input(d.X, blocks), s.as_input(d.y, blocks)
    model = dp.ParallelIncremental(sklm.SGDClassifier(random_state=0), epochs=2, random_state=0)
    grid = {"estimator__alpha": [1e-4, 1e-2, 1.0]}
    make = SEARCHES[kind]
    ours, error = run(lambda: make(model, grid).fit(X, y))
    if error is not None:
        assert_clear_error(error, ("X", "y", "cv"))
        return
    expected = ours.predict(X).compute()
    np.testing.assert_array_equal(round_trip(ours).predict(X).compute(), expected)
    with tempfile.TemporaryDirectory() as folder:
        resumed, _ = interrupted_then_resumed(
            lambda f: make(model, grid, checkpoint=f), lambda m: m.fit(X, y), Path(folder), 2
        )
    np.testing.assert_array_equal(
        resumed.cv_results_["mean_test_score"], ours.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(resumed.predict(X).compute(), expected)
