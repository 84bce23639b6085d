"""Certificates: made as documented, chained to their CA, and a TLS cluster that refuses strangers.

The cluster is a real one: ``dask scheduler`` and ``dask worker`` as separate processes on
127.0.0.1, with TLS required everywhere. A client with the CA's client certificate trains on
it; a plaintext client, a client without a certificate, with one from another CA or with an
expired one cannot connect, and a worker with another CA's certificate cannot register. Only
the refusal is asserted (the exception type depends on where the handshake fails). Each role's
Dask configuration names that role's key only, and the commands ``daskpar certs`` prints
listen on the address it was given, never on every interface.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dask
import psutil
import pytest
import yaml
from click.testing import CliRunner
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from daskpar_testing import tls_paths
from distributed import Client, Security, get_task_stream
from distributed.cli.dask_scheduler import main as dask_scheduler
from distributed.cli.dask_worker import main as dask_worker
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import audit
from daskpar._cli import main
from daskpar._sklearn_compat import InvalidParameterError
from daskpar.tls import CONFIG_FILES, ROLES, TLSFiles, issue_certificate, make_certificates

BIN = Path(sys.executable).parent
#: Every process of the cluster requires encryption, as the generated configuration does.
ENV = {**os.environ, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
REFUSED_WITHIN = 5.0  # seconds


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# --------------------------------------------------------------------------------------------
# The files


def test_files_and_modes(tmp_path: Path) -> None:
    files = make_certificates(tmp_path / "certs")
    assert files.directory.stat().st_mode & 0o777 == 0o700
    names = {"ca.pem", "ca-key.pem"} | {
        f"{role}{suffix}" for role in ROLES for suffix in (".pem", "-key.pem")
    }
    names |= {f"dask-tls-{role}.yaml" for role in ROLES}
    assert set(CONFIG_FILES.values()) == {f"dask-tls-{role}.yaml" for role in ROLES}
    assert set(os.listdir(files.directory)) == names
    for name in names:
        mode = (files.directory / name).stat().st_mode & 0o777
        assert mode == (0o600 if name.endswith("-key.pem") else 0o644), name


def test_the_certificates_chain_to_the_ca(tmp_path: Path) -> None:
    files = make_certificates(tmp_path / "certs", hosts=("127.0.0.1", "scheduler"), days=30)
    other = make_certificates(tmp_path / "other")
    ca = load_cert(files.ca_file)
    ca.verify_directly_issued_by(ca)  # self-signed
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for role in ROLES:
        cert = load_cert(files.cert(role))
        cert.verify_directly_issued_by(ca)  # raises if the signature is not the CA's
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
            f"daskpar-{role}"
        )
        lifetime = cert.not_valid_after_utc - datetime.now(UTC)
        assert timedelta(days=29) < lifetime <= timedelta(days=30)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
        assert (ExtendedKeyUsageOID.SERVER_AUTH in usages) is (role != "client")
        key = serialization.load_pem_private_key(files.key(role).read_bytes(), password=None)
        assert key.public_key() == cert.public_key()
        with pytest.raises((ValueError, InvalidSignature)):  # another CA did not issue it
            load_cert(other.cert(role)).verify_directly_issued_by(ca)
    names = load_cert(files.cert("scheduler")).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["scheduler"]
    assert [str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_configuration_names_its_own_key_only(tmp_path: Path, role: str) -> None:
    files = make_certificates(tmp_path / "certs")
    config = yaml.safe_load(files.config_file(role).read_text())
    assert files.config_file(role).name == f"dask-tls-{role}.yaml"
    comm = config["distributed"]["comm"]
    assert comm["require-encryption"] is True
    assert comm["default-scheme"] == "tls"
    assert config == {"distributed": {"comm": {**comm}}}
    assert comm["tls"] == {
        "ca-file": str(files.ca_file.resolve()),
        role: {"cert": str(files.cert(role).resolve()), "key": str(files.key(role).resolve())},
    }
    # No other role's key, and never the CA's.
    assert tls_paths(config) == {str(p.resolve()) for p in files.needed_by(role)[:3]}
    assert str(files.ca_key.resolve()) not in files.config_file(role).read_text()
    assert files.config(role) == {
        "distributed.comm.default-scheme": "tls",
        "distributed.comm.require-encryption": True,
        "distributed.comm.tls.ca-file": str(files.ca_file.resolve()),
        f"distributed.comm.tls.{role}.cert": str(files.cert(role).resolve()),
        f"distributed.comm.tls.{role}.key": str(files.key(role).resolve()),
    }
    with dask.config.set(files.config(role)):
        security = Security()
    assert security.require_encryption
    assert security.tls_ca_file == str(files.ca_file.resolve())
    for other in ROLES:
        cert, key = (getattr(security, f"tls_{other}_{kind}") for kind in ("cert", "key"))
        if other == role:
            assert (cert, key) == (str(files.cert(role).resolve()), str(files.key(role).resolve()))
        else:
            assert (cert, key) == (None, None), other


def test_inside_containers_the_configurations_name_the_mount_point(tmp_path: Path) -> None:
    files = make_certificates(tmp_path / "compose", config_directory="/certs")
    for role in ROLES:
        config = yaml.safe_load(files.config_file(role).read_text())
        assert tls_paths(config) == {f"/certs/{p.name}" for p in files.needed_by(role)[:3]}
        assert config["distributed"]["comm"]["tls"][role] == {
            "cert": f"/certs/{role}.pem",
            "key": f"/certs/{role}-key.pem",
        }
    assert files.config("worker", directory="/elsewhere")["distributed.comm.tls.ca-file"] == (
        "/elsewhere/ca.pem"
    )


def test_what_each_role_needs(tmp_path: Path) -> None:
    files = make_certificates(tmp_path / "certs")
    for role in ROLES:
        needed = files.needed_by(role)
        assert [p.name for p in needed] == [
            "ca.pem", f"{role}.pem", f"{role}-key.pem", f"dask-tls-{role}.yaml"
        ]  # fmt: skip
        assert all(p.is_file() for p in needed)
        assert files.ca_key not in needed
    # Between them the roles need every file but the CA's key.
    given = {p.name for role in ROLES for p in files.needed_by(role)}
    assert given == set(os.listdir(files.directory)) - {"ca-key.pem"}


@pytest.mark.parametrize("method", ["config", "config_file", "needed_by"])
def test_an_unknown_role_is_refused(method: str) -> None:
    with pytest.raises(
        InvalidParameterError,
        match=rf"The 'role' parameter of TLSFiles\.{method} must be a str among "
        r"\{'client', 'scheduler', 'worker'\}\. Got 'admin' instead\.",
    ):
        getattr(TLSFiles("certs"), method)("admin")


def test_overwrite_removes_the_configuration_with_every_key(tmp_path: Path) -> None:
    """Earlier versions wrote one dask-tls.yaml naming every role's key."""
    make_certificates(tmp_path)
    (tmp_path / "dask-tls.yaml").write_text("distributed: {}\n")
    make_certificates(tmp_path, overwrite=True)
    assert not (tmp_path / "dask-tls.yaml").exists()


