# ruff: noqa: F811  (the fixtures are imported from daskpar_s3, then named as arguments)
"""A credential planted in a URL shows nowhere: in no error (its text, its repr, and every
exception in its chain, causes and contexts), no warning and no log record.

Every reader (``read_csv``, ``read_json``, ``read_npy``, ``read_hdf5``, ``read_svmlight``,
``read_parquet``, ``read_zarr``, ``read_path``) and :func:`daskpar.load` is given a URL that
holds a secret: in a presigned URL's query (AWS's ``X-Amz-Signature``, ``X-Amz-Credential``
and ``X-Amz-Security-Token``, an Azure SAS's ``sig``, Google's ``X-Goog-Signature``), or as
the password of ``user:password@``. Then it is made to fail: no object there, an object of
another format, options that do not fit the data, a store it cannot reach, an object deleted
before the tasks read it.

The stores: fsspec's in-memory one (``memory://``, where a query is part of an object's name,
so the store's own errors quote it), and moto's S3 server on 127.0.0.1, reached as ``s3://``
(botocore quotes the URL of its request, percent-encoded) and as plain ``http://``. Generated
secrets hold ``/``, ``@``, ``%``, ``=`` and ``+``; each holds the word ``PLANTED``, which no
message may show.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import socket
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dask
import dask.array as da
import fsspec
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from daskpar_s3 import S3, new_prefix, s3_bucket, s3_server  # noqa: F401  (fixtures)
from daskpar_testing import everything_shown
from hypothesis import example, given, settings
from hypothesis import strategies as st

import daskpar as dp
from daskpar._io._remote import (
    StorageOptions,
    display_path,
    problem,
    raise_scrubbed,
    remote_location,
    scrubbed_warnings,
    store_errors,
    task_store_errors,
)
from daskpar.data import (
    read_csv,
    read_hdf5,
    read_json,
    read_npy,
    read_parquet,
    read_path,
    read_svmlight,
    read_zarr,
    write_zarr,
)
from daskpar.errors import (
    CheckpointError,
    DaskparError,
    InputError,
    PartitionError,
    UnsupportedEstimatorError,
    scrub,
)
from daskpar.persist import ModelFileError

#: In every planted secret; shown by nothing.
MARK = "PLANTED"
#: A presigned signature is hex or URL-safe base64, an AWS secret key holds "/" and "+"; "@",
#: "%" and "=" end or escape the parts of a URL.
ALPHABET = "abcXYZ0189/@%=+-_."
SECRETS = st.builds(
    lambda head, tail: f"{head}{MARK}{tail}",
    st.text(ALPHABET, min_size=1, max_size=10),
    st.text(ALPHABET, min_size=1, max_size=10),
)
#: A secret of every awkward character, for the tables of cases.
FIXED_SECRET = f"wJal/rXU@{MARK}%2Fb=MI+K7/@%=="


def _assert_hidden(secret: str, texts: list[str]) -> None:
    for text in texts:
        assert MARK not in text, text
        assert secret not in text, text
        assert quote(secret, safe="") not in text, text


# --------------------------------------------------------------------------------------------
# URLs: a secret in the query, or as the password


def _aws(url: str, secret: str) -> str:
    return (
        f"{url}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={secret}"
        f"&X-Amz-Date=20261207T000000Z&X-Amz-Security-Token={secret}&X-Amz-Signature={secret}"
    )


def _sas(url: str, secret: str) -> str:
    return f"{url}?sv=2022-11-02&sr=b&sig={secret}&se=2026-12-08"


def _goog(url: str, secret: str) -> str:
    return (
        f"{url}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential={secret}"
        f"&X-Goog-Signature={secret}"
    )


def _userinfo(url: str, secret: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://AKIDEXAMPLE:{secret}@{rest}"


#: How a URL carries the secret: name -> (the URL read, is the object stored under the URL
#: with its query, rather than without).
FORMS: dict[str, Callable[[str, str], str]] = {
    "aws-query": _aws,
    "sas-query": _sas,
    "goog-query": _goog,
    "userinfo": _userinfo,
}


def _stored_at(form: str, url: str, secret: str) -> str:
    """Where the object a URL names is, in a store that keeps a query in its names."""
    return url if form == "userinfo" else FORMS[form](url, secret)


# --------------------------------------------------------------------------------------------
# Readers: a valid file of each, and calls that fail


def _write_csv(path: Path) -> None:
    path.write_text("a,b,label\n1,2.5,0\n3,4.5,1\n5,6.5,0\n")


def _write_json(path: Path) -> None:
    path.write_text('{"a": 1, "label": 0}\n{"a": 2, "label": 1}\n{"a": 3, "label": 0}\n')


def _write_svmlight(path: Path) -> None:
    path.write_text("0 1:0.5\n1 2:1.5\n0 1:2.5 2:1\n")


def _write_npy(path: Path) -> None:
    np.save(path, np.arange(6.0).reshape(3, 2))


def _write_hdf5(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=np.ones((3, 2)))
        f.create_dataset("y", data=np.arange(3))


def _write_parquet(path: Path) -> None:
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "label": [0, 1, 0]}), path)


def _write_zarr(path: Path) -> None:
    write_zarr(str(path), da.ones((4, 2), chunks=2), da.arange(4, chunks=2))


def _write_model(path: Path) -> None:
    path.write_bytes(b"not a model file")


Call = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Reader:
    """A reader: the file it reads, how to call it, and how to call it with options that do
    not fit that file (None: no such call); ``lazy``: its tasks read the file again."""

    name: str
    file: str
    write: Callable[[Path], None]
    read: Call
    misfit: Call | None
    lazy: bool


READERS = [
    Reader(
        "read_csv",
        "t.csv",
        _write_csv,
        lambda u, so: read_csv(u, target="label", storage_options=so),
        lambda u, so: read_csv(u, target="nope", storage_options=so),
        lazy=False,  # dask's own tasks read it again: their errors are dask's
    ),
    Reader(
        "read_json",
        "t.jsonl",
        _write_json,
        lambda u, so: read_json(u, target="label", blocksize=None, storage_options=so),
        lambda u, so: read_json(u, target="nope", storage_options=so),
        lazy=True,
    ),
    Reader(
        "read_svmlight",
        "t.svm",
        _write_svmlight,
        lambda u, so: read_svmlight(u, storage_options=so),
        lambda u, so: read_svmlight(u, n_features=1, storage_options=so),
        lazy=True,
    ),
    Reader(
        "read_npy",
        "X.npy",
        _write_npy,
        lambda u, so: read_npy(u, storage_options=so),
        lambda u, so: read_npy(u, u, storage_options=so),  # a 2-D y
        lazy=True,
    ),
    Reader(
        "read_hdf5",
        "d.h5",
        _write_hdf5,
        lambda u, so: read_hdf5(u, storage_options=so),
        lambda u, so: read_hdf5(u, x="nope", storage_options=so),
        lazy=True,
    ),
    Reader(
        "read_parquet",
        "t.parquet",
        _write_parquet,
        lambda u, so: read_parquet(u, target="label", storage_options=so),
        lambda u, so: read_parquet(u, target="nope", storage_options=so),
        lazy=True,
    ),
    Reader(
        "read_zarr",
        "d.zarr",
        _write_zarr,
        lambda u, so: read_zarr(u, storage_options=so),
        lambda u, so: read_zarr(u, x="nope", storage_options=so),
        lazy=True,
    ),
    Reader(
        "read_path",
        "p.csv",
        _write_csv,
        lambda u, so: read_path(u, target="label", storage_options=so),
        lambda u, so: read_path(u, target="nope", storage_options=so),
        lazy=False,
    ),
    Reader(
        "load",
        "m.dp",
        _write_model,
        lambda u, so: dp.load(u, storage_options=so),
        None,
        lazy=False,
    ),
]
READER = {r.name: r for r in READERS}

#: Bytes that are no format at all (but start as a .npy header, to go past its magic).
GARBAGE = b"\x93NUMPY\x01\x00{not a header}\n\xff\xfe garbage, no format at all\n"


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A valid file (a folder, for zarr) of each reader: name -> local path."""
    root = tmp_path_factory.mktemp("valid")
    out = {}
    for reader in READERS:
        out[reader.name] = root / reader.file
        reader.write(out[reader.name])
    return out


