"""daskpar's reach into scikit-learn's private API: still there, and only in one module.

``daskpar/_sklearn_compat.py`` holds every private name daskpar takes from scikit-learn. These
tests fail first when a scikit-learn release moves one of them, and their messages name the
release and the name. The import checks read that module's source rather than importing it, so
they report the moved name even when ``import daskpar`` itself fails.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable, Iterator
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
from daskpar_testing import everything_shown
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.naive_bayes import BernoulliNB, MultinomialNB
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

SKLEARN = f"scikit-learn {sklearn.__version__}"
FIX = "update daskpar/_sklearn_compat.py"


def _package_dir() -> Path:
    # find_spec of the top-level package locates it without running daskpar/__init__.py.
    spec = importlib.util.find_spec("daskpar")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations)))


PACKAGE = _package_dir()
COMPAT = PACKAGE / "_sklearn_compat.py"


def _sklearn_imports(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """``(line, module, name)`` of every ``from sklearn... import name`` and ``import sklearn...``.

    ``name`` is empty for ``import sklearn...``.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "sklearn":
                for alias in node.names:
                    yield node.lineno, node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sklearn":
                    yield node.lineno, alias.name, ""


def _is_private(module: str, name: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")) or name.startswith("_")


COMPAT_IMPORTS = sorted(
    (module, name)
    for _, module, name in _sklearn_imports(ast.parse(COMPAT.read_text(), str(COMPAT)))
    if _is_private(module, name)
)


def _declared_groups(compat: Any) -> set[str]:
    """The tuples of private attribute and method names the compat module declares."""
    return {name for name in compat.__all__ if name.isupper()}


def _compat() -> Any:
    """``daskpar._sklearn_compat``, or a failure saying it no longer imports."""
    try:
        return importlib.import_module("daskpar._sklearn_compat")
    except ImportError as error:
        pytest.fail(f"daskpar/_sklearn_compat.py does not import with {SKLEARN} ({error}): {FIX}")


# --------------------------------------------------------------------------------------------
# Private modules and the names taken from them


def test_compat_imports_were_found() -> None:
    # Guards the parametrization below against a parser that silently finds nothing.
    assert ("sklearn.utils._param_validation", "Interval") in COMPAT_IMPORTS
    assert ("sklearn.utils._param_validation", "validate_params") in COMPAT_IMPORTS
    assert ("sklearn.linear_model._stochastic_gradient", "fit_binary") in COMPAT_IMPORTS


@pytest.mark.parametrize(
    ("module", "name"), COMPAT_IMPORTS, ids=[".".join(i) for i in COMPAT_IMPORTS]
)
def test_private_import_still_exists(module: str, name: str) -> None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{SKLEARN} no longer has the module {module}: {FIX}")
    if not hasattr(mod, name):
        pytest.fail(f"{SKLEARN} no longer has {module}.{name}: {FIX}")


def _parameter_names(func: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_fit_binary_signatures_are_the_ones_the_replacement_follows() -> None:
    from sklearn.linear_model._stochastic_gradient import BaseSGDClassifier, fit_binary

    # fit_binary_keeping_intercept passes the first ten positionally, random_state by name.
    expected = ["est", "i", "X", "y", "alpha", "learning_rate", "max_iter"]
    expected += ["pos_weight", "neg_weight", "sample_weight"]
    names = _parameter_names(fit_binary)
    if names[:10] != expected or "random_state" not in names:
        pytest.fail(
            f"{SKLEARN} changed the parameters of "
            f"sklearn.linear_model._stochastic_gradient.fit_binary to {names}: {FIX}"
        )
    # partial_fit calls the method with these names, which the replacement must accept.
    method = _parameter_names(BaseSGDClassifier._fit_binary)
    replacement = _parameter_names(_compat().fit_binary_keeping_intercept)
    if method != replacement:
        pytest.fail(
            f"{SKLEARN} changed the parameters of BaseSGDClassifier._fit_binary to {method} "
            f"(fit_binary_keeping_intercept takes {replacement}): {FIX}"
        )


def test_validate_params_checks_and_names_the_function() -> None:
    # daskpar's public functions rely on the decorator's message (naming the function by its
    # __qualname__: the name, for a module-level function), on parameters without constraints
    # going unchecked, and on *args.
    compat = _compat()

    def head(*arrays: Any, n: int = 1, data: Any = None) -> int:
        return n

    head.__qualname__ = "head"
    head = compat.validate_params(
        {"n": [compat.Interval(Integral, 1, None, closed="left")]},
        prefer_skip_nested_validation=True,
    )(head)
    assert head(object(), object(), n=3, data=object()) == 3
    message = "The 'n' parameter of head must be an int in the range [1, inf). Got 0 instead."
    with pytest.raises(compat.InvalidParameterError, match=re.escape(message)):
        head(n=0)
    if _parameter_names(head) != ["arrays", "n", "data"]:
        pytest.fail(f"{SKLEARN}'s validate_params no longer keeps the signature: {FIX}")


def test_secret_parameters_are_checked_without_showing_their_value() -> None:
    compat = _compat()

    def sign(data: bytes, *, key: Any = None, name: Any = None) -> Any:
        return key

    sign.__qualname__ = "sign"
    sign = compat.validate_params(
        {"key": [str, bytes, None], "name": [str, None]},
        prefer_skip_nested_validation=True,
        secret=("key",),
    )(sign)
    canary = "canary-5b0f9e7a1c"
    assert sign(b"", key=canary) == canary
    assert sign(b"", key=canary.encode(), name="n") == canary.encode()
    expected = (
        "The 'key' parameter of sign must be an instance of 'str', an instance of 'bytes' or "
        "None. Got a value of type bytearray (length 17; not shown, the parameter is secret) "
        "instead."
    )
    with pytest.raises(compat.InvalidParameterError, match=re.escape(expected)):
        sign(b"", key=bytearray(canary.encode()))
    for bad in (
        bytearray(canary.encode()),
        memoryview(canary.encode()),
        [canary],
        {canary: canary},
        (canary,),
        np.frombuffer(canary.encode(), dtype=np.uint8),
        1234567890123,
    ):
        with pytest.raises(compat.InvalidParameterError, match="Got a value of type") as caught:
            sign(b"", key=bad)
        shown = everything_shown(caught.value)
        for needle in (canary, canary.encode().hex(), "1234567890123", "99, 97, 110"):
            assert needle not in shown, f"{type(bad).__name__}: {shown}"
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None
    # The other parameters keep scikit-learn's message, value included.
    with pytest.raises(compat.InvalidParameterError, match="Got 3 instead"):
        sign(b"", key=canary, name=3)
    # Skipped like scikit-learn's checks when validation is off.
    with sklearn.config_context(skip_parameter_validation=True):
        assert sign(b"", key=[canary]) == [canary]
    with pytest.raises(ValueError, match="no constraints"):
        compat.validate_params({}, prefer_skip_nested_validation=True, secret=("key",))
    if _parameter_names(sign) != ["data", "key", "name"]:
        pytest.fail(f"{SKLEARN}'s validate_params no longer keeps the signature: {FIX}")


# --------------------------------------------------------------------------------------------
# Private attributes and methods of small fitted estimators


def _fitted(make: Callable[[], Any], n_classes: int | None) -> Any:
    """``make()`` after one ``partial_fit`` (``fit`` for the scalers), as daskpar runs it."""
    rng = np.random.default_rng(0)
    X = rng.random((30, 3))
    est = make()
    if n_classes is None:
        return est.partial_fit(X, X[:, 0]) if isinstance(est, SGDRegressor) else est.fit(X)
    y = np.arange(30) % n_classes
    return est.partial_fit(X, y, classes=np.arange(n_classes))


# (description, factory, number of classes or None, the compat tuples to check on it)
CASES: list[tuple[str, Callable[[], Any], int | None, tuple[str, ...]]] = [
    (
        "binary SGDClassifier(average=True)",
        lambda: SGDClassifier(average=True, random_state=0),
        2,
        ("SGD_AVERAGING_ATTRIBUTES", "SGD_BINARY_FIT_NAMES", "ESTIMATOR_VALIDATION_NAMES"),
    ),
    (
        "multiclass SGDClassifier(average=True)",
        lambda: SGDClassifier(average=True, random_state=0),
        3,
        ("SGD_AVERAGING_ATTRIBUTES", "SGD_BINARY_FIT_NAMES"),
    ),
    (
        "SGDRegressor(average=True)",
        lambda: SGDRegressor(average=True, random_state=0),
        None,
        ("SGD_AVERAGING_ATTRIBUTES",),
    ),
    ("MultinomialNB", MultinomialNB, 3, ("NAIVE_BAYES_UPDATE_METHODS",)),
    ("BernoulliNB", BernoulliNB, 2, ("NAIVE_BAYES_UPDATE_METHODS",)),
    (
        "StandardScaler",
        StandardScaler,
        None,
        ("SCALER_RESET_METHODS", "ESTIMATOR_VALIDATION_NAMES"),
    ),
    ("MinMaxScaler", MinMaxScaler, None, ("SCALER_RESET_METHODS",)),
    ("MaxAbsScaler", MaxAbsScaler, None, ("SCALER_RESET_METHODS",)),
]


@pytest.mark.parametrize(("what", "make", "n_classes", "groups"), CASES, ids=[c[0] for c in CASES])
def test_private_attributes_still_exist(
    what: str, make: Callable[[], Any], n_classes: int | None, groups: tuple[str, ...]
) -> None:
    compat = _compat()
    est = _fitted(make, n_classes)
    cls = type(est).__name__
    for group in groups:
        for name in getattr(compat, group):
            if not hasattr(est, name):
                pytest.fail(f"{SKLEARN} no longer has {cls}.{name} (a fitted {what}): {FIX}")


def test_the_text_vectorizers_private_names_still_exist() -> None:
    """What daskpar's vectorizers call (and set) on scikit-learn's, after a fit with stop
    words (which sets the stop-word check's marker)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    est = TfidfVectorizer(stop_words=["the"]).fit(["the red fox", "a blue sky"])
    for name in _compat().TEXT_VECTORIZER_PRIVATE_NAMES:
        if not hasattr(est, name):
            pytest.fail(f"{SKLEARN} no longer has TfidfVectorizer.{name}: {FIX}")


def test_every_declared_private_name_is_checked() -> None:
    compat = _compat()
    checked = {group for *_, groups in CASES for group in groups}
    # The text vectorizers' names: test_the_text_vectorizers_private_names_still_exist.
    checked.add("TEXT_VECTORIZER_PRIVATE_NAMES")
    assert _declared_groups(compat) == checked


def test_naive_bayes_update_matches_partial_fit() -> None:
    est = _fitted(MultinomialNB, 3)
    expected = est.feature_log_prob_.copy(), est.class_log_prior_.copy()
    est.feature_log_prob_[:] = 0.0
    est.class_log_prior_[:] = 0.0
    _compat().update_naive_bayes_log_probabilities(est)
    np.testing.assert_allclose(est.feature_log_prob_, expected[0])
    np.testing.assert_allclose(est.class_log_prior_, expected[1])


def test_fit_binary_replacement_is_removed_again() -> None:
    compat = _compat()
    est = _fitted(lambda: SGDClassifier(average=True, random_state=0), 2)
    compat.install_fit_binary_keeping_intercept(est)
    assert "_fit_binary" in vars(est)
    compat.remove_fit_binary_keeping_intercept(est)
    assert "_fit_binary" not in vars(est)


# --------------------------------------------------------------------------------------------
# The rest of daskpar goes through daskpar/_sklearn_compat.py


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != COMPAT)


def test_no_other_module_imports_private_sklearn() -> None:
    reaches = []
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        for line, module, name in _sklearn_imports(tree):
            if _is_private(module, name):
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                reaches.append(f"{where} imports {module + ('.' + name if name else '')}")
    assert not reaches, (
        "Private scikit-learn names are taken from daskpar/_sklearn_compat.py only; move these "
        "there:\n" + "\n".join(reaches)
    )


#: Private names of other libraries that daskpar reads, not scikit-learn's.
OTHER_LIBRARIES = {
    "_meta",  # dask collections' empty prototype (``da.Array._meta``, ``DataFrame._meta``)
    "_get_lengths",  # dask-expr's partition lengths from Parquet metadata (in _dask_compat)
    "_meta_nonempty",  # a dask DataFrame's prototype with two rows (in _dask_compat)
}


def _defined_names(tree: ast.AST) -> set[str]:
    """Names daskpar itself defines: functions, classes, ``self.x =``, class and module names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                names.add(target.id)
            elif (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in ("self", "cls")
            ):
                names.add(target.attr)
    return names


def test_private_attributes_used_are_declared_in_compat() -> None:
    # A private attribute daskpar neither defines nor declares is most likely a new reach into
    # a scikit-learn object, which the tests above would not check. Outside the compat module
    # only the averaged SGD weights are read and written by name; every other private method
    # and attribute is reached through a function of the compat module.
    compat = _compat()
    trees = {path: ast.parse(path.read_text(), str(path)) for path in _modules()}
    defined = set().union(*(_defined_names(tree) for tree in trees.values()))
    allowed = defined | set(compat.SGD_AVERAGING_ATTRIBUTES) | OTHER_LIBRARIES
    undeclared = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and re.match(r"_[A-Za-z]", node.attr)
                and node.attr not in allowed
            ):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                undeclared.append(f"{where} uses {node.attr}")
    assert not undeclared, (
        "Reach scikit-learn's private methods and attributes through a function of "
        "daskpar/_sklearn_compat.py, and list them in one of its tuples:\n" + "\n".join(undeclared)
    )
