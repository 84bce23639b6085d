"""Tables with text and categorical columns: each column's encoding, picked by cardinality on
the workers, and the column step that a trained model keeps in front of it.

A table whose feature columns are all numbers takes the arrays' path, as before. Otherwise
(or when ``--one-hot`` / ``--ordinal`` name columns) training runs in two passes before the
epochs, both on the workers, neither gathering the data:

1. **profile**: ``daskpar.OrdinalEncoder`` counts the distinct values of the columns to
   encode, and ``daskpar.StandardScaler`` the values present in the numeric ones (one
   ``columns-*`` pass of a ``daskpar.ColumnTransformer``);
2. **column step**: a ``daskpar.ColumnTransformer`` with ``OneHotEncoder`` for the columns of
   few categories, ``OrdinalEncoder`` for the others, and the numeric columns as they are, is
   fitted on all of DATA. Its output is a dask array with a block per partition of the table
   (the pass counted their rows), which the rest of the command uses as it uses an array
   read from a file: the held-out split, the scaler and the model see the encoded columns.
   The model saved is ``Pipeline(column step, [scaler], model)``, which takes a table's
   columns by name.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

#: A column with at most this many categories (missing values count as one) is one-hot
#: encoded, else ordinal. One-hot output is dense float64, so each category is a column of 8
#: bytes per row that every epoch reads: 40 categories are 320 bytes per row, as many as 40
#: numeric features, and each has enough rows to learn a weight in most tables. Past that
#: width the encoded block grows faster than the information in it, and an ordinal code keeps
#: one column. skrub's TableVectorizer draws its line at the same place (its
#: ``cardinality_threshold=40``).
DEFAULT_MAX_ONE_HOT = 40

ONE_HOT = "one-hot"
ORDINAL = "ordinal"


@dataclass(frozen=True)
class ColumnChoice:
    """The encodings the user asked for: columns forced to one-hot or ordinal, and the most
    categories a column may have to be one-hot encoded when not forced."""

    one_hot: tuple[str, ...] = ()
    ordinal: tuple[str, ...] = ()
    max_one_hot: int = DEFAULT_MAX_ONE_HOT
    #: Hash every feature column into 2**hash_bits columns instead (no categories counted).
    hash_bits: int | None = None
    #: Columns whose hashed features are crossed, row by row (pairs and triples).
    interactions: tuple[tuple[str, ...], ...] = ()

    @property
    def forced(self) -> dict[str, str]:
        return {**{c: ONE_HOT for c in self.one_hot}, **{c: ORDINAL for c in self.ordinal}}


def column_options(command: Any) -> Any:
    """``--one-hot COL``, ``--ordinal COL`` (repeated) and ``--max-one-hot-categories N``,
    given to the command as one :class:`ColumnChoice` named ``columns``."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        one_hot: tuple[str, ...],
        ordinal: tuple[str, ...],
        max_one_hot: int,
        hash_bits: int | None,
        interactions: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        both = sorted(set(one_hot) & set(ordinal))
        if both:
            raise click.UsageError(
                f"column(s) {both} are named in both --one-hot and --ordinal; name each column "
                "in one of them."
            )
        if hash_bits is not None and (one_hot or ordinal):
            raise click.UsageError(
                "--hash-bits hashes every feature column; leave out --one-hot and --ordinal, "
                "or --hash-bits."
            )
        if interactions and hash_bits is None:
            raise click.UsageError(
                "--interactions crosses hashed columns: give --hash-bits too (for example "
                "--hash-bits 20)."
            )
        crossed = tuple(_interaction(text) for text in interactions)
        choice = ColumnChoice(one_hot, ordinal, max_one_hot, hash_bits, crossed)
        return command(*args, columns=choice, **kwargs)

    for option in reversed(
        [
            click.option(
                "--one-hot",
                "one_hot",
                multiple=True,
                metavar="COLUMN",
                help="Tables: one-hot encode COLUMN whatever its number of categories (a text, "
                "categorical or numeric column). Repeat for several columns.",
            ),
            click.option(
                "--ordinal",
                "ordinal",
                multiple=True,
                metavar="COLUMN",
                help="Tables: encode COLUMN's categories as integers (unknown and missing "
                "values as -1), whatever their number. Repeat for several columns.",
            ),
            click.option(
                "--max-one-hot-categories",
                "max_one_hot",
                type=click.IntRange(min=0),
                default=DEFAULT_MAX_ONE_HOT,
                show_default=True,
                help="Tables: text and categorical columns with at most this many categories "
                "(missing values count as one) are one-hot encoded, the others ordinal "
                "(one output column each). 0 encodes them all as ordinal.",
            ),
            click.option(
                "--hash-bits",
                "hash_bits",
                type=click.IntRange(min=1, max=30),
                default=None,
                metavar="BITS",
                help="Tables: hash every feature column into 2**BITS sparse columns instead of "
                "encoding them (text as COLUMN=VALUE, numbers as their value; missing values "
                "left out): no categories are counted, whatever their number. The model then "
                "trains on sparse blocks.",
            ),
            click.option(
                "--interactions",
                "interactions",
                multiple=True,
                metavar="A:B[:C]",
                help="With --hash-bits: also cross the hashed features of columns A and B (and "
                "C) in every row, as Vowpal Wabbit's -q and --cubic do. Repeat for several.",
            ),
        ]
    ):
        wrapper = option(wrapper)
    return wrapper


