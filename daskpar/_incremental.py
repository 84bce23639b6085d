"""``ParallelIncremental``: train an incremental scikit-learn estimator on every partition at once.

Per epoch::

    blocks ──fit_partition──▶ states ──combine (fan-in split_every)──▶ one state ──▶ next model
"""

from __future__ import annotations

import sys
import time
from numbers import Integral
from typing import Any, ClassVar

import dask.array as da
import numpy as np
from dask.base import tokenize
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._families import Family, family_for
from ._graph import broadcast, compute_one, map_partitions, tree_combine
from ._states import LabelSet
from ._tasks import (
    combine_states,
    finalize_model,
    finalize_score,
    find_labels_partition,
    fit_partition,
    predict_partition,
    score_partition,
)
from ._validation import check_X, check_X_y
from .errors import InputError

__all__ = ["ParallelIncremental", "find_classes"]


def _labels_of(state: LabelSet | None) -> np.ndarray:
    if state is None:
        raise InputError("y is empty: cannot find the classes of an empty target.")
    return state.labels


def find_classes(y: da.Array, *, split_every: int = 8) -> np.ndarray:
    """The sorted distinct labels of ``y``, found on the workers in one pass.

    Parameters
    ----------
    y : dask array of shape (n_samples,)
    split_every : int, default=8
        Fan-in of the tree that merges the per-partition label sets.

    Returns
    -------
    classes : ndarray
        Sorted unique labels, as :func:`numpy.unique` would give.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> find_classes(da.from_array(np.array([2, 0, 2, 1]), chunks=2))
    array([0, 1, 2])
    """
    parts = map_partitions(find_labels_partition, y, stage="daskpar-find-classes")
    root = tree_combine(
        parts, combine_states, _labels_of, split_every=split_every, finalize_stage="daskpar-classes"
    )
    return np.asarray(compute_one(root))


