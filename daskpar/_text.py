"""Out-of-core text vectorizers: scikit-learn's CountVectorizer, TfidfVectorizer,
TfidfTransformer and HashingVectorizer on dask collections.

Learning a vocabulary is one pass over the documents, in the shape of every daskpar stage::

    partitions ──vocab-block──▶ TermCounts ──vocab-merge (split_every)──▶
               one state ──vocab-final──▶ vocabulary_ (and the document frequencies of idf_)

A partition's state is, per distinct term that scikit-learn's own analyzer
(``build_analyzer()``) finds in it, the number of documents holding the term and its total
count; states merge by summing, so the vocabulary depends neither on the partitioning nor on
``split_every``. The final task applies ``min_df``, ``max_df`` and ``max_features`` as
scikit-learn's ``CountVectorizer.fit_transform`` does (``_limit_features`` and
``_sort_features``, ties of ``max_features`` broken by the same sort on the same array).
``TfidfTransformer`` sums the document frequencies of count blocks the same way (``idf-block``,
``idf-merge``, ``idf-final``).

``transform`` of dask input is lazy, one task per partition running scikit-learn's own
``transform`` with the fitted vectorizer (``vectorize``; ``tfidf`` for the transformer), and
gives a dask array of scipy CSR blocks. In-memory input goes to scikit-learn unchanged.
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar, NamedTuple, Self

import dask.array as da
import numpy as np
import pandas as pd
from dask import config
from dask.base import is_dask_collection, tokenize
from scipy import sparse
from sklearn.feature_extraction import text
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from . import audit
from ._columns import is_dask_table
from ._graph import (
    SPLIT_EVERY,
    broadcast,
    frame_lengths,
    map_frame_partitions,
    reduce_frame_partitions,
    reduce_partitions,
    stage_name,
)
from ._saving import SaveMixin
from ._sklearn_compat import (
    align_sparse_interface,
    call_vectorizer_check,
    mark_stop_words_checked,
    parameter_constraints,
    validate_estimator_params,
)
from ._validation import check_known_chunks
from .errors import DaskparError, InputError, PartitionError

__all__ = [
    "DEFAULT_MAX_TERMS",
    "MAX_TERMS_KEY",
    "CountVectorizer",
    "DocumentFrequencies",
    "FittedVocabulary",
    "HashingVectorizer",
    "TermCounts",
    "TfidfTransformer",
    "TfidfVectorizer",
    "VocabularyVectorizer",
    "count_partition_documents",
    "count_partition_terms",
    "count_vocabulary_documents",
    "idf_attributes",
    "inverse_document_frequency",
    "max_terms",
    "vectorize_block",
    "vectorize_partition",
    "vocabulary_attributes",
    "weigh_block",
]

#: The dask setting that caps the distinct terms a vocabulary's fit keeps.
MAX_TERMS_KEY = "daskpar.text-max-terms"
#: Its default. A state holds ``k * (24 + s)`` bytes for ``k`` distinct terms of Python
#: object size ``s`` (~50 + length for a short str): ~80 MB for a million words, held once
#: per partition task and per merge. Past that, hashing (HashingVectorizer) needs no state.
DEFAULT_MAX_TERMS = 1_000_000

#: The stages the dashboard shows: the vocabulary's reduction, the document frequencies'
#: reduction (TfidfTransformer, or TfidfVectorizer with a given vocabulary), the transforms.
VOCABULARY_STAGE = "vocab"
IDF_STAGE = "idf"
VECTORIZE_STAGE = "vectorize"
TFIDF_STAGE = "tfidf"
#: The fitted vectorizer or transformer that the transform tasks share, stored once.
MODEL_STAGE = "vectorizer"


def max_terms() -> int:
    """The cap on distinct terms: the ``daskpar.text-max-terms`` setting."""
    return int(config.get(MAX_TERMS_KEY, DEFAULT_MAX_TERMS))


def _too_many_terms(n: int, cap: int, where: str) -> InputError:
    return InputError(
        f"The documents hold {n} distinct terms {where}, more than the {cap} a vocabulary "
        f"counts (dask setting {MAX_TERMS_KEY!r}). Hash the terms instead: "
        "daskpar.HashingVectorizer keeps no vocabulary (followed by daskpar.TfidfTransformer "
        "for tf-idf). If the counts fit in memory (about "
        f"{cap} x (24 + term size) bytes per task), raise the cap with "
        f"dask.config.set({{{MAX_TERMS_KEY!r}: n}}) and let min_df / max_features prune."
    )


# --------------------------------------------------------------------------------------------
# the states


def _distinct_objects(values: Any, n: int) -> np.ndarray:
    """``values`` as a 1-D object array (terms may be tuples: never a 2-D array)."""
    return np.fromiter(values, dtype=object, count=n)


@dataclass(frozen=True, eq=False)
class TermCounts:
    """Per distinct term of some documents: how many documents hold it, and how often it
    occurs in all of them.

    ``terms`` are distinct, in the order they were first met (the vocabulary is sorted at
    the end); ``document_frequency`` and ``term_frequency`` are int64 and aligned with them.
    ``cap`` bounds the distinct terms. Its size does not depend on the documents:
    ``k * (24 + s)`` bytes for ``k`` distinct terms, 8 for the pointer and 16 for the two
    counts, plus ``s``, the size of a term's Python object (~50 + length for a str), see
    :attr:`nbytes`.
    """

    n_documents: int
    terms: np.ndarray
    document_frequency: np.ndarray
    term_frequency: np.ndarray
    cap: int

    def combine(self, other: TermCounts, /) -> TermCounts:
        terms = np.concatenate([self.terms, other.terms])
        # A hash join of the two term lists: no sort, and the order of first appearance.
        codes, uniques = pd.factorize(terms, use_na_sentinel=False)
        if len(uniques) > self.cap:
            raise _too_many_terms(len(uniques), self.cap, "in the partitions merged")
        n = len(self.terms)
        left, right = codes[:n], codes[n:]
        counts = []
        for a, b in (
            (self.document_frequency, other.document_frequency),
            (self.term_frequency, other.term_frequency),
        ):
            total = np.zeros(len(uniques), dtype=np.int64)
            # Each side's codes are distinct: fancy-indexed adds lose nothing.
            total[left] += a
            total[right] += b
            counts.append(total)
        return TermCounts(
            self.n_documents + other.n_documents,
            _distinct_objects(uniques, len(uniques)),
            counts[0],
            counts[1],
            self.cap,
        )

    @property
    def nbytes(self) -> int:
        """The state's size by its formula: the terms (and the objects they point to) and
        the two counts, independent of the number of documents."""
        objects = sum(sys.getsizeof(t) for t in self.terms)
        return int(
            self.terms.nbytes
            + self.document_frequency.nbytes
            + self.term_frequency.nbytes
            + objects
        )


@dataclass(frozen=True, eq=False)
class DocumentFrequencies:
    """The number of rows of a count matrix, and per feature the rows where it is stored
    (``n_features`` int64 values: ``8 * n_features`` bytes, whatever the rows)."""

    n_samples: int
    document_frequency: np.ndarray

    def combine(self, other: DocumentFrequencies, /) -> DocumentFrequencies:
        if self.document_frequency.shape != other.document_frequency.shape:
            raise InputError(
                f"Blocks of X have {len(self.document_frequency)} and "
                f"{len(other.document_frequency)} columns; every block must have the same."
            )
        return DocumentFrequencies(
            self.n_samples + other.n_samples,
            self.document_frequency + other.document_frequency,
        )


# --------------------------------------------------------------------------------------------
# the task bodies of the fits


def _row_slice(rows: tuple[slice, ...] | slice) -> slice:
    """A block's rows: an array block's are a tuple of slices, a frame partition's one."""
    return rows[0] if isinstance(rows, tuple) else rows


