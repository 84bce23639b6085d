"""Metrics through the tree equal scikit-learn's on the same data, for any partitioning."""

from __future__ import annotations

import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, overload

import dask
import dask.array as da
import numpy as np
import pytest
import sklearn.metrics as skm
from dask.base import tokenize
from dask.callbacks import Callback
from dask.utils import key_split
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.utils._param_validation import InvalidParameterError

import daskpar as dp
import daskpar.metrics as dm
from daskpar.metrics._ranking import RocAuc
from daskpar.metrics._states import ScoreHistogram

N = 3000
CHUNKINGS: list[Any] = [1000, 777, (0, 1200, 0, 1800), N]
PARTITIONINGS = [(chunks, split_every) for chunks in CHUNKINGS for split_every in (2, 8)]
RTOL = 1e-12
PRF = ("precision_score", "recall_score", "f1_score")

Rows = int | tuple[int, ...]


@overload
def split(a: np.ndarray, rows: Rows) -> da.Array: ...
@overload
def split(a: None, rows: Rows) -> None: ...
def split(a: np.ndarray | None, rows: Rows) -> da.Array | None:
    """``a`` in row blocks of ``rows``, all columns in one block."""
    if a is None:
        return None
    return da.from_array(a, chunks=(rows, *a.shape[1:]))


def run(
    name: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    w: np.ndarray | None,
    rows: Rows,
    split_every: int,
    **kwargs: Any,
) -> Any:
    function: Callable[..., Any] = getattr(dm, name)
    return function(
        split(y_true, rows),
        split(y_pred, rows),
        sample_weight=split(w, rows),
        split_every=split_every,
        **kwargs,
    )


def assert_matches_sklearn(
    name: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    w: np.ndarray | None,
    rtol: float = RTOL,
    **kwargs: Any,
) -> None:
    """Our ``name`` equals scikit-learn's on every partitioning and fan-in."""
    expected = getattr(skm, name)(y_true, y_pred, sample_weight=w, **kwargs)
    for rows, split_every in PARTITIONINGS:
        got = run(name, y_true, y_pred, w, rows, split_every, **kwargs)
        where = f"{rows}, {split_every}"
        assert type(got) is type(expected), where
        if np.asarray(expected).dtype.kind in "iu":
            # Counts are exact, whatever the partitioning.
            assert got.dtype == expected.dtype, where
            np.testing.assert_array_equal(got, expected, err_msg=where)
        else:
            np.testing.assert_allclose(got, expected, rtol=rtol, err_msg=where)


@contextmanager
def no_task_runs() -> Iterator[None]:
    """Fail if any dask task runs inside the block."""
    ran: list[object] = []

    def count(key: object, dsk: object, state: object) -> None:
        ran.append(key)

    with Callback(pretask=count):
        yield
    assert ran == [], f"{len(ran)} tasks ran before the error"


# --------------------------------------------------------------------------------------------
# Data

RNG = np.random.default_rng(0)
WEIGHTS = RNG.random(N) * 3
INT_WEIGHTS = RNG.integers(0, 4, N)


def _noisy(y: np.ndarray, labels: np.ndarray, p: float = 0.3) -> np.ndarray:
    """``y`` with a fraction ``p`` of entries replaced by random ``labels``."""
    return np.where(RNG.random(len(y)) < p, RNG.choice(labels, len(y)), y)


Y_MULTI = RNG.integers(0, 4, N)
DATA: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "multiclass": (Y_MULTI, _noisy(Y_MULTI, np.arange(4))),
    # Sorted: most partitions see one or two classes only.
    "sorted": (np.sort(Y_MULTI), _noisy(np.sort(Y_MULTI), np.arange(4))),
    "binary": (Y_MULTI % 2, _noisy(Y_MULTI % 2, np.arange(2))),
    "strings": (
        np.array(["ant", "bird", "cat"])[Y_MULTI % 3],
        np.array(["ant", "bird", "cat"])[_noisy(Y_MULTI % 3, np.arange(3))],
    ),
    "floats": ((Y_MULTI % 2) * 2.0 - 1, _noisy(Y_MULTI % 2, np.arange(2)) * 2.0 - 1),
}

