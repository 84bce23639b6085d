# ruff: noqa: F811  (the fixtures are imported from daskpar_s3, then named as arguments)
"""Object stores, for real: daskpar's readers, writers, checkpoints and model files on S3.

The S3 endpoint is moto's server on 127.0.0.1 (:mod:`daskpar_s3`), spoken to through s3fs
exactly as AWS would be. Every result is compared with the same run on local files: reading
from a bucket must change where the bytes come from, nothing else. The secret-search test
plants a distinctive secret in ``storage_options`` and looks for it in everything the run
leaves behind.
"""

from __future__ import annotations

import inspect
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
from daskpar_s3 import S3, s3, s3_bucket, s3_server  # noqa: F401  (fixtures)
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import audit, persist
from daskpar._io._remote import StorageOptions, clean_url, remote_location, scrub
from daskpar._model_file import read_file, write_atomically
from daskpar.data import read_csv, read_parquet, read_path, read_zarr, write_zarr
from daskpar.errors import CheckpointError, DaskparError, InputError

#: Whether daskpar.save / daskpar.load take storage_options yet (an edit of persist.py).
PERSIST_TAKES_OPTIONS = "storage_options" in inspect.signature(persist.save).parameters


def _data(n: int = 2000, chunks: int = 500) -> tuple[da.Array, da.Array]:
    return dp.make_classification(n, 6, chunks=chunks, random_state=0)


def _write_parquet(url: str, X: np.ndarray, y: np.ndarray, **options: Any) -> None:
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]).assign(label=y)
    # Two files of two row groups each: the reader's listing and its row-group blocks.
    half = len(frame) // 2
    for i, part in enumerate((frame.iloc[:half], frame.iloc[half:])):
        part.to_parquet(f"{url}/part-{i}.parquet", row_group_size=500, index=False, **options)


def _model() -> dp.ParallelIncremental:
    return dp.ParallelIncremental(SGDClassifier(loss="log_loss"), epochs=1, random_state=0)


def _fit_coef(X: da.Array, y: da.Array, **fit: Any) -> np.ndarray:
    return np.asarray(_model().fit(X, y, classes=[0, 1], **fit).estimator_.coef_)


# --------------------------------------------------------------------------------------------
# Readers and writers


def test_zarr_round_trip_matches_local(s3: S3, tmp_path: Path) -> None:
    X, y = _data()
    url = s3.url("data.zarr")
    write_zarr(url, X, y, storage_options=s3.storage_options)
    write_zarr(tmp_path / "data.zarr", X, y)
    X2, y2 = read_zarr(url, storage_options=s3.storage_options)
    X3, y3 = read_zarr(tmp_path / "data.zarr")
    assert X2.chunks == X3.chunks
    assert y2.chunks == y3.chunks
    np.testing.assert_array_equal(X2.compute(), X3.compute())
    np.testing.assert_array_equal(y2.compute(), y3.compute())
    # Written then committed: the group's metadata object is there, and nothing temporary.
    names = sorted(p.rsplit("/", 1)[-1] for p in s3.filesystem().find(url))
    assert "zarr.json" in names
    assert not any("tmp" in n for n in names)


def test_write_zarr_refuses_and_replaces_an_existing_store(s3: S3) -> None:
    X, y = _data()
    url = s3.url("data.zarr")
    write_zarr(url, X, y, storage_options=s3.storage_options)
    with pytest.raises(InputError, match="already exists"):
        write_zarr(url, X, y, storage_options=s3.storage_options)
    write_zarr(url, X[:, :3], y, storage_options=s3.storage_options, overwrite=True)
    X2, _ = read_zarr(url, storage_options=s3.storage_options)
    np.testing.assert_array_equal(X2.compute(), X[:, :3].compute())


