"""Tables in: pandas and dask DataFrames, their columns matched by name, never by position.

Every estimator records ``feature_names_in_`` from a table, as scikit-learn's do, and takes a
later table's columns by name in the fitted order; other columns get scikit-learn's message
as an :class:`~daskpar.errors.InputError`. The data are Palmer penguins (a real table
shipped in the ``palmerpenguins`` package), its four measurements as the features.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.utils import key_split
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline

import daskpar as dp
from daskpar.errors import InputError

MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    palmerpenguins = pytest.importorskip("palmerpenguins")
    table = palmerpenguins.load_penguins().dropna(subset=MEASUREMENTS).reset_index(drop=True)
    # Rows of one species in a row would give each partition one class: shuffle them once.
    return table.sample(frac=1.0, random_state=0).reset_index(drop=True)


def classifiers() -> list[Any]:
    return [
        dp.ParallelIncremental(GaussianNB()),
        make_pipeline(dp.StandardScaler(), dp.ParallelIncremental(SGDClassifier(random_state=0))),
        dp.ParallelIncremental(dp.AdaptiveSGDClassifier()),
    ]


def searches() -> list[Any]:
    """The searches, on dask tables (their folds are whole partitions)."""
    return [
        dp.GridSearchCV(
            dp.ParallelIncremental(GaussianNB()), {"estimator__var_smoothing": [1e-9, 1e-3]}, cv=2
        ),
        dp.HalvingSearchCV(
            dp.ParallelIncremental(GaussianNB()),
            {"estimator__var_smoothing": [1e-9, 1e-5, 1e-1]},
            cv=2,
        ),
    ]


def regressors() -> list[Any]:
    return [
        dp.LinearRegression(),
        dp.Ridge(alpha=1.0),
        dp.ParallelIncremental(SGDRegressor(random_state=0)),
    ]


def ids(models: list[Any]) -> list[str]:
    return [type(m).__name__ if not hasattr(m, "steps") else "Pipeline" for m in models]


def as_dask_table(frame: pd.DataFrame, n: int = 4) -> dd.DataFrame:
    return dd.from_pandas(frame, npartitions=n, sort=False)


def reordered(frame: Any) -> Any:
    return frame[list(reversed(list(frame.columns)))]


@pytest.mark.parametrize(
    ("model", "dask_table"),
    [(m, d) for d in (False, True) for m in classifiers()] + [(m, True) for m in searches()],
    ids=[f"{i}-{d}" for d in ("pandas", "dask") for i in ids(classifiers())]
    + [f"{i}-dask" for i in ids(searches())],
)
def test_classifiers_take_columns_by_name(
    penguins: pd.DataFrame, model: Any, dask_table: bool
) -> None:
    X, y = penguins[MEASUREMENTS], penguins["species"]
    if dask_table:
        X, y = as_dask_table(X), as_dask_table(y)
    fitted = model.fit(X, y)
    names = getattr(fitted, "feature_names_in_", None)
    if names is None:  # a Pipeline: its first step records them
        names = fitted[0].feature_names_in_
    assert list(names) == MEASUREMENTS
    expected = np.asarray(dask.compute(fitted.predict(X))[0])
    assert (expected == np.asarray(penguins["species"])).mean() > 0.7  # the model learned
    got = np.asarray(dask.compute(fitted.predict(reordered(X)))[0])
    np.testing.assert_array_equal(got, expected)
    assert fitted.score(reordered(X), y) == pytest.approx(fitted.score(X, y), abs=1e-12)


@pytest.mark.parametrize("dask_table", [False, True], ids=["pandas", "dask"])
@pytest.mark.parametrize("model", regressors(), ids=ids(regressors()))
def test_regressors_take_columns_by_name(
    penguins: pd.DataFrame, model: Any, dask_table: bool
) -> None:
    X = penguins[MEASUREMENTS[:3]]
    y = penguins["body_mass_g"].astype(np.float64) / 1000.0
    X = (X - X.mean()) / X.std()
    if dask_table:
        X, y = as_dask_table(X), as_dask_table(y)
    fitted = model.fit(X, y)
    assert list(fitted.feature_names_in_) == MEASUREMENTS[:3]
    expected = np.asarray(dask.compute(fitted.predict(X))[0])
    got = np.asarray(dask.compute(fitted.predict(reordered(X)))[0])
    np.testing.assert_allclose(got, expected, rtol=0, atol=0)
    assert fitted.score(reordered(X), y) == pytest.approx(fitted.score(X, y), abs=1e-12)


def test_scalers_take_columns_by_name(penguins: pd.DataFrame) -> None:
    X = as_dask_table(penguins[MEASUREMENTS])
    scaler = dp.StandardScaler().fit(X)
    assert list(scaler.feature_names_in_) == MEASUREMENTS
    np.testing.assert_array_equal(
        scaler.transform(reordered(X)).compute(), scaler.transform(X).compute()
    )


@pytest.mark.parametrize("dask_table", [False, True], ids=["pandas", "dask"])
def test_other_columns_get_scikit_learns_message(penguins: pd.DataFrame, dask_table: bool) -> None:
    X, y = penguins[MEASUREMENTS], penguins["species"]
    if dask_table:
        X, y = as_dask_table(X), as_dask_table(y)
    model = dp.ParallelIncremental(GaussianNB()).fit(X, y)
    renamed = X.rename(columns={"body_mass_g": "mass"})
    with pytest.raises(
        InputError,
        match=r"(?s)should match.*unseen at fit time:\n- mass.*"
        r"yet now missing:\n- body_mass_g.*by name",
    ):
        model.predict(renamed)
    with pytest.raises(InputError, match="should match"):
        model.score(X[MEASUREMENTS[:3]], y)


def test_arrays_after_a_table_get_scikit_learns_warning(penguins: pd.DataFrame) -> None:
    X, y = penguins[MEASUREMENTS], penguins["species"]
    model = dp.ParallelIncremental(GaussianNB()).fit(X, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X.to_numpy())
    numpy_model = dp.ParallelIncremental(GaussianNB()).fit(X.to_numpy(), y)
    assert not hasattr(numpy_model, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        numpy_model.predict(X)


def test_text_columns_are_refused_with_what_to_do(penguins: pd.DataFrame) -> None:
    X = as_dask_table(penguins[[*MEASUREMENTS, "island"]])
    with pytest.raises(InputError, match=r"not numbers: island\. Encode"):
        dp.ParallelIncremental(GaussianNB()).fit(X, as_dask_table(penguins["species"]))


def test_nullable_columns_become_nan() -> None:
    frame = pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64"), "b": [0.5, 1.5, 2.5, 3.5]})
    X = dp.StandardScaler().fit(as_dask_table(frame, 2))
    ref = dp.StandardScaler().fit(frame.astype(np.float64).to_numpy())
    np.testing.assert_allclose(X.mean_, ref.mean_, rtol=1e-15)
    np.testing.assert_allclose(X.var_, ref.var_, rtol=1e-15)


def _block(seed: int, rows: int, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        np.random.default_rng(seed).normal(size=(rows, len(columns))), columns=columns
    )
    return frame.assign(target=(frame["f0"] > 0).astype(np.int64))


@pytest.mark.slow  # a cluster of worker processes: the slow suite, which CI runs
def test_a_dask_table_is_not_gathered_on_the_client() -> None:
    """The client's peak memory while fitting a dask DataFrame stays under 10 % of its size.

    The table is made on the workers (``from_delayed``) and is 160 MB; a gather on the client,
    as ``numpy.asarray`` on the frame would do, holds all of it at once.
    """
    from daskpar_testing import local_cluster
    from distributed import Client

    rows, parts, columns = 100_000, 8, [f"f{i}" for i in range(24)]
    blocks = [dask.delayed(_block)(seed, rows, columns) for seed in range(parts)]
    table = dd.from_delayed(blocks, meta=_block(0, 0, columns))
    size = rows * parts * (len(columns) + 1) * 8
    model = dp.ParallelIncremental(SGDClassifier(random_state=0))
    with local_cluster(processes=True) as cluster, Client(cluster):
        tracemalloc.start()
        try:
            model.fit(table[columns], table["target"])
            score = model.score(table[columns], table["target"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert score > 0.9
    print(f"client peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB table")
    assert peak < 0.1 * size, f"client peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB table"


# --------------------------------------------------------------------------------------------
# Several files, their columns matched by name


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_csv_files_with_columns_in_other_orders_are_read_by_name(
    penguins: pd.DataFrame, tmp_path: Any, suffix: str
) -> None:
    """Each file's blocks are parsed with that file's own header, and taken by name."""
    table = penguins[[*MEASUREMENTS, "species"]]
    orders = [
        table.columns,
        ["species", *reversed(MEASUREMENTS)],
        [*MEASUREMENTS[2:], "species", *MEASUREMENTS[:2]],
    ]
    parts = np.array_split(np.arange(len(table)), 3)
    for i, (rows, order) in enumerate(zip(parts, orders, strict=True)):
        table.iloc[rows][list(order)].to_csv(tmp_path / f"day{i}{suffix}", index=False)
    # Small blocks, so that every file has blocks after its first.
    X, y = dp.data.read_csv(str(tmp_path / f"day*{suffix}"), target="species", blocksize=1000)
    assert X.numblocks[0] > 3 or suffix != ".csv"
    np.testing.assert_array_equal(X.compute(), table[MEASUREMENTS].to_numpy(np.float64))
    np.testing.assert_array_equal(y.compute(), table["species"].to_numpy())


def test_csv_files_with_other_columns_are_refused_with_the_difference(
    penguins: pd.DataFrame, tmp_path: Any
) -> None:
    table = penguins[[*MEASUREMENTS, "species"]]
    table.iloc[:100].to_csv(tmp_path / "a.csv", index=False)
    table.iloc[100:].rename(columns={"body_mass_g": "mass"}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match=r"b\.csv lacks \['body_mass_g'\] and has \['mass'\] too"):
        dp.data.read_csv(str(tmp_path / "*.csv"), target="species")


def test_the_standalone_adaptive_learner_takes_columns_by_name(penguins: pd.DataFrame) -> None:
    X, y = penguins[MEASUREMENTS], penguins["species"]
    model = dp.AdaptiveSGDClassifier(random_state=0).fit(X, y)
    assert list(model.feature_names_in_) == MEASUREMENTS
    np.testing.assert_array_equal(model.predict(reordered(X)), model.predict(X))
    model.partial_fit(reordered(X), y)  # a later batch, by name
    np.testing.assert_array_equal(model.predict(reordered(X)), model.predict(X))
    with pytest.raises(InputError, match="yet now missing"):
        model.predict(X[MEASUREMENTS[:3]])


# --------------------------------------------------------------------------------------------
# DataFrames out, and row counts taken on trust only where the tasks check them


@pytest.mark.parametrize("model", [*classifiers()[:1], *regressors()[:1]], ids=["PI", "LR"])
def test_predictions_of_a_dask_table_are_a_dask_series_with_its_index(
    penguins: pd.DataFrame, model: Any
) -> None:
    regression = isinstance(model, dp.LinearRegression)
    X = penguins[MEASUREMENTS[:3] if regression else MEASUREMENTS]
    y = penguins["body_mass_g"] / 1000.0 if regression else penguins["species"]
    X.index = X.index * 3 + 7  # an index of its own, kept in the predictions
    y.index = X.index
    fitted = model.fit(as_dask_table(X), as_dask_table(y))
    got = fitted.predict(as_dask_table(reordered(X), 3))
    assert isinstance(got, dd.Series)
    assert got.npartitions == 3
    computed = got.compute()
    pd.testing.assert_index_equal(computed.index, X.index)
    if regression:  # the same product, block by block: equal to float rounding
        np.testing.assert_allclose(computed.to_numpy(), fitted.predict(X), rtol=1e-12)
    else:
        np.testing.assert_array_equal(computed.to_numpy(), fitted.predict(X))
    if not regression:
        proba = fitted.predict_proba(as_dask_table(X)).compute()
        assert list(proba.columns) == sorted(penguins["species"].unique())
        np.testing.assert_allclose(proba.to_numpy(), fitted.predict_proba(X))


def test_scalers_give_a_lazy_dask_table_for_pandas_output(penguins: pd.DataFrame) -> None:
    from sklearn.preprocessing import StandardScaler

    X = penguins[MEASUREMENTS]
    ours = dp.StandardScaler().set_output(transform="pandas")
    out = ours.fit_transform(as_dask_table(X))
    assert isinstance(out, dd.DataFrame)
    theirs = StandardScaler().set_output(transform="pandas").fit_transform(X)
    pd.testing.assert_frame_equal(out.compute(), theirs, rtol=1e-12)
    assert list(ours.get_feature_names_out()) == MEASUREMENTS


class _TaskNames(dask.callbacks.Callback):  # type: ignore[misc]
    """The names of the tasks run under it (local schedulers), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        self.names.append(key_split(key))

    def count(self, *prefixes: str) -> int:
        return sum(name.startswith(prefixes) for name in self.names)