def _interaction(text: str) -> tuple[str, ...]:
    names = tuple(text.split(":"))
    if len(names) not in (2, 3) or not all(names):
        raise click.BadParameter(
            f"{text!r} is not A:B or A:B:C, two or three column names joined by ':'.",
            param_hint="--interactions",
        )
    return names


# --------------------------------------------------------------------------------------------
# which columns are which


def _is_numeric(dtype: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def _is_categorical(dtype: Any) -> bool:
    """Text and categories: what an encoder takes without being asked."""
    import pandas as pd

    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _check_named(frame: Any, choice: ColumnChoice, target: str | None, data: Path | str) -> None:
    """Every column named in --one-hot / --ordinal is a feature column of DATA."""
    columns = [str(c) for c in frame.columns]
    crossed = tuple(c for names in choice.interactions for c in names)
    named_by = (("--one-hot", choice.one_hot), ("--ordinal", choice.ordinal))
    for option, named in (*named_by, ("--interactions", crossed)):
        for name in named:
            if name == target:
                raise click.BadParameter(
                    f"{name!r} is the target column (--target), not a feature.",
                    param_hint=option,
                )
            if name not in columns:
                raise click.BadParameter(
                    f"{data} has no feature column {name!r}. Its feature columns are: "
                    f"{', '.join(columns)}.",
                    param_hint=option,
                )


def read_table(
    data: Path | str, target: str | None, choice: ColumnChoice
) -> tuple[Any, Any] | None:
    """DATA as a table, ``(X, y)`` as a dask DataFrame and Series, when it needs the column
    step: a feature column of text or categories, or a column named in ``choice``. None
    when it does not (a table of numbers, or not a table): the arrays' path then reads it."""
    from daskpar.data import read_path

    from ._context import table_kind

    if isinstance(data, Path) and not data.exists():
        return None  # the arrays' path says so (a URL: its reader does)
    kind = table_kind(data)
    if kind is None:
        if choice.forced or choice.hash_bits is not None:
            raise click.UsageError(
                "--one-hot, --ordinal and --hash-bits apply to the columns of a table (CSV, "
                f"Parquet); {data} is not one."
            )
        return None
    if target is None:
        raise click.ClickException(f"{kind} data needs --target COLUMN.")
    X, y = read_path(str(data), target=target, as_frame=True)
    _check_named(X, choice, target, data)
    if not choice.forced and choice.hash_bits is None and all(_is_numeric(t) for t in X.dtypes):
        return None
    return X, y


# --------------------------------------------------------------------------------------------
# the profile pass and the choice


@dataclass(frozen=True)
class Encodings:
    """Each encoded column's encoding, number of categories, whether missing values are one
    of them, and whether the encoding was forced; the numeric columns, passed as they are."""

    encoded: dict[str, tuple[str, int, bool, bool]]
    numeric: list[str]

    def columns(self, encoding: str) -> list[str]:
        return [c for c, (e, *_) in self.encoded.items() if e == encoding]


def _profile(
    X: Any, to_encode: list[str], numeric: list[str]
) -> tuple[list[tuple[int, bool]], Any]:
    """One pass over X on the workers: the number of categories of each column to encode and
    whether missing values are one of them (scikit-learn sorts them last), and the numeric
    columns' scaler (whose ``n_samples_seen_`` counts their present values)."""
    import pandas as pd

    import daskpar as dp

    steps: list[tuple[str, Any, list[str]]] = [("categories", dp.OrdinalEncoder(), to_encode)]
    if numeric:
        steps.append(("numbers", dp.StandardScaler(), numeric))
    profile = dp.ColumnTransformer(steps).fit(X)
    encoder = profile.named_transformers_["categories"]
    counts = [(len(c), bool(len(c) and pd.isna(c[-1]))) for c in encoder.categories_]
    return counts, profile.named_transformers_.get("numbers")


def pick_encodings(X: Any, choice: ColumnChoice, data: Path | str) -> tuple[Encodings, Any]:
    """Each column's encoding (the profile pass runs here), and the numeric columns' scaler
    from that pass, for :func:`check_missing_numbers`."""
    forced = choice.forced
    dtypes = {str(c): t for c, t in X.dtypes.items()}
    other = [c for c, t in dtypes.items() if c not in forced and not _is_numeric(t)]
    other = [c for c in other if not _is_categorical(dtypes[c])]
    if other:
        described = ", ".join(f"{c!r} ({dtypes[c]})" for c in other)
        raise click.ClickException(
            f"{data}: column(s) {described} hold neither numbers nor text. Name them in "
            "--ordinal (or --one-hot) to encode their values as categories, or write the file "
            "without them."
        )
    to_encode = [c for c, t in dtypes.items() if c in forced or not _is_numeric(t)]
    numeric = [c for c in dtypes if c not in to_encode]
    click.echo(f"counting the categories of {len(to_encode)} column(s) in one pass over {data}")
    counts, scaler = _profile(X, to_encode, numeric)
    encoded = {}
    for column, (n, missing) in zip(to_encode, counts, strict=True):
        if column in forced:
            encoded[column] = (forced[column], n, missing, True)
        else:
            picked = ONE_HOT if n <= choice.max_one_hot else ORDINAL
            encoded[column] = (picked, n, missing, False)
    return Encodings(encoded, numeric), scaler


def print_encodings(encodings: Encodings, choice: ColumnChoice) -> None:
    """The encoding of every column, as a table; then the numeric columns."""
    names = list(encodings.encoded)
    width = max(len("column"), *(len(c) for c in names))
    click.echo(
        f"encodings (one-hot up to {choice.max_one_hot} categories, see "
        "--max-one-hot-categories; --one-hot / --ordinal COLUMN force one):"
    )
    click.echo(f"  {'column':<{width}}  {'encoding':<8}  {'categories':>10}  output columns")
    for column, (encoding, n, missing, forced) in encodings.encoded.items():
        outputs = n if encoding == ONE_HOT else 1
        notes = ["missing values are one"] * missing + ["forced"] * forced
        note = f"  ({'; '.join(notes)})" if notes else ""
        click.echo(f"  {column:<{width}}  {encoding:<8}  {n:>10,}  {outputs:>14,}{note}")
    if encodings.numeric:
        click.echo(
            f"numeric columns, as they are ({len(encodings.numeric)}): "
            f"{', '.join(encodings.numeric)}"
        )


def column_step(encodings: Encodings) -> Any:
    """The (unfitted) ``daskpar.ColumnTransformer`` of ``encodings``."""
    import daskpar as dp

    steps: list[tuple[str, Any, list[str]]] = []
    if encodings.columns(ONE_HOT):
        # Dense: until daskpar trains on sparse blocks; the width is bounded by the choice.
        encoder = dp.OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        steps.append(("one_hot", encoder, encodings.columns(ONE_HOT)))
    if encodings.columns(ORDINAL):
        encoder = dp.OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
        )
        steps.append(("ordinal", encoder, encodings.columns(ORDINAL)))
    if encodings.numeric:
        steps.append(("numeric", "passthrough", encodings.numeric))
    return dp.ColumnTransformer(steps)