def _estimator_has(attr: str) -> Any:
    def check(self: ParallelIncremental) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class ParallelIncremental(MetaEstimatorMixin, BaseEstimator):
    """Train an incremental estimator on all partitions in parallel, merging through a tree.

    Each epoch, one task per partition reads its block and runs ``partial_fit`` of a copy of the
    current model on it; the partition states are merged through a tree of fan-in
    ``split_every`` into the next epoch's model: a sample-weighted average of the parameters for
    SGD-type models, exact sums of sufficient statistics for naive Bayes (whose single pass is
    already the exact fit, so ``epochs`` does not apply to them).

    Parameters
    ----------
    estimator : estimator instance
        An unfitted scikit-learn estimator with ``partial_fit``: ``SGDClassifier``,
        ``SGDRegressor``, ``Perceptron``, ``PassiveAggressiveClassifier``,
        ``PassiveAggressiveRegressor``, ``MultinomialNB``, ``BernoulliNB`` or ``GaussianNB``.
        It is cloned, never modified.
    epochs : int, default=1
        Passes over the data.
    split_every : int, default=8
        Fan-in of the tree that merges partition states (at least 2).
    shuffle : bool, default=True
        Shuffle the rows inside each partition every epoch, with a seed derived from
        ``random_state``, the epoch and the partition index.
    random_state : int, RandomState instance or None, default=None
        Seeds every partition's ``partial_fit``; an int gives the same model bits on any
        scheduler and any number of workers.
    verbose : int, default=0
        With 1 or more, show a progress bar over epochs with each epoch's time.

    Attributes
    ----------
    estimator_ : estimator
        The fitted scikit-learn estimator: a plain object, usable without dask.
    classes_ : ndarray of shape (n_classes,)
        The class labels (classifiers only).
    n_features_in_ : int
        Number of features seen during fit.
    history_ : list of dict
        One record per epoch: ``epoch``, ``seconds``, ``n_samples``, ``n_partitions`` and, when
        ``validation_data`` is given, ``validation_score``.

    Examples
    --------
    >>> import daskpar as dp
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = dp.make_classification(n_samples=2000, n_features=5, chunks=500, random_state=0)
    >>> model = dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0).fit(X, y)
    >>> model.classes_
    array([0, 1])
    >>> model.predict(X[:4]).compute().shape
    (4,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [HasMethods(["partial_fit"])],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator: BaseEstimator,
        *,
        epochs: int = 1,
        split_every: int = 8,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.epochs = epochs
        self.split_every = split_every
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------------------------------
    # fitting

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        classes: Any = None,
        validation_data: tuple[Any, Any] | None = None,
    ) -> ParallelIncremental:
        """Fit the estimator on every partition of ``X``, ``y`` for ``epochs`` passes.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Partitioned along rows only, with known chunk sizes.
        y : dask array of shape (n_samples,), or array-like
            Row chunks equal to ``X``'s.
        classes : array-like, default=None
            All class labels (classifiers). Found on the workers in one pass when not given.
        validation_data : tuple (X_val, y_val), default=None
            Held-out data scored after every epoch (on the workers for dask input); the score
            is recorded as ``validation_score`` in ``history_``.

        Returns
        -------
        self : ParallelIncremental
            The fitted meta-estimator.
        """
        self._validate_params()
        family = family_for(self.estimator)
        X, y = check_X_y(X, y, y_numeric=not is_classifier(self.estimator))
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise InputError("validation_data must be a pair (X_val, y_val).")
            X_val, y_val = check_X_y(*validation_data, n_features=X.shape[1])
        classes_ = self._resolve_classes(y, classes)
        model = clone(self.estimator)
        if hasattr(model, "shuffle"):
            model.set_params(shuffle=self.shuffle)
        base_seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        n_epochs = 1 if family.exact else self.epochs

        self.history_: list[dict[str, Any]] = []
        epochs = range(n_epochs)
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(epochs, desc="epochs", unit="epoch", file=sys.stderr)
            epochs = progress
        for epoch in epochs:
            start = time.perf_counter()
            model = self._run_epoch(family, model, X, y, classes_, base_seed, epoch)
            record = {
                "epoch": epoch + 1,
                "seconds": time.perf_counter() - start,
                "n_samples": int(X.shape[0]),
                "n_partitions": int(X.numblocks[0]),
            }
            if validation_data is not None:
                record["validation_score"] = self._score_model(model, X_val, y_val)
            self.history_.append(record)
            if progress is not None:
                progress.set_postfix(
                    {
                        k: f"{v:.4g}"
                        for k, v in record.items()
                        if k in ("seconds", "validation_score")
                    }
                )
        if progress is not None:
            progress.close()

        if hasattr(model, "shuffle"):
            model.set_params(shuffle=self.estimator.get_params()["shuffle"])
        self.estimator_ = model
        self.n_features_in_ = int(X.shape[1])
        if classes_ is not None:
            self.classes_ = classes_
        return self

    def _resolve_classes(self, y: da.Array, classes: Any) -> np.ndarray | None:
        if not is_classifier(self.estimator):
            if classes is not None:
                raise InputError(
                    f"classes= applies to classifiers only; {type(self.estimator).__name__} "
                    "is not one."
                )
            return None
        if classes is None:
            return find_classes(y, split_every=self.split_every)
        out = np.unique(np.asarray(classes))
        if len(out) < 2:
            raise InputError(f"classes must hold at least 2 distinct labels; got {out.tolist()}.")
        return out

    def _run_epoch(
        self,
        family: Family,
        model: BaseEstimator,
        X: da.Array,
        y: da.Array,
        classes: np.ndarray | None,
        base_seed: int,
        epoch: int,
    ) -> BaseEstimator:
        states = map_partitions(
            fit_partition,
            X,
            y,
            stage="daskpar-fit-partition",
            with_position=True,
            family=family,
            model=broadcast(model),
            classes=classes,
            base_seed=base_seed,
            epoch=epoch,
        )
        root = tree_combine(
            states,
            combine_states,
            finalize_model,
            split_every=self.split_every,
            finalize_stage="daskpar-update-model",
            family=family,
            model=model,
            classes=classes,
            epoch=epoch,
        )
        return compute_one(root)

    # ----------------------------------------------------------------------------------------
    # prediction and scoring

    def _predict(self, X: Any, method: str) -> Any:
        check_is_fitted(self, "estimator_")
        if not isinstance(X, da.Array):
            return getattr(self.estimator_, method)(X)
        X = check_X(X, n_features=self.n_features_in_)
        est = self.estimator_
        # One probe row tells the output's dtype and width.
        probe = np.asarray(getattr(est, method)(np.zeros((1, X.shape[1]), dtype=X.dtype)))
        stage, token = f"daskpar-{method.replace('_', '-')}", tokenize(est, X, method)
        # 1-D outputs (predict, binary decision_function) drop X's column axis; 2-D ones
        # (probabilities, multiclass scores) replace it with one column per class.
        shape: dict[str, Any] = (
            {"drop_axis": 1} if probe.ndim == 1 else {"chunks": (X.chunks[0], (probe.shape[1],))}
        )
        return X.map_blocks(
            predict_partition,
            model=est,
            method=method,
            dtype=probe.dtype,
            meta=np.empty((0,) * probe.ndim, dtype=probe.dtype),
            name=f"{stage}-{token}",
            **shape,
        )

    def predict(self, X: Any) -> Any:
        """Predict with the fitted estimator: a lazy dask array for dask input, else numpy."""
        return self._predict(X, "predict")

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n_samples, n_classes); lazy for dask input."""
        return self._predict(X, "predict_proba")

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        """Log class probabilities; lazy for dask input."""
        return self._predict(X, "predict_log_proba")

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        """Confidence scores; lazy for dask input."""
        return self._predict(X, "decision_function")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy (classifiers) or R² (regressors), reduced on the workers.

        For dask input each partition contributes counts (or sums) and only those travel;
        ``X`` and ``y`` are never gathered. ``sample_weight`` is supported for in-memory input.
        """
        check_is_fitted(self, "estimator_")
        if not isinstance(X, da.Array) and not isinstance(y, da.Array):
            return float(self.estimator_.score(X, y, sample_weight=sample_weight))
        if sample_weight is not None:
            raise InputError(
                "sample_weight in score() is supported for in-memory (numpy) input only."
            )
        X, y = check_X_y(X, y, n_features=self.n_features_in_)
        return self._score_model(self.estimator_, X, y)

    def _score_model(self, model: BaseEstimator, X: da.Array, y: da.Array) -> float:
        kind = "accuracy" if is_classifier(self.estimator) else "r2"
        parts = map_partitions(
            score_partition,
            X,
            y,
            stage="daskpar-score-partition",
            model=broadcast(model),
            kind=kind,
        )
        root = tree_combine(
            parts,
            combine_states,
            finalize_score,
            split_every=self.split_every,
            finalize_stage="daskpar-score",
            kind=kind,
        )
        return float(compute_one(root))

    # ----------------------------------------------------------------------------------------
    # scikit-learn plumbing

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags = inner.target_tags
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
