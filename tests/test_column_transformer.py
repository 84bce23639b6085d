"""daskpar.ColumnTransformer on dask DataFrames, against scikit-learn's on the same rows.

Fitting reads the data once for all the daskpar transformers in it and learns the partitions'
row counts in the same pass; the transform is scikit-learn's, one task per partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback
from sklearn import compose
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

import daskpar as dp
from daskpar.errors import InputError

FEATURES = ["a", "b", "c", "d"]


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 3 + 1,
            "c": rng.choice(["x", "y", "z"], n),
            "d": rng.uniform(-5, 5, size=n),
        }
    )
    df["y"] = (df.a + df.b / 3 > 0.3).astype(int)
    return df


def _pair(remainder: Any = "drop") -> tuple[dp.ColumnTransformer, compose.ColumnTransformer]:
    ours = dp.make_column_transformer(
        (dp.StandardScaler(), ["a", "b"]),
        (dp.MinMaxScaler(), ["d"]),
        (FunctionTransformer(np.abs, feature_names_out="one-to-one"), ["a"]),
        remainder=remainder,
    )
    theirs = compose.make_column_transformer(
        (StandardScaler(), ["a", "b"]),
        (MinMaxScaler(), ["d"]),
        (FunctionTransformer(np.abs, feature_names_out="one-to-one"), ["a"]),
        remainder=remainder,
    )
    return ours, theirs


@contextmanager
def executed_keys() -> Iterator[list[str]]:
    """The key names of every task the local scheduler runs inside the block."""
    seen: list[str] = []

    class Record(Callback):  # type: ignore[misc]
        def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
            seen.append(key[0] if isinstance(key, tuple) else str(key))

    with Record():
        yield seen


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_fit_transform_equals_scikit_learn(npartitions: int) -> None:
    df = _table()
    ddf = dd.from_pandas(df[FEATURES], npartitions=npartitions)
    ours, theirs = _pair()
    out = ours.fit_transform(ddf)
    expected = theirs.fit_transform(df[FEATURES])
    assert out.chunks[0] == tuple(ddf.map_partitions(len).compute())
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-12, atol=1e-12)
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
    assert ours.output_indices_ == theirs.output_indices_
    assert [(n, c) for n, _, c in ours.transformers_] == [
        (n, c) for n, _, c in theirs.transformers_
    ]
    for (_, mine, _), (_, ref, _) in zip(ours.transformers_, theirs.transformers_, strict=True):
        for attribute in ("mean_", "scale_", "data_min_", "data_max_"):
            if hasattr(ref, attribute):
                np.testing.assert_allclose(getattr(mine, attribute), getattr(ref, attribute))
        assert list(getattr(mine, "feature_names_in_", [])) == list(
            getattr(ref, "feature_names_in_", [])
        )
    # The fitted transformer works on pandas too, as scikit-learn's.
    np.testing.assert_allclose(ours.transform(df[FEATURES]), expected, rtol=1e-12)


def test_fit_reads_each_partition_once_and_learns_the_lengths() -> None:
    df = _table()
    ddf = dd.from_pandas(df[FEATURES], npartitions=4)
    ours, _ = _pair()
    with dask.config.set(scheduler="sync"), executed_keys() as seen:
        out = ours.fit_transform(ddf)
    blocks = [k for k in seen if k.startswith("columns-block")]
    assert len(blocks) == 4
    assert not [k for k in seen if k.startswith("len")], "a separate pass counted the rows"
    assert out.chunks[0] == (150, 150, 150, 150)


def test_pipeline_trains_without_counting_rows_and_equals_the_in_memory_transform() -> None:
    df = _table(800)
    ddf = dd.from_pandas(df, npartitions=4)
    ours, theirs = _pair()
    pipe = make_pipeline(
        ours, dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0)
    )
    with dask.config.set(scheduler="sync"), executed_keys() as seen:
        pipe.fit(ddf[FEATURES], ddf.y, parallelincremental__classes=[0, 1])
    assert not [k for k in seen if k.startswith("len")], "a separate pass counted the rows"
    # The same model trained on scikit-learn's transform of the same rows, same blocks.
    Xt = theirs.fit_transform(df[FEATURES])
    lengths = (200, 200, 200, 200)
    ref = dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0).fit(
        dask.array.from_array(Xt, chunks=(lengths, -1)),
        dask.array.from_array(df.y.to_numpy(), chunks=(lengths,)),
        classes=[0, 1],
    )
    np.testing.assert_allclose(pipe[-1].estimator_.coef_, ref.estimator_.coef_, rtol=1e-12)
    held_out = _table(300, seed=1)
    np.testing.assert_array_equal(
        np.asarray(pipe.predict(dd.from_pandas(held_out[FEATURES], npartitions=2))),
        ref.predict(theirs.transform(held_out[FEATURES])),
    )


def test_columns_are_taken_by_name_in_any_order() -> None:
    df = _table()
    ours, theirs = _pair()
    ours.fit(dd.from_pandas(df[FEATURES], npartitions=3))
    theirs.fit(df[FEATURES])
    shuffled = dd.from_pandas(df[["d", "c", "b", "a"]], npartitions=2)
    np.testing.assert_allclose(
        ours.transform(shuffled).compute(), theirs.transform(df[FEATURES]), rtol=1e-12
    )
    with pytest.raises(InputError, match=r"columns are missing: \['d'\]"):
        ours.transform(dd.from_pandas(df[["a", "b", "c"]], npartitions=2))


def test_pandas_output_is_a_lazy_dask_frame() -> None:
    df = _table()
    ours, theirs = _pair()
    ours.set_output(transform="pandas")
    theirs.set_output(transform="pandas")
    out = ours.fit_transform(dd.from_pandas(df[FEATURES], npartitions=3))
    assert isinstance(out, dd.DataFrame)
    pd.testing.assert_frame_equal(out.compute(), theirs.fit_transform(df[FEATURES]))


def test_a_pandas_output_pipeline_predicts_a_series_aligned_with_the_partitions() -> None:
    """With set_output(transform="pandas"), a Pipeline's predict of a dask DataFrame is a lazy
    dask Series on the frame's partitions and index, equal to the array path's predictions; a
    sparse one-hot step is refused (scikit-learn's rule) before any task runs."""
    df = _table(800)
    ddf = dd.from_pandas(df[[*FEATURES, "y"]], npartitions=4)
    encoded = (dp.OneHotEncoder(sparse_output=False), ["c"])
    pipe = make_pipeline(
        dp.make_column_transformer(encoded, (dp.StandardScaler(), ["a", "b", "d"])),
        dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0),
    )
    arrays = pipe.fit(ddf[FEATURES], ddf.y).predict(ddf[FEATURES])
    pipe.set_output(transform="pandas")
    series = pipe.fit(ddf[FEATURES], ddf.y).predict(ddf[FEATURES])
    assert isinstance(series, dd.Series)
    assert series.npartitions == ddf.npartitions
    out = series.compute()
    pd.testing.assert_index_equal(out.index, df.index)
    np.testing.assert_array_equal(out.to_numpy(), arrays.compute())
    sparse = make_pipeline(
        dp.make_column_transformer((dp.OneHotEncoder(), ["c"])),
        dp.ParallelIncremental(SGDClassifier()),
    ).set_output(transform="pandas")
    with dask.config.set(scheduler="sync"), executed_keys() as seen:
        with pytest.raises(InputError, match="sparse_output=False"):
            sparse.fit(ddf[FEATURES], ddf.y)
        with pytest.raises(InputError, match="sparse_output=False"):
            dp.OneHotEncoder().set_output(transform="pandas").fit_transform(ddf[["c"]])
    assert not [k for k in seen if not k.startswith(("columns-", "encoder-", "read"))], seen


