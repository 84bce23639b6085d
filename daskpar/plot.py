"""Plots of fitted daskpar estimators: the training history and a search's results.

- :func:`history`: the validation score and the seconds of each epoch, of a
  :class:`~daskpar.ParallelIncremental` (alone or at the end of a pipeline) or of a search's
  best candidate;
- :func:`search_results`: a search's mean validation score against each parameter, and the
  rounds of a :class:`~daskpar.HalvingSearchCV`.

They draw what the estimators recorded while fitting (``history_``, ``cv_results_``): nothing
is computed again. matplotlib is an optional dependency, imported when a plot is drawn::

    pip install 'daskpar[plot]'

As scikit-learn's displays, each function draws into new axes (or the ``ax`` given) and returns
what it drew on, for further styling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._incremental import ParallelIncremental
from ._search import GridSearchCV, HalvingSearchCV, RandomizedSearchCV

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["history", "search_results"]

_SEARCHES = (GridSearchCV, RandomizedSearchCV, HalvingSearchCV)


def _check_matplotlib(function: str) -> None:
    """Raise an ImportError that names the ``plot`` extra when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"daskpar.plot.{function} needs matplotlib, which is not installed. Install it "
            "with daskpar's plot extra: pip install 'daskpar[plot]'."
        ) from error


# --------------------------------------------------------------------------------------------
# What the estimators recorded


@dataclass(frozen=True)
class _History:
    """Per-epoch numbers to draw: seconds of each training pass and the validation scores."""

    epochs: list[int]
    seconds: list[float]
    score_epochs: list[int]
    scores: list[float]
    score_label: str
    title: str
    no_score_hint: str
    best_epoch: int | None = None


def _scoring_name(scoring: Any) -> str:
    return f" ({scoring})" if isinstance(scoring, str) else ""


def _default_scoring(model: ParallelIncremental) -> str | None:
    """The name of the model's scoring: its own, else its estimator's ``score``."""
    if model.scoring is not None:
        return model.scoring if isinstance(model.scoring, str) else None
    return "accuracy" if is_classifier(model.estimator) else "r2"


def _incremental_history(model: ParallelIncremental, title: str) -> _History:
    records = model.history_
    scored = [r for r in records if "validation_score" in r]
    return _History(
        epochs=[int(r["epoch"]) for r in records],
        seconds=[float(r["seconds"]) for r in records],
        score_epochs=[int(r["epoch"]) for r in scored],
        scores=[float(r["validation_score"]) for r in scored],
        score_label=f"validation score{_scoring_name(_default_scoring(model))}",
        title=title,
        no_score_hint=(
            "no validation score: fit with validation_fraction or validation_data to record one"
        ),
        best_epoch=getattr(model, "best_epoch_", None),
    )


def _search_history(search: Any) -> _History:
    records = search.history_
    training = [r for r in records if r["n_trials_trained"] > 0]
    scored = [r for r in records if "best_mean_score" in r]
    # The models scored in a pass that also trains were trained one epoch less; a last pass
    # that only scores reads the models of its own epoch.
    score_epochs = [int(r["epoch"]) - (1 if r["n_trials_trained"] else 0) for r in scored]
    # The metric that ranks the candidates: refit's name with several, else the one scoring.
    metric = search.refit if isinstance(search.refit, str) else search.scoring
    return _History(
        epochs=[int(r["epoch"]) for r in training],
        seconds=[float(r["seconds"]) for r in training],
        score_epochs=score_epochs,
        scores=[float(r["best_mean_score"]) for r in scored],
        score_label=f"best candidate's mean validation score{_scoring_name(metric)}",
        title=type(search).__name__,
        no_score_hint="no score recorded: refit names no metric to rank the candidates by",
    )


def _history_of(model: Any) -> _History:
    if isinstance(model, Pipeline):
        last = model.steps[-1][1]
        if isinstance(last, ParallelIncremental):
            check_is_fitted(last, "history_")
            return _incremental_history(last, f"Pipeline ending in {_estimator_title(last)}")
    if isinstance(model, ParallelIncremental):
        check_is_fitted(model, "history_")
        return _incremental_history(model, _estimator_title(model))
    if isinstance(model, _SEARCHES):
        check_is_fitted(model, "history_")
        return _search_history(model)
    raise TypeError(
        "daskpar.plot.history draws a ParallelIncremental, a Pipeline that ends in one, or a "
        "daskpar search (GridSearchCV, RandomizedSearchCV, HalvingSearchCV); got "
        f"{type(model).__name__}."
    )


def _estimator_title(model: ParallelIncremental) -> str:
    return f"ParallelIncremental({type(model.estimator).__name__})"


# --------------------------------------------------------------------------------------------
# Plots