def _location(rows: slice, block_id: tuple[int, ...], frame: bool) -> str:
    """Where a block is, for messages: a frame's partition knows only its own rows."""
    if frame:
        return f"partition {block_id[0]}"
    return f"partition {block_id[0]} (rows {rows.start} to {rows.stop - 1})"


def _refuse_missing(documents: Any, rows: slice, block_id: tuple[int, ...]) -> None:
    """Refuse a block holding None or NaN, naming its partition and the first such row."""
    frame = isinstance(documents, pd.Series)
    values = documents.to_numpy(dtype=object) if frame else np.asarray(documents)
    if values.dtype.kind in "US":
        return
    missing = np.flatnonzero(pd.isna(values))
    if len(missing) == 0:
        return
    first = int(missing[0])
    row = f"row {first} of the partition" if frame else f"row {rows.start + first}"
    raise PartitionError(
        f"X holds {len(missing)} missing document(s) (None or NaN) in "
        f"{_location(rows, block_id, frame)}, the first at {row}; scikit-learn's vectorizers "
        "take text only (np.nan is an invalid document). Fill them (X.fillna('')) or drop "
        "those rows first."
    )


def _documents(documents: Any) -> Any:
    """The documents of an array block (1-D) or a pandas partition, to iterate over."""
    if isinstance(documents, pd.Series):
        return documents
    if documents.ndim != 1:
        raise InputError(
            f"Expected a 1-D array of documents, got a block of shape {documents.shape}."
        )
    return documents


def count_partition_terms(
    documents: Any,
    rows: tuple[slice, ...] | slice,
    block_id: tuple[int, ...],
    *,
    analyzer: Any,
    cap: int,
) -> TermCounts | None:
    """The :class:`TermCounts` of one partition (a 1-D array block or a pandas Series);
    ``None`` if it holds no documents. The ``vocab-block`` task.

    ``analyzer`` is the vectorizer's ``build_analyzer()``: scikit-learn's decoding,
    preprocessing, tokenization, stop words and n-grams. More than ``cap`` distinct terms
    raise an :class:`InputError` as soon as they are met, before the counts grow further.
    """
    if len(documents) == 0:
        return None
    rows = _row_slice(rows)
    _refuse_missing(documents, rows, block_id)
    frame = isinstance(documents, pd.Series)
    document_frequency: Counter[Any] = Counter()
    term_frequency: Counter[Any] = Counter()
    n = 0
    for document in _documents(documents):
        try:
            features = analyzer(document)
        except DaskparError:
            raise
        except (TypeError, ValueError, AttributeError) as error:
            where = _location(rows, block_id, frame)
            raise PartitionError(f"A document of X in {where}: {error}") from error
        if not isinstance(features, list):
            features = list(features)  # a callable analyzer may give an iterator
        term_frequency.update(features)
        document_frequency.update(set(features))
        n += 1
        if len(term_frequency) > cap:
            raise _too_many_terms(
                len(term_frequency), cap, f"in {_location(rows, block_id, frame)}"
            )
    k = len(term_frequency)
    return TermCounts(
        n,
        _distinct_objects(term_frequency, k),
        np.fromiter(map(document_frequency.__getitem__, term_frequency), np.int64, count=k),
        np.fromiter(term_frequency.values(), np.int64, count=k),
        cap,
    )


class FittedVocabulary(NamedTuple):
    """What ``vocab-final`` gives: scikit-learn's ``vocabulary_``, the document frequency of
    each of its terms (in index order) and the number of documents."""

    vocabulary: dict[Any, Any]
    document_frequency: np.ndarray
    n_documents: int


def _sum_dtype(dtype: Any) -> np.dtype[Any]:
    """The dtype of a count matrix's column sums, as scipy sums a matrix of ``dtype``."""
    return np.dtype(sparse.csr_matrix((0, 1), dtype=dtype).sum(axis=0).dtype)