CLASSIFICATION: list[tuple[str, dict[str, Any], str]] = [
    ("accuracy_score", {}, "multiclass"),
    ("accuracy_score", {"normalize": False}, "sorted"),
    ("accuracy_score", {}, "strings"),
    ("balanced_accuracy_score", {}, "multiclass"),
    ("balanced_accuracy_score", {"adjusted": True}, "sorted"),
    *[(f, {"average": a}, "multiclass") for f in PRF for a in ("micro", "macro", "weighted")],
    *[(f, {"average": "macro"}, "sorted") for f in PRF],
    *[(f, {}, "binary") for f in PRF],
    *[(f, {"pos_label": 0}, "binary") for f in PRF],
    ("f1_score", {"pos_label": -1.0}, "floats"),
    ("f1_score", {"average": "weighted"}, "strings"),
    ("precision_score", {"labels": [3, 1], "average": "macro"}, "multiclass"),
    ("recall_score", {"labels": [2, 0, 5], "average": "micro"}, "multiclass"),
    ("confusion_matrix", {}, "multiclass"),
    ("confusion_matrix", {}, "strings"),
    ("confusion_matrix", {"labels": [3, 1, 0, 1]}, "sorted"),
    ("confusion_matrix", {"normalize": "true"}, "multiclass"),
    ("confusion_matrix", {"normalize": "pred"}, "sorted"),
    ("confusion_matrix", {"normalize": "all"}, "binary"),
]


@pytest.mark.parametrize("weights", [None, "float", "int"])
@pytest.mark.parametrize(
    ("name", "kwargs", "data"),
    CLASSIFICATION,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CLASSIFICATION],
)
def test_classification_equals_sklearn(
    name: str, kwargs: dict[str, Any], data: str, weights: str | None
) -> None:
    y_true, y_pred = DATA[data]
    w = {None: None, "float": WEIGHTS, "int": INT_WEIGHTS}[weights]
    assert_matches_sklearn(name, y_true, y_pred, w, **kwargs)


def test_zero_division_warns_as_sklearn() -> None:
    # Class 2 is never predicted: its precision divides by zero.
    y_true, y_pred = DATA["multiclass"]
    y_pred = np.where(y_pred == 2, 3, y_pred)
    message = "Precision is ill-defined and being set to 0.0 in labels with no predicted samples"
    with pytest.warns(UndefinedMetricWarning, match=message):
        expected = skm.precision_score(y_true, y_pred, average="macro")
    with pytest.warns(UndefinedMetricWarning, match=message):
        got = dm.precision_score(split(y_true, 777), split(y_pred, 777), average="macro")
    assert got == pytest.approx(expected, rel=RTOL)
    for zero_division in (0.0, 1.0, np.nan):
        assert_matches_sklearn(
            "precision_score", y_true, y_pred, None, average="macro", zero_division=zero_division
        )


def test_pos_label_ignored_warns_as_sklearn() -> None:
    y_true, y_pred = DATA["binary"]
    with pytest.warns(UserWarning, match="pos_label .* is ignored"):
        expected = skm.recall_score(y_true, y_pred, average="macro", pos_label=0)
    with pytest.warns(UserWarning, match="pos_label .* is ignored"):
        got = dm.recall_score(y_true, y_pred, average="macro", pos_label=0)
    assert got == pytest.approx(expected, rel=RTOL)


# --------------------------------------------------------------------------------------------
# Log loss


def _probabilities(y: np.ndarray, n_classes: int) -> np.ndarray:
    logits = RNG.normal(size=(len(y), n_classes))
    logits[np.arange(len(y)), y] += 1.5
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_log_loss_multiclass(weighted: bool, normalize: bool) -> None:
    # Sorted labels: partitions miss classes, yet each column is matched to its label.
    y = np.sort(Y_MULTI)
    w = WEIGHTS if weighted else None
    assert_matches_sklearn("log_loss", y, _probabilities(y, 4), w, normalize=normalize)


def test_log_loss_binary_one_column_and_labels() -> None:
    y = Y_MULTI % 2
    p = _probabilities(y, 2)
    assert_matches_sklearn("log_loss", y, p[:, 1], None)
    assert_matches_sklearn("log_loss", y, p, WEIGHTS)
    # Strings, sorted: the columns follow the sorted labels.
    names = np.array(["spam", "ham"])[y]
    assert_matches_sklearn("log_loss", names, p[:, ::-1], None)


