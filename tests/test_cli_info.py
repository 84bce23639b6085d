"""``daskpar info`` and ``daskpar._cluster_check.info``: what a real cluster is.

Against ``dask scheduler`` and two ``dask worker`` processes (the ``scheduler_address``
fixture), what is printed is compared with what distributed itself reports (the workers,
their threads and memory), with ``importlib.metadata`` here (the versions) and with
``os.path.exists`` run on every worker (the paths); TLS and the dashboard against daskpar's
own local cluster.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import pytest
from dask.utils import format_bytes
from daskpar_testing import invoke, one_line_error, succeeded
from distributed import Client

import daskpar as dp
from daskpar._cluster_check import PACKAGES, ClusterInfo, info
from daskpar.errors import DaskparError


def versions_row(host: str) -> list[str]:
    return [host, *(version(name) for name in PACKAGES)]


def test_info_prints_the_cluster_and_which_paths_every_worker_sees(
    scheduler_address: str, tmp_path: Path
) -> None:
    data = tmp_path / "data.zarr"
    data.mkdir()
    shown = succeeded(invoke("info", "--scheduler", scheduler_address, str(data))).stdout
    with Client(scheduler_address) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    threads = sum(w["nthreads"] for w in workers.values())
    lines = shown.splitlines()
    assert f"scheduler: {scheduler_address}" in lines
    assert "TLS: off" in lines
    assert f"workers: {len(workers)} ({threads} threads)" in lines
    assert "versions: the same everywhere" in lines
    rows = [line.split() for line in lines]
    for address, w in workers.items():
        assert [
            address,
            w["host"],
            str(w["nthreads"]),
            *format_bytes(w["memory_limit"]).split(),
        ] in rows
        assert versions_row(address) in rows
    assert versions_row("client") in rows
    assert versions_row("scheduler") in rows
    assert [str(data), "yes", "-"] in rows

    # A path no worker sees: all of it is printed, then a one-line error that names it.
    missing = tmp_path / "no-such-data"
    failed = invoke("info", "--scheduler", scheduler_address, str(data), str(missing))
    error = one_line_error(failed)
    assert error == f"Error: {missing} is not seen by worker {', '.join(sorted(workers))}."
    assert [str(missing), "no", ", ".join(sorted(workers))] in [
        [part.strip() for part in line.split("  ") if part.strip()]
        for line in failed.stdout.splitlines()
    ]


def test_info_function_matches_what_distributed_reports(
    scheduler_address: str, tmp_path: Path
) -> None:
    odd = tmp_path / "a <b> & c"
    odd.mkdir()
    missing = str(tmp_path / "missing")
    with Client(scheduler_address) as client:
        found = info(client, [str(odd), missing])
        workers = client.scheduler_info(n_workers=-1)["workers"]
        dashboard = client.dashboard_link
        assert found.paths == {
            str(odd): client.run(os.path.exists, str(odd)),
            missing: client.run(os.path.exists, missing),
        }
    assert found.paths[missing] == dict.fromkeys(workers, False)
    assert found.workers == {
        a: {
            "host": w["host"],
            "name": w["name"],
            "threads": w["nthreads"],
            "memory": w["memory_limit"],
        }
        for a, w in workers.items()
    }
    here = {name: version(name) for name in PACKAGES}
    assert found.versions == {"client": here, "scheduler": here, **dict.fromkeys(workers, here)}
    assert found.mismatches == {}
    assert found.tls is False
    assert found.dashboard == dashboard
    assert f"dashboard: {dashboard}" in repr(found)
    # In a notebook: the same, as HTML, with the path escaped.
    page = found._repr_html_()
    assert html_escaped(str(odd)) in page
    assert str(odd) not in page
    assert all(f"<td>{address}</td>" in page for address in workers)


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_info_of_a_tls_cluster_shows_tls_and_its_dashboard() -> None:
    with (
        dp.local_cluster(1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        found = info(client)
        assert found.tls is True
        assert found.scheduler == cluster.scheduler_address
        assert found.dashboard == client.dashboard_link
        assert f"dashboard: {client.dashboard_link}" in repr(found)
        assert "TLS: on" in repr(found)
    assert isinstance(found, ClusterInfo)


def test_info_without_a_client_says_how_to_get_one() -> None:
    with pytest.raises(DaskparError, match=r"needs a cluster: connect a distributed\.Client"):
        info()


def test_tls_options_need_a_scheduler(tmp_path: Path) -> None:
    file = tmp_path / "x.pem"
    file.write_text("")
    tls = ["--tls-ca-file", str(file), "--tls-cert", str(file), "--tls-key", str(file)]
    error = one_line_error(invoke("info", *tls), code=2)
    assert "--tls-* options are for a --scheduler tls://HOST:PORT" in error


def test_info_on_the_embedded_cluster() -> None:
    shown = succeeded(invoke("info", "--workers", "1", "--dashboard-port", "0")).stdout
    assert "TLS: on" in shown
    assert "workers: 1 (1 threads)" in shown
    assert "scheduler: tls://127.0.0.1:" in shown
