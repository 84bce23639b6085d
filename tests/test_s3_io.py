# ruff: noqa: F811  (the fixtures are imported from daskpar_s3, then named as arguments)
"""The file readers on S3: read_json, read_npy, read_hdf5 and read_svmlight, and the CLI.

The S3 endpoint is moto's server on 127.0.0.1 (:mod:`daskpar_s3`), spoken to through s3fs
as AWS would be. Every reader reads a file from the bucket exactly as it reads the same
file from a local disk (the same blocks, the same values, bit for bit); a file rewritten
in place gets new task keys; and a secret planted in ``storage_options`` reaches no task
key, layer name or error message. The command line then makes data in the bucket and
trains from it with its checkpoint and report there, its credentials from the environment.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from daskpar_s3 import S3, s3, s3_bucket, s3_server  # noqa: F401  (fixtures)
from daskpar_testing import invoke, one_line_error, succeeded
from sklearn.datasets import dump_svmlight_file

from daskpar._io import read_json
from daskpar._io.hdf5 import read_hdf5
from daskpar._io.npy import read_npy
from daskpar._io.svmlight import read_svmlight
from daskpar.data import read_path
from daskpar.errors import DaskparError, InputError

N_ROWS = 1500


def _put(s3: S3, *local: Path) -> dict[str, str]:
    """``local`` files uploaded to ``s3``'s prefix, at once: name -> URL."""
    urls = {path.name: s3.url(path.name) for path in local}
    s3.filesystem().put([str(p) for p in local], [urls[p.name] for p in local])
    return urls


def _computed(arrays: tuple[Any, ...]) -> list[Any]:
    out = []
    for a in dask.compute(*arrays):
        out.append(a.toarray() if sp.issparse(a) else np.asarray(a))
    return out


def _assert_same(remote: tuple[Any, ...], local: tuple[Any, ...]) -> None:
    """The same blocks and the same values, exactly (NaN where NaN)."""
    assert [a.chunks for a in remote] == [a.chunks for a in local]
    assert [a.dtype for a in remote] == [a.dtype for a in local]
    for got, expected in zip(_computed(remote), _computed(local), strict=True):
        np.testing.assert_array_equal(got, expected, strict=True)


# --------------------------------------------------------------------------------------------
# Files: one of each format, written locally


