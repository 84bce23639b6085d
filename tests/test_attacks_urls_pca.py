# ruff: noqa: F811  (the fixtures are imported from daskpar_s3, then named as arguments)
"""Object-store URLs and searches over a PCA step, attacked: the cases that once went wrong, kept.

- A URL's password is never shown: not by :func:`read_path`'s own messages (each suffix),
  nor when it holds a ``/`` or an ``@`` (AWS secret keys often hold a ``/``).
- A store's listing is never stale: a file added to a pattern is read, and an object
  rewritten after its folder was listed gets new keys.
- Two objects are two data sets, whatever the store tells of them: objects of one size on a
  store that gives no ETag nor time get distinct keys, and a rewritten one new keys.
- A truncated ``.npy`` upload is refused, not read as short or shifted rows.
- A search's ``best_estimator_``, refitted on a table's values, keeps its column names: used
  alone (saved, loaded, given the columns in another order) it takes them by name.
- A search over a Pipeline with a PCA step scores every candidate as fitting it alone on
  each fold does, for generated data (rank-deficient, constant columns) and grids.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import pytest
from daskpar_s3 import S3, s3, s3_bucket, s3_server  # noqa: F401  (fixtures)
from fsspec.implementations.memory import MemoryFileSystem
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline, make_pipeline

import daskpar as dp
from daskpar._io import read_json
from daskpar._io._remote import clean_url, remote_location, scrub
from daskpar._io.npy import read_npy
from daskpar._io.svmlight import read_svmlight
from daskpar.data import read_csv, read_path
from daskpar.errors import DaskparError, InputError


def _messages(exc: BaseException | None) -> str:
    """The message of ``exc`` and of every exception it was raised from."""
    out = []
    while exc is not None:
        out.append(f"{type(exc).__name__}: {exc!r} {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# A URL's password, in no message


def test_read_path_messages_never_show_a_url_password() -> None:
    """Each of read_path's own refusals names the URL without its user and password (these
    come before any request: no store needed)."""
    secret = f"pw{uuid.uuid4().hex}"

    def url(name: str) -> str:
        return f"s3://AKIDREDTEAM:{secret}@bucket/{name}"

    attempts: list[Callable[[], Any]] = [
        lambda: read_path(url("X.npy"), y="targets.txt"),
        lambda: read_path(url("X.npy"), y=url("y.txt")),
        lambda: read_path(url("X.npy"), as_frame=True),
        lambda: read_path(url("d.h5"), as_frame=True),
        lambda: read_path(url("t.csv")),
        lambda: read_path(url("t.jsonl")),
        lambda: read_path(url("t.parquet")),
        lambda: read_path(url("t.svm"), y="labels"),
        lambda: read_path(url("t.svm.xz")),
    ]
    for attempt in attempts:
        with pytest.raises(DaskparError) as info:
            attempt()
        text = _messages(info.value)
        assert secret not in text
        assert "AKIDREDTEAM" not in text
        assert "s3://bucket/" in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://KEY:wJa@lr@bucket/x.npy", ("s3://bucket/x.npy", "KEY", "wJa@lr")),
        ("s3://KEY:wJa%2Flr@bucket/x.npy", ("s3://bucket/x.npy", "KEY", "wJa/lr")),
        ("s3://KEY@bucket/x.npy", ("s3://bucket/x.npy", "KEY", None)),
        ("s3://bucket/a@b/c:d@e.npy", ("s3://bucket/a@b/c:d@e.npy", None, None)),
        ("http://host:9000/a@b.npy", ("http://host:9000/a@b.npy", None, None)),
    ],
)
def test_a_url_s_user_and_password_end_at_the_last_at_before_the_path(
    url: str, expected: tuple[str, str | None, str | None]
) -> None:
    clean, options = remote_location(url, None, "read_npy")
    assert (clean, options.options.get("key"), options.options.get("secret")) == expected


def test_a_password_holding_a_slash_is_refused_without_showing_it() -> None:
    """``s3://KEY:SE/CRET@bucket/x``: fsspec would take ``KEY:SE`` for the bucket, and show
    it in its error; the URL is refused, shown without the password."""
    secret_start, secret_end = "wJalrXUtnFEMI", "K7MDENGbPxRfiCY"
    for url in (
        f"s3://AKID:{secret_start}/{secret_end}@bucket/x.npy",
        f"s3://AKID:{secret_start}/{secret_end}@more@bucket/x.npy",
    ):
        attempts: list[Callable[[str], Any]] = [
            read_npy,
            lambda u: read_json(u.replace(".npy", ".jsonl"), target="y"),
            lambda u: read_svmlight([u.replace(".npy", ".svm")]),
            lambda u: read_csv(u.replace(".npy", ".csv"), target="y"),
        ]
        for attempt in attempts:
            with pytest.raises(InputError, match="percent-encoded") as info:
                attempt(url)
            text = _messages(info.value)
            assert secret_start not in text
            assert secret_end not in text
            assert "s3://bucket/" in text
        assert secret_start not in scrub(f"cannot read {url!r}: denied")
        assert secret_end not in clean_url(url)


def test_a_presigned_url_s_signature_is_scrubbed_from_messages_not_from_the_url() -> None:
    url = (
        "https://bucket.s3.amazonaws.com/x.npy?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKID%2F20261207&X-Amz-Security-Token=TOKEN123"
        "&X-Amz-Signature=abcdef0123"
    )
    assert clean_url(url) == url  # read with its signature
    assert scrub(f"cannot read {url!r}: 403") == (
        "cannot read 'https://bucket.s3.amazonaws.com/x.npy?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=***': 403"
    )
    assert scrub("abfs://c/p.npy?sv=2022&sig=SIGNED&se=1") == "abfs://c/p.npy?sv=2022&sig=***&se=1"


def test_the_command_line_refuses_a_password_in_y_too() -> None:
    """``--y`` takes the ``.npy`` file of targets, a URL too: one holding a password is
    refused as DATA's is, before anything is read, and not shown."""
    from daskpar_testing import invoke

    secret = f"pw{uuid.uuid4().hex}"
    y = f"s3://AKID:{secret}@bucket/y.npy"
    for args in (
        ("train", "s3://bucket/X.npy", "--y", y),
        ("search", "s3://bucket/X.npy", "--y", y),
        ("score", "s3://bucket/m.dp", "s3://bucket/X.npy", "--y", y),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert secret not in result.output
        assert "s3://bucket/y.npy was given with a user or password in its URL" in result.output


# --------------------------------------------------------------------------------------------
# A store that tells no version nor time of its objects


class _NoStampFileSystem(MemoryFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """An in-memory store whose listings give names and sizes only (as an HTTP server that
    sends no ETag nor Last-Modified)."""

    protocol = "nostampfs"
    store: dict[str, Any] = {}  # noqa: RUF012  (fsspec's own layout: a class-level store)
    pseudo_dirs = [""]  # noqa: RUF012

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        prefix = f"{cls.protocol}://"
        path = path[len(prefix) :] if path.startswith(prefix) else path
        stripped: str = super()._strip_protocol(path)
        return stripped

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().info(path, **kwargs)
        found.pop("created", None)
        return found

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        listed = super().ls(path, detail=detail, **kwargs)
        if detail:
            for entry in listed:
                entry.pop("created", None)
        return listed


@pytest.fixture
def no_stamp_store() -> Iterator[Any]:
    fsspec.register_implementation(_NoStampFileSystem.protocol, _NoStampFileSystem, clobber=True)
    fs = _NoStampFileSystem()
    try:
        yield fs
    finally:
        fs.store.clear()


def _npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def test_objects_a_store_tells_only_the_size_of_never_share_keys(no_stamp_store: Any) -> None:
    """Two objects of one size, and one rewritten with as many bytes, on a store that gives
    no ETag nor time: each read gets its own keys, so that none reads another's values."""
    a, b = np.arange(12.0).reshape(4, 3), -np.arange(12.0).reshape(4, 3)
    no_stamp_store.pipe_file("/a.npy", _npy_bytes(a))
    no_stamp_store.pipe_file("/b.npy", _npy_bytes(b))
    Xa, _ = read_npy("nostampfs://a.npy", chunks=2)
    Xb, _ = read_npy("nostampfs://b.npy", chunks=2)
    assert Xa.name != Xb.name
    got_a, got_b = dask.compute(Xa, Xb)
    np.testing.assert_array_equal(got_a, a, strict=True)
    np.testing.assert_array_equal(got_b, b, strict=True)
    no_stamp_store.pipe_file("/a.npy", _npy_bytes(a + 1))
    again, _ = read_npy("nostampfs://a.npy", chunks=2)
    assert again.name != Xa.name
    np.testing.assert_array_equal(again.compute(), a + 1, strict=True)
    # A pattern's files too.
    no_stamp_store.pipe_file("/t/p.jsonl", b'{"x": 1, "y": 0}\n')
    first, _ = read_json("nostampfs://t/*.jsonl", target="y", blocksize=None)
    no_stamp_store.pipe_file("/t/p.jsonl", b'{"x": 7, "y": 0}\n')
    second, _ = read_json("nostampfs://t/*.jsonl", target="y", blocksize=None)
    assert first.name != second.name
    assert second.compute().tolist() == [[7.0]]


# --------------------------------------------------------------------------------------------
# On S3: listings never stale, truncated uploads refused


def test_a_pattern_sees_files_added_and_objects_rewritten_since_a_listing(s3: S3) -> None:
    so = s3.storage_options
    fs = s3.filesystem()
    fs.pipe_file(s3.url("j", "a.jsonl"), b'{"a": 1, "label": 0}\n{"a": 2, "label": 1}\n')
    fs.pipe_file(s3.url("c", "a.csv"), b"a,label\n1,0\n2,1\n")
    fs.pipe_file(s3.url("s", "a.svm"), b"0 1:1\n1 1:2\n")
    readers: dict[str, Callable[[], Any]] = {
        "j": lambda: read_json(s3.url("j", "*.jsonl"), target="label", storage_options=so)[0],
        "c": lambda: read_csv(s3.url("c", "*.csv"), target="label", storage_options=so)[0],
        "s": lambda: read_svmlight(s3.url("s", "*.svm"), storage_options=so)[0],
    }
    added = {
        "j": ("b.jsonl", b'{"a": 3, "label": 0}\n'),
        "c": ("b.csv", b"a,label\n3,0\n"),
        "s": ("b.svm", b"0 1:3\n"),
    }
    for folder, read in readers.items():
        before = read()
        assert before.shape[0] == 2
        name, data = added[folder]
        fs.pipe_file(s3.url(folder, name), data)
        after = read()
        assert after.name != before.name, folder
        values = after.compute()
        values = values.toarray() if hasattr(values, "toarray") else values
        assert np.asarray(values)[:, 0].tolist() == [1.0, 2.0, 3.0], folder
    # The folder was listed (by the pattern): a rewrite of one of its objects is seen.
    json_url = s3.url("j", "a.jsonl")
    listed = read_json(json_url, target="label", storage_options=so)[0]
    fs.pipe_file(json_url, b'{"a": 8, "label": 0}\n{"a": 9, "label": 1}\n')
    rewritten = read_json(json_url, target="label", storage_options=so)[0]
    assert rewritten.name != listed.name
    assert rewritten.compute()[:, 0].tolist() == [8.0, 9.0]


def test_a_truncated_npy_upload_is_refused(s3: S3) -> None:
    data = _npy_bytes(np.arange(300.0).reshape(100, 3))
    fs = s3.filesystem()
    fs.pipe_file(s3.url("short.npy"), data[:-8])
    with pytest.raises(InputError, match=r"is truncated: its header says shape \(100, 3\)"):
        read_npy(s3.url("short.npy"), storage_options=s3.storage_options)
    fs.pipe_file(s3.url("whole.npy"), data)
    X, _ = read_npy(s3.url("whole.npy"), chunks=30, storage_options=s3.storage_options)
    np.testing.assert_array_equal(X.compute(), np.arange(300.0).reshape(100, 3), strict=True)


def test_a_password_holding_an_at_reads_and_is_shown_nowhere(s3: S3) -> None:
    secret = f"p@ss{uuid.uuid4().hex}"
    endpoint = {"client_kwargs": {"endpoint_url": s3.endpoint}}
    s3.filesystem().pipe_file(s3.url("t.jsonl"), b'{"a": 1.5, "label": 0}\n')
    url = s3.url("t.jsonl").replace("s3://", f"s3://{s3.key}:{secret}@")
    X, _ = read_json(url, target="label", storage_options=endpoint)
    texts = [repr(X), *map(str, X.__dask_graph__()), *map(str, X.__dask_graph__().layers)]
    assert not any(secret in t or "p@ss" in t for t in texts)
    assert X.compute().tolist() == [[1.5]]
    with pytest.raises(InputError) as info:
        read_json(url.replace("t.jsonl", "none.jsonl"), target="label", storage_options=endpoint)
    assert "p@ss" not in _messages(info.value)


# --------------------------------------------------------------------------------------------
# A search's refit on a table: its columns by name


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4)) * [1.0, 2.0, 3.0, 4.0] + [0.0, 1.0, 2.0, 3.0]
    return pd.DataFrame(X, columns=list("abcd")), (X[:, 3] > 3).astype(np.int64)