def test_labels_take_the_features_row_counts_and_every_task_checks_them(
    penguins: pd.DataFrame,
) -> None:
    """A classifier learns a frame's unknown row counts in the pass that finds its classes:
    no pass of its own counts them, and y takes them too; a y whose partitions hold other row
    counts is refused by the task that meets it."""
    X, y = penguins[MEASUREMENTS], penguins["species"]
    # A frame whose row counts dask does not know unread (as from CSV files).
    table = as_dask_table(penguins).map_partitions(pd.DataFrame.copy)
    with dask.config.set(scheduler="sync"), _TaskNames() as tasks:
        model = dp.ParallelIncremental(GaussianNB()).fit(table[MEASUREMENTS], table["species"])
    assert tasks.count("len", "count") == 0
    assert tasks.count("classes-block") == 4  # the labels' four partitions, once
    expected = GaussianNB().fit(X.to_numpy(), y.to_numpy())
    np.testing.assert_allclose(model.estimator_.theta_, expected.theta_, rtol=1e-10)
    # score on the same frame knows its row counts from the fit's pass.
    with dask.config.set(scheduler="sync"), _TaskNames() as tasks:
        score = model.score(table[MEASUREMENTS], table["species"])
    assert tasks.count("len", "count") == 0
    assert score == pytest.approx(expected.score(X.to_numpy(), y.to_numpy()), abs=1e-12)
    shifted = dd.from_pandas(y, npartitions=2, sort=False).repartition(npartitions=4)
    assert shifted.map_partitions(len).compute().tolist() != [len(p) for p in np.array_split(y, 4)]
    with pytest.raises(dp.PartitionError, match=r"(do not hold the same rows|same partitions)"):
        dp.ParallelIncremental(GaussianNB()).fit(as_dask_table(X), shifted)
    unknown = shifted.map_partitions(pd.Series.copy)
    with pytest.raises(dp.PartitionError, match=r"(do not hold the same rows|wrong row counts)"):
        dp.ParallelIncremental(GaussianNB()).fit(table[MEASUREMENTS], unknown)