def vocabulary_attributes(
    state: TermCounts | None,
    *,
    max_df: float,
    min_df: float,
    max_features: int | None,
    binary: bool,
    dtype: Any,
) -> FittedVocabulary:
    """The vocabulary from the merged counts: the ``vocab-final`` task.

    The steps and the arrays they run on are those of scikit-learn's
    ``CountVectorizer.fit_transform``: document counts from ``max_df`` / ``min_df`` (an int,
    or a fraction of the documents), the terms in sorted order, the masks on their document
    frequencies, and for ``max_features`` the same ``argsort`` of the negated column sums of
    the count matrix (of ``dtype``; the document frequencies with ``binary``, whose matrix
    holds ones), so that ties fall as they fall there. Its errors have scikit-learn's
    messages.
    """
    if state is None or len(state.terms) == 0:
        raise InputError("empty vocabulary; perhaps the documents only contain stop words")
    n_doc = state.n_documents
    max_doc_count = max_df if isinstance(max_df, Integral) else max_df * n_doc
    min_doc_count = min_df if isinstance(min_df, Integral) else min_df * n_doc
    if max_doc_count < min_doc_count:
        raise InputError("max_df corresponds to < documents than min_df")
    order = np.argsort(state.terms, kind="stable")
    terms = state.terms[order]
    dfs = state.document_frequency[order]
    mask = np.ones(len(dfs), dtype=bool)
    mask &= dfs <= max_doc_count
    mask &= dfs >= min_doc_count
    if max_features is not None and mask.sum() > max_features:
        # A stored value per document and term: a one with binary or a bool matrix.
        ones = binary or np.dtype(dtype) == np.bool_
        counts = dfs if ones else state.term_frequency[order]
        tfs = counts.astype(_sum_dtype(dtype))
        mask_inds = (-tfs[mask]).argsort()[:max_features]
        new_mask = np.zeros(len(dfs), dtype=bool)
        new_mask[np.where(mask)[0][mask_inds]] = True
        mask = new_mask
    kept = np.where(mask)[0]
    if len(kept) == 0:
        raise InputError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    # scikit-learn's indices come from a cumsum with max_features (numpy integers), else
    # from a sort (ints).
    indices: Any = (
        np.arange(len(kept), dtype=np.intp) if max_features is not None else range(len(kept))
    )
    vocabulary = dict(zip(terms[kept].tolist(), indices, strict=True))
    return FittedVocabulary(vocabulary, dfs[kept], n_doc)


def count_vocabulary_documents(
    documents: Any, rows: tuple[slice, ...] | slice, block_id: tuple[int, ...], *, vectorizer: Any
) -> DocumentFrequencies | None:
    """The document frequencies of a given vocabulary's terms in one partition: the
    ``idf-block`` task of a TfidfVectorizer given ``vocabulary``.

    The counts are scikit-learn's: ``vectorizer`` is a CountVectorizer holding the
    vocabulary, and its ``transform`` gives the partition's count matrix.
    """
    if len(documents) == 0:
        return None
    rows = _row_slice(rows)
    _refuse_missing(documents, rows, block_id)
    where = _location(rows, block_id, isinstance(documents, pd.Series))
    _skip_stop_words_check(vectorizer)
    counts = _run(vectorizer, documents, None, where)
    return DocumentFrequencies(counts.shape[0], _stored_per_column(counts))


def _stored_per_column(X: Any) -> np.ndarray:
    """The stored values per column of a CSR or CSC matrix (scikit-learn's
    ``_document_frequency``), as int64."""
    if X.format == "csr":
        return np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64, copy=False)
    return np.diff(X.indptr).astype(np.int64, copy=False)


def count_partition_documents(
    X: Any, rows: tuple[slice, ...] | slice, block_id: tuple[int, ...]
) -> DocumentFrequencies | None:
    """The :class:`DocumentFrequencies` of one block of a count matrix (CSR, CSC or dense);
    ``None`` if it is empty. The ``idf-block`` task.

    The block is checked and converted as scikit-learn's ``TfidfTransformer.fit`` does (finite
    numbers; a dense block becomes CSR, dropping its zeros), and a feature's frequency is its
    stored values in the block, as there.
    """
    if X.shape[0] == 0:
        return None
    try:
        X = check_array(X, accept_sparse=("csr", "csc"))
    except (TypeError, ValueError) as error:
        where = _location(_row_slice(rows), block_id, False)
        raise PartitionError(f"X in {where}: {error}") from error
    if not sparse.issparse(X):
        X = sparse.csr_array(X)
    return DocumentFrequencies(int(X.shape[0]), _stored_per_column(X))


def inverse_document_frequency(
    document_frequency: np.ndarray, n_samples: int, *, smooth_idf: bool, dtype: Any
) -> np.ndarray:
    """scikit-learn's ``idf_`` from document frequencies, operation for operation (so bit
    for bit): ``log((n + smooth) / (df + smooth)) + 1`` in ``dtype``."""
    df = document_frequency.astype(dtype, copy=True)
    df += float(smooth_idf)
    n_samples += int(smooth_idf)
    idf = np.full_like(df, fill_value=n_samples, dtype=dtype)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    return idf


def idf_attributes(
    state: DocumentFrequencies | None, *, use_idf: bool, smooth_idf: bool, dtype: Any
) -> dict[str, Any]:
    """The fitted attributes of a TfidfTransformer from the merged document frequencies: the
    ``idf-final`` task."""
    if state is None:
        raise InputError("Found array with 0 sample(s) while a minimum of 1 is required.")
    attributes: dict[str, Any] = {"n_features_in_": len(state.document_frequency)}
    if use_idf:
        attributes["idf_"] = inverse_document_frequency(
            state.document_frequency, state.n_samples, smooth_idf=smooth_idf, dtype=dtype
        )
    return attributes