def history(model: Any, ax: Axes | None = None) -> Axes:
    """Plot the validation score and the seconds of every epoch of a fit.

    For a :class:`~daskpar.ParallelIncremental` (or a pipeline that ends in one), the
    ``validation_score`` of each epoch in ``history_`` (recorded with ``validation_fraction``
    or ``validation_data``), and the seconds each epoch took; with ``early_stopping``, a
    dotted line marks ``best_epoch_``. For a search, the best candidate's mean validation
    score after each epoch (``best_mean_score`` in ``history_``), and the seconds of each
    epoch of the whole search (a last pass that only scores is left out).

    Parameters
    ----------
    model : ParallelIncremental, Pipeline, GridSearchCV, RandomizedSearchCV or HalvingSearchCV
        A fitted estimator.
    ax : matplotlib Axes, default=None
        The axes to draw the scores on; new ones by default.

    Returns
    -------
    ax : matplotlib Axes
        The axes of the validation scores (a line, left y-axis). The seconds per epoch are
        bars on a twin of ``ax`` that shares its x-axis (right y-axis), the last axes added to
        ``ax.figure``.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'daskpar[plot]'``).
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    TypeError
        If ``model`` is not one of the estimators above.

    Examples
    --------
    >>> import daskpar as dp
    >>> import daskpar.plot
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = dp.make_classification(n_samples=4000, n_features=5, chunks=500, random_state=0)
    >>> model = dp.ParallelIncremental(
    ...     SGDClassifier(), epochs=3, validation_fraction=0.25, random_state=0
    ... ).fit(X, y)
    >>> ax = daskpar.plot.history(model)
    >>> ax.get_xlabel(), len(ax.lines[0].get_ydata())
    ('epoch', 3)
    """
    _check_matplotlib("history")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    record = _history_of(model)
    if ax is None:
        _, ax = plt.subplots()
    times = ax.twinx()
    times.bar(record.epochs, record.seconds, width=0.6, color="0.82", label="seconds per epoch")
    times.set_ylabel("seconds per epoch")
    # The score line in front of the bars: the twin is drawn after ax unless ax is raised.
    ax.set_zorder(times.get_zorder() + 1)
    ax.patch.set_visible(False)
    if record.scores:
        ax.plot(record.score_epochs, record.scores, "o-", color="C0", label=record.score_label)
    else:
        ax.text(0.5, 0.5, record.no_score_hint, transform=ax.transAxes, ha="center", wrap=True)
    if record.best_epoch is not None:
        ax.axvline(record.best_epoch, color="C3", linestyle=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel(record.score_label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(record.title)
    handles, labels = ax.get_legend_handles_labels()
    bar_handles, bar_labels = times.get_legend_handles_labels()
    ax.legend(handles + bar_handles, labels + bar_labels, loc="best")
    return ax


def _metric_name(search: Any, metric: str | None) -> str:
    results = search.cv_results_
    names = sorted(k[len("mean_test_") :] for k in results if k.startswith("mean_test_"))
    if metric is None:
        metric = search.refit if isinstance(search.refit, str) else names[0]
    if metric not in names:
        raise ValueError(
            f"metric={metric!r} is not a metric of this search's cv_results_; choose one of "
            f"{names}."
        )
    return metric


def _positions(values: Sequence[Any]) -> tuple[np.ndarray, list[str] | None, bool]:
    """x positions of parameter ``values``: numbers as such, else categories in order.

    Returns the positions, the category labels (None for numbers) and whether a log scale
    fits (positive numbers spanning two decades or more).
    """
    numeric = all(isinstance(v, Real) and not isinstance(v, bool) for v in values)
    if numeric and values:
        x = np.array([float(v) for v in values])
        log = bool(np.all(x > 0) and x.max() >= 100 * x.min())
        return x, None, log
    categories: list[str] = []
    for v in map(str, values):
        if v not in categories:
            categories.append(v)
    return np.array([categories.index(str(v)) for v in values], dtype=float), categories, False


def search_results(search: Any, *, metric: str | None = None) -> Figure:
    """Plot a search's mean validation score against each parameter, and halving's rounds.

    One subplot per searched parameter: each candidate's mean validation score (with its
    standard deviation over the folds as an error bar) at its value of the parameter, the best
    candidate starred. Numbers are drawn on a numeric axis (logarithmic when they span two
    decades or more), other values as categories. For a :class:`~daskpar.HalvingSearchCV`,
    the points are coloured by round, and one more subplot follows each candidate's score
    over the rounds against the epochs it had trained (``n_resources``).

    Parameters
    ----------
    search : GridSearchCV, RandomizedSearchCV or HalvingSearchCV
        A fitted daskpar search.
    metric : str, default=None
        With several metrics, the one to plot (the ``<metric>`` of ``mean_test_<metric>``);
        by default the one ``refit`` names, else the first.

    Returns
    -------
    figure : matplotlib Figure
        Its axes are one per parameter, in the order of ``cv_results_``'s ``param_<name>``
        columns, then the rounds for a halving search.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'daskpar[plot]'``).
    sklearn.exceptions.NotFittedError
        If ``search`` is not fitted.
    TypeError
        If ``search`` is not a daskpar search.
    ValueError
        If ``metric`` is not one of the search's metrics, or nothing was searched.

    Examples
    --------
    >>> import daskpar as dp
    >>> import daskpar.plot
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = dp.make_classification(n_samples=4000, n_features=5, chunks=500, random_state=0)
    >>> model = dp.ParallelIncremental(SGDClassifier(), random_state=0)
    >>> search = dp.GridSearchCV(model, {"estimator__alpha": [1e-4, 1e-3, 1e-2]}, cv=2)
    >>> figure = daskpar.plot.search_results(search.fit(X, y))
    >>> [ax.get_xlabel() for ax in figure.axes]
    ['estimator__alpha']
    """
    _check_matplotlib("search_results")
    import matplotlib.pyplot as plt

    if not isinstance(search, _SEARCHES):
        raise TypeError(
            "daskpar.plot.search_results draws a daskpar search (GridSearchCV, "
            f"RandomizedSearchCV, HalvingSearchCV); got {type(search).__name__}."
        )
    check_is_fitted(search, "cv_results_")
    results = search.cv_results_
    name = _metric_name(search, metric)
    mean = np.asarray(results[f"mean_test_{name}"], dtype=float)
    std = np.asarray(results[f"std_test_{name}"], dtype=float)
    params = [k[len("param_") :] for k in results if k.startswith("param_")]
    rounds = np.asarray(results["iter"]) if "iter" in results else None
    n_axes = len(params) + (rounds is not None)
    if n_axes == 0:
        raise ValueError("The search has no parameters: there is nothing to plot against.")
    figure, grid = plt.subplots(
        1, n_axes, figsize=(4.2 * n_axes, 3.6), sharey=True, squeeze=False, layout="constrained"
    )
    axes = list(grid[0])
    best = _best_row(search, mean, rounds)
    groups = (
        [np.ones(len(mean), bool)] if rounds is None else [rounds == r for r in np.unique(rounds)]
    )
    for ax, param in zip(axes, params, strict=False):
        column = results[f"param_{param}"]
        present = ~np.ma.getmaskarray(column)
        values = list(np.asarray(column.data, dtype=object)[present])
        x_present, categories, log = _positions(values)
        x = np.full(len(mean), np.nan)
        x[present] = x_present
        for i, group in enumerate(groups):
            rows = group & present
            label = None if rounds is None else f"round {i} ({int(group.sum())} candidates)"
            ax.errorbar(
                x[rows],
                mean[rows],
                yerr=std[rows],
                fmt="o",
                color=f"C{i}",
                alpha=0.8,
                capsize=3,
                label=label,
            )
        if best is not None and present[best]:
            ax.plot(
                x[best],
                mean[best],
                "*",
                color="gold",
                markeredgecolor="black",
                markersize=15,
                label="best",
                zorder=4,
            )
        if categories is not None:
            ax.set_xticks(range(len(categories)), labels=categories)
            ax.set_xlim(-0.5, len(categories) - 0.5)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(param)
    axes[0].set_ylabel(f"mean test {name}")
    if rounds is not None:
        _draw_rounds(axes[-1], results, mean, best)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="best", fontsize="small")
    n_candidates = len({repr(sorted(p.items())) for p in results["params"]})
    title = f"{type(search).__name__}: {n_candidates} candidates"
    if rounds is not None:
        title += f" in {len(groups)} rounds"
    figure.suptitle(title)
    return figure


def _best_row(search: Any, mean: np.ndarray, rounds: np.ndarray | None) -> int | None:
    """The row of ``cv_results_`` of the best candidate (of the last round for halving)."""
    if hasattr(search, "best_index_"):
        return int(search.best_index_)
    rows = np.arange(len(mean)) if rounds is None else np.flatnonzero(rounds == rounds.max())
    if np.all(np.isnan(mean[rows])):
        return None
    return int(rows[np.nanargmax(mean[rows])])


def _draw_rounds(ax: Axes, results: dict[str, Any], mean: np.ndarray, best: int | None) -> None:
    """Each halving candidate's mean score over its rounds, against the epochs trained."""
    resources = np.asarray(results["n_resources"])
    by_candidate: dict[str, list[int]] = {}
    for row, params in enumerate(results["params"]):
        by_candidate.setdefault(repr(sorted(params.items())), []).append(row)
    best_key = None if best is None else repr(sorted(results["params"][best].items()))
    for key, rows in by_candidate.items():
        is_best = key == best_key
        ax.plot(
            resources[rows],
            mean[rows],
            "o-",
            color="C3" if is_best else "0.6",
            linewidth=2.0 if is_best else 1.0,
            zorder=3 if is_best else 2,
            label="best candidate" if is_best else None,
        )
    ax.set_xlabel("epochs trained (n_resources)")
    ax.set_title("halving rounds")
    ax.set_xticks(sorted(set(resources.tolist())))
    if best_key is not None:
        ax.legend(loc="best", fontsize="small")
