"""``--save`` to an fsspec URL, and models read back from there, on the command line.

``daskpar train ... --save s3://bucket/model.dp`` then ``daskpar predict`` and ``score`` of
that URL, against moto's S3 server on 127.0.0.1 (tests/daskpar_s3.py): the model predicts as
a local save of the same training does; signed with the model key, it verifies after the
round trip, and an edited object is refused; a URL holding a password is refused without
being shown, nor is any credential of the environment or of a URL's query; a URL that cannot
hold the model (no such bucket, a bucket, a folder, a scheme no file system serves) is
refused before any work. ``memory://`` and ``file://`` URLs too: a ``file://`` URL is the
local path it names, with a local file's safety (no writing through a link, renamed into
place, mode 0600). A save that breaks off leaves the model that was there before, whole.

The commands run in this process (click's ``CliRunner``, :func:`daskpar_testing.invoke`),
with the credentials and the endpoint in the environment they get, on a cluster of threads
in this process, whose workers see that environment too.
"""

# ruff: noqa: F811  (the fixtures are imported from daskpar_s3, then named as arguments)

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr
from daskpar_s3 import S3, s3, s3_bucket, s3_server  # noqa: F401  (fixtures)
from daskpar_testing import KEY, NO_KEYS, invoke, one_line_error, succeeded

from daskpar._model_file import parse


def _env(s3: S3, key: str | None = None) -> dict[str, str | None]:
    """The bucket's credentials and endpoint, and the model key ``key`` (None: no key)."""
    return {**s3.environment(), "DASKPAR_MODEL_KEY": key, "DASKPAR_MODEL_KEY_FILE": None}


@pytest.fixture(scope="module")
def in_process_scheduler() -> Iterator[str]:
    """A cluster of threads in this process: its workers see the environment that the
    command runs with (``CliRunner``'s)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local zarr store of 3,000 rows x 5 features, two balanced classes, in 4 chunks."""
    store = tmp_path_factory.mktemp("data") / "d.zarr"
    made = invoke(
        "make-data", str(store), "--rows", "3000", "--features", "5", "--chunk-rows", "750"
    )
    succeeded(made)
    return store


def _predictions(out: Path) -> np.ndarray:
    predictions: np.ndarray = zarr.open_array(str(out), path="predictions", mode="r")[:]
    return predictions


def test_a_model_saved_to_s3_predicts_as_a_local_save(
    s3: S3, data: Path, tmp_path: Path, in_process_scheduler: str
) -> None:
    # A secret of the environment's own (moto accepts any): no output may show it.
    planted = f"planted-{uuid.uuid4().hex}"
    env = _env(s3.with_secret(planted))
    url, local = s3.url("model.dp"), tmp_path / "model.dp"
    on_cluster = ("--scheduler", in_process_scheduler)
    train = ("train", str(data), "--epochs", "2", "--seed", "3", *on_cluster)
    outputs = [succeeded(invoke(*train, "--save", str(local), env=env)).output]
    saved = succeeded(invoke(*train, "--save", url, env=env))
    outputs.append(saved.output)
    stored = s3.filesystem().cat_file(url)
    # The line a local save prints, with the SHA-256 of the object as it is in the bucket.
    unsigned = "unsigned (set DASKPAR_MODEL_KEY to sign it)"
    sha256 = hashlib.sha256(stored).hexdigest()
    assert f"saved the model to {url}: {unsigned}, sha256 {sha256}" in saved.stdout
    local_sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert f"saved the model to {local}: {unsigned}, sha256 {local_sha256}" in outputs[0]
    header, _, _ = parse(stored, url)
    assert header["signature"] is None
    assert header["object"] == "sklearn.pipeline.Pipeline"
    predicted = {}
    for name, model in (("local", str(local)), ("s3", url)):
        out = tmp_path / f"{name}.zarr"
        result = succeeded(
            invoke("predict", model, str(data), "--out", str(out), "--allow-unsigned",
                   *on_cluster, env=env)
        )  # fmt: skip
        outputs.append(result.output)
        assert f"loaded Pipeline from {model}" in result.stdout
        predicted[name] = _predictions(out)
    np.testing.assert_array_equal(predicted["s3"], predicted["local"])
    assert predicted["s3"].shape == (3000,)
    assert set(np.unique(predicted["s3"]).tolist()) == {0, 1}  # a model, not a constant
    scored = succeeded(invoke("score", url, str(data), "--allow-unsigned", *on_cluster, env=env))
    outputs.append(scored.output)
    labels = zarr.open_array(str(data), path="y", mode="r")[:]
    accuracy = float(scored.stdout.split("accuracy: ")[1].split()[0])
    assert accuracy == pytest.approx(np.mean(predicted["s3"] == labels), abs=5e-5)
    assert accuracy > 0.6  # better than guessing
    assert not any(planted in output for output in outputs)


