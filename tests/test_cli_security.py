"""The command line's security side, end to end: saved models, score and predict, the audit
log, certificates, TLS options, and an embedded cluster that listens on loopback only.

The commands that use a model key run as the installed console script, the key in their
environment as users set it; those that only need a cluster get ``--scheduler`` of the
module's (``scheduler_address``) instead of starting one each.
"""

from __future__ import annotations

import os
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import pytest
import zarr
from click.testing import CliRunner
from daskpar_testing import invoke
from daskpar_testing import run_daskpar as daskpar

from daskpar import audit
from daskpar._cli import cluster, main

EXE = str(Path(sys.executable).with_name("daskpar"))
KEY = "ab" * 32


def make_data(store: Path, rows: int) -> None:
    made = invoke("make-data", str(store), "--rows", str(rows), "--features", "5",
                  "--chunk-rows", "1500")  # fmt: skip
    assert made.exit_code == 0, made.output


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_train_save_score_predict_audit(tmp_path: Path, scheduler_address: str) -> None:
    data, model, log, out = (tmp_path / n for n in ("d.zarr", "m.dp", "audit.log", "p.zarr"))
    make_data(data, 12000)
    on_cluster = ("--scheduler", scheduler_address)
    trained = daskpar("train", str(data), "--epochs", "1", "--save", str(model),
                      "--audit", str(log), *on_cluster)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert f"saved the model to {model}: signed, sha256 " in trained.stdout
    scored = daskpar("score", str(model), str(data), "--audit", str(log), *on_cluster)
    assert scored.returncode == 0, scored.stderr
    accuracy = float(scored.stdout.split("accuracy: ")[1].split()[0])
    assert 0.6 < accuracy <= 1.0
    predicted = daskpar("predict", str(model), str(data), "--out", str(out),
                        "--audit", str(log), *on_cluster)  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    predictions = zarr.open_array(str(out), path="predictions", mode="r")[:]
    labels = zarr.open_array(str(data), path="y", mode="r")[:]
    assert predictions.shape == labels.shape
    assert np.mean(predictions == labels) == pytest.approx(accuracy, abs=5e-5)  # same model
    # One record per operation, in order, and an intact chain.
    records = audit.read(log)
    assert [r["operation"] for r in records] == ["fit", "save", "load", "score", "load", "predict"]
    assert {r["status"] for r in records} == {"ok"}
    # The score reduced on the workers is the accuracy of the written predictions.
    assert records[3]["metrics"]["accuracy"] == pytest.approx(np.mean(predictions == labels))
    # Commands that start no cluster, run side by side: each is mostly Python's start-up.
    with ThreadPoolExecutor() as pool:
        verifying = pool.submit(daskpar, "audit", "verify", str(log))
        showing = pool.submit(daskpar, "audit", "show", str(log))
        verified, shown = verifying.result(), showing.result()
    assert verified.returncode == 0, verified.stderr
    assert "6 records, chain intact" in verified.stdout
    assert shown.returncode == 0
    assert "predict" in shown.stdout
    assert audit.verify(log).head in shown.stdout
    # A model file edited by one byte, or read with another key, is refused in one line.
    data_bytes = bytearray(model.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 1
    edited = tmp_path / "edited.dp"
    edited.write_bytes(bytes(data_bytes))
    with ThreadPoolExecutor() as pool:
        refusals = [
            pool.submit(daskpar, "score", str(edited), str(data), *on_cluster),
            pool.submit(daskpar, "score", str(model), str(data), *on_cluster, key="cd" * 32),
            pool.submit(daskpar, "score", str(model), str(data), *on_cluster, key=None),
        ]
    for refused in (r.result() for r in refusals):
        assert refused.returncode == 1
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith("Error: "), refused.stderr
    # An edited log is named at its first broken record.
    lines = log.read_text().splitlines()
    lines[1] = lines[1].replace('"save"', '"SAVE"')
    log.write_text("\n".join(lines) + "\n")
    broken = daskpar("audit", "verify", str(log))
    assert broken.returncode == 1
    assert "2" in broken.stderr


def test_certs_writes_private_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["certs", str(tmp_path / "certs")])
    assert result.exit_code == 0, result.output
    keys = sorted((tmp_path / "certs").glob("*-key.pem"))
    assert [k.name for k in keys] == [
        "ca-key.pem", "client-key.pem", "scheduler-key.pem", "worker-key.pem"
    ]  # fmt: skip
    assert {stat.S_IMODE(k.stat().st_mode) for k in keys} == {0o600}
    configs = sorted(p.name for p in (tmp_path / "certs").glob("dask-tls*.yaml"))
    assert configs == ["dask-tls-client.yaml", "dask-tls-scheduler.yaml", "dask-tls-worker.yaml"]
    assert "--tls-ca-file" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-ca-file", "{ca}"], "go together"),
        (["--tls-ca-file", "{ca}", "--tls-cert", "{cert}", "--tls-key", "{key}"], "--scheduler"),
    ],
)
def test_tls_options_are_checked_before_any_work(
    tmp_path: Path, args: list[str], message: str
) -> None:
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "c.pem", "key": tmp_path / "k.pem"}
    for f in files.values():
        f.write_text("x")
    argv = ["train", str(tmp_path / "missing.zarr"), *[a.format(**files) for a in args]]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2
    assert message in result.output


