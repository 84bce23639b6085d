"""One label policy for fit, score, metrics and search: numbers, booleans or strings.

Strings come as numpy ``U`` arrays, or as Python ``str`` objects (dtype object), which is how
pandas and the Parquet and CSV readers give them. Every kind must give the same model and the
same scores as integer labels on the same data, and a mix of strings and numbers, or a missing
label, is an error naming the partition.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from daskpar_testing import as_dask
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import metrics

NAMES = np.array(["setosa", "versicolor"])

#: Label kind -> how integer labels 0 / 1 become labels of that kind.
KINDS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "int": lambda y: y.astype(np.int64),
    "float": lambda y: y.astype(np.float64),
    "bool": lambda y: y.astype(bool),
    "str": lambda y: NAMES[y],
    "object-str": lambda y: NAMES[y].astype(object),
}


@pytest.fixture(scope="module")
def data(binary: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    X, y = binary
    return X[:3000], y[:3000]


def model() -> dp.ParallelIncremental:
    return dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0)


def relabel(kind: str, a: np.ndarray | da.Array) -> np.ndarray:
    """Back to 0 / 1 from a kind's labels, to compare with the integer run."""
    a = np.asarray(a)
    return (a == NAMES[1]).astype(int) if kind in ("str", "object-str") else a.astype(int)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fit_score_metrics_and_validation_agree_with_integer_labels(
    kind: str, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    Xd, yd = as_dask(X, KINDS[kind](y), 500)
    Xi, yi = as_dask(X, y, 500)
    ours, ref = model().fit(Xd, yd), model().fit(Xi, yi)
    np.testing.assert_array_equal(ours.estimator_.coef_, ref.estimator_.coef_)
    assert list(relabel(kind, ours.classes_)) == [0, 1]
    pred = ours.predict(Xd)
    np.testing.assert_array_equal(relabel(kind, pred.compute()), ref.predict(Xi).compute())
    assert ours.score(Xd, yd) == ref.score(Xi, yi)
    assert metrics.accuracy_score(yd, pred) == ref.score(Xi, yi)
    f1 = metrics.f1_score(yd, pred, average="macro")
    assert f1 == metrics.f1_score(yi, ref.predict(Xi), average="macro")
    assert (
        metrics.confusion_matrix(yd, pred).tolist()
        == metrics.confusion_matrix(yi, ref.predict(Xi)).tolist()
    )
    proba = ours.set_params(estimator__loss="log_loss").fit(Xd, yd).predict_proba(Xd)
    assert np.isfinite(metrics.log_loss(yd, proba))

    def validation_scores(X: da.Array, y: da.Array) -> list[float]:
        held = dp.ParallelIncremental(
            SGDClassifier(random_state=0), epochs=2, validation_fraction=0.2, random_state=0
        )
        return [h["validation_score"] for h in held.fit(X, y).history_]

    scores, int_scores = validation_scores(Xd, yd), validation_scores(Xi, yi)
    assert scores == int_scores


@pytest.mark.parametrize("kind", ["str", "object-str", "float"])
def test_search_with_labels(kind: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    grid = {"estimator__alpha": [1e-4, 1e-2]}
    ours = dp.GridSearchCV(model(), grid, cv=3).fit(*as_dask(X, KINDS[kind](y), 500))
    ref = dp.GridSearchCV(model(), grid, cv=3).fit(*as_dask(X, y, 500))
    np.testing.assert_array_equal(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
    assert list(relabel(kind, ours.classes_)) == [0, 1]


def test_mixed_strings_and_numbers_name_the_partition(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    mixed = NAMES[y].astype(object)
    mixed[1234] = 1  # one number among strings, in partition 2 (rows 1000 to 1499)
    Xd, yd = as_dask(X, mixed, 500)
    with pytest.raises(dp.PartitionError, match=r"both strings and numbers in partition 2 "):
        model().fit(Xd, yd)
    with pytest.raises(dp.PartitionError, match=r"Mix of label input types.*partition 2"):
        metrics.accuracy_score(yd, da.from_array(NAMES[y], chunks=500))


def test_missing_label_is_an_error(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    missing = NAMES[y].astype(object)
    missing[2999] = None
    with pytest.raises(dp.PartitionError, match=r"missing label.*partition 5 \(rows 2500"):
        model().fit(*as_dask(X, missing, 500))


def test_dates_are_not_labels(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    dates = np.datetime64("2020-01-01") + y.astype("timedelta64[D]")
    with pytest.raises(dp.InputError, match=r"must hold class labels.*datetime64"):
        model().fit(*as_dask(X, dates, 500))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_string_labels_from_the_readers(
    fmt: str, tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["species"] = NAMES[y]
    path = tmp_path / f"iris-like.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path, row_group_size=500, index=False)
        Xr, yr = dp.read_parquet(path, target="species")
    else:
        frame.to_csv(path, index=False)
        Xr, yr = dp.read_csv(path, target="species", blocksize=50_000)
    assert yr.dtype == object
    fitted = model().fit(Xr, yr)
    assert set(fitted.classes_) == set(NAMES)
    assert fitted.score(Xr, yr) > 0.7
    assert metrics.balanced_accuracy_score(yr, fitted.predict(Xr)) > 0.7