def check_missing_numbers(scaler: Any, numeric: Sequence[str], rows: int, data: Path | str) -> None:
    """Refuse numeric columns with missing values, by name: daskpar's models need finite
    values (text and categorical columns may miss values: missing is a category)."""
    import numpy as np

    if scaler is None:
        return
    seen = np.broadcast_to(np.asarray(scaler.n_samples_seen_), (len(numeric),))
    missing = {c: rows - int(n) for c, n in zip(numeric, seen, strict=True) if n < rows}
    if missing:
        described = ", ".join(f"{c!r} ({n:,} of {rows:,} rows)" for c, n in missing.items())
        raise click.ClickException(
            f"{data}: numeric column(s) {described} have missing values, and daskpar's models "
            "need numbers in every row. Drop those rows or fill them in before training, or "
            "name the column in --ordinal to treat its values as categories (missing being "
            "one)."
        )


def _target_array(y: Any, lengths: tuple[int, ...]) -> Any:
    """The target Series as a dask array in the encoded rows' chunks: numbers as they are,
    anything else (text, categories) as Python objects, as the arrays' readers give labels."""
    import numpy as np

    dtype = y.dtype
    if not (isinstance(dtype, np.dtype) and dtype.kind in "biuf"):
        y = y.astype(np.float64 if _is_numeric(dtype) else object)
    return y.to_dask_array(lengths=lengths)


