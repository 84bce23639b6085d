"""Searches: every candidate and fold trained from one read per block, against scikit-learn."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback
from daskpar_testing import as_dask
from distributed.utils import key_split
from scipy.stats import loguniform
from sklearn import model_selection
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.metrics import get_scorer
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import daskpar as dp

EPOCHS = 3
GRID = {"alpha": [1e-4, 1e-2, 1e-1], "penalty": ["l1"]}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=6000, n_features=12, n_informative=6, n_redundant=2, random_state=0
    )
    return StandardScaler().fit_transform(X), y


def model(**kw: Any) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(SGDClassifier(), **{"epochs": EPOCHS, "random_state": 0, **kw})


def nested(grid: dict[str, Any], prefix: str = "estimator__") -> dict[str, Any]:
    return {prefix + k: v for k, v in grid.items()}


class StageCounter(Callback):
    """Counts the tasks run per stage name (the dashboard's label)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        self.counts[key_split(key)] += 1


def test_same_best_params_as_sklearn_on_the_same_folds(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = data
    Xd, yd = as_dask(X, y, 500)
    search = dp.GridSearchCV(model(), nested(GRID), cv=3).fit(Xd, yd)
    # scikit-learn on the in-memory data, with the same folds (whole blocks).
    test_fold = np.empty(len(y), dtype=int)
    for k, (_, test_blocks) in enumerate(search.folds_):
        for b in test_blocks:
            test_fold[b * 500 : (b + 1) * 500] = k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = model_selection.GridSearchCV(
            SGDClassifier(max_iter=EPOCHS, tol=None, random_state=0),
            GRID,
            cv=model_selection.PredefinedSplit(test_fold),
        ).fit(X, y)
    assert search.best_params_ == nested(reference.best_params_)
    # Averaged parallel SGD is not sequential SGD: mean scores agree to 2 points.
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], atol=0.02
    )
    # The same columns as scikit-learn's, modulo the parameter names.
    ours = {k.replace("param_estimator__", "param_") for k in search.cv_results_}
    assert ours == set(reference.cv_results_)
    assert search.best_score_ == search.cv_results_["mean_test_score"][search.best_index_]
    assert isinstance(search.best_estimator_, dp.ParallelIncremental)


def test_each_fold_score_is_the_trial_models_score(data: tuple[np.ndarray, np.ndarray]) -> None:
    """Without shuffling, a trial's model is a plain fit on its fold's training blocks."""
    X, y = data
    Xd, yd = as_dask(X, y, 500)
    search = dp.GridSearchCV(model(shuffle=False), nested(GRID), cv=3).fit(Xd, yd)
    for c, params in enumerate(search.cv_results_["params"]):
        for k, (train, test) in enumerate(search.folds_):
            alone = model(shuffle=False).set_params(**params)
            alone.fit(Xd.blocks[train], yd.blocks[train])
            rows = np.concatenate([np.arange(b * 500, (b + 1) * 500) for b in test])
            expected = alone.estimator_.score(X[rows], y[rows])
            assert search.cv_results_[f"split{k}_test_score"][c] == pytest.approx(expected)


def counting_reader(block: np.ndarray, block_info: Any = None, *, reads: list[int]) -> np.ndarray:
    """An instrumented block reader: records which block was read."""
    reads.append(block_info[0]["chunk-location"][0])
    return block


@pytest.mark.parametrize("scaled", [False, True])
def test_each_block_read_once_per_epoch(data: tuple[np.ndarray, np.ndarray], scaled: bool) -> None:
    X, y = data
    reads: list[int] = []
    Xd = da.from_array(X, chunks=(500, -1)).map_blocks(counting_reader, reads=reads, dtype=X.dtype)
    yd = da.from_array(y, chunks=500)
    estimator: Any = model()
    grid = nested(GRID)
    if scaled:
        estimator = make_pipeline(dp.StandardScaler(), estimator)
        grid = nested(grid, "parallelincremental__")
    search = dp.GridSearchCV(estimator, grid, cv=3, refit=False)
    search.fit(Xd, yd, classes=[0, 1])
    # 3 candidates x 3 folds = 9 models, yet each block is read once per epoch, once more to
    # score the final models, and once to fit the scaler (once per fold, for all candidates).
    expected = EPOCHS + 1 + int(scaled)
    assert Counter(reads) == dict.fromkeys(range(12), expected)