def _upload(fs: Any, local: Path, url: str) -> None:
    """``local`` (a file, or a folder's files) stored at ``url`` of ``fs``."""
    if local.is_dir():
        for f in sorted(local.rglob("*")):
            if f.is_file():
                fs.pipe_file(f"{url}/{f.relative_to(local).as_posix()}", f.read_bytes())
    else:
        fs.pipe_file(url, local.read_bytes())


def _put_garbage(fs: Any, reader: Reader, url: str) -> None:
    if reader.name == "read_zarr":  # a store whose metadata is no JSON
        fs.pipe_file(f"{url}/zarr.json", GARBAGE)
    else:
        fs.pipe_file(url, GARBAGE)


# --------------------------------------------------------------------------------------------
# What a failure shows


class _Records(logging.Handler):
    """Every log record of INFO and above, as a handler would write it (with its traceback);
    moto's server (the test's store, not daskpar's client) aside."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] not in ("werkzeug", "moto"):
            self.texts.append(logging.Formatter().format(record))


@contextlib.contextmanager
def _watched() -> Iterator[list[str]]:
    """The warnings and log records of the block, as text (filled in on the way out)."""
    shown: list[str] = []
    root = logging.getLogger()
    handler, level = _Records(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield shown
        shown += [f"{w.category.__name__}: {w.message} ({w.filename})" for w in caught]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        shown += handler.texts


def _fails_without_showing(secret: str, attempt: Callable[[], Any]) -> DaskparError:
    """Run ``attempt``, which must fail with a daskpar error; nothing it shows holds the
    secret."""
    with _watched() as shown, pytest.raises(DaskparError) as info:
        attempt()
    _assert_hidden(secret, [everything_shown(info.value), *shown])
    return info.value


def _attempt(
    reader: Reader, mode: str, url: str, options: Any, remove: Callable[[], None]
) -> Callable[[], Any]:
    """The call of ``reader`` that ``mode`` makes fail."""
    if mode == "misfit":
        assert reader.misfit is not None
        misfit = reader.misfit
        return lambda: misfit(url, options)
    if mode == "deleted":

        def read_then_compute() -> None:
            arrays = reader.read(url, options)
            remove()
            dask.compute(*[a for a in arrays if a is not None])

        return read_then_compute
    return lambda: reader.read(url, options)


def _cases(modes: tuple[str, ...], forms: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [
        (r.name, mode, form)
        for r in READERS
        for mode in modes
        for form in forms
        if (mode != "misfit" or r.misfit is not None) and (mode != "deleted" or r.lazy)
    ]


MODES = ("missing", "wrong", "misfit", "deleted")


# --------------------------------------------------------------------------------------------
# An in-memory store, where a URL's query is part of its objects' names


def _memory_case(
    valid: dict[str, Path], secret: str, reader: Reader, mode: str, form: str
) -> DaskparError:
    fs = fsspec.filesystem("memory")
    host = f"h{uuid.uuid4().hex[:12]}"
    plain = f"memory://{host}/{reader.file}"
    url = FORMS[form](plain, secret)
    stored = _stored_at(form, plain, secret)
    if mode == "wrong":
        _put_garbage(fs, reader, stored)
    elif mode != "missing":
        _upload(fs, valid[reader.name], stored)
    try:
        attempt = _attempt(reader, mode, url, None, lambda: fs.rm(f"/{host}", recursive=True))
        return _fails_without_showing(secret, attempt)
    finally:
        if fs.exists(f"/{host}"):
            fs.rm(f"/{host}", recursive=True)


@pytest.mark.parametrize(("reader", "mode", "form"), _cases(MODES, tuple(FORMS)))
def test_no_reader_shows_a_planted_secret_when_it_fails(
    valid: dict[str, Path], reader: str, mode: str, form: str
) -> None:
    error = _memory_case(valid, FIXED_SECRET, READER[reader], mode, form)
    if mode == "deleted" and form != "userinfo":
        assert isinstance(error, PartitionError)  # raised by a task, from the store's error


@pytest.mark.parametrize(("reader", "mode"), [c[:2] for c in _cases(MODES, ("userinfo",))])
def test_a_password_without_a_slash_reaches_the_store_and_shows_nowhere(
    valid: dict[str, Path], reader: str, mode: str
) -> None:
    """(A password holding a '/' is refused before anything is read.)"""
    secret = FIXED_SECRET.replace("/", "")
    error = _memory_case(valid, secret, READER[reader], mode, "userinfo")
    if mode == "deleted":
        assert isinstance(error, PartitionError)


@settings(max_examples=60)
@given(
    secret=SECRETS,
    reader=st.sampled_from([r.name for r in READERS]),
    mode=st.sampled_from(MODES),
    form=st.sampled_from(tuple(FORMS)),
)
@example(secret=f"a/b@{MARK}%26x=y", reader="read_npy", mode="missing", form="aws-query")
@example(secret=f"%40{MARK}@a:/b", reader="read_json", mode="deleted", form="userinfo")
def test_generated_secrets_show_nowhere(
    valid: dict[str, Path], secret: str, reader: str, mode: str, form: str
) -> None:
    r = READER[reader]
    if (mode == "misfit" and r.misfit is None) or (mode == "deleted" and not r.lazy):
        mode = "missing"
    _memory_case(valid, secret, r, mode, form)


# --------------------------------------------------------------------------------------------
# S3 (moto on 127.0.0.1): as s3:// with the query in the key, and over plain http://


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: a connection to it is refused


@pytest.fixture(scope="module")
def s3_place(s3_bucket: S3) -> Iterator[S3]:
    """A prefix of the session's bucket for this module's cases, removed at its end (each
    case works in a folder of its own in it: no removal per case)."""
    with new_prefix(s3_bucket, "secrets") as where:
        yield where


#: On S3: an object that is not there, or of no format, the URL holding the secret in its
#: query or as its password; and a server that cannot be reached. (What the options do not
#: fit, and objects deleted under the tasks, are the in-memory store's cases above.)
S3_CASES = [
    *_cases(("missing", "wrong"), ("aws-query", "userinfo")),
    *_cases(("unreachable",), ("aws-query",)),
]


@pytest.mark.parametrize(("reader", "mode", "form"), S3_CASES)
def test_no_reader_shows_a_planted_secret_on_s3(
    s3_place: S3, valid: dict[str, Path], reader: str, mode: str, form: str
) -> None:
    r = READER[reader]
    # A password holding a '/' is refused before anything is read (see the cases above);
    # an '@', a '%2F' reach the store.
    slash = "" if form == "userinfo" else "/"
    secret = f"s3{slash}{MARK}@x%2F=+{uuid.uuid4().hex[:8]}"
    plain = s3_place.url(uuid.uuid4().hex[:12], r.file)
    url = FORMS[form](plain, secret)
    if mode == "wrong":
        _put_garbage(s3_place.filesystem(), r, _stored_at(form, plain, secret))
    endpoint = s3_place.endpoint
    if mode == "unreachable":
        endpoint = f"http://127.0.0.1:{_closed_port()}"
    options: dict[str, Any] = {
        "client_kwargs": {"endpoint_url": endpoint},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
    }
    if form != "userinfo":  # the URL holds none: the bucket's own
        options |= {"key": s3_place.key, "secret": s3_place.secret}
    error = _fails_without_showing(secret, _attempt(r, mode, url, options, lambda: None))
    assert "cannot be told apart" not in str(error)  # the store was asked


@pytest.mark.parametrize(("reader", "mode", "form"), _cases(("missing", "wrong"), ("goog-query",)))
def test_no_reader_shows_a_planted_secret_over_http(
    s3_place: S3, valid: dict[str, Path], reader: str, mode: str, form: str
) -> None:
    """The bucket's objects over plain HTTP (moto serves them to anyone), a signed query
    after each URL: the HTTP file system's errors quote the URL of the request."""
    r = READER[reader]
    secret = f"http/{MARK}@x%2F=+{uuid.uuid4().hex[:8]}"
    plain = s3_place.url(uuid.uuid4().hex[:12], r.file)
    if mode == "wrong":
        _put_garbage(s3_place.filesystem(), r, plain)
    url = FORMS[form](f"{s3_place.endpoint}/{plain.removeprefix('s3://')}", secret)
    _fails_without_showing(secret, _attempt(r, mode, url, None, lambda: None))


