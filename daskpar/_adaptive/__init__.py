"""daskpar's own linear learner: vectorized float32 mini-batches with normalized adaptive steps.

scikit-learn's ``SGDClassifier.partial_fit`` updates the model one sample at a time in a
compiled loop, about eight times the cost of a matrix-vector product over the same rows, and
needs standardized features. The learners here take the rows ``batch_size`` at a time, with
four BLAS products per mini-batch, in the dtype of ``X`` (float32 stays float32, with no
float64 copy), and give every coordinate a step of its own scale, so that features in any
units, with any offsets, need no scaler.

The update is Vowpal Wabbit's default (``--adaptive --normalized``), the normalized adaptive
gradient of Ross, Mineiro and Langford (UAI 2013), with the features centred on their running
mean and, for the regressors, the step scaled by the target's spread:
:mod:`daskpar._adaptive._kernel` gives it step by step.

Classes: binary problems have one output (``coef_`` of shape ``(1, n_features)``, as
scikit-learn's linear classifiers). With more classes, ``log_loss`` is the **multinomial**
(softmax) model, whose ``predict_proba`` is a proper distribution (scikit-learn's
``SGDClassifier`` is one-vs-rest for every loss); ``hinge`` and ``modified_huber`` are
**one-vs-rest**: one output per class, updated side by side in the same matrix products.

Rows of weight zero are dropped before the rows are cut into mini-batches: they change
nothing, not even ``scale_``. ``fit`` makes passes until the training loss settles (``tol``,
as scikit-learn's SGD); ``partial_fit`` makes one.

The modules, from the rows up:

- ``_kernel``: the losses, the mini-batches and one pass over a block's rows
  (``train_pass``; ``train_pass_stacked`` for several models at once), on numpy arrays:
  the math, apart from the estimators, as scikit-learn keeps ``_sgd_fast`` apart from
  ``_stochastic_gradient``;
- ``_sparse``: the same pass on CSR rows (``train_pass_sparse``), uncentred, in O(nnz) per
  mini-batch;
- ``_stacked``: several learners that differ only in ``alpha`` and ``learning_rate``
  trained together, on the same mini-batches, as one stacked weight matrix
  (``_kernel.train_pass_stacked``): what a search does with such candidates;
- ``_base``: what the estimators share: the parameters, the input checks, and the passes
  that update the fitted attributes;
- ``_classifier`` and ``_regressor``: :class:`AdaptiveSGDClassifier` and
  :class:`AdaptiveSGDRegressor`;
- ``_state``: :class:`AdaptiveState`, the mergeable state that ``ParallelIncremental``
  reduces over the partitions; the family that builds and finalizes it is
  ``daskpar._families.AdaptiveFamily``.

The estimators' ``__module__`` is this package, where they were defined before it was split:
model files name them ``daskpar._adaptive.<class>`` (:func:`daskpar.persist.trusted_types`).
"""

from __future__ import annotations

from ._classifier import AdaptiveSGDClassifier
from ._regressor import AdaptiveSGDRegressor
from ._state import AdaptiveState

__all__ = ["AdaptiveSGDClassifier", "AdaptiveSGDRegressor", "AdaptiveState"]