def test_existing_files_are_kept_unless_asked(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    before = files.ca_file.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_certificates(tmp_path)
    assert files.ca_file.read_bytes() == before
    make_certificates(tmp_path, overwrite=True)
    assert files.ca_file.read_bytes() != before
    assert files.key("client").stat().st_mode & 0o777 == 0o600


def test_issue_a_certificate_per_user(tmp_path: Path) -> None:
    files = make_certificates(tmp_path)
    cert, key = issue_certificate(tmp_path, "alice", days=7)
    assert key.stat().st_mode & 0o777 == 0o600
    load_cert(cert).verify_directly_issued_by(load_cert(files.ca_file))
    assert load_cert(cert).subject.rfc4514_string() == "CN=alice,O=daskpar"
    with pytest.raises(ValueError, match="certificate name"):
        issue_certificate(tmp_path, "../alice")
    with pytest.raises(InvalidParameterError, match="'role' parameter"):
        issue_certificate(tmp_path, "bob", role="admin")  # type: ignore[arg-type]
    # The audit log names the holder of a client certificate.
    with dask.config.set({"distributed.comm.tls.client.cert": str(cert)}):
        assert audit.current_user() == "CN=alice,O=daskpar"


def test_an_embedded_tls_cluster(tmp_path: Path) -> None:
    """The certificates serve a LocalCluster too: every connection in it is TLS."""
    from distributed import LocalCluster

    files = make_certificates(tmp_path)
    with (
        LocalCluster(
            n_workers=1,
            processes=False,
            protocol="tls",
            host="127.0.0.1",
            dashboard_address=None,
            security=files.local_security(),
        ) as local,
        Client(local) as client,
    ):
        assert local.scheduler_address.startswith("tls://127.0.0.1:")
        assert all(w.startswith("tls://") for w in client.scheduler_info()["workers"])
        assert client.submit(sum, [1, 2]).result() == 3
        assert_refused(local.scheduler_address.replace("tls://", "tcp://"), Security())


# --------------------------------------------------------------------------------------------
# A TLS cluster of separate processes


def signed_by(files: TLSFiles, name: str, *, not_after: datetime, directory: Path) -> TLSFiles:
    """A client certificate signed by ``files``' CA, valid until ``not_after``, in
    ``directory`` with ``files``' CA (so that ``TLSFiles(directory).security(name)`` uses it)."""
    ca = load_cert(files.ca_file)
    ca_key: Any = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=30))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(exist_ok=True)
    out = TLSFiles(directory)
    out.ca_file.write_bytes(files.ca_file.read_bytes())
    out.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key(name).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


