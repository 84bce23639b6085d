"""The deployment recipes of docs/deploy.md, checked against the image and the tools' schemas.

Every recipe is a real file under ``deploy/``, quoted whole in docs/deploy.md (a quote that
differs from its file fails here). Each is loaded or built here, without the cluster it is
for, and checked against what the project's image runs:

- **commands**: every container's program is one the image's environment installs (this
  virtual environment holds the same project, as the Dockerfile's ``/opt/venv`` does), and
  its arguments parse with ``dask scheduler`` / ``dask worker`` / ``daskpar``'s own
  command-line parsers. The operator's own pod specs (``make_cluster_spec``) and the Helm
  chart run ``dask-scheduler`` and ``dask-worker``, which distributed no longer installs:
  the manifests spell out ``dask scheduler``, and the chart gets a derived image with the
  two names (``deploy/helm/Dockerfile``);
- **the image and the compose cluster**: the image docker-compose.yml builds
  (``daskpar:latest``), its ports, threads, memory limit (the pod's too), worker TTL, and
  its data at ``/data`` in the workers and the client (one ReadWriteMany volume);
- **schemas**: the ``DaskCluster`` manifests validate against the CRD that the
  dask-kubernetes package ships, with unknown fields refused (Kubernetes would drop them
  silently), and the client pods against the PodSpec schema the CRD embeds; the Helm values
  name only keys of the chart's own defaults (``deploy/helm/chart-defaults.yaml``: the chart
  is not on PyPI and has no values schema);
- **TLS**: each pod mounts, for its role, a Secret of exactly the files ``daskpar certs``
  makes for it (:meth:`daskpar.tls.TLSFiles.needed_by`, as the doc's ``kubectl create
  secret`` commands put them) and points ``DASK_CONFIG`` at its configuration; in the slow
  run, the TLS manifest's scheduler and worker commands run here with those configurations;
- **dask-jobqueue**: the doc's ``SLURMCluster`` is built (its scheduler starts here, no SLURM
  needed) on the loopback interface, and its job script checked; in the slow run, the job
  script's worker command runs, and the workers join on that interface's address with the
  client's versions;
- **Coiled** cannot run here (an account is needed): its snippet is compiled and its image
  and options checked.

The doc's shell blocks run here, except those marked ``needs=NAME`` (``NEEDS``: a Kubernetes
cluster, Helm, SLURM, Docker, Coiled), which are checked to call only such programs; the
``daskpar`` commands they run in a pod parse with daskpar's own command line.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import runpy
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import dask
import dask.config
import jsonschema
import psutil
import pytest
import yaml
from dask.utils import parse_bytes
from daskpar_testing import tls_paths

from daskpar.tls import TLSFiles, make_certificates

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOC = ROOT / "docs" / "deploy.md"
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.S | re.M)
#: What a block marked ``needs=NAME`` needs, and so why it does not run here; and the
#: programs such a block may call.
NEEDS = {
    "kubectl": (
        "a Kubernetes cluster with the dask-kubernetes operator",
        {"kubectl", "docker", "kind", "minikube"},
    ),
    "helm": ("Helm and a Kubernetes cluster", {"helm", "docker", "kubectl"}),
    "docker": ("Docker and a registry to push to", {"docker"}),
    "slurm": ("a SLURM cluster", {"python", "sbatch", "squeue"}),
    "coiled": ("a Coiled account", {"coiled", "python"}),
}
#: Where the containers find the certificates, as ``daskpar certs --config-dir`` names it.
CERTS = "/certs"
#: Where every container finds the data, as in docker-compose.yml.
DATA = "/data"


# ---------------------------------------------------------------------------------------------
# The image: what docker-compose.yml builds and runs


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return services


def default(value: str) -> str:
    """``value`` with compose's ``${NAME:-default}`` replaced by its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def compose_image(compose: dict[str, Any]) -> str:
    return default(compose["x-daskpar"]["image"])


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def compose_command(compose: dict[str, Any], service: str) -> list[str]:
    return [default(a) for a in compose["services"][service]["command"]]


def dask_command(args: list[str]) -> click.Context:
    """``args`` (``dask scheduler ...`` or ``dask worker ...``) parsed by the image's own
    ``dask`` program: its subcommand is one distributed installs, and every option parses."""
    assert (BIN / args[0]).is_file(), f"{args[0]} is not a program of the image's environment"
    assert args[0] == "dask", args
    commands = {e.name: e for e in importlib.metadata.entry_points(group="dask_cli")}
    assert args[1] in commands, f"`dask {args[1]}` does not exist: {sorted(commands)}"
    command = commands[args[1]].load()
    context: click.Context = command.make_context(f"dask {args[1]}", list(args[2:]))
    return context


def expand(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' ``$(NAME)`` expansion of container args."""
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args]


