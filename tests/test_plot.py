"""daskpar.plot draws what the estimators recorded, and renders to PNG with the Agg backend."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline

import daskpar as dp
import daskpar.plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    return dp.make_classification(n_samples=8000, n_features=5, chunks=500, random_state=0)


@pytest.fixture(scope="module")
def stopped_early(data: tuple[Any, Any]) -> dp.ParallelIncremental:
    model = dp.ParallelIncremental(
        SGDClassifier(alpha=1e-3),
        epochs=8,
        validation_fraction=0.25,
        early_stopping=True,
        n_iter_no_change=2,
        scoring="neg_log_loss",
        random_state=0,
    )
    return model.set_params(estimator__loss="log_loss").fit(*data)


@pytest.fixture(scope="module")
def grid(data: tuple[Any, Any]) -> dp.GridSearchCV:
    model = dp.ParallelIncremental(SGDClassifier(), epochs=3, random_state=0)
    params = {"estimator__alpha": [1e-5, 1e-3, 1e-1], "estimator__loss": ["hinge", "log_loss"]}
    return dp.GridSearchCV(model, params, cv=2).fit(*data)


@pytest.fixture(scope="module")
def halving(data: tuple[Any, Any]) -> dp.HalvingSearchCV:
    model = dp.ParallelIncremental(SGDClassifier(), epochs=4, random_state=0)
    params = {"estimator__alpha": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]}
    return dp.HalvingSearchCV(model, params, cv=2, factor=2).fit(*data)


def png_of(figure: Figure) -> bytes:
    """The figure rendered by Agg, checked to be a valid PNG that is not one flat colour."""
    assert matplotlib.get_backend().lower() == "agg"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    png = buffer.getvalue()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 5_000
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.ndim == 3
    assert pixels.shape[0] > 100
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # something drawn
    return png


def twin_of(ax: Axes) -> Axes:
    """The axes of the seconds: the twin that shares ``ax``'s x-axis."""
    twins = [
        other
        for other in ax.figure.axes
        if other is not ax and other.get_shared_x_axes().joined(ax, other)
    ]
    assert len(twins) == 1
    return twins[0]


# --------------------------------------------------------------------------------------------
# history


def test_history_draws_each_epoch_of_a_fit(stopped_early: dp.ParallelIncremental) -> None:
    records = stopped_early.history_
    assert all("validation_score" in r for r in records)
    ax = daskpar.plot.history(stopped_early)
    (line,) = [line for line in ax.lines if line.get_label().startswith("validation")]
    np.testing.assert_array_equal(line.get_xdata(), [r["epoch"] for r in records])
    np.testing.assert_array_equal(line.get_ydata(), [r["validation_score"] for r in records])
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "validation score (neg_log_loss)"
    # The dotted line at the epoch whose model early stopping kept.
    (best,) = [line for line in ax.lines if line.get_label() == "best epoch"]
    assert best.get_xdata()[0] == stopped_early.best_epoch_ < len(records)
    times = twin_of(ax)
    assert times.get_ylabel() == "seconds per epoch"
    heights = [bar.get_height() for bar in times.patches]
    np.testing.assert_allclose(heights, [r["seconds"] for r in records])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "validation score (neg_log_loss)",
        "best epoch",
        "seconds per epoch",
    ]
    png_of(ax.figure)


def test_history_draws_into_the_axes_given(data: tuple[Any, Any]) -> None:
    pipe = make_pipeline(
        dp.StandardScaler(),
        dp.ParallelIncremental(SGDClassifier(), epochs=2, validation_fraction=0.25, random_state=0),
    ).fit(*data)
    figure, (left, right) = plt.subplots(1, 2)
    assert daskpar.plot.history(pipe, ax=right) is right
    assert len(figure.axes) == 3  # the two, and the twin of the seconds
    assert not left.lines
    records = pipe[-1].history_
    np.testing.assert_array_equal(
        right.lines[0].get_ydata(), [r["validation_score"] for r in records]
    )
    assert right.get_title() == "Pipeline ending in ParallelIncremental(SGDClassifier)"
    assert right.get_ylabel() == "validation score (accuracy)"
    png_of(figure)


def test_history_without_validation_says_how_to_get_it(data: tuple[Any, Any]) -> None:
    model = dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0).fit(*data)
    ax = daskpar.plot.history(model)
    assert len(ax.lines) == 0
    assert any("validation_fraction" in text.get_text() for text in ax.texts)
    assert len(twin_of(ax).patches) == 2
    png_of(ax.figure)