def hashing_step(choice: ColumnChoice) -> Any:
    """The (unfitted) ``daskpar.FeatureHasher`` of ``--hash-bits`` and ``--interactions``:
    each crossed column is a namespace of its own."""
    import daskpar as dp

    crossed = sorted({c for names in choice.interactions for c in names})
    assert choice.hash_bits is not None  # only called with --hash-bits
    return dp.FeatureHasher(
        n_features=2**choice.hash_bits,
        namespaces={c: [c] for c in crossed} or None,
        interactions=list(choice.interactions) or None,
    )


def _hash_table(X: Any, y: Any, choice: ColumnChoice, data: Path | str) -> tuple[Any, Any, Any]:
    import time

    step = hashing_step(choice).fit(X)
    crossed = ", ".join(" x ".join(names) for names in choice.interactions) or "none"
    click.echo(
        f"hashing {len(X.columns)} column(s) into 2**{choice.hash_bits} sparse columns "
        f"(text as COLUMN=VALUE, numbers as their value); interactions: {crossed}"
    )
    start = time.perf_counter()
    encoded = step.transform(X)
    click.echo(
        f"hashed lazily, inside the training tasks: {encoded.shape[0]:,} rows "
        f"({time.perf_counter() - start:.2f} s to count them)"
    )
    return step, encoded, _target_array(y, tuple(int(n) for n in encoded.chunks[0]))


def encode_table(X: Any, y: Any, choice: ColumnChoice, data: Path | str) -> tuple[Any, Any, Any]:
    """Pick and print the encodings, then fit the column step on the workers (two passes);
    returns it, the encoded features (a dask array with a block per partition) and the
    target in the same blocks. With ``--hash-bits``, the step is a ``FeatureHasher``: no
    pass fits it, and its blocks are sparse."""
    import time

    if choice.hash_bits is not None:
        return _hash_table(X, y, choice, data)
    encodings, scaler = pick_encodings(X, choice, data)
    print_encodings(encodings, choice)
    start = time.perf_counter()
    step = column_step(encodings)
    encoded = step.fit_transform(X)
    check_missing_numbers(scaler, encodings.numeric, int(encoded.shape[0]), data)
    click.echo(
        f"fitted the column step in one pass over {data}: {time.perf_counter() - start:.2f} s, "
        f"{encoded.shape[0]:,} rows x {encoded.shape[1]} encoded features"
    )
    return step, encoded, _target_array(y, tuple(int(n) for n in encoded.chunks[0]))


def with_column_step(step: Any, model: Any) -> Any:
    """``Pipeline(step, <model's steps>)``: the saved model, which takes a table by name."""
    from sklearn.pipeline import make_pipeline

    steps = [s for _, s in model.steps] if hasattr(model, "steps") else [model]
    return make_pipeline(step, *steps)


def column_step_of(model: Any) -> Any | None:
    """The ColumnTransformer (or, with --hash-bits, the FeatureHasher) a saved model starts
    with (a model trained on a table with text columns), or None."""
    from daskpar import ColumnTransformer, FeatureHasher

    steps = getattr(model, "steps", None)
    if steps and isinstance(steps[0][1], ColumnTransformer | FeatureHasher):
        return steps[0][1]
    return None


def check_table_for(model: Any, data: Path | str) -> Any | None:
    """The column step of ``model`` (None if it has none), refused for DATA that is not a
    table: its columns are taken by name, and arrays have none."""
    from ._context import table_kind

    step = column_step_of(model)
    if step is not None and table_kind(data) is None:
        columns = ", ".join(str(c) for c in step.feature_names_in_)
        raise click.ClickException(
            f"the model was trained on a table, and takes its columns by name ({columns}); "
            f"{data} is not a table. Give it a CSV, Parquet or JSON-lines file with those columns."
        )
    return step
