"""The exceptions daskpar raises.

All of them derive from :class:`DaskparError`, itself a :class:`ValueError`, so code that already
catches ``ValueError`` around a scikit-learn call keeps working::

    ValueError
    └── DaskparError
        ├── InputError                 bad data, found before the cluster does any work
        ├── PartitionError             bad data found inside one partition, on a worker
        └── UnsupportedEstimatorError  an estimator daskpar cannot train in parallel

Bad *parameters* (``split_every=1``, ``epochs=0``) raise scikit-learn's
``InvalidParameterError``, exactly as scikit-learn's own estimators do.
"""

from __future__ import annotations

__all__ = ["DaskparError", "InputError", "PartitionError", "UnsupportedEstimatorError"]


class DaskparError(ValueError):
    """Base class of every error daskpar raises on purpose."""


class InputError(DaskparError):
    """The data cannot be used as given (shape, chunking, dtype, alignment).

    Raised on the client, before any task runs; the message says how to fix the input.
    """


class PartitionError(DaskparError):
    """One partition holds data that cannot be used (NaN, infinity, an unknown label).

    Raised inside a task on a worker and re-raised on the client; the message names the
    partition and its row range so that the offending rows can be found.
    """


class UnsupportedEstimatorError(DaskparError):
    """The estimator has no mergeable state that daskpar knows how to combine."""
