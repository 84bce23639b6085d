"""What every metric is: a state per block, merged through the tree, evaluated once.

Every metric has daskpar's one shape::

    (y_true, y_pred, sample_weight) blocks --partition_state--> state
        --combine (tree)--> one state --evaluate--> Evaluation (the metric and its warnings)

:class:`Metric` is that protocol, and :class:`Evaluator` its last step, which scorers have too.
``MetricBase`` implements it for daskpar's metrics from two methods, ``_state`` (of one
non-empty block, with checked weights) and ``_compute`` (of the merged state); the metric
classes in :mod:`daskpar.metrics._classification`, :mod:`daskpar.metrics._ranking` and
:mod:`daskpar.metrics._regression` define those two. With sample weights, a block's state
is wrapped in :class:`~daskpar._states.Weighted`, so that weights that are all zero are
refused once the whole data is seen, as scikit-learn refuses them.

``evaluate`` returns an :class:`Evaluation`, the value together with the warnings scikit-learn
would have raised, so that a finalize task on a worker can hand them to the client, where the
user sees them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np

from .._states import State, Weighted
from ..errors import InputError, PartitionError

__all__ = ["Evaluation", "Evaluator", "Metric", "Note"]

T = TypeVar("T")
Note = tuple[type[Warning], str]


class Notes(list[Note]):
    """The warnings computing a metric raises, kept for the client to emit."""

    def warn(self, message: str, category: type[Warning] = UserWarning) -> None:
        self.append((category, message))


@dataclass(frozen=True)
class Evaluation(Generic[T]):
    """A metric's value and the warnings computing it raised, to be re-emitted by the client."""

    value: T
    notes: tuple[Note, ...] = ()

    def unwrap(self, stacklevel: int = 2) -> T:
        """Emit the warnings (``stacklevel`` counted from the caller) and return the value."""
        for category, message in self.notes:
            warnings.warn(message, category, stacklevel=stacklevel + 1)
        return self.value


# --------------------------------------------------------------------------------------------
# Checks of one block, on the worker


def check_finite_values(a: np.ndarray, name: str) -> None:
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        kind = "NaN" if np.isnan(a).any() else "infinity"
        raise PartitionError(f"Input {name} contains {kind}.")


def check_label_values(y: np.ndarray, name: str) -> None:
    """Raise a :class:`PartitionError` unless ``y`` holds class labels (as type_of_target)."""
    if y.dtype.kind != "f":
        return
    check_finite_values(y, name)
    fractional = y != np.trunc(y)
    if fractional.any():
        raise PartitionError(
            f"{name} holds non-integer values such as {y[fractional][0].item()!r}, which are "
            "not class labels: classification metrics need labels (the output of predict), "
            "not continuous scores or probabilities."
        )


def _weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    """Per-row weights: int64 (exact counts) unless the weights are floats, as scikit-learn."""
    if sample_weight is None:
        return np.ones(n, dtype=np.int64)
    w = np.asarray(sample_weight)
    if w.dtype.kind in "biu":
        return w.astype(np.int64)
    check_finite_values(w, "sample_weight")
    return w.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Metrics


class Metric(Protocol):
    """A metric computed from mergeable per-partition states.

    ``partition_state`` runs on one block (``None`` for an empty block); the states merge with
    their ``combine``; ``evaluate`` computes the metric and collects the warnings, and ``value``
    emits them and returns the number. ``stage`` names the graph's tasks
    (``<stage>-block``; at most 9 letters, see :func:`daskpar._graph.stage_name`).
    ``y_true_name`` is what the caller calls ``y_true``, for the messages of the checks of its
    values (a fit's ``validation_data``).
    """

    stage: ClassVar[str]

    def partition_state(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        sample_weight: np.ndarray | None,
        *,
        y_true_name: str = "y_true",
    ) -> State | None: ...

    def evaluate(self, state: State | None) -> Evaluation[float]: ...

    def value(self, state: State | None) -> float: ...


class Evaluator(Protocol):
    """What the root of a metric's tree evaluates: a metric or a scorer.

    ``evaluate`` turns the merged state into the value and the warnings computing it raised,
    on the worker that runs the finalize task; the client emits the warnings.
    """

    def evaluate(self, state: State | None) -> Evaluation[Any]: ...


class MetricBase(Generic[T]):
    """A metric in terms of ``_state`` (one block's) and ``_compute`` (of the merged state).

    ``_state`` gets a non-empty block, checked weights (ones without ``sample_weight``) and
    the name its checks give ``y_true``; ``_compute`` gets the merged state and appends the
    warnings scikit-learn would raise to ``notes``.
    """

    stage: ClassVar[str]
    function: ClassVar[str]

    @property
    def name(self) -> str:
        """The scikit-learn function this metric mirrors, for messages."""
        return self.function

    def _state(
        self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, y_true_name: str
    ) -> State:
        raise NotImplementedError

    def _compute(self, state: Any, notes: Notes) -> T:
        raise NotImplementedError

    def partition_state(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        sample_weight: np.ndarray | None,
        *,
        y_true_name: str = "y_true",
    ) -> State | None:
        """The state of one block: ``None`` if it is empty."""
        if len(y_true) == 0:
            return None
        w = _weights(sample_weight, len(y_true))
        state = self._state(np.asarray(y_true), np.asarray(y_pred), w, y_true_name)
        if sample_weight is None:
            return state
        return Weighted(state, bool(np.any(w != 0)))

    def evaluate(self, state: State | None) -> Evaluation[T]:
        """The metric of the merged ``state``, with the warnings to emit."""
        if state is None:
            raise InputError(f"Cannot compute {self.name} on empty data: every partition is empty.")
        if isinstance(state, Weighted):
            if not state.any_weight:
                raise InputError(
                    f"{self.name}: every sample weight is zero. Sample weights must contain at "
                    "least one non-zero number."
                )
            state = state.state
        notes = Notes()
        value = self._compute(state, notes)
        return Evaluation(value, tuple(notes))

    def value(self, state: State | None) -> T:
        """The metric of the merged ``state``; warnings are emitted here."""
        return self.evaluate(state).unwrap(stacklevel=2)


def zero_weight_sum_error(function: str) -> InputError:
    return InputError(
        f"{function}: the sample weights sum to zero, so the weighted average is undefined. "
        "Use weights whose sum is not zero."
    )


def show_labels(labels: np.ndarray, at_most: int = 10) -> str:
    text = ", ".join(map(repr, labels[:at_most].tolist()))
    return f"[{text}{', ...' if len(labels) > at_most else ''}]"