# --------------------------------------------------------------------------------------------
# The pieces: scrub, daskpar's errors, store_errors


def _quoted_forms(url: str) -> list[str]:
    """``url`` as messages quote it: as it is, in a repr, percent-encoded once and twice (an
    HTTP request's path, a URL inside another's query), and with only its path encoded (as
    botocore writes an object's key into the URL of its request)."""
    rest = url.partition("://")[2]
    return [
        url,
        repr(url),
        f"cannot read {url}: 403",
        quote(url, safe=""),
        quote(quote(url, safe=""), safe=""),
        f'Could not connect to the endpoint URL: "http://127.0.0.1:9/{quote(rest, safe="/")}"',
    ]


@settings(max_examples=200)
@given(secret=SECRETS, form=st.sampled_from(["aws-query", "sas-query", "goog-query"]))
@example(secret=f"{MARK}%26sig=x", form="sas-query")
@example(secret=f"@{MARK}/", form="aws-query")
def test_scrub_hides_a_query_s_secret_however_it_is_quoted(secret: str, form: str) -> None:
    url = FORMS[form]("s3://bucket/data/x.csv", secret)
    for text in _quoted_forms(url):
        _assert_hidden(secret, [scrub(text), display_path(text)])


@settings(max_examples=200)
@given(secret=SECRETS)
@example(secret=f"a/b@{MARK}@c")
def test_scrub_hides_a_password_and_a_signature_together(secret: str) -> None:
    url = _aws(_userinfo("s3://bucket/data/x.csv", secret), secret)
    for text in (url, repr(url), f"cannot read {url!r}: denied"):
        shown = scrub(text)
        _assert_hidden(secret, [shown])
        assert "s3://" in shown