def _tfidf_dtype(dtype: Any) -> np.dtype[Any]:
    """The dtype scikit-learn computes a TfidfTransformer's ``idf_`` in for counts of
    ``dtype``."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float64, np.float32) else np.dtype(np.float64)


# --------------------------------------------------------------------------------------------
# the task bodies of the transforms


def _run(estimator: Any, X: Any, empty: Any, where: str) -> Any:
    """``estimator.transform(X)``, scikit-learn's; ``empty`` for zero rows (which it
    refuses or would give in another width)."""
    if empty is not None and X.shape[0] == 0:
        return empty
    try:
        out = estimator.transform(X)
    except DaskparError:
        raise
    except (TypeError, ValueError, AttributeError) as error:
        raise PartitionError(f"{type(estimator).__name__}.transform in {where}: {error}") from error
    if empty is not None and out.dtype != empty.dtype:
        # The lazy array declares one dtype for every block.
        out = out.astype(empty.dtype)
    return out


def vectorize_block(
    documents: np.ndarray, *, vectorizer: Any, empty: Any, block_info: Any = None
) -> Any:
    """scikit-learn's ``vectorizer.transform`` on one block of a 1-D dask array of
    documents: a CSR block. The ``vectorize`` task."""
    start, stop = block_info[0]["array-location"][0]
    rows, block_id = slice(start, stop), tuple(block_info[0]["chunk-location"])
    if len(documents):
        _refuse_missing(documents, rows, block_id)
    _skip_stop_words_check(vectorizer)
    return _run(vectorizer, documents, empty, _location(rows, block_id, False))


def vectorize_partition(partition: pd.Series, index: int, *, vectorizer: Any, empty: Any) -> Any:
    """scikit-learn's ``vectorizer.transform`` on one partition of a dask Series of
    documents: a CSR block. The ``vectorize`` task."""
    rows = slice(0, len(partition))
    if len(partition):
        _refuse_missing(partition, rows, (index,))
    _skip_stop_words_check(vectorizer)
    return _run(vectorizer, partition, empty, f"partition {index}")


def _skip_stop_words_check(vectorizer: Any) -> None:
    # scikit-learn checks the stop words against the tokenizer once per object, warning if
    # they disagree; the fit did, on the client, and a task's copy should not warn again.
    if hasattr(vectorizer, "stop_words"):
        mark_stop_words_checked(vectorizer)


def weigh_block(X: Any, *, transformer: Any, empty: Any, block_info: Any = None) -> Any:
    """scikit-learn's ``TfidfTransformer.transform`` on one block of counts: a CSR block.
    The ``tfidf`` task."""
    start, stop = block_info[0]["array-location"][0]
    where = f"partition {block_info[0]['chunk-location'][0]} (rows {start} to {stop - 1})"
    return _run(transformer, X, empty, where)


# --------------------------------------------------------------------------------------------
# the dask paths


def _is_dask_input(X: Any, method: str, estimator: Any) -> bool:
    if isinstance(X, da.Array) or is_dask_table(X):
        return True
    if is_dask_collection(X):
        raise InputError(
            f"{type(estimator).__name__}.{method} takes a dask array or Series, not a "
            f"{type(X).__name__}."
        )
    return False


def _check_documents(X: Any, estimator: Any) -> Any:
    """Check dask documents on the client: a 1-D array with known chunks, or a Series."""
    name = type(estimator).__name__
    if is_dask_table(X):
        if X.ndim != 1:
            raise InputError(
                f"{name} takes the documents as one text column: got a dask DataFrame with "
                f"columns {list(X.columns)}. Select the column (X['text'])."
            )
        return X
    if X.ndim != 1:
        raise InputError(
            f"{name} takes a 1-D dask array of documents; got {X.ndim}-D (shape {X.shape}). "
            "Select the column of documents first."
        )
    check_known_chunks(X, "X")
    custom = callable(estimator.analyzer) or estimator.preprocessor is not None
    if X.dtype.kind in "biufc" and not custom:
        raise InputError(
            f"{name} takes text documents; X has dtype {X.dtype}. Convert the values to "
            "strings first (X.astype(str))."
        )
    return X


def _csr_meta(width: int, dtype: Any) -> Any:
    return align_sparse_interface(sparse.csr_matrix((0, width), dtype=dtype))


def _lazy_transform(
    X: Any,
    twin: Any,
    *,
    width: int,
    dtype: Any,
    lengths: tuple[int, ...] | None,
    token: Any,
) -> da.Array:
    """``twin.transform`` lazily on every partition of dask documents ``X``: a dask array of
    CSR blocks, one ``vectorize`` task per partition."""
    meta = _csr_meta(width, dtype)
    if is_dask_table(X):
        return map_frame_partitions(
            vectorize_partition,
            X,
            width=width,
            lengths=frame_lengths(X) if lengths is None else lengths,
            stage=VECTORIZE_STAGE,
            token=token,
            meta=meta,
            with_index=True,
            vectorizer=broadcast(twin, MODEL_STAGE),
            empty=meta,
        )
    out: da.Array = X.map_blocks(
        vectorize_block,
        vectorizer=broadcast(twin, MODEL_STAGE),
        empty=meta,
        new_axis=1,
        chunks=(X.chunks[0], (width,)),
        dtype=meta.dtype,
        meta=meta,
        name=f"{stage_name(VECTORIZE_STAGE)}-{tokenize(token, X)}",
    )
    return out


class VocabularyVectorizer:
    """The dask paths of CountVectorizer and TfidfVectorizer, in front of scikit-learn's
    class in the MRO.

    The dashboard shows a fit as ``vocab-block``, ``vocab-merge`` and ``vocab-final``
    (:func:`count_partition_terms`, :meth:`TermCounts.combine`,
    :func:`vocabulary_attributes`), and ``transform`` tasks as ``vectorize``
    (:func:`vectorize_block`, :func:`vectorize_partition`).
    """

    _sklearn_class: ClassVar[type[Any]]
    split_every: int | None
    vocabulary_: dict[Any, Any]
    fixed_vocabulary_: bool
    analyzer: Any
    preprocessor: Any
    lowercase: bool
    vocabulary: Any
    max_df: float
    min_df: float
    max_features: int | None
    binary: bool
    dtype: Any

    def _sklearn(self) -> Any:
        """scikit-learn's methods: the class after this one in the MRO."""
        return super()

    def _twin(self) -> Any:
        """A plain scikit-learn vectorizer with this one's parameters and fitted
        attributes: what the tasks run."""
        params = self.get_params(deep=False)  # type: ignore[attr-defined]
        params.pop("split_every")
        twin = self._sklearn_class(**params)
        for name, value in vars(self).items():
            if (name.endswith("_") and not name.startswith("__")) or name == "_tfidf":
                setattr(twin, name, value)
        return twin

    def _check_parameters(self) -> None:
        """What scikit-learn's ``fit_transform`` checks before it reads a document."""
        validate_estimator_params(self)
        call_vectorizer_check(self, "_validate_ngram_range")
        call_vectorizer_check(self, "_warn_for_unused_params")
        call_vectorizer_check(self, "_validate_vocabulary")
        if self.fixed_vocabulary_ and self.lowercase:
            for term in self.vocabulary:
                if any(map(str.isupper, term)):
                    # scikit-learn's warning.
                    warnings.warn(
                        "Upper case characters found in vocabulary while 'lowercase' is "
                        "True. These entries will not be matched with any documents",
                        stacklevel=3,
                    )
                    break

    def _learn_vocabulary(self, X: Any) -> tuple[FittedVocabulary | None, tuple[int, ...] | None]:
        """The vocabulary pass (none with a given vocabulary); returns what it found and
        the partitions' row counts seen on the way."""
        X = _check_documents(X, self)
        frame = is_dask_table(X)
        lengths = None if frame else tuple(int(n) for n in X.chunks[0])
        if self.fixed_vocabulary_:
            return None, lengths
        # The analyzer holds this vectorizer (its methods): without an earlier fit's vocabulary.
        for name in ("vocabulary_", "_tfidf"):
            self.__dict__.pop(name, None)
        task_kwargs = {"analyzer": self.build_analyzer(), "cap": max_terms()}  # type: ignore[attr-defined]
        finalize_kwargs = {
            "max_df": self.max_df,
            "min_df": self.min_df,
            "max_features": self.max_features,
            "binary": self.binary,
            "dtype": self.dtype,
        }
        fitted: FittedVocabulary
        if frame:
            fitted, lengths = reduce_frame_partitions(
                count_partition_terms,
                X,
                finalize=vocabulary_attributes,
                stage=VOCABULARY_STAGE,
                split_every=self.split_every,
                task_kwargs=task_kwargs,
                finalize_kwargs=finalize_kwargs,
            )
        else:
            fitted = reduce_partitions(
                count_partition_terms,
                X,
                finalize=vocabulary_attributes,
                stage=VOCABULARY_STAGE,
                split_every=self.split_every,
                task_kwargs=task_kwargs,
                finalize_kwargs=finalize_kwargs,
            )
        self.vocabulary_ = fitted.vocabulary
        return fitted, lengths

    def _fit_dask(self, X: Any) -> tuple[int, ...] | None:
        self._check_parameters()
        _, lengths = self._learn_vocabulary(X)
        return lengths

    def fit(self, raw_documents: Any, y: Any = None) -> Self:
        """Learn the vocabulary of the documents.

        Parameters
        ----------
        raw_documents : dask array, dask Series or iterable of str
            The documents. A 1-D dask array (known chunks) or a dask Series is read once,
            in parallel; anything else goes to scikit-learn.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted vectorizer.
        """
        if not _is_dask_input(raw_documents, "fit", self):
            self._sklearn().fit(raw_documents, y)
            return self
        with audit.operation("fit", estimator=self, X=raw_documents):
            self._fit_dask(raw_documents)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        """Learn the vocabulary, then vectorize the documents; lazily for dask input.

        A dask Series' partition lengths, counted by the fit, give the output's row chunks:
        no second pass counts them.

        Parameters
        ----------
        raw_documents : dask array, dask Series or iterable of str
            The documents.
        y : None
            Ignored.

        Returns
        -------
        X : dask array of CSR blocks, or sparse matrix
            The document-term matrix.
        """
        if not _is_dask_input(raw_documents, "fit_transform", self):
            return self._sklearn().fit_transform(raw_documents, y)
        with audit.operation("fit", estimator=self, X=raw_documents):
            lengths = self._fit_dask(raw_documents)
        return self._transform_dask(raw_documents, lengths)

    def transform(self, raw_documents: Any) -> Any:
        """Vectorize documents with the fitted (or given) vocabulary; lazily, one task per
        partition, for dask input.

        Parameters
        ----------
        raw_documents : dask array, dask Series or iterable of str
            The documents.

        Returns
        -------
        X : dask array of CSR blocks, or sparse matrix
            The document-term matrix; for dask input, with its row partitions.
        """
        if not _is_dask_input(raw_documents, "transform", self):
            return self._sklearn().transform(raw_documents)
        return self._transform_dask(raw_documents, None)

    def _output_dtype(self) -> np.dtype[Any]:
        return np.dtype(self.dtype)

    def _transform_dask(self, X: Any, lengths: tuple[int, ...] | None) -> da.Array:
        self._check_fitted()
        X = _check_documents(X, self)
        twin = self._twin()
        token = (type(twin).__name__, twin.get_params(), self.vocabulary_, self._fitted_token())
        return _lazy_transform(
            X,
            twin,
            width=len(self.vocabulary_),
            dtype=self._output_dtype(),
            lengths=lengths,
            token=tokenize(token),
        )

    def _check_fitted(self) -> None:
        call_vectorizer_check(self, "_check_vocabulary")

    def _fitted_token(self) -> Any:
        return None