def test_a_model_saved_to_a_memory_or_file_url_predicts_as_a_local_save(
    data: Path, tmp_path: Path, in_process_scheduler: str
) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    in_memory = f"memory://daskpar-{uuid.uuid4().hex[:12]}/models/model.dp"
    local, by_url = tmp_path / "model.dp", tmp_path / "by-url" / "model.dp"
    by_url.parent.mkdir()
    on_cluster = ("--scheduler", in_process_scheduler)
    train = ("train", str(data), "--epochs", "2", "--seed", "3", *on_cluster)
    unsigned = "unsigned (set DASKPAR_MODEL_KEY to sign it)"
    try:
        # Each --save, and the model file as the output shows it: a file:// URL is saved,
        # and shown, as the local path it names.
        saves = {str(local): str(local), in_memory: in_memory, by_url.as_uri(): str(by_url)}
        for save, shown in saves.items():
            saved = succeeded(invoke(*train, "--save", save, env=NO_KEYS))
            stored = memory.cat_file(save) if save == in_memory else Path(shown).read_bytes()
            sha256 = hashlib.sha256(stored).hexdigest()
            assert f"saved the model to {shown}: {unsigned}, sha256 {sha256}" in saved.stdout
            assert parse(stored, shown)[0]["object"] == "sklearn.pipeline.Pipeline"
        # Written as a local file is: renamed into place (no temporary left), mode 0600.
        assert os.listdir(by_url.parent) == ["model.dp"]
        assert stat.S_IMODE(by_url.stat().st_mode) == 0o600
        predicted = []
        for number, (save, shown) in enumerate(saves.items()):
            out = tmp_path / f"p{number}.zarr"
            result = succeeded(
                invoke("predict", save, str(data), "--out", str(out), "--allow-unsigned",
                       *on_cluster, env=NO_KEYS)
            )  # fmt: skip
            assert f"loaded Pipeline from {shown}" in result.stdout
            predicted.append(_predictions(out))
        np.testing.assert_array_equal(predicted[1], predicted[0])  # memory://
        np.testing.assert_array_equal(predicted[2], predicted[0])  # file://
        assert set(np.unique(predicted[0]).tolist()) == {0, 1}  # a model, not a constant
    finally:
        root = in_memory.removeprefix("memory://").split("/")[0]
        if memory.exists(f"/{root}"):
            memory.rm(f"/{root}", recursive=True)


def test_a_file_url_to_a_link_is_refused_as_the_link_is(data: Path, tmp_path: Path) -> None:
    """Writing through a link would write wherever it leads: refused for a file:// URL too."""
    target = tmp_path / "elsewhere.dp"
    target.write_bytes(b"not to be replaced")
    link = tmp_path / "model.dp"
    link.symlink_to(target)
    result = invoke("train", str(data), "--save", link.as_uri(), env=NO_KEYS)
    assert result.exit_code == 2, result.output
    assert f"{link} is a symbolic link (to {target})" in result.output
    assert target.read_bytes() == b"not to be replaced"