def test_log_loss_with_labels_beyond_y_true() -> None:
    y = np.where(Y_MULTI == 2, 3, Y_MULTI)  # class 2 never occurs
    p = _probabilities(Y_MULTI, 4)
    assert_matches_sklearn("log_loss", y, p, None, labels=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="different number of classes: 3 vs 4"):
        skm.log_loss(y, p)
    with pytest.raises(dp.InputError, match="different number of classes: 3 vs 4"):
        dm.log_loss(y, p)


def test_log_loss_clips_and_keeps_float32() -> None:
    y = Y_MULTI % 2
    p = np.where(RNG.random(N) < 0.1, 1.0, _probabilities(y, 2)[:, 1]).astype(np.float32)
    # Probabilities of exactly 0 and 1 are clipped to float32's eps; sums are float64 here.
    assert_matches_sklearn("log_loss", y, p, None, rtol=1e-6)
    assert_matches_sklearn("log_loss", y, p, WEIGHTS, rtol=1e-6)


def test_log_loss_bad_probabilities_as_sklearn() -> None:
    y = Y_MULTI % 2
    p = _probabilities(y, 2)
    with pytest.warns(UserWarning, match="do not sum to one"):
        expected = skm.log_loss(y, p * 0.9)
    with pytest.warns(UserWarning, match="do not sum to one"):
        got = dm.log_loss(split(y, 777), split(p * 0.9, 777))
    assert got == pytest.approx(expected, rel=RTOL)
    with pytest.raises(dp.InputError, match=r"y_prob contains values greater than 1: 1\.5"):
        dm.log_loss(y, np.where(np.arange(N) == 2000, 1.5, p[:, 1]))
    with pytest.raises(dp.InputError, match="only one label"):
        dm.log_loss(np.zeros(N, int), p)
    with pytest.raises(dp.InputError, match="not belonging to the passed labels"):
        dm.log_loss(Y_MULTI, _probabilities(Y_MULTI, 4), labels=[0, 1, 2])


# --------------------------------------------------------------------------------------------
# ROC AUC


SCORES = Y_MULTI % 2 + RNG.normal(size=N)
AUC_CASES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "continuous": (Y_MULTI % 2, SCORES),
    "ties": (Y_MULTI % 2, np.round(SCORES, 1)),
    "labels-1-2": (Y_MULTI % 2 + 1, SCORES),
    "strings": (np.array(["pos", "neg"])[Y_MULTI % 2], -SCORES),
    "int-scores": (Y_MULTI % 2, np.round(SCORES * 2).astype(np.int64)),
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("case", list(AUC_CASES))
def test_roc_auc_equals_sklearn(case: str, weighted: bool) -> None:
    y, s = AUC_CASES[case]
    assert_matches_sklearn("roc_auc_score", y, s, WEIGHTS if weighted else None)


def test_roc_auc_signed_zeros_are_ties() -> None:
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([-0.0, 0.0, 0.0, -0.0, 1.0, -1.0])
    assert dm.roc_auc_score(split(y, 2), split(s, 2)) == skm.roc_auc_score(y, s)


def test_roc_auc_binned_within_its_bound_and_independent_of_partitioning() -> None:
    y, s = AUC_CASES["continuous"]
    metric = RocAuc(max_bins=64)
    state = metric.partition_state(y, s, None)
    assert isinstance(state, ScoreHistogram)
    assert state.shift > 0
    assert len(state.keys) <= 64
    bound = metric.error_bound(state)
    assert 1e-4 < bound < 0.05
    values = set()
    for rows, split_every in PARTITIONINGS:
        with pytest.warns(dm.ApproximateMetricWarning, match="Raise max_bins"):
            values.add(run("roc_auc_score", y, s, None, rows, split_every, max_bins=64))
    # The bins are the same whatever the partitioning, and the counts exact: one value.
    assert len(values) == 1
    assert abs(values.pop() - skm.roc_auc_score(y, s)) <= bound


def test_roc_auc_exact_when_distinct_scores_fit() -> None:
    y, s = AUC_CASES["ties"]
    n_distinct = len(np.unique(s))
    got = dm.roc_auc_score(split(y, 777), split(s, 777), max_bins=n_distinct, split_every=2)
    assert got == pytest.approx(skm.roc_auc_score(y, s), rel=RTOL)