def test_display_path_keeps_what_is_no_credential() -> None:
    url = _aws("https://bucket.s3.amazonaws.com/data/x.csv", "SIG")
    assert display_path(url) == (
        "https://bucket.s3.amazonaws.com/data/x.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=***&X-Amz-Date=20261207T000000Z&X-Amz-Security-Token=***"
        "&X-Amz-Signature=***"
    )
    assert display_path(Path("/data/x.csv")) == "/data/x.csv"
    assert display_path("s3://KEY:SE%2FCRET@bucket/x.csv") == "s3://bucket/x.csv"
    assert display_path("gs://b/x?X-Goog-Signature=ab%3D%3D&alt=media") == (
        "gs://b/x?X-Goog-Signature=***&alt=media"
    )


ERRORS = [
    DaskparError,
    InputError,
    PartitionError,
    CheckpointError,
    UnsupportedEstimatorError,
    ModelFileError,
]


@settings(max_examples=50)
@given(secret=SECRETS, error=st.sampled_from(ERRORS))
def test_every_daskpar_error_scrubs_its_message(secret: str, error: type[DaskparError]) -> None:
    """Whatever code raises it, with whatever URL formatted into its message; and again
    after a trip through pickle (from a worker)."""
    url = _sas(_userinfo("abfs://container/x.npy", secret), secret)
    raised = error(f"cannot read {url!r}", url)
    back = pickle.loads(pickle.dumps(raised))
    for e in (raised, back):
        _assert_hidden(secret, [str(e), repr(e), repr(e.args)])
        assert "abfs://container/x.npy?sv=2022-11-02&sr=b&sig=***" in str(e)
    assert type(back) is error
    assert back.args == raised.args