def start(*args: str, output: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "dask"), *args], env=ENV, stdout=output, stderr=subprocess.STDOUT
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)


def worker_args(address: str) -> list[str]:
    return ["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A TLS scheduler and worker; and a worker with another CA's certificate, trying."""
    root = tmp_path_factory.mktemp("tls")
    files, other = make_certificates(root / "certs"), make_certificates(root / "other")
    scheduler_file = root / "scheduler.json"
    procs = [
        start(
            "scheduler",
            "--protocol",
            "tls",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            *files.cli_args("scheduler"),
        )
    ]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(start(*worker_args(address), "--no-nanny", *files.cli_args("worker")))
        # It gives up after --death-timeout seconds of not being let in.
        intruder = start(
            *worker_args(address),
            "--no-nanny",
            "--death-timeout",
            "4",
            *other.cli_args("worker"),
            output=subprocess.PIPE,
        )
        procs.append(intruder)
        yield {
            "address": address,
            "files": files,
            "other": other,
            "root": root,
            "intruder": intruder,
        }
    finally:
        stop(procs)


def test_the_addresses_are_tls_on_loopback(cluster: dict[str, Any]) -> None:
    assert cluster["address"].startswith("tls://127.0.0.1:")


@pytest.mark.slow
def test_a_tls_cluster_of_separate_processes_trains(cluster: dict[str, Any]) -> None:
    files = cluster["files"]
    with Client(cluster["address"], security=files.security(), timeout=10) as client:
        client.wait_for_workers(1, timeout=30)
        X, y = dp.make_classification(n_samples=4000, n_features=6, chunks=1000, random_state=0)
        with get_task_stream(client) as tasks:
            model = dp.ParallelIncremental(
                SGDClassifier(random_state=0), epochs=1, random_state=0
            ).fit(X, y)
        assert tasks.data, "the tasks ran on the cluster's worker"
        assert {t["worker"] for t in tasks.data} <= set(client.scheduler_info()["workers"])
        assert model.score(X, y) > 0.7
        # Under TLS, the audit log's user is the client certificate's subject.
        assert audit.current_user() == "CN=daskpar-client,O=daskpar"


async def connect(address: str, security: Security) -> None:
    client = Client(
        address, security=security, asynchronous=True, timeout=REFUSED_WITHIN, set_as_default=False
    )
    try:
        await client
    finally:
        await client.close()


def assert_refused(address: str, security: Security) -> None:
    started = time.monotonic()
    # CommClosedError, SSLError or TimeoutError, with messages that depend on where the
    # handshake fails: all are OSError.
    with pytest.raises(OSError):  # noqa: PT011
        asyncio.run(connect(address, security))
    assert time.monotonic() - started < REFUSED_WITHIN + 2


def test_the_right_client_connects_the_same_way(cluster: dict[str, Any]) -> None:
    """The control of the refusals below: the same connection, with the right certificate."""
    asyncio.run(connect(cluster["address"], cluster["files"].security()))
    fresh = signed_by(
        cluster["files"],
        "fresh",
        not_after=datetime.now(UTC) + timedelta(days=1),
        directory=cluster["root"] / "fresh",
    )
    asyncio.run(connect(cluster["address"], fresh.security("fresh")))


def test_a_plaintext_client_cannot_connect(cluster: dict[str, Any]) -> None:
    assert_refused(cluster["address"].replace("tls://", "tcp://"), Security())


class NoCertificate(Security):  # type: ignore[misc]
    """A client that checks the scheduler's certificate but presents none of its own."""

    def __init__(self, ca_file: Path) -> None:
        super().__init__(require_encryption=True)
        self.ca = str(ca_file)

    def get_connection_args(self, role: str) -> dict[str, Any]:
        context = ssl.create_default_context(cafile=self.ca)
        context.check_hostname = False
        return {"ssl_context": context, "require_encryption": True, "extra_conn_args": {}}


def test_a_client_without_a_certificate_cannot_connect(cluster: dict[str, Any]) -> None:
    assert_refused(cluster["address"], NoCertificate(cluster["files"].ca_file))


def test_a_client_of_another_ca_cannot_connect(cluster: dict[str, Any]) -> None:
    assert_refused(cluster["address"], cluster["other"].security())


def test_an_expired_certificate_is_refused(cluster: dict[str, Any]) -> None:
    expired = signed_by(
        cluster["files"],
        "expired",
        not_after=datetime.now(UTC) - timedelta(days=1),
        directory=cluster["root"] / "expired",
    )
    assert_refused(cluster["address"], expired.security("expired"))


def test_a_worker_of_another_ca_cannot_register(cluster: dict[str, Any]) -> None:
    intruder = cluster["intruder"]
    output, _ = intruder.communicate(timeout=60)
    assert intruder.returncode != 0, output.decode(errors="replace")[-2000:]
    with Client(cluster["address"], security=cluster["files"].security(), timeout=10) as client:
        workers = client.scheduler_info()["workers"]
    assert len(workers) == 1, workers


@pytest.mark.slow
def test_the_cli_trains_on_the_tls_cluster_with_its_options(cluster: dict[str, Any]) -> None:
    """`daskpar train DATA --scheduler tls://... --tls-ca-file/--tls-cert/--tls-key`; the same
    command without the certificate options cannot connect, and says so in one line."""
    files, root = cluster["files"], cluster["root"]
    exe = str(Path(sys.executable).with_name("daskpar"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "DASKPAR_"))}
    X, y = dp.make_classification(n_samples=6000, n_features=5, chunks=1000, random_state=0)
    dp.write_zarr(root / "cli.zarr", X, y, overwrite=True)
    tls = ["--tls-ca-file", str(files.ca_file), "--tls-cert", str(files.cert("client")),
           "--tls-key", str(files.key("client"))]  # fmt: skip
    base = [
        exe,
        "train",
        str(root / "cli.zarr"),
        "--epochs",
        "1",
        "--scheduler",
        cluster["address"],
    ]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *extra], capture_output=True, text=True, timeout=120, env=env, check=False
        )

    trained = run(*tls)
    assert trained.returncode == 0, trained.stderr
    assert f"workers at {cluster['address']}" in trained.stdout
    assert "validation accuracy" in trained.stdout
    refused = run()
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert "needs the cluster's certificates" in refused.stderr.splitlines()[-1]


