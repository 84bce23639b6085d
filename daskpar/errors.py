"""The exceptions daskpar raises.

All of them derive from :class:`DaskparError`, itself a :class:`ValueError`, so code that already
catches ``ValueError`` around a scikit-learn call keeps working::

    ValueError
    └── DaskparError
        ├── InputError                 bad data, found before the cluster does any work
        ├── PartitionError             bad data found inside one partition, on a worker
        │   └── WorkerKilledError      a partition whose task killed every worker it ran on
        ├── DivergenceError            the model's parameters became NaN or infinite
        ├── SchedulerLostError         the connection to the scheduler broke mid-computation
        ├── CheckpointError            a checkpoint made by another run, or damaged
        └── UnsupportedEstimatorError  an estimator daskpar cannot train in parallel

Bad *parameters* (``split_every=1``, ``epochs=0``) raise scikit-learn's
``InvalidParameterError``, exactly as scikit-learn's own estimators do.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DaskparError",
    "DivergenceError",
    "InputError",
    "PartitionError",
    "SchedulerLostError",
    "UnsupportedEstimatorError",
    "WorkerKilledError",
]


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


class WorkerKilledError(PartitionError):
    """The task of one partition killed every worker that ran it (distributed's allowed
    failures, 3 by default): a crash in native code, or more memory than a worker has.

    The message names the partition and its rows and suggests smaller chunks or more memory
    per worker. The cluster stays usable: a nanny restarts each killed worker.
    """


class DivergenceError(DaskparError):
    """Training diverged: a partition's ``partial_fit``, or the merge of the partitions'
    models, gave parameters that are NaN or infinite.

    The message names the epoch (and the partition, when one block's fit overflowed) and
    suggests scaling the features or a smaller learning rate. ``ParallelIncremental`` keeps
    the last epoch's finite model as ``estimator_``.
    """


class SchedulerLostError(DaskparError):
    """The client lost its scheduler in the middle of a computation: the scheduler process
    died, or the network to it dropped. Its workers stop with it, and the computation's
    results are gone; a fit or search with ``checkpoint=`` resumes after its last epoch when
    it is run again on a new scheduler.
    """


class CheckpointError(DaskparError):
    """A ``checkpoint=`` folder that cannot be used: its checkpoint was made by other
    parameters or from other data, it is damaged, or the folder holds files that are not a
    daskpar checkpoint. Raised before any task runs; nothing in the folder is touched.
    """


class UnsupportedEstimatorError(DaskparError):
    """The estimator has no mergeable state that daskpar knows how to combine."""