def test_stateful_scikit_learn_transformers_and_text_into_scalers_are_refused() -> None:
    ddf = dd.from_pandas(_table()[FEATURES], npartitions=2)
    with pytest.raises(InputError, match=r"'standardscaler' \(StandardScaler\) learns from"):
        dp.make_column_transformer((StandardScaler(), ["a"])).fit(ddf)
    with pytest.raises(InputError, match="selects columns that are not numbers: c"):
        dp.make_column_transformer((dp.StandardScaler(), ["a", "c"])).fit(ddf)
    with pytest.raises(InputError, match=r"in a list \(\[name\]\)"):
        dp.make_column_transformer((dp.StandardScaler(), "a")).fit(ddf)
    passthrough = dp.make_column_transformer((dp.StandardScaler(), ["a"]), remainder="passthrough")
    with pytest.raises(InputError, match="not numbers"):
        passthrough.fit_transform(ddf).compute()


def test_column_selectors_and_remainder_follow_scikit_learn() -> None:
    df = _table()[FEATURES]
    selector = compose.make_column_selector(dtype_include="number")
    ours = dp.make_column_transformer((dp.MaxAbsScaler(), selector), remainder="drop")
    out = ours.fit_transform(dd.from_pandas(df, npartitions=3)).compute()
    from sklearn.preprocessing import MaxAbsScaler

    theirs = compose.make_column_transformer((MaxAbsScaler(), selector), remainder="drop")
    np.testing.assert_allclose(out, theirs.fit_transform(df), rtol=1e-12)
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())


