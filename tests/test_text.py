"""Out-of-core text vectorizers: scikit-learn's vocabulary, idf and matrices for any
partitioning, in one pass."""

from __future__ import annotations

import importlib.resources
import itertools
import re
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback
from dask.delayed import delayed
from dask.utils import key_split
from daskpar_strategies import chunkings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction import text as sk
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from daskpar._states import combine_states
from daskpar._text import (
    MAX_TERMS_KEY,
    CountVectorizer,
    DocumentFrequencies,
    HashingVectorizer,
    TermCounts,
    TfidfTransformer,
    TfidfVectorizer,
    count_partition_documents,
    count_partition_terms,
)
from daskpar.errors import InputError, PartitionError

CI = settings.get_current_profile_name() == "ci"
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    max_examples=40 if CI else 200,
)

#: Words of the generated documents: cases, accents, digits, one-letter words (which the
#: default token pattern drops) and English stop words.
WORDS = ("cat", "Cat", "dog", "the", "a", "café", "ran", "sat", "mat", "x1", "on", "DOG", "rat")


@pytest.fixture(autouse=True)
def _keep_pandas_dtypes() -> Any:
    # The documents are compared with scikit-learn's on the very values pandas holds.
    with dask.config.set({"dataframe.convert-string": False}):
        yield


# --------------------------------------------------------------------------------------------
# helpers


class StageCounter(Callback):
    """Counts the tasks the local schedulers finish, by stage (the dashboard's label)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.stages: Counter[str] = Counter()

    def _posttask(self, key: Any, *args: Any) -> None:
        self.stages[key_split(key)] += 1


def as_array(docs: list[Any], chunks: tuple[int, ...]) -> da.Array:
    """``docs`` as a 1-D dask array of str objects with exactly ``chunks`` (0 allowed)."""
    values = np.empty(len(docs), dtype=object)
    values[:] = docs
    return da.from_array(values, chunks=(chunks,))


def as_series(docs: list[Any], chunks: tuple[int, ...]) -> dd.Series:
    """``docs`` as a dask Series whose partitions are exactly ``chunks`` rows (0 allowed)."""
    series = pd.Series(docs, dtype=object)
    bounds = np.cumsum((0, *chunks))
    pieces = [series.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return dd.from_map(
        lambda piece, salt: piece,
        pieces,
        args=[uuid.uuid4().hex],
        meta=series.iloc[:0],
        enforce_metadata=False,
    )


INPUTS: dict[str, Callable[[list[Any], tuple[int, ...]], Any]] = {
    "array": as_array,
    "series": as_series,
}
KINDS = tuple(INPUTS)


def layouts(n: int) -> dict[str, tuple[int, ...]]:
    """Row chunks of ``n`` documents: one, three and seven partitions, empty partitions,
    one document per partition."""

    def even(k: int) -> tuple[int, ...]:
        bounds = np.linspace(0, n, k + 1).astype(int)
        return tuple(int(b - a) for a, b in itertools.pairwise(bounds))

    return {
        "1": (n,),
        "3": even(3),
        "7": even(7),
        "empty": (0, *even(2)[:1], 0, 0, *even(2)[1:], 0),
        "ones": (1,) * n,
    }


def assert_same_matrix(ours: Any, theirs: Any, *, exact: bool = True) -> None:
    assert sparse.issparse(ours)
    assert ours.format == "csr"
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    if exact:
        assert (ours != theirs).nnz == 0
    else:
        np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-12, atol=1e-15)


def sklearn_result(make: Callable[[], Any], docs: list[Any]) -> tuple[Any, Any]:
    """scikit-learn's fitted vectorizer and matrix for ``docs``, or its error."""
    try:
        vectorizer = make()
        return vectorizer, vectorizer.fit_transform(docs)
    except ValueError as error:
        return None, error