def quantity(value: str | int) -> int:
    """A Kubernetes memory quantity in bytes (``2Gi``, ``2G``, ``2147483648``)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6}
    units |= {"G": 10**9, "T": 10**12, "": 1}
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", str(value))
    assert match is not None, value
    return int(match.group(1)) * units[match.group(2)]


def check_dask_settings(env: list[dict[str, Any]]) -> None:
    """Every ``DASK_*`` variable that sets Dask configuration names a real setting."""
    import distributed  # its defaults join dask's configuration on import

    assert distributed.__version__
    missing = object()
    for item in env:
        name = item["name"]
        if name in {"DASK_CONFIG", "DASK_SCHEDULER_ADDRESS", "DASK_WORKER_NAME"}:
            continue
        assert name.startswith("DASK_DISTRIBUTED__"), name
        collected = dask.config.collect_env({name: str(item["value"])})
        keys = []
        node: Any = collected
        while isinstance(node, dict):
            ((key, node),) = node.items()
            keys.append(key.replace("_", "-"))
        assert dask.config.get(".".join(keys), default=missing) is not missing, name


# ---------------------------------------------------------------------------------------------
# dask-kubernetes operator: DaskCluster

MANIFESTS = ["daskcluster.yaml", "daskcluster-tls.yaml"]


def operator_crd() -> dict[str, Any]:
    """The DaskCluster CRD as the dask-kubernetes package ships it for installation."""
    spec = importlib.util.find_spec("dask_kubernetes")
    assert spec is not None, "dask-kubernetes is a test dependency"
    (package,) = spec.submodule_search_locations or []
    path = Path(package, "operator/deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml")
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    return crd


def closed(schema: Any) -> Any:
    """An OpenAPI schema that refuses the fields it does not list: Kubernetes prunes them
    from a structural schema without a word, so a misspelt field is lost silently."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) if k != "default" else v for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def daskcluster_schema() -> jsonschema.Draft7Validator:
    crd = operator_crd()
    assert crd["spec"]["names"]["kind"] == "DaskCluster"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    # apiVersion, kind and metadata are Kubernetes' own, checked by the API server for
    # every kind: the CRD's schema describes the rest, and its spec is closed.
    # OpenAPI 3's schema objects are JSON Schema draft 4-7 with extensions (x-kubernetes-*,
    # which a validator ignores; int-or-string fields come with their anyOf).
    return jsonschema.Draft7Validator(
        {
            **schema,
            "properties": {**schema["properties"], "spec": closed(schema["properties"]["spec"])},
        }
    )


def manifest(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "kubernetes" / name).read_text())
    return loaded


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in pod["spec"]["containers"] if c["name"] == name]
    return found


def operator_env(cluster: dict[str, Any], scheme: str = "tcp") -> dict[str, str]:
    """What the operator (and Kubernetes) give a worker container (controller.py)."""
    name = cluster["metadata"]["name"]
    env = {
        "DASK_WORKER_NAME": f"{name}-default-worker-abc123",
        "DASK_SCHEDULER_ADDRESS": f"{scheme}://{name}-scheduler.default.svc.cluster.local:8786",
    }
    worker = container(cluster["spec"]["worker"], "worker")
    env |= {e["name"]: e["value"] for e in worker.get("env", []) if "value" in e}
    return env


@pytest.mark.parametrize("name", MANIFESTS)
def test_daskcluster_validates_against_the_operator_crd(
    name: str, daskcluster_schema: jsonschema.Draft7Validator
) -> None:
    cluster = manifest(name)
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1"
    assert cluster["kind"] == "DaskCluster"
    # A DNS label: the operator names the scheduler's service and pods after it.
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", cluster["metadata"]["name"])
    daskcluster_schema.validate(cluster)
    # The check refuses what Kubernetes would drop.
    cluster["spec"]["worker"]["spec"]["containers"][0]["argz"] = ["dask", "worker"]
    with pytest.raises(jsonschema.ValidationError, match="argz"):
        daskcluster_schema.validate(cluster)