@pytest.mark.parametrize("where", ["path", "file-url"])
def test_a_save_interrupted_while_writing_leaves_the_earlier_model(
    data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_process_scheduler: str,
    where: str,
) -> None:
    """Ctrl-C after the model's bytes were written, before they were synced and renamed
    into place: the file there is the earlier model, whole, and no temporary is left."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("tells the model's temporary file by /proc/self/fd")
    model = tmp_path / "model.dp"
    model.write_bytes(b"the earlier model")
    real_fsync = os.fsync
    written: list[int] = []

    def interrupted_fsync(fd: int) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".model.dp.tmp-"):
            written.append(os.fstat(fd).st_size)
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    save = str(model) if where == "path" else model.as_uri()
    result = invoke("train", str(data), "--epochs", "1", "--save", save,
                    "--scheduler", in_process_scheduler, env=NO_KEYS)  # fmt: skip
    assert result.exit_code == 130, (result.output, result.exception)
    assert "interrupted; no checkpoint" in result.stderr
    assert len(written) == 1
    assert written[0] > 1000  # the model was being written
    assert model.read_bytes() == b"the earlier model"
    assert os.listdir(tmp_path) == ["model.dp"]


def test_an_upload_that_breaks_off_leaves_the_earlier_object(
    s3: S3, data: Path, monkeypatch: pytest.MonkeyPatch, in_process_scheduler: str
) -> None:
    """The model is one upload (one PUT, or a multipart upload that S3 shows only once it
    completes): a connection lost during it leaves the object there as it was, and the
    error is one line, with no credential of the environment."""
    import s3fs

    url = s3.url("model.dp")
    fs = s3.filesystem()
    fs.pipe_file(url, b"the earlier model")
    uploads: list[int] = []
    real_call = s3fs.S3FileSystem._call_s3

    async def broken_upload(self: object, method: str, *args: object, **kwargs: object) -> object:
        if method in ("put_object", "upload_part"):
            body = kwargs.get("Body", b"")
            uploads.append(len(body) if isinstance(body, bytes | bytearray) else -1)
            raise ConnectionResetError(104, "Connection reset by peer")
        return await real_call(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", broken_upload)
    planted = f"planted-{uuid.uuid4().hex}"
    env = _env(s3.with_secret(planted))
    result = invoke("train", str(data), "--epochs", "1", "--save", url,
                    "--scheduler", in_process_scheduler, env=env)  # fmt: skip
    error = one_line_error(result)
    assert error.startswith(f"Error: Cannot write '{url}': ConnectionResetError"), error
    assert len(uploads) == 1
    assert uploads[0] > 1000  # the model's bytes, in one upload
    assert planted not in result.output
    monkeypatch.undo()
    assert s3.filesystem().cat_file(url) == b"the earlier model"


def model_url_command(command: str, url: str, data: Path) -> list[str]:
    """The command line of ``command`` with ``url`` as its model file (saved or read)."""
    return {
        "train": ["train", str(data), "--save", url],
        "search": ["search", str(data), "--grid", '{"alpha": [0.1]}', "--save", url],
        "predict": ["predict", url, str(data), "--out", str(data / "p.zarr")],
        "score": ["score", url, str(data)],
    }[command]


@pytest.mark.parametrize(
    ("command", "option"),
    [("train", "'--save'"), ("search", "'--save'"), ("predict", "'MODEL_FILE'"),
     ("score", "'MODEL_FILE'")],
)  # fmt: skip
def test_a_model_url_of_an_unknown_scheme_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: str
) -> None:
    """Named as the option that took it, with the cause and the fix; not the credential in
    its query."""
    secret = uuid.uuid4().hex
    url = f"s4://bucket/model.dp?X-Amz-Signature={secret}"
    started: list[object] = []
    monkeypatch.setattr("daskpar._cli._training.cluster", lambda *a, **k: started.append(a))
    monkeypatch.setattr("daskpar._cli._model_use.cluster", lambda *a, **k: started.append(a))
    args = model_url_command(command, url, tmp_path)
    result = invoke(*args, env=NO_KEYS)
    error = one_line_error(result, code=2)
    assert error.startswith(f"Error: Invalid value for {option}: s4://bucket/model.dp?"), error
    assert "no file system is known for s4:// URLs. Check the scheme" in error
    assert secret not in result.output
    assert started == []


def test_search_saves_its_best_model_to_s3(s3: S3, data: Path, in_process_scheduler: str) -> None:
    url = s3.url("models", "best.dp")
    result = succeeded(
        invoke("search", str(data), "--grid", '{"alpha": [1e-4, 1e-2]}', "--epochs", "1",
               "--cv", "2", "--save", url, "--scheduler", in_process_scheduler, env=_env(s3))
    )  # fmt: skip
    stored = s3.filesystem().cat_file(url)
    assert f"saved the model to {url}: unsigned" in result.stdout
    assert f"sha256 {hashlib.sha256(stored).hexdigest()}" in result.stdout
    header, _, _ = parse(stored, url)
    assert header["object"] == "daskpar.ParallelIncremental"  # no scaler: adaptive-log


def test_a_signed_save_to_s3_verifies_and_an_edited_object_is_refused(
    s3: S3, data: Path, tmp_path: Path, in_process_scheduler: str
) -> None:
    env = _env(s3, key=KEY)
    url = s3.url("signed.dp")
    on_cluster = ("--scheduler", in_process_scheduler)
    saved = succeeded(
        invoke("train", str(data), "--epochs", "1", "--save", url, "--encrypt", *on_cluster,
               env=env)
    )  # fmt: skip
    assert f"saved the model to {url}: signed, sha256 " in saved.stdout
    fs = s3.filesystem()
    stored = fs.cat_file(url)
    header, start, end = parse(stored, url)
    assert header["signature"] is not None
    assert header["encryption"] is not None
    # Verified (and decrypted) with the key, after the round trip through the bucket.
    scored = succeeded(invoke("score", url, str(data), *on_cluster, env=env))
    assert f"loaded Pipeline from {url}" in scored.stdout
    assert float(scored.stdout.split("accuracy: ")[1].split()[0]) > 0.6
    # Without the key, or with another one, it is refused: never loaded unchecked.
    for other, message in (
        (_env(s3), "no key is set to check it"),
        (_env(s3, key="cd" * 32), "was signed with another key"),
    ):
        error = one_line_error(
            invoke("score", url, str(data), "--allow-unsigned", *on_cluster, env=other)
        )
        assert f"'{url}' is signed" in error or f"'{url}' was signed" in error, error
        assert message in error
    # One byte of the payload changed in the bucket: refused, and nothing is predicted.
    edited = bytearray(stored)
    edited[(start + end) // 2] ^= 1
    fs.pipe_file(url, bytes(edited))
    out = tmp_path / "p.zarr"
    error = one_line_error(
        invoke("predict", url, str(data), "--out", str(out), *on_cluster, env=env)
    )
    assert f"'{url}' does not match its signature" in error
    assert not out.exists()
    assert KEY not in error


@pytest.mark.parametrize("command", ["train", "search", "predict", "score"])
def test_a_model_url_with_a_password_is_refused_without_showing_it(
    s3: S3, tmp_path: Path, command: str
) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    # The plain form, and a password with a '/' (AWS secret keys often hold one).
    for userinfo in (f"{s3.key}:{first}{second}", f"{s3.key}:{first}/{second}"):
        url = f"s3://{userinfo}@{s3.bucket}/model.dp"
        args = model_url_command(command, url, tmp_path)
        result = invoke(*args, env=_env(s3))
        assert result.exit_code == 2, result.output
        assert "user or password in its URL" in result.output
        assert f"s3://{s3.bucket}/model.dp" in result.output  # shown without them
        assert first not in result.output
        assert second not in result.output
    assert not (tmp_path / "p.zarr").exists()


def test_a_credential_in_a_model_urls_query_is_not_shown(s3: S3, tmp_path: Path) -> None:
    """A presigned URL's signature stays out of the messages, as a password does."""
    secret = uuid.uuid4().hex
    url = s3.url("missing.dp") + f"?X-Amz-Signature={secret}"
    out = tmp_path / "p.zarr"
    error = one_line_error(invoke("predict", url, str(tmp_path), "--out", str(out), env=_env(s3)))
    assert error.startswith(f"Error: No model file at '{s3.url('missing.dp')}?X-Amz-Signature=")
    assert secret not in error


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("s3://{missing}/model.dp", "the bucket '{missing}' of s3://{missing}/model.dp does not "
         "exist, or the credentials of the environment cannot reach it"),
        ("s3://{bucket}", "s3://{bucket} names a bucket; name the model file in it, such as "
         "s3://{bucket}/model.dp"),
        ("s3://{bucket}/models/", "s3://{bucket}/models/ names a folder; name the model file"),
        ("s3://{bucket}/old", "s3://{bucket}/old is a folder (objects are stored under it)"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["train", "search"])
