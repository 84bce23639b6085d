"""Every use daskpar makes of scikit-learn's private API, in one place.

scikit-learn may move or rename anything whose module or name starts with an underscore in any
release. daskpar needs some of it: the parameter validation its estimators and public functions
share with scikit-learn's, the SGD classes and ``fit_binary`` that averaged SGD builds on, the
scalers' helpers for constant features, and a few private methods and attributes of fitted
estimators. The rest of the package takes all of that from here, so a release that moves one of
them breaks this file only, and ``tests/test_sklearn_compat.py`` says which name moved.

Checked against scikit-learn 1.9.1. ``pyproject.toml`` allows ``scikit-learn>=1.6``, but the
signatures of ``fit_binary`` and ``BaseSGDClassifier._fit_binary`` that
:func:`fit_binary_keeping_intercept` follows are those of 1.9; older releases passed a ``C``
argument as well. ``tests/test_sklearn_compat.py`` checks those signatures too.

Private *attributes* are listed in tuples (``SGD_AVERAGING_ATTRIBUTES`` and the others), which
the tests check on small fitted estimators. Private *methods* are called only through the
functions here.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, TypeVar

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.linear_model._stochastic_gradient import (
    BaseSGDClassifier,
    BaseSGDRegressor,
    fit_binary,
)
from sklearn.preprocessing._data import _handle_zeros_in_scale as handle_zeros_in_scale
from sklearn.preprocessing._data import _is_constant_feature as is_constant_feature
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    make_constraint,
)
from sklearn.utils._param_validation import validate_params as sklearn_validate_params
from sklearn.utils._set_output import _get_output_config as get_output_config
from sklearn.utils.validation import _check_feature_names as check_feature_names

__all__ = [
    "ESTIMATOR_VALIDATION_NAMES",
    "NAIVE_BAYES_UPDATE_METHODS",
    "SCALER_RESET_METHODS",
    "SGD_AVERAGING_ATTRIBUTES",
    "SGD_BINARY_FIT_NAMES",
    "BaseSGDClassifier",
    "BaseSGDRegressor",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RealNotInt",
    "StrOptions",
    "fit_binary_keeping_intercept",
    "check_feature_names",
    "get_output_config",
    "handle_zeros_in_scale",
    "install_fit_binary_keeping_intercept",
    "is_constant_feature",
    "parameter_constraints",
    "remove_fit_binary_keeping_intercept",
    "reset_scaler",
    "update_naive_bayes_log_probabilities",
    "validate_estimator_params",
    "validate_params",
]

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------------------------
# Private attributes and methods, by the estimators that have them

#: The class attribute holding an estimator's parameter constraints, and the method checking
#: them (``BaseEstimator``): daskpar's estimators extend scikit-learn's constraints and check
#: the parameters of the estimators they wrap.
ESTIMATOR_VALIDATION_NAMES: Final[tuple[str, ...]] = ("_parameter_constraints", "_validate_params")

#: A fitted averaged SGD model's (``average`` set) iterate and its running mean, which
#: ``coef_`` and ``intercept_`` alias. ``SGDFamily`` in ``daskpar/_families.py`` reads and
#: writes them as attributes under these names: it merges them across partitions.
SGD_AVERAGING_ATTRIBUTES: Final[tuple[str, ...]] = (
    "_standard_coef",
    "_standard_intercept",
    "_average_coef",
    "_average_intercept",
)

#: The method a binary SGD classifier's ``partial_fit`` calls, which
#: :func:`install_fit_binary_keeping_intercept` shadows, and the fitted attribute the
#: replacement reads.
SGD_BINARY_FIT_NAMES: Final[tuple[str, ...]] = ("_fit_binary", "_expanded_class_weight")

#: The methods ``MultinomialNB`` and ``BernoulliNB`` end ``partial_fit`` with, which
#: :func:`update_naive_bayes_log_probabilities` applies to merged counts.
NAIVE_BAYES_UPDATE_METHODS: Final[tuple[str, ...]] = (
    "_check_alpha",
    "_update_feature_log_prob",
    "_update_class_log_prior",
)

#: The method that forgets a scaler's fitted statistics (:func:`reset_scaler`).
SCALER_RESET_METHODS: Final[tuple[str, ...]] = ("_reset",)


def parameter_constraints(estimator_class: type[BaseEstimator]) -> dict[str, list[Any]]:
    """A copy of the parameter constraints of a scikit-learn estimator class.

    Parameters
    ----------
    estimator_class : type
        A scikit-learn estimator class, such as ``sklearn.preprocessing.StandardScaler``.

    Returns
    -------
    dict
        Parameter name to the list of constraints scikit-learn checks it against.
    """
    return dict(estimator_class._parameter_constraints)


def validate_params(
    parameter_constraints: Mapping[str, list[Any]],
    *,
    prefer_skip_nested_validation: bool,
    secret: Collection[str] = (),
) -> Callable[[F], F]:
    """scikit-learn's ``validate_params`` decorator, typed so that a function keeps its signature.

    Each call of the decorated function first checks its arguments against
    ``parameter_constraints`` (parameters left out are not checked), and raises
    ``InvalidParameterError`` with scikit-learn's message, naming the function: "The
    'split_every' parameter of accuracy_score must be an int in the range [2, inf) or None.
    Got 1 instead." An ``InvalidParameterError`` raised inside comes out as a new, plain
    ``InvalidParameterError``, its "parameter of <name> must be" naming the decorated function.

    The parameters named in ``secret`` (keys) are checked here instead, before scikit-learn's
    check, and their message never shows the value: "The 'key' parameter of save must be an
    instance of 'str' or None. Got a value of type list (length 1; not shown, the parameter
    is secret) instead." The error is raised with no ``__cause__`` or ``__context__``, so no
    chained exception carries the value either.

    The decorated function runs one frame deeper (two with ``secret``): a warning it raises
    needs ``stacklevel`` that much higher to point at its caller.

    Parameters
    ----------
    parameter_constraints : dict
        Parameter name to the list of constraints it must meet one of (``Interval``,
        ``StrOptions``, ``"array-like"``, ``"boolean"``, ``"random_state"``, ``None``, a type...).
    prefer_skip_nested_validation : bool
        While the function runs (in its thread), skip the checks of the functions decorated
        with ``validate_params`` and of scikit-learn's ``fit`` and ``partial_fit`` that it calls: a
        daskpar function calling another checks the parameters it passes on itself.
    secret : collection of str, default=()
        Parameters whose values must never appear in a message (keys); each must have its
        constraints in ``parameter_constraints``.

    Returns
    -------
    callable
        The decorator.
    """
    secret = frozenset(secret)
    unknown = sorted(secret - parameter_constraints.keys())
    if unknown:
        raise ValueError(f"secret parameters {unknown} have no constraints to check them against.")
    public = {k: v for k, v in parameter_constraints.items() if k not in secret}
    secret_checks = {
        k: [make_constraint(c) for c in parameter_constraints[k]] for k in sorted(secret)
    }
    check: Callable[[F], F] = sklearn_validate_params(
        public, prefer_skip_nested_validation=prefer_skip_nested_validation
    )
    if not secret_checks:
        return check

    def decorator(func: F) -> F:
        checked = check(func)
        signature = inspect.signature(func)

        @functools.wraps(checked)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not get_config()["skip_parameter_validation"]:
                try:
                    bound = signature.bind(*args, **kwargs)
                except TypeError:
                    bound = None  # the call itself raises scikit-learn's wrapper's TypeError
                if bound is not None:
                    bound.apply_defaults()
                    for name, constraints in secret_checks.items():
                        if name in bound.arguments:
                            _check_secret(name, bound.arguments[name], constraints, func)
            return checked(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _check_secret(name: str, value: Any, constraints: list[Any], func: Callable[..., Any]) -> None:
    """scikit-learn's check of one parameter, with a message that names the value's type only.

    The error is raised outside any ``except`` block: it has no context to leak through.
    """
    if any(constraint.is_satisfied_by(value) for constraint in constraints):
        return
    shown = [str(c) for c in constraints if not c.hidden]
    expected = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
    try:
        length = f"length {len(value)}; "
    except Exception:  # no length, or one that cannot be computed: the type says enough
        length = ""
    raise InvalidParameterError(
        f"The {name!r} parameter of {func.__qualname__} must be {expected}. Got a value of type "
        f"{type(value).__qualname__} ({length}not shown, the parameter is secret) instead."
    )


def validate_estimator_params(estimator: BaseEstimator) -> None:
    """Check an estimator's parameters against its constraints, as its ``fit`` begins with.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator whose ``get_params()`` are checked.

    Raises
    ------
    InvalidParameterError
        A parameter does not meet its constraints, with scikit-learn's message.
    """
    estimator._validate_params()


def reset_scaler(scaler: Any) -> None:
    """Forget a scikit-learn scaler's fitted statistics, as its ``fit`` begins with.

    Parameters
    ----------
    scaler : StandardScaler, MinMaxScaler, MaxAbsScaler or ``super()`` of a subclass
        The scaler to reset in place.
    """
    scaler._reset()


def update_naive_bayes_log_probabilities(estimator: BaseEstimator) -> None:
    """Recompute a discrete naive Bayes model's log probabilities from its counts.

    The two updates ``MultinomialNB.partial_fit`` and ``BernoulliNB.partial_fit`` end with,
    applied to whatever ``feature_count_`` and ``class_count_`` hold.

    Parameters
    ----------
    estimator : MultinomialNB or BernoulliNB
        A fitted model, updated in place.
    """
    estimator._update_feature_log_prob(estimator._check_alpha())
    estimator._update_class_log_prior(class_prior=estimator.class_prior)


def fit_binary_keeping_intercept(
    self: BaseEstimator,
    X: np.ndarray,
    y: np.ndarray,
    alpha: float,
    sample_weight: np.ndarray,
    learning_rate: str,
    max_iter: int,
) -> None:
    """scikit-learn's ``BaseSGDClassifier._fit_binary``, keeping the new iterate intercept."""
    _, intercept, n_iter = fit_binary(
        self,
        1,
        X,
        y,
        alpha,
        learning_rate,
        max_iter,
        self._expanded_class_weight[1],
        self._expanded_class_weight[0],
        sample_weight,
        random_state=self.random_state,
    )
    self.t_ += n_iter * X.shape[0]
    self.n_iter_ = n_iter
    # The iterate coefficients were updated in place in ``_standard_coef``.
    self._standard_intercept = np.atleast_1d(intercept)
    self.coef_ = self._standard_coef.reshape(1, -1)
    self.intercept_ = self._standard_intercept


def install_fit_binary_keeping_intercept(estimator: BaseEstimator) -> None:
    """Make a binary SGD classifier's ``partial_fit`` use :func:`fit_binary_keeping_intercept`.

    An instance attribute shadows the method until
    :func:`remove_fit_binary_keeping_intercept`; call that in a ``finally``.

    Parameters
    ----------
    estimator : BaseSGDClassifier
        The classifier to patch in place.
    """
    estimator._fit_binary = types.MethodType(fit_binary_keeping_intercept, estimator)


def remove_fit_binary_keeping_intercept(estimator: BaseEstimator) -> None:
    """Undo :func:`install_fit_binary_keeping_intercept`: scikit-learn's method again.

    Parameters
    ----------
    estimator : BaseSGDClassifier
        The patched classifier.
    """
    del estimator._fit_binary