# --------------------------------------------------------------------------------------------
# The commands `daskpar certs` prints


def printed_commands(output: str) -> dict[str, list[str]]:
    """The commands in ``daskpar certs``' output, by their first two words."""
    commands = {}
    for line in output.splitlines():
        if line.startswith("    "):
            args = shlex.split(line)
            commands[" ".join(args[:2])] = args
    return commands


@pytest.mark.parametrize(
    ("host", "address"), [("10.0.0.5", "tls://10.0.0.5:8786"), ("::1", "tls://[::1]:8786")]
)
def test_certs_prints_commands_bound_to_the_given_host(
    tmp_path: Path, host: str, address: str
) -> None:
    directory = tmp_path / "certs"
    made = CliRunner().invoke(main, ["certs", str(directory), "--host", host, "--host", "sched"])
    assert made.exit_code == 0, made.output
    assert "0.0.0.0" not in made.output
    files = TLSFiles(directory)
    commands = printed_commands(made.output)
    assert set(commands) == {"dask scheduler", "dask worker", "daskpar train"}
    # distributed's own command lines parse them (and find the files they name).
    scheduler = dask_scheduler.make_context("dask scheduler", commands["dask scheduler"][2:])
    assert scheduler.params["protocol"] == "tls"
    assert scheduler.params["host"] == host
    assert str(scheduler.params["port"]) == "8786"
    assert scheduler.params["dashboard_address"] == "127.0.0.1:8787"
    worker = dask_worker.make_context("dask worker", commands["dask worker"][2:])
    assert worker.params["scheduler"] == address
    assert worker.params["host"] == host
    assert worker.params["dashboard_address"] == "127.0.0.1:0"
    train = commands["daskpar train"]
    assert train[train.index("--scheduler") + 1] == address
    # Each command names its own role's certificate and key, and no other key.
    for role, params in (("scheduler", scheduler.params), ("worker", worker.params)):
        assert params["tls_ca_file"] == str(files.ca_file)
        assert params["tls_cert"] == str(files.cert(role))
        assert params["tls_key"] == str(files.key(role))
    assert train[train.index("--tls-key") + 1] == str(files.key("client"))
    for args in commands.values():
        assert len([a for a in args if a.endswith("-key.pem")]) == 1, args
        assert str(files.ca_key) not in args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_printed_commands_listen_on_the_given_host_only(tmp_path: Path) -> None:
    """The scheduler and a worker (with its nanny) started exactly as printed, on free ports:
    the worker joins, and every socket they listen on is bound to 127.0.0.1, the first host."""
    made = CliRunner().invoke(main, ["certs", str(tmp_path / "certs"), "--host", "127.0.0.1"])
    assert made.exit_code == 0, made.output
    files = TLSFiles(tmp_path / "certs")
    ports = {"8786": str(free_port()), "8787": str(free_port())}

    def on_free_ports(args: list[str]) -> list[str]:
        out = []
        for arg in args:
            for fixed, free in ports.items():
                arg = arg if arg.startswith("/") else arg.replace(fixed, free)
            out.append(arg)
        return out

    commands = printed_commands(made.output)
    procs = [start(*on_free_ports(commands["dask scheduler"][1:]))]
    try:
        procs.append(start(*on_free_ports(commands["dask worker"][1:])))
        address = f"tls://127.0.0.1:{ports['8786']}"
        with Client(address, security=files.security(), timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            # The nanny, the worker it started, and their dashboards and listeners too.
            everything = [p for proc in procs for p in psutil.Process(proc.pid).children(True)]
            everything += [psutil.Process(proc.pid) for proc in procs]
            listening = [
                (p.pid, c.laddr)
                for p in everything
                for c in p.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            ]
    finally:
        stop(procs)
    assert len(listening) >= 4  # scheduler, its dashboard, nanny, worker (and its dashboard)
    assert {addr.ip for _, addr in listening} == {"127.0.0.1"}, listening
    assert {addr.port for _, addr in listening} >= {int(p) for p in ports.values()}


def test_a_folder_another_user_owns_or_may_write_is_refused(tmp_path: Path) -> None:
    """Keys written into a folder that another user owns (or may write) are not private:
    its owner could read them, or put a file or link in their place first."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="others may write"):
        make_certificates(shared)
    assert list(shared.iterdir()) == []
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PermissionError, match="is a link"):
        make_certificates(link)
    if os.geteuid() == 0:  # a folder of another user's (nobody's), mode 0700
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
        with pytest.raises(PermissionError, match="another user"):
            make_certificates(theirs)


def test_overwrite_replaces_a_planted_file_or_link_instead_of_writing_through_it(
    tmp_path: Path,
) -> None:
    certs = tmp_path / "certs"
    make_certificates(certs)
    target = tmp_path / "target"
    target.write_text("theirs")
    (certs / "ca-key.pem").unlink()
    (certs / "ca-key.pem").symlink_to(target)
    make_certificates(certs, overwrite=True)
    assert target.read_text() == "theirs"
    assert not (certs / "ca-key.pem").is_symlink()
    assert (certs / "ca-key.pem").stat().st_mode & 0o777 == 0o600