def test_a_save_url_that_cannot_hold_the_model_is_refused_before_any_work(
    s3_bucket: S3,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    where: str,
    message: str,
) -> None:
    """Not after the whole training, when the model is saved."""
    names = {"missing": f"daskpar-missing-{uuid.uuid4().hex[:12]}", "bucket": s3_bucket.bucket}
    url, message = where.format(**names), message.format(**names)
    fs = s3_bucket.filesystem()
    fs.pipe_file(f"s3://{s3_bucket.bucket}/old/model.dp", b"an earlier model")
    started: list[object] = []
    monkeypatch.setattr("daskpar._cli._training.cluster", lambda *a, **k: started.append(a))
    data = tmp_path / "d.zarr"
    data.mkdir()
    args = {
        "train": ["train", str(data), "--save", url],
        "search": ["search", str(data), "--grid", '{"alpha": [0.1]}', "--save", url],
    }[command]
    error = one_line_error(invoke(*args, env=_env(s3_bucket)))
    assert error.startswith("Error: --save: "), error
    assert message in error
    assert started == []
    assert fs.cat_file(f"s3://{s3_bucket.bucket}/old/model.dp") == b"an earlier model"
    assert not fs.exists(f"s3://{s3_bucket.bucket}/model.dp")
    assert not fs.exists(f"s3://{s3_bucket.bucket}/models")


def test_a_model_url_in_a_missing_bucket_is_named_in_one_line(s3: S3, tmp_path: Path) -> None:
    url = f"s3://daskpar-missing-{uuid.uuid4().hex[:12]}/model.dp"
    out = tmp_path / "p.zarr"
    for args in (
        ("predict", url, str(tmp_path), "--out", str(out)),
        ("score", url, str(tmp_path)),
    ):
        error = one_line_error(invoke(*args, env=_env(s3)))
        assert error == f"Error: No model file at '{url}'.", error
    assert not out.exists()