def test_roc_auc_one_class_and_multiclass() -> None:
    message = "Only one class present in y_true. ROC AUC score is not defined in that case."
    with pytest.raises(dp.InputError, match=re.escape(message)):
        dm.roc_auc_score(split(np.ones(N, int), 777), split(SCORES, 777))
    with pytest.raises(dp.InputError, match="Multiclass ROC AUC is not supported yet"):
        dm.roc_auc_score(split(Y_MULTI, 777), split(SCORES, 777))
    with no_task_runs(), pytest.raises(dp.InputError, match="must be 1-D"):
        dm.roc_auc_score(Y_MULTI, np.ones((N, 4)))


# --------------------------------------------------------------------------------------------
# Regression

Y_REG = RNG.normal(loc=100.0, scale=10.0, size=N)
P_REG = Y_REG + RNG.normal(size=N)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["r2_score", "mean_squared_error", "mean_absolute_error"])
def test_regression_equals_sklearn(name: str, weighted: bool) -> None:
    assert_matches_sklearn(name, Y_REG, P_REG, WEIGHTS if weighted else None)
    assert_matches_sklearn(name, (Y_REG > 100).astype(np.int32), P_REG / 100, None)


def test_r2_conventions() -> None:
    constant = np.full(N, 3.0)
    assert dm.r2_score(split(constant, 777), split(constant, 777)) == 1.0
    assert dm.r2_score(split(constant, 777), split(P_REG, 777)) == 0.0
    # 0.1 has no exact float: the rounded mean leaves scikit-learn a tiny nonzero SST and
    # a meaningless score; daskpar sees the constant target and applies the convention.
    tenth = np.full(N, 0.1)
    assert dm.r2_score(split(tenth, 777), split(tenth + 1e-3, 777)) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(dm.r2_score([1.0], [2.0]))


def test_column_vectors_are_one_target() -> None:
    got = dm.mean_squared_error(Y_REG[:, None], split(P_REG, 777))
    assert got == pytest.approx(skm.mean_squared_error(Y_REG, P_REG), rel=RTOL)


# --------------------------------------------------------------------------------------------
# Labels predicted but absent from y_true


STRAY_TRUE = Y_MULTI % 3  # labels 0, 1, 2
STRAY_PRED = np.where(np.arange(N) % 500 == 7, 3, STRAY_TRUE)  # also predicts 3


STRAY_CASES: list[tuple[str, dict[str, Any]]] = [
    ("balanced_accuracy_score", {}),
    *[(f, {"average": a}) for f in PRF for a in ("macro", "weighted")],
]