@pytest.mark.parametrize("name", MANIFESTS)
def test_daskcluster_runs_the_compose_image_and_commands(
    name: str, compose: dict[str, Any]
) -> None:
    cluster = manifest(name)
    tls = "tls" in name
    scheduler = container(cluster["spec"]["scheduler"], "scheduler")
    worker = container(cluster["spec"]["worker"], "worker")
    for c in (scheduler, worker):
        assert c["image"] == compose_image(compose)
        # A `latest` tag is pulled on every start unless told otherwise, and a locally
        # loaded image is not in any registry.
        assert c["imagePullPolicy"] == "IfNotPresent"
        check_dask_settings(c.get("env", []))
    # The scheduler: `dask scheduler`, the compose file's ports and worker TTL.
    parsed = dask_command(scheduler["args"]).params
    compose_scheduler = compose_command(compose, "scheduler")
    assert str(parsed["port"]) == option(compose_scheduler, "--port")
    assert parsed["dashboard_address"] == option(compose_scheduler, "--dashboard-address")
    assert parsed["protocol"] == ("tls" if tls else None)
    ports = {p["name"]: p["containerPort"] for p in scheduler["ports"]}
    assert ports == {"tcp-comm": int(parsed["port"]), "http-dashboard": 8787}
    assert parsed["dashboard_address"] == f":{ports['http-dashboard']}"
    for probe in ("readinessProbe", "livenessProbe"):
        assert scheduler[probe]["httpGet"] == {"port": "http-dashboard", "path": "/health"}
    env = {e["name"]: e["value"] for e in scheduler["env"]}
    ttl = compose["services"]["scheduler"]["environment"]["DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL"]
    assert env["DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL"] == default(ttl)
    # distributed's own HTTP routes, and its API for the operator's scale-down.
    routes = dask.config.collect_env({"DASK_X": env["DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES"]})
    import distributed.http.scheduler.api

    defaults = dask.config.get("distributed.scheduler.http.routes")
    assert routes["x"] == [*defaults, distributed.http.scheduler.api.__name__]
    # The service the workers reach: the operator names it <cluster>-scheduler.
    service = cluster["spec"]["scheduler"]["service"]
    assert service["selector"]["dask.org/cluster-name"] == cluster["metadata"]["name"]
    assert {p["targetPort"]: p["port"] for p in service["ports"]} == ports
    # The workers: `dask worker` at the operator's scheduler address, the compose file's
    # threads and memory limit, which is also the pod's.
    args = expand(worker["args"], operator_env(cluster))
    parsed = dask_command(args).params
    assert parsed["scheduler"] == operator_env(cluster)["DASK_SCHEDULER_ADDRESS"]
    assert parsed["scheduler"].startswith("tls://" if tls else "tcp://")
    if tls:
        assert parsed["scheduler"] == f"tls://{cluster['metadata']['name']}-scheduler:8786"
    assert parsed["name"] == operator_env(cluster)["DASK_WORKER_NAME"]
    compose_worker = compose_command(compose, "worker")
    assert parsed["nthreads"] == int(option(compose_worker, "--nthreads"))
    assert parsed["memory_limit"] == option(compose_worker, "--memory-limit")
    limits = worker["resources"]["limits"]
    assert quantity(limits["memory"]) == parse_bytes(parsed["memory_limit"])
    worker_ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert parsed["dashboard_address"] == f":{worker_ports['http-dashboard']}"
    assert worker["livenessProbe"]["httpGet"] == {"port": "http-dashboard", "path": "/health"}


@pytest.mark.parametrize("name", MANIFESTS)
def test_daskcluster_keeps_the_operator_conventions_but_not_its_commands(name: str) -> None:
    """The operator's own pod specs for the image (``make_cluster_spec``) name the ports and
    the service as the manifests do, but run ``dask-scheduler`` and ``dask-worker``, which
    distributed no longer installs: hence the commands spelled out in the manifests."""
    from dask_kubernetes.operator import make_cluster_spec

    cluster = manifest(name)
    reference = make_cluster_spec(cluster["metadata"]["name"], image="daskpar:latest")["spec"]
    for role in ("scheduler", "worker"):
        theirs = container(reference[role], role)
        ours = container(cluster["spec"][role], role)
        assert not (BIN / theirs["args"][0]).exists(), theirs["args"]
        assert (BIN / ours["args"][0]).is_file(), ours["args"]
        assert theirs["ports"] == ours["ports"]
    service = cluster["spec"]["scheduler"]["service"]
    assert service == reference["scheduler"]["service"]


@pytest.fixture
def certs(tmp_path: Path) -> TLSFiles:
    """The certificates as docs/deploy.md makes them for the cluster."""
    return make_certificates(
        tmp_path / "certs", hosts=["daskpar-scheduler"], config_directory=CERTS
    )