def test_the_embedded_cluster_listens_on_loopback_only() -> None:
    """Every listening socket of this process and its children (the scheduler, the workers,
    their nannies, the dashboard) is bound to 127.0.0.1."""
    # Not the module's cluster (scheduler_address), if another test started it already.
    others = {p.pid for p in psutil.Process().children(recursive=True)}
    with cluster(None, 2, 0) as client:
        client.run(lambda: None)  # the workers are up
        children = psutil.Process().children(recursive=True)
        procs = [psutil.Process(), *(p for p in children if p.pid not in others)]
        listening = [
            (p.pid, c.laddr)
            for p in procs
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
    assert len(listening) >= 4  # scheduler, dashboard, 2 workers (and their nannies)
    assert {addr.ip for _, addr in listening} == {"127.0.0.1"}, listening


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_a_poisoned_checkpoint_is_not_resumed_nor_signed(
    tmp_path: Path, scheduler_address: str
) -> None:
    """The attack: a finished run's checkpoint with its coefficients negated, then the same
    ``train --checkpoint --save`` again, which would sign the poisoned model. With the key
    set, the checkpoint's signature is checked and the rerun refuses it, naming the file; the
    audit log records a failed fit and no save."""
    from daskpar import persist
    from daskpar._checkpoint import FILE_NAME

    data, ck, model, log = (tmp_path / n for n in ("d.zarr", "ck", "m.dp", "audit.log"))
    make_data(data, 6000)
    train = ("train", str(data), "--epochs", "2", "--checkpoint", str(ck), "--save", str(model),
             "--audit", str(log), "--scheduler", scheduler_address)  # fmt: skip
    first = daskpar(*train)
    assert first.returncode == 0, first.stderr
    # Rerun as it is: it resumes the finished run, and says that the signature is checked.
    again = daskpar(*train)
    assert again.returncode == 0, again.stderr
    assert "its signature is checked with the model key" in again.stdout
    saved_model = model.read_bytes()
    # The attacker can write the folder but has no key: the poisoned checkpoint is unsigned.
    path = ck / FILE_NAME
    saved = persist.loads(path.read_bytes(), name="test", key=KEY)
    saved["objects"]["model"].coef_ = -saved["objects"]["model"].coef_
    path.write_bytes(persist.dumps(saved, key=None)[0])
    poisoned = daskpar(*train)
    assert poisoned.returncode == 1
    assert str(path) in poisoned.stderr
    assert "carries no signature" in poisoned.stderr
    assert "Traceback" not in poisoned.stderr
    assert model.read_bytes() == saved_model  # nothing signed
    records = audit.read(log)
    assert [(r["operation"], r["status"]) for r in records][-1] == ("fit", "failed")


def test_the_resume_message_says_whether_the_checkpoint_is_authenticated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from daskpar import persist
    from daskpar._checkpoint import FILE_NAME
    from daskpar._cli._context import start_checkpoint

    (tmp_path / FILE_NAME).write_bytes(b"")
    for name in ("DASKPAR_MODEL_KEY", "DASKPAR_MODEL_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    start_checkpoint(tmp_path, overwrite=False)
    assert "it is not authenticated, since no model key is set" in capsys.readouterr().out
    monkeypatch.setenv("DASKPAR_MODEL_KEY", KEY)
    start_checkpoint(tmp_path, overwrite=False)
    out = capsys.readouterr().out
    assert f"its signature is checked with the model key (key id {persist.signing_key_id()})" in out
    assert KEY not in out


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("train", "--report"),
        ("train", "--audit"),
        ("train", "--save"),
        ("search", "--report"),
        ("predict", "--out"),
    ],
)
def test_outputs_are_not_written_through_symbolic_links(
    tmp_path: Path, command: str, option: str, dangling: bool
) -> None:
    """A link named as an output (in a shared folder, one that another user put there) is
    refused before any work, whether it leads to a file or nowhere; nothing is written."""
    target = tmp_path / "elsewhere" / "target"
    target.parent.mkdir()
    folder = option == "--out"  # a zarr store
    if not dangling:
        if folder:
            target.mkdir()
        (target / "zarr.json" if folder else target).write_text("not yours")
    link = tmp_path / "out"
    link.symlink_to(target)
    data = tmp_path / "d.zarr"
    data.mkdir()
    args = [command, str(data)] if command != "predict" else [command, str(data), str(data)]
    result = CliRunner().invoke(main, [*args, option, str(link)])
    assert result.exit_code == 2, result.output
    assert "is a symbolic link" in result.output
    if dangling:
        assert not target.exists()
    else:
        assert sorted(target.parent.rglob("*")) == sorted(
            [target, *([target / "zarr.json"] if folder else [])]
        )


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"DASKPAR_MODEL_KEY": "short"}, ("--save", "m.dp"), "5 bytes long"),
        ({"DASKPAR_MODEL_KEY": ""}, ("--checkpoint", "ck"), "DASKPAR_MODEL_KEY"),
        ({"DASKPAR_MODEL_KEY_FILE": "/nonexistent/key"}, (), "DASKPAR_MODEL_KEY_FILE"),
        ({}, ("--save", "m.dp", "--encrypt"), "--encrypt needs a key"),
    ],
)
def test_a_bad_model_key_is_refused_before_any_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: tuple[str, ...],
    message: str,
) -> None:
    """Not after the whole training, when the model is saved."""
    for name in list(os.environ):
        if name.startswith("DASKPAR_MODEL_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.zarr"
    data.mkdir()
    started: list[object] = []
    monkeypatch.setattr("daskpar._cli._training.cluster", lambda *a, **k: started.append(a))
    result = CliRunner().invoke(main, ["train", str(data), *args])
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert started == []
    assert not (tmp_path / "m.dp").exists()


def test_predictions_are_renamed_into_place_not_written_through_a_link(tmp_path: Path) -> None:
    """``predict --out``: a link planted at OUT after the options were checked (a race in a
    shared folder) makes the final rename fail; nothing is written where it leads."""
    import click
    import dask.array as da

    from daskpar._cli._context import write_store

    predictions = da.arange(10, chunks=5)
    out = tmp_path / "p.zarr"
    assert write_store(predictions, out) == out
    np.testing.assert_array_equal(zarr.open_array(str(out), path="predictions")[:], range(10))
    target = tmp_path / "theirs" / "planted"
    target.parent.mkdir()
    link = tmp_path / "q.zarr"
    link.symlink_to(target, target_is_directory=True)  # dangling: exists() is False
    with pytest.raises(click.ClickException, match="appeared while predicting"):
        write_store(predictions, link)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.zarr", "q.zarr", "theirs"]
