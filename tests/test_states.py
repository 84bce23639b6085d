"""The algebra of every mergeable state: the laws that make the tree's shape irrelevant.

daskpar reduces each stage as ``block --task body--> state --combine (tree)--> state``. The
tree groups partitions by index and ``split_every``, so a merged result is only independent of
the partitioning and the fan-in when ``combine`` obeys three laws, checked here with
hypothesis on random blocks (at most 200 rows and 5 features, with ties, constant or
missing features and zero weights) for every state class daskpar defines:

- **associative**: ``a.combine(b).combine(c)`` equals ``a.combine(b.combine(c))``;
- **``None`` is the identity** (an empty partition): ``combine_all([None, s, None])`` is ``s``;
- **splitting a block changes nothing**: merging the states of the two parts of a block, cut at
  any row (empty parts included), equals the state of the whole block.

States are built by the task bodies (or constructors) that build them in a real run. They
are compared field by field (:func:`assert_same_state`): integer and boolean arrays, labels,
strings and ``None`` exactly; float fields either to the bit (cases marked ``EXACT``: counts,
extrema) or, where the merge adds float sums in another order (moments, losses, weighted
counts), to ``FLOAT`` relative tolerance, measured against the largest entry of the field
(sums that cancel lose digits relative to their terms, not to their result). Two fields are
compared through what they stand for: a :class:`Moments` mean is ``mean + mean_lo`` (a
two-part float, whose parts alone are rounding), and a :class:`LeastSquaresState` factor ``r``
is the co-moment matrix ``r.T @ r`` (a QR factor is unique only up to the signs and number of
its rows). The estimator a state carries (``prototype``) and timings are not compared.

The split law is what exactness means, so it holds for every state whose merge is exact: all of
them but the averaged SGD parameters a ``SumState`` carries for :class:`SGDFamily` (a
partition's ``partial_fit`` from the epoch's start is not the same as a pass over the rows
before it). ``SumState`` is therefore built here from the discrete naive Bayes counts, which
are exact sums, of integer-valued data and weights: exact to the bit.

**Adding a state class**: add one entry to ``STATES`` (class name -> how a task body builds
it from a :class:`Block`). ``test_every_state_class_is_in_states`` finds every class with a
``combine`` in any ``daskpar`` module (by walking the package, so classes that move between
modules stay covered) and fails, naming the class, until it has one.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import itertools
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import GaussianNB, MultinomialNB

import daskpar
from daskpar._encoders import count_partition_categories
from daskpar._states import Moments, StateTuple, TrialState, combine_all
from daskpar._text import count_partition_documents, count_partition_terms

MAX_ROWS = 200
MAX_FEATURES = 5
K = 3  # classes of y
CLASSES = np.arange(K)
#: Float fields that must agree to the bit.
EXACT = 0.0
#: Tolerance of float fields whose merge sums in another order than one block does: an entry
#: may differ by ``FLOAT`` times itself plus ``FLOAT`` times the largest entry of its field (at
#: least 1.0), for the data here (values up to about 40, weights up to 3, 200 rows).
FLOAT = 1e-9
#: Fields that are not part of what a state means.
IGNORED_FIELDS = frozenset({"prototype", "fit_seconds", "score_seconds"})

# --------------------------------------------------------------------------------------------
# Finding daskpar's classes and task bodies wherever they live


@functools.cache
def daskpar_modules() -> tuple[ModuleType, ...]:
    """The package and every module under it (never ``__main__``, which would run)."""
    names = [
        info.name
        for info in pkgutil.walk_packages(daskpar.__path__, "daskpar.")
        if not info.name.endswith("__main__")
    ]
    return (daskpar, *(importlib.import_module(name) for name in sorted(names)))


def defined(name: str) -> Any:
    """The object ``name`` that a daskpar module defines (not merely imports)."""
    found = {
        id(obj): (module.__name__, obj)
        for module in daskpar_modules()
        if (obj := vars(module).get(name)) is not None
        and getattr(obj, "__module__", None) == module.__name__
    }
    if len(found) != 1:
        where = sorted(module for module, _ in found.values())
        raise LookupError(f"{name!r} is defined in {len(found)} daskpar modules: {where}")
    return next(iter(found.values()))[1]


def state_classes() -> dict[str, list[type]]:
    """Every class a daskpar module defines with a ``combine``, except protocols, by name."""
    out: dict[str, list[type]] = {}
    for module in daskpar_modules():
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and callable(getattr(obj, "combine", None))
                and not getattr(obj, "_is_protocol", False)
            ):
                out.setdefault(name, []).append(obj)
    return out


# --------------------------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True, eq=False)
class Block:
    """Rows of one partition: features, class labels, a regression target and weights.

    ``missing`` marks the cells that are NaN for the states that take missing values (the
    scalers'); the others see ``X`` whole.
    """

    X: np.ndarray  # (n, d) finite float64
    y: np.ndarray  # (n,) labels in 0..K-1
    y_pred: np.ndarray  # (n,) labels in 0..K: y on some rows, K never in y
    target: np.ndarray  # (n,) float64
    w: np.ndarray | None  # (n,) non-negative, some zero
    missing: np.ndarray  # (n, d) bool

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def rows(self, start: int, stop: int) -> Block:
        """The block of rows ``start:stop``."""
        part = slice(start, stop)
        w = None if self.w is None else self.w[part]
        return Block(
            self.X[part], self.y[part], self.y_pred[part], self.target[part], w, self.missing[part]
        )

    def X_missing(self) -> np.ndarray:
        return np.where(self.missing, np.nan, self.X)

    def proba(self) -> np.ndarray:
        """Class probabilities from the first feature (K columns), halved on the rows of the
        rarest label: rows that do not sum to one."""
        z = np.outer(self.X[:, 0], np.linspace(-1.0, 1.0, K))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        proba: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return proba * np.where(self.y == K - 1, 0.5, 1.0)[:, None]

    def position(self) -> tuple[tuple[slice, ...], tuple[int, ...]]:
        """The ``rows`` and ``block_id`` a task body gets (used in its messages only)."""
        return (slice(0, self.n),), (0,)


@st.composite
def blocks(draw: st.DrawFn, min_rows: int = 0) -> Block:
    n = draw(st.integers(min_rows, MAX_ROWS))
    d = draw(st.integers(1, MAX_FEATURES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    loc = draw(st.sampled_from([0.0, -7.5, 10.0]))
    scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 10.0]))  # 0: constant features
    X = rng.normal(loc, scale, size=(n, d))
    if draw(st.booleans()):
        X = np.round(X)  # ties: repeated scores, equal extrema
    # Some labels rare, so that parts miss them in y, in y_pred or in both.
    y = rng.choice(K, size=n, p=[0.7, 0.25, 0.05])
    right = rng.random(n) < draw(st.sampled_from([0.3, 0.95]))
    y_pred = np.where(right, y, rng.choice(K + 1, size=n, p=[0.1, 0.1, 0.1, 0.7]))
    target = X @ rng.uniform(-1.0, 1.0, size=d) + rng.normal(size=n)
    weights = draw(st.sampled_from([None, "integers", "floats", "mostly zero"]))
    w = None
    if weights == "integers":
        w = rng.integers(0, 4, size=n).astype(np.float64)
    elif weights is not None:
        zero = rng.random(n) < (0.2 if weights == "floats" else 0.9)
        w = np.where(zero, 0.0, rng.uniform(0.0, 3.0, size=n))
    missing = rng.random((n, d)) < draw(st.sampled_from([0.0, 0.1, 0.6]))
    return Block(X, y, y_pred, target, w, missing)


@st.composite
def cut_blocks(draw: st.DrawFn, parts: int) -> list[Block]:
    """A block cut into ``parts`` consecutive parts at random rows (empty parts included)."""
    block = draw(blocks(min_rows=parts))
    cuts = sorted(draw(st.lists(st.integers(0, block.n), min_size=parts - 1, max_size=parts - 1)))
    bounds = [0, *cuts, block.n]
    return [block, *(block.rows(a, b) for a, b in itertools.pairwise(bounds))]


# --------------------------------------------------------------------------------------------
# How each state is built in a real run


def _unweighted(state: Any) -> Any:
    """The metric's state inside the wrapper that weighted metrics add."""
    return state.state if hasattr(state, "any_weight") else state


def naive_bayes_counts(b: Block) -> Any:
    """``SumState`` of MultinomialNB counts: integer-valued data and weights, so exact sums.

    The weights are 1 to 4, never 0: the training pass gives no state for a block whose
    weights are all zero (scikit-learn refuses such a ``partial_fit``), while ``n_samples``
    counts the zero-weight rows of every other block, so a part of zero weights would break
    the split law on ``n_samples`` (``t_`` of SGD models; see
    ``tests/test_families.py::test_rows_of_weight_zero_count_as_steps``). Zero weights are
    covered by the other states.
    """
    if b.n == 0:
        return None  # the pass skips empty blocks
    w = None if b.w is None else np.rint(b.w) + 1.0
    family = defined("family_for")(MultinomialNB())
    counts = np.rint(np.abs(b.X))
    return family.partition_state(
        MultinomialNB(), counts, b.y, classes=CLASSES, seed=0, sample_weight=w
    )


def adaptive_sums(b: Block) -> Any:
    """``AdaptiveState``: the exact naive Bayes sums above, and the largest ``|x|`` per feature.

    In a fit it carries averaged SGD parameters, for which the split law does not hold (see
    ``SumState``); what is under test is its merge, a sum beside a maximum, both exact here.
    """
    counts = naive_bayes_counts(b)
    if counts is None:
        return None
    return defined("AdaptiveState")(counts, np.abs(b.X).max(axis=0))


def gaussian_nb_moments(b: Block) -> Any:
    family = defined("family_for")(GaussianNB())
    return family.partition_state(
        GaussianNB(), b.X, b.y, classes=CLASSES, seed=0, sample_weight=b.w
    )


def least_squares(b: Block) -> Any:
    return defined("least_squares_partition")(b.X, b.target, b.w, *b.position())


def labels(b: Block) -> Any:
    return defined("find_labels_partition")(b.y, *b.position())


def scaler_moments(b: Block) -> Any:
    return defined("standard_scaler_fit_partition")(
        b.X_missing(), b.w, *b.position(), float_dtype=np.dtype(np.float64), weigh_moments=True
    )


def extrema(b: Block) -> Any:
    return defined("extrema_fit_partition")(
        b.X_missing(), *b.position(), float_dtype=np.dtype(np.float64)
    )


def confusion(b: Block) -> Any:
    """Unweighted: int64 counts, exact."""
    return defined("Accuracy")().partition_state(b.y, b.y_pred, None)


def weighted_confusion(b: Block) -> Any:
    w = np.ones(b.n) if b.w is None else b.w
    return defined("Accuracy")().partition_state(b.y, b.y_pred, w)


def log_loss(b: Block) -> Any:
    return _unweighted(defined("LogLoss")().partition_state(b.y, b.proba(), b.w))


def score_histogram(b: Block) -> Any:
    """Unweighted counts of scores with ties, in at most 8 bins: the coarsening is exercised."""
    return defined("RocAuc")(max_bins=8).partition_state(b.y % 2, b.X[:, 0], None)


def residuals(b: Block) -> Any:
    return _unweighted(defined("R2")().partition_state(b.target, b.X[:, 0], b.w))


def state_tuple(b: Block) -> Any:
    return StateTuple((labels(b), None, scaler_moments(b)))


def trial_state(b: Block) -> Any:
    """A search model's share of a block; ``None`` for an empty block, as the pass gives."""
    if b.n == 0:
        return None
    return TrialState(naive_bayes_counts(b), StateTuple((confusion(b),)), 0.1 * b.n, 0.5)


def category_counts(b: Block) -> Any:
    """Text labels and whole numbers as categories (an encoder's fit); None when empty."""
    table = pd.DataFrame({"label": np.array(["a", "b", "c", "d"])[b.y], "n": b.y_pred})
    return count_partition_categories(table, (slice(0, b.n),), (0,), cap=100)


#: The documents of a block's rows: each label picks one of these (a vectorizer's fit).
DOCUMENTS = np.array(["red fox", "the blue fox jumps", "red red", "the blue sky"])


def term_counts(b: Block) -> Any:
    """Per term, its documents and occurrences (CountVectorizer's fit); None when empty."""
    analyzer = CountVectorizer(ngram_range=(1, 2)).build_analyzer()
    documents = DOCUMENTS[b.y]
    return count_partition_terms(documents, (slice(0, b.n),), (0,), analyzer=analyzer, cap=100)


def document_frequencies(b: Block) -> Any:
    """Per column of a count matrix, the rows storing it (TfidfTransformer's fit)."""
    counts = sparse.csr_array(np.maximum(np.round(b.X), 0.0))
    return count_partition_documents(counts, (slice(0, b.n),), (0,))


def kmeans_centres(b: Block) -> Any:
    """Two runs of K centres in the block's dimension (the same for every part of it)."""
    Centres = defined("Centres")
    rng = np.random.default_rng(b.X.shape[1])
    return Centres(rng.normal(size=(2, K, b.X.shape[1])), np.zeros(b.X.shape[1]))


def kmeans_sums(b: Block) -> Any:
    """A first Lloyd pass (with X's moments) for two runs of K centres."""
    return defined("lloyd_partition")(
        b.X, b.w, *b.position(), centres=kmeans_centres(b), with_moments=True
    )


def kmeans_farthest(b: Block) -> Any:
    """The K and 1 rows farthest from their centres (empty clusters' relocation)."""
    return defined("farthest_partition")(
        b.X, b.w, *b.position(), centres=kmeans_centres(b), capacity=(K, 1)
    )


def kmeans_candidate_weights(b: Block) -> Any:
    centres = kmeans_centres(b)
    Centres = defined("Centres")
    sets = Centres((centres.centres[0], centres.centres[1][:1]), centres.shift)
    return defined("weigh_partition")(b.X, b.w, *b.position(), centres=sets)


def sketch_basis(b: Block) -> np.ndarray:
    """A fixed orthonormal basis of 2 directions in the block's dimension (the same for
    every part of it), as a randomized SVD pass broadcasts one."""
    rng = np.random.default_rng(b.X.shape[1] + 1)
    return np.linalg.qr(rng.normal(size=(b.X.shape[1], 2)))[0]


def svd_sketch(b: Block) -> Any:
    """TruncatedSVD's range pass: X^T X Q, the R factor of X Q and X's moments."""
    basis = sketch_basis(b)
    return defined("sketch_partition")(b.X, *b.position(), basis=basis, final=True)


def pca_sketch(b: Block) -> Any:
    """The randomized PCA's range pass: the same of the centred X, and its mean."""
    basis = sketch_basis(b)
    return defined("pca_sketch_partition")(b.X, *b.position(), basis=basis, final=True)


@dataclass(frozen=True)
class Case:
    make: Callable[[Block], Any]
    tol: float


#: Every state class -> how a real run builds one from a block, and its float tolerance.
STATES: dict[str, Case] = {
    "SumState": Case(naive_bayes_counts, EXACT),
    "AdaptiveState": Case(adaptive_sums, EXACT),
    "Moments": Case(lambda b: Moments.of(b.X_missing(), b.w), FLOAT),
    "MomentsByClass": Case(gaussian_nb_moments, FLOAT),
    "LabelSet": Case(labels, EXACT),
    "LeastSquaresState": Case(least_squares, FLOAT),
    "CentredFactor": Case(lambda b: defined("pca_fit_partition")(b.X, *b.position()), FLOAT),
    "StateTuple": Case(state_tuple, FLOAT),
    "TrialState": Case(trial_state, EXACT),
    "CategoryCounts": Case(category_counts, EXACT),
    "TermCounts": Case(term_counts, EXACT),
    "DocumentFrequencies": Case(document_frequencies, EXACT),
    "Extrema": Case(extrema, EXACT),
    "ConfusionState": Case(confusion, EXACT),
    "Weighted": Case(weighted_confusion, FLOAT),  # StateTuple holds the scaler's
    "LogLossState": Case(log_loss, FLOAT),
    "ScoreHistogram": Case(score_histogram, EXACT),
    "ResidualState": Case(residuals, FLOAT),
    # The audit log's data fingerprint: an order-sensitive polynomial hash of the rows.
    "ContentHash": Case(lambda b: defined("ContentHash").of(b.X), EXACT),
    "ClusterSums": Case(kmeans_sums, FLOAT),
    "TopRows": Case(kmeans_farthest, FLOAT),
    "CandidateWeights": Case(kmeans_candidate_weights, FLOAT),
    "RangeSketch": Case(svd_sketch, FLOAT),
    "CentredSketch": Case(pca_sketch, FLOAT),
}

# --------------------------------------------------------------------------------------------
# Comparing states


def _moments_meaning(m: Any) -> dict[str, Any]:
    lo = 0.0 if m.mean_lo is None else m.mean_lo
    return {"count": m.count, "mean": m.mean + lo, "m2": m.m2}


def _least_squares_meaning(s: Any) -> dict[str, Any]:
    return {"weight": s.weight, "mean": s.mean, "comoments": s.r.T @ s.r}


#: States compared through what their fields stand for, not field by field.
MEANING: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Moments": _moments_meaning,
    "LeastSquaresState": _least_squares_meaning,
    # The rows of the largest keys: their keys (a part's rows are numbered from 0 here, so
    # ties may pick other rows of the same key) and the summed cost.
    "TopRows": lambda s: {"capacity": s.capacity, "keys": s.keys, "cost": s.cost},
    "CentredFactor": lambda s: {
        "n_samples": s.n_samples,
        "mean": s.mean + s.mean_lo,
        "comoments": s.r.T @ s.r,
    },
    # The R factors of X Q as their Gram matrices (a QR factor is unique up to signs).
    "RangeSketch": lambda s: {"z": s.z, "gram": s.r.T @ s.r, "moments": s.moments},
    "CentredSketch": lambda s: {
        "n_samples": s.n_samples,
        "mean": s.mean + s.mean_lo,
        "proj": s.proj,
        "z": s.z,
        "gram": s.r.T @ s.r,
        "m2": s.m2,
    },
}


