"""The docker-compose cluster: its files checked, and its commands run as local processes.

docker-compose.tls.yml is checked for least privilege: each service mounts ``ca.pem`` and its
own role's certificate, key and Dask configuration, one file at a time, never the certificates
folder nor the CA's key. docker-compose.s3.yml (for trying only) is checked for sharing no
folder: every service reaches moto's S3 server in the compose network through the ``AWS_*``
variables, and none mounts the host's data folder. The real run, with Docker, is ``make
compose-test`` (``scripts/compose-test.sh``, and ``COMPOSE_TLS=1`` or ``COMPOSE_S3=1`` for the
other variants); these tests need no Docker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from daskpar_testing import tls_paths

from daskpar.tls import ROLES, TLSFiles, make_certificates

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: The scheduler's ports inside the compose network, and the workers' dashboard port.
SCHEDULER_PORT, DASHBOARD_PORT, WORKER_DASHBOARD_PORT = 8786, 8787, 8789
DATA = "/data"


def interpolate(value: Any) -> Any:
    """``value`` with compose's ``${NAME:-default}`` replaced by the default, as with no .env."""
    if isinstance(value, str):

        def default(match: re.Match[str]) -> str:
            assert match.group(2) is not None, f"{match.group(0)} has no default"
            return match.group(2)

        return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", default, value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return interpolate(compose["services"])