def test_save_and_load_round_trip(tmp_path: Any) -> None:
    df = _table()
    ours, _ = _pair()
    ours.fit(dd.from_pandas(df[FEATURES], npartitions=3))
    dp.save(ours, tmp_path / "ct.dp")
    loaded = dp.load(tmp_path / "ct.dp", allow_unsigned=True)
    np.testing.assert_array_equal(loaded.transform(df[FEATURES]), ours.transform(df[FEATURES]))


# --------------------------------------------------------------------------------------------
# inside the searches: the column step fitted per fold, from one pass


def _search_data(n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z", "w"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "d": rng.normal(size=n) * 2,
        }
    )
    df["y"] = ((df.a + (df.c == "x") * 1.5 + rng.normal(size=n) * 0.5) > 0.5).astype(int)
    return df


def test_search_fits_the_column_step_per_fold_as_scikit_learn_would() -> None:
    """GaussianNB is exact: each fold's score equals scikit-learn's pipeline fitted in memory
    on that fold's training rows (the column step included) and scored on its test rows."""
    from sklearn.naive_bayes import GaussianNB
    from sklearn.preprocessing import OneHotEncoder

    df = _search_data()
    ddf = dd.from_pandas(df, npartitions=6)
    features = ["a", "c", "d"]
    ours = make_pipeline(
        dp.make_column_transformer(
            (dp.StandardScaler(), ["a", "d"]),
            (dp.OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["c"]),
        ),
        dp.ParallelIncremental(GaussianNB()),
    )
    grid = {"parallelincremental__estimator__var_smoothing": [1e-9, 1e-2]}
    search = dp.GridSearchCV(ours, grid, cv=3, random_state=0).fit(ddf[features], ddf.y)
    lengths = ddf.map_partitions(len).compute().tolist()
    starts = np.cumsum([0, *lengths])
    for k, (train, test) in enumerate(search.folds_):
        rows = lambda blocks: np.concatenate([np.arange(starts[b], starts[b + 1]) for b in blocks])  # noqa: E731
        tr, te = df.iloc[rows(train)], df.iloc[rows(test)]
        for c, smoothing in enumerate(grid["parallelincremental__estimator__var_smoothing"]):
            theirs = make_pipeline(
                compose.make_column_transformer(
                    (StandardScaler(), ["a", "d"]),
                    (OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["c"]),
                ),
                GaussianNB(var_smoothing=smoothing),
            ).fit(tr[features], tr.y)
            expected = theirs.score(te[features], te.y)
            assert search.cv_results_[f"split{k}_test_score"][c] == pytest.approx(
                expected, abs=1e-12
            )
    # The best pipeline, refitted on all rows, takes columns by name.
    shuffled = ddf[["d", "c", "a"]]
    assert search.score(shuffled, ddf.y) == pytest.approx(search.score(ddf[features], ddf.y))
    np.testing.assert_array_equal(
        np.asarray(search.predict(shuffled)), np.asarray(search.predict(ddf[features]))
    )
    assert list(search.feature_names_in_) == features


