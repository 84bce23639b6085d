"""Searches over a Pipeline with a PCA step: every n_components from one pass per fold.

The search reads the data once for the PCA's per-fold states (the factor of the centred
rows, the same for every ``n_components`` and ``whiten``), once before that per scaler step
in front of it, and finalizes each candidate's PCA on the client. Its results must be those
of fitting every candidate as its own Pipeline on the same folds, one at a time.

Tolerances: the PCA is exact both ways; the two differ only in how the tree groups the
blocks' factors (the search's tree spans every block, a fold's own fit only the fold's) and
the models' states, that is in float rounding. The fitted PCAs agree to 1e-10 (rounding
amplified by at most the ratio of the largest variance to the smallest gap between kept
ones, about 10 here); the scores to a relative 1e-9 (r2, after three SGD epochs on the
projected rows) and exactly for accuracy (a class flips only for a row within rounding of
the decision boundary, and there is none).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from daskpar_testing import as_dask, interrupted_then_resumed, no_task_runs
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline, make_pipeline

import daskpar as dp
import daskpar._search._passes as passes_module
from daskpar._decomposition import CentredFactor
from daskpar._search._candidates import block_folds
from daskpar._search._passes import fit_leading_steps
from daskpar._search._stacked import STACK_KEY

CHUNK = 500
N_BLOCKS = 12
EPOCHS = 3
PCA_RTOL = 1e-10
SCORE_RTOL = 1e-9
N_COMPONENTS = [2, 5, 10, 0.9]


@pytest.fixture(scope="module")
def classification() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=CHUNK * N_BLOCKS, n_features=12, n_informative=8, n_redundant=0, random_state=0
    )
    # Full rank (no redundant features: the components of zero variance would be any basis
    # of their subspace), features of distinct spreads about distinct means: clear gaps.
    return X * np.linspace(0.5, 3.0, 12) + np.arange(12), y


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = make_regression(
        n_samples=CHUNK * N_BLOCKS,
        n_features=12,
        n_informative=6,
        noise=5.0,
        coef=True,
        random_state=0,
    )
    return X * np.linspace(0.5, 3.0, 12) + 10.0, y / y.std()


def classifier_pipe(*leading: Any, **kw: Any) -> Pipeline:
    model = dp.ParallelIncremental(
        SGDClassifier(), **{"epochs": EPOCHS, "random_state": 0, "shuffle": False, **kw}
    )
    return make_pipeline(*leading, model)


def regressor_pipe(*leading: Any) -> Pipeline:
    model = dp.ParallelIncremental(
        SGDRegressor(eta0=0.005), epochs=EPOCHS, random_state=0, shuffle=False
    )
    return make_pipeline(*leading, model)


def rows_of(blocks: list[int]) -> np.ndarray:
    return np.concatenate([np.arange(b * CHUNK, (b + 1) * CHUNK) for b in blocks])


def fit_alone(pipe: Pipeline, params: dict[str, Any], Xd: da.Array, yd: da.Array) -> Pipeline:
    """One candidate fitted as its own Pipeline (a PCA pass, then its epochs)."""
    return clone(pipe).set_params(**params).fit(Xd, yd)


def score_alone(
    alone: Pipeline, scorer: Callable[..., float], X: np.ndarray, y: np.ndarray
) -> float:
    return float(scorer(alone[-1].estimator_, alone[:-1].transform(X), y))


def loop_split_scores(
    search: Any,
    pipe: Pipeline,
    data: tuple[np.ndarray, np.ndarray],
    scoring: str,
    params: list[dict[str, Any]],
) -> np.ndarray:
    """(candidate, fold) scores of every candidate fitted alone on each of the search's folds."""
    X, y = data
    Xd, yd = as_dask(X, y, CHUNK)
    scorer = get_scorer(scoring)
    scores = np.empty((len(params), len(search.folds_)))
    for c, candidate in enumerate(params):
        for k, (train, test) in enumerate(search.folds_):
            alone = fit_alone(pipe, candidate, Xd.blocks[train], yd.blocks[train])
            scores[c, k] = score_alone(alone, scorer, X[rows_of(test)], y[rows_of(test)])
    return scores