def test_failed_write_zarr_leaves_no_store(s3: S3) -> None:
    X, y = _data()

    def fail(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        if block_info[0]["chunk-location"][0] == 1:
            raise RuntimeError("disk on fire")
        return block

    url = s3.url("data.zarr")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_zarr(url, X.map_blocks(fail, dtype=X.dtype), y, storage_options=s3.storage_options)
    assert not s3.filesystem().exists(url)
    with pytest.raises(InputError, match="not a zarr group"):
        read_zarr(url, storage_options=s3.storage_options)


def test_uncommitted_store_is_not_read(s3: S3) -> None:
    """Chunks without the group's metadata object (a write killed before its commit) are not
    a store: read_zarr refuses it rather than read part of it."""
    X, y = _data()
    url = s3.url("data.zarr")
    write_zarr(url, X, y, storage_options=s3.storage_options)
    s3.filesystem().rm(f"{url}/zarr.json")
    with pytest.raises(InputError, match="not a zarr group"):
        read_zarr(url, storage_options=s3.storage_options)


def test_parquet_matches_local(s3: S3, tmp_path: Path) -> None:
    X, y = (a.compute() for a in _data())
    _write_parquet(s3.url("table"), X, y, storage_options=s3.storage_options)
    (tmp_path / "table").mkdir()
    _write_parquet(str(tmp_path / "table"), X, y)
    Xr, yr = read_parquet(s3.url("table"), target="label", storage_options=s3.storage_options)
    Xl, yl = read_parquet(tmp_path / "table", target="label")
    assert Xr.chunks == Xl.chunks
    np.testing.assert_array_equal(Xr.compute(), Xl.compute())
    np.testing.assert_array_equal(yr.compute(), yl.compute())
    np.testing.assert_array_equal(Xr.compute(), X)
    # As a table too.
    Fr, Sr = read_parquet(
        s3.url("table"), target="label", as_frame=True, storage_options=s3.storage_options
    )
    pd.testing.assert_frame_equal(
        Fr.compute().reset_index(drop=True),
        pd.DataFrame(X, columns=[f"f{j}" for j in range(6)]),
    )
    np.testing.assert_array_equal(Sr.compute().to_numpy(), y)


def test_read_path_dispatches_urls(s3: S3) -> None:
    X, y = _data()
    write_zarr(s3.url("plain"), X, y, storage_options=s3.storage_options)  # no suffix
    _write_parquet(s3.url("rows"), X.compute(), y.compute(), storage_options=s3.storage_options)
    s3.filesystem().pipe(
        s3.url("t.csv"),
        pd.DataFrame(X.compute(), columns=list("abcdef"))
        .assign(label=y.compute())
        .to_csv(index=False)
        .encode(),
    )
    for url, options in [
        (s3.url("plain"), {}),
        (s3.url("rows"), {"target": "label"}),
        (s3.url("t.csv"), {"target": "label"}),
    ]:
        Xr, yr = read_path(url, storage_options=s3.storage_options, **options)
        np.testing.assert_allclose(Xr.compute(), X.compute(), rtol=1e-15)
        np.testing.assert_array_equal(yr.compute(), y.compute())
    Xc, _ = read_csv(s3.url("t.csv"), target="label", storage_options=s3.storage_options)
    np.testing.assert_allclose(Xc.compute(), X.compute(), rtol=1e-15)
    with pytest.raises(InputError, match="neither a zarr store"):
        read_path(s3.url("nothing-here"), storage_options=s3.storage_options)


def test_store_rewritten_in_place_gets_new_keys(s3: S3) -> None:
    """A remote store's task keys follow its content (the objects' ETags): rewritten in
    place, chunk by chunk, its arrays get new names, as a local store's do."""
    X, y = _data()
    url = s3.url("data.zarr")
    write_zarr(url, X, y, storage_options=s3.storage_options)
    before, _ = read_zarr(url, storage_options=s3.storage_options)
    assert read_zarr(url, storage_options=s3.storage_options)[0].name == before.name
    import zarr

    arr = zarr.open_array(url, path="X", mode="r+", storage_options=s3.storage_options)
    arr[0, 0] = 42.0  # one chunk rewritten in place; same shape, chunks and dtype
    after, _ = read_zarr(url, storage_options=s3.storage_options)
    assert after.name != before.name
    assert after[0, 0].compute() == 42.0
    # Parquet too: a file rewritten in place.
    _write_parquet(s3.url("t"), X.compute(), y.compute(), storage_options=s3.storage_options)
    first, _ = read_parquet(s3.url("t"), target="label", storage_options=s3.storage_options)
    _write_parquet(s3.url("t"), X.compute() + 1, y.compute(), storage_options=s3.storage_options)
    second, _ = read_parquet(s3.url("t"), target="label", storage_options=s3.storage_options)
    assert second.name != first.name


# --------------------------------------------------------------------------------------------
# Training from S3, as from local files


def test_training_from_s3_equals_local(s3: S3, tmp_path: Path) -> None:
    X, y = _data()
    write_zarr(s3.url("data.zarr"), X, y, storage_options=s3.storage_options)
    write_zarr(tmp_path / "data.zarr", X, y)
    _write_parquet(s3.url("table"), X.compute(), y.compute(), storage_options=s3.storage_options)
    (tmp_path / "table").mkdir()
    _write_parquet(str(tmp_path / "table"), X.compute(), y.compute())

    local = _fit_coef(*read_zarr(tmp_path / "data.zarr"))
    remote = _fit_coef(*read_zarr(s3.url("data.zarr"), storage_options=s3.storage_options))
    np.testing.assert_array_equal(remote, local)  # the same bits: same blocks, same tree
    local_pq = _fit_coef(*read_parquet(tmp_path / "table", target="label"))
    remote_pq = _fit_coef(
        *read_parquet(s3.url("table"), target="label", storage_options=s3.storage_options)
    )
    np.testing.assert_array_equal(remote_pq, local_pq)


def test_checkpoint_refuses_a_remote_store_rewritten_in_place(s3: S3, tmp_path: Path) -> None:
    """The checkpoint's block digests are of the content, wherever it is stored: a store
    rewritten in place on S3 (same shape, chunks, dtype) is refused on resume."""
    X, y = _data()
    url = s3.url("data.zarr")
    write_zarr(url, X, y, storage_options=s3.storage_options)
    folder = tmp_path / "ckpt"
    model = dp.ParallelIncremental(
        SGDClassifier(loss="log_loss"), epochs=1, random_state=0, checkpoint=folder
    )
    model.fit(*read_zarr(url, storage_options=s3.storage_options), classes=[0, 1])
    import zarr

    arr = zarr.open_array(url, path="X", mode="r+", storage_options=s3.storage_options)
    arr[1200, 3] = -7.0  # block 2 changes
    again = clone(model)
    with pytest.raises(CheckpointError, match="other data"):
        again.fit(*read_zarr(url, storage_options=s3.storage_options), classes=[0, 1])


@pytest.mark.slow
def test_checkpoint_in_the_bucket_resumes_to_the_same_model(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint folder in the bucket (credentials from the environment): a run
    interrupted in its third pass resumes from the object written after the second, and
    ends with the bits of an uninterrupted run."""
    from daskpar_testing import passes

    import daskpar._incremental as incremental

    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    X, y = _data()
    write_zarr(s3.url("data.zarr"), X, y)  # the environment's credentials, as the folder's
    Xr, yr = read_zarr(s3.url("data.zarr"))

    def fitted(folder: str | None) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(
            SGDClassifier(loss="log_loss"), epochs=4, random_state=0, checkpoint=folder
        ).fit(Xr, yr, classes=[0, 1])

    whole = fitted(None)
    folder = s3.url("runs", "one")
    with passes(incremental, interrupt_at=3), pytest.raises(KeyboardInterrupt):
        fitted(folder)
    assert s3.filesystem().exists(f"{folder}/checkpoint.skops")
    with passes(incremental) as count:
        resumed = fitted(folder)
    assert count[0] == 2  # passes 1 and 2 were in the checkpoint
    np.testing.assert_array_equal(resumed.estimator_.coef_, whole.estimator_.coef_)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4]


# --------------------------------------------------------------------------------------------
# Model files


def test_model_file_bytes_round_trip_on_s3(s3: S3) -> None:
    """The container's bytes go to S3 in one PUT and come back unchanged: a signed model
    loads from them and predicts as the saved one does."""
    X, y = _data()
    model = _model().fit(X, y, classes=[0, 1])
    key = persist.generate_key()
    body, signed = persist.dumps(model, key=key)
    url = s3.url("models", "m.dp")
    write_atomically(url, body, s3.storage_options)
    data, name = read_file(url, s3.storage_options)
    assert signed
    assert data == body
    assert name == repr(url)
    loaded = persist.loads(data, name=name, key=key)
    np.testing.assert_array_equal(loaded.predict(X).compute(), model.predict(X).compute())
    with pytest.raises(persist.ModelFileError, match="No model file"):
        read_file(s3.url("models", "missing.dp"), s3.storage_options)


@pytest.mark.skipif(not PERSIST_TAKES_OPTIONS, reason="persist.save takes no storage_options")
def test_save_and_load_on_s3(s3: S3, tmp_path: Path) -> None:
    X, y = _data()
    model = _model().fit(X, y, classes=[0, 1])
    key = persist.generate_key()
    url = s3.url("models", "m.dp")
    model.save(url, key=key, storage_options=s3.storage_options)
    loaded = dp.load(url, key=key, storage_options=s3.storage_options)
    np.testing.assert_array_equal(loaded.predict(X).compute(), model.predict(X).compute())


# --------------------------------------------------------------------------------------------
# Credentials: in options or in the URL, never shown


def test_credentials_in_the_url_are_moved_and_never_shown(s3: S3) -> None:
    X, y = _data()
    write_zarr(s3.url("data.zarr"), X, y, storage_options=s3.storage_options)
    secret = f"planted-{uuid.uuid4().hex}"
    url = s3.url("data.zarr").replace("s3://", f"s3://{s3.key}:{secret}@")
    clean, options = remote_location(url, {"client_kwargs": {"endpoint_url": s3.endpoint}}, "x")
    assert clean == s3.url("data.zarr")
    assert options.options["secret"] == secret
    assert options.options["key"] == s3.key
    assert secret not in repr(options)
    assert secret not in str(options)
    assert dask.base.tokenize(options) == dask.base.tokenize(
        StorageOptions({**options.options, "secret": "other"})
    )
    # moto takes any secret: the read works, and nothing names the secret.
    Xr, _ = read_zarr(url, storage_options={"client_kwargs": {"endpoint_url": s3.endpoint}})
    np.testing.assert_array_equal(Xr.compute(), X.compute())
    assert all(secret not in str(k) for k in Xr.__dask_graph__())
    assert scrub(f"cannot open {url}") == f"cannot open {s3.url('data.zarr')}"
    assert clean_url("s3://a:b@bucket/x/") == "s3://bucket/x"


def _everything_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_a_planted_secret_appears_nowhere(
    s3: S3, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write, train with a checkpoint and an audit log, save, fail: then search every file
    written (local and in the bucket), every task key and layer name, every log record and
    every error message for the secret."""
    secret = f"SeCrEt-{uuid.uuid4().hex}"  # made at run time: in no source file either
    planted = s3.with_secret(secret)
    options = planted.storage_options
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "audit.jsonl"
    messages: list[str] = []
    ours: list[bool] = []  # whether each failure was daskpar's own error, with its message
    keys: list[str] = []
    X, y = _data()
    with dask.config.set({audit.CONFIG_KEY: str(log)}):
        write_zarr(planted.url("data.zarr"), X, y, storage_options=options)
        _write_parquet(planted.url("t"), X.compute(), y.compute(), storage_options=options)
        for Xr, yr in (
            read_zarr(planted.url("data.zarr"), storage_options=options),
            read_parquet(planted.url("t"), target="label", storage_options=options),
            read_path(planted.url("data.zarr"), storage_options=options),
            read_parquet(planted.url("t"), target="label", as_frame=True, storage_options=options),
        ):
            for a in (Xr, yr):
                graph = a.__dask_graph__()
                keys += [str(k) for k in graph]
                keys += [str(name) for name in getattr(graph, "layers", {})]
                keys.append(repr(a))
        X3, y3 = read_zarr(planted.url("data.zarr"), storage_options=options)
        model = dp.ParallelIncremental(
            SGDClassifier(loss="log_loss"), epochs=1, random_state=0, checkpoint=tmp_path / "ck"
        ).fit(X3, y3, classes=[0, 1])
        key = persist.generate_key()
        model.save(tmp_path / "model.dp", key=key)
        body, _ = persist.dumps(model, key=key)
        write_atomically(planted.url("m.dp"), body, options)
        if PERSIST_TAKES_OPTIONS:
            model.save(planted.url("m2.dp"), key=key, storage_options=options)
            dp.load(planted.url("m2.dp"), key=key, storage_options=options)
        # Failures: their messages must not carry the secret either.
        attempts = [
            lambda: read_zarr(planted.url("missing.zarr"), storage_options=options),
            lambda: read_parquet(planted.url("nope"), target="label", storage_options=options),
            lambda: read_zarr(
                s3.url("missing.zarr").replace("s3://", f"s3://{s3.key}:{secret}@"),
                storage_options={"client_kwargs": {"endpoint_url": s3.endpoint}},
            ),
            lambda: read_file(planted.url("none.dp"), options),
            lambda: write_zarr(planted.url("data.zarr"), X, y, storage_options=options),
            lambda: read_path(planted.url("nothing"), storage_options=options),
        ]
        for attempt in attempts:
            with pytest.raises(Exception) as info:  # noqa: PT011 - each its own kind
                attempt()
            ours.append(isinstance(info.value, DaskparError))
            exc: BaseException | None = info.value
            while exc is not None:  # the message and every exception it was raised from
                messages.append(f"{type(exc).__name__}: {exc!r} {exc}")
                exc = exc.__cause__ or exc.__context__
    bucket = b"".join(planted.filesystem().cat(planted.filesystem().find(planted.url())).values())
    haystacks = {
        "local files": _everything_under(tmp_path),
        "bucket objects": bucket,
        "task keys and layer names": "\n".join(keys).encode(),
        "log records": "\n".join(
            f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
        ).encode(),
        "error messages": "\n".join(messages).encode(),
        "audit records": repr(audit.read(log)).encode(),
    }
    assert log.exists()
    assert len(audit.read(log)) >= 2
    assert (tmp_path / "ck").is_dir()
    assert all(ours), ours
    for where, text in haystacks.items():
        assert secret.encode() not in text, f"the secret is in the {where}"
    # The search finds what is there: the access key id is in none either, but the bucket's
    # name is in the audit log's data description and the keys' messages.
    assert s3.bucket.encode() in haystacks["error messages"]


def test_file_urls_are_local_paths(tmp_path: Path) -> None:
    X, y = _data()
    write_zarr(f"file://{tmp_path}/data.zarr", X, y)
    assert (tmp_path / "data.zarr" / "zarr.json").is_file()
    Xr, _ = read_zarr(f"file://{tmp_path}/data.zarr")
    Xl, _ = read_zarr(tmp_path / "data.zarr")
    assert Xr.name == Xl.name


# --------------------------------------------------------------------------------------------
# End to end, on a cluster of separate processes that share nothing with the client

_CLIENT = """
import contextlib, json, os, sys
import daskpar as dp
from daskpar import persist
from daskpar._model_file import write_atomically
from distributed import Client, performance_report
from sklearn.linear_model import SGDClassifier

address, data, checkpoint, model_url, epochs = sys.argv[1:6]
report = os.environ.get("REPORT")  # what `daskpar train --report` writes
with Client(address, timeout=60), (
    performance_report(filename=report) if report else contextlib.nullcontext()
):
    X, y = dp.read_zarr(data)
    model = dp.ParallelIncremental(
        SGDClassifier(loss="log_loss"),
        epochs=int(epochs),
        random_state=0,
        checkpoint=None if checkpoint == "-" else checkpoint,
    ).fit(X, y, classes=[0, 1])
    if model_url != "-":
        body, _ = persist.dumps(model)  # unsigned: the test loads it with allow_unsigned
        write_atomically(model_url, body)
    print(json.dumps({"epochs": len(model.history_), "coef": model.estimator_.coef_.tolist()}))
"""


@pytest.mark.slow
def test_end_to_end_on_a_cluster_from_s3(s3: S3, tmp_path: Path) -> None:
    """Scheduler and workers in folders of their own (their temporary folders too), reaching
    the bucket through the ``AWS_*`` variables only. A client in a subprocess trains from
    ``s3://`` with a checkpoint in the bucket, is killed once the first checkpoint is there,
    and a new client resumes; the model goes to the bucket, is loaded back, and the CLI
    predicts to the bucket. Everything is stopped by PID."""
    import json
    import signal
    import subprocess
    import sys
    import time

    from daskpar_testing import EXE, scheduler_processes
    from distributed import Client

    env = s3.environment()
    cluster_dir, client_dir = tmp_path / "cluster", tmp_path / "client"
    for d in (cluster_dir, client_dir, cluster_dir / "tmp", client_dir / "tmp"):
        d.mkdir()
    X, y = dp.make_classification(20_000, 8, chunks=2_000, random_state=0)
    write_zarr(s3.url("data.zarr"), X, y, storage_options=s3.storage_options)
    epochs = 8
    _write_parquet(s3.url("table"), X.compute(), y.compute(), storage_options=s3.storage_options)
    client_env = {
        **{k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"},
        **env,
        "TMPDIR": str(client_dir / "tmp"),
    }
    checkpoint = s3.url("runs", "one")
    with scheduler_processes(
        cluster_dir, n_workers=2, env={**env, "TMPDIR": str(cluster_dir / "tmp")}
    ) as address:
        script = [sys.executable, "-c", _CLIENT, address, s3.url("data.zarr")]
        # 1. Train, and kill the client once its first checkpoint is in the bucket.
        first = subprocess.Popen(
            [*script, checkpoint, "-", str(epochs)],
            cwd=client_dir,
            env=client_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        fs = s3.filesystem()
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline and first.poll() is None:
                fs.invalidate_cache()
                if fs.exists(f"{checkpoint}/checkpoint.skops"):
                    break
                time.sleep(0.2)
            assert first.poll() is None, first.communicate()
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            first.wait(timeout=60)
        saved = persist.loads(
            fs.cat_file(f"{checkpoint}/checkpoint.skops"), name="checkpoint", allow_unsigned=True
        )
        done = json.loads(saved["meta"])["state"]["epoch"]
        assert 1 <= done < epochs
        # 2. Resume, to the end; save the model to the bucket.
        model_url = s3.url("models", "m.dp")
        resumed = subprocess.run(
            [*script, checkpoint, model_url, str(epochs)],
            cwd=client_dir,
            env={**client_env, "REPORT": str(client_dir / "report.html")},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        result = json.loads(resumed.stdout.strip().splitlines()[-1])
        assert result["epochs"] == epochs
        # The same bits as one uninterrupted run of a client with the same settings.
        whole = subprocess.run(
            [*script, "-", "-", str(epochs)],
            cwd=client_dir,
            env=client_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert whole.returncode == 0, whole.stderr[-3000:]
        reference = json.loads(whole.stdout.strip().splitlines()[-1])
        np.testing.assert_array_equal(np.asarray(result["coef"]), np.asarray(reference["coef"]))
        # A search from the Parquet table in the bucket, on the workers.
        table = read_parquet(s3.url("table"), target="label", storage_options=s3.storage_options)

        def search() -> Any:
            grid = {"estimator__alpha": [1e-4, 1e-2]}
            return dp.GridSearchCV(_model(), grid, cv=2).fit(*table)

        with Client(address, timeout=60) as client, dask.config.set(scheduler=client.get):
            on_workers = search()
        here = search()  # the same search in this process: the same scores, to the bit
        np.testing.assert_array_equal(
            on_workers.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"]
        )
        # 3. Load it back, and predict to the bucket with the CLI.
        out = s3.url("predictions.parquet")
        predicted = subprocess.run(
            [
                EXE,
                "predict",
                model_url,
                s3.url("data.zarr"),
                "--out",
                out,
                "--allow-unsigned",
                "--scheduler",
                address,
            ],
            cwd=client_dir,
            env=client_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert predicted.returncode == 0, predicted.stderr[-3000:]
        assert "predictions" in predicted.stdout
    if PERSIST_TAKES_OPTIONS:
        loaded = persist.load(model_url, allow_unsigned=True, storage_options=s3.storage_options)
    else:
        data, name = read_file(model_url, s3.storage_options)
        loaded = persist.loads(data, name=name, allow_unsigned=True)
    expected = loaded.predict(X).compute()
    got = pd.read_parquet(out, storage_options=s3.storage_options)["predictions"].to_numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(loaded.estimator_.coef_, np.asarray(result["coef"]))
    # The environment's secret is in no file the client, the scheduler or the workers left
    # (the performance report included), nor in any object of the bucket.
    assert (client_dir / "report.html").stat().st_size > 0
    local = _everything_under(tmp_path)
    objects = b"".join(fs.cat(fs.find(s3.url())).values())
    assert s3.secret.encode() not in local + objects