def assert_same_state(a: Any, b: Any, *, tol: float, path: str = "state") -> None:
    """Assert ``a`` equals ``b`` (the expected): exact but for float fields when ``tol > 0``."""
    if a is None or b is None:
        assert a is b, f"{path}: {a!r} != {b!r}"
        return
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if type(a).__name__ in MEANING:
        meaning = MEANING[type(a).__name__]
        assert_same_state(meaning(a), meaning(b), tol=tol, path=path)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name not in IGNORED_FIELDS:
                assert_same_state(
                    getattr(a, f.name), getattr(b, f.name), tol=tol, path=f"{path}.{f.name}"
                )
    elif isinstance(a, Mapping):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            assert_same_state(a[key], b[key], tol=tol, path=f"{path}[{key!r}]")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, tol=tol, path=f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape, f"{path}: shape {a.shape} != {b.shape}"
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} != {b.dtype}"
        if tol > 0 and a.dtype.kind == "f":
            scale = max(1.0, float(np.max(np.abs(b[np.isfinite(b)]), initial=0.0)))
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=path)
        else:
            np.testing.assert_array_equal(a, b, err_msg=path, strict=True)
    elif isinstance(a, float):
        if math.isnan(b):
            assert math.isnan(a), f"{path}: {a!r} != {b!r}"
        elif tol > 0:
            assert math.isclose(a, b, rel_tol=tol, abs_tol=tol), f"{path}: {a!r} != {b!r}"
        else:
            assert a == b, f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