class CountVectorizer(SaveMixin, VocabularyVectorizer, text.CountVectorizer):
    """Convert a collection of text documents to a matrix of token counts, out of core.

    A subclass of scikit-learn's :class:`~sklearn.feature_extraction.text.CountVectorizer`
    that adds a dask path: ``fit`` on a 1-D dask array of documents or a dask Series reads
    every partition once, in parallel, counts there each term that scikit-learn's analyzer
    (``build_analyzer()``) finds, merges the counts through a tree and keeps the terms as
    scikit-learn keeps them (``min_df``, ``max_df``, ``max_features``): ``vocabulary_`` is
    scikit-learn's for the same documents, for any partitioning and ``split_every``. A given
    ``vocabulary`` needs no pass. ``transform`` of dask input is lazy, one task per partition,
    and gives a dask array of scipy CSR blocks. In-memory input behaves exactly as in
    scikit-learn.

    Each partition's state is ``k * (24 + s)`` bytes for its ``k`` distinct terms (8 for a
    pointer, 16 for the document and total counts, ``s`` for the term's Python object, ~50 +
    length for a str), whatever the number of documents; more distinct terms than the
    ``daskpar.text-max-terms`` setting (default 1 000 000) stop the fit, pointing to
    :class:`HashingVectorizer`.

    Parameters
    ----------
    input, encoding, decode_error, strip_accents, lowercase, preprocessor, tokenizer, \
stop_words, token_pattern, ngram_range, analyzer, max_df, min_df, max_features, vocabulary, \
binary, dtype
        As in scikit-learn's CountVectorizer.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition counts of dask input (at least 2;
        None uses dask's ``split_every`` setting if set, else 8). It does not change the
        result.

    Attributes
    ----------
    vocabulary_ : dict
        A mapping of terms to feature indices.
    fixed_vocabulary_ : bool
        True if a vocabulary of term to indices mapping is provided by the user.

    See Also
    --------
    sklearn.feature_extraction.text.CountVectorizer : The in-memory vectorizer this one
        extends.
    HashingVectorizer : Without a vocabulary: no fit, no state.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> docs = np.array(["the cat sat", "the dog sat", "a cat ran"], dtype=object)
    >>> X = da.from_array(docs, chunks=2)
    >>> vec = dp.CountVectorizer().fit(X)
    >>> vec.get_feature_names_out()
    array(['cat', 'dog', 'ran', 'sat', 'the'], dtype=object)
    >>> vec.transform(X).compute().toarray()  # lazy: one task per partition
    array([[1, 0, 0, 1, 1],
           [0, 1, 0, 1, 1],
           [1, 0, 1, 0, 0]])
    """

    _sklearn_class: ClassVar[type[Any]] = text.CountVectorizer
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(text.CountVectorizer),
        "split_every": SPLIT_EVERY,
    }

    def __init__(
        self,
        *,
        input: str = "content",
        encoding: str = "utf-8",
        decode_error: str = "strict",
        strip_accents: Any = None,
        lowercase: bool = True,
        preprocessor: Any = None,
        tokenizer: Any = None,
        stop_words: Any = None,
        token_pattern: str | None = r"(?u)\b\w\w+\b",
        ngram_range: tuple[int, int] = (1, 1),
        analyzer: Any = "word",
        max_df: float = 1.0,
        min_df: float = 1,
        max_features: int | None = None,
        vocabulary: Any = None,
        binary: bool = False,
        dtype: Any = np.int64,
        split_every: int | None = None,
    ) -> None:
        super().__init__(
            input=input,
            encoding=encoding,
            decode_error=decode_error,
            strip_accents=strip_accents,
            lowercase=lowercase,
            preprocessor=preprocessor,
            tokenizer=tokenizer,
            stop_words=stop_words,
            token_pattern=token_pattern,
            ngram_range=ngram_range,
            analyzer=analyzer,
            max_df=max_df,
            min_df=min_df,
            max_features=max_features,
            vocabulary=vocabulary,
            binary=binary,
            dtype=dtype,
        )
        self.split_every = split_every


class TfidfVectorizer(SaveMixin, VocabularyVectorizer, text.TfidfVectorizer):
    """Convert a collection of raw documents to a matrix of TF-IDF features, out of core.

    A subclass of scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfVectorizer`
    that adds a dask path: ``fit`` on a 1-D dask array of documents or a dask Series learns
    the vocabulary and the document frequencies of its terms in one pass (those of
    :class:`CountVectorizer`, whose state holds them), and ``idf_`` from them exactly as
    scikit-learn computes it. With a given ``vocabulary``, the pass counts only the document
    frequencies (with scikit-learn's ``transform``), and with ``use_idf=False`` too there is
    no pass. ``transform`` of dask input is lazy, one task per partition, and gives a dask
    array of scipy CSR blocks equal to scikit-learn's to float rounding. In-memory input
    behaves exactly as in scikit-learn.

    A partition's state is the one of :class:`CountVectorizer`: ``k * (24 + s)`` bytes for
    ``k`` distinct terms, capped by the ``daskpar.text-max-terms`` setting; with a given
    vocabulary, ``8 * len(vocabulary)`` bytes.

    Parameters
    ----------
    input, encoding, decode_error, strip_accents, lowercase, preprocessor, tokenizer, \
analyzer, stop_words, token_pattern, ngram_range, max_df, min_df, max_features, vocabulary, \
binary, dtype, norm, use_idf, smooth_idf, sublinear_tf
        As in scikit-learn's TfidfVectorizer.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition counts of dask input (at least 2;
        None uses dask's ``split_every`` setting if set, else 8). It does not change the
        result.

    Attributes
    ----------
    vocabulary_ : dict
        A mapping of terms to feature indices.
    fixed_vocabulary_ : bool
        True if a vocabulary of term to indices mapping is provided by the user.
    idf_ : array of shape (n_features,)
        The inverse document frequency (IDF) vector; only defined if ``use_idf`` is True.

    See Also
    --------
    sklearn.feature_extraction.text.TfidfVectorizer : The in-memory vectorizer this one
        extends.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> import daskpar as dp
    >>> s = pd.Series(["the cat sat", "the dog sat", "a cat ran"])
    >>> X = dd.from_pandas(s, npartitions=2)
    >>> vec = dp.TfidfVectorizer().fit(X)
    >>> vec.idf_.round(3)
    array([1.288, 1.693, 1.693, 1.288, 1.288])
    >>> vec.transform(X).compute().shape
    (3, 5)
    """

    _sklearn_class: ClassVar[type[Any]] = text.TfidfVectorizer
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(text.TfidfVectorizer),
        "split_every": SPLIT_EVERY,
    }

    def __init__(
        self,
        *,
        input: str = "content",
        encoding: str = "utf-8",
        decode_error: str = "strict",
        strip_accents: Any = None,
        lowercase: bool = True,
        preprocessor: Any = None,
        tokenizer: Any = None,
        analyzer: Any = "word",
        stop_words: Any = None,
        token_pattern: str | None = r"(?u)\b\w\w+\b",
        ngram_range: tuple[int, int] = (1, 1),
        max_df: float = 1.0,
        min_df: float = 1,
        max_features: int | None = None,
        vocabulary: Any = None,
        binary: bool = False,
        dtype: Any = np.float64,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
        sublinear_tf: bool = False,
        split_every: int | None = None,
    ) -> None:
        super().__init__(
            input=input,
            encoding=encoding,
            decode_error=decode_error,
            strip_accents=strip_accents,
            lowercase=lowercase,
            preprocessor=preprocessor,
            tokenizer=tokenizer,
            analyzer=analyzer,
            stop_words=stop_words,
            token_pattern=token_pattern,
            ngram_range=ngram_range,
            max_df=max_df,
            min_df=min_df,
            max_features=max_features,
            vocabulary=vocabulary,
            binary=binary,
            dtype=dtype,
            norm=norm,
            use_idf=use_idf,
            smooth_idf=smooth_idf,
            sublinear_tf=sublinear_tf,
        )
        self.split_every = split_every

    def _fit_dask(self, X: Any) -> tuple[int, ...] | None:
        validate_estimator_params(self)
        call_vectorizer_check(
            self, "_check_params"
        )  # scikit-learn's warning for a dtype that is not a float
        self._check_parameters()
        fitted, lengths = self._learn_vocabulary(X)
        transformer = text.TfidfTransformer(
            norm=self.norm,
            use_idf=self.use_idf,
            smooth_idf=self.smooth_idf,
            sublinear_tf=self.sublinear_tf,
        )
        n_features = len(self.vocabulary_)
        transformer.n_features_in_ = n_features
        if self.use_idf:
            if fitted is None:
                fitted, lengths = self._given_vocabulary_frequencies(X)
            transformer.idf_ = inverse_document_frequency(
                fitted.document_frequency,
                fitted.n_documents,
                smooth_idf=self.smooth_idf,
                dtype=_tfidf_dtype(self.dtype),
            )
        self._tfidf = transformer
        return lengths

    def _given_vocabulary_frequencies(
        self, X: Any
    ) -> tuple[FittedVocabulary, tuple[int, ...] | None]:
        """One ``idf`` pass: the document frequencies of the given vocabulary's terms."""
        counter = text.CountVectorizer(
            **{k: v for k, v in self.get_params(deep=False).items() if k in _COUNT_PARAMETERS}
        )
        counter.vocabulary_ = self.vocabulary_
        counter.fixed_vocabulary_ = True
        counter.build_analyzer()  # its stop words check, once, here
        lengths: tuple[int, ...] | None
        state: DocumentFrequencies | None
        if is_dask_table(X):
            state, lengths = reduce_frame_partitions(
                count_vocabulary_documents,
                X,
                finalize=_identity,
                stage=IDF_STAGE,
                split_every=self.split_every,
                task_kwargs={"vectorizer": counter},
            )
        else:
            state = reduce_partitions(
                count_vocabulary_documents,
                X,
                finalize=_identity,
                stage=IDF_STAGE,
                split_every=self.split_every,
                task_kwargs={"vectorizer": counter},
            )
            lengths = tuple(int(n) for n in X.chunks[0])
        if state is None:
            raise InputError("Found array with 0 sample(s) while a minimum of 1 is required.")
        return FittedVocabulary(
            self.vocabulary_, state.document_frequency, state.n_samples
        ), lengths

    def _output_dtype(self) -> np.dtype[Any]:
        # The counts are converted as TfidfTransformer.transform converts them.
        return np.dtype(np.float32 if np.dtype(self.dtype) == np.float32 else np.float64)

    def _check_fitted(self) -> None:
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        super()._check_fitted()

    def _fitted_token(self) -> Any:
        return vars(self._tfidf)


