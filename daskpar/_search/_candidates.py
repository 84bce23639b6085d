"""What a search trains, checked on the client before any task: its candidates and folds.

A search trains one model per candidate (a setting of the estimator's parameters) and fold (a
split of X's row blocks): its trials. :func:`split_estimator` takes an estimator apart into
its leading steps (scalers, and at most one exact PCA) and its ParallelIncremental;
:func:`check_candidates`, :func:`invalid_candidates` and :func:`check_pca_steps` check every
candidate; :func:`scaler_settings` finds the distinct settings of the leading steps that the
prepare passes fit, and :func:`state_key` which of them share a step's per-fold state (every
``n_components`` of a PCA shares one); :func:`block_folds` makes the folds, of whole row
blocks; :func:`search_scorers` names the metrics that score every trial.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from dask.base import tokenize
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from .._compose import ColumnTransformer
from .._decomposition import FULL_MAX_FEATURES, PCA
from .._hashing import FeatureHasher
from .._incremental import ParallelIncremental
from .._linear import LinearRegression, Ridge
from .._preprocessing import OutOfCoreScaler
from .._sklearn_compat import validate_estimator_params
from .._text import HashingVectorizer
from .._truncated_svd import TruncatedSVD
from .._validation import check_scorer_applies
from ..errors import InputError
from ..metrics import Scorer, get_scorer

__all__ = [
    "STATELESS_STEPS",
    "FoldColumns",
    "Folds",
    "column_step",
    "block_folds",
    "check_candidates",
    "check_pca_steps",
    "fixed_column_step",
    "invalid_candidates",
    "scaler_settings",
    "search_scorers",
    "split_estimator",
    "state_key",
]

Folds = list[tuple[frozenset[int], frozenset[int]]]


#: Leading steps that learn nothing from the rows: a search transforms the data with them
#: once, inside the tasks that read it, and every fold shares the transform.
STATELESS_STEPS = (FeatureHasher, HashingVectorizer)


def column_step(estimator: Any) -> tuple[str, Any] | None:
    """The name and step of a Pipeline's leading column step, if it has one: a daskpar
    ColumnTransformer (fitted per fold) or a stateless hasher (:data:`STATELESS_STEPS`)."""
    if isinstance(estimator, Pipeline) and isinstance(
        estimator.steps[0][1], ColumnTransformer | FeatureHasher | HashingVectorizer
    ):
        name, step = estimator.steps[0]
        return name, step
    return None


def split_estimator(estimator: Any) -> tuple[list[Any], ParallelIncremental]:
    """The leading steps (daskpar scalers and at most one :class:`~daskpar.PCA`, after the
    leading column step, see :func:`column_step`) and the final ParallelIncremental of a
    searchable estimator."""
    if isinstance(estimator, ParallelIncremental):
        return [], estimator
    hint = ""
    if isinstance(estimator, Pipeline):
        *steps, (_, last) = estimator.steps[1:] if column_step(estimator) else estimator.steps
        n_pca = sum(isinstance(step, PCA) for _, step in steps)
        if (
            isinstance(last, ParallelIncremental)
            and n_pca <= 1
            and all(isinstance(step, OutOfCoreScaler | PCA) for _, step in steps)
        ):
            return [step for _, step in steps], last
        if n_pca > 1:
            hint = " The Pipeline has more than one PCA step; keep one."
        if any(isinstance(step, TruncatedSVD) for _, step in steps):
            hint = (
                " A TruncatedSVD step is not fitted inside a search (its randomized solver "
                "takes passes of its own for every fold and setting): use daskpar.PCA (exact, "
                "fitted from one pass for every fold and n_components), or reduce X with a "
                "TruncatedSVD fitted before the search."
            )
    if isinstance(estimator, LinearRegression | Ridge):
        hint = (
            f" {type(estimator).__name__} is exact and fits in one pass: compare its "
            "candidates in a loop of fits, each scored on held-out data (train_test_split)."
        )
    raise InputError(
        "daskpar's searches take a ParallelIncremental (of any supported estimator, the exact "
        "naive Bayes models included), or a Pipeline of daskpar scalers (StandardScaler, "
        "MinMaxScaler, MaxAbsScaler) and at most one daskpar PCA followed by a "
        "ParallelIncremental, which may start with a daskpar ColumnTransformer, FeatureHasher "
        f"or HashingVectorizer; got {estimator!r}.{hint}"
    )


def check_pca_steps(
    steps: Sequence[Sequence[Any]],
    candidates: Sequence[Mapping[str, Any]],
    widths: Sequence[int],
    train_rows: Sequence[float],
) -> None:
    """Check every candidate's PCA step against the folds, before any task.

    ``steps`` are each candidate's leading steps; ``widths`` and ``train_rows`` the features
    a PCA step sees and the training rows (NaN when unknown) of each fold. The search fits
    PCA exactly (its per-fold state is the ``d x d`` factor), so a solver that would take
    passes of its own is refused, as is a number of components no fold can give.
    """
    seen: set[str] = set()
    for candidate_steps, params in zip(steps, candidates, strict=True):
        for step in candidate_steps:
            if not isinstance(step, PCA):
                continue
            key = tokenize(step.get_params(deep=False))
            if key in seen:
                continue
            seen.add(key)
            validate_estimator_params(step)
            _check_pca_step(step, dict(params), widths, train_rows)


def _check_pca_step(
    pca: PCA, params: dict[str, Any], widths: Sequence[int], train_rows: Sequence[float]
) -> None:
    where = f"The PCA step of the candidate {params}"
    widest = max(widths)
    if pca.svd_solver in ("randomized", "arpack"):
        raise InputError(
            f"{where} has svd_solver={pca.svd_solver!r}; daskpar's searches fit PCA exactly, "
            "every fold and n_components from one pass over the data, which that solver "
            "cannot (it takes passes of its own for every fold and setting). Set "
            "svd_solver='full', or reduce X with a PCA or TruncatedSVD fitted before the "
            "search."
        )
    k = pca.n_components
    if pca.svd_solver == "auto" and widest > FULL_MAX_FEATURES and isinstance(k, Integral):
        raise InputError(
            f"{where} has svd_solver='auto', which for {widest} features (more than "
            f"{FULL_MAX_FEATURES}) may choose the randomized solver, which a search cannot "
            "fit from its one pass. Set svd_solver='full' (exact: a state of "
            f"{widest} x {widest} numbers per fold), or reduce X with a PCA fitted before the "
            "search."
        )
    choose = "a float in (0, 1) (a share of the variance) or None"
    if isinstance(k, Integral) and k == 0:
        raise InputError(
            f"{where} has n_components=0, which leaves the model after it no feature. Choose "
            f"n_components of at least 1, {choose}."
        )
    for fold, (width, rows) in enumerate(zip(widths, train_rows, strict=True)):
        if not np.isnan(rows) and rows < 2:
            raise InputError(
                f"Fold {fold} trains on {int(rows)} sample(s), but PCA needs at least 2: "
                "the explained variance divides by n_samples - 1. Use fewer folds or "
                "larger blocks."
            )
        most = width if np.isnan(rows) else min(int(rows), width)
        if isinstance(k, Integral) and k > most:
            known = "" if np.isnan(rows) else f", {int(rows)} training samples"
            raise InputError(
                f"{where} has n_components={k}, but fold {fold} gives it at most "
                f"min(n_samples, n_features)={most} ({width} features{known}). Choose "
                f"n_components between 1 and {most}, {choose}."
            )


def check_candidates(models: Sequence[ParallelIncremental], scorers: Mapping[str, Scorer]) -> None:
    """Check every candidate's ParallelIncremental, and that every scorer applies to it."""
    for model in models:
        validate_estimator_params(model)
        if model.early_stopping or model.validation_fraction is not None:
            raise InputError(
                "The search validates every candidate on its folds; set early_stopping "
                "and validation_fraction of the ParallelIncremental to their defaults."
            )
        for scorer in scorers.values():
            check_scorer_applies(scorer, model.estimator)