@pytest.mark.parametrize(("name", "kwargs"), STRAY_CASES)
def test_stray_predicted_labels_raise(name: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(dp.InputError, match=r"y_pred holds labels \[3\] that never occur"):
        run(name, STRAY_TRUE, STRAY_PRED, None, 777, 8, **kwargs)


def test_stray_labels_messages_give_sklearns_number() -> None:
    with pytest.raises(dp.InputError, match=r"recall_score\(.*labels=\[0, 1, 2\] for sci"):
        dm.balanced_accuracy_score(STRAY_TRUE, STRAY_PRED)
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        expected = skm.balanced_accuracy_score(STRAY_TRUE, STRAY_PRED)
    got = dm.recall_score(STRAY_TRUE, STRAY_PRED, average="macro", labels=[0, 1, 2])
    assert got == pytest.approx(expected, rel=RTOL)
    with pytest.raises(dp.InputError, match=r"labels=\[0, 1, 2, 3\] for scikit-learn's number"):
        dm.f1_score(STRAY_TRUE, STRAY_PRED, average="macro")
    # F1 does not even warn: the stray label silently scores 0 and pulls the mean down.
    expected = skm.f1_score(STRAY_TRUE, STRAY_PRED, average="macro")
    got = dm.f1_score(STRAY_TRUE, STRAY_PRED, average="macro", labels=[0, 1, 2, 3])
    assert got == pytest.approx(expected, rel=RTOL)


def test_stray_predicted_label_raises_in_binary() -> None:
    y_true, y_pred = np.zeros(N, int), (np.arange(N) % 3 == 0).astype(int)
    with pytest.raises(
        dp.InputError, match=r"labels \[1\] .*Pass labels= explicitly \(e.g. labels=\[0, 1\]\)"
    ):
        dm.recall_score(split(y_true, 777), split(y_pred, 777))


STRAY_AS_SKLEARN: list[tuple[str, dict[str, Any]]] = [
    ("accuracy_score", {}),
    ("confusion_matrix", {}),
    *[(f, {"average": "micro"}) for f in PRF],
    ("precision_score", {"average": "macro", "labels": [0, 1, 2, 3]}),
    ("precision_score", {"average": "weighted", "labels": [0, 1, 2]}),
]


@pytest.mark.parametrize(("name", "kwargs"), STRAY_AS_SKLEARN, ids=str)
def test_stray_predicted_labels_follow_sklearn_where_meaningful(
    name: str, kwargs: dict[str, Any]
) -> None:
    assert_matches_sklearn(name, STRAY_TRUE, STRAY_PRED, None, **kwargs)


def test_stray_labels_given_pass_sklearns_warnings_through() -> None:
    message = "Recall is ill-defined"
    with pytest.warns(UndefinedMetricWarning, match=message):
        expected = skm.recall_score(STRAY_TRUE, STRAY_PRED, average="macro", labels=[0, 1, 2, 3])
    with pytest.warns(UndefinedMetricWarning, match=message):
        got = dm.recall_score(STRAY_TRUE, STRAY_PRED, average="macro", labels=[0, 1, 2, 3])
    assert got == pytest.approx(expected, rel=RTOL)


def test_sklearn_errors_for_set_wise_metrics() -> None:
    y_true, y_pred = DATA["multiclass"]
    with pytest.raises(dp.InputError, match="Target is multiclass but average='binary'"):
        dm.f1_score(y_true, y_pred)
    with pytest.raises(dp.InputError, match=r"pos_label=2 is not a valid label"):
        dm.f1_score(*DATA["binary"], pos_label=2)
    with pytest.raises(dp.InputError, match="At least one label specified must be in y_true"):
        dm.confusion_matrix(y_true, y_pred, labels=[7, 8])


# --------------------------------------------------------------------------------------------
# Bad input, found on the client before any task runs

LABELS = split(Y_MULTI % 2, 1000)
PROBA = split(_probabilities(Y_MULTI % 2, 2), 1000)
NUMBERS = split(Y_REG, 1000)
FUNCTIONS: list[tuple[str, da.Array | None, da.Array | None]] = [
    ("accuracy_score", LABELS, LABELS),
    ("balanced_accuracy_score", LABELS, LABELS),
    ("precision_score", LABELS, LABELS),
    ("recall_score", LABELS, LABELS),
    ("f1_score", LABELS, LABELS),
    ("confusion_matrix", LABELS, LABELS),
    ("log_loss", LABELS, PROBA),
    ("roc_auc_score", LABELS, NUMBERS),
    ("r2_score", NUMBERS, NUMBERS),
    ("mean_squared_error", NUMBERS, NUMBERS),
    ("mean_absolute_error", NUMBERS, NUMBERS),
]
IDS = [f[0] for f in FUNCTIONS]


@pytest.mark.parametrize(("name", "y_true", "y_pred"), FUNCTIONS, ids=IDS)
def test_chunk_mismatch(name: str, y_true: da.Array, y_pred: da.Array) -> None:
    function = getattr(dm, name)
    with no_task_runs(), pytest.raises(dp.InputError, match=r"rechunk\(\{0: y_true.chunks\[0\]\}"):
        function(y_true, y_pred.rechunk({0: 1500}))
    with no_task_runs(), pytest.raises(dp.InputError, match=r"sample_weight.rechunk\(\{0: y_true"):
        function(y_true, y_pred, sample_weight=split(WEIGHTS, 1500))


@pytest.mark.parametrize(("name", "y_true", "y_pred"), FUNCTIONS, ids=IDS)
def test_length_mismatch_and_bad_shapes(name: str, y_true: da.Array, y_pred: da.Array) -> None:
    function = getattr(dm, name)
    with no_task_runs(), pytest.raises(dp.InputError, match="different numbers of rows"):
        function(y_true, y_pred[:-1])
    with no_task_runs(), pytest.raises(dp.InputError, match="different numbers of rows"):
        function(y_true, y_pred, sample_weight=WEIGHTS[:-5])
    with no_task_runs(), pytest.raises(dp.InputError, match="y_true must be 1-D"):
        function(da.stack([y_true, y_true], axis=1), y_pred)
    with no_task_runs(), pytest.raises(dp.InputError, match="sample_weight must have a numeric"):
        function(y_true, y_pred, sample_weight=np.array(["a"] * N))
    keep = y_true > -1000  # boolean indexing leaves the row counts unknown
    with no_task_runs(), pytest.raises(dp.InputError, match="compute_chunk_sizes"):
        function(y_true[keep], y_pred[keep])
    with no_task_runs(), pytest.raises(dp.InputError, match="empty input"):
        function(y_true[:0], y_pred[:0])
    with no_task_runs(), pytest.raises(InvalidParameterError, match="'split_every' parameter"):
        function(y_true, y_pred, split_every=1)


ZERO_WEIGHT_CASES = [(name, t, p, {}) for name, t, p in FUNCTIONS] + [
    ("accuracy_score", LABELS, LABELS, {"normalize": False}),
    ("log_loss", LABELS, PROBA, {"normalize": False}),
]


@pytest.mark.parametrize(
    ("name", "y_true", "y_pred", "kwargs"),
    ZERO_WEIGHT_CASES,
    ids=[f"{c[0]}-{c[3]}" for c in ZERO_WEIGHT_CASES],
)
def test_all_zero_sample_weights_raise_as_sklearn(
    name: str, y_true: da.Array, y_pred: da.Array, kwargs: dict[str, Any]
) -> None:
    # Only the merged state can tell: partitions of zeros next to non-zero ones are fine.
    message = "Sample weights must contain at least one non-zero number"
    zeros = np.zeros(N)
    with pytest.raises(ValueError, match=message):
        getattr(skm, name)(y_true.compute(), y_pred.compute(), sample_weight=zeros, **kwargs)
    with pytest.raises(dp.InputError, match=message):
        getattr(dm, name)(y_true, y_pred, sample_weight=zeros, **kwargs)


@pytest.mark.parametrize("name", ["log_loss", "roc_auc_score", "r2_score"])
def test_non_numeric_predictions(name: str) -> None:
    with no_task_runs(), pytest.raises(dp.InputError, match="must have a numeric dtype"):
        getattr(dm, name)(split(Y_MULTI % 2, 1000), split(np.array(["x"] * N), 1000))


def test_mixed_label_types_and_bad_parameters() -> None:
    with no_task_runs(), pytest.raises(dp.InputError, match="Mix of label input types"):
        dm.accuracy_score(["a", "b"], [0, 1])
    with no_task_runs(), pytest.raises(dp.InputError, match="y_true is None"):
        dm.accuracy_score(None, [0, 1])
    with pytest.raises(InvalidParameterError, match="'average' parameter of f1_score"):
        dm.f1_score([0, 1], [0, 1], average="samples")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'max_bins' parameter"):
        dm.roc_auc_score([0, 1], [0.0, 1.0], max_bins=1)


def test_values_that_are_not_labels_name_the_partition() -> None:
    y_pred = np.where(np.arange(N) == 2345, 0.5, DATA["binary"][1])
    with pytest.raises(dp.PartitionError, match=r"non-integer values such as 0.5.*partition 2 "):
        dm.accuracy_score(split(DATA["binary"][0], 1000), split(y_pred, 1000))
    scores = np.where(np.arange(N) == 10, np.nan, SCORES)
    with pytest.raises(dp.PartitionError, match=r"y_score contains NaN. Found in partition 0"):
        dm.roc_auc_score(split(Y_MULTI % 2, 1000), split(scores, 1000))


# --------------------------------------------------------------------------------------------
# The graph


def test_stage_names_and_only_states_travel() -> None:
    y_true, y_pred = DATA["multiclass"]
    seen: Counter[str] = Counter()

    def record(key: object, dsk: object, state: object) -> None:
        seen[key_split(key)] += 1

    with Callback(pretask=record):
        dm.f1_score(split(y_true, 500), split(y_pred, 500), average="macro", split_every=3)
    # 6 blocks, fan-in 3: 2 + 1 combines. Reading a block is fused into its partition task.
    assert seen == {"confusion-block": 6, "confusion-merge": 3, "confusion-final": 1}
    for name, y, p, stage in [
        ("log_loss", y_true, _probabilities(y_true, 4), "log-loss"),
        ("roc_auc_score", y_true % 2, SCORES, "roc-auc"),
        ("r2_score", Y_REG, P_REG, "residuals"),
    ]:
        seen.clear()
        with Callback(pretask=record):
            getattr(dm, name)(split(y, 500), split(p, 500))
        assert {k for k in seen if k.startswith(stage)} == {
            f"{stage}-{step}" for step in ("block", "merge", "final")
        }
        assert seen[f"{stage}-block"] == 6


# --------------------------------------------------------------------------------------------
# Scorers


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[BaseEstimator, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 5))
    logits = X @ rng.normal(size=(5, 3))
    y3 = logits.argmax(axis=1)
    y2 = (logits[:, 0] + rng.normal(size=2000) > 0).astype(int)
    y_named = np.array(["no", "yes"])[y2]
    y_reg = X @ rng.normal(size=5) + rng.normal(size=2000)
    return {
        "binary": (LogisticRegression().fit(X, y2), X, y2),
        "multiclass": (LogisticRegression().fit(X, y3), X, y3),
        "named-nb": (GaussianNB().fit(X, y_named), X, y_named),
        "regression": (Ridge().fit(X, y_reg), X, y_reg),
    }