def zipf_documents(n_docs: int, *, seed: int, vocabulary: int = 400) -> list[str]:
    """Documents whose words follow Zipf's law, as words of a natural language do."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(vocabulary)], dtype=object)
    weights = 1.0 / np.arange(1, vocabulary + 1)
    weights /= weights.sum()
    lengths = rng.integers(0, 30, size=n_docs)
    return [" ".join(rng.choice(words, size=k, p=weights)) for k in lengths]


def shipped_corpus() -> list[str]:
    """Real English text that ships with scikit-learn: the paragraphs of its data sets'
    descriptions (the only prose in this environment; 20 newsgroups needs a download)."""
    folder = importlib.resources.files("sklearn.datasets.descr")
    docs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".rst"):
            docs += [p.strip() for p in entry.read_text(encoding="utf-8").split("\n\n")]
    return [d for d in docs if d]


# --------------------------------------------------------------------------------------------
# strategies


@st.composite
def corpora(draw: st.DrawFn) -> list[str]:
    n = draw(st.integers(1, 14))
    docs = []
    for _ in range(n):
        words = draw(st.lists(st.sampled_from(WORDS), max_size=7))
        docs.append(draw(st.sampled_from([" ", ", ", "  "])).join(words))
    return docs


@st.composite
def count_parameters(draw: st.DrawFn) -> dict[str, Any]:
    analyzer = draw(st.sampled_from(["word", "word", "char", "char_wb"]))
    if analyzer == "word":
        ngram = draw(st.sampled_from([(1, 1), (1, 2), (2, 2), (1, 3)]))
    else:
        ngram = draw(st.sampled_from([(1, 1), (2, 3), (1, 2)]))
    params: dict[str, Any] = {
        "analyzer": analyzer,
        "ngram_range": ngram,
        "lowercase": draw(st.booleans()),
        "binary": draw(st.booleans()),
        "min_df": draw(st.one_of(st.integers(1, 3), st.floats(0.0, 1.0))),
        "max_df": draw(st.one_of(st.integers(1, 6), st.floats(0.0, 1.0))),
        "max_features": draw(st.one_of(st.none(), st.integers(1, 8))),
    }
    if analyzer == "word" and draw(st.booleans()):
        params["stop_words"] = ["the", "on"]
    return params


# --------------------------------------------------------------------------------------------
# CountVectorizer


def check_count_vectorizer(
    docs: list[str], params: dict[str, Any], chunks: tuple[int, ...], kind: str
) -> None:
    theirs, expected = sklearn_result(lambda: sk.CountVectorizer(**params), docs)
    X = INPUTS[kind](docs, chunks)
    ours = CountVectorizer(**params, split_every=2)
    if theirs is None:
        assert isinstance(expected, ValueError)
        with pytest.raises(ValueError, match=re.escape(str(expected))):
            ours.fit(X)
        return
    out = ours.fit_transform(X)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert [type(i) for i in ours.vocabulary_.values()] == [
        type(i) for i in theirs.vocabulary_.values()
    ]
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    assert ours.fixed_vocabulary_ is False
    assert isinstance(out, da.Array)
    assert out.chunks == (chunks, (len(theirs.vocabulary_),))
    assert sparse.issparse(out._meta)
    assert out.dtype == expected.dtype
    assert_same_matrix(out.compute(), expected)
    # transform of the same documents, and in memory: scikit-learn's.
    assert_same_matrix(ours.transform(X).compute(), theirs.transform(docs))
    assert_same_matrix(ours.transform(docs), theirs.transform(docs))


@PROPERTY
@given(data=st.data(), docs=corpora(), params=count_parameters(), kind=st.sampled_from(KINDS))
@example(
    data=None,
    docs=["cat dog", "dog rat", "rat cat", "mat"],
    params={"max_features": 2},
    kind="array",
).via("ties of max_features among equal totals")
def test_count_vectorizer_equals_sklearn(
    data: Any, docs: list[str], params: dict[str, Any], kind: str
) -> None:
    chunks = (len(docs),) if data is None else data.draw(chunkings(len(docs), max_blocks=7))
    with warnings.catch_warnings():
        # A stop word list that the tokenizer would split warns in both, the same way.
        warnings.simplefilter("ignore", UserWarning)
        check_count_vectorizer(docs, params, chunks, kind)


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize("layout", ["1", "3", "7", "empty", "ones"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"max_features": 25, "ngram_range": (1, 2)},
        {"min_df": 2, "max_df": 0.5},
        {"min_df": 0.01, "max_df": 40, "binary": True, "max_features": 30},
        {"analyzer": "char_wb", "ngram_range": (2, 3), "lowercase": False},
        {"stop_words": "english", "dtype": np.float32},
    ],
)
def test_count_vectorizer_on_zipf_documents(params: dict[str, Any], layout: str, kind: str) -> None:
    docs = zipf_documents(60, seed=3)
    check_count_vectorizer(docs, params, layouts(len(docs))[layout], kind)


@pytest.mark.parametrize("kind", INPUTS)
def test_count_and_tfidf_vectorizers_on_a_real_corpus(kind: str) -> None:
    docs = shipped_corpus()
    assert len(docs) > 100
    chunks = layouts(len(docs))["7"]
    params: dict[str, Any] = {
        "stop_words": "english",
        "ngram_range": (1, 2),
        "min_df": 2,
        "max_features": 500,
    }
    check_count_vectorizer(docs, params, chunks, kind)
    ours = TfidfVectorizer(**params, sublinear_tf=True).fit(INPUTS[kind](docs, chunks))
    theirs = sk.TfidfVectorizer(**params, sublinear_tf=True)
    expected = theirs.fit_transform(docs)
    assert ours.vocabulary_ == theirs.vocabulary_
    np.testing.assert_array_equal(ours.idf_, theirs.idf_)
    assert_same_matrix(ours.transform(INPUTS[kind](docs, chunks)).compute(), expected, exact=False)


@PROPERTY
@given(docs=corpora(), data=st.data(), split_every=st.integers(2, 5))
def test_vocabulary_depends_neither_on_partitions_nor_split_every(
    docs: list[str], data: Any, split_every: int
) -> None:
    params: dict[str, Any] = {"ngram_range": (1, 2), "max_features": 5}
    reference = CountVectorizer(**params, split_every=2)
    chunks = data.draw(chunkings(len(docs), max_blocks=7))
    other = CountVectorizer(**params, split_every=split_every)
    try:
        reference.fit(as_array(docs, (len(docs),)))
    except ValueError as error:
        with pytest.raises(ValueError, match=re.escape(str(error))):
            other.fit(as_series(docs, chunks))
        return
    other.fit(as_series(docs, chunks))
    assert other.vocabulary_ == reference.vocabulary_


def test_given_vocabulary_needs_no_pass() -> None:
    docs = zipf_documents(20, seed=1)
    vocabulary = ["w0", "w3", "w1", "nowhere"]
    X = as_array(docs, (7, 7, 6))
    counter = StageCounter()
    with counter:
        ours = CountVectorizer(vocabulary=vocabulary).fit(X)
    assert counter.stages == Counter()
    theirs = sk.CountVectorizer(vocabulary=vocabulary).fit(docs)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert ours.fixed_vocabulary_ is True
    assert_same_matrix(ours.transform(X).compute(), theirs.transform(docs))


def test_uppercase_vocabulary_warns_as_sklearn() -> None:
    with pytest.warns(UserWarning, match="Upper case characters found in vocabulary"):
        CountVectorizer(vocabulary=["Cat", "dog"]).fit(as_array(["cat dog"], (1,)))


def test_transform_of_the_fitted_series_counts_no_rows_again() -> None:
    docs = zipf_documents(30, seed=2)
    X = as_series(docs, (10, 0, 15, 5))
    vectorizer = CountVectorizer().fit(X)
    counter = StageCounter()
    with counter:
        out = vectorizer.transform(X)
    assert counter.stages == Counter()  # the lengths were learned by the fit
    assert out.chunks[0] == (10, 0, 15, 5)
    counter = StageCounter()
    with counter:
        out.compute()
    assert set(counter.stages) >= {"vectorize"}
    assert "count-block" not in counter.stages


def test_transform_of_other_series_counts_its_rows() -> None:
    vectorizer = CountVectorizer().fit(as_array(zipf_documents(30, seed=2), (30,)))
    other = zipf_documents(9, seed=5)
    out = vectorizer.transform(as_series(other, (4, 5)))
    assert out.chunks[0] == (4, 5)
    assert_same_matrix(out.compute(), vectorizer.transform(other))


def test_stage_names() -> None:
    docs = zipf_documents(30, seed=4)
    counter = StageCounter()
    with counter:
        vectorizer = CountVectorizer(split_every=2).fit(as_array(docs, (10, 10, 10)))
    assert counter.stages["vocab-block"] == 3
    assert counter.stages["vocab-merge"] == 3  # 3 states -> 2 nodes -> 1
    assert counter.stages["vocab-final"] == 1
    out = vectorizer.transform(as_array(docs, (10, 10, 10)))
    assert key_split(out.name) == "vectorize"
    assert all(len(stage) <= 15 for stage in counter.stages)


def test_missing_documents_are_refused_naming_the_partition() -> None:
    with pytest.raises(ValueError, match="invalid document"):
        sk.CountVectorizer().fit(["cat", np.nan])
    for missing in (None, np.nan, pd.NA):
        docs: list[Any] = ["cat dog", "dog", "rat", missing, "cat", "eel"]
        with pytest.raises(PartitionError, match=r"partition 1 \(rows 2 to 3\).*row 3"):
            CountVectorizer().fit(as_array(docs, (2, 2, 2)))
    with pytest.raises(PartitionError, match=r"partition 2, the first at row 1 of the"):
        CountVectorizer().fit(as_series(["a b", "c d", "e", np.nan], (1, 1, 2)))
    fitted = CountVectorizer().fit(as_array(["cat dog"], (1,)))
    with pytest.raises(PartitionError, match="partition 0"):
        fitted.transform(as_array([None, "dog"], (2,))).compute()


def test_text_in_a_dataframe_or_numbers_is_refused() -> None:
    frame = dd.from_pandas(pd.DataFrame({"text": ["a b", "c d"], "n": [1, 2]}), npartitions=1)
    with pytest.raises(InputError, match=r"Select the column \(X\['text'\]\)"):
        CountVectorizer().fit(frame)
    with pytest.raises(InputError, match="1-D dask array"):
        CountVectorizer().fit(da.zeros((4, 2), chunks=2, dtype=object))
    with pytest.raises(InputError, match="takes text documents"):
        CountVectorizer().fit(da.arange(4, chunks=2))


def test_all_partitions_empty_raises_sklearn_error() -> None:
    with pytest.raises(ValueError, match="empty vocabulary") as theirs:
        sk.CountVectorizer().fit([])
    with pytest.raises(InputError, match=re.escape(str(theirs.value))):
        CountVectorizer().fit(as_array([], (0, 0)))


def test_invalid_parameters_raise_before_any_task() -> None:
    counter = StageCounter()
    with counter, pytest.raises(ValueError, match="split_every"):
        CountVectorizer(split_every=1).fit(as_array(["a b"], (1,)))
    with counter, pytest.raises(ValueError, match="lower boundary larger"):
        CountVectorizer(ngram_range=(2, 1)).fit(as_array(["a b"], (1,)))
    assert counter.stages == Counter()


def test_in_memory_input_goes_to_sklearn() -> None:
    docs = zipf_documents(15, seed=6)
    for ours, theirs in [
        (CountVectorizer(max_features=5), sk.CountVectorizer(max_features=5)),
        (TfidfVectorizer(min_df=2), sk.TfidfVectorizer(min_df=2)),
    ]:
        out = ours.fit_transform(docs)
        assert_same_matrix(out, theirs.fit_transform(docs))
        assert ours.vocabulary_ == theirs.vocabulary_
        assert_same_matrix(ours.fit(pd.Series(docs)).transform(docs), theirs.transform(docs))


def test_no_set_output_as_in_sklearn() -> None:
    for ours, theirs in [
        (CountVectorizer(), sk.CountVectorizer()),
        (TfidfVectorizer(), sk.TfidfVectorizer()),
        (TfidfTransformer(), sk.TfidfTransformer()),
        (HashingVectorizer(), sk.HashingVectorizer()),
    ]:
        assert hasattr(ours, "set_output") == hasattr(theirs, "set_output")


# --------------------------------------------------------------------------------------------
# the state


@st.composite
def term_counts(draw: st.DrawFn) -> TermCounts | None:
    docs = draw(corpora())
    if draw(st.integers(0, 4)) == 0:
        return None
    analyzer = sk.CountVectorizer(ngram_range=(1, 2)).build_analyzer()
    values = np.array(docs, dtype=object)
    return count_partition_terms(values, (slice(0, len(docs)),), (0,), analyzer=analyzer, cap=10**6)


def as_counts(state: TermCounts | None) -> dict[Any, tuple[int, int]]:
    if state is None:
        return {}
    return {
        t: (int(d), int(f))
        for t, d, f in zip(state.terms, state.document_frequency, state.term_frequency, strict=True)
    }


@PROPERTY
@given(a=term_counts(), b=term_counts(), c=term_counts())
def test_term_counts_combine_is_associative_with_an_identity(
    a: TermCounts | None, b: TermCounts | None, c: TermCounts | None
) -> None:
    left = combine_states([combine_states([a, b]), c])
    right = combine_states([a, combine_states([b, c])])
    assert as_counts(left) == as_counts(right)
    assert (left is None) == (right is None)
    if left is not None and right is not None:
        assert left.n_documents == right.n_documents
        assert len(set(left.terms)) == len(left.terms)
    assert as_counts(combine_states([a, None])) == as_counts(a)
    assert as_counts(combine_states([None, a])) == as_counts(a)
    # The sums are the counts of the documents together.
    total: dict[Any, list[int]] = {}
    for s in (a, b, c):
        for term, (d, f) in as_counts(s).items():
            total.setdefault(term, [0, 0])
            total[term][0] += d
            total[term][1] += f
    assert as_counts(left) == {t: tuple(v) for t, v in total.items()}


def test_term_counts_size_follows_its_formula() -> None:
    docs = np.array(zipf_documents(50, seed=7), dtype=object)
    analyzer = sk.CountVectorizer().build_analyzer()
    state = count_partition_terms(docs, (slice(0, 50),), (0,), analyzer=analyzer, cap=10**6)
    assert state is not None
    k = len(state.terms)
    objects = sum(len(t) + 49 for t in state.terms)  # a short ASCII str
    assert state.nbytes == k * 24 + objects
    assert count_partition_terms(docs[:0], (slice(0, 0),), (0,), analyzer=analyzer, cap=1) is None


@PROPERTY
@given(blocks=st.lists(st.integers(0, 6), min_size=1, max_size=4), seed=st.integers(0, 99))
def test_document_frequencies_combine_is_associative(blocks: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    mats = [sparse.random(n, 5, density=0.4, format="csr", random_state=rng) for n in blocks]
    states = [
        count_partition_documents(m, (slice(0, m.shape[0]),), (i,)) for i, m in enumerate(mats)
    ]
    merged = combine_states(states)
    if sum(blocks) == 0:
        assert merged is None
        return
    assert isinstance(merged, DocumentFrequencies)
    pairwise = combine_states([combine_states(states[:1]), combine_states(states[1:])])
    assert pairwise is not None
    np.testing.assert_array_equal(merged.document_frequency, pairwise.document_frequency)
    everything = sparse.vstack(mats).tocsr()
    np.testing.assert_array_equal(
        merged.document_frequency, np.bincount(everything.indices, minlength=5)
    )
    assert merged.n_samples == sum(blocks)


# --------------------------------------------------------------------------------------------
# the cap


def test_too_many_terms_raise_in_the_block_task() -> None:
    docs = [f"w{i} w{i + 1000}" for i in range(20)]
    with (
        dask.config.set({MAX_TERMS_KEY: 10}),
        pytest.raises(InputError, match=r"more than the 10 .*'daskpar.text-max-terms'.*Hashing"),
    ):
        CountVectorizer().fit(as_array(docs, (20,)))


def test_too_many_terms_raise_after_a_merge() -> None:
    docs = [f"w{i}" for i in range(12)]
    # Each partition holds 4 terms, under the cap; merged they hold 12.
    with (
        dask.config.set({MAX_TERMS_KEY: 6}),
        pytest.raises(InputError, match=r"in the partitions merged, more than the 6 "),
    ):
        CountVectorizer().fit(as_array(docs, (4, 4, 4)))
    with dask.config.set({MAX_TERMS_KEY: 12}):
        assert len(CountVectorizer().fit(as_array(docs, (4, 4, 4))).vocabulary_) == 12


# --------------------------------------------------------------------------------------------
# TfidfVectorizer and TfidfTransformer


@st.composite
def tfidf_parameters(draw: st.DrawFn) -> dict[str, Any]:
    params = draw(count_parameters())
    params.update(
        norm=draw(st.sampled_from(["l2", "l1", None])),
        use_idf=draw(st.booleans()),
        smooth_idf=draw(st.booleans()),
        sublinear_tf=draw(st.booleans()),
        dtype=draw(st.sampled_from([np.float64, np.float32])),
    )
    return params


@PROPERTY
@given(data=st.data(), docs=corpora(), params=tfidf_parameters(), kind=st.sampled_from(KINDS))
def test_tfidf_vectorizer_equals_sklearn(
    data: Any, docs: list[str], params: dict[str, Any], kind: str
) -> None:
    chunks = data.draw(chunkings(len(docs), max_blocks=7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # idf of a term in no document
        theirs, expected = sklearn_result(lambda: sk.TfidfVectorizer(**params), docs)
        X = INPUTS[kind](docs, chunks)
        ours = TfidfVectorizer(**params)
        if theirs is None:
            with pytest.raises(ValueError, match=re.escape(str(expected))):
                ours.fit(X)
            return
        out = ours.fit_transform(X)
        assert ours.vocabulary_ == theirs.vocabulary_
        if params["use_idf"]:
            assert ours.idf_.dtype == theirs.idf_.dtype
            np.testing.assert_array_equal(ours.idf_, theirs.idf_)
        assert out.chunks == (chunks, (len(theirs.vocabulary_),))
        assert out.dtype == expected.dtype
        assert_same_matrix(out.compute(), expected, exact=False)


@pytest.mark.parametrize("kind", INPUTS)
@pytest.mark.parametrize("smooth_idf", [True, False])
def test_tfidf_vectorizer_with_a_given_vocabulary(kind: str, smooth_idf: bool) -> None:
    docs = zipf_documents(40, seed=8)
    vocabulary = {"w2": 0, "w0": 1, "w17": 2, "w5": 3}
    chunks = layouts(len(docs))["empty"]
    ours = TfidfVectorizer(vocabulary=vocabulary, smooth_idf=smooth_idf)
    theirs = sk.TfidfVectorizer(vocabulary=vocabulary, smooth_idf=smooth_idf)
    expected = theirs.fit_transform(docs)
    counter = StageCounter()
    with counter:
        ours.fit(INPUTS[kind](docs, chunks))
    assert counter.stages["idf-block"] == len(chunks)
    np.testing.assert_array_equal(ours.idf_, theirs.idf_)
    out = ours.transform(INPUTS[kind](docs, chunks)).compute()
    assert_same_matrix(out, expected, exact=False)
    counter = StageCounter()
    with counter:
        TfidfVectorizer(vocabulary=vocabulary, use_idf=False).fit(INPUTS[kind](docs, chunks))
    assert counter.stages == Counter()


def count_blocks(docs: list[str], chunks: tuple[int, ...], dense: bool) -> tuple[da.Array, Any]:
    counts = sk.CountVectorizer(ngram_range=(1, 2)).fit_transform(docs)
    bounds = np.cumsum((0, *chunks))
    blocks = [counts[a:b] for a, b in itertools.pairwise(bounds)]
    arrays = [
        da.from_delayed(
            delayed(b.toarray() if dense else b),
            shape=b.shape,
            dtype=counts.dtype,
            meta=np.empty((0, 0), counts.dtype) if dense else sparse.csr_matrix((0, 0)),
        )
        for b in blocks
    ]
    return da.concatenate(arrays, axis=0), counts


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("layout", ["1", "3", "7", "empty", "ones"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"smooth_idf": False, "norm": "l1"},
        {"sublinear_tf": True, "norm": None},
        {"use_idf": False},
    ],
)
def test_tfidf_transformer_equals_sklearn(params: dict[str, Any], layout: str, dense: bool) -> None:
    docs = zipf_documents(30, seed=9)
    X, counts = count_blocks(docs, layouts(len(docs))[layout], dense)
    theirs = sk.TfidfTransformer(**params).fit(counts)
    ours = TfidfTransformer(**params, split_every=3).fit(X)
    assert ours.n_features_in_ == theirs.n_features_in_
    if params.get("use_idf", True):
        np.testing.assert_array_equal(ours.idf_, theirs.idf_)
    else:
        assert not hasattr(ours, "idf_")
    out = ours.transform(X)
    assert out.chunks == X.chunks
    assert key_split(out.name) == "tfidf"
    assert_same_matrix(out.compute(), theirs.transform(counts), exact=False)
    assert_same_matrix(
        TfidfTransformer(**params).fit_transform(X).compute(), theirs.transform(counts), exact=False
    )


def test_tfidf_transformer_after_count_vectorizer_equals_tfidf_vectorizer() -> None:
    docs = zipf_documents(50, seed=10)
    X = as_series(docs, layouts(len(docs))["7"])
    counts = CountVectorizer(min_df=2).fit_transform(X)
    out = TfidfTransformer().fit_transform(counts).compute()
    expected = sk.TfidfVectorizer(min_df=2).fit_transform(docs)
    assert_same_matrix(out, expected, exact=False)


def test_tfidf_transformer_refuses_bad_counts() -> None:
    X = da.from_array(np.array([[1.0, np.nan], [0.0, 1.0]]), chunks=(1, 2))
    with pytest.raises(PartitionError, match=r"partition 0 \(rows 0 to 0\).*NaN"):
        TfidfTransformer().fit(X)
    with pytest.raises(InputError, match="chunked along columns"):
        TfidfTransformer().fit(da.ones((4, 4), chunks=2))
    fitted = TfidfTransformer().fit(da.ones((4, 4), chunks=(2, 4)))
    with pytest.raises(InputError, match="X has 3 features, but TfidfTransformer is expecting 4"):
        fitted.transform(da.ones((4, 3), chunks=(2, 3)))


# --------------------------------------------------------------------------------------------
# HashingVectorizer


@PROPERTY
@given(
    data=st.data(),
    docs=corpora(),
    kind=st.sampled_from(KINDS),
    analyzer=st.sampled_from(["word", "char", "char_wb"]),
    norm=st.sampled_from(["l2", "l1", None]),
    binary=st.booleans(),
    alternate_sign=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32, np.int64]),
)
def test_hashing_vectorizer_equals_sklearn(
    data: Any,
    docs: list[str],
    kind: str,
    analyzer: str,
    norm: str | None,
    binary: bool,
    alternate_sign: bool,
    dtype: Any,
) -> None:
    chunks = data.draw(chunkings(len(docs), max_blocks=7))
    params: dict[str, Any] = {
        "n_features": 2**8,
        "analyzer": analyzer,
        "ngram_range": (1, 2),
        "norm": norm,
        "binary": binary,
        "alternate_sign": alternate_sign,
        "dtype": dtype,
    }
    expected = sk.HashingVectorizer(**params).fit_transform(docs)
    counter = StageCounter()
    with counter:
        out = HashingVectorizer(**params).fit_transform(INPUTS[kind](docs, chunks))
    # Stateless: nothing is read before compute but a new Series' partition lengths.
    assert not any(stage.startswith(("vocab", "vectorize")) for stage in counter.stages)
    if kind == "array":
        assert counter.stages == Counter()
    assert out.chunks == (chunks, (2**8,))
    assert out.dtype == expected.dtype
    assert key_split(out.name) == "vectorize"
    assert_same_matrix(out.compute(), expected)


def test_hashing_vectorizer_in_memory_is_sklearn() -> None:
    docs = zipf_documents(10, seed=11)
    assert_same_matrix(
        HashingVectorizer(n_features=64).fit_transform(docs),
        sk.HashingVectorizer(n_features=64).fit_transform(docs),
    )


# --------------------------------------------------------------------------------------------
# a distributed run


@pytest.mark.slow
def test_vectorizers_on_a_local_cluster(scheduler_address: str) -> None:
    distributed = pytest.importorskip("distributed")
    docs = zipf_documents(200, seed=12)
    with distributed.Client(scheduler_address):
        X = as_series(docs, layouts(len(docs))["7"])
        ours = TfidfVectorizer(ngram_range=(1, 2), max_features=100).fit(X)
        out = ours.transform(X).compute()
    theirs = sk.TfidfVectorizer(ngram_range=(1, 2), max_features=100)
    assert ours.vocabulary_ == theirs.fit(docs).vocabulary_
    assert_same_matrix(out, theirs.transform(docs), exact=False)


# --------------------------------------------------------------------------------------------
# input forms and the estimator contract


def test_pyarrow_strings_and_numpy_strings_are_documents() -> None:
    docs = zipf_documents(25, seed=13)
    theirs = sk.CountVectorizer(ngram_range=(1, 2))
    expected = theirs.fit_transform(docs)
    with dask.config.set({"dataframe.convert-string": True}):
        series = dd.from_pandas(pd.Series(docs), npartitions=4)
        assert isinstance(series._meta.dtype, pd.StringDtype)
        ours = CountVectorizer(ngram_range=(1, 2))
        out = ours.fit_transform(series)
        assert ours.vocabulary_ == theirs.vocabulary_
        assert_same_matrix(out.compute(), expected)
        with_missing = dd.from_pandas(pd.Series([*docs[:3], None, *docs[4:]]), npartitions=4)
        with pytest.raises(PartitionError, match=r"partition 0, the first at row 3"):
            CountVectorizer().fit(with_missing)
    unicode = da.from_array(np.array(docs), chunks=7)
    assert unicode.dtype.kind == "U"
    ours = CountVectorizer(ngram_range=(1, 2)).fit(unicode)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert_same_matrix(ours.transform(unicode).compute(), expected)


def test_lazy_outputs_have_deterministic_names() -> None:
    docs = zipf_documents(12, seed=14)
    X = as_array(docs, (6, 6))
    a, b = CountVectorizer().fit(X), CountVectorizer().fit(X)
    assert a.transform(X).name == b.transform(X).name
    assert CountVectorizer(min_df=2).fit(X).transform(X).name != a.transform(X).name
    hashing = HashingVectorizer(n_features=32)
    assert hashing.transform(X).name == hashing.transform(X).name


@pytest.mark.parametrize(
    "estimator", [CountVectorizer(), TfidfVectorizer(), TfidfTransformer(), HashingVectorizer()]
)
def test_sklearn_estimator_checks(estimator: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []
    assert any(r["status"] == "passed" for r in results)


def analyze_into_tuples(document: str) -> list[tuple[str, ...]]:
    """A callable analyzer whose terms are not strings: letters of words, and word pairs."""
    words = document.split()
    return [tuple(w) for w in words] + list(itertools.pairwise(words))


def analyze_lazily(document: str) -> Iterator[str]:
    """A callable analyzer that gives an iterator, which can be read once."""
    yield from document.split()


@pytest.mark.parametrize("analyzer", [analyze_into_tuples, analyze_lazily])
@pytest.mark.parametrize("max_features", [None, 4])
def test_callable_analyzers(analyzer: Callable[[str], Any], max_features: int | None) -> None:
    docs = zipf_documents(30, seed=15, vocabulary=12)
    params: dict[str, Any] = {"analyzer": analyzer, "max_features": max_features}
    check_count_vectorizer(docs, params, layouts(len(docs))["3"], "array")


def test_transform_before_fit_raises_not_fitted() -> None:
    X = as_array(["cat dog"], (1,))
    with pytest.raises(NotFittedError):
        CountVectorizer().transform(X)
    with pytest.raises(NotFittedError, match="TF-IDF vectorizer is not fitted"):
        TfidfVectorizer().transform(X)
    with pytest.raises(NotFittedError):
        TfidfTransformer().transform(da.ones((2, 2), chunks=(1, 2)))


def test_count_then_tfidf_in_a_pipeline_stays_lazy() -> None:
    docs = zipf_documents(40, seed=16)
    X = as_series(docs, layouts(len(docs))["7"])
    pipe = make_pipeline(CountVectorizer(ngram_range=(1, 2), min_df=2), TfidfTransformer())
    out = pipe.fit_transform(X)
    assert isinstance(out, da.Array)
    assert out.chunks[0] == layouts(len(docs))["7"]
    theirs = make_pipeline(sk.CountVectorizer(ngram_range=(1, 2), min_df=2), sk.TfidfTransformer())
    expected = theirs.fit_transform(docs)
    assert_same_matrix(out.compute(), expected, exact=False)
    assert_same_matrix(pipe.transform(X).compute(), expected, exact=False)


def test_a_search_over_a_hashing_vectorizer_equals_the_search_on_the_hashed_rows() -> None:
    # Which data set's description a paragraph of scikit-learn's shipped prose comes from
    # (two of them), learned from its hashed words.
    import daskpar as dp

    folder = importlib.resources.files("sklearn.datasets.descr")
    docs, labels = [], []
    for label, name in enumerate(("breast_cancer.rst", "covtype.rst", "diabetes.rst")):
        paragraphs = [p for p in (folder / name).read_text(encoding="utf-8").split("\n") if p]
        docs += paragraphs
        labels += [label % 2] * len(paragraphs)
    order = np.random.default_rng(0).permutation(len(docs))
    X = da.from_array(np.array(docs, dtype=object)[order], chunks=len(docs) // 6 + 1)
    y = da.from_array(np.array(labels)[order], chunks=X.chunks[0])
    vectorizer = HashingVectorizer(n_features=2**12)
    model = dp.ParallelIncremental(dp.AdaptiveSGDClassifier(), epochs=2, random_state=0)
    search = dp.GridSearchCV(
        make_pipeline(vectorizer, model),
        {"parallelincremental__estimator__alpha": [1e-6, 1e-3]},
        cv=3,
    ).fit(X, y)
    by_hand = dp.GridSearchCV(model, {"estimator__alpha": [1e-6, 1e-3]}, cv=3)
    by_hand.fit(vectorizer.fit_transform(X), y)
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], by_hand.cv_results_["mean_test_score"]
    )
    assert not hasattr(search, "n_features_in_")  # documents, as scikit-learn's has none
    np.testing.assert_array_equal(search.predict(X), by_hand.predict(vectorizer.transform(X)))
