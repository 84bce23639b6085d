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

import contextlib
import functools
import inspect
import types
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, TypeVar

import numpy as np
from sklearn import get_config, preprocessing
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model._stochastic_gradient import (
    BaseSGDClassifier,
    BaseSGDRegressor,
    fit_binary,
)
from sklearn.preprocessing._data import _handle_zeros_in_scale as handle_zeros_in_scale
from sklearn.preprocessing._data import _is_constant_feature as is_constant_feature
from sklearn.utils._encode import _check_unknown, _encode, _unique
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
from sklearn.utils._sparse import _align_api_if_sparse
from sklearn.utils.validation import _check_feature_names as check_feature_names

__all__ = [
    "TEXT_VECTORIZER_PRIVATE_NAMES",
    "call_vectorizer_check",
    "mark_stop_words_checked",
    "column_transformer_input_indices",
    "unwrapped_output",
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
    "align_sparse_interface",
    "check_encoder_parameters",
    "check_feature_names",
    "count_known_categories",
    "encoder_fitted_attributes",
    "encoder_input_columns",
    "encoder_output_config",
    "fit_encoder_with_counts",
    "merge_category_counts",
    "get_output_config",
    "handle_zeros_in_scale",
    "install_fit_binary_keeping_intercept",
    "is_constant_feature",
    "parameter_constraints",
    "transformed_categories",
    "unique_values",
    "remove_fit_binary_keeping_intercept",
    "reset_scaler",
    "set_encoder_output_config",
    "update_naive_bayes_log_probabilities",
    "validate_estimator_params",
    "validate_params",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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

#: The text vectorizers' private methods daskpar's out-of-core vectorizers call (parameter
#: checks and warnings, run on the client as scikit-learn's ``fit`` runs them), and the
#: attribute that marks the stop-word warning as given (set in the tasks, so that workers do
#: not repeat it).
TEXT_VECTORIZER_PRIVATE_NAMES: Final[tuple[str, ...]] = (
    "_validate_ngram_range",
    "_warn_for_unused_params",
    "_validate_vocabulary",
    "_check_vocabulary",
    "_check_params",
    "_stop_words_id",
)


def call_vectorizer_check(vectorizer: Any, name: str) -> Any:
    """Call scikit-learn's private check ``name`` of a text vectorizer (one of
    :data:`TEXT_VECTORIZER_PRIVATE_NAMES`)."""
    if name not in TEXT_VECTORIZER_PRIVATE_NAMES:
        raise ValueError(f"{name!r} is not a declared private name of scikit-learn's vectorizers")
    return getattr(vectorizer, name)()


def mark_stop_words_checked(vectorizer: Any) -> None:
    """Mark a vectorizer's stop words as checked, as scikit-learn does after warning once."""
    setattr(vectorizer, TEXT_VECTORIZER_PRIVATE_NAMES[-1], id(vectorizer.stop_words))


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


def unwrapped_output(cls: type[T]) -> type[T]:
    """``cls`` without scikit-learn's ``set_output`` wrapping of its *own* ``transform`` and
    ``fit_transform`` (a class decorator).

    scikit-learn wraps the ``transform`` of every transformer class so that, under
    ``set_output(transform="pandas")``, whatever it returns becomes a pandas DataFrame: a
    lazy dask DataFrame would be computed whole on the client. daskpar's transformers give
    dask output for dask input themselves and hand in-memory input to scikit-learn's
    (wrapped) methods, so ``set_output`` keeps working for both. The wrapper keeps the
    function it wraps as ``__wrapped__`` (``functools.wraps``).
    """
    for method in ("transform", "fit_transform"):
        wrapped = cls.__dict__.get(method)
        inner = getattr(wrapped, "__wrapped__", None)
        if inner is not None:
            setattr(cls, method, inner)
    return cls


# --------------------------------------------------------------------------------------------
# The encoders (OneHotEncoder, OrdinalEncoder): daskpar counts categories per partition and
# hands the merged counts to scikit-learn's own fit, so the fitted attributes are its own.

#: The private attributes a fitted OneHotEncoder or OrdinalEncoder keeps besides its public
#: ones (``transform`` reads them), copied from the encoder scikit-learn fits on the merged
#: categories. Not one of the groups in ``__all__`` (``tests/test_sklearn_compat.py`` checks
#: those); :func:`encoder_fitted_attributes` takes whichever of them a fitted encoder has.
ENCODER_PRIVATE_ATTRIBUTES: Final[tuple[str, ...]] = (
    "_infrequent_enabled",
    "_infrequent_indices",
    "_default_to_infrequent_mappings",
    "_drop_idx_after_grouping",
    "_n_features_outs",
    "_missing_indices",
)


#: The types of floats, whose NaN values scikit-learn's encoders take as missing.
_FLOAT_TYPES: Final[frozenset[type]] = frozenset(
    {float} | {np.dtype(c).type for c in np.typecodes["Float"]}
)
#: Families of types whose values sort in one order, with no error or warning, whichever
#: pairs a sort compares: text, bytes, and Python's own numbers (numpy's scalars may overflow
#: against a large int, or warn).
_TOTALLY_ORDERED: Final[tuple[frozenset[type], ...]] = (
    frozenset({str, np.str_}),
    frozenset({bytes, np.bytes_}),
    frozenset({bool, int, float}),
)


def unique_values_by_sklearn(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``_unique`` of one column with counts, run on the whole column (pure
    Python, one ``is_scalar_nan`` per row, for an object column)."""
    uniques, counts = _unique(values, return_counts=True)
    return uniques, np.asarray(counts, dtype=np.int64)


def unique_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's sorted unique values of one column and their counts (``_unique``).

    Missing values come last, None before NaN, as the encoders' ``categories_`` have them;
    a column mixing strings and numbers raises scikit-learn's ``TypeError``.

    Exactly :func:`unique_values_by_sklearn`'s result, found faster for an object column: a
    ``Counter`` groups the rows as scikit-learn's ``set`` does (``hash`` and ``==``, the first
    value of each group kept, in the order of first occurrence), and scikit-learn's
    ``_unique`` sorts the groups' values only, its order mapped back to their counts. Those
    values, in that order, make the very ``set`` the whole column makes (a value already in
    a set changes nothing), so even values that sort only partially (frozensets) come out in
    scikit-learn's order. A column it refuses goes to it whole, for its message (which names
    the types of all rows, not only of the groups' first values).
    """
    if values.dtype != object:
        return unique_values_by_sklearn(values)
    try:
        groups = Counter(values)
    except TypeError:
        return unique_values_by_sklearn(values)  # unhashable values: scikit-learn's error
    keys, sizes = _merge_nan_groups(list(groups), list(groups.values()))
    distinct = np.fromiter(keys, dtype=object, count=len(keys))
    try:
        uniques, where = _unique(distinct, return_inverse=True)
    except TypeError:
        return unique_values_by_sklearn(values)  # strings and numbers: its message
    counts = np.zeros(len(uniques), dtype=np.int64)
    np.add.at(counts, np.asarray(where, dtype=np.intp), sizes)
    return uniques, counts


def _merge_nan_groups(keys: list[Any], sizes: list[int]) -> tuple[list[Any], list[int]]:
    """``keys`` with their NaN values (each NaN object its own group: NaN != NaN) as one, the
    first, holding all their rows, where that cannot change how scikit-learn sorts them.

    A column built from floats (``astype(object)``) has one NaN object per missing row, which
    scikit-learn would check one by one. It sorts the other values in the order a ``set`` of
    them iterates; leaving some out changes that order, which does not matter where the
    values are totally ordered (:data:`_TOTALLY_ORDERED`); elsewhere ``keys`` are kept.
    """
    nan = [i for i, k in enumerate(keys) if type(k) in _FLOAT_TYPES and k != k]
    if len(nan) < 2:
        return keys, sizes
    nan_keys = set(nan)
    present = {type(k) for i, k in enumerate(keys) if k is not None and i not in nan_keys}
    if not any(present <= family for family in _TOTALLY_ORDERED):
        return keys, sizes
    first, others = nan[0], set(nan[1:])
    n_nan = sum(sizes[i] for i in nan)
    kept = [i for i in range(len(keys)) if i not in others]
    return [keys[i] for i in kept], [n_nan if i == first else sizes[i] for i in kept]


def merge_category_counts(
    parts: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """The unique values and counts of several ``(uniques, counts)`` pairs of one column.

    The uniques are scikit-learn's ``_unique`` of all the parts' uniques (the parts' dtypes
    promoted as ``np.concatenate`` does); each part's counts are added at its values'
    positions, found with scikit-learn's ``_encode`` (which matches NaN with NaN).
    """
    values = np.concatenate([u for u, _ in parts])
    uniques = _unique(values)
    counts = np.zeros(len(uniques), dtype=np.int64)
    for part_uniques, part_counts in parts:
        codes = _encode(part_uniques.astype(values.dtype), uniques=uniques, check_unknown=False)
        np.add.at(counts, np.asarray(codes, dtype=np.intp), part_counts)
    return uniques, counts


def count_known_categories(
    categories: np.ndarray, uniques: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """The counts of ``categories`` among ``uniques`` (0 for those absent), as scikit-learn's
    ``_get_counts`` counts them in the column itself."""
    out = np.zeros(len(categories), dtype=np.int64)
    if len(categories) == 0 or len(uniques) == 0:
        return out
    _, present = _check_unknown(categories, uniques, return_mask=True)
    present = np.asarray(present, dtype=bool)
    if present.any():
        known = categories[present]
        if uniques.dtype.kind not in "OUS" and known.dtype.kind in "OUS":
            known = known.astype(uniques.dtype)
        codes = _encode(known, uniques=uniques, check_unknown=False)
        out[present] = counts[np.asarray(codes, dtype=np.intp)]
    return out


def encoder_input_columns(X: Any) -> list[np.ndarray]:
    """The columns of ``X`` as the encoders' ``fit`` validates them (``_BaseEncoder._check_X``
    with NaN allowed): one array per column, each keeping a DataFrame column's own dtype."""
    columns, _, _ = preprocessing.OrdinalEncoder()._check_X(X, ensure_all_finite="allow-nan")
    return list(columns)


class _ParametersChecked(Exception):
    """Raised in place of the encoder's ``_fit``: the checks before it passed."""


def check_encoder_parameters(encoder: BaseEstimator) -> None:
    """Run what an encoder's ``fit`` checks before it reads ``X``: scikit-learn's parameter
    validation and ``OrdinalEncoder``'s checks of ``unknown_value`` against ``dtype``.

    ``encoder`` is a plain scikit-learn encoder (fitted or not); it is left as it was.
    """

    def stop(*args: Any, **kwargs: Any) -> None:
        raise _ParametersChecked

    probe = clone(encoder)
    probe._fit = stop
    with contextlib.suppress(_ParametersChecked):
        probe.fit(None)


def fit_encoder_with_counts(
    encoder: BaseEstimator,
    X: Any,
    *,
    n_samples: int,
    counts: Callable[[int, np.ndarray], np.ndarray],
) -> None:
    """scikit-learn's ``fit`` of an encoder on ``X`` (every distinct value of each column, in
    any multiplicity), with the category counts of the real data.

    The infrequent categories (``min_frequency``, ``max_categories``) are found by
    scikit-learn's ``_fit_infrequent_category_mapping`` from ``n_samples`` and
    ``counts(i, categories_[i])``, the counts of column ``i``'s fitted categories, instead of
    from ``X``'s; everything else is scikit-learn's ``fit`` on ``X`` unchanged.
    """
    original = encoder._fit_infrequent_category_mapping

    def with_counts(
        _n_samples: int, _category_counts: list[np.ndarray], missing_indices: dict[int, int]
    ) -> None:
        real = [counts(i, cats) for i, cats in enumerate(encoder.categories_)]
        original(n_samples, real, missing_indices)

    encoder._fit_infrequent_category_mapping = with_counts
    try:
        encoder.fit(X)
    finally:
        del encoder._fit_infrequent_category_mapping


def encoder_fitted_attributes(encoder: BaseEstimator) -> dict[str, Any]:
    """A fitted encoder's fitted attributes: the public ones (``categories_``...) and the
    private ones its ``transform`` reads (:data:`ENCODER_PRIVATE_ATTRIBUTES`)."""
    params = encoder.get_params(deep=False)
    return {
        name: value
        for name, value in vars(encoder).items()
        if name not in params
        and (
            (name.endswith("_") and not name.startswith("_")) or name in ENCODER_PRIVATE_ATTRIBUTES
        )
    }


def encoder_output_config(encoder: BaseEstimator) -> dict[str, Any] | None:
    """The ``set_output`` configuration an estimator holds itself, if any (to copy it)."""
    config = getattr(encoder, "_sklearn_output_config", None)
    return dict(config) if config is not None else None


def set_encoder_output_config(encoder: BaseEstimator, config: dict[str, Any] | None) -> None:
    """Give ``encoder`` the ``set_output`` configuration :func:`encoder_output_config` read."""
    if config is not None:
        encoder._sklearn_output_config = dict(config)


def transformed_categories(encoder: BaseEstimator, i: int) -> np.ndarray:
    """A fitted OneHotEncoder's output categories of feature ``i``, dropped ones kept
    (``_compute_transformed_categories``): ``inverse_transform`` takes its dtype from them."""
    out: np.ndarray = encoder._compute_transformed_categories(i, remove_dropped=False)
    return out


def align_sparse_interface(X: Any) -> Any:
    """A sparse matrix in the sparse interface scikit-learn is configured to return."""
    return _align_api_if_sparse(X)


def column_transformer_input_indices(transformer: Any) -> dict[str, list[int]]:
    """A fitted ColumnTransformer's input columns (indices) of each step, the remainder
    included (its ``_transformer_to_input_indices``)."""
    return dict(transformer._transformer_to_input_indices)