def volume_paths(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts."""
    out = {}
    for spec in service.get("volumes", []):
        host, container, *_ = spec.split(":")
        out[container] = host
    return out


def option(command: list[str], name: str) -> str:
    """The value after ``name`` in a command."""
    return command[command.index(name) + 1]


def test_services_share_one_image(services: dict[str, Any]) -> None:
    assert set(services) == {"scheduler", "worker", "notebook", "client"}
    assert {s["image"] for s in services.values()} == {"daskpar:latest"}
    builds = [s["build"] for s in services.values()]
    assert all(b == builds[0] for b in builds)
    assert builds[0]["context"] == "."
    # The compose file's default base image is the Dockerfile's.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={builds[0]['args']['BASE_IMAGE']}\n" in dockerfile
    assert builds[0]["args"]["BASE_IMAGE"] == "python:3.11-slim"


def test_dockerfile_installs_the_project_in_a_venv_from_an_optional_wheelhouse() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python3 -m venv /opt/venv" in dockerfile
    assert "--no-index --find-links" in dockerfile
    assert "ARG EXTRAS=notebook" in dockerfile
    assert "ENV PATH=/opt/venv/bin:" in dockerfile
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "jupyterlab" in " ".join(extras["optional-dependencies"]["notebook"])
    # The build context holds only what the image installs: never .venv/ or data/.
    ignore = (ROOT / ".dockerignore").read_text().split("\n")
    assert ignore[ignore.index("*") :][:5] == [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!daskpar",
        "!wheelhouse",
    ]


def test_scheduler_workers_and_notebook(services: dict[str, Any]) -> None:
    scheduler, worker, notebook = (services[k] for k in ("scheduler", "worker", "notebook"))
    assert scheduler["command"][:2] == ["dask", "scheduler"]
    assert option(scheduler["command"], "--port") == str(SCHEDULER_PORT)
    assert option(scheduler["command"], "--dashboard-address") == f":{DASHBOARD_PORT}"
    # The workers find the scheduler by its service name.
    assert worker["command"][:3] == ["dask", "worker", f"tcp://scheduler:{SCHEDULER_PORT}"]
    assert option(worker["command"], "--nthreads") == "1"
    assert option(worker["command"], "--memory-limit") == "2GiB"
    # `--scale worker=N` needs copies that do not collide.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert notebook["command"][:2] == ["jupyter", "lab"]
    assert "--port=8888" in notebook["command"]
    assert volume_paths(notebook)["/notebooks"] == "./notebooks"
    for name in ("notebook", "client"):
        env = services[name]["environment"]
        assert env["DASK_SCHEDULER_ADDRESS"] == f"tcp://scheduler:{SCHEDULER_PORT}"
    # The client is for `docker compose run`, not started by `up`.
    assert services["client"]["profiles"] == ["client"]
    for name in ("worker", "notebook", "client"):
        assert services[name]["depends_on"]["scheduler"]["condition"] == "service_healthy"


def test_ports_are_published_on_localhost_only(services: dict[str, Any]) -> None:
    published = {
        name: sorted(service["ports"]) for name, service in services.items() if "ports" in service
    }
    assert published == {
        "scheduler": ["127.0.0.1:8786:8786", "127.0.0.1:8787:8787"],
        "notebook": ["127.0.0.1:8888:8888"],
    }


def test_data_is_mounted_at_the_same_path_everywhere(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert volume_paths(service)[DATA] == "./data", name
    assert services["client"]["working_dir"] == DATA


def test_health_checks_and_restart_policy(services: dict[str, Any]) -> None:
    health_urls = {}
    for name in ("scheduler", "worker", "notebook"):
        service = services[name]
        assert service["restart"] == "unless-stopped"
        test = service["healthcheck"]["test"]
        # Slim images have no curl: the image's own Python asks.
        assert test[:3] == ["CMD", "python", "-c"]
        health_urls[name] = re.findall(r"http://[^']+", test[3])
    assert health_urls == {
        "scheduler": [f"http://127.0.0.1:{DASHBOARD_PORT}/health"],
        "worker": [f"http://127.0.0.1:{WORKER_DASHBOARD_PORT}/health"],
        "notebook": ["http://127.0.0.1:8888/api"],
    }
    assert option(services["worker"]["command"], "--dashboard-address") == (
        f":{WORKER_DASHBOARD_PORT}"
    )
    assert services["client"]["restart"] == "no"


def test_the_scheduler_drops_a_frozen_worker_as_the_embedded_cluster_does(
    services: dict[str, Any],
) -> None:
    from daskpar._cli import EMBEDDED_WORKER_TTL

    setting = services["scheduler"]["environment"]["DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL"]
    assert setting == EMBEDDED_WORKER_TTL  # the default of ${DASKPAR_WORKER_TTL}


def compose_program() -> list[str] | None:
    """``docker compose`` or ``docker-compose``, whichever is installed."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def compose_config(*files: str) -> dict[str, Any]:
    """The services as ``docker compose [FILES] config`` resolves them (skipped without
    compose), with the project's defaults: none of the user's settings."""
    program = compose_program()
    if program is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASKPAR_", "COMPOSE_"))}
    env.pop("BASE_IMAGE", None)
    result = subprocess.run(
        [*program, *files, "--profile", "client", "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = yaml.safe_load(result.stdout)["services"]
    return services


def test_docker_compose_config_accepts_the_file() -> None:
    config = compose_config()
    assert set(config) == {"scheduler", "worker", "notebook", "client"}
    assert config["worker"]["command"][:3] == ["dask", "worker", "tcp://scheduler:8786"]
    assert config["scheduler"]["healthcheck"]["test"][:3] == ["CMD", "python", "-c"]
    # Bind mounts come back absolute: the same host folder at /data in every service.
    mounts = set()
    for service in config.values():
        for volume in service["volumes"]:
            if isinstance(volume, dict):
                source, target = volume["source"], volume["target"]
            else:
                source, target, *_ = volume.split(":")
            if target == DATA:
                mounts.add(source)
    assert mounts == {str(ROOT / "data")}


# ---------------------------------------------------------------------------------------------
# docker-compose.tls.yml: each service holds its own role's key only

#: The certificates folder on the host, ``${DASKPAR_CERTS:-./certs}``, and where each
#: service's files are mounted.
CERTS, MOUNT_POINT = "./certs", "/certs"
#: The role whose certificate each service holds: JupyterLab is a client.
ROLE_OF = {"scheduler": "scheduler", "worker": "worker", "notebook": "client", "client": "client"}


@pytest.fixture(scope="module")
def tls_services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.tls.yml").read_text())
    return interpolate(compose["services"])


def mounts(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Container path -> ``{"type", "source", "read_only"}`` of a service's volumes, in short
    (``host:container[:ro]``) or long syntax."""
    out = {}
    for spec in service.get("volumes", []):
        if isinstance(spec, str):
            source, target, *mode = spec.split(":")
            spec = {"type": "bind", "source": source, "target": target, "read_only": mode == ["ro"]}
        out[spec["target"]] = {
            "type": spec["type"],
            "source": spec.get("source", ""),  # a tmpfs has none
            "read_only": spec.get("read_only", False),
        }
    return out


def merged_mounts(base: dict[str, Any], override: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's mounts with both files: compose merges volumes by container path."""
    return {**mounts(base), **mounts(override)}


def from_certs(mounted: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Container path -> host path of the mounts that come from the certificates folder."""
    return {
        target: m["source"]
        for target, m in mounted.items()
        if Path(m["source"]) == Path(CERTS) or Path(CERTS) in Path(m["source"]).parents
    }


def test_the_tls_override_requires_tls_everywhere(
    services: dict[str, Any], tls_services: dict[str, Any]
) -> None:
    assert set(tls_services) == set(services) == set(ROLE_OF)
    scheduler = tls_services["scheduler"]["command"]
    assert scheduler[:2] == ["dask", "scheduler"]
    assert option(scheduler, "--protocol") == "tls"
    assert tls_services["worker"]["command"][:3] == ["dask", "worker", "tls://scheduler:8786"]
    for name in ("notebook", "client"):
        env = tls_services[name]["environment"]
        assert env["DASK_SCHEDULER_ADDRESS"] == f"tls://scheduler:{SCHEDULER_PORT}"
    assert "certs" not in (ROOT / "Dockerfile").read_text().lower()  # none baked in
    assert "certs/" in (ROOT / ".dockerignore").read_text().split("\n")  # nor sent to a build


def test_no_tls_service_mounts_the_certs_folder_or_the_ca_key(
    services: dict[str, Any], tls_services: dict[str, Any]
) -> None:
    for name in ROLE_OF:
        mounted = merged_mounts(services[name], tls_services[name])
        for target, m in mounted.items():
            assert "ca-key" not in m["source"], (name, target)
            assert "ca-key" not in target, (name, target)
            assert Path(m["source"]) != Path(CERTS), (name, target)
            assert target != MOUNT_POINT, name
        # What comes from the certificates folder: single files, bind-mounted read-only.
        for target, source in from_certs(mounted).items():
            assert Path(source).parent == Path(CERTS), (name, source)
            assert Path(target).parent == Path(MOUNT_POINT), (name, target)
            assert mounted[target]["type"] == "bind", (name, target)
            assert mounted[target]["read_only"] is True, (name, target)


@pytest.mark.parametrize("name", list(ROLE_OF))
def test_each_tls_service_mounts_the_ca_and_its_own_role_only(
    services: dict[str, Any], tls_services: dict[str, Any], name: str
) -> None:
    role = ROLE_OF[name]
    mounted = from_certs(merged_mounts(services[name], tls_services[name]))
    needed = TLSFiles(CERTS).needed_by(role)
    assert mounted == {f"{MOUNT_POINT}/{p.name}": f"{CERTS}/{p.name}" for p in needed}
    keys = {Path(target).name for target in mounted if target.endswith("-key.pem")}
    assert keys == {f"{role}-key.pem"}
    assert f"{MOUNT_POINT}/ca.pem" in mounted


@pytest.mark.parametrize("name", list(ROLE_OF))
def test_each_tls_service_reads_its_own_role_configuration(
    services: dict[str, Any], tls_services: dict[str, Any], name: str, tmp_path: Path
) -> None:
    """The configuration `daskpar certs --config-dir /certs` writes for the service's role
    names only files mounted in that service, and of keys only the role's own."""
    role = ROLE_OF[name]
    files = make_certificates(tmp_path, config_directory=MOUNT_POINT)
    env = tls_services[name]["environment"]
    assert env["DASK_CONFIG"] == f"{MOUNT_POINT}/{files.config_file(role).name}"
    mounted = merged_mounts(services[name], tls_services[name])
    assert env["DASK_CONFIG"] in mounted
    config = yaml.safe_load(files.config_file(role).read_text())
    comm = config["distributed"]["comm"]
    assert comm["require-encryption"] is True
    assert comm["default-scheme"] == "tls"
    named = tls_paths(config)
    assert named <= set(mounted), (name, named)
    assert {p for p in named if p.endswith("-key.pem")} == {f"{MOUNT_POINT}/{role}-key.pem"}


@pytest.mark.parametrize("role", ROLES)
def test_make_certificates_configurations_hold_their_own_role_key_only(
    tmp_path: Path, role: str
) -> None:
    files = make_certificates(tmp_path)
    config = yaml.safe_load(files.config_file(role).read_text())
    keys = {p for p in tls_paths(config) if p.endswith("-key.pem")}
    assert keys == {str(files.key(role).resolve())}
    assert str(files.ca_key.resolve()) not in files.config_file(role).read_text()


def test_docker_compose_config_accepts_the_tls_override_as_checked() -> None:
    """Compose itself merges the two files as :func:`merged_mounts` does."""
    config = compose_config("-f", "docker-compose.yml", "-f", "docker-compose.tls.yml")
    certs = ROOT / "certs"
    for name, role in ROLE_OF.items():
        mounted = mounts(config[name])
        assert mounted[DATA]["source"] == str(ROOT / "data"), name
        given = {
            target: m
            for target, m in mounted.items()
            if Path(m["source"]) == certs or certs in Path(m["source"]).parents
        }
        assert {t: m["source"] for t, m in given.items()} == {
            f"{MOUNT_POINT}/{p.name}": str(certs / p.name) for p in TLSFiles(certs).needed_by(role)
        }, name
        assert all(m["read_only"] for m in given.values()), name
        assert config[name]["environment"]["DASK_CONFIG"] == f"{MOUNT_POINT}/dask-tls-{role}.yaml"


# ---------------------------------------------------------------------------------------------
# docker-compose.s3.yml: no folder shared, the data in moto's S3 server (for trying only)

#: The S3 service's endpoint in the compose network.
S3_ENDPOINT = "http://s3:5000"


@pytest.fixture(scope="module")
def s3_compose() -> dict[str, Any]:
    compose: dict[str, Any] = interpolate(
        yaml.safe_load((ROOT / "docker-compose.s3.yml").read_text())
    )
    return compose


def test_the_s3_override_builds_one_image_with_the_test_extras_s3fs_and_moto(
    services: dict[str, Any], s3_compose: dict[str, Any]
) -> None:
    s3_services = s3_compose["services"]
    assert set(s3_services) == set(services) | {"s3"}
    # One image for every service, the S3 server's included: the same library versions.
    assert {s["image"] for s in s3_services.values()} == {"daskpar:s3"}
    build = s3_compose["x-build"]
    assert all(s["build"] == build for s in s3_services.values())
    assert build["context"] == services["scheduler"]["build"]["context"] == "."
    assert build["args"]["BASE_IMAGE"] == services["scheduler"]["build"]["args"]["BASE_IMAGE"]
    # What the image adds: exactly the test extra's s3fs and moto[server], which the tests run.
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["test"]
    assert build["args"]["PACKAGES"].split() == [
        r for r in test_extra if r.startswith(("s3fs", "moto[server]"))
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG PACKAGES=\n" in dockerfile
    assert 'pip install "$@" "/src[$EXTRAS]" $PACKAGES;' in dockerfile


def test_the_s3_service_is_moto_reached_inside_the_compose_network_only(
    s3_compose: dict[str, Any],
) -> None:
    s3 = s3_compose["services"]["s3"]
    assert s3["command"] == ["moto_server", "-H", "0.0.0.0", "-p", "5000"]
    assert "ports" not in s3
    assert "volumes" not in s3
    test = s3["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert re.findall(r"http://[^']+", test[3]) == ["http://127.0.0.1:5000/moto-api/"]
    assert S3_ENDPOINT.endswith(f":{option(s3['command'], '-p')}")


def test_no_s3_service_mounts_a_folder_of_the_host_but_the_notebooks(
    services: dict[str, Any], s3_compose: dict[str, Any]
) -> None:
    s3_services = s3_compose["services"]
    binds = {}
    for name in services:
        mounted = merged_mounts(services[name], s3_services[name])
        # /data is a tmpfs of each container's own, in place of the host's ./data.
        assert mounted[DATA] == {"type": "tmpfs", "source": "", "read_only": False}, name
        binds[name] = {t: m["source"] for t, m in mounted.items() if m["type"] != "tmpfs"}
    assert binds == {
        "scheduler": {},
        "worker": {},
        "notebook": {"/notebooks": "./notebooks"},
        "client": {"/notebooks": "./notebooks"},
    }


def test_every_s3_service_reaches_the_bucket_through_the_aws_variables(
    services: dict[str, Any], s3_compose: dict[str, Any]
) -> None:
    from daskpar_s3 import S3

    s3_services = s3_compose["services"]
    for name in services:
        env = {**services[name].get("environment", {}), **s3_services[name]["environment"]}
        aws = {k: v for k, v in env.items() if k.startswith("AWS_")}
        # The variables the tests' dask workers reach moto through (tests/test_s3.py).
        assert set(aws) <= set(S3("http://x", "bucket").environment()), name
        assert aws["AWS_ENDPOINT_URL"] == S3_ENDPOINT, name
        assert aws["AWS_DEFAULT_REGION"] == "us-east-1", name
        # Dummy keys, marked as the test server's.
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert "test-server-only" in aws[key], (name, key)
        if name in ("notebook", "client"):
            assert env["DASK_SCHEDULER_ADDRESS"] == f"tcp://scheduler:{SCHEDULER_PORT}"
    for name in ("worker", "notebook", "client"):
        depends = {**services[name]["depends_on"], **s3_services[name]["depends_on"]}
        assert depends == {
            "scheduler": {"condition": "service_healthy"},
            "s3": {"condition": "service_healthy"},
        }, name


def test_docker_compose_config_accepts_the_s3_override_as_checked() -> None:
    """Compose itself merges the two files as the checks above do."""
    config = compose_config("-f", "docker-compose.yml", "-f", "docker-compose.s3.yml")
    assert set(config) == {"s3", "scheduler", "worker", "notebook", "client"}
    assert {s["image"] for s in config.values()} == {"daskpar:s3"}
    for name, service in config.items():
        mounted = mounts(service)
        assert all(m["source"] != str(ROOT / "data") for m in mounted.values()), name
        binds = {t: m["source"] for t, m in mounted.items() if m["type"] == "bind"}
        if name == "s3":
            assert mounted == {}
            continue
        assert mounted[DATA]["type"] == "tmpfs", name
        notebooks = {"/notebooks": str(ROOT / "notebooks")}
        assert binds == (notebooks if name in ("notebook", "client") else {}), name
        assert service["environment"]["AWS_ENDPOINT_URL"] == S3_ENDPOINT, name


# ---------------------------------------------------------------------------------------------
# The compose commands as local processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_localhost(command: list[str], ports: dict[int, int]) -> list[str]:
    """A compose command as a local process: the ``dask`` or ``python`` of this environment,
    every address on 127.0.0.1 (``scheduler``, ``0.0.0.0`` and empty hosts included), and the
    compose file's ports replaced by ``ports``."""

    def local(arg: str) -> str:
        if arg.isdigit():
            return str(ports.get(int(arg), arg))
        match = re.fullmatch(r"(tcp://|http://)?([\w.-]*):(\d+)(/.*)?", arg)
        if match is None:
            return arg
        scheme, _, port, rest = match.groups()
        return f"{scheme or ''}127.0.0.1:{ports.get(int(port), port)}{rest or ''}"

    # Inside a healthcheck's Python code, only the URLs change.
    args = [re.sub(r"http://[^']+", lambda m: local(m.group()), a) for a in command[1:]]
    return [str(BIN / command[0]), *(local(a) for a in args)]


def wait_for(check: Any, what: str, logs: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{tails(logs)}")
        time.sleep(0.3)


def tails(logs: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-30:])
        for log in sorted(logs.glob("*.log"))
    )


@pytest.fixture
def local_compose(services: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """docker-compose.yml's scheduler and two workers as processes on 127.0.0.1, started in
    their own folder; stopped by PID."""
    ports = {SCHEDULER_PORT: free_port(), DASHBOARD_PORT: free_port()}
    workers_dir, logs = tmp_path / "workers", tmp_path / "logs"
    workers_dir.mkdir()
    logs.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, command: list[str]) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [*command, "--host", "127.0.0.1"],
                    cwd=workers_dir,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def healthy(command: list[str]) -> bool:
        return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode == 0

    try:
        start("scheduler", on_localhost(services["scheduler"]["command"], ports))
        scheduler_health = on_localhost(services["scheduler"]["healthcheck"]["test"][1:], ports)
        wait_for(lambda: healthy(scheduler_health), "the scheduler's healthcheck", logs)
        worker_health = []
        for i in range(2):
            worker_ports = {**ports, WORKER_DASHBOARD_PORT: free_port()}
            start(f"worker-{i}", on_localhost(services["worker"]["command"], worker_ports))
            worker_health.append(
                on_localhost(services["worker"]["healthcheck"]["test"][1:], worker_ports)
            )
        wait_for(lambda: all(healthy(c) for c in worker_health), "the workers' healthchecks", logs)
        counts = f"http://127.0.0.1:{ports[DASHBOARD_PORT]}/json/counts.json"

        def workers() -> int:
            with urllib.request.urlopen(counts, timeout=5) as response:
                return int(json.load(response)["workers"])

        wait_for(lambda: workers() == 2, "two workers at the scheduler", logs)
        yield {
            "address": f"tcp://127.0.0.1:{ports[SCHEDULER_PORT]}",
            "workers_dir": workers_dir,
            "logs": logs,
        }
    finally:
        # Workers first, so that none waits for a scheduler that is gone.
        stop(procs[1:])
        stop(procs[:1])


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate processes by PID; kill the ones still running after 20 s."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def validation_scores(stdout: str) -> list[float]:
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["epoch"]) + 1
    return [float(ln.split()[-1]) for ln in lines[start:] if ln.strip()[:1].isdigit()]


@pytest.mark.slow  # the compose commands as processes: the slow suite, which CI runs
def test_compose_commands_train_end_to_end_without_docker(
    local_compose: dict[str, Any], tmp_path: Path
) -> None:
    """make-data and train from a client in another folder, DATA given relative to it."""
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    address = local_compose["address"]
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}

    def daskpar(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "daskpar"), *args, "--scheduler", address],
            cwd=client_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, f"{result.stderr}\n{tails(local_compose['logs'])}"
        return result

    made = daskpar(
        "make-data", "data/blobs.zarr", "--rows", "20000", "--features", "10",
        "--chunk-rows", "2000",
    )  # fmt: skip
    assert "wrote 20,000 x 10" in made.stdout
    # The workers wrote where the client meant, not under their own folder.
    assert (client_dir / "data" / "blobs.zarr").is_dir()
    assert not (local_compose["workers_dir"] / "data").exists()

    trained = daskpar("train", "data/blobs.zarr", "--epochs", "2")
    assert f"cluster: 2 workers at {address};" in trained.stdout
    scores = validation_scores(trained.stdout)
    assert len(scores) == 2, trained.stdout
    # Better than the 50% of guessing on balanced binary data.
    assert all(0.55 < s <= 1.0 for s in scores), trained.stdout