def test_search_refuses_what_it_cannot_do_with_a_column_step() -> None:
    df = _search_data(300)
    ddf = dd.from_pandas(df, npartitions=4)
    pipe = make_pipeline(
        dp.make_column_transformer((dp.StandardScaler(), ["a", "d"])),
        dp.ParallelIncremental(SGDClassifier(random_state=0)),
    )
    with pytest.raises(InputError, match="parameters of the ColumnTransformer step"):
        dp.GridSearchCV(pipe, {"columntransformer__remainder": ["drop", "passthrough"]}, cv=2).fit(
            ddf[["a", "c", "d"]], ddf.y
        )
    grid = {"parallelincremental__estimator__alpha": [1e-4]}
    with pytest.raises(InputError, match="takes a dask DataFrame"):
        dp.GridSearchCV(pipe, grid, cv=2).fit(df[["a", "c", "d"]], df.y)


@pytest.mark.parametrize("search", ["halving", "randomized"])
def test_other_searches_with_a_column_step_save_and_load(search: str, tmp_path: Any) -> None:
    df = _search_data(900)
    ddf = dd.from_pandas(df, npartitions=6)
    features = ["a", "c", "d"]
    step = dp.make_column_transformer(
        (dp.StandardScaler(), ["a", "d"]),
        (dp.OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["c"]),
    )
    pipe = make_pipeline(step, dp.ParallelIncremental(SGDClassifier(random_state=0)))
    grid = {"parallelincremental__estimator__alpha": [1e-5, 1e-4, 1e-3, 1e-2]}
    fitted = (
        dp.HalvingSearchCV(pipe, grid, cv=3, random_state=0)
        if search == "halving"
        else dp.RandomizedSearchCV(pipe, grid, n_iter=3, cv=3, random_state=0)
    ).fit(ddf[features], ddf.y)
    assert not hasattr(step, "transformers_"), "the search fitted the user's estimator"
    dp.save(fitted, tmp_path / "search.dp")
    loaded = dp.load(tmp_path / "search.dp", allow_unsigned=True)
    np.testing.assert_array_equal(
        loaded.predict(ddf[features]).compute(), fitted.predict(ddf[features]).compute()
    )


def test_metrics_and_searches_take_pipelines_that_encode_text() -> None:
    """daskpar.metrics.score on a table runs the pipeline's column step first, as the
    pipeline's own score does; a column step with pandas output works in a search."""
    from daskpar import metrics

    df = _search_data(600)
    X, y = dd.from_pandas(df[["a", "c", "d"]], npartitions=4), dd.from_pandas(df.y, npartitions=4)
    step = dp.make_column_transformer(
        (dp.OneHotEncoder(sparse_output=False), ["c"]), remainder="passthrough"
    ).set_output(transform="pandas")
    pipe = make_pipeline(step, dp.ParallelIncremental(SGDClassifier(random_state=0)))
    pipe.fit(X, y)
    assert metrics.score(pipe, X, y, "accuracy") == pytest.approx(pipe.score(X, y), abs=1e-12)
    search = dp.GridSearchCV(pipe, {"parallelincremental__estimator__alpha": [1e-4, 1e-3]}, cv=2)
    search.fit(X, y)
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y), abs=1e-12)