# --------------------------------------------------------------------------------------------
# The registry is complete, and means what it says


def test_every_state_class_is_in_states() -> None:
    classes = state_classes()
    missing = sorted(set(classes) - set(STATES))
    assert not missing, f"state classes without a case: {missing}; add each to STATES"
    assert not (stale := sorted(set(STATES) - set(classes))), f"no such state classes: {stale}"
    twice = {
        name: [c.__module__ for c in found] for name, found in classes.items() if len(found) > 1
    }
    assert not twice, f"state classes defined twice (STATES keys them by name): {twice}"


def _example_block() -> Block:
    rng = np.random.default_rng(0)
    n, d = 50, 3
    X = rng.normal(size=(n, d))
    y = np.arange(n) % K
    return Block(X, y, (y + 1) % (K + 1), X.sum(axis=1), rng.uniform(0.5, 2.0, n), X > 1.5)


@pytest.mark.parametrize("name", sorted(STATES))
def test_each_case_builds_its_class(name: str) -> None:
    found = state_classes().get(name, [])
    assert len(found) == 1, f"{len(found)} state classes named {name!r}"
    state = STATES[name].make(_example_block())
    assert type(state) is found[0], f"STATES[{name!r}] built a {type(state).__name__}"


def test_assert_same_state_notices_a_difference() -> None:
    """The comparison fails on the state of other rows, and ignores only what it says."""
    block = _example_block()
    for name, case in STATES.items():
        state, other = case.make(block), case.make(block.rows(0, 2))
        assert_same_state(state, case.make(block), tol=case.tol)
        try:
            assert_same_state(other, state, tol=case.tol)
        except AssertionError:
            continue
        pytest.fail(f"{name}: the states of different rows compare equal")
    trial = STATES["TrialState"].make(block)
    timed = dataclasses.replace(trial, fit_seconds=9.0, score_seconds=9.0)
    assert_same_state(timed, trial, tol=EXACT)
    assert_same_state(dataclasses.replace(trial.fit, prototype=None), trial.fit, tol=EXACT)
    with pytest.raises(AssertionError, match=r"state\.error"):
        assert_same_state(dataclasses.replace(trial, error="failed"), trial, tol=EXACT)