def _model(**kw: Any) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0, shuffle=False, **kw)


@pytest.mark.parametrize(
    ("estimator", "grid"),
    [
        (make_pipeline(dp.PCA(), _model()), {"pca__n_components": [2, 3]}),
        (make_pipeline(dp.StandardScaler(), dp.PCA(), _model()), {"pca__whiten": [False, True]}),
        (_model(), {"epochs": [1, 2]}),
    ],
)
def test_the_best_estimator_takes_a_table_s_columns_by_name(
    table: tuple[pd.DataFrame, np.ndarray], estimator: Any, grid: dict[str, Any], tmp_path: Path
) -> None:
    df, y = table
    Xd = dd.from_pandas(df, npartitions=5)
    yd = dd.from_pandas(pd.Series(y), npartitions=5)
    search = dp.GridSearchCV(estimator, grid, cv=3).fit(Xd, yd)
    best = search.best_estimator_
    assert list(best.feature_names_in_) == list("abcd")
    expected = np.asarray(search.predict(df))
    score = search.score(Xd, yd)
    assert search.score(Xd[list("dbca")], yd) == score
    dp.save(best, tmp_path / "best.skops")
    loaded = dp.load(tmp_path / "best.skops", allow_unsigned=True)
    shuffled = df[list("dbca")]
    for model in (best, loaded):
        np.testing.assert_array_equal(np.asarray(model.predict(shuffled)), expected)
        np.testing.assert_array_equal(np.asarray(model.predict(df)), expected)
        lazily = model.predict(dd.from_pandas(shuffled, npartitions=3))
        np.testing.assert_array_equal(np.asarray(lazily.compute()), expected)
    with pytest.raises(InputError, match="daskpar matches table columns by name"):
        loaded.predict(df.rename(columns={"a": "z"}))