class _QuotesItsUrl(Exception):
    """A library's exception whose text comes from an attribute, as aiohttp's do."""

    def __init__(self, url: str) -> None:
        super().__init__("request failed")
        self.url = url

    def __str__(self) -> str:
        return f"request failed: {self.url}"


def _no_chain(error: BaseException) -> None:
    """Raised from nothing, and with nothing as its context either: nothing but its own
    message to print."""
    assert error.__cause__ is None
    assert error.__context__ is None
    assert error.__suppress_context__


def test_store_errors_say_what_failed_and_chain_only_what_shows_no_credential() -> None:
    secret = f"x/{MARK}=="
    url = _aws("s3://bucket/x.npy", secret)
    options = StorageOptions({"secret": f"opt-{MARK}"})
    shown = display_path(url)

    # A missing object: the URL scrubbed, and not the library's error (it quotes the URL).
    with (
        pytest.raises(InputError) as info,
        store_errors("read_npy", f"read {shown!r}", options, missing=url),
    ):
        raise FileNotFoundError(url.removeprefix("s3://"))
    assert str(info.value) == f"read_npy: no such file: {shown!r}."
    _no_chain(info.value)
    _assert_hidden(secret, [everything_shown(info.value)])

    # Any other error whose text quotes the URL: its type and scrubbed text, the hint; not
    # chained, even where the URL is in an attribute that only its __str__ shows.
    with (
        pytest.raises(InputError) as info,
        store_errors("read_npy", f"read {shown!r}", options),
    ):
        raise _QuotesItsUrl(f"http://127.0.0.1:9/bucket/{quote(url[5:], safe='/')}?sig={secret}")
    message = str(info.value)
    assert message.startswith(
        f"read_npy: cannot read {shown!r}: _QuotesItsUrl: request failed: "
        "http://127.0.0.1:9/bucket/bucket/x.npy%3FX-Amz-Algorithm%3DAWS4-HMAC-SHA256%26"
        "X-Amz-Credential%3D***"
    )
    assert message.endswith(
        " Check the URL, and the credentials in storage_options or the environment."
    )
    _no_chain(info.value)
    _assert_hidden(secret, [everything_shown(info.value)])

    # The options' own credentials too, in a task's error, with its hint.
    with (
        pytest.raises(PartitionError) as in_task,
        task_store_errors("read_hdf5", "read dataset 'X' of 's3://b/d.h5'", options),
    ):
        raise PermissionError(f"denied to opt-{MARK}")
    assert str(in_task.value) == (
        "read_hdf5: cannot read dataset 'X' of 's3://b/d.h5': PermissionError: denied to ***. "
        "Check that it still exists, and the credentials in storage_options or the workers' "
        "environment."
    )
    _no_chain(in_task.value)
    _assert_hidden(f"opt-{MARK}", [everything_shown(in_task.value)])

    # A secret deeper in the library's own chain: not chained either.
    with (
        pytest.raises(InputError) as info,
        store_errors("read_npy", f"read {shown!r}", options),
    ):
        _raise_from(RuntimeError("the request failed"), OSError(f"GET {url} returned 403"))
    assert "RuntimeError: the request failed" in str(info.value)
    _no_chain(info.value)
    _assert_hidden(secret, [everything_shown(info.value)])

    # An error that shows no credential stays in the chain as it is, the cause.
    original = OSError("the network is down")
    with (
        pytest.raises(InputError) as info,
        store_errors("read_hdf5", f"open {shown!r} as HDF5", None, hint=None),
    ):
        raise original
    assert str(info.value) == (
        f"read_hdf5: cannot open {shown!r} as HDF5: OSError: the network is down"
    )
    assert info.value.__cause__ is original
    assert "the network is down" in "".join(traceback.format_exception(info.value))

    # daskpar's own errors pass as they are; a local file's errors in a task too.
    own = InputError("read_npy: not a .npy file")
    with pytest.raises(InputError) as info, store_errors("read_npy", "read 'x'", options):
        raise own
    assert info.value is own
    with pytest.raises(KeyError), task_store_errors("read_hdf5", "read 'x'", None):
        raise KeyError("X")