def pod(role: str, *, tls: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod spec and the container of ``role``: the DaskCluster's scheduler or worker, or
    the client pod."""
    suffix = "-tls" if tls else ""
    if role == "client":
        spec = manifest(f"client{suffix}.yaml")["spec"]
        return spec, container({"spec": spec}, "client")
    cluster = manifest(f"daskcluster{suffix}.yaml")
    return cluster["spec"][role]["spec"], container(cluster["spec"][role], role)


def mounted(spec: dict[str, Any], c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mount path -> ``{"mount": volumeMount, "volume": volume}`` of a container."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    return {
        m["mountPath"]: {"mount": m, "volume": volumes[m["name"]]}
        for m in c.get("volumeMounts", [])
    }


@pytest.mark.parametrize("role", ["scheduler", "worker", "client"])
def test_each_tls_pod_gets_its_own_role_files_only(role: str, certs: TLSFiles) -> None:
    spec, c = pod(role, tls=True)
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["DASK_CONFIG"] == f"{CERTS}/{certs.config_file(role).name}"
    tls = mounted(spec, c)[CERTS]
    assert tls["mount"]["readOnly"] is True
    assert "subPath" not in tls["mount"]
    assert tls["volume"]["secret"]["secretName"] == f"daskpar-tls-{role}"
    assert tls["volume"]["secret"]["defaultMode"] == 0o440
    # Nothing else from the certificates: no other Secret, no host folder.
    others = [m for path, m in mounted(spec, c).items() if path != CERTS]
    assert all("secret" not in m["volume"] and "hostPath" not in m["volume"] for m in others)
    # The secret holds what docs/deploy.md puts in it: the role's files, as `daskpar certs`
    # names them, and the configuration names only those.
    secret_files = secrets_in_doc()[f"daskpar-tls-{role}"]
    assert secret_files == [p.name for p in certs.needed_by(role)]
    config = yaml.safe_load(certs.config_file(role).read_text())
    assert tls_paths(config) <= {f"{CERTS}/{name}" for name in secret_files}
    assert {p for p in tls_paths(config) if p.endswith("-key.pem")} == {f"{CERTS}/{role}-key.pem"}
    comm = config["distributed"]["comm"]
    assert comm["require-encryption"] is True
    assert comm["default-scheme"] == "tls"


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_client_pod_has_the_workers_image_data_and_scheduler(
    tls: bool, compose: dict[str, Any], daskcluster_schema: jsonschema.Draft7Validator
) -> None:
    client = manifest(f"client{'-tls' if tls else ''}.yaml")
    assert (client["apiVersion"], client["kind"]) == ("v1", "Pod")
    # A PodSpec, checked with the one the operator's CRD embeds (Kubernetes' own schema).
    pod_spec = daskcluster_schema.schema["properties"]["spec"]["properties"]["scheduler"]
    jsonschema.Draft7Validator(pod_spec["properties"]["spec"]).validate(client["spec"])
    _, c = pod("client", tls=tls)
    _, worker = pod("worker", tls=tls)
    assert c["image"] == worker["image"] == compose_image(compose)
    assert c["imagePullPolicy"] == "IfNotPresent"
    check_dask_settings(c["env"])
    # It connects where the workers do (the operator's service, without its namespace).
    cluster = manifest(f"daskcluster{'-tls' if tls else ''}.yaml")
    env = {e["name"]: e["value"] for e in c["env"]}
    name = cluster["metadata"]["name"]
    assert env["DASK_SCHEDULER_ADDRESS"] == f"{'tls' if tls else 'tcp'}://{name}-scheduler:8786"
    # `daskpar ... --scheduler` as the manifest's own comment and the doc run it.
    (command,) = daskpar_commands(client_comment(f"client{'-tls' if tls else ''}.yaml"))
    assert option(command, "--scheduler") == env["DASK_SCHEDULER_ADDRESS"]
    # The data at the path the workers read it: one ReadWriteMany claim at /data, where
    # every compose service mounts ./data.
    assert c["workingDir"] == DATA == compose["services"]["client"]["working_dir"]
    claim = manifest("data.yaml")
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for role in ("client", "worker"):
        data = mounted(*pod(role, tls=tls))[DATA]
        volume = data["volume"]["persistentVolumeClaim"]
        assert volume == {"claimName": claim["metadata"]["name"]}, role
    helm = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())["worker"]["mounts"]
    (helm_mount,) = helm["volumeMounts"]
    assert helm_mount["mountPath"] == DATA
    (helm_volume,) = [v for v in helm["volumes"] if v["name"] == helm_mount["name"]]
    assert helm_volume["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"]}
    assert any(v.endswith(f":{DATA}") for v in compose["x-daskpar"]["volumes"])


def client_comment(name: str) -> str:
    """The commands in the header comment of a manifest (its lines indented by three)."""
    lines = []
    for line in (DEPLOY / "kubernetes" / name).read_text().splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("#   "):
            lines.append(line.removeprefix("#   "))
    return "\n".join(lines)


def daskpar_commands(code: str) -> list[list[str]]:
    """The ``daskpar`` commands that ``kubectl exec POD --`` runs in ``code``, each checked
    with daskpar's own command-line parser."""
    from daskpar._cli import main

    out = []
    for command in commands(code):
        if command[:2] == ["kubectl", "exec"] and "--" in command:
            args = command[command.index("--") + 1 :]
            assert args[0] == "daskpar", args
            assert (BIN / "daskpar").is_file()
            assert isinstance(main, click.Group)
            assert args[1] in main.commands, args
            main.commands[args[1]].make_context(f"daskpar {args[1]}", list(args[2:]))
            out.append(args)
    return out


def test_doc_runs_daskpar_commands_that_exist_against_the_scheduler() -> None:
    found = [c for _, attrs, code in blocks() if attrs.get("needs") == "kubectl"
             for c in daskpar_commands(code)]  # fmt: skip
    assert {c[1] for c in found} == {"make-data", "train"}
    schedulers = {option(c, "--scheduler") for c in found if c[1] == "train"}
    assert schedulers == {"tcp://daskpar-scheduler:8786", "tls://daskpar-scheduler:8786"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_option(args: list[str], name: str, value: str) -> list[str]:
    """``args`` with ``name``'s value replaced, or the option added."""
    if name in args:
        i = args.index(name)
        return [*args[: i + 1], value, *args[i + 2 :]]
    return [*args, name, value]


@pytest.mark.slow
def test_tls_manifest_commands_run_with_the_certificates(tmp_path: Path) -> None:
    """The TLS manifest's scheduler and worker, run here as local processes with the
    configurations of ``daskpar certs``: a client with a certificate sees the worker, and a
    plaintext one is refused."""
    from distributed import Client

    files = make_certificates(tmp_path / "certs")
    cluster = manifest("daskcluster-tls.yaml")
    port, dashboard, worker_dashboard = free_port(), free_port(), free_port()
    address = f"tls://127.0.0.1:{port}"
    scheduler = container(cluster["spec"]["scheduler"], "scheduler")
    worker = container(cluster["spec"]["worker"], "worker")
    # In a pod, the pod's address; here, the loopback only, on free ports.
    commands = {
        "scheduler": with_option(
            with_option(scheduler["args"], "--port", str(port)),
            "--dashboard-address",
            f"127.0.0.1:{dashboard}",
        ),
        "worker": with_option(
            expand(worker["args"], {"DASK_SCHEDULER_ADDRESS": address, "DASK_WORKER_NAME": "w0"}),
            "--dashboard-address",
            f"127.0.0.1:{worker_dashboard}",
        ),
    }
    processes = []
    try:
        for role, args in commands.items():
            env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
            given = container(cluster["spec"][role], role)["env"]
            env |= {e["name"]: e["value"] for e in given if "value" in e}
            env["DASK_CONFIG"] = str(files.config_file(role))  # here, not at /certs
            processes.append(
                subprocess.Popen(
                    [str(BIN / args[0]), *args[1:], "--host", "127.0.0.1"],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        with Client(address, security=files.security(), timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            (info,) = client.scheduler_info()["workers"].values()
            assert info["name"] == "w0"
            assert info["id"] == "w0"
        # The HTTP API the operator scales down through answers on the dashboard's port.
        url = f"http://127.0.0.1:{dashboard}/api/v1/get_workers"
        with urllib.request.urlopen(url, timeout=30) as response:
            listed = json.load(response)["workers"]
        assert [w["name"] for w in listed] == ["w0"]
        # A plaintext client: the TLS listener drops it.
        with pytest.raises(OSError, match=r"reset by peer|closed"):
            Client(f"tcp://127.0.0.1:{port}", timeout=5)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


def secrets_in_doc() -> dict[str, list[str]]:
    """Secret name -> the file names the doc's ``kubectl create secret`` commands put in it."""
    out = {}
    for _, attrs, code in blocks():
        if attrs.get("needs") != "kubectl":
            continue
        for command in commands(code):
            if command[:4] == ["kubectl", "create", "secret", "generic"]:
                files = [a.split("=", 1)[1] for a in command if a.startswith("--from-file=")]
                out[command[4]] = [Path(f).name for f in files]
                assert all(Path(f).parent == Path("certs") for f in files), command
    assert "ca-key.pem" not in str(out)
    return out


def test_the_tls_certificates_name_the_scheduler_service() -> None:
    """The doc's ``daskpar certs`` names the operator's scheduler service; Dask does not
    check host names, but the certificate should name what it serves."""
    (certs_block,) = [code for _, code in runnable() if "daskpar certs" in code]
    (command,) = [c for c in commands(certs_block) if c[:2] == ["daskpar", "certs"]]
    assert option(command, "--config-dir") == CERTS
    name = manifest("daskcluster-tls.yaml")["metadata"]["name"]
    hosts = [command[i + 1] for i, a in enumerate(command) if a == "--host"]
    assert f"{name}-scheduler" in hosts


# ---------------------------------------------------------------------------------------------
# The dask Helm chart

HELM = DEPLOY / "helm"
#: What the chart's templates run (dask/templates/dask-{scheduler,worker}-deployment.yaml at
#: the commit chart-defaults.yaml names): the scheduler's program and arguments are fixed;
#: the worker's program is ``worker.image.dask_worker``.
CHART_SCHEDULER_PROGRAM = "dask-scheduler"


def chart_fullname(values: dict[str, Any], release: str) -> str:
    """The chart's ``dask.fullname`` (templates/_helpers.tpl): the release's name alone when
    it contains the chart's name, as ``daskpar`` contains ``dask``."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])
    name = values.get("nameOverride") or "dask"
    return release if name in release else f"{release}-{name}"


def chart_args(values: dict[str, Any], release: str) -> dict[str, list[str]]:
    """The container args the chart's templates make of ``values``."""
    scheduler, worker = values["scheduler"], values["worker"]
    args = {
        "scheduler": [
            CHART_SCHEDULER_PROGRAM,
            f"--port={scheduler.get('servicePort', 8786)}",
            "--dashboard-address=:8787",
            *scheduler.get("extraArgs", []),
        ]
    }
    limits = worker.get("resources", {}).get("limits")
    resources = []
    if limits:  # the chart's --nthreads and --memory-limit come with resource limits only
        threads = worker.get("threads_per_worker") or limits["cpu"]
        resources = ["--nthreads", str(threads), "--memory-limit", str(limits["memory"])]
    args["worker"] = [
        worker["image"]["dask_worker"],
        f"{chart_fullname(values, release)}-scheduler:{scheduler.get('servicePort', 8786)}",
        *resources,
        "--no-dashboard",
        "--dashboard-address",
        str(worker.get("portDashboard", 8790)),
        *worker.get("extraArgs", []),
    ]
    return args


def unknown_keys(values: Any, defaults: Any, path: str = "") -> list[str]:
    """Keys of ``values`` that the chart's defaults do not have. Below a default that is
    empty (``{}``, ``null``, ``[]``: resources, env, probes), anything goes."""
    if not isinstance(values, dict) or not isinstance(defaults, dict) or not defaults:
        return []
    out = []
    for key, value in values.items():
        if key not in defaults:
            out.append(f"{path}{key}")
        else:
            out += unknown_keys(value, defaults[key], f"{path}{key}.")
    return out


@pytest.fixture(scope="module")
def helm_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((HELM / "values.yaml").read_text())
    return values


#: Keys the chart's templates read that its defaults leave commented out (with their
#: template): in the defaults as ``# key:`` lines.
CHART_COMMENTED_KEYS = {"worker.threads_per_worker": "dask-worker-deployment.yaml"}


def test_helm_values_are_keys_of_the_chart(helm_values: dict[str, Any]) -> None:
    text = (HELM / "chart-defaults.yaml").read_text()
    defaults = yaml.safe_load(text)
    unknown = unknown_keys(helm_values, defaults)
    assert set(unknown) <= set(CHART_COMMENTED_KEYS), unknown
    for key in unknown:
        assert re.search(rf"^ *# {key.rsplit('.', 1)[1]}: ", text, re.M), key
    # The check finds a misspelt key, which Helm would ignore.
    assert unknown_keys({"worker": {"replica": 2}}, defaults) == ["worker.replica"]
    check_dask_settings(helm_values["scheduler"]["env"])


def shim_target(program: str) -> list[str]:
    """The command a shim of deploy/helm/bin runs (its ``exec`` line)."""
    lines = (HELM / "bin" / program).read_text().splitlines()
    (line,) = [ln for ln in lines if ln.startswith("exec ")]
    return shlex.split(line)[1:]


def test_helm_chart_runs_the_project_image_with_its_commands(
    helm_values: dict[str, Any], compose: dict[str, Any]
) -> None:
    images = {
        f"{helm_values[role]['image']['repository']}:{helm_values[role]['image']['tag']}"
        for role in ("scheduler", "worker")
    }
    # The derived image, built FROM the compose file's image as the doc says.
    dockerfile = (HELM / "Dockerfile").read_text()
    assert f"ARG DASKPAR_IMAGE={compose_image(compose)}\n" in dockerfile
    assert "FROM ${DASKPAR_IMAGE}\n" in dockerfile
    (tag,) = images
    assert f"docker build -t {tag} deploy/helm" in dockerfile
    assert f"docker build -t {tag} deploy/helm" in DOC.read_text()
    copied = re.search(r"^COPY (.*) /opt/venv/bin/$", dockerfile, re.M)
    assert copied is not None
    shims = {Path(p).name for p in copied.group(1).split()}
    assert shims == {p.name for p in (HELM / "bin").iterdir()}
    args = chart_args(helm_values, release="daskpar")
    compose_worker = compose_command(compose, "worker")
    for role, command in args.items():
        # The chart's program is a shim in the derived image, not in the project's
        # environment; it runs the image's `dask scheduler` or `dask worker`.
        assert command[0] in shims, command[0]
        assert not (BIN / command[0]).exists()
        target = shim_target(command[0])
        assert target == ["dask", role, "$@"], target
        parsed = dask_command([*target[:2], *command[1:]]).params
        if role == "worker":
            assert parsed["nthreads"] == int(option(compose_worker, "--nthreads"))
            limit = helm_values["worker"]["resources"]["limits"]["memory"]
            assert parse_bytes(parsed["memory_limit"]) == quantity(limit)
            assert parse_bytes(parsed["memory_limit"]) == parse_bytes(
                option(compose_worker, "--memory-limit")
            )
            # The scheduler's service, as the doc names it.
            assert parsed["scheduler"] == "daskpar-scheduler:8786"
            assert f"`tcp://{parsed['scheduler']}`" in DOC.read_text()
            assert f"`{chart_fullname(helm_values, 'ml')}-scheduler`" in DOC.read_text()
            # The client pod of the operator's recipe reaches it too, as the doc says.
            (_, client) = pod("client", tls=False)
            client_env = {e["name"]: e["value"] for e in client["env"]}
            assert client_env["DASK_SCHEDULER_ADDRESS"] == f"tcp://{parsed['scheduler']}"
        else:
            assert str(parsed["port"]) == "8786"
            for probe in ("readinessProbe", "livenessProbe"):
                http = helm_values["scheduler"][probe]["httpGet"]
                assert http == {"path": "/health", "port": 8787}


@pytest.mark.parametrize("program", ["dask-scheduler", "dask-worker"])
def test_helm_shims_pass_their_arguments_to_the_image_command(program: str, tmp_path: Path) -> None:
    """Each shim runs the ``dask`` on the PATH with its subcommand and every argument as
    given (a ``dask`` here that prints its arguments stands in for the image's)."""
    fake = tmp_path / "dask"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    args = ["tcp://daskpar-scheduler:8786", "--nthreads", "1", "an argument with spaces"]
    result = subprocess.run(
        [str(HELM / "bin" / program), *args],
        env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.splitlines() == [program.split("-")[1], *args]


# ---------------------------------------------------------------------------------------------
# dask-jobqueue (SLURM)

JOBQUEUE = DEPLOY / "jobqueue" / "slurm_cluster.py"


def loopback_interface() -> str:
    (name,) = [
        name
        for name, addresses in psutil.net_if_addrs().items()
        if any(a.address == "127.0.0.1" for a in addresses)
    ]
    return name


@pytest.fixture
def slurm_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)  # the cluster creates its log directory here
    return runpy.run_path(str(JOBQUEUE), run_name="slurm_cluster")


def test_slurm_snippet_names_the_fast_interface(slurm_module: dict[str, Any]) -> None:
    import inspect

    assert slurm_module["INTERFACE"] == "ib0"
    signature = inspect.signature(slurm_module["slurm_cluster"])
    assert signature.parameters["interface"].default == "ib0"


@pytest.fixture
def slurm_cluster(slurm_module: dict[str, Any]) -> Iterator[Any]:
    # The fast network of a compute node, here: the loopback, the one this machine has.
    with slurm_module["slurm_cluster"](interface=loopback_interface()) as cluster:
        yield cluster


def test_slurm_job_script_starts_dask_workers_on_the_interface(slurm_cluster: Any) -> None:

    lo = loopback_interface()
    script = slurm_cluster.job_script()
    directives = re.findall(r"^#SBATCH (.*)$", script, re.M)
    for directive in ("-p normal", "-A my-account", "--cpus-per-task=4", "-t 02:00:00"):
        assert directive in directives, (directive, directives)
    # The scheduler listens on the interface's address, which the job script gives the
    # workers; each worker listens on the same interface.
    address = slurm_cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:"), address
    command = shlex.split(script.strip().splitlines()[-1])
    assert command[:4] == [sys.executable, "-m", "distributed.cli.dask_worker", address]
    # The module `dask worker` runs, and the options parse as `dask worker`'s.
    (entry,) = [e for e in importlib.metadata.entry_points(group="dask_cli") if e.name == "worker"]
    assert entry.value == "distributed.cli.dask_worker:main"
    parsed = dask_command(["dask", "worker", *command[3:]]).params
    assert parsed["interface"] == lo
    assert parsed["nthreads"] == 1
    assert parsed["n_workers"] == "4"  # a string: it may be "auto"
    assert parsed["local_directory"] == "$TMPDIR"  # expanded by the job's shell


@pytest.mark.slow
def test_slurm_job_command_joins_the_workers_on_the_interface(
    slurm_cluster: Any, tmp_path: Path
) -> None:
    """The job script's command, run here as the job's shell would run it (4 workers)."""
    from distributed import Client

    script = slurm_cluster.job_script()
    # The job's command, run as the job's shell runs it: the workers join on the interface.
    process = subprocess.Popen(
        ["bash", "-c", script.strip().splitlines()[-1]],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with Client(slurm_cluster) as client:
            client.wait_for_workers(4, timeout=90)
            workers = client.scheduler_info(n_workers=-1)["workers"]
            assert {w.split("://")[1].rsplit(":", 1)[0] for w in workers} == {"127.0.0.1"}
            for info in workers.values():
                assert Path(info["local_directory"]).is_relative_to(tmp_path)
            # The same interpreter everywhere: the versions agree.
            client.get_versions(check=True, packages=["daskpar", "sklearn"])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


# ---------------------------------------------------------------------------------------------
# Coiled

COILED = DEPLOY / "coiled" / "coiled_cluster.py"
#: Keyword arguments of coiled.Cluster (coiled 1.135.6's ``coiled/v2/cluster.py``, and its
#: API documentation) that the snippet may use.
COILED_CLUSTER_PARAMETERS = {
    "name", "software", "container", "n_workers", "worker_options", "worker_vm_types",
    "worker_cpu", "worker_memory", "scheduler_options", "scheduler_vm_types",
    "scheduler_cpu", "scheduler_memory", "idle_timeout", "environ", "tags",
    "shutdown_on_close", "package_sync", "region", "spot_policy",
}  # fmt: skip


def test_coiled_snippet_uses_the_project_image(compose: dict[str, Any]) -> None:
    source = COILED.read_text()
    tree = ast.parse(source)
    compile(tree, str(COILED), "exec")
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Cluster"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "coiled"
    ]
    (call,) = calls
    keywords = {k.arg: k.value for k in call.keywords}
    assert set(keywords) <= COILED_CLUSTER_PARAMETERS, set(keywords) - COILED_CLUSTER_PARAMETERS
    # The image as pushed: the compose file's name and tag under a registry's name.
    constants = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    container_arg = keywords["container"]
    assert isinstance(container_arg, ast.Name)
    image = constants[container_arg.id]
    assert image.rsplit("/", 1)[1] == compose_image(compose)
    assert "software" not in keywords  # one environment: the image's
    options = ast.literal_eval(keywords["worker_options"])
    compose_worker = compose_command(compose, "worker")
    assert options["nthreads"] == int(option(compose_worker, "--nthreads"))
    assert f"docker tag {compose_image(compose)} {image}" in source


# ---------------------------------------------------------------------------------------------
# docs/deploy.md: every block quotes a file, runs, or says what it needs


def parse_attrs(info: str) -> dict[str, str]:
    return dict(a.split("=", 1) for a in info.split())


def blocks() -> list[tuple[int, dict[str, str], str]]:
    """The doc's code blocks: (line, attributes, code), the language as ``lang``."""
    text = DOC.read_text()
    return [
        (
            text.count("\n", 0, m.start()) + 2,
            {"lang": m.group(1), **parse_attrs(m.group(2))},
            m.group(3),
        )
        for m in FENCE.finditer(text)
    ]


def commands(code: str) -> list[list[str]]:
    """The commands of a shell block (continuation lines joined, comments dropped)."""
    joined = code.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def test_every_block_quotes_a_file_runs_or_says_why_not() -> None:
    quoted = set()
    for line, attrs, code in blocks():
        assert attrs["lang"] in {"yaml", "python", "bash", "dockerfile", "sh"}, line
        if "file" in attrs:
            path = ROOT / attrs["file"]
            assert code == path.read_text(), f"docs/deploy.md:{line} differs from {path}"
            quoted.add(path)
        elif attrs["lang"] != "bash":
            pytest.fail(f"docs/deploy.md:{line}: quote a file of deploy/ (file=...)")
        elif "needs" in attrs:
            # Not run here: the block says what it needs, and calls only such programs.
            assert attrs["needs"] in NEEDS, f"docs/deploy.md:{line}: needs one of {set(NEEDS)}"
            reason, allowed = NEEDS[attrs["needs"]]
            programs = {c[0] for c in commands(code) if c}
            assert programs <= allowed, (
                f"docs/deploy.md:{line} is not run here, since it needs {reason}; it may call "
                f"{sorted(allowed)} only, not {sorted(programs - allowed)}: run the rest here"
            )
    recipes = {p for p in DEPLOY.rglob("*") if p.is_file() and p.name != "chart-defaults.yaml"}
    assert recipes - quoted == set(), "quote every recipe in docs/deploy.md"


def runnable() -> list[tuple[int, str]]:
    return [
        (line, code)
        for line, attrs, code in blocks()
        if attrs["lang"] == "bash" and "needs" not in attrs
    ]


@pytest.mark.parametrize(("line", "code"), runnable(), ids=lambda v: str(v)[:12])
def test_runnable_block(line: int, code: str, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"docs/deploy.md:{line}\n{result.stdout}\n{result.stderr}"
    if "daskpar certs" in code:
        # What the secrets are made of, as the TLS manifests expect.
        files = TLSFiles(tmp_path / "certs")
        for role in ("scheduler", "worker", "client"):
            assert all(p.is_file() for p in files.needed_by(role)), role
            config = yaml.safe_load(files.config_file(role).read_text())
            assert config["distributed"]["comm"]["tls"]["ca-file"] == f"{CERTS}/ca.pem"