def split_scores(search: Any) -> np.ndarray:
    results = search.cv_results_
    return np.stack(
        [results[f"split{k}_test_score"] for k in range(search.n_splits_)], axis=1
    ).astype(float)


def assert_same_pca(ours: dp.PCA, expected: dp.PCA, rtol: float = PCA_RTOL) -> None:
    assert ours.n_components_ == expected.n_components_
    assert ours.get_params() == expected.get_params()
    for name in ("components_", "explained_variance_", "singular_values_", "mean_"):
        np.testing.assert_allclose(
            getattr(ours, name), getattr(expected, name), rtol=rtol, atol=rtol, err_msg=name
        )
    np.testing.assert_allclose(ours.noise_variance_, expected.noise_variance_, rtol=rtol)


def assert_same_best_estimator(search: Any, pipe: Pipeline, Xd: da.Array, yd: da.Array) -> None:
    """The refit is the best candidate's Pipeline fitted on all of X: its PCA is dp.PCA's."""
    best = search.best_estimator_
    expected = fit_alone(pipe, search.best_params_, Xd, yd)
    pca = clone(expected.named_steps["pca"]).fit(best[:-2].transform(Xd) if len(best) > 2 else Xd)
    assert_same_pca(best.named_steps["pca"], pca, rtol=0)
    assert_same_pca(best.named_steps["pca"], expected.named_steps["pca"], rtol=0)
    np.testing.assert_array_equal(best[-1].estimator_.coef_, expected[-1].estimator_.coef_)


# --------------------------------------------------------------------------------------------
# Equal to a candidate-by-candidate loop, for each search


def test_grid_equals_a_loop_of_pipelines(classification: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = classification
    Xd, yd = as_dask(X, y, CHUNK)
    pipe = classifier_pipe(dp.PCA())
    grid = {
        "pca__n_components": N_COMPONENTS,
        "parallelincremental__estimator__alpha": [1e-4, 1e-2],
    }
    search = dp.GridSearchCV(pipe, grid, cv=3).fit(Xd, yd)
    params = search.cv_results_["params"]
    assert params == list(ParameterGrid(grid))
    expected = loop_split_scores(search, pipe, classification, "accuracy", params)
    # Accuracy: a count of rows, the same count (see the module's docstring).
    np.testing.assert_array_equal(split_scores(search), expected)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected.mean(axis=1))
    np.testing.assert_allclose(search.cv_results_["std_test_score"], expected.std(axis=1))
    assert search.best_params_ == params[int(np.argmax(expected.mean(axis=1)))]
    assert_same_best_estimator(search, pipe, Xd, yd)


def test_randomized_with_scaler_and_whiten_equals_a_loop(
    regression: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = regression
    Xd, yd = as_dask(X, y, CHUNK)
    pipe = regressor_pipe(dp.StandardScaler(), dp.PCA())
    distributions = {
        "pca__n_components": [3, 6, 0.8],
        "pca__whiten": [False, True],
        "parallelincremental__estimator__alpha": [1e-4, 1e-2],
    }
    search = dp.RandomizedSearchCV(
        pipe, distributions, n_iter=5, random_state=1, cv=3, scoring="r2"
    ).fit(Xd, yd)
    params = search.cv_results_["params"]
    assert {p["pca__whiten"] for p in params} == {False, True}
    expected = loop_split_scores(search, pipe, regression, "r2", params)
    np.testing.assert_allclose(split_scores(search), expected, rtol=SCORE_RTOL)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], expected.mean(axis=1), rtol=SCORE_RTOL
    )
    np.testing.assert_allclose(
        search.cv_results_["std_test_score"], expected.std(axis=1), rtol=1e-7
    )
    assert search.best_params_ == params[int(np.argmax(expected.mean(axis=1)))]
    best = search.best_estimator_
    expected_best = fit_alone(pipe, search.best_params_, Xd, yd)
    assert_same_pca(best.named_steps["pca"], expected_best.named_steps["pca"], rtol=0)
    np.testing.assert_array_equal(best[-1].estimator_.coef_, expected_best[-1].estimator_.coef_)


