"""The adaptive learner's classifier: labels encoded as one output (binary), one-hot
(multinomial ``log_loss``) or margins of -1 and +1 (one-vs-rest ``hinge`` and
``modified_huber``), with class weights multiplied into the rows' weights."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from .._sklearn_compat import StrOptions
from ._base import BaseAdaptiveSGD
from ._kernel import CLASSIFIER_LOSSES

__all__ = ["AdaptiveSGDClassifier"]


class AdaptiveSGDClassifier(ClassifierMixin, BaseAdaptiveSGD):
    """Linear classifier trained by vectorized mini-batches with normalized adaptive steps.

    Vowpal Wabbit's default update (normalized AdaGrad, see :mod:`daskpar._adaptive._kernel`) in
    the dtype of ``X``: float32 data train a float32 model without a float64 copy. Features
    need no scaling. Binary problems have one output; with more classes ``log_loss`` is the
    multinomial (softmax) model and the other losses are one-vs-rest.

    Sparse input trains in O(nnz) per mini-batch, the rows uncentred and the intercept
    Vowpal Wabbit's constant feature; with ``alpha=0`` that is the dense path's model of the
    same rows without centring, to float rounding (:mod:`daskpar._adaptive._sparse`).

    Train it in parallel on a dask array with ``daskpar.ParallelIncremental``.

    Parameters
    ----------
    loss : {"log_loss", "hinge", "modified_huber"}, default="log_loss"
        The loss: logistic regression, a linear SVM, or scikit-learn's modified Huber loss
        (whose ``predict_proba`` is ``(clip(decision, -1, 1) + 1) / 2``).
    alpha : float, default=1e-6
        L2 penalty on the weights of the normalized features, ``coef_ * scale_``, so that it
        does not depend on the features' units: the objective is the weighted mean loss plus
        ``alpha / 2 * ||coef_ * scale_||^2``. The intercept is not penalized.
    fit_intercept : bool, default=True
        Whether to learn an intercept.
    learning_rate : float, default=0.5
        The base step of the normalized adaptive update.
    batch_size : int, default=1024
        Rows per mini-batch; fewer when a pass would otherwise make fewer than 16 batches
        (a small block still takes 16 steps).
    max_iter : int, default=1000
        The most passes over the data :meth:`fit` makes (``partial_fit`` makes one).
    tol : float or None, default=1e-3
        :meth:`fit` stops when the mean training loss of ``n_iter_no_change`` passes in a
        row is above the best one less ``tol``, as scikit-learn's ``SGDClassifier`` does;
        None makes all ``max_iter`` passes.
    n_iter_no_change : int, default=5
        Passes without improvement before :meth:`fit` stops.
    shuffle : bool, default=True
        Draw the order of the mini-batches of every pass from ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds the order of the mini-batches; an int gives the same order in every
        ``partial_fit`` call and the same model bits on every run.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into the sample weights. "balanced" uses
        ``n_samples / (n_classes * np.bincount(y))`` and is refused by ``partial_fit``, as
        by scikit-learn's ``SGDClassifier``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights, in the dtype of the training data (float32 or float64).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    scale_ : ndarray of shape (n_features,)
        The largest ``|x - mean_|`` of each feature seen, with the mean of the time (0 for a
        feature that never varied).
    mean_ : ndarray of shape (n_features,)
        The weighted mean of the dense rows seen, on which they are centred while training
        (zeros with ``fit_intercept=False``, which trains on the rows as they are). Sparse
        rows are trained as they are, and leave ``mean_`` as it was: centring them would
        make them dense (see :mod:`daskpar._adaptive._sparse`).
    squared_gradients_ : ndarray of shape (n_outputs, n_features + 1)
        AdaGrad's sums of the rows' squared gradients, the intercept's in the last column.
    sum_weight_ : float
        The total sample weight seen (Vowpal Wabbit's ``t``).
    sum_norm_ : float
        The weighted sum of the squared norms of the normalized rows, plus one per row for
        the intercept (Vowpal Wabbit's ``N``).
    n_iter_ : int
        Passes over the data :meth:`fit` made; one more with each ``partial_fit``.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from daskpar import AdaptiveSGDClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.normal(size=(2000, 3)) * [1e-3, 1.0, 1e3]).astype(np.float32)
    >>> y = (X[:, 0] * 1e3 + X[:, 2] * 1e-3 > 0).astype(int)
    >>> clf = AdaptiveSGDClassifier(random_state=0).fit(X, y)
    >>> clf.coef_.dtype
    dtype('float32')
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    # Model files name this class by its module, daskpar._adaptive (persist.trusted_types):
    # that name is part of the file format, so it stays the package's, not this file's.
    __module__ = "daskpar._adaptive"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseAdaptiveSGD._parameter_constraints,
        "loss": [StrOptions(set(CLASSIFIER_LOSSES))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }
    _regression = False

    def __init__(
        self,
        loss: str = "log_loss",
        *,
        alpha: float = 1e-6,
        fit_intercept: bool = True,
        learning_rate: float = 0.5,
        batch_size: int = 1024,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        n_iter_no_change: int = 5,
        shuffle: bool = True,
        random_state: Any = None,
        class_weight: Any = None,
    ) -> None:
        self.loss = loss
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.class_weight = class_weight

    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _internal_loss(self) -> str:
        return "multinomial" if self.loss == "log_loss" and len(self.classes_) > 2 else self.loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdaptiveSGDClassifier:
        """Fit the model from scratch: passes over ``X``, ``y`` until ``tol`` or ``max_iter``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 stays float32. Sparse input (CSR, or CSC, COO and pydata
            ``sparse`` arrays, converted to CSR) trains in O(nnz), uncentred.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDClassifier
            The fitted classifier.
        """
        X, y, sample_weight, _ = self._fit(X, y, sample_weight, partial=False)
        check_classification_targets(y)
        self.classes_ = self._checked_classes(np.unique(y))
        self._allocate(X.shape[1], X.dtype)
        self.n_iter_ = self._train(X, y, sample_weight, passes=int(self.max_iter), tol=self.tol)
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> AdaptiveSGDClassifier:
        """One pass over ``X``, ``y``, going on from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data, dense or sparse (trained in O(nnz), uncentred); the first call fixes the
            model's dtype (float32 or float64).
        y : array-like of shape (n_samples,)
            Class labels, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class label; required in the first call, and if given later, the same.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDClassifier
            The updated classifier.
        """
        X, y, sample_weight = self._start_partial_fit(X, y, classes, sample_weight)
        self._train(X, y, sample_weight, passes=1)
        self.n_iter_ += 1
        return self

    def _start_partial_fit(
        self, X: Any, y: Any, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order to use "
                "'balanced' weights, use compute_class_weight('balanced', classes=classes, "
                "y=y). In place of y you can use a large enough sample of the full training "
                "set target to properly estimate the class frequency distributions. Pass the "
                "resulting weights as the class_weight parameter."
            )
        X, y, sample_weight, first = self._fit(X, y, sample_weight, partial=True)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            # The labels of y are checked against these (not scanned for their type).
            classes = np.unique(np.asarray(classes))
            check_classification_targets(classes)
            self.classes_ = self._checked_classes(classes)
            self._allocate(X.shape[1], X.dtype)
            self.n_iter_ = 0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} is not the same as on the first call "
                f"to partial_fit, which was {self.classes_.tolist()}."
            )
        return X, y, sample_weight

    def _checked_classes(self, classes: np.ndarray) -> np.ndarray:
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contain only one class: {classes.tolist()}."
            )
        return classes

    def _class_index(self, y: np.ndarray) -> np.ndarray:
        """The index in ``classes_`` of each label, or an error naming the unknown ones."""
        classes = self.classes_
        if len(classes) == 2:
            # Two comparisons cost a tenth of a binary search.
            positive = y == classes[1]
            index, known = positive.astype(np.intp), positive | (y == classes[0])
        else:
            index = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
            known = classes[index] == y
        if not bool(np.all(known)):
            unknown = np.setdiff1d(np.unique(y), classes)
            raise ValueError(
                f"y holds labels {unknown.tolist()} that are not in classes {classes.tolist()}."
            )
        return index

    def _train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        *,
        passes: int,
        tol: float | None = None,
    ) -> int:
        Y, w = self._targets(y, sample_weight)
        rng = check_random_state(self.random_state)
        return self._run_passes(X, Y, w, passes=passes, rng=rng, tol=tol)

    def _targets(
        self, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        dtype = self.coef_.dtype
        index = self._class_index(y)
        k = self._n_outputs()
        if k == 1:
            Y = (index == 1).astype(dtype)[:, None]
        else:
            Y = np.zeros((len(y), k), dtype=dtype)
            Y[np.arange(len(y)), index] = 1.0
        if self.loss != "log_loss":
            Y = 2.0 * Y - 1.0  # margin losses: labels -1, +1 (one-vs-rest)
        w = self._row_weights(y, sample_weight)
        if self.class_weight is not None:
            per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
            w = w * per_class[index].astype(dtype)
        return Y, w

    def decision_function(self, X: Any) -> np.ndarray:
        """The linear predictions ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The score of ``classes_[1]`` (binary), or one column per class.
        """
        scores = self._linear(X)
        out: np.ndarray = scores[:, 0] if scores.shape[1] == 1 else scores
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        out: np.ndarray = self.classes_[index]
        return out

    def _has_proba(self) -> bool:
        return self.loss in ("log_loss", "modified_huber")

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (``log_loss`` and ``modified_huber`` only).

        ``log_loss``: the logistic function (binary) or the softmax (multiclass).
        ``modified_huber``: ``(clip(decision, -1, 1) + 1) / 2`` per class, normalized over
        the classes (uniform where all are zero), as scikit-learn's ``SGDClassifier``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if self.loss == "log_loss":
            if scores.ndim == 1:
                p1 = expit(scores)
                return np.column_stack([1.0 - p1, p1])
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            out: np.ndarray = e / e.sum(axis=1, keepdims=True)
            return out
        proba = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if proba.ndim == 1:
            return np.column_stack([1.0 - proba, proba])
        total = proba.sum(axis=1, keepdims=True)
        uniform = total == 0
        proba = np.where(uniform, 1.0, proba)
        return proba / np.where(uniform, proba.shape[1], total)

    @available_if(_has_proba)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags
