"""Feature hashing out of core: scikit-learn's FeatureHasher on dask collections and tables.

Hashing is stateless: a row's output depends on that row alone, so there is nothing to fit
and nothing to merge. ``transform`` of dask input is one lazy ``hash`` task per partition
(:func:`hash_block` for a dask array, :func:`hash_partition` for a dask DataFrame or Series)
whose output is a scipy CSR block. For a dask array the layer is blockwise, and dask fuses it
with the task that reads the block and the training task that uses it; a dask DataFrame's
``hash`` tasks take one partition each, and the training task its hashed block.

Tables (pandas or dask DataFrames) are hashed as Vowpal Wabbit and Spark hash them, one
feature per column and row (:func:`hash_table`):

- a column of numbers ``c`` with value ``v`` gives the feature ``"c"`` with value ``v``;
- any other column (text, categories, booleans, objects) gives ``"c=v"`` with value 1;
- missing values (None, NaN, ``pd.NA``, ``NaT``) give no feature, nor does a value of 0.

That is scikit-learn's own rule for a dict whose values are strings or numbers, so a table
hashes as scikit-learn hashes ``df.to_dict("records")`` with the missing entries dropped
(booleans are categories here: ``"c=True"`` and ``"c=False"``, where scikit-learn would add
``c`` for True and nothing for False).

Namespaces and interactions (VW's ``-q ab`` and ``--cubic abc``) cross the features of
namespaces row by row, from their 32-bit hashes: the crossed feature of ``a`` and ``b`` has
index ``((h_a * 16777619) ^ h_b) mod 2**32 mod n_features`` and value ``v_a * v_b`` (each
value carrying its feature's sign with ``alternate_sign``), and a triple folds a third hash
in the same way. The cross of a row is computed in its task, vectorized over the rows of the
partition: no list of pairs is ever built for the data set.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import dask.array as da
import numpy as np
import pandas as pd
from dask.base import is_dask_collection, tokenize
from scipy import sparse
from sklearn import feature_extraction
from sklearn.utils import murmurhash3_32

from ._columns import column_names, is_dask_table, match_feature_names
from ._graph import frame_lengths, map_frame_partitions, stage_name
from ._murmur import murmur_strings
from ._saving import SaveMixin
from ._sklearn_compat import align_sparse_interface, parameter_constraints
from .errors import DaskparError, InputError, PartitionError

__all__ = [
    "FNV_PRIME",
    "FeatureHasher",
    "TablePlan",
    "cross_hashes",
    "hash_block",
    "hash_partition",
    "hash_table",
]

#: The multiplier of VW's feature crossing (the 32-bit FNV prime).
FNV_PRIME = 16777619
#: Entries (a row's features and crosses) assembled at a time inside a task: the temporary
#: arrays take about 60 bytes per entry, ~30 MB, whatever the partition's size.
ENTRIES_PER_SLICE = 2**19
#: The dashboard's name of the transform tasks.
STAGE = "hash"


# --------------------------------------------------------------------------------------------
# what a task needs to hash a table


@dataclass(frozen=True)
class TablePlan:
    """How to hash the rows of a table: made on the client, the same for every partition.

    ``names`` are the columns' names as hashed (``str`` of each label), in the order the
    columns are read; ``numeric`` says which hold numbers. ``interactions`` are tuples of
    column positions per crossed namespace; ``keep`` the positions of their flattened cross
    that are kept (a namespace crossed with itself gives each pair once, VW's default).
    """

    names: tuple[str, ...]
    numeric: tuple[bool, ...]
    interactions: tuple[tuple[tuple[int, ...], ...], ...]
    keep: tuple[np.ndarray | None, ...]
    n_features: int
    alternate_sign: bool
    dtype: Any

    def __dask_tokenize__(self) -> Any:
        keep = tuple(None if k is None else k.tolist() for k in self.keep)
        return (
            type(self).__name__,
            self.names,
            self.numeric,
            self.interactions,
            keep,
            self.n_features,
            self.alternate_sign,
            str(np.dtype(self.dtype)),
        )


def _kept_positions(namespaces: tuple[str, ...], sizes: tuple[int, ...]) -> np.ndarray | None:
    """Positions in the flattened cross of ``namespaces`` (row-major) to keep: where a
    namespace repeats, only non-decreasing column positions, so each combination once."""
    repeated = [
        (p, q)
        for p in range(len(namespaces))
        for q in range(p + 1, len(namespaces))
        if namespaces[p] == namespaces[q]
    ]
    if not repeated:
        return None
    grid = np.indices(sizes).reshape(len(sizes), -1)
    mask = np.ones(grid.shape[1], dtype=bool)
    for p, q in repeated:
        mask &= grid[p] <= grid[q]
    return np.flatnonzero(mask)


def _is_number_column(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def _feature_hashes(names: Iterable[str]) -> np.ndarray:
    """scikit-learn's signed 32-bit murmurhash (seed 0, UTF-8) of each feature name."""
    return np.fromiter((murmurhash3_32(n, seed=0) for n in names), dtype=np.int64)


# --------------------------------------------------------------------------------------------
# task bodies


def cross_hashes(
    hashes: Sequence[np.ndarray], values: Sequence[np.ndarray], keep: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The crossed 32-bit hashes and values of some rows' namespaces (VW's ``-q`` / ``--cubic``).

    ``hashes[i]`` (uint32) and ``values[i]`` (float64, signed, 0 for no feature) are of shape
    ``(n_rows, k_i)`` for namespace ``i``. Returns arrays of shape ``(n_rows, prod(k_i))``
    (columns ``keep`` only, if given): ``(h_a * 16777619) ^ h_b`` in 32-bit arithmetic, folded
    left for three namespaces, and the product of the values.
    """
    n = hashes[0].shape[0]
    h, v = hashes[0], values[0]
    prime = np.uint32(FNV_PRIME)
    for h_b, v_b in zip(hashes[1:], values[1:], strict=True):
        # uint32 arrays wrap on overflow, which is the 32-bit arithmetic VW's hash uses.
        h = ((h[:, :, None] * prime) ^ h_b[:, None, :]).reshape(n, -1)
        v = (v[:, :, None] * v_b[:, None, :]).reshape(n, -1)
    if keep is not None:
        h, v = h[:, keep], v[:, keep]
    return h, v


def _hash_columns(
    frame: pd.DataFrame, plan: TablePlan
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's feature per column, as arrays of shape ``(n_rows, n_columns)``: its output
    column (int32), signed value (float64, 0 where the row has no feature) and its 32-bit
    hash (uint32; only if the plan crosses namespaces, else of shape ``(0, 0)``)."""
    n, k = len(frame), len(plan.names)
    # Column-major: each column's features are written in one contiguous run.
    index = np.zeros((n, k), dtype=np.int32, order="F")
    values = np.zeros((n, k), dtype=np.float64, order="F")
    hashes = np.zeros((n, k) if plan.interactions else (0, 0), dtype=np.uint32, order="F")
    for j, (name, numeric) in enumerate(zip(plan.names, plan.numeric, strict=True)):
        column = frame.iloc[:, j]
        if numeric:
            v = column.to_numpy(dtype=np.float64, na_value=np.nan)
            h = _feature_hashes([name])
            flip = plan.alternate_sign and h[0] < 0
            values[:, j] = np.where(np.isnan(v), 0.0, -v if flip else v)
        else:
            # Each distinct value is hashed once: a partition has far fewer than it has rows.
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
            # A last entry for the code -1 of missing values: no feature.
            h = np.append(murmur_strings(f"{name}=", uniques), 0)
            sign = np.where(h < 0, -1.0, 1.0) if plan.alternate_sign else np.ones(len(h))
            sign[-1] = 0.0
            values[:, j] = sign[codes]
        # abs(h) in 64 bits: scikit-learn's special case of h = -2**31 gives the same index.
        columns = (np.abs(h) % plan.n_features).astype(np.int32)
        index[:, j] = columns[0] if numeric else columns[codes]
        if plan.interactions:
            unsigned = (h & 0xFFFFFFFF).astype(np.uint32)
            hashes[:, j] = unsigned[0] if numeric else unsigned[codes]
    return index, values, hashes


def hash_table(frame: pd.DataFrame, plan: TablePlan) -> Any:
    """The hashed features of a pandas DataFrame's rows, as scikit-learn's FeatureHasher
    returns them: a CSR matrix of shape ``(n_rows, plan.n_features)``, duplicates summed.

    Per row, the features of the columns in order, then those of each interaction: the same
    entries in the same order as scikit-learn's hashing of the row's dict (without
    interactions), so that its ``sum_duplicates`` gives the same bits.
    """
    n = len(frame)
    base, values, hashes = _hash_columns(frame, plan)
    width = len(plan.names) + sum(
        len(k) if k is not None else int(np.prod([len(c) for c in columns]))
        for columns, k in zip(plan.interactions, plan.keep, strict=True)
    )
    step = max(1, ENTRIES_PER_SLICE // max(width, 1))
    indices, data, counts = [], [], []
    for start in range(0, max(n, 1), step):
        rows = slice(start, start + step)
        index_parts, value_parts = [base[rows]], [values[rows]]
        for columns, keep in zip(plan.interactions, plan.keep, strict=True):
            h, v = cross_hashes(
                [hashes[rows][:, c] for c in columns], [values[rows][:, c] for c in columns], keep
            )
            index_parts.append((h % np.uint32(plan.n_features)).astype(np.int32))
            value_parts.append(v)
        index = np.hstack(index_parts) if len(index_parts) > 1 else index_parts[0]
        value = np.hstack(value_parts) if len(value_parts) > 1 else value_parts[0]
        # scikit-learn skips a value of 0 before casting to the output dtype.
        present = value != 0
        indices.append(index[present])
        data.append(value[present])
        counts.append(present.sum(axis=1))
    nnz = np.concatenate(counts)[:n]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(nnz, out=indptr[1:])
    index_dtype = np.int32 if indptr[-1] <= np.iinfo(np.int32).max else np.int64
    out = sparse.csr_array(
        (
            np.concatenate(data).astype(plan.dtype, copy=False),
            np.concatenate(indices).astype(index_dtype, copy=False),
            indptr.astype(index_dtype),
        ),
        shape=(n, plan.n_features),
        dtype=plan.dtype,
    )
    out.sum_duplicates()  # also sorts the indices, as scikit-learn's transform does
    return align_sparse_interface(out)


def _empty(n_features: int, dtype: Any) -> Any:
    return align_sparse_interface(sparse.csr_matrix((0, n_features), dtype=dtype))


def hash_block(X: np.ndarray, block_info: Any = None, *, hasher: Any) -> Any:
    """scikit-learn's ``hasher.transform`` of one block of a 1-D dask array of samples
    (dicts, lists of pairs or lists of strings): the ``hash`` task."""
    if X.shape[0] == 0:
        return _empty(hasher.n_features, hasher.dtype)
    try:
        return hasher.transform(X)
    except (TypeError, ValueError, AttributeError) as error:
        where = ""
        if block_info is not None:
            (start, stop), block = (
                block_info[0]["array-location"][0],
                block_info[0]["chunk-location"],
            )
            where = f" in partition {block[0]} (rows {start} to {stop - 1})"
        raise PartitionError(f"FeatureHasher.transform{where}: {error}") from error


def hash_partition(partition: Any, index: int, *, plan: TablePlan | None, hasher: Any) -> Any:
    """The hashed features of one partition of a dask DataFrame (by ``plan``) or of a dask
    Series of samples (scikit-learn's ``hasher.transform``): the ``hash`` task."""
    if len(partition) == 0:
        return _empty(hasher.n_features, hasher.dtype)
    try:
        if plan is not None:
            return hash_table(partition, plan)
        return hasher.transform(partition.to_numpy())
    except DaskparError:
        raise
    except (TypeError, ValueError, AttributeError) as error:
        raise PartitionError(f"FeatureHasher.transform in partition {index}: {error}") from error


# --------------------------------------------------------------------------------------------
# the estimator


def _sample_container(X: Any) -> str | None:
    """What kind of input ``X`` is: "frame", "series", "array" (dask) or None (in memory)."""
    if is_dask_table(X):
        return "frame" if X.ndim == 2 else "series"
    if isinstance(X, da.Array):
        return "array"
    if is_dask_collection(X):
        raise InputError(
            f"FeatureHasher.transform takes a dask array, DataFrame or Series, not a "
            f"{type(X).__name__}."
        )
    return None


class FeatureHasher(SaveMixin, feature_extraction.FeatureHasher):
    """Implements feature hashing, aka the hashing trick, out of core and on tables.

    A subclass of scikit-learn's :class:`~sklearn.feature_extraction.FeatureHasher`, with
    its parameters and hash function (signed 32-bit murmurhash3, ``alternate_sign``). It adds:

    - **dask input**: ``transform`` of a 1-D dask array of samples (dicts, lists of pairs or
      lists of strings, per ``input_type``), of a dask Series of them, or of a dask
      DataFrame is lazy, one ``hash`` task per partition, and returns a dask array of scipy
      CSR blocks of width ``n_features`` with the input's row partitions;
    - **tables**: with ``input_type="dict"`` (the default), a pandas or dask DataFrame is
      read as its rows' dicts, column name to value: a column of numbers ``c`` gives the
      feature ``"c"`` with its value, any other column ``"c=v"`` with value 1, as in
      scikit-learn (and Spark's and VW's hashing). Missing values give no feature;
    - **namespaces and interactions**, VW style: named groups of columns whose features are
      crossed row by row (pairs and triples), kept next to the columns' own features.

    Other in-memory input goes to scikit-learn's ``transform`` unchanged.

    Parameters
    ----------
    n_features : int, default=2**20
        The number of features (columns) in the output matrices.
    input_type : {"dict", "pair", "string"}, default="dict"
        What a sample is: a dict of feature name to value, pairs of (name, value), or
        strings (value 1), as in scikit-learn. DataFrames are taken with ``"dict"``.
    dtype : numpy dtype, default=np.float64
        The type of feature values.
    alternate_sign : bool, default=True
        When True, a feature's value gets the sign of its hash, so that inner products are
        approximately conserved in the hashed space.
    namespaces : dict of str to list of column names, default=None
        Groups of a table's columns to cross, such as ``{"user": ["user_id", "age"],
        "ad": ["ad_id", "site"]}``; a column belongs to one namespace at most. Columns in no
        namespace are hashed all the same.
    interactions : list of tuples of namespace names, default=None
        The namespaces to cross: pairs (VW's ``-q``) and triples (``--cubic``), such as
        ``[("user", "ad")]``. A namespace crossed with itself gives each combination of its
        features once (VW's default, without ``--permutations``).

    Attributes
    ----------
    feature_names_in_ : ndarray of shape (n_columns,)
        The columns of the table ``fit`` saw (if their names are strings): ``transform``
        takes a table's columns by these names.

    Notes
    -----
    On a table, a row's features are the pairs ``(name, value)`` of its dict, as
    scikit-learn hashes them: ``transform(df)`` equals scikit-learn's
    ``transform(df.to_dict("records"))`` with the missing entries (None, NaN, ``pd.NA``,
    ``NaT``) left out of the dicts, since VW skips missing features and scikit-learn would
    hash NaN as a value (or fail on None). Columns of booleans are categories, giving
    ``"c=True"`` or ``"c=False"`` (as in Spark), where scikit-learn's dict rule would add
    ``"c"`` with value 1 for True and nothing for False. A category that is not a string is
    hashed as its ``str``.

    The crossed feature of namespaces ``a`` and ``b`` comes from the features' 32-bit hashes
    (the signed murmurhash read as unsigned), as in VW: index
    ``(((h_a * 16777619) mod 2**32) ^ h_b) mod n_features`` (for three namespaces, the same
    fold once more with ``h_c``) and value ``v_a * v_b``, where each value has its feature's
    sign with ``alternate_sign``. A row's duplicate indices are summed, as scikit-learn does.

    See Also
    --------
    sklearn.feature_extraction.FeatureHasher : The in-memory hasher this one extends.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> import daskpar as dp
    >>> df = pd.DataFrame({"city": ["Oslo", "Lima", None], "age": [31, 0, 40]})
    >>> X = dd.from_pandas(df, npartitions=2)
    >>> hasher = dp.FeatureHasher(n_features=10).fit(X)
    >>> Xt = hasher.transform(X)  # lazy: one task per partition, CSR blocks
    >>> Xt.compute().toarray()
    array([[ 0.,  0.,  0.,  1.,  0.,  0.,  0.,  0.,  0., 31.],
           [ 0.,  0.,  0.,  0.,  0.,  0.,  0.,  1.,  0.,  0.],
           [ 0.,  0.,  0.,  0.,  0.,  0.,  0.,  0.,  0., 40.]])
    >>> crossed = dp.FeatureHasher(
    ...     n_features=2**10,
    ...     namespaces={"who": ["city"], "when": ["age"]},
    ...     interactions=[("who", "when")],
    ... )
    >>> crossed.fit_transform(df).nnz  # row 0: city, age and their cross; rows 1, 2: one
    5
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(feature_extraction.FeatureHasher),
        "namespaces": [dict, None],
        "interactions": [list, tuple, None],
    }

    def __init__(
        self,
        n_features: int = 2**20,
        *,
        input_type: str = "dict",
        dtype: Any = np.float64,
        alternate_sign: bool = True,
        namespaces: Mapping[str, Sequence[Hashable]] | None = None,
        interactions: Sequence[Sequence[str]] | None = None,
    ) -> None:
        super().__init__(
            n_features, input_type=input_type, dtype=dtype, alternate_sign=alternate_sign
        )
        self.namespaces = namespaces
        self.interactions = interactions

    def fit(self, X: Any = None, y: Any = None) -> Self:
        """Check the parameters; for a table, record its column names.

        Parameters
        ----------
        X : pandas or dask DataFrame, or ignored
            A table's column names are recorded (``feature_names_in_``), and ``transform``
            takes a table's columns by them. Nothing is read.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The hasher.
        """
        super().fit(X, y)
        if column_names(X) is not None:
            self._check_table_input(X)
            match_feature_names(self, X, reset=True)
            self._table_plan(X)  # namespaces against the columns, before any task runs
        else:
            self.__dict__.pop("feature_names_in_", None)
        return self

    def transform(self, raw_X: Any) -> Any:
        """Hash samples or a table's rows: lazily, one task per partition, for dask input.

        Parameters
        ----------
        raw_X : iterable of samples, pandas or dask DataFrame, or dask array or Series
            Samples as scikit-learn takes them (per ``input_type``), a 1-D dask array or a
            dask Series of such samples, or a table (``input_type="dict"``) whose columns
            are taken by name if ``fit`` saw a table.

        Returns
        -------
        X : sparse matrix or dask array of shape (n_samples, n_features)
            The hashed features: for dask input, a dask array of CSR blocks with the input's
            row partitions.
        """
        container = _sample_container(raw_X)
        table = column_names(raw_X) is not None
        if not table and (self.namespaces or self.interactions):
            raise InputError(
                "FeatureHasher's namespaces and interactions name columns of a table: give a "
                f"pandas or dask DataFrame, not a {type(raw_X).__name__}."
            )
        if table:
            self._check_table_input(raw_X)
            if hasattr(self, "feature_names_in_"):
                raw_X = match_feature_names(self, raw_X, reset=False)
            plan = self._table_plan(raw_X)
            if container is None:
                if len(raw_X) == 0:
                    raise ValueError("Cannot vectorize empty sequence.")
                return hash_table(raw_X, plan)
            return self._lazy_frame(raw_X, plan)
        if container == "series":
            return self._lazy_frame(raw_X, None)
        if container == "array":
            return self._lazy_array(raw_X)
        return super().transform(raw_X)

    # ---------------------------------------------------------------------------------------

    def _twin(self) -> feature_extraction.FeatureHasher:
        """A plain scikit-learn hasher with this one's parameters: what a task runs."""
        return feature_extraction.FeatureHasher(
            self.n_features,
            input_type=self.input_type,
            dtype=self.dtype,
            alternate_sign=self.alternate_sign,
        )

    def _meta(self) -> Any:
        return _empty(self.n_features, self.dtype)

    def _token(self) -> tuple[Any, ...]:
        return (
            type(self).__name__,
            self.n_features,
            self.input_type,
            str(np.dtype(self.dtype)),
            self.alternate_sign,
        )

    def _check_table_input(self, X: Any) -> None:
        if self.input_type != "dict":
            raise InputError(
                f"FeatureHasher hashes a table's rows as dicts: give input_type='dict' (got "
                f"input_type={self.input_type!r}) to hash a {type(X).__name__}."
            )
        if getattr(X, "ndim", 2) != 2:
            raise InputError(
                "FeatureHasher hashes a table's rows: give a DataFrame (X.to_frame()), or a "
                "Series whose values are samples (dicts, pairs or strings) with input_type."
            )

    def _table_plan(self, X: Any) -> TablePlan:
        """The :class:`TablePlan` of a table's columns, namespaces and interactions checked."""
        view = X._meta if is_dask_table(X) else X
        labels = list(view.columns)
        names = tuple(str(c) for c in labels)
        numeric = tuple(_is_number_column(t) for t in view.dtypes)
        position = {c: j for j, c in enumerate(labels)}
        namespaces = dict(self.namespaces or {})
        owner: dict[Hashable, str] = {}
        for space, columns in namespaces.items():
            if isinstance(columns, str) or not isinstance(columns, Iterable):
                raise InputError(
                    f"namespaces[{space!r}] must be a list of column names; got {columns!r}."
                )
            missing = [c for c in columns if c not in position]
            if missing:
                raise InputError(
                    f"namespaces[{space!r}] names columns that X does not have: {missing}. "
                    f"X has the columns {labels}."
                )
            for c in columns:
                if c in owner:
                    raise InputError(
                        f"Column {c!r} is in two namespaces, {owner[c]!r} and {space!r}; a "
                        "column belongs to one namespace at most."
                    )
                owner[c] = space
        crossed, keep = [], []
        for interaction in self.interactions or ():
            spaces = (interaction,) if isinstance(interaction, str) else tuple(interaction)
            if len(spaces) not in (2, 3):
                raise InputError(
                    "Each interaction crosses two or three namespaces, such as ('user', "
                    f"'ad'); got {interaction!r}."
                )
            unknown = [s for s in spaces if s not in namespaces]
            if unknown:
                raise InputError(
                    f"The interaction {interaction!r} names namespaces that are not in "
                    f"namespaces: {unknown}. Known namespaces: {sorted(namespaces)}."
                )
            per_space = tuple(tuple(position[c] for c in namespaces[s]) for s in spaces)
            if any(len(p) == 0 for p in per_space):
                continue  # an empty namespace crosses to nothing
            crossed.append(per_space)
            keep.append(_kept_positions(spaces, tuple(len(p) for p in per_space)))
        return TablePlan(
            names=names,
            numeric=numeric,
            interactions=tuple(crossed),
            keep=tuple(keep),
            n_features=int(self.n_features),
            alternate_sign=bool(self.alternate_sign),
            dtype=self.dtype,
        )

    def _lazy_frame(self, X: Any, plan: TablePlan | None) -> da.Array:
        """One ``hash`` task per partition of a dask DataFrame (``plan``) or Series."""
        lengths = frame_lengths(X)
        return map_frame_partitions(
            hash_partition,
            X,
            width=int(self.n_features),
            lengths=lengths,
            stage=stage_name(STAGE),
            token=(self._token(), plan),
            meta=self._meta(),
            with_index=True,
            plan=plan,
            hasher=self._twin(),
        )

    def _lazy_array(self, X: da.Array) -> da.Array:
        """One ``hash`` task per block of a 1-D dask array of samples."""
        if X.ndim != 1:
            raise InputError(
                f"FeatureHasher takes a 1-D dask array of samples (dicts, pairs or strings); "
                f"got a {X.ndim}-D array of shape {X.shape}."
            )
        if any(np.isnan(c) for c in X.chunks[0]):
            raise InputError(
                "X has unknown chunk sizes (NaN), as after boolean indexing. Call "
                "X.compute_chunk_sizes() first."
            )
        # A blockwise layer (map_blocks), which dask fuses with the tasks that read the
        # block and with those that train on its output.
        out: da.Array = da.map_blocks(
            hash_block,
            X,
            new_axis=1,
            chunks=(X.chunks[0], (int(self.n_features),)),
            meta=self._meta(),
            dtype=self._meta().dtype,
            name=f"{stage_name(STAGE)}-{tokenize(self._token(), X.name)}",
            hasher=self._twin(),
        )
        return out