REGRESSION_SCORERS = {
    "r2",
    "neg_mean_squared_error",
    "neg_root_mean_squared_error",
    "neg_mean_absolute_error",
}


def _model_kinds(name: str) -> list[str]:
    """The fitted models a scorer applies to (scikit-learn's scorers accept the same)."""
    if name in REGRESSION_SCORERS:
        return ["regression"]
    if name == "roc_auc":
        return ["binary", "named-nb"]
    if name in {"precision", "recall", "f1"}:
        return ["binary"]  # pos_label=1: integer classes only
    return ["binary", "multiclass", "named-nb"]


@pytest.mark.parametrize("name", dm.SCORER_NAMES)
def test_scorer_equals_sklearn(
    name: str, models: dict[str, tuple[BaseEstimator, np.ndarray, np.ndarray]]
) -> None:
    for kind in _model_kinds(name):
        model, X, y = models[kind]
        w = WEIGHTS[: len(y)]
        for sample_weight in (None, w):
            expected = skm.get_scorer(name)(model, X, y, sample_weight=sample_weight)
            partitionings: list[tuple[Rows, int]] = [(300, 2), ((0, 700, 0, 1300), 8)]
            for rows, split_every in partitionings:
                got = dm.score(
                    model,
                    split(X, rows),
                    split(y, rows),
                    name,
                    sample_weight=split(sample_weight, rows),
                    split_every=split_every,
                )
                assert got == pytest.approx(expected, rel=1e-11), (kind, rows)