def invalid_candidates(
    models: list[ParallelIncremental], n_folds: int, *, error_score: str | float
) -> dict[int, str]:
    """Trials whose candidate's estimator parameters are invalid, and why: before any task.

    With ``error_score="raise"`` the first invalid candidate raises here.
    """
    failed: dict[int, str] = {}
    for c, model in enumerate(models):
        try:
            validate_estimator_params(model.estimator)
        except ValueError as error:
            if error_score == "raise":
                raise
            for k in range(n_folds):
                failed[c * n_folds + k] = f"{type(error).__name__}: {error}"
    return failed


@dataclass(frozen=True)
class FoldColumns:
    """The columns of one fold's column transform in a search's stacked array.

    A search over a Pipeline that starts with a ColumnTransformer fits that step on each
    fold's training partitions; the training array holds every fold's transform side by
    side (each partition read once), and this first "step" of a fold's models picks its own.
    """

    start: int
    stop: int

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X[:, self.start : self.stop]


def fixed_column_step(name: str, step: Any, candidates: Sequence[Mapping[str, Any]]) -> None:
    """Refuse candidates that set the leading column step's parameters."""
    searched = sorted({p for c in candidates for p in c if p == name or p.startswith(f"{name}__")})
    if searched:
        how = (
            "transform the data with that step once"
            if isinstance(step, STATELESS_STEPS)
            else "fit that step once per fold"
        )
        raise InputError(
            f"The search sets parameters of the {type(step).__name__} step {name!r} "
            f"({', '.join(searched)}); daskpar's searches {how}, with the parameters it was "
            "given. Fix them in the step, and search the scalers' and the model's parameters "
            "(or run one search per setting of the step)."
        )