def _raise_from(exc: BaseException, cause: BaseException) -> None:
    raise exc from cause


def _wrapped(exc: BaseException, options: StorageOptions | None = None) -> InputError:
    """The error :func:`raise_scrubbed` raises for ``exc``, raised in its ``except`` block."""
    try:
        try:
            raise exc
        except Exception as caught:
            raise_scrubbed(InputError(f"cannot read: {problem(caught, options)}"), caught, options)
    except InputError as error:
        return error
    raise AssertionError("raise_scrubbed did not raise")


def test_raise_scrubbed_chains_only_an_error_that_shows_no_credential() -> None:
    clean = OSError("disk full")
    error = _wrapped(clean)
    assert error.__cause__ is clean
    assert str(error) == "cannot read: OSError: disk full"

    error = _wrapped(ValueError("bad header in s3://KEY:hunter2@bucket/x.parquet"))
    assert str(error) == "cannot read: ValueError: bad header in s3://bucket/x.parquet"
    _no_chain(error)
    assert "hunter2" not in everything_shown(error)

    # Only in its args (a repr shows them), or a note.
    for exc in (KeyError("s3://KEY:hunter2@b/x"), _with_note("see s3://KEY:hunter2@b/x")):
        error = _wrapped(exc)
        _no_chain(error)
        assert "hunter2" not in everything_shown(error)

    # An option's secret, unseen in any URL.
    error = _wrapped(OSError("signature of hunter2 refused"), StorageOptions({"token": "hunter2"}))
    assert str(error) == "cannot read: OSError: signature of *** refused"
    _no_chain(error)