def _json_lines(rows: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(rows):
        record: dict[str, Any] = {"a": float(rng.normal()), "label": ["cat", "dog"][i % 2]}
        if i % 7:
            record["b"] = int(rng.integers(-50, 50))  # missing from every seventh line
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def _svmlight_bytes(rows: int, seed: int = 0) -> bytes:
    X = sp.random(rows, 30, density=0.1, format="csr", random_state=seed)
    out = io.BytesIO()
    dump_svmlight_file(X, np.arange(rows) % 3, out, zero_based=False)
    return out.getvalue()


def _write_hdf5(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=X, chunks=(100, X.shape[1]))
        f.create_dataset("y", data=y)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A file of every format (and variants: compressed, Fortran order, several files)."""
    root = tmp_path_factory.mktemp("files")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=N_ROWS)
    np.save(root / "X.npy", X)
    np.save(root / "y.npy", y)
    np.save(root / "F.npy", np.asfortranarray(rng.normal(size=(N_ROWS, 4))))
    _write_hdf5(root / "d.h5", X, y)
    text = _json_lines(N_ROWS)
    (root / "t.jsonl").write_text(text)
    lines = text.splitlines(keepends=True)
    (root / "part-0.jsonl").write_text("".join(lines[:700]))
    (root / "part-1.jsonl").write_text("".join(lines[700:]))
    (root / "z.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    full = pd.DataFrame(X, columns=list("abcde")).assign(label=y)
    full.to_json(root / "full.jsonl", orient="records", lines=True)
    svm = _svmlight_bytes(N_ROWS)
    (root / "t.svm").write_bytes(svm)
    (root / "z.svm.gz").write_bytes(gzip.compress(svm))
    return {p.name: p for p in root.iterdir()}


@pytest.fixture(scope="module")
def uploaded(s3_bucket: S3, files: dict[str, Path]) -> Iterator[dict[str, str]]:
    """Every file of :func:`files`, uploaded once for the module's tests, which only read
    them: name -> URL. (A test that changes files uploads its own, to its ``s3`` prefix.)"""
    where = S3(s3_bucket.endpoint, s3_bucket.bucket, f"m-{uuid.uuid4().hex[:12]}")
    try:
        yield _put(where, *files.values())
    finally:
        where.filesystem().rm(where.url(), recursive=True)


# --------------------------------------------------------------------------------------------
# From S3 exactly as from a local disk


def test_read_json_from_s3_equals_local(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str]
) -> None:
    so = s3.storage_options
    for name, blocksize in (("t.jsonl", 9000), ("t.jsonl", "auto"), ("z.jsonl.gz", "auto")):
        local = read_json(files[name], target="label", blocksize=blocksize)
        remote = read_json(uploaded[name], target="label", blocksize=blocksize, storage_options=so)
        if blocksize == 9000:
            assert remote[0].numblocks[0] > 1  # cut into byte ranges
        _assert_same(remote, local)
    # A pattern of files, in sorted order, and the table itself.
    local = read_json(str(files["t.jsonl"].parent / "part-*.jsonl"), target="label")
    pattern = uploaded["part-0.jsonl"].replace("part-0.jsonl", "part-*.jsonl")
    remote = read_json(pattern, target="label", storage_options=so)
    _assert_same(remote, local)
    Xl, yl = read_json(files["t.jsonl"], target="label", blocksize=9000, as_frame=True)
    Xr, yr = read_json(
        uploaded["t.jsonl"], target="label", blocksize=9000, as_frame=True, storage_options=so
    )
    assert Xr.npartitions == Xl.npartitions
    pd.testing.assert_frame_equal(Xr.compute(), Xl.compute())
    pd.testing.assert_series_equal(yr.compute(), yl.compute())


def test_read_npy_from_s3_equals_local(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str]
) -> None:
    so = s3.storage_options
    local = read_npy(files["X.npy"], files["y.npy"], chunks=400)
    remote = read_npy(uploaded["X.npy"], uploaded["y.npy"], chunks=400, storage_options=so)
    _assert_same(remote, local)
    # Fortran order: each column read by its own byte range.
    Xf, _ = read_npy(uploaded["F.npy"], chunks=333, storage_options=so)
    _assert_same((Xf,), (read_npy(files["F.npy"], chunks=333)[0],))
    # Any slice of the rows: only the rows asked for are read.
    np.testing.assert_array_equal(
        Xf[::-3][5:40].compute(), np.load(files["F.npy"])[::-3][5:40], strict=True
    )


def test_read_hdf5_from_s3_equals_local(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str]
) -> None:
    so = s3.storage_options
    _assert_same(read_hdf5(uploaded["d.h5"], storage_options=so), read_hdf5(files["d.h5"]))
    _assert_same(
        read_hdf5(uploaded["d.h5"], chunks=250, storage_options=so),
        read_hdf5(files["d.h5"], chunks=250),
    )


def test_read_svmlight_from_s3_equals_local(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str]
) -> None:
    so = s3.storage_options
    local = read_svmlight(files["t.svm"], blocksize=5000)
    remote = read_svmlight(uploaded["t.svm"], blocksize=5000, storage_options=so)
    assert remote[0].numblocks[0] > 1
    _assert_same(remote, local)
    _assert_same(
        read_svmlight(uploaded["z.svm.gz"], storage_options=so), read_svmlight(files["z.svm.gz"])
    )
    assert sp.issparse(remote[0].blocks[0].compute())


def test_read_path_reads_every_format_from_s3(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str]
) -> None:
    so = s3.storage_options
    cases: list[tuple[str, dict[str, Any]]] = [
        ("t.jsonl", {"target": "label"}),
        ("X.npy", {"y": uploaded["y.npy"]}),
        ("d.h5", {}),
        ("t.svm", {}),
    ]
    for name, kwargs in cases:
        local_kwargs = {**kwargs, "y": files["y.npy"]} if name == "X.npy" else kwargs
        _assert_same(
            read_path(uploaded[name], storage_options=so, **kwargs),
            read_path(files[name], **local_kwargs),
        )


# --------------------------------------------------------------------------------------------
# A file rewritten in place: new keys


def _same_size_rewrite(data: bytes) -> bytes:
    """``data`` with one digit changed: the same size, other content."""
    at = next(i for i in range(len(data) // 2, len(data)) if data[i : i + 1].isdigit())
    digit = b"7" if data[at : at + 1] != b"7" else b"3"
    return data[:at] + digit + data[at + 1 :]


def test_a_file_rewritten_in_place_gets_new_keys(s3: S3, files: dict[str, Path]) -> None:
    so = s3.storage_options
    uploaded = _put(s3, *(files[n] for n in ("t.jsonl", "X.npy", "d.h5", "t.svm")))
    readers: dict[str, Callable[[str], Any]] = {
        "t.jsonl": lambda url: read_json(url, target="label", storage_options=so)[0],
        "X.npy": lambda url: read_npy(url, storage_options=so)[0],
        "d.h5": lambda url: read_hdf5(url, storage_options=so)[0],
        "t.svm": lambda url: read_svmlight(url, storage_options=so)[0],
    }
    fs = s3.filesystem()
    for name, read in readers.items():
        url = uploaded[name]
        before = read(url)
        assert read(url).name == before.name  # the same object: the same keys
        data = files[name].read_bytes()
        if name == "d.h5":  # the same layout, other values
            changed = files[name].with_name("changed.h5")
            X = np.load(files["X.npy"])
            _write_hdf5(changed, X + 1, np.load(files["y.npy"]))
            new = changed.read_bytes()
        elif name == "X.npy":
            new = data[:-4] + np.float32(42.0).tobytes()  # the last value
        else:
            new = _same_size_rewrite(data)
        assert len(new) == len(data)
        assert new != data
        fs.pipe_file(url, new)
        after = read(url)
        assert after.name != before.name, name
    assert read_npy(uploaded["X.npy"], storage_options=so)[0][-1, -1].compute() == 42.0


# --------------------------------------------------------------------------------------------
# Credentials: in no key, name or message


def test_a_planted_secret_appears_in_no_key_name_or_error(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str]
) -> None:
    mine = _put(s3, *(files[n] for n in ("t.jsonl", "X.npy", "d.h5", "t.svm")))
    secret = f"SeCrEt-{uuid.uuid4().hex}"  # made at run time: in no source file either
    options = s3.with_secret(secret).storage_options
    keys: list[str] = []
    read: list[tuple[Any, ...]] = [
        read_json(uploaded["t.jsonl"], target="label", blocksize=9000, storage_options=options),
        read_json(uploaded["t.jsonl"], target="label", as_frame=True, storage_options=options),
        read_npy(uploaded["X.npy"], uploaded["y.npy"], storage_options=options),
        read_hdf5(uploaded["d.h5"], storage_options=options),
        read_svmlight(uploaded["t.svm"], blocksize=5000, storage_options=options),
        read_path(uploaded["t.svm"], storage_options=options),
    ]
    for arrays in read:
        for a in arrays:
            graph = a.__dask_graph__()
            keys += [str(k) for k in graph]
            keys += [str(name) for name in getattr(graph, "layers", {})]
            keys.append(repr(a))
        dask.compute(*arrays)  # the options reach the tasks: they read
    assert len(keys) > 50
    messages: list[str] = []
    in_url = s3.url("none.jsonl").replace("s3://", f"s3://{s3.key}:{secret}@")
    endpoint = {"client_kwargs": {"endpoint_url": s3.endpoint}}
    attempts: list[Callable[[], Any]] = [
        lambda: read_json(s3.url("none.jsonl"), target="label", storage_options=options),
        lambda: read_json(in_url, target="label", storage_options=endpoint),
        lambda: read_npy(s3.url("none.npy"), storage_options=options),
        lambda: read_npy(uploaded["t.jsonl"], storage_options=options),  # not .npy
        lambda: read_hdf5(s3.url("none.h5"), storage_options=options),
        lambda: read_hdf5(uploaded["t.svm"], storage_options=options),  # not HDF5
        lambda: read_svmlight(s3.url("none.svm"), storage_options=options),
        lambda: read_svmlight(s3.url("*.nothing"), storage_options=options),
        lambda: read_svmlight(s3.url(), storage_options=options),  # a folder
    ]
    # Read, then deleted: the tasks' errors.
    fs = s3.filesystem()
    lazy = [
        read_json(mine["t.jsonl"], target="label", storage_options=options)[0],
        read_npy(mine["X.npy"], storage_options=options)[0],
        read_hdf5(mine["d.h5"], storage_options=options)[0],
        read_svmlight(mine["t.svm"], storage_options=options)[0],
    ]
    fs.rm(list(mine.values()))
    attempts += [lambda a=a: a.compute() for a in lazy]  # type: ignore[misc]
    for attempt in attempts:
        with pytest.raises(DaskparError) as info:
            attempt()
        exc: BaseException | None = info.value
        while exc is not None:  # the message and every exception it was raised from
            messages.append(f"{type(exc).__name__}: {exc!r} {exc}")
            exc = exc.__cause__ or exc.__context__
    assert sum(isinstance(e, str) and "PartitionError" in e for e in messages) >= 4
    for where, text in {"keys and names": keys, "error messages": messages}.items():
        assert not any(secret in t for t in text), f"the secret is in the {where}"
    assert s3.url("none.jsonl") in "\n".join(messages)  # shown without the secret


def test_storage_options_must_be_a_dict(s3: S3, uploaded: dict[str, str]) -> None:
    from daskpar._sklearn_compat import InvalidParameterError

    for call in (
        lambda: read_json(uploaded["t.jsonl"], target="label", storage_options="key=x"),
        lambda: read_npy(uploaded["X.npy"], storage_options=["key"]),
        lambda: read_hdf5(uploaded["d.h5"], storage_options="x"),
        lambda: read_svmlight(uploaded["t.svm"], storage_options=1),
    ):
        with pytest.raises(InvalidParameterError, match="'storage_options' parameter"):
            call()
    with pytest.raises(InputError, match="mixes URLs and local paths"):
        read_json([uploaded["t.jsonl"], "/tmp/t.jsonl"], target="label")


def test_read_csv_takes_storage_options_as_a_plain_dict(s3: S3, tmp_path: Path) -> None:
    """As every reader: a dict, for one file, a list of files (their columns in any order)
    or a pattern; checked to be one."""
    from daskpar._sklearn_compat import InvalidParameterError
    from daskpar.data import read_csv

    frame = pd.DataFrame(
        {"a": np.arange(40.0), "b": np.arange(40.0) / 3, "label": np.arange(40) % 2}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame[["label", "b", "a"]].to_csv(tmp_path / "u.csv", index=False)
    urls = list(_put(s3, tmp_path / "t.csv", tmp_path / "u.csv").values())
    so = dict(s3.storage_options)
    for remote_path, local_path in (
        (urls[0], tmp_path / "t.csv"),
        (urls, [tmp_path / "t.csv", tmp_path / "u.csv"]),
        (s3.url("*.csv"), str(tmp_path / "*.csv")),
    ):
        remote = read_csv(remote_path, target="label", storage_options=so)
        _assert_same(remote, read_csv(local_path, target="label"))
    # The table, its files' columns taken by name.
    Xr, _ = read_csv(urls, target="label", as_frame=True, storage_options=so)
    Xl, _ = read_csv([tmp_path / "t.csv", tmp_path / "u.csv"], target="label", as_frame=True)
    pd.testing.assert_frame_equal(Xr.compute(), Xl.compute())
    with pytest.raises(InvalidParameterError, match="'storage_options' parameter"):
        read_csv(urls[0], target="label", storage_options="key=x")


# --------------------------------------------------------------------------------------------
# The command line: credentials from the environment


@pytest.fixture(scope="module")
def in_process_scheduler() -> Iterator[str]:
    """A cluster of threads in this process: its workers see the environment that the
    command runs with (``CliRunner``'s), as workers started with it would."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_make_data_then_train_from_s3_with_checkpoint_and_report(
    s3: S3, in_process_scheduler: str
) -> None:
    env: dict[str, str | None] = {**s3.environment(), "DASKPAR_MODEL_KEY": None}
    env["DASKPAR_MODEL_KEY_FILE"] = None
    data, checkpoint, report = s3.url("d.zarr"), s3.url("runs/1"), s3.url("report.html")
    made = succeeded(
        invoke(
            "make-data", data, "--rows", "2000", "--features", "6", "--chunk-rows", "2000",
            env=env,
        )
    )  # fmt: skip
    assert f"wrote 2,000 x 6 to {data}" in made.stdout
    fs = s3.filesystem()
    assert fs.exists(f"{data}/zarr.json")
    train = (
        "train", data, "--epochs", "1", "--checkpoint", checkpoint, "--report", report,
        "--scheduler", in_process_scheduler,
    )  # fmt: skip
    first = succeeded(invoke(*train, env=env))
    assert fs.exists(f"{checkpoint}/checkpoint.skops")
    assert b"Dask Performance Report" in fs.cat_file(report)[: 1 << 16]
    assert f"performance report: {report}" in first.stdout
    again = succeeded(invoke(*train, env=env))
    assert f"resuming from the checkpoint in {checkpoint}" in again.stdout
    # An existing store, refused without --overwrite; a password on the command line, always.
    refused = one_line_error(invoke("make-data", data, "--rows", "10", env=env))
    assert f"{data} exists; pass --overwrite" in refused
    secret = f"pw-{uuid.uuid4().hex}"
    with_password = data.replace("s3://", f"s3://{s3.key}:{secret}@")
    for args in (("make-data", with_password), ("train", with_password)):
        result = invoke(*args, env=env)
        assert result.exit_code == 2
        assert secret not in result.output
        assert "user or password in its URL" in result.output


@pytest.mark.slow
def test_train_reads_every_format_from_s3(
    s3: S3, files: dict[str, Path], uploaded: dict[str, str], in_process_scheduler: str
) -> None:
    env: dict[str, str | None] = {**s3.environment()}
    args = ("--epochs", "1", "--scheduler", in_process_scheduler)
    for data, extra in (
        (uploaded["full.jsonl"], ("--target", "label")),
        (uploaded["X.npy"], ("--y", uploaded["y.npy"])),
        (uploaded["d.h5"], ()),
        (uploaded["t.svm"], ()),
    ):
        result = succeeded(invoke("train", data, *extra, *args, env=env))
        assert "validation accuracy" in result.stdout, data