# --------------------------------------------------------------------------------------------
# A search over a PCA step: a loop of Pipelines on the same folds, for generated cases


CHUNK = 30


def _rows(blocks: Any) -> np.ndarray:
    return np.concatenate([np.arange(b * CHUNK, (b + 1) * CHUNK) for b in sorted(blocks)])


@st.composite
def _pca_cases(draw: st.DrawFn) -> dict[str, Any]:
    n_blocks = draw(st.integers(4, 6))
    width = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_blocks * CHUNK, width)) * np.linspace(0.5, 3.0, width)
    X += np.arange(width)
    shape = draw(st.sampled_from(["full", "constant", "rank-deficient"]))
    if shape == "constant":
        X[:, 0] = 3.0
    elif shape == "rank-deficient":
        X[:, 1] = 2.0 * X[:, 0] - 1.0
    y = (X[:, -1] + rng.normal(size=len(X)) > np.median(X[:, -1])).astype(np.int64)
    n_components = draw(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(1, width),
                st.sampled_from([0.5, 0.8, 0.95]),
            ),
            min_size=1,
            max_size=3,
            unique_by=repr,
        )
    )
    leading = draw(st.sampled_from(["pca", "scaler-pca", "pca-scaler"]))
    by_blocks = draw(st.booleans())
    cv: Any = 3
    if by_blocks:  # explicit folds, as block numbers
        cv = [
            ([b for b in range(n_blocks) if b % 3 != j], [b for b in range(n_blocks) if b % 3 == j])
            for j in range(3)
        ]
    return {
        "X": X,
        "y": y,
        # Whitening divides by each kept variance: that of a null direction (a constant or
        # dependent column) is rounding, which two sums of the same rows in another order
        # round differently. So only full-rank data is whitened.
        "grid": {
            "pca__n_components": n_components,
            "pca__whiten": [False, True] if shape == "full" else [False],
        },
        "leading": leading,
        "cv": cv,
    }