def test_scorer_partition_state_and_errors(
    models: dict[str, tuple[BaseEstimator, np.ndarray, np.ndarray]],
) -> None:
    model, X, y = models["binary"]
    scorer = dm.get_scorer("neg_log_loss")
    assert scorer.partition_state(model, X[:0], y[:0]) is None
    with pytest.raises(dp.InputError, match="every partition is empty"):
        scorer.score(None)
    # The pieces of a score combine in any grouping to the in-memory score.
    states = [scorer.partition_state(model, X[i : i + 500], y[i : i + 500]) for i in (0, 500)]
    states += [scorer.partition_state(model, X[1000:], y[1000:])]
    a, b, c = states
    assert a is not None
    assert b is not None
    assert c is not None
    merged = a.combine(b.combine(c))
    expected = skm.get_scorer("neg_log_loss")(model, X, y)
    assert scorer.score(merged) == pytest.approx(expected, rel=1e-11)
    # Frozen and deterministic: pickled to workers, same dask token every time.
    assert pickle.loads(pickle.dumps(scorer)) == scorer
    assert tokenize(dm.get_scorer("f1_macro")) == tokenize(dm.get_scorer("f1_macro"))
    assert dm.get_scorer(scorer) is scorer
    with pytest.raises(dp.InputError, match=r"neg_log_loss.*cannot run per partition"):
        dm.get_scorer("jaccard")
    with pytest.raises(dp.InputError, match="cannot run per partition"):
        dm.get_scorer(skm.get_scorer("accuracy"))
    multi, Xm, ym = models["multiclass"]
    with pytest.raises(dp.InputError, match="Multiclass ROC AUC is not supported yet"):
        dm.score(multi, split(Xm, 500), split(ym, 500), "roc_auc")


