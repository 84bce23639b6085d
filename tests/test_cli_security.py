"""The command line's security side, end to end: saved models, score and predict, the audit
log, certificates, TLS options, and an embedded cluster that listens on loopback only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest
import zarr
from click.testing import CliRunner

from daskpar import audit
from daskpar._cli import cluster, main

EXE = str(Path(sys.executable).with_name("daskpar"))
KEY = "ab" * 32


def daskpar(
    *args: str, key: str | None = KEY, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "DASKPAR_"))}
    if key is not None:
        env["DASKPAR_MODEL_KEY"] = key
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False
    )


LOCAL = ("--workers", "2", "--dashboard-port", "0")


def test_train_save_score_predict_audit(tmp_path: Path) -> None:
    data, model, log, out = (tmp_path / n for n in ("d.zarr", "m.dp", "audit.log", "p.zarr"))
    made = daskpar("make-data", str(data), "--rows", "12000", "--features", "5",
                   "--chunk-rows", "1500")  # fmt: skip
    assert made.returncode == 0, made.stderr
    trained = daskpar("train", str(data), "--epochs", "1", "--save", str(model),
                      "--audit", str(log), *LOCAL)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert f"saved the model to {model}: signed, sha256 " in trained.stdout
    scored = daskpar("score", str(model), str(data), "--audit", str(log), *LOCAL)
    assert scored.returncode == 0, scored.stderr
    accuracy = float(scored.stdout.split("accuracy: ")[1].split()[0])
    assert 0.6 < accuracy <= 1.0
    predicted = daskpar("predict", str(model), str(data), "--out", str(out),
                        "--audit", str(log), *LOCAL)  # fmt: skip
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
    verified = daskpar("audit", "verify", str(log))
    assert verified.returncode == 0, verified.stderr
    assert "6 records, chain intact" in verified.stdout
    shown = daskpar("audit", "show", str(log))
    assert shown.returncode == 0
    assert "predict" in shown.stdout
    assert audit.verify(log).head in shown.stdout
    # A model file edited by one byte, or read with another key, is refused in one line.
    data_bytes = bytearray(model.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 1
    edited = tmp_path / "edited.dp"
    edited.write_bytes(bytes(data_bytes))
    for refused in (
        daskpar("score", str(edited), str(data), *LOCAL),
        daskpar("score", str(model), str(data), *LOCAL, key="cd" * 32),
        daskpar("score", str(model), str(data), *LOCAL, key=None),
    ):
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
    assert (tmp_path / "certs" / "dask-tls.yaml").exists()
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
    with cluster(None, 2, 0) as client:
        client.run(lambda: None)  # the workers are up
        procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
        listening = [
            (p.pid, c.laddr)
            for p in procs
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
    assert len(listening) >= 4  # scheduler, dashboard, 2 workers (and their nannies)
    assert {addr.ip for _, addr in listening} == {"127.0.0.1"}, listening


def test_the_tls_compose_override_requires_tls_everywhere(tmp_path: Path) -> None:
    """docker-compose.tls.yml: TLS addresses, the certificates mounted read-only from
    outside the image, and dask's settings from the file `daskpar certs --config-dir /certs`
    writes, which do require encryption and name files under /certs."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    base = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    tls = yaml.safe_load((root / "docker-compose.tls.yml").read_text())["services"]
    assert set(tls) == set(base)
    assert "--protocol" in tls["scheduler"]["command"]
    assert tls["scheduler"]["command"][tls["scheduler"]["command"].index("--protocol") + 1] == "tls"
    assert "tls://scheduler:8786" in tls["worker"]["command"]
    for name, service in tls.items():
        assert service["environment"]["DASK_CONFIG"] == "/certs/dask-tls.yaml", name
        assert any(v.endswith(":/certs:ro") for v in service["volumes"]), name
        if name in ("notebook", "client"):
            assert service["environment"]["DASK_SCHEDULER_ADDRESS"] == "tls://scheduler:8786"
    assert "certs" not in (root / "Dockerfile").read_text().lower()  # none baked in
    made = CliRunner().invoke(
        main, ["certs", str(tmp_path), "--host", "scheduler", "--config-dir", "/certs"]
    )
    assert made.exit_code == 0, made.output
    config = yaml.safe_load((tmp_path / "dask-tls.yaml").read_text())["distributed"]["comm"]
    assert config["require-encryption"] is True
    assert config["tls"]["ca-file"] == "/certs/ca.pem"
    assert config["tls"]["worker"]["cert"] == "/certs/worker.pem"