def _with_note(note: str) -> Exception:
    exc = OSError("request failed")
    exc.add_note(note)
    return exc


# --------------------------------------------------------------------------------------------
# scrub, case by case


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # A user and password, in a URL alone and inside a message.
        ("s3://KEY:SECRET@bucket/x.csv", "s3://bucket/x.csv"),
        (
            "cannot read 's3://KEY:SECRET@bucket/x.csv': denied",
            "cannot read 's3://bucket/x.csv': denied",
        ),
        ('"s3://KEY:SECRET@bucket/x.csv"', '"s3://bucket/x.csv"'),
        ("s3://USER@bucket/x.csv", "s3://bucket/x.csv"),
        # A password holding '/' (AWS secret keys do), '@', ':', '%2F'.
        ("s3://KEY:wJal/rXUt/nFEMI@bucket/x.csv", "s3://bucket/x.csv"),
        ("s3://KEY:p@ss@bucket/x.csv", "s3://bucket/x.csv"),
        ("s3://KEY:a/b@c@bucket/x.csv", "s3://bucket/x.csv"),
        ("s3://KEY:a:b@bucket/x.csv", "s3://bucket/x.csv"),
        ("s3://KEY:SE%2FCR%40ET@bucket/x.csv", "s3://bucket/x.csv"),
        ("s3://KEY:@SECRET/@bucket/x.csv", "s3://bucket/x.csv"),
        # A password of digits then '/': no port in a text shown, hidden.
        ("s3://KEY:12/SECRET@bucket/x.csv", "s3://bucket/x.csv"),
        # Two URLs in one message, each cleaned.
        (
            "s3://A:SECRET1@b/x and gs://B:SECRET2@c/y",
            "s3://b/x and gs://c/y",
        ),
        # No credential: left as it is (an '@' in the path, a host and port, an e-mail).
        ("http://host:9000/a@b.npy", "http://host:9000/a@b.npy"),
        ("s3://bucket/data@2026/x.csv", "s3://bucket/data@2026/x.csv"),
        ("/data/a@b:c.csv", "/data/a@b:c.csv"),
        ("mail me@example.com at 10:30", "mail me@example.com at 10:30"),
        ("https://host/x.csv?version=2&alt=media", "https://host/x.csv?version=2&alt=media"),
        # A user and password before a host and port, the path holding an '@'.
        ("http://u:SECRET@host:9000/a@b.npy", "http://b.npy"),
        ("http://u:SECRET@host:9000/x.npy", "http://host:9000/x.npy"),
        # Presigned URLs: the values of their credentials hidden, the rest kept.
        (
            "https://b.s3.amazonaws.com/x?X-Amz-Credential=AKID%2F20261207%2Fus-east-1"
            "&X-Amz-Signature=f00d&X-Amz-Security-Token=SECRET%2B%3D&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/x?X-Amz-Credential=***&X-Amz-Signature=***"
            "&X-Amz-Security-Token=***&X-Amz-Expires=60",
        ),
        (
            "https://a.blob.core.windows.net/c/x?sv=1&sig=ab%2Bcd%3D&se=2",
            "https://a.blob.core.windows.net/c/x?sv=1&sig=***&se=2",
        ),
        ("https://h/x?access_token=SECRET#frag", "https://h/x?access_token=***#frag"),
        ("https://h/x?sig=SECRET@evil/x", "https://h/x?sig=***"),
        # The query percent-encoded (a URL inside another's query), once and twice.
        ("https%3A%2F%2Fh%2Fx%3Fsig%3DSECRET%26a%3D1", "https%3A%2F%2Fh%2Fx%3Fsig%3D***"),
        ("x%253Fsig%253DSECRET%2526a%253D1", "x%253Fsig%253D***"),
        ("?a=1%26X-Amz-Signature%3DSECRET", "?a=1%26X-Amz-Signature%3D***"),
        # Both at once: a password and a signature holding an '@'.
        ("s3://K:SE/CRET@b/x?X-Amz-Signature=S@G", "s3://b/x?X-Amz-Signature=***"),
    ],
)
def test_scrub(text: str, shown: str) -> None:
    assert scrub(text) == shown
    assert "SECRET" not in scrub(text)
    assert scrub(scrub(text)) == scrub(text)