def test_history_of_a_search_is_its_best_candidate(grid: dp.GridSearchCV) -> None:
    records = grid.history_
    ax = daskpar.plot.history(grid)
    (line,) = ax.lines
    # Scores of the models after 1, 2 and 3 epochs (each read with the pass that follows).
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    scored = [r["best_mean_score"] for r in records if "best_mean_score" in r]
    np.testing.assert_array_equal(line.get_ydata(), scored)
    assert scored[-1] == grid.best_score_
    # One bar per epoch: the last pass, which only scores, is left out.
    seconds = [bar.get_height() for bar in twin_of(ax).patches]
    np.testing.assert_allclose(seconds, [r["seconds"] for r in records[:3]])
    assert ax.get_ylabel() == "best candidate's mean validation score"
    png_of(ax.figure)


# --------------------------------------------------------------------------------------------
# search_results


def test_search_results_one_subplot_per_parameter(grid: dp.GridSearchCV) -> None:
    results = grid.cv_results_
    figure = daskpar.plot.search_results(grid)
    assert [ax.get_xlabel() for ax in figure.axes] == ["estimator__alpha", "estimator__loss"]
    assert figure.get_suptitle() == "GridSearchCV: 6 candidates"
    alpha, loss = figure.axes
    assert alpha.get_xscale() == "log"  # 1e-5 to 1e-1
    assert [t.get_text() for t in loss.get_xticklabels()] == ["hinge", "log_loss"]
    assert alpha.get_ylabel() == "mean test score"
    points, star = alpha.lines[0], alpha.lines[-1]
    np.testing.assert_array_equal(points.get_ydata(), results["mean_test_score"])
    np.testing.assert_array_equal(points.get_xdata(), results["param_estimator__alpha"].data)
    np.testing.assert_array_equal(loss.lines[0].get_xdata(), [0, 1] * 3)
    assert star.get_label() == "best"
    assert star.get_ydata()[0] == grid.best_score_
    assert star.get_xdata()[0] == grid.best_params_["estimator__alpha"]
    png_of(figure)


def test_search_results_show_halving_rounds(halving: dp.HalvingSearchCV) -> None:
    results = halving.cv_results_
    figure = daskpar.plot.search_results(halving)
    alpha, rounds = figure.axes
    assert figure.get_suptitle() == "HalvingSearchCV: 6 candidates in 3 rounds"
    assert halving.n_iterations_ == 3
    assert rounds.get_xlabel() == "epochs trained (n_resources)"
    # One line per candidate, over the rounds it was scored in.
    assert len(rounds.lines) == 6
    best = [line for line in rounds.lines if line.get_label() == "best candidate"]
    assert len(best) == 1
    np.testing.assert_array_equal(best[0].get_xdata(), halving.n_resources_)
    assert best[0].get_ydata()[-1] == halving.best_score_
    labels = [t.get_text() for t in alpha.get_legend().get_texts()]
    expected = [f"round {i} ({n} candidates)" for i, n in enumerate(halving.n_candidates_)]
    assert sorted(labels) == sorted([*expected, "best"])
    # Every row of cv_results_ is a point of its round: one error bar series per round.
    assert len(alpha.containers) == len(expected)
    drawn = np.concatenate([bars.lines[0].get_ydata() for bars in alpha.containers])
    np.testing.assert_array_equal(drawn, results["mean_test_score"])
    png_of(figure)


# --------------------------------------------------------------------------------------------
# Errors


def test_unfitted_and_wrong_estimators_are_refused() -> None:
    model = dp.ParallelIncremental(SGDClassifier())
    with pytest.raises(NotFittedError, match="ParallelIncremental instance is not fitted"):
        daskpar.plot.history(model)
    with pytest.raises(NotFittedError, match="is not fitted"):
        daskpar.plot.history(make_pipeline(dp.StandardScaler(), model))
    search = dp.GridSearchCV(model, {"estimator__alpha": [1e-4, 1e-3]})
    with pytest.raises(NotFittedError, match="GridSearchCV instance is not fitted"):
        daskpar.plot.history(search)
    with pytest.raises(NotFittedError, match="GridSearchCV instance is not fitted"):
        daskpar.plot.search_results(search)
    with pytest.raises(TypeError, match="got SGDClassifier"):
        daskpar.plot.history(SGDClassifier())
    with pytest.raises(TypeError, match="got ParallelIncremental"):
        daskpar.plot.search_results(model)


def test_unknown_metric_is_refused(grid: dp.GridSearchCV) -> None:
    with pytest.raises(ValueError, match=r"choose one of \['score'\]"):
        daskpar.plot.search_results(grid, metric="accuracy")


def test_missing_matplotlib_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, stopped_early: dp.ParallelIncremental, grid: Any
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises
    with pytest.raises(ImportError, match=r"pip install 'daskpar\[plot\]'"):
        daskpar.plot.history(stopped_early)
    with pytest.raises(ImportError, match=r"search_results needs matplotlib"):
        daskpar.plot.search_results(grid)