def test_neg_log_loss_scorer_uses_the_models_classes(
    models: dict[str, tuple[BaseEstimator, np.ndarray, np.ndarray]],
) -> None:
    # y misses class 2: scikit-learn's scorer raises, daskpar's scores with labels=classes_.
    model, X, y = models["multiclass"]
    keep = y != 2
    with pytest.raises(ValueError, match="different number of classes"):
        skm.get_scorer("neg_log_loss")(model, X[keep], y[keep])
    expected = -skm.log_loss(y[keep], model.predict_proba(X[keep]), labels=model.classes_)
    got = dm.score(model, split(X[keep], 300), split(y[keep], 300), "neg_log_loss")
    assert got == pytest.approx(expected, rel=1e-11)


def test_score_defaults_to_the_estimators_score_and_names_its_tasks(
    models: dict[str, tuple[BaseEstimator, np.ndarray, np.ndarray]],
) -> None:
    seen: Counter[str] = Counter()

    def record(key: object, dsk: object, state: object) -> None:
        seen[key_split(key)] += 1

    for kind in ("regression", "multiclass"):
        model, X, y = models[kind]
        seen.clear()
        with Callback(pretask=record):
            got = dm.score(model, split(X, 500), split(y, 500), split_every=2)
        assert got == pytest.approx(model.score(X, y), rel=1e-11)
        assert seen["score-block"] == 4
        assert seen["score-merge"] == 3
        assert seen["score-final"] == 1


def test_warnings_point_at_the_callers_line(
    models: dict[str, tuple[BaseEstimator, np.ndarray, np.ndarray]],
) -> None:
    # The functions run inside validate_params's wrapper; the warnings they re-emit on the
    # client must still name the line that called them, as scikit-learn's do.
    y = Y_MULTI % 2
    model, X, y_reg = models["regression"]
    calls: list[tuple[str, Callable[[], object]]] = [
        # evaluate_metric's default stacklevel
        ("do not sum to one", lambda: dm.log_loss(y, _probabilities(y, 2) * 0.9)),
        # through _precision_recall_f1 and _regression
        ("Precision is ill-defined", lambda: dm.precision_score([0, 1, 1], [0, 0, 0])),
        ("less than two samples", lambda: dm.r2_score([1.0], [2.0])),
        # reduce_metric, from score
        ("less than two samples", lambda: dm.score(model, X[:1], y_reg[:1], "r2")),
    ]
    for message, call in calls:
        with pytest.warns(UserWarning, match=message) as record:
            call()
        assert {w.filename for w in record} == {__file__}


# --------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=8),
    split_every=st.integers(min_value=2, max_value=5),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_independent_of_partitioning(cuts: list[int], split_every: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, 300)
    y_pred = rng.integers(0, 5, 300)
    scores = np.round(rng.normal(size=300) + y_true % 2, 1)
    w = rng.random(300)
    rows = tuple(np.diff(sorted({0, 300, *cuts})).tolist())
    t, p, s, wd = (split(a, rows) for a in (y_true, y_pred, scores, w))
    labels = np.arange(5)
    np.testing.assert_array_equal(
        dm.confusion_matrix(t, p, split_every=split_every), skm.confusion_matrix(y_true, y_pred)
    )
    got = dm.f1_score(t, p, labels=labels, average="macro", zero_division=0.0, sample_weight=wd)
    expected = skm.f1_score(
        y_true, y_pred, labels=labels, average="macro", zero_division=0.0, sample_weight=w
    )
    assert got == pytest.approx(expected, rel=RTOL)
    got = dm.roc_auc_score(t % 2, s, sample_weight=wd, split_every=split_every)
    assert got == pytest.approx(skm.roc_auc_score(y_true % 2, scores, sample_weight=w), rel=RTOL)


def test_threads_scheduler_gives_the_same_bits() -> None:
    y_true, y_pred = DATA["multiclass"]
    args = (split(y_true, 250), split(y_pred, 250))
    kwargs: dict[str, Any] = {"average": "weighted", "sample_weight": split(WEIGHTS, 250)}
    sync = dm.f1_score(*args, **kwargs)
    with dask.config.set(scheduler="threads"):
        assert dm.f1_score(*args, **kwargs) == sync