def test_halving_equals_a_loop_of_pipelines(classification: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = classification
    Xd, yd = as_dask(X, y, CHUNK)
    pipe = classifier_pipe(dp.PCA())
    grid = {
        "pca__n_components": N_COMPONENTS,
        "parallelincremental__estimator__alpha": [1e-4, 1e-1],
    }
    search = dp.HalvingSearchCV(pipe, grid, cv=3, factor=2).fit(Xd, yd)
    results = pd.DataFrame(search.cv_results_)
    assert search.n_candidates_[0] == 8
    scorer = get_scorer("accuracy")
    for _, row in results.iterrows():
        params = {**row["params"], "parallelincremental__epochs": row["n_resources"]}
        scores = []
        for train, test in search.folds_:
            alone = fit_alone(pipe, params, Xd.blocks[train], yd.blocks[train])
            scores.append(score_alone(alone, scorer, X[rows_of(test)], y[rows_of(test)]))
        assert [row[f"split{k}_test_score"] for k in range(3)] == scores
        assert row["mean_test_score"] == pytest.approx(np.mean(scores), rel=1e-12)
    last = results[results["iter"] == search.n_iterations_ - 1]
    assert search.best_params_ == last.loc[last["mean_test_score"].idxmax(), "params"]
    assert_same_best_estimator(search, pipe, Xd, yd)


# --------------------------------------------------------------------------------------------
# One pass for the PCA, whatever the number of n_components values


def counting_reader(block: np.ndarray, block_info: Any = None, *, reads: list[int]) -> np.ndarray:
    """An instrumented block reader: records which block was read."""
    reads.append(block_info[0]["chunk-location"][0])
    return block


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("n_components", [[5], N_COMPONENTS])
def test_one_pass_for_every_n_components(
    classification: tuple[np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    scaled: bool,
    n_components: list[int | float],
) -> None:
    X, y = classification
    reads: list[int] = []
    Xd = da.from_array(X, chunks=(CHUNK, -1)).map_blocks(
        counting_reader, reads=reads, dtype=X.dtype
    )
    yd = da.from_array(y, chunks=CHUNK)
    # Count the blocks' PCA states: once per block, shared by every fold and n_components.
    real, states = CentredFactor.of, [0]

    def counted(block: np.ndarray) -> CentredFactor:
        states[0] += 1
        return real(block)

    monkeypatch.setattr(CentredFactor, "of", counted)
    leading = [dp.StandardScaler(), dp.PCA()] if scaled else [dp.PCA()]
    grid = {
        "pca__n_components": n_components,
        "parallelincremental__estimator__alpha": [1e-4, 1e-2],
    }
    search = dp.GridSearchCV(classifier_pipe(*leading), grid, cv=3, refit=False)
    search.fit(Xd, yd)
    # Each block: once per epoch, once to score the last models, once for the PCA's states
    # (and the labels), and once before that for the scaler's.
    expected = EPOCHS + 1 + 1 + int(scaled)
    assert Counter(reads) == dict.fromkeys(range(N_BLOCKS), expected)
    # Each block's state is computed once for every n_components; scaled, once per fold that
    # trains on the block (2 of the 3), since each fold's scaler scales it differently.
    assert states[0] == N_BLOCKS * (2 if scaled else 1)
    assert len(search.cv_results_["params"]) == 2 * len(n_components)


def test_each_fold_pca_is_the_fold_s_own_pca(
    classification: tuple[np.ndarray, np.ndarray],
) -> None:
    """The fitted steps of every setting and fold, from one pass per step, against the same
    steps fitted on the fold's blocks alone: floats, whitening and scalers included."""
    X, y = classification
    Xd, yd = as_dask(X, y, CHUNK)
    configs = [
        [dp.PCA(n_components=0.9, whiten=True)],
        [dp.PCA(n_components=3)],
        [dp.PCA()],
        [dp.MinMaxScaler(), dp.PCA(n_components=0.75, whiten=True)],
        [dp.PCA(n_components=4), dp.StandardScaler()],
    ]
    folds = block_folds(3, Xd.chunks[0], shuffle=True, random_state=np.random.RandomState(0))
    fitted, _ = fit_leading_steps(Xd, yd, configs, folds, find_labels=False, split_every=3)
    for c, config in enumerate(configs):
        for k, (train, test) in enumerate(folds):
            alone = make_pipeline(*(clone(step) for step in config))
            alone.fit(Xd.blocks[sorted(train)])
            steps = fitted[(c, k)]
            pca = next(step for step in steps if isinstance(step, dp.PCA))
            assert_same_pca(pca, alone.named_steps["pca"])
            rows = X[rows_of(sorted(test))]
            ours = rows
            for step in steps:
                ours = step.transform(ours)
            np.testing.assert_allclose(ours, alone.transform(rows), rtol=PCA_RTOL, atol=PCA_RTOL)
    # A float keeps the fewest components past the share, as dp.PCA does.
    assert {fitted[(0, k)][0].n_components_ for k in range(3)} <= set(range(1, 13))


def test_search_with_pca_resumes_from_its_checkpoint(
    classification: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """The fitted PCAs of every setting and fold are in the checkpoint: a resumed search
    reads no prepare pass again and ends with the same results."""
    Xd, yd = as_dask(*classification, CHUNK)
    grid = {"pca__n_components": [2, 0.9], "parallelincremental__estimator__alpha": [1e-4]}

    def make(folder: Path | None) -> dp.GridSearchCV:
        return dp.GridSearchCV(classifier_pipe(dp.PCA()), grid, cv=3, checkpoint=folder)

    whole = make(None).fit(Xd, yd)
    resumed, rerun = interrupted_then_resumed(make, lambda s: s.fit(Xd, yd), tmp_path, at=2)
    assert rerun == EPOCHS + 1 - 1
    np.testing.assert_array_equal(split_scores(resumed), split_scores(whole))
    assert_same_pca(
        resumed.best_estimator_.named_steps["pca"], whole.best_estimator_.named_steps["pca"], 0
    )


# --------------------------------------------------------------------------------------------
# Candidates trained together: stacks of equal width


def test_stacks_are_per_n_components(
    classification: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adaptive candidates stack by fold and leading-step setting, so a stack's models
    share their PCA, hence their width; the scores are those of training each alone."""
    X, y = classification
    Xd, yd = as_dask(X, y, CHUNK)
    pipe = make_pipeline(
        dp.PCA(), dp.ParallelIncremental(dp.AdaptiveSGDClassifier(), epochs=2, random_state=0)
    )
    grid = {
        "pca__n_components": [3, 6],
        "parallelincremental__estimator__alpha": [0.0, 1e-4, 1e-2],
    }
    real, seen = passes_module.candidate_stacks, []

    def spy(plan: Any, *args: Any) -> Any:
        stacks = real(plan, *args)
        seen.append((plan, stacks))
        return stacks

    monkeypatch.setattr(passes_module, "candidate_stacks", spy)
    together = dp.GridSearchCV(pipe, grid, cv=3, refit=False).fit(Xd, yd)
    plan, stacks = seen[0]
    # 2 settings x 3 folds, each a stack of the 3 alphas.
    assert sorted(len(s) for s in stacks.train) == [3] * 6
    for stack in stacks.train:
        assert len({(plan.models[j].config, plan.models[j].fold) for j in stack}) == 1
    with dask.config.set({STACK_KEY: False}):
        alone = dp.GridSearchCV(pipe, grid, cv=3, refit=False).fit(Xd, yd)
    for k in range(3):
        np.testing.assert_allclose(
            together.cv_results_[f"split{k}_test_score"],
            alone.cv_results_[f"split{k}_test_score"],
            rtol=SCORE_RTOL,
        )


# --------------------------------------------------------------------------------------------
# Refused before any task


def _search(pipe: Pipeline, grid: dict[str, Any]) -> dp.GridSearchCV:
    return dp.GridSearchCV(pipe, grid, cv=3)


@pytest.mark.parametrize(
    ("leading", "grid", "message"),
    [
        ([dp.PCA()], {"pca__n_components": [2, 13]}, r"n_components=13.*min\(n_samples, n_f"),
        ([dp.PCA()], {"pca__n_components": [0]}, r"n_components=0, which leaves the model"),
        ([dp.PCA()], {"pca__n_components": [-1]}, r"'n_components' parameter of PCA"),
        ([dp.PCA()], {"pca__n_components": [1.5]}, r"'n_components' parameter of PCA"),
        ([dp.PCA()], {"pca__n_components": ["mle"]}, r"'n_components' parameter of PCA"),
        (
            [dp.PCA(svd_solver="randomized")],
            {"pca__n_components": [2]},
            r"svd_solver='randomized'.*Set svd_solver='full'",
        ),
        ([dp.PCA(svd_solver="arpack")], {"pca__n_components": [2]}, r"svd_solver='arpack'"),
        (
            [dp.TruncatedSVD(n_components=2)],
            {},
            r"TruncatedSVD step is not fitted inside a search.*use daskpar.PCA",
        ),
        ([dp.PCA(), dp.PCA()], {}, r"more than one PCA step"),
    ],
)
def test_bad_pca_steps_are_refused_before_any_task(
    classification: tuple[np.ndarray, np.ndarray],
    leading: list[Any],
    grid: dict[str, Any],
    message: str,
) -> None:
    Xd, yd = as_dask(*classification, CHUNK)
    with no_task_runs(), pytest.raises(ValueError, match=message):
        _search(classifier_pipe(*leading), grid).fit(Xd, yd, classes=[0, 1])


def test_more_components_than_a_fold_has_rows_is_refused(
    classification: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = classification
    # 24 rows of 30 features in 6 blocks: each fold trains on 16 rows.
    X = np.hstack([X, X[:, :12], X[:, :6]])[:24] + np.arange(30)
    Xd, yd = as_dask(X, y[:24], 4)
    with no_task_runs(), pytest.raises(dp.InputError, match=r"fold 0 gives.*=16 \(30 f"):
        _search(classifier_pipe(dp.PCA()), {"pca__n_components": [18]}).fit(Xd, yd, classes=[0, 1])


def test_auto_solver_on_wide_data_is_refused(classification: tuple[np.ndarray, np.ndarray]) -> None:
    Xd = da.zeros((3000, 1001), chunks=(500, -1))
    yd = da.from_array(np.arange(3000) % 2, chunks=500)
    with no_task_runs(), pytest.raises(dp.InputError, match=r"svd_solver='auto'.*1001 feat"):
        _search(classifier_pipe(dp.PCA()), {"pca__n_components": [5]}).fit(Xd, yd, classes=[0, 1])


def test_sparse_x_is_refused(classification: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = classification
    Xd = da.from_array(X, chunks=(CHUNK, -1)).map_blocks(sp.csr_matrix)
    yd = da.from_array(y, chunks=CHUNK)
    with no_task_runs(), pytest.raises(dp.InputError, match="PCA cannot fit sparse X"):
        _search(classifier_pipe(dp.PCA()), {"pca__n_components": [5]}).fit(Xd, yd, classes=[0, 1])