def test_scaler_fitted_once_per_fold(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    Xd, yd = as_dask(X * 100 + 5, y, 500)
    pipe = make_pipeline(dp.StandardScaler(), model())
    grid = {
        "standardscaler__with_mean": [True, False],
        "parallelincremental__estimator__alpha": [1e-4, 1e-2],
    }
    with StageCounter() as counter:
        search = dp.GridSearchCV(pipe, grid, cv=3, refit=False).fit(Xd, yd)
    # Two scaler settings x three folds, all from one pass over the blocks.
    assert counter.counts["prepare-block"] == 12
    assert counter.counts["search-block"] == 12 * (EPOCHS + 1)
    assert search.cv_results_["mean_test_score"].min() > 0.75


def test_halving_keeps_what_sklearn_scores_would_keep(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    Xd, yd = as_dask(X, y, 500)
    grid = nested({"alpha": [1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1], "penalty": ["l1"]})
    search = dp.HalvingSearchCV(model(shuffle=False), grid, cv=3, factor=2).fit(Xd, yd)
    results = pd.DataFrame(search.cv_results_)
    assert search.n_candidates_ == [6, 3, 2]
    assert search.n_resources_ == [1, 2, 3]
    scorer = get_scorer("accuracy")
    for it in range(search.n_iterations_):
        rows = results[results["iter"] == it]
        means = {}
        for _, row in rows.iterrows():
            scores = []
            for train, test in search.folds_:
                alone = dp.ParallelIncremental(
                    SGDClassifier(), epochs=row["n_resources"], shuffle=False
                ).set_params(**row["params"])
                alone.fit(Xd.blocks[train], yd.blocks[train])
                test_rows = np.concatenate([np.arange(b * 500, (b + 1) * 500) for b in test])
                scores.append(scorer(alone.estimator_, X[test_rows], y[test_rows]))
            means[row["param_estimator__alpha"]] = np.mean(scores)
            assert row["mean_test_score"] == pytest.approx(np.mean(scores))
        if it + 1 < search.n_iterations_:
            k = math.ceil(len(means) / 2)
            keep = sorted(means, key=means.__getitem__)[-k:]
            survivors = results[results["iter"] == it + 1]["param_estimator__alpha"]
            assert sorted(survivors) == sorted(keep)
    last = results[results["iter"] == search.n_iterations_ - 1]
    assert search.best_params_ == last.loc[last["mean_test_score"].idxmax(), "params"]


def test_randomized_search_samples_distributions(data: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*data, 1000)
    search = dp.RandomizedSearchCV(
        model(), {"estimator__alpha": loguniform(1e-5, 1e-1)}, n_iter=5, random_state=0, cv=2
    ).fit(Xd, yd)
    alphas = search.cv_results_["param_estimator__alpha"]
    assert len(set(alphas)) == len(alphas) == 5
    assert all(1e-5 <= a <= 1e-1 for a in alphas)
    assert search.cv_results_["param_estimator__alpha"].dtype == np.float64
    frame = pd.DataFrame(search.cv_results_)
    assert list(frame["rank_test_score"].sort_values()) == sorted(
        search.cv_results_["rank_test_score"]
    )


def test_multi_metric_and_refit_by_name(data: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*data, 1000)
    est = dp.ParallelIncremental(SGDClassifier(loss="log_loss"), epochs=2, random_state=0)
    search = dp.GridSearchCV(
        est,
        {"estimator__alpha": [1e-4, 1e-1]},
        scoring=["accuracy", "neg_log_loss"],
        refit="neg_log_loss",
        cv=3,
    ).fit(Xd, yd)
    results = search.cv_results_
    assert {"mean_test_accuracy", "rank_test_neg_log_loss", "split2_test_neg_log_loss"} <= set(
        results
    )
    assert search.best_index_ == int(np.argmax(results["mean_test_neg_log_loss"]))
    # score() uses the refit metric, computed on the workers.
    expected = get_scorer("neg_log_loss")(search.best_estimator_.estimator_, *data)
    assert search.score(Xd, yd) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(dp.InputError, match="refit must be the name of the scorer"):
        dp.GridSearchCV(est, {"estimator__alpha": [1e-4]}, scoring=["accuracy", "r2"]).fit(Xd, yd)
    no_refit = dp.GridSearchCV(
        est, {"estimator__alpha": [1e-4]}, scoring=["accuracy"], refit=False, cv=2
    ).fit(Xd, yd)
    assert not hasattr(no_refit, "best_estimator_")
    assert not hasattr(no_refit, "best_index_")


def test_predict_delegates_to_the_best_estimator(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    Xd, yd = as_dask(X, y, 1000)
    search = dp.GridSearchCV(model(), nested(GRID), cv=2).fit(Xd, yd)
    np.testing.assert_array_equal(
        search.predict(Xd).compute(), search.best_estimator_.estimator_.predict(X)
    )
    assert search.score(Xd, yd) == pytest.approx(search.best_estimator_.score(X, y))
    np.testing.assert_array_equal(search.classes_, [0, 1])


@pytest.mark.parametrize(
    ("cv", "n_folds"),
    [(4, 4), (0.25, 1), ([([0, 1, 2], [3, 4]), ([3, 4, 5], [0])], 2)],
)
def test_folds_are_whole_blocks(data: tuple[np.ndarray, np.ndarray], cv: Any, n_folds: int) -> None:
    Xd, yd = as_dask(*data, 500)
    search = dp.GridSearchCV(model(epochs=1), {"estimator__alpha": [1e-4]}, cv=cv, refit=False).fit(
        Xd, yd
    )
    assert search.n_splits_ == len(search.folds_) == n_folds
    for train, test in search.folds_:
        assert not set(train) & set(test)
    if isinstance(cv, int):
        tests = sorted(b for _, test in search.folds_ for b in test)
        assert tests == list(range(12))  # every block validates exactly once


def test_shuffled_folds_are_seeded(data: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*data, 500)

    def folds(seed: int) -> list[Any]:
        search = dp.GridSearchCV(
            model(epochs=1), {"estimator__alpha": [1e-4]}, shuffle=True, random_state=seed
        )
        return search.fit(Xd, yd).folds_

    assert folds(0) == folds(0) != folds(1)


def test_bad_searches(data: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*data, 1000)
    big = {"estimator__alpha": list(np.logspace(-6, 0, 50))}
    with StageCounter() as counter, pytest.raises(dp.InputError, match=r"150 models \(50 c"):
        dp.GridSearchCV(model(), big, max_trials=100).fit(Xd, yd)
    assert not counter.counts  # refused before any task ran
    with pytest.raises(dp.InputError, match=r"cv=7 .* X has 6 non-empty block"):
        dp.GridSearchCV(model(), {"estimator__alpha": [1e-4]}, cv=7).fit(Xd, yd)
    with pytest.raises(dp.InputError, match="Fold 0 of cv"):
        dp.GridSearchCV(model(), {"estimator__alpha": [1e-4]}, cv=[([0], [0])]).fit(Xd, yd)
    with pytest.raises(dp.InputError, match="take a ParallelIncremental"):
        dp.GridSearchCV(SGDClassifier(), {"alpha": [1e-4]}).fit(Xd, yd)
    with pytest.raises(dp.InputError, match="scoring='neg_log_loss' needs predict_proba"):
        dp.GridSearchCV(model(), {"estimator__alpha": [1e-4]}, scoring="neg_log_loss").fit(Xd, yd)


def test_regression_and_exact_models(regression: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = regression
    Xd, yd = as_dask(X, y, 500)
    search = dp.GridSearchCV(
        dp.ParallelIncremental(SGDRegressor(), epochs=2, random_state=0),
        {"estimator__alpha": [1e-4, 10.0]},
        scoring="neg_mean_squared_error",
    ).fit(Xd, yd)
    assert search.best_params_ == {"estimator__alpha": 1e-4}
    assert not hasattr(search, "classes_")
    # Naive Bayes is exact: one pass trains it, whatever epochs says, and each fold's model
    # is scikit-learn's on the fold's rows.
    Xc, yc = make_classification(n_samples=3000, n_features=5, random_state=0)
    Xd, yd = as_dask(Xc, yc, 500)
    nb = dp.GridSearchCV(
        dp.ParallelIncremental(GaussianNB(), epochs=5), {"estimator__var_smoothing": [1e-9, 1.0]}
    ).fit(Xd, yd)
    assert [r["n_trials_trained"] for r in nb.history_] == [6, 0]
    for c, params in enumerate(nb.cv_results_["params"]):
        for k, (train, test) in enumerate(nb.folds_):
            rows = np.concatenate([np.arange(b * 500, (b + 1) * 500) for b in train])
            test_rows = np.concatenate([np.arange(b * 500, (b + 1) * 500) for b in test])
            ref = GaussianNB(var_smoothing=params["estimator__var_smoothing"]).fit(
                Xc[rows], yc[rows]
            )
            expected = ref.score(Xc[test_rows], yc[test_rows])
            assert nb.cv_results_[f"split{k}_test_score"][c] == pytest.approx(expected)


def test_row_splitters_are_refused(data: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*data, 1000)
    with pytest.raises(dp.InputError, match="folds are whole row blocks"):
        dp.GridSearchCV(model(), {"estimator__alpha": [1e-4]}, cv=model_selection.KFold(3)).fit(
            Xd, yd
        )


@pytest.mark.parametrize("n_candidates", [1, 6])
def test_graph_does_not_grow_with_candidates(
    data: tuple[np.ndarray, np.ndarray], n_candidates: int
) -> None:
    """One task per block per pass, and one tree, however many models train."""
    Xd, yd = as_dask(*data, 1000)
    grid = {"estimator__alpha": list(np.logspace(-5, 0, n_candidates))}
    with StageCounter() as counter:
        dp.GridSearchCV(model(epochs=2), grid, cv=3, refit=False).fit(Xd, yd, classes=[0, 1])
    passes = 2 + 1  # two epochs and the final scoring
    assert counter.counts["search-block"] == 6 * passes
    assert counter.counts["search-final"] == passes
    assert counter.counts["search-merge"] == 1 * passes  # 6 blocks, split_every=8


def progress_totals(err: str, desc: str) -> list[str]:
    """The "done/total" of every state a tqdm bar ``desc`` was drawn in, in order."""
    states = [s for s in err.replace("\r", "\n").splitlines() if s.startswith(f"{desc}:")]
    return [s.split("|")[2].split()[0] for s in states]


def test_progress_bar_counts_candidates_times_epochs(
    data: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    Xd, yd = as_dask(*data, 1000)
    grid = {"estimator__alpha": [1e-4, 1e-3, 1e-2]}
    dp.GridSearchCV(model(epochs=2), grid, cv=3, refit=False, verbose=1).fit(Xd, yd)
    totals = progress_totals(capsys.readouterr().err, "search")
    # 3 candidates x 2 epochs, each step one candidate's epoch on its 3 folds.
    assert totals[0] == "0/6"
    assert totals[-1] == "6/6"


def test_progress_bar_of_halving_counts_the_candidates_left(
    data: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    Xd, yd = as_dask(*data, 500)
    grid = {"estimator__alpha": [1e-5, 1e-4, 1e-3, 1e-2]}
    halving = dp.HalvingSearchCV(model(epochs=3), grid, factor=2, cv=3, refit=False, verbose=1)
    search = halving.fit(Xd, yd)
    totals = progress_totals(capsys.readouterr().err, "search")
    trained = sum(r["n_trials_trained"] for r in search.history_) // 3  # models of 3 folds
    # Planned: 4 candidates x 3 epochs; the two dropped after the ranking of epoch 1 (which
    # arrives with epoch 2) leave one epoch untrained each: 4 + 4 + 2 trainings.
    assert totals[0] == "0/12"
    assert trained == 10
    assert totals[-1] == "10/10"


class FailsOnSomeBlocks(SGDClassifier):
    """An SGDClassifier whose partial_fit fails on blocks whose first row has a positive first
    feature,
    when its ``alpha`` is large: a failure only the tasks can see."""

    def partial_fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        if self.alpha > 0.5 and X[0, 0] > 0:
            raise RuntimeError("diverged on this block")
        return super().partial_fit(X, y, **kwargs)


def fitted_with_warnings(search: Any, X: da.Array, y: da.Array) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    return search, [str(w.message) for w in caught if w.category.__name__ == "FitFailedWarning"]


def test_invalid_candidate_scores_error_score_and_the_search_goes_on(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = as_dask(*data, 1000)
    model = dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0)
    grid = {"estimator__alpha": [1e-4, -1.0, 1e-2]}
    search, messages = fitted_with_warnings(dp.GridSearchCV(model, grid, cv=3), X, y)
    means = search.cv_results_["mean_test_score"]
    assert np.isnan(means[1])
    assert np.isfinite(means[[0, 2]]).all()
    assert search.cv_results_["rank_test_score"][1] == 3
    assert search.best_params_["estimator__alpha"] != -1.0
    assert len(messages) == 1
    assert "3 fits failed out of a total of 9" in messages[0]
    assert "'alpha' parameter of SGDClassifier" in messages[0]
    # The valid candidates are the ones a search without the invalid one gives.
    alone = dp.GridSearchCV(model, {"estimator__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    np.testing.assert_array_equal(means[[0, 2]], alone.cv_results_["mean_test_score"])
    # A number instead of NaN, as scikit-learn's error_score.
    search, _ = fitted_with_warnings(dp.GridSearchCV(model, grid, cv=3, error_score=-1.0), X, y)
    assert search.cv_results_["mean_test_score"][1] == -1.0


def test_fit_failing_in_a_task_scores_error_score(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = as_dask(*data, 1000)
    model = dp.ParallelIncremental(FailsOnSomeBlocks(), epochs=2, random_state=0)
    grid = {"estimator__alpha": [1e-4, 1.0]}
    search, messages = fitted_with_warnings(dp.GridSearchCV(model, grid, cv=3), X, y)
    scores = np.array([search.cv_results_[f"split{k}_test_score"][1] for k in range(3)])
    assert np.isnan(scores).any()
    assert np.isnan(search.cv_results_["mean_test_score"][1])
    assert search.best_params_ == {"estimator__alpha": 1e-4}
    assert "RuntimeError in partition" in messages[0]
    assert "diverged on this block" in messages[0]
    halving, messages = fitted_with_warnings(dp.HalvingSearchCV(model, grid, cv=3), X, y)
    assert halving.best_params_ == {"estimator__alpha": 1e-4}
    assert messages


def test_error_score_raise_fails_before_any_task(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = as_dask(*data, 1000)
    model = dp.ParallelIncremental(SGDClassifier(), epochs=2)
    ran: list[str] = []

    class Tasks(Callback):  # type: ignore[misc]
        def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
            ran.append(key_split(key))

    grid = {"estimator__alpha": [1e-4, -1.0]}
    with Tasks(), pytest.raises(ValueError, match="'alpha' parameter of SGDClassifier"):
        dp.GridSearchCV(model, grid, cv=3, error_score="raise").fit(X, y)
    assert ran == []
    failing = dp.ParallelIncremental(FailsOnSomeBlocks(alpha=1.0), epochs=1)
    search = dp.GridSearchCV(failing, {"estimator__eta0": [0.01]}, cv=3, error_score="raise")
    with pytest.raises(RuntimeError, match="diverged on this block"):
        search.fit(X, y)
    with pytest.raises(ValueError, match="All the 3 fits failed"):
        dp.GridSearchCV(model, {"estimator__alpha": [-1.0]}, cv=3).fit(X, y)


@pytest.mark.parametrize("estimator", [dp.Ridge(), dp.LinearRegression()])
def test_exact_least_squares_in_a_search_is_refused_with_the_way_out(estimator: Any) -> None:
    X, y = dp.make_regression(n_samples=600, n_features=3, chunks=100, random_state=0)
    with pytest.raises(dp.InputError, match=r"exact and fits in one pass: compare its candidates"):
        dp.GridSearchCV(estimator, {"fit_intercept": [True, False]}, cv=3).fit(X, y)
