"""What a search reports: the scores of each pass, ``cv_results_``, and the fits that failed.

A :class:`Snapshot` holds the scores of the candidates that one pass scored (a halving
search's iterations are snapshots); :func:`format_results` lays (candidate x fold) arrays out
as scikit-learn's ``cv_results_``; :func:`warn_about_failures` reports the failed fits as
scikit-learn does.
"""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import FitFailedWarning

__all__ = ["Snapshot", "format_results", "warn_about_failures"]


@dataclass(frozen=True)
class Snapshot:
    """The scores of the candidates scored in one pass, after ``epochs`` epochs of training.

    ``scores[c]`` has shape (n_metrics, n_folds); the times are per fold, in seconds.
    """

    epochs: int
    scores: dict[int, np.ndarray]
    fit_times: dict[int, np.ndarray]
    score_times: dict[int, np.ndarray]

    def means(self, metric: int) -> dict[int, float]:
        return {c: float(s[metric].mean()) for c, s in self.scores.items()}


def _masked_params(candidates: Sequence[Mapping[str, Any]]) -> dict[str, np.ma.MaskedArray]:
    """``param_<name>`` columns as scikit-learn builds them: masked where a candidate lacks it."""
    by_name: dict[str, dict[int, Any]] = defaultdict(dict)
    for i, params in enumerate(candidates):
        for name, value in params.items():
            by_name[f"param_{name}"][i] = value
    out = {}
    for key, values in by_name.items():
        try:
            arr = np.array(list(values.values()))
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else np.dtype(object)
        except ValueError:
            dtype = np.dtype(object)
        column = np.ma.MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for i, value in values.items():
            column[i] = value
        out[key] = column
    return out


def _rank(means: np.ndarray) -> np.ndarray:
    """Rank 1 for the best mean score; NaN scores rank last, as in scikit-learn."""
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32)


def format_results(
    candidates: Sequence[Mapping[str, Any]],
    test_scores: Mapping[str, np.ndarray],
    fit_times: np.ndarray,
    score_times: np.ndarray,
) -> dict[str, Any]:
    """``cv_results_`` in scikit-learn's layout from (candidate x fold) arrays."""
    results: dict[str, Any] = {
        "mean_fit_time": fit_times.mean(axis=1),
        "std_fit_time": fit_times.std(axis=1),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
        **_masked_params(candidates),
        "params": list(candidates),
    }
    for name, scores in test_scores.items():
        for k in range(scores.shape[1]):
            results[f"split{k}_test_{name}"] = scores[:, k]
        results[f"mean_test_{name}"] = scores.mean(axis=1)
        results[f"std_test_{name}"] = scores.std(axis=1)
        results[f"rank_test_{name}"] = _rank(results[f"mean_test_{name}"])
    return results


def warn_about_failures(failed: dict[int, str], n_trials: int, *, error_score: str | float) -> None:
    """scikit-learn's report of failed fits: a warning, or an error if all failed."""
    if not failed:
        return
    reasons = Counter(failed.values())
    summary = "\n".join(f"{n} fits failed with: {reason}" for reason, n in reasons.items())
    if len(failed) == n_trials:
        raise ValueError(
            f"All the {n_trials} fits failed. It is very likely that your model is "
            f"misconfigured. You can try to debug the error by setting "
            f"error_score='raise'.\n\n{summary}"
        )
    warnings.warn(
        f"{len(failed)} fits failed out of a total of {n_trials}. The score on these "
        f"train-test partitions for these parameters will be set to {error_score}. "
        "If these failures are not expected, you can try to debug them by setting "
        f"error_score='raise'.\n\n{summary}",
        FitFailedWarning,
        stacklevel=3,
    )