def test_a_regressor_and_a_search_count_unknown_rows_once(penguins: pd.DataFrame) -> None:
    """With no classes to find, the row counts of a frame dask cannot count unread come from
    one pass over the target column alone; a search of a classifier learns them with its
    classes."""
    table = as_dask_table(penguins.dropna()).map_partitions(pd.DataFrame.copy)
    features = MEASUREMENTS[:3]
    with dask.config.set(scheduler="sync"), _TaskNames() as tasks:
        dp.LinearRegression().fit(table[features], table[MEASUREMENTS[3]])
    assert tasks.count("len") == 0
    assert tasks.count("count-block") == 4
    table = table.map_partitions(pd.DataFrame.copy)  # a new frame: nothing learned about it
    search = dp.GridSearchCV(
        dp.ParallelIncremental(GaussianNB()), {"estimator__var_smoothing": [1e-9, 1e-6]}, cv=2
    )
    with dask.config.set(scheduler="sync"), _TaskNames() as tasks:
        search.fit(table[MEASUREMENTS], table["species"])
    assert tasks.count("len", "count") == 0
    assert tasks.count("classes-block") == 4
    assert list(search.feature_names_in_) == MEASUREMENTS


def test_metrics_take_dask_series_without_gathering_them(penguins: pd.DataFrame) -> None:
    """Metric functions read dask Series by partition (no task gathers them), and refuse two
    Series whose partitions hold different rows."""
    frame = penguins.dropna().reset_index(drop=True)
    table = as_dask_table(frame).map_partitions(pd.DataFrame.copy)
    heavy = table["body_mass_g"] > 4000
    with dask.config.set(scheduler="sync"), _TaskNames() as tasks:
        ours = dp.metrics.accuracy_score(table["sex"] == "male", heavy)
    expected = ((frame["sex"] == "male") == (frame["body_mass_g"] > 4000)).mean()
    assert ours == pytest.approx(expected, abs=1e-12)
    assert tasks.count("count-block") == 4  # y_true's row counts; y_pred takes them
    assert tasks.count("confusion-block") == 4
    assert tasks.count("len", "finalize") == 0  # no task computes a whole Series
    with pytest.raises(dp.PartitionError, match="do not hold the same rows"):
        dp.metrics.accuracy_score(table["sex"] == "male", heavy[table["bill_length_mm"] > 40])


def test_the_standalone_adaptive_learner_refuses_dask_input(penguins: pd.DataFrame) -> None:
    X, y = as_dask_table(penguins[MEASUREMENTS]), as_dask_table(penguins["species"])
    with pytest.raises(InputError, match=r"ParallelIncremental\(AdaptiveSGDClassifier"):
        dp.AdaptiveSGDClassifier().fit(X, y)
    model = dp.AdaptiveSGDClassifier().fit(penguins[MEASUREMENTS], penguins["species"])
    with pytest.raises(InputError, match="would load the whole dask DataFrame"):
        model.predict(X)