def _pipe(leading: str) -> Pipeline:
    steps = {
        "pca": [dp.PCA()],
        "scaler-pca": [dp.StandardScaler(), dp.PCA()],
        "pca-scaler": [dp.PCA(), dp.MinMaxScaler()],
    }[leading]
    return make_pipeline(*steps, _model())


@pytest.mark.slow
@settings(max_examples=12)
@given(case=_pca_cases())
def test_pca_search_equals_a_loop_of_pipelines_for_generated_cases(case: dict[str, Any]) -> None:
    """Accuracy of every candidate and fold, exactly: the fitted PCAs agree to rounding
    (constant and dependent columns included: the null directions' basis may differ, but
    the rows have no part along them), and a class flips only for a row within rounding of
    the decision boundary."""
    X, y = case["X"], case["y"]
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    yd = da.from_array(y, chunks=CHUNK)
    pipe = _pipe(case["leading"])
    search = dp.GridSearchCV(pipe, case["grid"], cv=case["cv"], refit=False).fit(Xd, yd)
    scorer = get_scorer("accuracy")
    for c, params in enumerate(search.cv_results_["params"]):
        for k, (train, test) in enumerate(search.folds_):
            alone = (
                clone(pipe)
                .set_params(**params)
                .fit(Xd.blocks[sorted(train)], yd.blocks[sorted(train)])
            )
            rows = _rows(test)
            expected = scorer(alone[-1].estimator_, alone[:-1].transform(X[rows]), y[rows])
            assert search.cv_results_[f"split{k}_test_score"][c] == expected, (params, k)