@pytest.mark.parametrize(
    "url",
    [
        "s3://KEY:SE/CRET@bucket/x.npy",
        "s3://KEY:@SECRET/@bucket/x.npy",
        "s3://KEY:SECRET@bucket/a@b.npy",
        "s3://KEY:12/SECRET@bucket/x.npy",
    ],
)
def test_an_ambiguous_password_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(InputError, match="cannot be told apart") as info:
        read_npy(url)
    assert "SECRET" not in everything_shown(info.value)


def test_a_password_percent_encoded_is_read_as_the_store_s_credentials() -> None:
    url, options = remote_location("s3://KEY:SE%2FCR%40ET@bucket/x.npy", None, "read_npy")
    assert url == "s3://bucket/x.npy"
    assert options.options == {"key": "KEY", "secret": "SE/CR@ET"}
    assert "SE/CR@ET" not in repr(options)


def test_a_store_library_s_warnings_are_issued_again_scrubbed() -> None:
    url = "s3://KEY:SECRET@bucket/x.zarr?X-Amz-Signature=SIG"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with scrubbed_warnings(None):
            warnings.warn(f"both metadata exist at {url}", FutureWarning, stacklevel=1)
    assert [(w.category, str(w.message)) for w in caught] == [
        (FutureWarning, "both metadata exist at s3://bucket/x.zarr?X-Amz-Signature=***")
    ]
    # The filters in force apply to them: an "error" one raises, with the scrubbed text.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FutureWarning) as info, scrubbed_warnings(None):
            warnings.warn(f"at {url}", FutureWarning, stacklevel=1)
    assert "SECRET" not in everything_shown(info.value)
    assert "SIG" not in str(info.value)