def scaler_settings(steps: list[list[Any]]) -> tuple[list[list[Any]], list[int]]:
    """The distinct settings of the leading steps (classes and parameters), and each
    candidate's index."""
    index: dict[str, int] = {}
    configs: list[list[Any]] = []
    config_of = []
    for candidate_steps in steps:
        key = tokenize([(type(s).__name__, s.get_params(deep=False)) for s in candidate_steps])
        if key not in index:
            index[key] = len(configs)
            configs.append(candidate_steps)
        config_of.append(index[key])
    return configs, config_of


def state_key(config: Sequence[Any], step: int) -> str:
    """What the per-fold state of a setting's ``step``-th step depends on: the steps before
    it (each fitted per fold with all its parameters) and its own parameters, but none of
    a PCA's: its state, the factor of the centred rows, is the same for every
    ``n_components`` and ``whiten`` (the search refuses other solvers), which are applied
    when each candidate's PCA is finalized on the client."""
    own = (
        type(config[step]).__name__,
        None if isinstance(config[step], PCA) else config[step].get_params(deep=False),
    )
    return tokenize([(type(s).__name__, s.get_params(deep=False)) for s in config[:step]], own)


def block_folds(
    cv: Any,
    block_sizes: Sequence[int],
    *,
    shuffle: bool,
    random_state: np.random.RandomState,
) -> Folds:
    """(train blocks, test blocks) per fold; empty blocks are left out of every fold."""
    blocks = [i for i, n in enumerate(block_sizes) if n > 0]
    order = list(random_state.permutation(blocks)) if shuffle else blocks
    if isinstance(cv, Integral):
        if len(blocks) < int(cv):
            raise InputError(
                f"cv={cv} puts whole row blocks in {cv} validation folds, but X has "
                f"{len(blocks)} non-empty block(s). Split X into more row blocks "
                "(X.rechunk({0: ...})) or lower cv."
            )
        tests = [frozenset(int(b) for b in part) for part in np.array_split(order, int(cv))]
        return [(frozenset(blocks) - test, test) for test in tests]
    if isinstance(cv, Real):
        n_test = max(1, round(float(cv) * len(blocks)))
        if n_test >= len(blocks):
            raise InputError(
                f"cv={cv} holds out whole row blocks, and X has {len(blocks)} non-empty "
                "block(s): nothing would be left to train on. Split X into more row blocks."
            )
        test = frozenset(int(b) for b in order[-n_test:])
        return [(frozenset(blocks) - test, test)]
    if hasattr(cv, "split") or not isinstance(cv, Iterable):
        raise InputError(
            f"cv={cv!r} is not supported: daskpar's folds are whole row blocks. Pass a number "
            "of folds, a fraction of blocks to hold out, or (train_blocks, test_blocks) pairs."
        )
    folds: Folds = []
    for k, split in enumerate(cv):
        train, test = (frozenset(int(b) for b in part) for part in split)
        bad = sorted(b for b in train | test if not 0 <= b < len(block_sizes))
        if bad or not train or not test or train & test:
            raise InputError(
                f"Fold {k} of cv must be a pair (train blocks, test blocks) of disjoint, "
                f"non-empty lists of block indices in [0, {len(block_sizes)}); got {split!r}."
            )
        folds.append((train, test))
    if not folds:
        raise InputError("cv holds no folds.")
    return folds


def search_scorers(scoring: Any, model: ParallelIncremental) -> dict[str, Scorer]:
    """Scorers by name; a single metric is called ``"score"``, as in scikit-learn."""
    if scoring is None:
        default = "accuracy" if is_classifier(model.estimator) else "r2"
        return {"score": get_scorer(model.scoring or default)}
    if isinstance(scoring, str | Scorer):
        return {"score": get_scorer(scoring)}
    if isinstance(scoring, Mapping):
        return {str(name): get_scorer(s) for name, s in scoring.items()}
    names = list(scoring)
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise InputError(
            f"scoring must be a scorer name, a list of distinct names or a dict; got {scoring!r}."
        )
    return {name: get_scorer(name) for name in names}