# --------------------------------------------------------------------------------------------
# The laws


@pytest.mark.parametrize("name", sorted(STATES))
@settings(max_examples=25, deadline=None)
@given(parts=cut_blocks(parts=3))
def test_combine_is_associative(name: str, parts: list[Block]) -> None:
    case = STATES[name]
    _, *blocks_ = parts
    a, b, c = (case.make(p) for p in blocks_)
    # combine_all is combine as the tree calls it: None (an empty part) is skipped.
    left = combine_all([combine_all([a, b]), c])
    right = combine_all([a, combine_all([b, c])])
    assert_same_state(left, right, tol=case.tol)


@pytest.mark.parametrize("name", sorted(STATES))
@settings(max_examples=25, deadline=None)
@given(block=blocks(min_rows=1))
def test_none_is_the_identity(name: str, block: Block) -> None:
    case = STATES[name]
    state = case.make(block)
    assume(state is not None)  # no state, no law: a block the pass would skip
    assert_same_state(combine_all([None, state, None]), state, tol=EXACT)
    assert_same_state(combine_all([None, state]), combine_all([state, None]), tol=EXACT)
    assert combine_all([None, None]) is None


@pytest.mark.parametrize("name", sorted(STATES))
@settings(max_examples=25, deadline=None)
@given(parts=cut_blocks(parts=2))
def test_merging_the_parts_of_a_block_equals_the_whole(name: str, parts: list[Block]) -> None:
    case = STATES[name]
    whole, head, tail = parts
    merged = combine_all([case.make(head), case.make(tail)])
    assert_same_state(merged, case.make(whole), tol=case.tol)
