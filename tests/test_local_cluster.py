"""The embedded cluster against another user of the same machine.

Anything that can talk to a Dask scheduler, or to a worker or nanny directly, can run code as
the user who started them. The clusters daskpar starts (``dp.local_cluster``, the CLI's) speak
TLS with certificates made in memory for them alone, so a process that does not hold them, such
as another local user's, is refused at every port. The attacker here is a separate process, run
as uid 65534 (``setpriv``) when the tests run as root, else as this user without the
certificates; it tries plain TCP and TLS with a certificate of another CA on every port the
cluster's processes listen on. A plain LocalCluster is attacked the same way first, so that the
attack is known to work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from daskpar_testing import kept_open
from distributed import Client

import daskpar as dp

NOBODY = 65534

#: Connects to each address given, as a client of the Dask protocol, and asks it who it is
#: (the ``identity`` handler every scheduler, worker and nanny has): an answer means a client
#: that could as well have asked it to run code.
ATTACK = textwrap.dedent(
    """
    import asyncio, json, sys
    from distributed import Security
    from distributed.comm import connect

    async def ask(address, security):
        kwargs = security.get_connection_args("client") if security else {}
        comm = await connect(address, timeout=5, **kwargs)
        await comm.write({"op": "identity", "reply": True})
        answer = await comm.read()
        await comm.close()
        return "answered: " + str(answer.get("type"))

    async def attempt(address, security):
        try:  # bounded: a port that speaks HTTP (a dashboard) never answers
            return await asyncio.wait_for(ask(address, security), 10)
        except Exception as error:
            return "refused: " + type(error).__name__

    async def main():
        certs, addresses = sys.argv[1], sys.argv[2:]
        foreign = Security(
            tls_ca_file=certs + "/ca.pem",
            tls_client_cert=certs + "/client.pem",
            tls_client_key=certs + "/client-key.pem",
        )
        tries = [
            (host_port, scheme, attempt(scheme + "://" + host_port, security))
            for host_port in addresses
            for scheme, security in (("tcp", None), ("tls", foreign))
        ]
        answers = await asyncio.gather(*(coroutine for _, _, coroutine in tries))
        out = {}
        for (host_port, scheme, _), answer in zip(tries, answers):
            out.setdefault(host_port, {})[scheme] = answer
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def _as_another_user() -> list[str]:
    """The command prefix that runs a program as another local user, if this one can."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv:
        return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return []


@pytest.fixture(scope="module")
def attacker() -> Iterator[tuple[list[str], Path]]:
    """The attacker's command prefix, and a folder it can read with another CA's client
    certificate (a certificate that is valid, only not of the cluster's CA)."""
    from distributed import Security

    folder = Path(tempfile.mkdtemp(prefix="daskpar-attacker-"))
    try:
        # A CA and a client certificate of its own, as PEM text (Security keeps them in
        # memory), written where the attacker can read them.
        foreign = Security.temporary()
        certs = folder / "certs"
        certs.mkdir()
        for name, pem in [
            ("ca.pem", foreign.tls_ca_file),
            ("client.pem", foreign.tls_client_cert),
            ("client-key.pem", foreign.tls_client_key),
        ]:
            (certs / name).write_text(pem)
        for path in [folder, certs, *certs.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        prefix = _as_another_user()
        if prefix:  # the other user must be able to run this Python and read its packages
            check = subprocess.run(
                [*prefix, sys.executable, "-c", "import distributed"], capture_output=True
            )
            if check.returncode != 0:
                prefix = []
        yield prefix, certs
    finally:
        shutil.rmtree(folder)


def attack(attacker: tuple[list[str], Path], addresses: list[str]) -> dict[str, dict[str, str]]:
    prefix, certs = attacker
    done = subprocess.run(
        [*prefix, sys.executable, "-c", ATTACK, str(certs), *addresses],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/"},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, dict[str, str]] = json.loads(done.stdout)
    return result


def listening(pids: list[int]) -> list[str]:
    """The ``host:port`` each of these processes listens on (TCP)."""
    out = []
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                out.append(f"{conn.laddr.ip}:{conn.laddr.port}")
    return sorted(out)


def test_the_attack_works_on_a_plain_local_cluster(
    attacker: tuple[list[str], Path],
) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        assert attack(attacker, [address])[address]["tcp"] == "answered: Scheduler"


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_local_cluster_refuses_another_user_at_every_port(
    attacker: tuple[list[str], Path],
) -> None:
    import dask.array as da
    from distributed import Client

    with dp.local_cluster(2) as cluster, Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        assert float(da.ones(10, chunks=5).sum().compute()) == 10.0  # its own client works
        workers = [p.pid for p in psutil.Process().children(recursive=True)]
        ports = listening([os.getpid(), *workers])
        dashboard = client.dashboard_link.split("/")[2]
        addresses = [a for a in ports if a != dashboard]
        scheduler = cluster.scheduler_address.removeprefix("tls://")
        assert scheduler in addresses
        assert len(addresses) >= 5  # the scheduler, and each worker's and nanny's port
        assert all(a.startswith("127.0.0.1:") for a in ports)
        results = attack(attacker, addresses)
    assert all(r.startswith("refused") for tried in results.values() for r in tried.values()), (
        results
    )


def test_local_cluster_sets_its_own_address_and_security() -> None:
    with pytest.raises(TypeError, match=r"sets \['host'\] itself"):
        dp.local_cluster(1, host="0.0.0.0")


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_the_cli_cluster_refuses_another_user(
    attacker: tuple[list[str], Path], tmp_path: Path
) -> None:
    """``daskpar train --keep-open``: the embedded cluster, up, attacked from outside."""
    store = tmp_path / "data.zarr"
    X, y = dp.make_classification(2000, 5, chunks=1000, random_state=0)
    dp.write_zarr(store, X, y)
    args = ["train", str(store), "--epochs", "1", "--workers", "2", "--dashboard-port", "0"]
    with kept_open(*args) as (proc, lines):
        found = re.search(r"workers at tls://(127\.0\.0\.1:\d+)", "".join(lines))
        assert found, lines
        tree = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
        addresses = listening(tree)
        assert found.group(1) in addresses
        results = attack(attacker, addresses)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert all(r.startswith("refused") for tried in results.values() for r in tried.values()), (
        results
    )


def test_the_scratch_folder_is_private_not_a_shared_one_planted_first() -> None:
    """distributed's default scratch folder, ``$TMPDIR/dask-scratch-space``, is reused
    whoever made it and put first on ``sys.path``: a module planted there by another user
    would be imported by the client, the scheduler and the workers. local_cluster() works
    in a folder of its own (0700), and removes it."""
    import stat
    import sys as client_sys

    shared = Path(tempfile.gettempdir()) / "dask-scratch-space"
    before = set(client_sys.path)  # other tests' in-process clusters may have added theirs
    with dp.local_cluster(2) as cluster, Client(cluster) as client:
        scheduler_dir = Path(cluster.scheduler.local_directory)
        worker_dirs = client.run(lambda dask_worker: dask_worker.local_directory)
        worker_paths = client.run(lambda: __import__("sys").path)
        private = Path(cluster.scheduler.local_directory)
        while not private.name.startswith("daskpar-cluster-"):
            private = private.parent
        info = private.stat()
        assert info.st_uid == os.geteuid()
        assert stat.S_IMODE(info.st_mode) == 0o700
        for directory in [scheduler_dir, *map(Path, worker_dirs.values())]:
            assert directory.is_relative_to(private), directory
        added = [p for p in client_sys.path if p not in before]
        assert any(Path(p).is_relative_to(private) for p in added)  # the scheduler's
        # Worker processes start with this process's sys.path (multiprocessing's spawn): what
        # other tests' clusters put there is theirs, not this cluster's.
        for path in [*added, *(p for ps in worker_paths.values() for p in ps if p not in before)]:
            assert not Path(path).is_relative_to(shared), path
    assert not private.exists()