_COUNT_PARAMETERS = frozenset(text.CountVectorizer().get_params(deep=False))


def _identity(state: Any) -> Any:
    return state


class TfidfTransformer(SaveMixin, text.TfidfTransformer, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """Transform a count matrix to a normalized tf or tf-idf representation, out of core.

    A subclass of scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfTransformer`
    that adds a dask path: ``fit`` on a dask array of count blocks (scipy CSR or CSC, or
    dense; one column block, known chunks) reads every block once, in parallel, counts each
    feature's documents there, sums the counts through a tree and computes ``idf_`` exactly
    as scikit-learn does (the same operations on the same document frequencies).
    ``transform`` of dask input is lazy, one task per block running scikit-learn's own
    ``transform``, and gives a dask array of CSR blocks. In-memory input behaves exactly as
    in scikit-learn.

    A block's state is the number of rows and one int64 per feature: ``8 * n_features``
    bytes, whatever the rows.

    Parameters
    ----------
    norm : {'l1', 'l2'} or None, default='l2'
        Each output row has unit norm.
    use_idf : bool, default=True
        Enable inverse-document-frequency reweighting.
    smooth_idf : bool, default=True
        Smooth idf weights by adding one to document frequencies.
    sublinear_tf : bool, default=False
        Apply sublinear tf scaling, i.e. replace tf with 1 + log(tf).
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-block document frequencies of dask ``X`` (at
        least 2; None uses dask's ``split_every`` setting if set, else 8). It does not change
        the result.

    Attributes
    ----------
    idf_ : array of shape (n_features,)
        The inverse document frequency (IDF) vector; only defined if ``use_idf`` is True.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.feature_extraction.text.TfidfTransformer : The in-memory transformer this one
        extends.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> counts = da.from_array(np.array([[3, 0, 1], [2, 0, 0], [3, 1, 0]]), chunks=(2, 3))
    >>> tfidf = dp.TfidfTransformer().fit(counts)
    >>> tfidf.idf_.round(3)
    array([1.   , 1.693, 1.693])
    >>> tfidf.transform(counts).compute().shape
    (3, 3)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(text.TfidfTransformer),
        "split_every": SPLIT_EVERY,
    }

    def __init__(
        self,
        *,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
        sublinear_tf: bool = False,
        split_every: int | None = None,
    ) -> None:
        super().__init__(
            norm=norm, use_idf=use_idf, smooth_idf=smooth_idf, sublinear_tf=sublinear_tf
        )
        self.split_every = split_every

    def _check_counts(self, X: da.Array, method: str) -> da.Array:
        name = type(self).__name__
        if is_dask_table(X) or X.ndim != 2:
            raise InputError(
                f"{name}.{method} takes a 2-D dask array of counts (as CountVectorizer's "
                f"transform gives); got a {type(X).__name__} with {X.ndim} dimension(s)."
            )
        check_known_chunks(X, "X")
        if len(X.chunks[1]) != 1:
            raise InputError(
                f"X is chunked along columns (column chunks {X.chunks[1]}); daskpar "
                "partitions rows only. Rechunk with X.rechunk({1: -1})."
            )
        return X

    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn the idf vector (global term weights).

        Parameters
        ----------
        X : dask array or sparse matrix of shape (n_samples, n_features)
            A matrix of term counts; a dask array is read once, in parallel.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        if not _is_dask_input(X, "fit", self):
            return super().fit(X, y)
        with audit.operation("fit", estimator=self, X=X):
            self._fit_dask(X)
        return self

    def _fit_dask(self, X: da.Array) -> None:
        validate_estimator_params(self)
        X = self._check_counts(X, "fit")
        if X.shape[0] == 0:
            raise InputError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                f"required by {type(self).__name__}."
            )
        attributes = reduce_partitions(
            count_partition_documents,
            X,
            finalize=idf_attributes,
            stage=IDF_STAGE,
            split_every=self.split_every,
            finalize_kwargs={
                "use_idf": self.use_idf,
                "smooth_idf": self.smooth_idf,
                "dtype": _tfidf_dtype(X.dtype),
            },
        )
        for name, value in attributes.items():
            setattr(self, name, value)
        self.__dict__.pop("feature_names_in_", None)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fit to the counts, then transform them; lazily for dask input.

        Parameters
        ----------
        X : dask array or sparse matrix of shape (n_samples, n_features)
            A matrix of term counts.
        y : None
            Ignored.
        **fit_params : dict
            Passed to scikit-learn's ``fit_transform`` for in-memory input.

        Returns
        -------
        X_out : dask array of CSR blocks, or sparse matrix
            The tf-idf weighted counts.
        """
        if not _is_dask_input(X, "fit_transform", self):
            return super().fit_transform(X, y, **fit_params)
        return self.fit(X).transform(X)

    def transform(self, X: Any, copy: bool = True) -> Any:
        """Transform counts to a tf or tf-idf representation; lazily, one task per block,
        for dask input.

        Parameters
        ----------
        X : dask array or sparse matrix of shape (n_samples, n_features)
            A matrix of term counts.
        copy : bool, default=True
            Whether to work on a copy of in-memory CSR input (dask blocks are never changed).

        Returns
        -------
        X_out : dask array of CSR blocks, or sparse matrix
            The tf-idf weighted counts.
        """
        if not _is_dask_input(X, "transform", self):
            return super().transform(X, copy=copy)
        check_is_fitted(self)
        X = self._check_counts(X, "transform")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        params = self.get_params(deep=False)
        params.pop("split_every")
        twin = text.TfidfTransformer(**params)
        for name, value in vars(self).items():
            if name.endswith("_"):
                setattr(twin, name, value)
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        meta = _csr_meta(self.n_features_in_, dtype)
        token = tokenize(type(twin).__name__, params, vars(twin), X)
        out: da.Array = X.map_blocks(
            weigh_block,
            transformer=broadcast(twin, MODEL_STAGE),
            empty=meta,
            chunks=(X.chunks[0], (self.n_features_in_,)),
            dtype=meta.dtype,
            meta=meta,
            name=f"{stage_name(TFIDF_STAGE)}-{token}",
        )
        return out


class HashingVectorizer(SaveMixin, text.HashingVectorizer, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """Convert a collection of text documents to a matrix of token occurrences by hashing,
    out of core.

    A subclass of scikit-learn's :class:`~sklearn.feature_extraction.text.HashingVectorizer`:
    stateless, so ``fit`` reads nothing, and ``transform`` of a 1-D dask array of documents
    or a dask Series is lazy, one ``vectorize`` task per partition running scikit-learn's
    own ``transform``, and gives a dask array of scipy CSR blocks equal to scikit-learn's.
    It has no vocabulary to outgrow: use it where :class:`CountVectorizer` would hold more
    distinct terms than memory allows. In-memory input behaves exactly as in scikit-learn.

    Parameters
    ----------
    input, encoding, decode_error, strip_accents, lowercase, preprocessor, tokenizer, \
stop_words, token_pattern, ngram_range, analyzer, n_features, binary, norm, alternate_sign, \
dtype
        As in scikit-learn's HashingVectorizer.

    See Also
    --------
    sklearn.feature_extraction.text.HashingVectorizer : The in-memory vectorizer this one
        extends.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> docs = np.array(["the cat sat", "the dog sat", "a cat ran"], dtype=object)
    >>> X = dp.HashingVectorizer(n_features=2**10).transform(da.from_array(docs, chunks=2))
    >>> X.chunks
    ((2, 1), (1024,))
    >>> X.compute().nnz
    8
    """

    def fit(self, X: Any, y: Any = None) -> Self:
        """Check the parameters; nothing is learned (for dask input, nothing is read).

        Parameters
        ----------
        X : dask array, dask Series or iterable of str
            Ignored beyond its type.
        y : None
            Ignored.

        Returns
        -------
        self : object
            This vectorizer.
        """
        if not _is_dask_input(X, "fit", self):
            return super().fit(X, y)
        _check_documents(X, self)
        return super().fit([], y)

    def transform(self, X: Any) -> Any:
        """Transform documents to a document-term matrix; lazily, one task per partition,
        for dask input.

        Parameters
        ----------
        X : dask array, dask Series or iterable of str
            The documents.

        Returns
        -------
        X : dask array of CSR blocks, or sparse matrix
            The document-term matrix.
        """
        if not _is_dask_input(X, "transform", self):
            return super().transform(X)
        validate_estimator_params(self)
        call_vectorizer_check(self, "_validate_ngram_range")
        X = _check_documents(X, self)
        twin = text.HashingVectorizer(**self.get_params(deep=False))
        return _lazy_transform(
            X,
            twin,
            width=self.n_features,
            dtype=self._output_dtype(),
            lengths=None,
            token=tokenize(type(twin).__name__, twin.get_params()),
        )

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """:meth:`fit`, then :meth:`transform`; lazily for dask input.

        Parameters
        ----------
        X : dask array, dask Series or iterable of str
            The documents.
        y : None
            Ignored.

        Returns
        -------
        X : dask array of CSR blocks, or sparse matrix
            The document-term matrix.
        """
        return self.fit(X, y).transform(X)

    def _output_dtype(self) -> np.dtype[Any]:
        dtype = np.dtype(self.dtype)
        if self.norm is None or dtype in (np.float64, np.float32, np.float16):
            return dtype
        # scikit-learn's normalize converts other dtypes to float64.
        return np.dtype(np.float64)
